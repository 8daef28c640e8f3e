"""The DataFrame: a lazy handle on a logical plan, bound to a session.

Transformations (``select``, ``filter``, ``group_by(...).agg(...)``, ``join``, ...)
return a new DataFrame over a bigger plan; nothing runs until an action
(``to_arrow``, ``show``, ``count``, ...) asks for rows. Then the plan goes
through the same optimizer and executor as SQL. Each transformation builds its
nodes with the plan builder the SQL binder uses (:mod:`quarry.logical.builder`:
a Project over an Aggregate with group fields then aggregate fields, a Window
node under the Project, DISTINCT as an Aggregate, set operations, USING joins),
so a DataFrame query and its SQL text optimize to the same plan.

    >>> import quarry, quarry.api.functions as F
    >>> from quarry import col
    >>> con = quarry.connect()
    >>> con.register("t", pa.table({"k": ["a", "b", "a"], "x": [1, 2, 3]}))  # doctest: +SKIP
    >>> df = con.table("t").filter(col("x") > 1).group_by("k").agg(F.sum("x").alias("s"))  # doctest: +SKIP
    >>> df.to_pylist()                                                      # doctest: +SKIP
    [{'k': 'b', 's': 2}, {'k': 'a', 's': 3}]

Names are resolved when a method is called, so a typo fails at the call:
``df.select("l_quantityy")`` raises "select: column `l_quantityy` does not
exist" with the hint "did you mean `l_quantity`?".
"""

from __future__ import annotations

import html
import os
from contextlib import contextmanager

import pyarrow as pa

from quarry.api.column import (
    BindContext, Column, _StarColumn, field_column, to_column, to_condition, to_sort_column, _SIMPLE_NAME,
)
from quarry.errors import (
    BindError, MisplacedAggregateError, MisplacedWindowError, NestedAggregateError, NotBooleanError,
    NotGroupedError, QuarryError, QuarryTypeError, SetOperationError, UnknownColumnError, UnsupportedError,
    suggest,
)
from quarry.logical import builder as B
from quarry.logical import functions as FN
from quarry.logical import types as T
from quarry.logical.expressions import (
    ColumnRef, Expr, Field, WindowCall, WindowFrame, and_all, new_id,
)
from quarry.logical.plan import (
    Aggregate, Cached, Filter, Join, Limit, LogicalPlan, Project, Scan, Sort, Window, produced_ids,
)

__all__ = ["DataFrame", "GroupedData"]

_JOIN_KINDS = {
    "inner": "inner", "left": "left", "left_outer": "left", "leftouter": "left", "right": "right",
    "right_outer": "right", "rightouter": "right", "full": "full", "outer": "full", "full_outer": "full",
    "fullouter": "full", "semi": "semi", "left_semi": "semi", "leftsemi": "semi", "anti": "anti",
    "left_anti": "anti", "leftanti": "anti", "cross": "cross",
}


@contextmanager
def _calling(method: str):
    """Name the DataFrame method in any QuarryError raised inside (``select: column `x` does not exist``),
    and say the builder's and SQL's errors in the API's words (the innermost method wins)."""
    try:
        yield
    except QuarryError as err:
        if err.operation is None:
            _in_api_words(err, method)
            err.in_operation(method)
        raise


def _in_api_words(err: QuarryError, method: str) -> None:
    """Reword the errors whose SQL wording would mislead here, by their class and facts."""
    if isinstance(err, NotGroupedError):
        name = err.name
        err.reword(f"column `{name}` must be a group_by key or be used in an aggregate function",
                   f"add `{name}` to group_by(...), or aggregate it: F.any_value('{name}')")
    elif isinstance(err, MisplacedAggregateError):
        err.reword(f"aggregate function `{err.function}` is not allowed in {method}",
                   "aggregate in group_by(...).agg(...) or agg(...), or over a window: F.sum(x).over(F.window(...))")
    elif isinstance(err, NestedAggregateError):
        err.reword(hint="aggregate in two steps: group_by(...).agg(...) twice")
    elif isinstance(err, MisplacedWindowError):
        err.reword(f"window functions are not allowed in {method}",
                   "compute the window in select(...) or with_column(...) first")
    elif isinstance(err, NotBooleanError):
        err.reword(hint="compare the value, e.g. col('x') != 0")
    elif isinstance(err, SetOperationError) and err.widths is not None:
        err.reword(f"the inputs have {err.widths[0]} and {err.widths[1]} columns",
                   "both sides need the same number of columns (union_by_name matches by name)")
    elif isinstance(err, SetOperationError):
        err.reword(hint="cast one side so the types agree")


def _flat(items) -> list:
    out = []
    for it in items:
        if isinstance(it, (list, tuple)):
            out.extend(_flat(it))
        else:
            out.append(it)
    return out


class DataFrame:
    """A lazy query over a logical plan. Get one from ``con.table``, ``con.sql``, ``con.read_parquet``, ...

    >>> df = con.table("lineitem").filter("l_quantity < 24").select("l_orderkey", "l_quantity")  # doctest: +SKIP
    """

    def __init__(self, session, plan: LogicalPlan, sql: str | None = None, remap: dict | None = None):
        self._session = session
        self._plan = plan
        self._sql = sql
        # column id -> field, for columns of a DataFrame that a self-join copied (see join)
        self._remap: dict[int, Field] = remap or {}
        self._uncached: LogicalPlan | None = None

    @classmethod
    def from_arrow(cls, session, table: pa.Table, label: str = "arrow") -> "DataFrame":
        """A DataFrame over an in-memory Arrow table, held as a ``Cached`` plan node.

        >>> DataFrame.from_arrow(con, pa.table({"x": [1]}))          # doctest: +SKIP
        """
        table = table.cast(T.normalize_schema(table.schema)) if T.normalize_schema(table.schema) != table.schema \
            else table
        fields = tuple(Field(f.name, f.type, f.nullable, new_id()) for f in table.schema)
        renamed = pa.Table.from_arrays(table.columns, names=[f.key for f in fields])
        return cls(session, Cached(renamed, fields, label))

    # -- internals ---------------------------------------------------------------------------

    def _new(self, plan: LogicalPlan, remap: dict | None = None) -> "DataFrame":
        return DataFrame(self._session, plan, remap=self._remap if remap is None else remap)

    def _ctx(self, method: str, **options) -> BindContext:
        return BindContext(self._session, self._plan.schema, method, remap=self._remap, **options)

    def _resolve_name(self, ctx: BindContext, item) -> Field:
        """The input field a column name (or plain column) names."""
        if isinstance(item, str):
            return ctx.resolve(item)
        if isinstance(item, Column):
            e = item.bind(ctx)
            if isinstance(e, ColumnRef):
                return e.field
            raise BindError(f"`{item.name}` is an expression, not a column", hint="pass a column name")
        raise QuarryTypeError(f"expected a column name, got a {type(item).__name__}")

    def _projection(self, ctx: BindContext, items: list, group_keys: list | None = None) -> LogicalPlan:
        """Project ``items`` (Columns, or Fields passed through) the way SQL's SELECT does, with the
        plan builder's :func:`~quarry.logical.builder.select`: aggregates split into an Aggregate
        with a Project on top, window functions into a Window under it, and a plain column keeps
        its field (same id) when its name is unchanged."""
        bound: list[Expr] = []
        names: list[str] = []
        for item in items:
            if isinstance(item, Field):
                bound.append(ColumnRef(item))
                names.append(item.name)
            elif isinstance(item, _StarColumn):
                for f in item.fields(ctx):
                    bound.append(ColumnRef(f))
                    names.append(f.name)
            else:
                bound.append(item.bind(ctx))
                names.append(item.name_in(ctx))
        if not bound:
            raise BindError("no columns selected", hint="select at least one column")
        group_exprs = None
        if group_keys is not None:
            key_ctx = ctx.derive(allow_aggregates=False, allow_windows=False)
            group_exprs = [g.bind(key_ctx) for g in group_keys]
        return B.select(self._plan, bound, names, group_exprs)

    # -- properties --------------------------------------------------------------------------

    @property
    def logical_plan(self) -> LogicalPlan:
        """The unoptimized logical plan. ``print(df.logical_plan.pretty())``."""
        return self._plan

    @property
    def schema(self) -> pa.Schema:
        """Output column names and Arrow types, known without running the query.

        >>> con.sql("SELECT 1 AS x").schema                       # doctest: +SKIP
        x: int32 not null
        """
        return pa.schema([pa.field(f.name, f.dtype, f.nullable) for f in self._plan.schema])

    @property
    def columns(self) -> list[str]:
        """The output column names. ``con.sql("SELECT 1 AS x").columns == ['x']``."""
        return [f.name for f in self._plan.schema]

    @property
    def dtypes(self) -> list[tuple[str, str]]:
        """``(name, SQL type)`` per column: ``[('l_quantity', 'DECIMAL(15,2)'), ...]``."""
        return [(f.name, T.sql_name(f.dtype)) for f in self._plan.schema]

    def print_schema(self) -> None:
        """Print one line per column: name, SQL type, and whether it may be NULL. ``df.print_schema()``."""
        print(self._schema_text())

    def _schema_text(self) -> str:
        lines = ["root"]
        for f in self._plan.schema:
            lines.append(f" |-- {f.name}: {T.sql_name(f.dtype)} (nullable = {str(f.nullable).lower()})")
        return "\n".join(lines)

    def __getitem__(self, item):
        """``df["x"]``: this DataFrame's column ``x`` (unambiguous in joins); ``df[["a", "b"]]`` selects;
        ``df[col("x") > 1]`` filters.

        >>> orders.join(lineitem, orders["o_orderkey"] == lineitem["l_orderkey"])   # doctest: +SKIP
        """
        if isinstance(item, str):
            with _calling("df[...]"):
                if item == "*":
                    return to_column("*")
                return field_column(self._resolve_name(self._ctx("df[...]"), item), self._plan)
        if isinstance(item, (list, tuple)):
            return self.select(*item)
        if isinstance(item, Column):
            return self.filter(item)
        raise QuarryTypeError(f"cannot index a DataFrame with a {type(item).__name__}")

    def col(self, name: str) -> Column:
        """This DataFrame's column ``name``, as ``df[name]``. ``orders.col("o_orderkey")``."""
        return self[name]

    # -- transformations: columns ------------------------------------------------------------

    def select(self, *columns) -> "DataFrame":
        """Compute the given columns: names, ``"*"``, Columns, or SQL text (``"l_quantity * 2 AS q2"``).

        Aggregates without ``group_by`` aggregate the whole frame; window functions
        (``F.rank().over(...)``) are computed before the projection.

        >>> li.select("l_orderkey", (col("l_quantity") * 2).alias("q2"), "l_extendedprice / 2 AS half")  # doctest: +SKIP
        """
        with _calling("select"):
            items = [to_column(c) for c in _flat(columns)]
            ctx = self._ctx("select", allow_aggregates=True, allow_windows=True)
            return self._new(self._projection(ctx, items))

    def select_expr(self, *expressions: str) -> "DataFrame":
        """``select`` of SQL expression texts. ``li.select_expr("l_quantity * 2 AS q2")``."""
        from quarry.api.column import expr
        return self.select(*[expr(e) for e in expressions])

    def with_column(self, name: str, column) -> "DataFrame":
        """Add the column ``name`` (or replace the column of that name, in place).

        >>> li.with_column("disc_price", col("l_extendedprice") * (1 - col("l_discount")))  # doctest: +SKIP
        """
        return self._with_columns("with_column", [(name, column)])

    def with_columns(self, *columns, **named) -> "DataFrame":
        """Add or replace several columns at once: a dict, aliased Columns, or keywords.
        Every new column is computed from the input columns.

        >>> li.with_columns(disc=col("l_discount") * 100, tax=col("l_tax") * 100)   # doctest: +SKIP
        """
        pairs: list[tuple[str | None, object]] = []      # None: the column's own name
        for c in _flat(columns):
            if isinstance(c, dict):
                pairs.extend(c.items())
            elif isinstance(c, (Column, str)):
                pairs.append((None, c))
            else:
                raise QuarryTypeError(f"with_columns: cannot add a {type(c).__name__}",
                                      hint="pass a dict, Columns with alias(...), or name=Column keywords")
        pairs.extend(named.items())
        return self._with_columns("with_columns", pairs)

    def _with_columns(self, method: str, pairs: list[tuple[str | None, object]]) -> "DataFrame":
        with _calling(method):
            ctx = self._ctx(method, allow_windows=True)
            named = []
            for name, c in pairs:
                column = to_column(c)
                name = column.name_in(ctx) if name is None else name
                if not isinstance(name, str) or not name:
                    raise BindError("the new column's name must be a non-empty string")
                named.append((name, column))
            new = {name.lower(): column.alias(name) for name, column in named}
            items: list = []
            for f in self._plan.schema:
                key = f.name.lower()
                if key in new:
                    items.append(new.pop(key))
                else:
                    items.append(f)
            items.extend(new.values())
            return self._new(self._projection(ctx, items))

    def drop(self, *columns) -> "DataFrame":
        """Remove columns (names or plain Columns).

        >>> li.drop("l_comment", "l_shipinstruct")                                   # doctest: +SKIP
        """
        with _calling("drop"):
            ctx = self._ctx("drop")
            gone = {self._resolve_name(ctx, c).id for c in _flat(columns)}
            kept = [f for f in self._plan.schema if f.id not in gone]
            if not kept:
                raise BindError("cannot drop every column", hint="keep at least one column")
            return self._new(Project(self._plan, tuple(ColumnRef(f) for f in kept), tuple(kept)))

    def rename(self, mapping=None, new: str | None = None, /, **names) -> "DataFrame":
        """Rename columns: ``rename({"old": "new"})``, ``rename("old", "new")`` or ``rename(old="new")``.

        >>> li.rename({"l_quantity": "qty"})                                          # doctest: +SKIP
        """
        with _calling("rename"):
            if isinstance(mapping, str):
                if new is None:
                    raise BindError("rename(old, new) needs the new name")
                mapping = {mapping: new}
            mapping = dict(mapping or {})
            mapping.update(names)
            ctx = self._ctx("rename")
            targets = {}
            for old, new_name in mapping.items():
                if not isinstance(new_name, str) or not new_name:
                    raise BindError(f"the new name of `{old}` must be a non-empty string")
                targets[self._resolve_name(ctx, old).id] = new_name
            exprs, fields = [], []
            for f in self._plan.schema:
                exprs.append(ColumnRef(f))
                fields.append(Field(targets[f.id], f.dtype, f.nullable, new_id(), f.qualifier)
                              if f.id in targets else f)
            return self._new(Project(self._plan, tuple(exprs), tuple(fields)))

    with_column_renamed = rename

    def alias(self, name: str) -> "DataFrame":
        """Name this DataFrame, so ``col("name.column")`` picks its columns (self-joins).

        >>> n1, n2 = nation.alias("n1"), nation.alias("n2")                        # doctest: +SKIP
        >>> n1.join(n2, col("n1.n_regionkey") == col("n2.n_regionkey"))            # doctest: +SKIP
        """
        with _calling("alias"):
            if not isinstance(name, str) or not name:
                raise BindError("the alias must be a non-empty string")
            plan = self._plan
            if isinstance(plan, Scan):
                # as SQL's `FROM nation n1`: the scan itself carries the name
                fields = tuple(f.renamed(f.name, name) for f in plan.table_fields)
                return self._new(Scan(plan.source, fields, plan.projection, plan.filters, name))
            fields = tuple(Field(f.name, f.dtype, f.nullable, new_id(), name) for f in plan.schema)
            remap = dict(self._remap)
            remap.update({old.id: new for old, new in zip(plan.schema, fields)})
            return self._new(Project(plan, tuple(ColumnRef(f) for f in plan.schema), fields), remap)

    # -- transformations: rows ---------------------------------------------------------------

    def filter(self, condition) -> "DataFrame":
        """Keep the rows where ``condition`` is TRUE: a Column or SQL text.

        >>> li.filter((col("l_quantity") < 24) & (col("l_discount").between(0.05, 0.07)))  # doctest: +SKIP
        >>> li.filter("l_shipdate <= date '1998-09-02'")                                  # doctest: +SKIP
        """
        with _calling("filter"):
            ctx = self._ctx("filter")
            predicate = B.condition(to_condition(condition).bind(ctx), "the condition")
            return self._new(Filter(self._plan, predicate))

    where = filter

    def sort(self, *columns, ascending=None) -> "DataFrame":
        """Order rows by columns: names, Columns with ``.desc()``/``.asc_nulls_first()``, or ``"x desc"``.

        ``ascending`` (a bool or one per column) overrides the direction. NULLs sort last
        unless asked otherwise, as in quarry's SQL.

        >>> q.sort(col("revenue").desc(), "o_orderdate")                               # doctest: +SKIP
        """
        with _calling("sort"):
            cols = [to_sort_column(c) for c in _flat(columns)]
            if not cols:
                raise BindError("give at least one column to sort by")
            if ascending is not None:
                flags = list(ascending) if isinstance(ascending, (list, tuple)) else [ascending] * len(cols)
                if len(flags) != len(cols):
                    raise BindError(f"{len(flags)} ascending flags for {len(cols)} columns")
                cols = [c._copy(sort=(bool(a), c._sort[1] if c._sort else False)) for c, a in zip(cols, flags)]
            ctx = self._ctx("sort")
            return self._new(Sort(self._plan, tuple(c.sort_key(ctx) for c in cols)))

    order_by = sort

    def limit(self, n: int) -> "DataFrame":
        """Keep the first ``n`` rows. ``df.sort("x").limit(10)``."""
        with _calling("limit"):
            n = _count_arg(n, "limit")
            plan = self._plan
            if isinstance(plan, Limit) and plan.percent is None:
                # offset(k).limit(n) is SQL's LIMIT n OFFSET k
                limit = n if plan.limit is None else min(n, plan.limit)
                return self._new(Limit(plan.input, limit, plan.offset))
            return self._new(Limit(plan, n, 0))

    def offset(self, n: int) -> "DataFrame":
        """Skip the first ``n`` rows. ``df.sort("x").offset(20).limit(10)``."""
        with _calling("offset"):
            n = _count_arg(n, "offset")
            plan = self._plan
            if isinstance(plan, Limit) and plan.percent is None:
                limit = None if plan.limit is None else max(plan.limit - n, 0)
                return self._new(Limit(plan.input, limit, plan.offset + n))
            return self._new(Limit(plan, None, n))

    def distinct(self) -> "DataFrame":
        """Remove duplicate rows (NULLs equal each other). ``df.select("o_custkey").distinct()``."""
        with _calling("distinct"):
            return self._new(B.distinct(self._plan))

    def drop_duplicates(self, subset=None) -> "DataFrame":
        """Keep one row per distinct value of ``subset`` (all columns when None); which row is kept is arbitrary.

        >>> orders.drop_duplicates(["o_custkey"])                                       # doctest: +SKIP
        """
        if subset is None:
            return self.distinct()
        with _calling("drop_duplicates"):
            ctx = self._ctx("drop_duplicates")
            keys = [self._resolve_name(ctx, c) for c in _flat([subset])]
            if not keys:
                return self.distinct()
            number = WindowCall(FN.call("row_number", []), tuple(ColumnRef(f) for f in keys), (),
                                WindowFrame("rows", None, None))
            rn = Field("row_number()", T.INT64, False, new_id())
            plan = Window(self._plan, (number,), (rn,))
            plan = Filter(plan, FN.call("equal", [ColumnRef(rn), FN.lit(1)]))
            out = self._plan.schema
            return self._new(Project(plan, tuple(ColumnRef(f) for f in out), tuple(out)))

    def sample(self, fraction: float, seed: int | None = None) -> "DataFrame":
        """Keep each row with probability ``fraction`` (a Bernoulli sample; the result size varies).

        >>> li.sample(0.01).count()                                                      # doctest: +SKIP
        """
        with _calling("sample"):
            if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
                raise QuarryTypeError(f"the fraction must be a number between 0 and 1, got {fraction!r}")
            if seed is not None:
                raise UnsupportedError("a seeded sample is not supported yet",
                                       hint="the function registry has no seeded random(); call sample(fraction)")
            predicate = FN.call("less", [FN.call("random", []), FN.lit(float(fraction))])
            return self._new(Filter(self._plan, predicate))

    # -- aggregation -------------------------------------------------------------------------

    def group_by(self, *columns) -> "GroupedData":
        """Group rows by columns (names, Columns, SQL text); aggregate with ``.agg(...)``.

        >>> li.group_by("l_returnflag", "l_linestatus").agg(F.sum("l_quantity").alias("sum_qty"))  # doctest: +SKIP
        """
        with _calling("group_by"):
            keys = [to_column(c) for c in _flat(columns)]
            ctx = self._ctx("group_by")
            for k in keys:          # resolve now, so a misspelt key fails here
                k.bind(ctx)
            return GroupedData(self, keys)

    groupby = group_by

    def map_batches(self, fn, *, schema, kind: str = "arrow") -> "DataFrame":
        """Rows of ``fn`` applied to each batch of this frame, in the worker processes (docs/udf.md).

        ``fn`` gets a ``pa.RecordBatch`` (``kind="arrow"``) or a pandas DataFrame (``kind="pandas"``)
        and returns rows with the columns of ``schema`` (a DDL string or ``pa.Schema``). Batches are
        of any size, in any order: ``fn`` must treat rows independently.

        >>> li.map_batches(lambda b: b.filter(pc.greater(b["l_quantity"], 45)), schema=li.schema)  # doctest: +SKIP
        """
        from quarry.api.udf import map_batches_plan
        with _calling("map_batches"):
            return self._new(map_batches_plan(self, fn, schema, kind))

    def agg(self, *columns, **named) -> "DataFrame":
        """Aggregate the whole frame into one row. ``li.agg(F.sum("l_quantity").alias("q"), n=F.count())``."""
        return GroupedData(self, [], method="agg").agg(*columns, **named)

    # -- joins -------------------------------------------------------------------------------

    def join(self, other: "DataFrame", on=None, how: str = "inner") -> "DataFrame":
        """Join with ``other``.

        ``on`` is a column name or list of names present on both sides (an equi-join whose
        output has each such column once: the left one, the right one for a right join, and
        their coalesce for a full join), or a boolean Column / SQL text / list of those
        (ANDed). ``how``: inner, left, right, full, semi, anti or cross (also Spark's
        spellings such as ``left_outer``, ``left_semi``, ``outer``). semi and anti output only
        the left columns.

        >>> orders.join(lineitem, col("o_orderkey") == col("l_orderkey"))             # doctest: +SKIP
        >>> customer.join(orders, "c_custkey == o_custkey", how="left")                # doctest: +SKIP
        >>> a.join(b, on="id", how="full")                                             # doctest: +SKIP
        """
        with _calling("join"):
            if not isinstance(other, DataFrame):
                raise QuarryTypeError(f"can only join a DataFrame, got a {type(other).__name__}")
            self._same_session(other)
            kind = _JOIN_KINDS.get(str(how).lower().replace(" ", "_"))
            if kind is None:
                raise BindError(f"unknown join type `{how}`",
                                hint=suggest(str(how), _JOIN_KINDS) or "use inner, left, right, full, semi, anti or cross")
            left = self._plan
            right, remap, owners = self._distinct_ids(other)
            if on is None or (isinstance(on, (list, tuple)) and not on):
                if kind not in ("inner", "cross"):
                    raise BindError(f"a {kind} join needs `on`", hint="join(other, on=col('a') == col('b'), how=...)")
                return self._new(Join(left, right, "cross"), remap)
            if kind == "cross":
                raise BindError("a cross join takes no `on`", hint="use how='inner' to join on a condition")
            items = _flat([on])
            lctx = self._ctx("join")
            # a string is a key name when it is a plain name or exactly a column of the left side
            names = [i for i in items if isinstance(i, str) and (_SIMPLE_NAME.match(i) or lctx.column_named(i))]
            if names and len(names) != len(items):
                raise BindError("`on` mixes column names and conditions",
                                hint="pass either names (on=['a', 'b']) or conditions (on=col('a') == col('b'))")
            if names:
                return self._join_using(left, right, remap, names, kind)
            ctx = BindContext(self._session, left.schema + right.schema, "join", remap=remap, owners=owners)
            parts = [B.condition(to_condition(item).bind(ctx), "the join condition") for item in items]
            return self._new(Join(left, right, kind, and_all(parts)), remap)

    def cross_join(self, other: "DataFrame") -> "DataFrame":
        """Every pair of rows. ``nation.cross_join(region)``."""
        return self.join(other, how="cross")

    def _same_session(self, other: "DataFrame") -> None:
        if other._session is not self._session:
            raise BindError("the two DataFrames belong to different sessions",
                            hint="build both from the same quarry.connect() session")

    def _distinct_ids(self, other: "DataFrame") -> tuple[LogicalPlan, dict, tuple]:
        """``other``'s plan, copied with new column ids if it shares any with this one (a self-join);
        the id mapping, and which mapping ``df["x"]`` Columns of each input follow."""
        from quarry.logical.plan_copy import fresh_copy
        remap = dict(self._remap)
        remap.update(other._remap)
        right = other._plan
        copied: dict = {}
        if produced_ids(self._plan) & produced_ids(right):
            copy = fresh_copy(right)
            copied = {old.id: new for old, new in zip(right.schema, copy.schema)}
            remap.update(copied)
            right = copy
        return right, remap, ((self._plan, {}), (other._plan, copied))

    def _join_using(self, left: LogicalPlan, right: LogicalPlan, remap: dict, names: list[str], kind: str):
        """``join(other, on=["k", ...])``: SQL's ``JOIN ... USING``, with the very output shape SQL gives
        (the plan builder's :func:`~quarry.logical.builder.join_using`)."""
        lctx = BindContext(self._session, left.schema, "join", remap=remap)
        rctx = BindContext(self._session, right.schema, "join", remap=remap)
        keys = []
        for name in names:
            sides = []
            for side, ctx in (("left", lctx), ("right", rctx)):
                try:
                    sides.append(ctx.resolve(name))
                except UnknownColumnError as err:
                    raise BindError(f"column `{name}` does not exist on the {side} side", hint=err.hint,
                                    subject=name) from None
            keys.append((name, sides[0], sides[1]))
        return self._new(B.join_using(left, right, kind, keys).output(), remap)

    # -- set operations ----------------------------------------------------------------------

    def _set_operation(self, method: str, op: str, other: "DataFrame", all_rows: bool) -> "DataFrame":
        with _calling(method):
            if not isinstance(other, DataFrame):
                raise QuarryTypeError(f"{method} takes a DataFrame, got a {type(other).__name__}")
            self._same_session(other)
            right, _, _ = self._distinct_ids(other)
            return self._new(B.set_operation(op, self._plan, right, all=all_rows))

    def union(self, other: "DataFrame") -> "DataFrame":
        """All rows of both, matched by position, duplicates kept (SQL's UNION ALL, like Spark's union).

        >>> jan.union(feb)                                                               # doctest: +SKIP
        >>> jan.union(feb).distinct()          # SQL's UNION                             # doctest: +SKIP
        """
        return self._set_operation("union", "union", other, True)

    union_all = union

    def union_by_name(self, other: "DataFrame", allow_missing_columns: bool = False) -> "DataFrame":
        """``union`` matching columns by name; with ``allow_missing_columns`` a column on one side only is NULL
        on the other.

        >>> a.union_by_name(b.select("y", "x"))                                          # doctest: +SKIP
        """
        with _calling("union_by_name"):
            if not isinstance(other, DataFrame):
                raise QuarryTypeError(f"union_by_name takes a DataFrame, got a {type(other).__name__}")
            left_names = [f.name for f in self._plan.schema]
            right_names = [f.name for f in other._plan.schema]
            lower_left = {n.lower() for n in left_names}
            lower_right = {n.lower() for n in right_names}
            missing_right = [n for n in left_names if n.lower() not in lower_right]
            missing_left = [n for n in right_names if n.lower() not in lower_left]
            if (missing_left or missing_right) and not allow_missing_columns:
                side, name = ("right", missing_right[0]) if missing_right else ("left", missing_left[0])
                raise BindError(f"column `{name}` is missing on the {side} side",
                                hint="pass allow_missing_columns=True to fill it with NULLs")
            order = left_names + missing_left
            left = self._padded(order, other)
            right = other._padded(order, self)
            return left.union(right)

    def _padded(self, order: list[str], other: "DataFrame") -> "DataFrame":
        """This frame's columns in ``order``, NULL (typed as in ``other``) for those it lacks."""
        by_name = {f.name.lower(): f for f in self._plan.schema}
        others = {f.name.lower(): f for f in other._plan.schema}
        if [f.name.lower() for f in self._plan.schema] == [n.lower() for n in order]:
            return self
        from quarry.api.column import lit
        items = []
        for name in order:
            f = by_name.get(name.lower())
            items.append(f if f is not None else lit(None, others[name.lower()].dtype).alias(name))
        return self._new(self._projection(self._ctx("union_by_name"), items))

    def intersect(self, other: "DataFrame") -> "DataFrame":
        """Distinct rows present in both (SQL's INTERSECT). ``a.intersect(b)``."""
        return self._set_operation("intersect", "intersect", other, False)

    def intersect_all(self, other: "DataFrame") -> "DataFrame":
        """Rows present in both, as many times as in both (INTERSECT ALL). ``a.intersect_all(b)``."""
        return self._set_operation("intersect_all", "intersect", other, True)

    def except_(self, other: "DataFrame") -> "DataFrame":
        """Distinct rows of this frame that are not in ``other`` (SQL's EXCEPT). ``a.except_(b)``."""
        return self._set_operation("except_", "except", other, False)

    subtract = except_

    def except_all(self, other: "DataFrame") -> "DataFrame":
        """Rows of this frame minus as many copies in ``other`` (EXCEPT ALL). ``a.except_all(b)``."""
        return self._set_operation("except_all", "except", other, True)

    # -- actions ------------------------------------------------------------------------------

    def to_arrow(self) -> pa.Table:
        """Run the query; the result as a ``pyarrow.Table``. ``df.to_arrow().num_rows``."""
        return self._session.run(self._plan).table

    def to_pandas(self):
        """Run the query; the result as a pandas DataFrame. ``df.to_pandas().head()``."""
        return self.to_arrow().to_pandas()

    def to_polars(self):
        """Run the query; the result as a polars DataFrame (needs polars installed). ``df.to_polars()``.

        ``polars.DataFrame(df)`` does the same through the Arrow stream; ``polars.from_arrow(df)``
        does not: polars gives a Series (of structs) for any Arrow stream that is not pyarrow's.
        """
        try:
            import polars
        except ImportError:
            raise UnsupportedError("to_polars() needs polars, which is not installed",
                                   hint="pip install polars, or use to_arrow() / to_pandas()") from None
        return polars.from_arrow(self.to_arrow())

    def to_pylist(self) -> list[dict]:
        """Run the query; rows as dictionaries. ``df.to_pylist()[0]["l_quantity"]``."""
        return self.to_arrow().to_pylist()

    def collect(self) -> list[dict]:
        """Run the query; rows as dictionaries (same as ``to_pylist``). ``df.collect()``."""
        return self.to_pylist()

    def to_pydict(self) -> dict[str, list]:
        """Run the query; a dict of column name to list of values. ``df.to_pydict()["x"]``."""
        return self.to_arrow().to_pydict()

    def count(self) -> int:
        """Run a count of the rows. ``li.filter("l_quantity < 24").count()``."""
        star = FN.agg("count", [])
        plan = Aggregate(self._plan, (), (), (star,), (Field(str(star), T.INT64, False, new_id()),))
        table = self._session.run(plan).table
        return int(table.column(0)[0].as_py())

    def head(self, n: int = 5) -> list[dict]:
        """Run the query for its first ``n`` rows, as dictionaries. ``df.sort("x").head(3)``."""
        return self.limit(n).to_pylist()

    take = head

    def first(self) -> dict | None:
        """The first row as a dict, or None when there are no rows. ``df.sort("x").first()``."""
        rows = self.head(1)
        return rows[0] if rows else None

    def show(self, n: int = 20) -> None:
        """Print the first ``n`` rows as a table, with column types. ``df.show(5)``."""
        print(self._show_text(n))

    def _show_text(self, n: int = 20, max_width: int | None = None) -> str:
        from quarry.display import format_table
        n = _count_arg(n, "show")
        table = self.limit(n + 1).to_arrow()
        more = table.num_rows > n
        text = format_table(table.slice(0, n), max_rows=0, max_width=max_width)
        if more:
            lines = text.splitlines()
            lines[-1] = f"showing the first {n} row{'s' if n != 1 else ''}"
            text = "\n".join(lines)
        return text

    def cancel(self) -> None:
        """Cancel this DataFrame's queries that are running now (from another thread): they raise
        'query cancelled', their tasks stop and their shuffle files are removed.

        >>> threading.Timer(5, df.cancel).start(); df.to_arrow()          # doctest: +SKIP
        """
        self._session.cancel(origin=self._plan)

    def explain(self, mode: str = "plan") -> None:
        """Print the plan: ``"plan"`` (optimized logical + physical), ``"logical"`` (as built, before the
        optimizer), ``"verbose"`` (after every rule) or ``"analyze"`` (run it and show per-operator metrics).

        >>> q1.explain("verbose")                                                       # doctest: +SKIP
        """
        print(self.explain_string(mode))

    def explain_string(self, mode: str = "plan") -> str:
        """The text ``explain`` prints. ``"Cached" in df.cache().explain_string()``."""
        from quarry.sql.commands import explain_text
        return explain_text(self._session, self._plan, mode)

    def cache(self) -> "DataFrame":
        """Run the query now and keep the result in memory; later queries on this DataFrame (and on
        DataFrames built from it) read the kept rows. Shows as ``Cached`` in EXPLAIN. Returns ``self``.

        >>> big = li.filter("l_quantity > 45").cache()                                   # doctest: +SKIP
        >>> big.count(); big.group_by("l_returnflag").agg(F.count()).show()              # doctest: +SKIP
        """
        if isinstance(self._plan, Cached):
            return self
        fields = self._plan.schema
        table = self._session.run(self._plan).table
        stored = pa.Table.from_arrays(table.columns, names=[f.key for f in fields])
        self._uncached = self._plan
        # the same fields (same ids): Columns taken with df["x"] before caching still resolve
        self._plan = Cached(stored, fields, "cache")
        if self._session.ui_recorder is not None:              # the web UI's storage page lists it
            self._session.ui_recorder.cached(self, stored)
        return self

    persist = cache

    def unpersist(self) -> "DataFrame":
        """Drop the rows kept by ``cache()``; the DataFrame runs its query again. ``df.unpersist()``."""
        if self._uncached is not None:
            self._plan, self._uncached = self._uncached, None
            if self._session.ui_recorder is not None:
                self._session.ui_recorder.uncached(self)
        return self

    def write_parquet(self, path: str, partition_by=None, *, compression: str = "snappy") -> int:
        """Run the query and write Parquet: one file at ``path``, or with ``partition_by`` a directory of
        hive folders (``path/l_returnflag=A/...``) that ``con.read_parquet(path)`` reads back. Returns the
        number of rows written.

        Batches are written as the query produces them, and the file (or each partition folder)
        replaces the old one only once complete.

        >>> li.write_parquet("out/lineitem", partition_by=["l_returnflag"])               # doctest: +SKIP
        """
        from quarry.catalog.writer import write_file, write_partitioned
        with _calling("write_parquet"), self._session.using_storage():
            self._session.check_write_allowed(os.fspath(path))
            batches = self._session.run_batches(self._plan)
            if partition_by is None:
                return write_file(path, self.schema, batches, "parquet", compression=compression)
            ctx = self._ctx("write_parquet")
            keys = [self._resolve_name(ctx, c).name for c in _flat([partition_by])]
            return write_partitioned(path, self.schema, batches, keys, compression=compression)

    def write_delta(self, path: str, *, mode: str = "error", partition_by=None, schema_mode: str | None = None) -> int:
        """Run the query and commit its rows to the Delta table at ``path`` (local or ``s3://``), streaming
        batches into deltalake's writer; ``mode`` is ``"append"``, ``"overwrite"``, ``"error"`` (the default:
        the table must not exist) or ``"ignore"``; ``schema_mode="merge"`` adds new columns. Returns the
        number of rows written.

        >>> daily.write_delta("warehouse/daily", mode="append", partition_by=["day"])        # doctest: +SKIP
        """
        from quarry.catalog.delta import write_delta
        with _calling("write_delta"), self._session.using_storage():
            self._session.check_write_allowed(os.fspath(path))
            keys = None
            if partition_by is not None:
                ctx = self._ctx("write_delta")
                keys = [self._resolve_name(ctx, c).name for c in _flat([partition_by])]
            return write_delta(path, self.schema, self._session.run_batches(self._plan), mode=mode,
                               partition_by=keys, schema_mode=schema_mode)

    def write_csv(self, path: str, *, header: bool = True, delimiter: str = ",", quoting: str = "rfc4180") -> int:
        """Run the query and write one CSV file (NULL is an empty field; a name ending in ``.gz`` is
        gzipped); returns the number of rows written. ``df.write_csv("out/q1.csv")``. ``quoting``:
        ``"rfc4180"`` quotes every string, doubling a quote; ``"spark"`` writes as Spark's CSV writer
        (values trimmed, quoted only when needed, a quote escaped as ``\\"``)."""
        from quarry.catalog.writer import write_file
        with _calling("write_csv"), self._session.using_storage():
            self._session.check_write_allowed(os.fspath(path))
            return write_file(path, self.schema, self._session.run_batches(self._plan), "csv", header=header,
                              delimiter=delimiter, quoting=quoting)

    def create_view(self, name: str, replace: bool = True) -> None:
        """Make this DataFrame queryable from SQL as ``name``.

        >>> q1.create_view("q1"); con.sql("SELECT * FROM q1 WHERE sum_qty > 0")        # doctest: +SKIP
        """
        from quarry.catalog.providers import ViewTable
        from quarry.logical.plan_copy import fresh_copy
        plan = self._plan
        view = ViewTable(name, lambda: fresh_copy(plan), self.schema)
        self._session.catalog.register(name, view, replace=replace)

    # -- interop and display ------------------------------------------------------------------

    def __arrow_c_stream__(self, requested_schema=None):
        """The Arrow PyCapsule stream of the result: record batches of :attr:`schema`. So ``pa.table(df)``,
        ``polars.DataFrame(df)``, ``pandas.DataFrame.from_arrow(df)`` and ``duckdb.sql("select * from df")``
        read a DataFrame directly. Runs the query.

        >>> pa.table(df)                                                                  # doctest: +SKIP
        """
        return self.to_arrow().__arrow_c_stream__(requested_schema)

    def __repr__(self) -> str:
        cols = ", ".join(f"{f.name}: {T.sql_name(f.dtype)}" for f in self._plan.schema)
        return f"DataFrame[{cols}]"

    def _repr_html_(self, max_rows: int = 10) -> str:
        """An HTML table of the first rows, for notebooks (runs the query for ``max_rows + 1`` rows)."""
        from quarry.display import format_value
        table = self.limit(max_rows + 1).to_arrow()
        more = table.num_rows > max_rows
        table = table.slice(0, max_rows)
        head = "".join(f"<th>{html.escape(f.name)}<br><small>{html.escape(T.sql_name(f.dtype))}</small></th>"
                       for f in self._plan.schema)
        body = []
        for row in zip(*(c.to_pylist() for c in table.columns)) if table.num_columns else []:
            cells = "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row)
            body.append(f"<tr>{cells}</tr>")
        footer = f"first {max_rows} rows" if more else f"{table.num_rows} row{'s' if table.num_rows != 1 else ''}"
        return (f'<table class="quarry-dataframe"><thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table><p>{footer}</p>")


class GroupedData:
    """Rows grouped by keys, waiting for ``agg(...)``. Made by ``DataFrame.group_by``.

    >>> li.group_by("l_returnflag").agg(F.sum("l_quantity").alias("q"), n=F.count())   # doctest: +SKIP
    """

    def __init__(self, df: DataFrame, keys: list[Column], method: str = "agg"):
        self._df = df
        self._keys = keys
        self._method = method

    def agg(self, *columns, **named) -> DataFrame:
        """Aggregate each group: output is the group keys, then one column per aggregate.

        Takes aggregate Columns (``F.sum("x").alias("s")``), SQL text (``"sum(x) AS s"``),
        ``name=Column`` keywords, or a dict ``{"x": "max"}`` (column to function name).

        >>> li.group_by("l_returnflag").agg(F.avg("l_discount").alias("avg_disc"))   # doctest: +SKIP
        """
        with _calling(self._method):
            items: list[Column] = []
            for c in _flat(columns):
                if isinstance(c, dict):
                    from quarry.api.functions import call_function
                    items.extend(call_function(fn, name).alias(f"{fn}({name})") for name, fn in c.items())
                else:
                    items.append(to_column(c))
            items.extend(to_column(c, literal_strings=not isinstance(c, str)).alias(name)
                         for name, c in named.items())
            if not items:
                raise BindError("give at least one aggregate", hint="agg(F.count().alias('n'))")
            ctx = self._df._ctx(self._method, allow_aggregates=True, allow_windows=True)
            plan = self._df._projection(ctx, list(self._keys) + items, group_keys=list(self._keys))
            return self._df._new(plan)

    def apply(self, fn, *, schema, kind: str = "pandas") -> DataFrame:
        """Grouped map: ``fn`` gets each group's rows, whole (a pandas DataFrame, or a pyarrow Table
        for ``kind="arrow"``), and returns rows with the columns of ``schema`` (docs/udf.md).

        >>> li.group_by("l_suppkey").apply(fit, schema="l_suppkey bigint, slope double")   # doctest: +SKIP
        """
        from quarry.api.udf import apply_plan
        with _calling("apply"):
            return self._df._new(apply_plan(self, fn, schema, kind))

    def count(self) -> DataFrame:
        """Rows per group, in a column ``count``. ``orders.group_by("o_orderpriority").count()``."""
        from quarry.api.functions import count
        return self.agg(count().alias("count"))

    def _each(self, fn_name: str, columns) -> DataFrame:
        from quarry.api.functions import call_function
        return self.agg(*[call_function(fn_name, c) for c in _flat(columns)])

    def sum(self, *columns) -> DataFrame:
        """``sum`` of each column per group. ``li.group_by("l_returnflag").sum("l_quantity")``."""
        return self._each("sum", columns)

    def avg(self, *columns) -> DataFrame:
        """``avg`` of each column per group. ``li.group_by("l_returnflag").avg("l_discount")``."""
        return self._each("avg", columns)

    mean = avg

    def min(self, *columns) -> DataFrame:
        """``min`` of each column per group. ``li.group_by("l_returnflag").min("l_shipdate")``."""
        return self._each("min", columns)

    def max(self, *columns) -> DataFrame:
        """``max`` of each column per group. ``li.group_by("l_returnflag").max("l_shipdate")``."""
        return self._each("max", columns)


def _count_arg(n, method: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise QuarryTypeError(f"expected a non-negative integer, got {n!r}")
    return n
