"""The one plan builder (quarry/logical/builder.py) and the errors it raises, seen from every front end.

- ``JOIN ... USING`` has DuckDB's output shape (names, types, rows) in SQL and in
  ``DataFrame.join(on=[names])`` alike, for inner, left, right, full, semi and anti
  joins, and both front ends build the same optimized plan for it.
- Errors carry their facts as attributes (``NotGroupedError.name``, ...), so each
  front end words them its own way; the same mistake raises the same class in SQL,
  the DataFrame API and the DSL.
- The layering holds: the builder imports only the logical layer and ``errors``; only
  ``quarry/sql/`` makes a ``Binder`` or ``ExprBinder``; no front end reads an error's
  message to decide what it is.
"""

from __future__ import annotations

import ast
import doctest
import pathlib

import pyarrow as pa
import pytest

import quarry
import quarry.functions as F
from quarry import col
from quarry.errors import (
    AmbiguousColumnError, BindError, MisplacedAggregateError, MisplacedWindowError, NestedAggregateError,
    NotBooleanError, NotGroupedError, QuarryTypeError, SetOperationError, UnknownColumnError, UnknownTableError,
)
from quarry.logical import builder
from quarry.testing import assert_tables_equal

duckdb = pytest.importorskip("duckdb")

ROOT = pathlib.Path(quarry.__file__).parent

# key columns of different widths and a NULL key on each side, so the merged key's type and value
# (left's, right's or their coalesce) show in the result
LEFT = pa.table({"x": ["a1", "a2", "a3"], "k": pa.array([1, 2, None], pa.int64()),
                 "j": pa.array([10, 20, 30], pa.int32())})
RIGHT = pa.table({"j": pa.array([200, 20, 30], pa.int32()), "y": ["b2", "b3", "b4"],
                  "k": pa.array([2, 3, None], pa.int32())})


@pytest.fixture(scope="module")
def engines():
    con = quarry.connect(workers=0)
    oracle = duckdb.connect()
    for name, table in (("a", LEFT), ("b", RIGHT)):
        con.register(name, table)
        oracle.register(name, table)
    return con, oracle


KINDS = ["inner", "left", "right", "full", "semi", "anti"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("keys", [["k"], ["k", "j"], ["j", "k"]])
def test_using_join_has_duckdbs_shape_in_sql_and_dataframe(engines, kind, keys):
    con, oracle = engines
    sql = f"SELECT * FROM a {kind.upper()} JOIN b USING ({', '.join(keys)})"
    expected = oracle.sql(sql)
    expected_types = [str(t) for t in expected.types]
    frames = {"sql": con.sql(sql), "dataframe": con.table("a").join(con.table("b"), on=keys, how=kind)}
    for name, df in frames.items():
        assert df.columns == expected.columns, name
        assert [t for _, t in df.dtypes] == expected_types, name
        assert_tables_equal(df.to_arrow(), expected.to_arrow_table(), ordered=False)
    assert con.optimize(frames["sql"].logical_plan).pretty() == \
        con.optimize(frames["dataframe"].logical_plan).pretty()


@pytest.mark.parametrize("kind", ["inner", "left", "right", "full"])
def test_using_join_keeps_each_sides_key_reachable_by_qualifier(engines, kind):
    con, oracle = engines
    sql = f"SELECT k, a.k AS ak, b.k AS bk, x, y FROM a {kind.upper()} JOIN b USING (k)"
    assert_tables_equal(con.sql(sql).to_arrow(), oracle.sql(sql).to_arrow_table(), ordered=False)


@pytest.mark.parametrize("sql", [
    "SELECT * FROM a JOIN b USING (k) JOIN a a2 USING (k)",
    "SELECT * FROM a FULL JOIN b USING (k) FULL JOIN a a2 USING (k)",
    "SELECT * FROM a LEFT JOIN b USING (k) RIGHT JOIN a a2 ON a2.j = a.j",
    "SELECT k, count(*) AS n FROM a FULL JOIN b USING (k) GROUP BY k",
])
def test_chained_using_joins(engines, sql):
    con, oracle = engines
    expected = oracle.sql(sql)
    got = con.sql(sql)
    assert got.columns == expected.columns
    assert_tables_equal(got.to_arrow(), expected.to_arrow_table(), ordered=False)


def test_a_later_outer_join_makes_the_merged_key_nullable(engines):
    con, _ = engines
    df = con.sql("SELECT k FROM a JOIN b USING (k) RIGHT JOIN b b2 ON b2.y = b.y")
    assert df.schema.field("k").nullable


def test_using_join_of_a_self_join_in_the_dataframe_api(engines):
    con, oracle = engines
    a = con.table("a")
    df = a.join(a.alias("other"), on=["k"], how="full")
    expected = oracle.sql("SELECT * FROM a FULL JOIN a other USING (k)")
    assert df.columns == expected.columns
    assert_tables_equal(df.to_arrow(), expected.to_arrow_table(), ordered=False)


# ---------------------------------------------------------------------------- the same class everywhere

@pytest.fixture
def con():
    session = quarry.connect(workers=0)
    session.register("t", pa.table({"k": ["a", "b", "a"], "x": [1, 2, 3], "y": [4, 5, 6]}))
    return session


def raised(build) -> Exception:
    with pytest.raises(quarry.QuarryError) as info:
        build()
    return info.value


@pytest.mark.parametrize("kind, sql, api, dsl, facts", [
    (NotGroupedError, "SELECT k, y FROM t GROUP BY k",
     lambda t: t.group_by("k").agg(col("y")), "from t | group k (s = y)", {"name": "y"}),
    (MisplacedAggregateError, "SELECT x FROM t WHERE sum(x) > 1",
     lambda t: t.filter(F.sum("x") > 1), "from t | filter sum(x) > 1", {"function": "sum"}),
    (NestedAggregateError, "SELECT sum(sum(x)) FROM t",
     lambda t: t.agg(F.sum(F.sum("x"))), "from t | aggregate (s = sum(sum(x)))", {"function": "sum"}),
    (MisplacedWindowError, "SELECT x FROM t WHERE row_number() OVER () = 1",
     lambda t: t.filter(F.row_number().over(F.window()) == 1), "from t | filter row_number() over () = 1", {}),
    (NotBooleanError, "SELECT x FROM t WHERE x + 1",
     lambda t: t.filter(col("x") + 1), "from t | filter x + 1", {"type_name": "BIGINT"}),
    (UnknownColumnError, "SELECT xx FROM t",
     lambda t: t.select("xx"), "from t | select xx", {"name": "xx"}),
    (UnknownTableError, "SELECT * FROM tt", None, "from tt", {"name": "tt"}),
])
def test_one_mistake_one_error_class_in_every_front_end(con, kind, sql, api, dsl, facts):
    errors = {"sql": raised(lambda: con.sql(sql)), "dsl": raised(lambda: con.dsl(dsl))}
    if api is not None:
        errors["api"] = raised(lambda: api(con.table("t")))
    for front_end, err in errors.items():
        assert isinstance(err, kind), (front_end, type(err).__name__, str(err))
        for attribute, value in facts.items():
            assert getattr(err, attribute) == value, (front_end, attribute)
        assert err.hint, front_end


def test_each_front_end_words_the_same_error_its_own_way(con):
    sql = raised(lambda: con.sql("SELECT k, y FROM t GROUP BY k"))
    api = raised(lambda: con.table("t").group_by("k").agg(col("y")))
    dsl = raised(lambda: con.dsl("from t | group k (s = y)"))
    assert "GROUP BY clause" in sql.message and "any_value(y)" in sql.hint
    assert api.message == "agg: column `y` must be a group_by key or be used in an aggregate function"
    assert api.hint == "add `y` to group_by(...), or aggregate it: F.any_value('y')"
    assert dsl.message.startswith("group: ") and "group key" in dsl.message
    assert dsl.hint == "add `y` to the group keys, or aggregate it: any_value(y)"
    assert (dsl.operation, api.operation, sql.operation) == ("group", "agg", None)


def test_sql_text_in_the_api_is_reworded_like_the_api(con):
    err = raised(lambda: con.table("t").filter("sum(x) > 1"))
    assert isinstance(err, MisplacedAggregateError)
    assert err.message == "filter: aggregate function `sum` is not allowed in filter"
    assert "group_by(...).agg(...)" in err.hint


def test_set_operation_errors_carry_widths_and_the_column(con):
    err = raised(lambda: con.sql("SELECT k FROM t UNION SELECT k, x FROM t"))
    assert isinstance(err, SetOperationError) and err.widths == (1, 2)
    assert "UNION inputs have 1 and 2 columns" in err.message
    err = raised(lambda: con.table("t").select("x").union(con.table("t").select("k")))
    assert isinstance(err, SetOperationError) and err.name == "x" and err.widths is None


def test_a_condition_must_be_boolean_in_join_on_too(con):
    err = raised(lambda: con.sql("SELECT * FROM t a JOIN t b ON a.x"))
    assert isinstance(err, NotBooleanError) and isinstance(err, BindError) and isinstance(err, QuarryTypeError)
    assert err.message == "JOIN condition must be BOOLEAN, got BIGINT"


def test_ambiguous_column_names_its_qualifiers(con):
    err = raised(lambda: con.sql("SELECT x FROM t a JOIN t b ON a.k = b.k"))
    assert isinstance(err, AmbiguousColumnError) and sorted(err.qualifiers) == ["a", "b"]


# ---------------------------------------------------------------------------- the builder itself

def test_select_builds_aggregate_window_and_project(con):
    t = con.table("t")
    scan = t.logical_plan
    fields = {f.name: f for f in scan.schema}
    from quarry.logical import functions as FN
    from quarry.logical.expressions import ColumnRef, WindowCall, WindowFrame
    total = FN.agg("sum", [ColumnRef(fields["x"])])
    ranked = WindowCall(FN.call("row_number", []), (), (), WindowFrame("rows", None, None))
    plan = builder.select(scan, [ColumnRef(fields["k"]), total, ranked], ["k", "s", "rn"],
                          group_exprs=[ColumnRef(fields["k"])])
    assert [type(n).__name__ for n in plan.walk()] == ["Project", "Window", "Aggregate", "Scan"]
    assert [f.name for f in plan.schema] == ["k", "s", "rn"]
    with pytest.raises(NotGroupedError):
        builder.select(scan, [ColumnRef(fields["y"])], ["y"], group_exprs=[ColumnRef(fields["k"])])


def test_builder_docstring_examples_run():
    for module in (builder, quarry.sql.expression):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


# ---------------------------------------------------------------------------- layering

def _python_files(*folders: str):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_the_builder_imports_only_the_logical_layer_and_errors():
    quarry_imports = {m for m in _imports(ROOT / "logical" / "builder.py") if m.startswith("quarry")}
    assert quarry_imports <= {"quarry.errors", "quarry.logical", "quarry.logical.functions",
                              "quarry.logical.types", "quarry.logical.expressions", "quarry.logical.plan",
                              "quarry.logical.nested"}


def test_only_sql_makes_binders():
    offenders = []
    for path in _python_files("api", "dsl", "logical", "catalog", "optimizer", "physical", "execution", "server"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in (
                    "Binder", "ExprBinder"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    for path in _python_files("api", "dsl", "logical"):
        assert not {"quarry.sql.binder", "quarry.sql.expr_binder"} & _imports(path), path
    assert offenders == []


def test_front_ends_never_read_an_error_message_to_decide():
    """No comparison, ``in`` test or ``startswith`` on ``<error>.message`` in the front ends."""
    offenders = []
    for path in _python_files("api", "dsl", "sql", "logical"):
        for node in ast.walk(ast.parse(path.read_text())):
            reads_message = None
            if isinstance(node, ast.Compare):
                parts = [node.left, *node.comparators]
                reads_message = any(isinstance(p, ast.Attribute) and p.attr == "message" for p in parts)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("startswith", "endswith", "find", "index", "search", "match", "findall"):
                args = [node.func.value, *node.args]
                reads_message = any(isinstance(a, ast.Attribute) and a.attr == "message" for a in args)
            if reads_message:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
