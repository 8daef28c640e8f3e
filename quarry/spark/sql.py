"""``spark.sql(...)``: Spark SQL text, parsed by sqlglot's Spark dialect, bound by quarry's SQL binder.

The statement is parsed with ``read="spark"`` (so backquoted names, ``parquet.`path```,
Spark's functions and literal forms parse as Spark means them), then the very AST goes to
quarry's statement binder (:func:`quarry.sql.statements.bind_statement`) and runs past the
session's command guard, as quarry's own SQL does. Two things are adjusted first, on the AST:

- parameters: ``:name`` and ``?`` markers take the literals of ``args`` / ``pos_args``
  (``spark.sql("... WHERE x > :lo", args={"lo": 5})``), as typed literals, never text;
- ``ORDER BY x`` with no NULLS clause gets Spark's default order (NULLS FIRST ascending,
  NULLS LAST descending), which the Spark dialect records on each ordering key;
- a table name qualified by Spark's default catalog and database (``spark_catalog.default.t``,
  ``default.t``) names the table ``t``;
- ``parquet.`path``` / ``csv.`path``` / ``json.`path``` become quarry's ``read_parquet('path')``,
  ``read_csv('path')`` table functions (the sandbox checks their paths);
- ``global_temp.v`` names the global temp view ``v`` (``createGlobalTempView``), registered in
  the session's catalog under a hidden name while the statement binds.

Arithmetic on decimals binds with Spark's result precision and scale (``DecimalPrecision``: ``/`` of
decimals is a decimal, not a DOUBLE), rounded HALF_UP, and ``/``, ``%`` by zero raise DIVIDE_BY_ZERO under
ANSI mode, through :func:`arithmetic_rules`; a ``CAST`` raises on a bad value under ANSI mode
(:func:`spark_ansi_ast`).
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import re

import pyarrow as pa
import sqlglot
from sqlglot import exp

from quarry.errors import ParseError, QuarryError
from quarry.spark.errors import SparkError, not_supported

__all__ = ["run_spark_sql", "parse_spark_sql", "spark_ansi_ast", "spark_arithmetic"]

_DEFAULT_QUALIFIERS = {"default", "spark_catalog"}
_FILE_FORMATS = {"parquet": "read_parquet", "csv": "read_csv"}


def parse_spark_sql(text: str) -> list[exp.Expression]:
    """Parse Spark SQL; a syntax error is a quarry ParseError (PySpark's ParseException on the client)."""
    try:
        statements = sqlglot.parse(text, read="spark")
    except sqlglot.errors.ParseError as err:
        info = err.errors[0] if err.errors else {}
        raise ParseError(f"syntax error: {info.get('description') or err}", sql=text, line=info.get("line"),
                         column=info.get("col"),
                         hint=f"check the SQL near `{info.get('highlight')}`" if info.get("highlight") else None) \
            from None
    except sqlglot.errors.TokenError as err:
        raise ParseError(f"syntax error: {err}", sql=text, hint="check quotes and brackets") from None
    statements = [s for s in statements if s is not None]
    if not statements:
        raise ParseError("empty statement", sql=text, hint="write a query, e.g. SELECT 1")
    return statements


def _literal_node(value) -> exp.Expression:
    """A sqlglot literal for a parameter value (typed: dates and timestamps as typed literals)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float, decimal.Decimal)):
        node = exp.Literal.number(str(value))
        return exp.Neg(this=exp.Literal.number(str(-value))) if value < 0 else node
    if isinstance(value, datetime.datetime):
        return exp.Cast(this=exp.Literal.string(str(value)), to=exp.DataType.build("TIMESTAMP"))
    if isinstance(value, datetime.date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("DATE"))
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise not_supported(f"a SQL parameter of type {type(value).__name__}")


GLOBAL_PREFIX = "global_temp."


def _rewrite(node: exp.Expression, named: dict, positional: list, global_views: dict | None = None,
             used: dict | None = None) -> exp.Expression:
    position = iter(range(len(positional)))

    def visit(n):
        if isinstance(n, exp.Placeholder):
            key = n.name
            if key and key != "?":
                if key not in named:
                    raise SparkError(f"the parameter `:{key}` has no value", error_class="UNBOUND_SQL_PARAMETER",
                                     parameters={"name": key})
                return _literal_node(named[key])
            i = next(position, None)
            if i is None:
                raise SparkError("more `?` markers than positional arguments", error_class="UNBOUND_SQL_PARAMETER",
                                 parameters={"name": "?"})
            return _literal_node(positional[i])
        if isinstance(n, exp.Ordered) and n.args.get("nulls_first") is None:
            n.set("nulls_first", not n.args.get("desc"))
            return n
        if isinstance(n, exp.Table) and isinstance(n.this, exp.Func) and not isinstance(n.this, exp.GenerateSeries):
            table_function = _spark_table_function(n)
            if table_function is not None:
                return table_function
        if isinstance(n, exp.Table):
            db = n.args.get("db")
            if db is not None and db.name.lower() in _FILE_FORMATS and isinstance(n.this, exp.Identifier) \
                    and n.this.quoted:
                function = exp.Anonymous(this=_FILE_FORMATS[db.name.lower()],
                                         expressions=[exp.Literal.string(n.this.name)])
                return exp.Table(this=function, alias=n.args.get("alias"))
            if db is not None and db.name.lower() == "global_temp" and global_views is not None:
                view = global_views.get(n.name.lower())
                if view is None:
                    raise SparkError(f"the global temporary view `global_temp.{n.name}` cannot be found",
                                     error_class="TABLE_OR_VIEW_NOT_FOUND",
                                     parameters={"relationName": f"`global_temp`.`{n.name}`"})
                hidden = GLOBAL_PREFIX + n.name.lower()
                used[hidden] = view
                alias = n.args.get("alias") or exp.TableAlias(this=exp.to_identifier(n.name))
                return exp.Table(this=exp.to_identifier(hidden, quoted=True), alias=alias)
            if db is not None and db.name.lower() in ("json", "text", "orc"):
                raise not_supported(f"SQL over {db.name} files; use spark.read.{db.name.lower()}(...)")
            if db is not None and db.name.lower() in _DEFAULT_QUALIFIERS:
                n.set("db", None)
                n.set("catalog", None)
        return n
    return node.transform(visit, copy=True)


_DUCKDB_MEANINGS = {"chr", "char", "regexp_extract", "arg_max", "arg_min", "max_by", "min_by", "mode",
                    "quantile_cont", "quantile_disc", "quantile", "corr", "covar_pop", "covar_samp", "regr_slope",
                    "regr_intercept", "regr_r2", "regr_count", "regr_avgx", "regr_avgy", "regr_sxx", "regr_syy",
                    "regr_sxy",
                    # issue #12's DuckDB dates: Spark's weekday counts from Monday, its dayname/monthname are
                    # 'Mon'/'Jan', its make_timestamp gives NULL for a bad field, last_day reads strings
                    "weekday", "dayname", "monthname", "make_timestamp", "last_day",
                    # and its strings: Spark's unhex/unbase64 give NULL for bad input, its base64 and
                    # octet_length take strings, its encode/decode take a charset, hex/bin cast other types
                    "hex", "unhex", "bin", "unbin", "encode", "decode", "tobase64", "frombase64", "octet_length",
                    # Spark's factorial is NULL outside 0..20, DuckDB's a HUGEINT up to 33!
                    "factorial",
                    # sqlglot reads Spark's sequence(5, 1) as generate_series, which is [] in DuckDB, [5..1] in Spark
                    "generateseries", "range", "generate_series",
                    # Spark's array_intersect keeps a NULL both arrays hold
                    "arrayintersect", "array_intersect",
                    # Spark's reduce(l, start, merge) takes its arguments in another order than list_reduce's
                    "reduce"}


def _function_name(n: exp.Func) -> str:
    from quarry.sql.expr_binder import _RENAMES
    return n.name.lower() if isinstance(n, exp.Anonymous) else _RENAMES.get(n.key, n.key)




def _spark_table_function(n: exp.Table) -> exp.Expression | None:
    """Spark's table-valued functions in FROM, as quarry's SQL takes them: ``range(end)`` /
    ``range(start, end[, step[, numPartitions]])`` is quarry's ``range`` with its column named ``id``
    (numPartitions only splits Spark's work), and ``explode(array)`` the select of the generator, whose
    column is ``col`` as in Spark. None for any other function (quarry's own read_parquet, ...)."""
    fn = n.this
    name = (fn.name if isinstance(fn, exp.Anonymous) else fn.sql_name()).lower().lstrip("_")
    alias = n.args.get("alias")
    if name == "range":
        args = list(fn.expressions) if isinstance(fn, exp.Anonymous) else []
        if not 1 <= len(args) <= 4:
            raise SparkError(f"range takes 1 to 4 arguments, got {len(args)}",
                             error_class="WRONG_NUM_ARGS.WITHOUT_SUGGESTION")
        start, end, step = (exp.Literal.number(0), args[0], None) if len(args) == 1 else \
            (args[0], args[1], args[2] if len(args) > 2 else None)
        series = exp.GenerateSeries(start=start, end=end, step=step, is_end_exclusive=True)
        query = exp.select(exp.alias_(exp.column("range"), "id")).from_(exp.Table(this=series))
        return exp.Subquery(this=query, alias=alias or exp.TableAlias(this=exp.to_identifier("range")))
    return None


_GENERATORS = {"explode": "explode", "_explodeouter": "explode_outer", "explodeouter": "explode_outer",
               "explode_outer": "explode_outer", "posexplode": "posexplode", "posexplodeouter": "posexplode_outer",
               "posexplode_outer": "posexplode_outer", "inline": "inline", "inline_outer": "inline_outer",
               "inlineouter": "inline_outer", "stack": "stack", "json_tuple": "json_tuple"}


def _generator_name(n: exp.Expression) -> str | None:
    """Spark's name of the generator ``n`` calls (``posexplode``, ``stack``, ...), or None."""
    if not isinstance(n, exp.Func):
        return None
    key = (n.name if isinstance(n, exp.Anonymous) else n.key).lower()
    return _GENERATORS.get(key)


def _empty_as_null(arg: exp.Expression, items: exp.Expression | None = None) -> exp.Expression:
    """``items`` (default ``arg``), or ``[NULL]`` where ``arg`` is NULL or empty: the one row of NULLs an
    ``_outer`` generator gives for those."""
    empty = exp.or_(exp.Is(this=arg.copy(), expression=exp.Null()),
                    exp.EQ(this=exp.Anonymous(this="len", expressions=[arg.copy()]), expression=exp.Literal.number(0)))
    return exp.Case(ifs=[exp.If(this=empty, true=exp.Array(expressions=[exp.Null()]))],
                    default=(items or arg).copy())


def _generator_items(n: exp.Expression, name: str, names: list[str] | None = None) \
        -> list[tuple[exp.Expression, str | None]]:
    """A generator call as select items (expression, Spark's column name or None) that quarry's SQL runs:
    ``stack(n, ...)`` one array per output column ``col0``, ``col1``, ...; the others one item whose
    columns the binder asks for once it knows the argument's type (:func:`_typed_generator`). ``names``
    are the select list's ``AS (a, b)``."""
    args = [n.this] + list(n.expressions) if not isinstance(n, exp.Anonymous) else list(n.expressions)
    args = [a for a in args if a is not None]
    if name == "json_tuple":
        raise not_supported("json_tuple in spark.sql text; spark.tvf.json_tuple(...) or df.select(F.json_tuple(...)) "
                            "runs it")
    if name == "stack":
        if len(args) < 2 or not (isinstance(args[0], exp.Literal) and not args[0].is_string):
            raise SparkError("stack takes a constant number of rows, then the values",
                             error_class="DATATYPE_MISMATCH.NON_FOLDABLE_INPUT")
        rows, values = int(args[0].name), args[1:]
        if rows < 1:
            raise SparkError("stack's number of rows must be positive",
                             error_class="DATATYPE_MISMATCH.VALUE_OUT_OF_RANGE")
        width = -(-len(values) // rows)
        columns = [[values[r * width + c] if r * width + c < len(values) else exp.Null() for r in range(rows)]
                   for c in range(width)]
        items = [(exp.Explode(this=exp.Array(expressions=[v.copy() for v in col])), f"col{i}")
                 for i, col in enumerate(columns)]
        return _named(items, names, name)
    if len(args) != 1:
        raise SparkError(f"{name} takes one argument, got {len(args)}", error_class="WRONG_NUM_ARGS.WITHOUT_SUGGESTION")
    from quarry.sql.binder import TYPED_ITEMS
    item = exp.Anonymous(this="spark_generator", expressions=[args[0].copy()])
    # the argument is read from the item when it binds: later rewrites of the tree (Spark's map(...)) are in it
    item.meta[TYPED_ITEMS] = lambda node, type_of: _named(_typed_generator(node.expressions[0], name, type_of),
                                                          names, name)
    return [(item, None)]


def _named(items: list, names: list[str] | None, name: str) -> list:
    """``items`` under ``names`` (as many as they are), or as they are."""
    if names is None:
        return items
    if len(names) != len(items):
        raise SparkError(f"{name} gives {len(items)} columns, but {len(names)} names are given",
                         error_class="UDTF_ALIAS_NUMBER_MISMATCH")
    return [(e, alias) for (e, _), alias in zip(items, names)]


def _typed_generator(arg: exp.Expression, name: str, type_of) -> list[tuple[exp.Expression, str]]:
    """The select items of ``explode``, ``posexplode`` or ``inline`` (or ``_outer``) of ``arg``, whose type
    ``type_of(node)`` tells: each array through ``unnest`` (several unnests of one select advance together,
    one row per element), a map as its keys and values (``key``, ``value``), ``pos`` the 0-based
    position, ``inline``'s struct fields by name; an ``_outer`` form gives one row of NULLs for a NULL
    or empty argument."""
    from quarry.logical import types as T
    dtype = type_of(arg)
    outer = name.endswith("_outer")
    if T.is_map(dtype) and not name.startswith("inline"):
        lists = [("key", exp.Anonymous(this="map_keys", expressions=[arg.copy()])),
                 ("value", exp.Anonymous(this="map_values", expressions=[arg.copy()]))]
    elif outer and T.is_list(dtype) and T.is_null(dtype.value_type):
        # array() or an array of NULLs: quarry's CASE cannot choose between lists of no type, so as INTs
        lists = [("col", exp.Cast(this=arg.copy(), to=exp.DataType.build("ARRAY<INT>", dialect="spark")))]
    elif T.is_list(dtype) or T.is_null(dtype):
        lists = [("col", arg.copy())]
    else:
        what = "an array of structs" if name.startswith("inline") else "an array or a map"
        raise SparkError(f"{name} takes {what}, not {T.sql_name(dtype)}",
                         error_class="DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE")
    first = lists[0][1]
    if name.startswith("inline"):
        if not T.is_struct(dtype.value_type):
            raise SparkError(f"inline takes an array of structs, not {T.sql_name(dtype)}",
                             error_class="DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE")
        values = exp.Explode(this=_empty_as_null(first) if outer else first)
        return [(exp.Anonymous(this="struct_extract", expressions=[values.copy(), exp.Literal.string(f.name)]),
                 f.name) for f in dtype.value_type]
    items = [(exp.Explode(this=_empty_as_null(lst) if outer else lst), column) for column, lst in lists]
    if name.startswith("posexplode"):
        positions = exp.Anonymous(this="range", expressions=[exp.Literal.number(0),
                                                             exp.Anonymous(this="len", expressions=[first.copy()])])
        positions = exp.Cast(this=_empty_as_null(first, positions) if outer else positions,
                             to=exp.DataType.build("ARRAY<INT>", dialect="spark"))
        items.insert(0, (exp.Explode(this=positions), "pos"))
    return items


def _generator_select(n: exp.Expression, name: str, columns: list[str] | None) -> exp.Select:
    """``SELECT <the generator's items>``, named by ``columns`` (the select list's ``AS (a, b)``) or
    Spark's names."""
    select = exp.select(*[e if alias is None else exp.alias_(e, alias, quoted=True)
                          for e, alias in _generator_items(n, name, columns)])
    select.meta[_GENERATED] = True
    return select


def _generator_table(n: exp.Expression, name: str, alias: exp.TableAlias | None, default: str) -> exp.Subquery:
    """A generator in FROM or LATERAL VIEW as a subquery, its columns renamed by the alias's names."""
    columns = [c.name for c in alias.columns] if alias is not None and alias.columns else None
    table = alias.name if alias is not None and alias.name else default
    return exp.Subquery(this=_generator_select(n, name, None), alias=exp.TableAlias(
        this=exp.to_identifier(table), columns=[exp.to_identifier(c) for c in columns] if columns else None))


_GENERATED = "quarry_generator"


def spark_generators(node: exp.Expression) -> exp.Expression:
    """Spark's generators (``explode``, ``posexplode``, ``inline``, ``stack`` and their ``_outer`` forms) in
    spark.sql text, as quarry's SQL runs them: in FROM (``FROM posexplode(array(1, 2)) AS t``) a subquery
    of their items, in ``LATERAL VIEW [OUTER] gen(...) t AS a, b`` a ``CROSS JOIN LATERAL`` of that
    subquery (OUTER as the ``_outer`` generator), in a select list their items in the generator's
    place (``SELECT k, posexplode(arr)`` is ``k, pos, col``)."""
    def visit(n):
        if isinstance(n, exp.Table) and _generator_name(n.this):
            name = _generator_name(n.this)
            return _generator_table(n.this, name, n.args.get("alias"), name)
        if not isinstance(n, exp.Select) or n.meta.get(_GENERATED):
            return n
        for lateral in n.args.get("laterals") or []:
            name = _generator_name(lateral.this)
            if not lateral.args.get("view") or name is None:
                raise not_supported("LATERAL VIEW of a function that is not a generator")
            if lateral.args.get("outer") and not name.endswith("_outer") and name not in ("stack", "json_tuple"):
                name += "_outer"              # (stack always gives its rows)
            sub = _generator_table(lateral.this, name, lateral.args.get("alias"),
                                   f"__lateral_view_{len(n.args.get('joins') or [])}")
            alias = sub.args["alias"]
            sub.set("alias", None)
            n.append("joins", exp.Join(this=exp.Lateral(this=sub, alias=alias), kind="CROSS"))
        n.set("laterals", None)
        items, found = [], False
        for item in n.expressions:
            inner, alias = item, None
            if isinstance(item, exp.Alias):
                inner, alias = item.this, [item.alias]
            elif isinstance(item, exp.Aliases):
                inner, alias = item.this, [a.name for a in item.expressions]
            name = _generator_name(inner)
            if name is None:
                items.append(item)
                continue
            if found:
                raise SparkError("only one generator is allowed per select clause",
                                 error_class="UNSUPPORTED_GENERATOR.MULTI_GENERATOR")
            found = True
            items.extend(_generator_select(inner, name, alias).expressions)
        if found:
            n.set("expressions", items)
        return n
    return node.transform(visit, copy=False)


_SET_ALL = re.compile(r"(?is)SET")
_SET_TIME_ZONE = re.compile(r"""(?is)SET\s+TIME\s+ZONE\s+(?:'([^']*)'|"([^"]*)"|(LOCAL))""")
_SET_VALUE = re.compile(r"(?is)SET\s+([^\s=]+)\s*=\s*(.*?)")
_SET_KEY = re.compile(r"(?is)SET\s+([^\s=]+)")
_RESET = re.compile(r"(?is)RESET(?:\s+([^\s=]+))?")


def spark_sql_setting(state, text: str) -> pa.Table | None:
    """Spark's ``SET``/``RESET`` statements on the session's configuration, as Spark parses them (the value is
    the text after ``=``, a zone name such as ``America/Los_Angeles`` included), or None for other text:
    ``SET`` lists the settings, ``SET key`` shows one (``<undefined>`` when unset), ``SET key=value`` sets
    one, ``SET TIME ZONE 'zone'`` the session zone, ``RESET [key]`` restores defaults. The result is
    Spark's: ``key`` and ``value`` columns (none for RESET)."""
    statement = text.strip().rstrip(";").strip()
    if not statement[:5].upper().startswith(("SET", "RESET")):
        return None

    def rows(pairs):
        return pa.table({"key": pa.array([k for k, _ in pairs], pa.string()),
                         "value": pa.array([v for _, v in pairs], pa.string())})
    if _SET_ALL.fullmatch(statement):
        return rows(sorted(state.conf.items()))
    if re.fullmatch(r"(?is)SET\s+-v", statement):
        raise not_supported("SET -v (the settings' descriptions); SET lists them")
    m = _SET_TIME_ZONE.fullmatch(statement)
    if m:
        if m.group(3):
            raise not_supported("SET TIME ZONE LOCAL; name the zone: SET TIME ZONE 'America/Los_Angeles'")
        zone = m.group(1) if m.group(1) is not None else m.group(2)
        state.set("spark.sql.session.timeZone", zone)
        return rows([("spark.sql.session.timeZone", zone)])
    m = _SET_VALUE.fullmatch(statement) or _SET_KEY.fullmatch(statement) or _RESET.fullmatch(statement)
    if m and m.group(1) and "." not in m.group(1):
        # a key without a dot is one of quarry's own settings (SET s3_endpoint = ...): quarry's SET
        # takes it, with its checks (a served session refuses changing where data is read from)
        return None
    m = _SET_VALUE.fullmatch(statement)
    if m:
        key, value = m.group(1), m.group(2)
        state.set(key, value)
        return rows([(key, value)])
    m = _SET_KEY.fullmatch(statement)
    if m and not statement.upper().startswith("SET TIME ZONE"):
        return rows([(m.group(1), state.conf.get(m.group(1), "<undefined>"))])
    m = _RESET.fullmatch(statement)
    if m:
        for key in [m.group(1)] if m.group(1) else [k for k in list(state.conf) if state.is_modifiable(k)]:
            state.unset(key)
        return pa.table({})
    return None


def spark_arithmetic(ansi: bool):
    """How ``+ - * / %`` bind in Spark SQL text: Spark's decimal result types (``DecimalPrecision``), and
    ``/``, ``%`` of other numbers as Spark's (DIVIDE_BY_ZERO under ANSI mode, NULL without); the rest as
    quarry's."""
    from quarry.logical import functions as FN
    from quarry.logical import types as T
    from quarry.logical.spark_functions import bind_spark_decimal, bind_spark_interval, bind_spark_year_month
    names = {"modulo": "remainder"}
    comparisons = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"}

    def bind(name, a, b):
        if name in comparisons:
            return bind_spark_year_month(name, a, b)
        if name == "negate":
            from quarry.logical.spark_functions import is_year_month, spark_interval_unary, spark_year_month_unary
            if pa.types.is_duration(a.dtype):
                return spark_interval_unary("negate", a)
            return spark_year_month_unary("negate", a) if is_year_month(a.dtype) else None
        op = names.get(name, name)
        interval = bind_spark_interval(op, a, b)
        if interval is not None:
            return interval
        decimal = bind_spark_decimal(op, a, b, ansi)
        if decimal is not None:
            return decimal
        plain = [T.is_integer(x.dtype) or T.is_float(x.dtype) or T.is_null(x.dtype) for x in (a, b)]
        if op in ("divide", "remainder") and all(plain) and not (T.is_null(a.dtype) and T.is_null(b.dtype)):
            return FN.call("spark_arith", [FN.lit(op), a, b, FN.lit(ansi)])
        return None
    return bind


def spark_aggregates(ansi: bool = True):
    """How aggregates bind in Spark SQL text where Spark's types differ from quarry's: ``sum`` of integers
    is a BIGINT (quarry's exact sum, cast: past BIGINT's range it raises, as Spark's ANSI sum overflows) and
    of ``decimal(p, s)`` a ``decimal(min(38, p + 10), s)`` (Spark's rule; a sum past it raises under ANSI
    mode, NULL without); ``sum``, ``min``, ``max`` and ``avg`` of a day-time or a year-month interval are
    intervals (over its microseconds or months; ``avg`` the exact sum divided by the count, HALF_UP), as the
    DataFrame calls give them."""
    from quarry.logical import functions as FN
    from quarry.logical import types as T
    from quarry.logical.expressions import Call as CallExpr, Literal
    from quarry.logical.spark_functions import (bind_spark_interval, is_year_month, spark_interval_unary,
                                                spark_year_month_unary, ym_months)

    def bind(name, args, distinct, filter):
        key = name.lower()
        if key == "mean":
            key = "avg"
        if key not in ("sum", "min", "max", "avg") or len(args) != 1:
            return None
        (x,) = args
        if key == "sum" and T.is_integer(x.dtype):
            return FN.cast(FN.agg("sum", [x], distinct=distinct, filter=filter), T.INT64, explicit=True)
        if key == "sum" and T.is_decimal(x.dtype):
            target = pa.decimal128(min(38, x.dtype.precision + 10), x.dtype.scale)
            return CallExpr("spark_decimal_check", (FN.agg("sum", [x], distinct=distinct, filter=filter),
                                                    Literal(ansi, T.BOOL)), target, True)
        if pa.types.is_duration(x.dtype):
            units, back = spark_interval_unary("micros", x), lambda e: spark_interval_unary("from_micros", e)
        elif is_year_month(x.dtype):
            units, back = ym_months(x), lambda e: spark_year_month_unary("from_months", e)
        else:
            return None
        if key != "avg":
            return back(FN.agg(key, [units], distinct=distinct, filter=filter))
        total = back(FN.agg("sum", [units], distinct=distinct, filter=filter))
        return bind_spark_interval("divide", total, FN.agg("count", [x], distinct=distinct, filter=filter))
    return bind


_ZONED = (exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ)


def spark_casts(ansi: bool, time_zone: str = "UTC"):
    """How ``CAST``/``TRY_CAST`` bind in Spark SQL text (see ``quarry.logical.functions.cast_rules``): a
    number to another numeric type as the DataFrame casts do (``spark_cast``: the fraction dropped toward
    zero; overflow raises under ANSI mode, is NULL in TRY_CAST, and wraps as the JVM narrows in a CAST
    without ANSI mode); without ANSI mode any other CAST is a TRY_CAST; the rest as quarry's."""
    from quarry.logical import types as T
    from quarry.logical.expressions import Call, Literal

    def bind(value, target, mode: str):
        from quarry.spark.functions.internal import _interval, interval_cast, timestamp_number_cast
        if _interval(value.dtype) or _interval(target):
            return interval_cast(value, target)
        lenient = mode == "lenient" or (mode == "cast" and not ansi)
        seconds = timestamp_number_cast(value, target, time_zone,
                                        "legacy" if lenient else "try" if mode == "try_cast" else "ansi")
        if seconds is not None:
            return seconds
        if value.dtype != target and T.is_numeric(value.dtype) and T.is_numeric(target):
            spark_mode = "legacy" if lenient else "try" if mode == "try_cast" else "ansi"
            return Call("spark_cast", (value, Literal(spark_mode, T.STRING)), target, True)
        if lenient:
            return Call("try_cast", (value,), target, True)
        return None
    return bind


_YEAR_MONTH_UNITS = {"YEAR", "YEARS", "MONTH", "MONTHS"}


def _year_month_constant(n: exp.Interval) -> exp.Expression | None:
    """``INTERVAL '1-2' YEAR TO MONTH``, ``INTERVAL 3 MONTHS``: Spark's year-month interval constants, as a
    ``make_ym_interval(0, months)`` call (quarry's INTERVAL constant would be a calendar interval)."""
    from quarry.sql.expr_binder import interval_span_value, interval_value
    unit, value = n.args.get("unit"), n.this
    if unit is None or not isinstance(value, exp.Literal):
        return None
    units = [unit.this.name, unit.expression.name] if isinstance(unit, exp.IntervalSpan) else [unit.name]
    if not all(u.upper() in _YEAR_MONTH_UNITS for u in units):
        return None
    if isinstance(unit, exp.IntervalSpan):
        months, days, nanos = interval_span_value(str(value.this), units[0], units[1])
    else:
        months, days, nanos = interval_value(str(value.this), units[0])
    if days or nanos:
        return None
    return exp.Anonymous(this="make_ym_interval", expressions=[exp.Literal.number(0), exp.Literal.number(months)])


def add_spark_sql_functions(registry) -> None:
    """Define in ``registry`` (a Spark session's) the functions that ``spark.sql`` and ``expr`` text call by
    Spark's names and quarry's SQL does not have: ``make_interval``, ``try_make_interval``,
    ``make_ym_interval``, ``make_dt_interval``."""
    from quarry.logical import functions as FN
    from quarry.logical.spark_functions import (bind_spark_make_dt_interval, bind_spark_make_interval,
                                                bind_spark_make_ym_interval, bind_spark_try_make_interval)

    def padded(bind, count):
        return lambda name, args: bind(*(list(args) + [FN.lit(0)] * (count - len(args))))
    for name, bind, count in (("make_ym_interval", bind_spark_make_ym_interval, 2),
                              ("make_interval", bind_spark_make_interval, 7),
                              ("try_make_interval", bind_spark_try_make_interval, 7),
                              ("make_dt_interval", bind_spark_make_dt_interval, 4)):
        registry.add(FN.FunctionDef(name, "scalar", padded(bind, count), 0, count))


def spark_ansi_ast(node: exp.Expression, ansi: bool) -> exp.Expression:
    """Spark 4's ANSI meaning on a parsed Spark SQL tree: sqlglot reads Spark's ``/`` and ``%`` as "safe"
    (NULL for a zero divisor, written as NULLIF) and ``CAST`` as ``TRY_CAST``, which is Spark without ANSI
    mode. The divisions bind as Spark's (see :func:`spark_arithmetic`); a ``CAST`` stays a cast that raises
    under ANSI mode (``TRY_CAST`` written as such keeps its NULL)."""
    def visit(n):
        if isinstance(n, (exp.Div, exp.Mod)) and n.args.get("safe"):
            n.set("safe", None)
        elif isinstance(n, exp.TryCast) and not n.args.get("safe"):
            # a CAST (without ANSI mode it binds as Spark's lenient cast, see spark_casts); transform() does
            # not visit below a node it replaced, so the operand is rewritten here (CAST(TIMESTAMP'...' AS x))
            cast = exp.Cast(**{k: v for k, v in n.args.items() if k in ("this", "to", "format")})
            cast.set("this", cast.this.transform(visit, copy=False))
            cast.set("to", cast.args["to"].transform(visit, copy=False))      # CAST(s AS TIMESTAMP): the wall time
            return cast
        elif isinstance(n, exp.VarMap):
            # Spark's map(k1, v1, k2, v2, ...): quarry's map(keys, values) (a key twice raises)
            return exp.Map(keys=n.args["keys"].transform(visit, copy=False),
                           values=n.args["values"].transform(visit, copy=False))
        elif isinstance(n, exp.DataType) and n.this in _ZONED:
            # Spark's TIMESTAMP (sqlglot's TIMESTAMPTZ): quarry holds it as the wall time in the session zone
            return exp.DataType.build("TIMESTAMP")
        return n

    def spark_names(n):
        if isinstance(n, exp.Func) and _function_name(n) in _DUCKDB_MEANINGS and \
                not (isinstance(n, exp.GenerateSeries) and isinstance(n.parent, exp.Table)):
            # (a series in FROM is the table function range(...) translates to: Spark's own meaning)
            # quarry's SQL function of this name has DuckDB's meaning, which is not Spark's (chr modulo 256,
            # regexp_extract's default group 1, max_by over NULL values, corr of one row): refused, rather
            # than answered the DuckDB way; the DataFrame functions of these names have Spark's meaning
            name = _function_name(n)
            raise not_supported(f"{name}() in Spark SQL text; call pyspark.sql.functions.{name} on a DataFrame")
        if isinstance(n, exp.Interval):
            return _year_month_constant(n) or n
        if isinstance(n, exp.MakeInterval):
            # sqlglot's node for make_interval(years, months, weeks, days, hours, mins, secs)
            args = []
            for key in exp.MakeInterval.arg_types:
                if n.args.get(key) is None:
                    break
                args.append(n.args[key])
            return exp.Anonymous(this="make_interval", expressions=args)
        return n
    return spark_generators(node.transform(spark_names, copy=False)).transform(visit, copy=False)


@contextlib.contextmanager
def spark_names():
    """Spark's names for unaliased select items where they differ from DuckDB's: ``count(*)`` is
    ``count(1)``, a string constant its text (``upper(a)``), a CAST names its type as Spark writes it
    (``CAST(k AS STRING)``, not ``VARCHAR``)."""
    from quarry.sql.names import NAME_STYLE
    token = NAME_STYLE.set("spark")
    try:
        yield
    finally:
        NAME_STYLE.reset(token)


def run_spark_sql(session, text: str, named: dict | None = None, positional: list | None = None,
                  global_views: dict | None = None, ansi: bool = True, time_zone: str = "UTC"):
    """Run the statements in ``text``; the typed result (:mod:`quarry.sql.commands`) of the last one.
    ``global_views`` (lower-cased name -> view) are what ``global_temp.name`` reads; ``ansi`` is
    ``spark.sql.ansi.enabled`` (decimal overflow and division by zero raise, or are NULL)."""
    from quarry.catalog.redaction import redacting
    from quarry.logical.functions import aggregate_rules, arithmetic_rules, cast_rules, using_functions
    from quarry.sql.expr_binder import node_position
    from quarry.sql.statements import bind_statement, run_command
    result = None
    for node in parse_spark_sql(text):
        used: dict = {}
        node = spark_ansi_ast(_rewrite(node, named or {}, positional or [], global_views, used), ansi)
        try:
            for hidden, view in used.items():
                session.catalog.register(hidden, view)
            # remote paths the statement names are opened with the session's settings and secrets
            with redacting(session.sandbox is not None), using_functions(session.functions), \
                    session.using_storage(), arithmetic_rules(spark_arithmetic(ansi)), \
                    cast_rules(spark_casts(ansi, time_zone)), aggregate_rules(spark_aggregates(ansi)), \
                    spark_names():
                result = run_command(session, bind_statement(session, node, text))
        except QuarryError as err:
            if err.line is None:
                try:
                    line, column = node_position(node, text)
                    err.with_position(text, line, column)
                except Exception:          # a rewritten node may have no position: keep the message
                    pass
            err.sql = err.sql or text
            raise
        finally:
            for hidden in used:                      # bound already: the plan holds the view's query
                session.catalog.drop(hidden, if_exists=True)
    return result
