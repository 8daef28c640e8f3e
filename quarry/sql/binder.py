"""Bind a parsed SQL query (sqlglot AST) into a resolved, typed logical plan.

This is where a query's meaning is established: every name is resolved against
the catalog and the enclosing scopes, every expression typed, aggregates split
from their grouping keys, window functions lifted into a Window node, and ORDER
BY items that are not selected carried as hidden columns. Binding and analysis
are one pass here (as DataFusion's SQL planner does) because the plan it emits
is already resolved; the optimizer never changes what it means.

The binder resolves and types; the plan nodes themselves come from
:mod:`quarry.logical.builder`, the builder the DataFrame API uses too, so both
front ends give the same query the same plan.
"""

from __future__ import annotations

import os
import re

import pyarrow as pa
from sqlglot import exp

from quarry.catalog.information_schema import INFORMATION_SCHEMA
from quarry.catalog.filesystems import is_remote
from quarry.catalog.providers import (
    ParquetTable, MemoryTable, ViewTable, provider_for, read_csv_table, read_json_table,
)
from quarry.sql.table_formats import bind_table_format_scan, is_table_format_scan
from quarry.errors import BindError, QuarryError, UnknownSchemaError, UnsupportedError, suggest
from quarry.logical import builder as B
from quarry.logical import functions as F
from quarry.logical import types as T
from quarry.logical.builder import output_fields, scan_of
from quarry.logical.expressions import (
    AggCall, Call, ColumnRef, Expr, Field, Literal, SortKey, WindowCall, WindowFrame, new_id,
)
from quarry.logical.plan import (
    Filter, Join, Limit, LogicalPlan, Project, Scan, Sort, Values, Window, outer_references, produced_ids,
)
from quarry.sql.expr_binder import ExprBinder, node_position
from quarry.sql.guard import refuse_unread_args
from quarry.sql.parameters import parameter_literal, plain_batch, plain_scalar
from quarry.sql.scope import Relation, Scope
from quarry.sql.recursive import WorkingTable, recursive_rows, references
from quarry.sql.rowid import ROWID, add_rowid, mentions_rowid, numbers_rows
from quarry.sql.series import series_scan
from quarry.sql.settings import sort_direction


_DATA_EXTENSIONS = (".parquet", ".pq", ".csv", ".tsv", ".tab", ".csv.gz", ".json", ".jsonl", ".ndjson")


def _option_flag(node: exp.Expression) -> bool:
    """A table function's boolean option: ``true``, ``1``, ``'yes'`` ... are true."""
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    return str(node.name).lower() in ("true", "1", "yes", "t", "on")


def _is_all(node: exp.Expression) -> bool:
    """Whether an ORDER BY item is the keyword ALL (``ORDER BY ALL``)."""
    return isinstance(node, exp.Var) and node.name.upper() == "ALL"


from quarry.sql.names import output_name  # noqa: E402  (the name DuckDB gives a select item)


# the table functions that read files (the sandbox checks their paths); others in FROM are refused by name
_FILE_TABLE_FUNCTIONS = {"readparquet", "read_parquet", "parquet_scan", "read_json", "read_json_auto", "read_ndjson",
                         "read_ndjson_auto", "readjson", "readcsv", "read_csv", "read_csv_auto"}



# the meta key of a select item a front end builds whose columns depend on types (see Binder._typed_items)
TYPED_ITEMS = "quarry_typed_items"

class Binder:
    """Binds queries for one session; ``sql`` is the statement text, for error positions."""

    def __init__(self, session, sql: str | None = None, parameters=None):
        self.session = session
        self.catalog = session.catalog
        self.sql = sql
        # values of the `$n` placeholders (a prepared statement's bound row), None when there are none
        self.parameters = tuple(parameters) if parameters is not None else None
        self._parameter_fields: tuple[Field, ...] | None = None     # set while binding a parameter batch

    # ------------------------------------------------------------------ entry points

    def bind_statement_query(self, node: exp.Expression) -> LogicalPlan:
        """Bind a top-level query."""
        return self.bind_query(node, Scope())

    def bind_subquery(self, node: exp.Expression, scope: Scope) -> LogicalPlan:
        """Bind a subquery that may reference ``scope`` (correlation)."""
        return self.bind_query(node, scope.child())

    def _error_at(self, err: QuarryError, node) -> QuarryError:
        line, col = node_position(node, self.sql)
        return err.with_position(self.sql, line, col)

    def check(self, node: exp.Expression | None) -> None:
        """Refuse any argument of ``node`` the binder does not implement (see :mod:`quarry.sql.guard`)."""
        if node is not None:
            refuse_unread_args(node, self._error_at)

    def bind_query(self, node: exp.Expression, scope: Scope) -> LogicalPlan:
        """Bind SELECT / set operation / VALUES / parenthesized query in ``scope``."""
        self.check(node)
        with_ = node.args.get("with_") or node.args.get("with")
        if with_ is not None:
            self.check(with_)
            for cte in with_.expressions:
                self.check(cte)
                name = cte.alias_or_name.lower()
                if with_.args.get("recursive") and references(cte.this, name):
                    cte.meta["recursive"] = True
                scope.ctes[name] = (cte, dict(scope.ctes))
        if isinstance(node, exp.Subquery):
            plan = self.bind_query(node.this, scope)
            return self._apply_order_limit(node, plan, scope)
        if isinstance(node, exp.Select):
            return self.bind_select(node, scope)
        if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
            return self.bind_set_operation(node, scope)
        if isinstance(node, exp.Values):
            return self.bind_values(node, scope)
        raise self._error_at(UnsupportedError(f"`{node.key.upper()}` is not a query"), node)

    # ------------------------------------------------------------------ set operations

    def bind_set_operation(self, node, scope: Scope) -> LogicalPlan:
        left = self.bind_query(node.this, Scope(parent=scope.parent, ctes=dict(scope.ctes)))
        right = self.bind_query(node.expression, Scope(parent=scope.parent, ctes=dict(scope.ctes)))
        op = "union" if isinstance(node, exp.Union) else "intersect" if isinstance(node, exp.Intersect) else "except"
        try:
            if node.args.get("by_name"):
                left, right = B.align_by_name(left, right)
            plan = B.set_operation(op, left, right, all=not node.args.get("distinct"))
        except QuarryError as err:
            raise self._error_at(err, node)
        return self._apply_order_limit(node, plan, scope)

    def _apply_order_limit(self, node, plan: LogicalPlan, scope: Scope) -> LogicalPlan:
        """ORDER BY / LIMIT attached to a set operation or parenthesized query: by output column."""
        order = node.args.get("order")
        if order is not None:
            self.check(order)
            out_scope = Scope(relations=[Relation(None, list(plan.schema))], parent=scope.parent)
            eb = ExprBinder(self, out_scope)
            keys = []
            for o in order.expressions:
                self.check(o)
                target = o.this
                asc, nf = sort_direction(self.session, o)
                if _is_all(target):
                    keys.extend(SortKey(ColumnRef(f), asc, nf) for f in plan.schema)
                elif isinstance(target, exp.Literal) and not target.is_string:
                    idx = int(target.this)
                    if not 1 <= idx <= len(plan.schema):
                        raise self._error_at(BindError(f"ORDER BY position {idx} is out of range"), o)
                    keys.append(SortKey(ColumnRef(plan.schema[idx - 1]), asc, nf))
                else:
                    keys.append(eb.bind_sort_key(o))
            B.refuse_nested_sort_keys(keys)
            plan = Sort(plan, tuple(keys))
        return self._apply_limit(node, plan)

    def _apply_limit(self, node, plan: LogicalPlan) -> LogicalPlan:
        limit = node.args.get("limit")
        offset = node.args.get("offset")
        if limit is None and offset is None:
            return plan
        self.check(limit)
        self.check(offset)
        options = limit.args.get("limit_options") if limit is not None else None
        self.check(options)
        if isinstance(limit, exp.Fetch):
            if options is not None and options.args.get("percent"):
                raise self._error_at(UnsupportedError("FETCH ... PERCENT is not supported",
                                                      hint="use LIMIT n PERCENT"), limit)
            n = self._constant_int(limit.args.get("count"), "FETCH FIRST") if limit.args.get("count") else 1
            k = self._constant_int(offset.expression if offset is not None else None, "OFFSET") or 0
            return Limit(plan, n, k)
        k = self._constant_int(offset.expression if offset is not None else None, "OFFSET") or 0
        if options is not None and options.args.get("percent"):
            return Limit(plan, None, k, self._percent(limit.expression))
        n = self._constant_int(limit.expression if limit is not None else None, "LIMIT")
        return Limit(plan, n, k)

    def _percent(self, node) -> float:
        """The constant of ``LIMIT p PERCENT``: a number from 0 to 100 (DuckDB's range)."""
        try:
            value = float(node.this) if isinstance(node, exp.Literal) and not node.is_string else None
        except ValueError:
            value = None
        if value is None:
            raise self._error_at(BindError("LIMIT ... PERCENT must be a constant number"), node)
        if not 0 <= value <= 100:
            raise self._error_at(BindError(f"LIMIT {node.this} PERCENT is out of range",
                                           hint="the percentage must be between 0 and 100"), node)
        return value

    def _constant_int(self, node, what) -> int | None:
        if node is None:
            return None
        if isinstance(node, exp.Placeholder) and self._parameter_fields is None:
            return self._parameter_int(node, what)
        if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
            return int(node.this)
        if isinstance(node, exp.Null):
            return None
        raise self._error_at(BindError(f"{what} must be a non-negative integer constant"), node)

    # ------------------------------------------------------------------ parameters

    def bind_placeholder(self, node: exp.Placeholder) -> Expr:
        """What ``$n`` means: a literal of the bound value, or the batch's column (see bind_parameter_batch)."""
        number = self._placeholder_number(node)
        if self._parameter_fields is not None:
            return ColumnRef(self._parameter_fields[number - 1])
        return parameter_literal(self.parameters[number - 1])

    def _placeholder_number(self, node: exp.Placeholder) -> int:
        bound = self._parameter_fields if self._parameter_fields is not None else self.parameters
        if bound is None:
            raise self._error_at(UnsupportedError("parameters (`?`) are only accepted through prepared statements"),
                                 node)
        text = str(node.this or "")
        if not text.isdigit():
            raise self._error_at(UnsupportedError(f"named parameters (`{node.sql()}`)",
                                                  hint="write `?` for each parameter"), node)
        number = int(text)
        if not 1 <= number <= len(bound):
            raise self._error_at(BindError(f"parameter ${number} is not bound ({len(bound)} were)",
                                           hint="bind one value per `?`"), node)
        return number

    def _parameter_int(self, node: exp.Placeholder, what: str) -> int | None:
        """LIMIT ? / OFFSET ?: the bound value, which must be a non-negative integer (NULL: no limit)."""
        value = plain_scalar(self.parameters[self._placeholder_number(node) - 1])
        if not value.is_valid:
            return None
        if pa.types.is_integer(value.type) and value.as_py() >= 0:
            return value.as_py()
        raise self._error_at(BindError(f"{what} must be a non-negative integer, the parameter is "
                                       f"{value.as_py()!r} ({T.sql_name(value.type)})"), node)

    def bind_parameter_batch(self, row: exp.Expression, batch: pa.Table, types: list[pa.DataType]) -> LogicalPlan:
        """``VALUES (row)`` evaluated for every row of a parameter batch: a projection of a scan of the batch.

        Each ``$n`` in ``row`` is the batch's column n (a column of :func:`plain_batch`), so
        ``INSERT INTO t VALUES (?, ?)`` with 100k bound rows is one scan and one cast, and
        ``VALUES (?, upper(?))`` works too. Each value converts to its target column's type.
        """
        items = row.expressions if isinstance(row, exp.Tuple) else [row]
        if len(items) != len(types):
            raise self._error_at(BindError(f"INSERT has {len(items)} values for {len(types)} columns",
                                           hint="give one value per target column, or list the columns"), row)
        scan = scan_of(MemoryTable("parameters", plain_batch(batch)))
        self._parameter_fields = scan.table_fields
        try:
            eb = ExprBinder(self, Scope())
            exprs = []
            for item, t in zip(items, types):
                try:
                    exprs.append(F.cast(eb.bind(item), t))
                except QuarryError as err:
                    raise self._error_at(err, item)
        finally:
            self._parameter_fields = None
        return B.project(scan, exprs, [f"col{i}" for i in range(len(exprs))])

    # ------------------------------------------------------------------ VALUES

    def bind_values(self, node: exp.Values, scope: Scope, alias: exp.TableAlias | None = None,
                    types: list[pa.DataType] | None = None) -> LogicalPlan:
        """Bind ``VALUES (...), (...)``; each column takes the common type of its values.

        A string literal next to other types is converted to them (``VALUES (1.5), ('7')``),
        as DuckDB does with its untyped string literals. With ``types`` (the target columns
        of an INSERT) every value is converted to its column's type instead.
        """
        eb = ExprBinder(self, scope)
        rows, item_nodes = [], []
        for tup in node.expressions:
            items = tup.expressions if isinstance(tup, exp.Tuple) else [tup]
            rows.append([eb.bind(e) for e in items])
            item_nodes.append((tup, items))
        width = len(rows[0])
        for (tup, _), r in zip(item_nodes, rows):
            if types is not None and len(r) != len(types):
                raise self._error_at(BindError(f"INSERT has {len(r)} values for {len(types)} columns",
                                               hint="give one value per target column, or list the columns"), tup)
            if len(r) != width:
                raise self._error_at(BindError("VALUES rows have different numbers of columns"), tup)
        if types is None:
            types = [self._values_column_type(rows, i, node) for i in range(width)]
        alias = alias or node.args.get("alias")
        names = [c.name for c in alias.columns] if alias is not None and alias.columns else []
        names += [f"col{i}" for i in range(len(names), width)]
        qualifier = alias.name if alias is not None and alias.name else None
        typed = []
        for (_, items), r in zip(item_nodes, rows):
            row = []
            for i in range(width):
                try:
                    row.append(F.cast(r[i], types[i]))
                except QuarryError as err:
                    raise self._error_at(err, items[i])
            typed.append(tuple(row))
        fields = tuple(Field(names[i], types[i], any(r[i].nullable for r in typed), new_id(), qualifier)
                       for i in range(width))
        return Values(tuple(typed), fields)

    def _values_column_type(self, rows, i: int, node) -> pa.DataType:
        """The common type of column ``i`` of VALUES rows (string literals and empty maps adapt to the others)."""
        t, strings = T.NULL, False
        empty_maps = [r[i] for r in rows if F.is_empty_map(r[i])]
        for r in rows:
            e = r[i]
            if isinstance(e, Literal) and T.is_string(e.dtype):
                strings = True
                continue
            if empty_maps and len(empty_maps) < len(rows) and F.is_empty_map(e):
                continue
            nt = T.common_type(t, e.dtype)
            if nt is None:
                raise self._error_at(BindError(f"VALUES column {i + 1} mixes {T.sql_name(t)} and "
                                               f"{T.sql_name(e.dtype)}", hint="CAST the values to one type"), node)
            t = nt
        if T.is_null(t):
            return empty_maps[0].dtype if empty_maps else T.STRING if strings else T.INT32
        return t

    # ------------------------------------------------------------------ FROM

    def bind_from(self, sel: exp.Select, scope: Scope) -> LogicalPlan:
        from_ = sel.args.get("from_") or sel.args.get("from")
        if from_ is None:
            one = Field("__one", T.BOOL, True, new_id())
            return Values(((Literal(None, T.BOOL),),), (one,))
        self.check(from_)
        plan = self.bind_table_ref(from_.this, scope)
        # FROM-first syntax (`FROM a, b SELECT ...`) puts the further FROM items under the first table
        joins = list(from_.this.args.get("joins") or []) if isinstance(from_.this, exp.Table) else []
        for join in joins + list(sel.args.get("joins") or []):
            plan = self.bind_join(plan, join, scope)
        return plan

    def bind_join(self, left: LogicalPlan, join: exp.Join, scope: Scope) -> LogicalPlan:
        self.check(join)
        before = len(scope.relations)
        left_star = [f.id for f in scope.star_fields()] if scope.star is not None else None
        right = self.bind_table_ref(join.this, scope)
        side = (join.side or "").upper()
        kind_word = (join.kind or "").upper()
        method = (join.args.get("method") or "").upper()
        if method == "POSITIONAL":
            return self._bind_positional_join(left, right, join, scope, before, left_star)
        if method and method != "NATURAL":
            raise self._error_at(UnsupportedError(f"{method} JOIN is not supported"), join)
        if kind_word in ("SEMI", "ANTI"):
            kind = kind_word.lower()
        elif side == "LEFT":
            kind = "left"
        elif side == "RIGHT":
            kind = "right"
        elif side == "FULL":
            kind = "full"
        elif kind_word == "CROSS":
            kind = "cross"
        else:
            kind = "inner"
        on = join.args.get("on")
        using = join.args.get("using")
        if method == "NATURAL":
            if on is not None or using:
                raise self._error_at(BindError("a NATURAL JOIN takes no ON or USING condition",
                                               hint="drop NATURAL, or the condition"), join)
            if kind == "cross":
                raise self._error_at(BindError("a CROSS JOIN cannot be NATURAL",
                                               hint="use NATURAL [LEFT | RIGHT | FULL | SEMI | ANTI] JOIN"), join)
            using = self._natural_keys(scope, before, left_star, join)
        if using:
            return self._bind_using_join(left, right, kind, using, scope, before, left_star)
        condition = None
        if on is not None:
            condition = self._bool(ExprBinder(self, scope).bind(on), on, "JOIN")
        elif kind not in ("cross", "inner"):
            raise self._error_at(BindError(f"{kind.upper()} JOIN needs an ON or USING condition"), join)
        if kind == "inner" and condition is None:
            kind = "cross"
        lateral = bool(outer_references(right) & produced_ids(left))
        if lateral and kind not in ("inner", "cross", "left"):
            raise self._error_at(UnsupportedError(f"a {kind.upper()} JOIN with a LATERAL subquery",
                                                  hint="use an inner or LEFT JOIN"), join)
        plan = Join(left, right, kind, condition, lateral=lateral)
        if kind in ("semi", "anti"):
            del scope.relations[before:]
        self._join_nullability(scope, plan, before)
        if left_star is not None and kind not in ("semi", "anti"):
            scope.star = left_star + [f.id for r in scope.relations[before:] for f in r.fields]
        return plan

    def _bind_positional_join(self, left: LogicalPlan, right: LogicalPlan, join: exp.Join, scope: Scope,
                              before: int, left_star: list[int] | None) -> LogicalPlan:
        """``a POSITIONAL JOIN b``: the first row of ``a`` with the first of ``b``, and so on, the shorter
        side padded with NULLs (DuckDB's). A row's position is its number in its table's row order (the
        rank of its ``rowid``), which holds under any partitioning: a FULL JOIN on the two positions.
        Only tables have that order; quarry keeps no row order of other inputs, so they are refused."""
        if join.args.get("on") is not None or join.args.get("using"):
            raise self._error_at(BindError("a POSITIONAL JOIN takes no ON or USING condition"), join)
        sides = []
        for plan, what in ((left, "left"), (right, "right")):
            # a table reference binds to its Scan, or a Project renaming the Scan's columns
            scan = plan if isinstance(plan, Scan) else \
                plan.input if isinstance(plan, Project) and isinstance(plan.input, Scan) and \
                all(isinstance(e, ColumnRef) for e in plan.exprs) else None
            if scan is None or not numbers_rows(scan.source) or \
                    any(f.name.lower() == ROWID for f in scan.table_fields):
                raise self._error_at(UnsupportedError(
                    f"POSITIONAL JOIN whose {what} side is not a table (in memory or Parquet)",
                    hint="quarry keeps the row order of tables only; join on row numbers of an explicit "
                         "ORDER BY instead: row_number() OVER (ORDER BY ...)"), join)
            numbered, rowid = add_rowid(plan, None)
            position = Field("__position", T.INT64, False, new_id())
            ranked = WindowCall(F.call("row_number", []), (), (SortKey(ColumnRef(rowid)),), WindowFrame("range", None, 0))
            sides.append((Window(numbered, (ranked,), (position,)), position))
        (left_plan, left_pos), (right_plan, right_pos) = sides
        plan = Join(left_plan, right_plan, "full", F.call("equal", [ColumnRef(left_pos), ColumnRef(right_pos)]))
        self._join_nullability(scope, plan, before)
        if left_star is not None:
            scope.star = left_star + [f.id for r in scope.relations[before:] for f in r.fields]
        return plan

    def _natural_keys(self, scope: Scope, before: int, left_star: list[int] | None, join: exp.Join) -> list:
        """The USING list of a NATURAL JOIN: every column name both sides have, in the left side's order."""
        left_fields = [scope.field_by_id(i) for i in left_star] if left_star is not None else \
            [f for r in scope.relations[:before] for f in r.fields]
        right_names = {f.name.lower() for r in scope.relations[before:] for f in r.fields}
        keys, seen = [], set()
        for f in left_fields:
            if f.name.lower() in right_names and f.name.lower() not in seen:
                seen.add(f.name.lower())
                keys.append(exp.to_identifier(f.name))
        if not keys:
            # DuckDB refuses rather than silently computing a cross product
            raise self._error_at(BindError("no columns found to join on in NATURAL JOIN",
                                           hint="use CROSS JOIN if you meant a cross product"), join)
        return keys

    def _bind_using_join(self, left: LogicalPlan, right: LogicalPlan, kind: str, using, scope: Scope,
                         before: int, left_star: list[int] | None) -> LogicalPlan:
        """``JOIN ... USING (k, ...)``: the builder merges each key into one column (DuckDB's shape),
        which unqualified names and ``*`` then mean; ``l.k`` and ``r.k`` still name each side's own."""
        if kind == "cross":
            raise self._error_at(BindError("CROSS JOIN takes no USING condition"), using[0])
        left_fields = [scope.field_by_id(i) for i in left_star] if left_star is not None else \
            [f for r in scope.relations[:before] for f in r.fields]
        right_rel = scope.relations[before]
        keys = []
        for ident in using:
            name = ident.name
            try:
                # a column merged by an earlier USING is one column, not an ambiguous pair
                lf = scope.field_by_id(scope.using[name.lower()]) if name.lower() in scope.using else \
                    Scope(relations=scope.relations[:before]).resolve(name)
                rf = Scope(relations=[right_rel]).resolve(name)
            except BindError as err:
                raise self._error_at(err, ident)
            keys.append((name, lf, rf))
        try:
            built = B.join_using(left, right, kind, keys, left_fields, list(right_rel.fields))
        except QuarryError as err:
            raise self._error_at(err, using[0])
        if kind in ("semi", "anti"):
            del scope.relations[before:]
        self._join_nullability(scope, built.plan, before)
        new_ids = {f.id for f in built.plan.schema} - scope.own_ids()
        if new_ids:
            # the merged keys of a FULL join are columns of no table
            scope.relations.append(Relation(None, [f for f in built.plan.schema if f.id in new_ids]))
        for name, f in built.merged.items():
            scope.using[name] = f.id
        scope.star = [f.id for f in built.fields]
        return built.plan

    @staticmethod
    def _join_nullability(scope: Scope, plan: LogicalPlan, before: int) -> None:
        """Give the scope's fields the nullability the join gives them (the outer side may be NULL)."""
        current = {f.id: f for f in plan.schema}
        for rel in scope.relations:
            rel.fields = [current.get(f.id, f) for f in rel.fields]
            rel.hidden = {k: current.get(f.id, f) for k, f in rel.hidden.items()}

    def bind_table_ref(self, node: exp.Expression, scope: Scope) -> LogicalPlan:
        """Bind one FROM item and add it to ``scope``'s relations."""
        if isinstance(node, (exp.Table, exp.Subquery, exp.Values)):
            self.check(node)
        base = False        # a table's or file's own scan, whose rows have a rowid
        alias_node = node.args.get("alias")
        self.check(alias_node)
        alias = alias_node.name if alias_node is not None and alias_node.name else None
        col_aliases = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else []
        try:
            if isinstance(node, exp.Table) and is_table_format_scan(node):
                plan, default_alias = bind_table_format_scan(self, node)
            elif isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
                plan, default_alias, base = self._named_table(node, scope)
            elif isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
                plan, default_alias = series_scan(self, node.this, scope)
            elif isinstance(node, exp.Table) and isinstance(node.this, (exp.Func, exp.Anonymous)):
                plan, default_alias = self._table_function(node.this), None
                base = isinstance(plan, Scan)
            elif isinstance(node, exp.Subquery):
                # the Subquery node itself, so an ORDER BY / LIMIT written after its parentheses applies;
                # it may name earlier FROM items (an implicit LATERAL, as in DuckDB)
                plan = self.bind_query(node, scope.child() if scope.relations else
                                       Scope(parent=scope.parent, ctes=dict(scope.ctes)))
                default_alias = None
            elif isinstance(node, exp.Lateral) and isinstance(node.this, exp.Subquery):
                self.check(node)
                plan, default_alias = self.bind_query(node.this, scope.child()), None
            elif isinstance(node, exp.Lateral) and isinstance(node.this, exp.GenerateSeries):
                self.check(node)
                plan, default_alias = series_scan(self, node.this, scope)
            elif isinstance(node, exp.Lateral) and isinstance(node.this, exp.Unnest):
                self.check(node)
                plan, default_alias = self._unnest_table(node.this, scope), "unnest"
            elif isinstance(node, exp.Values):
                plan, default_alias = self.bind_values(node, scope), None
            elif isinstance(node, exp.Lateral):
                raise UnsupportedError(f"LATERAL `{node.this.sql(dialect='duckdb')}` (only a subquery or unnest)")
            elif isinstance(node, exp.Unnest):
                plan, default_alias = self._unnest_table(node, scope), "unnest"
            else:
                raise UnsupportedError(f"`{node.sql(dialect='duckdb')}` is not supported in FROM")
        except QuarryError as err:
            raise self._error_at(err, node)
        qualifier = alias or default_alias
        base = base and isinstance(plan, Scan) and numbers_rows(plan.source)
        plan = self._rename(plan, col_aliases, qualifier, node)
        relation = Relation(qualifier, list(plan.schema))
        if base and mentions_rowid(node) and \
                not any(f.name.lower() == ROWID for f in plan.schema):
            plan, relation.hidden[ROWID] = add_rowid(plan, qualifier)
        scope.relations.append(relation)
        return plan

    def _unnest_table(self, node: exp.Unnest, scope: Scope) -> LogicalPlan:
        """``FROM unnest([1, 2])``: one row per element (several lists aligned, as in SELECT)."""
        if node.args.get("offset"):
            raise UnsupportedError("UNNEST ... WITH OFFSET / WITH ORDINALITY")
        from quarry.logical.nested import UnnestExpr
        one = Field("__one", T.BOOL, True, new_id())
        rows = Values(((Literal(None, T.BOOL),),), (one,))
        # unnest(t.l) may read earlier FROM items: a lateral join, made by bind_join
        eb = ExprBinder(self, scope.child() if scope.relations else
                        Scope(parent=scope.parent, ctes=dict(scope.ctes)))
        eb.allow_unnest = True
        lists = [eb.bind(exp.Explode(this=e)) for e in node.expressions]
        plan, refs = B.lift_unnests(rows, lists)
        fields = [Field("unnest", r.dtype, True, new_id()) for r in refs]
        return Project(plan, tuple(refs), tuple(fields))

    def _rename(self, plan: LogicalPlan, names: list[str], qualifier: str | None, node) -> LogicalPlan:
        if len(names) > len(plan.schema):
            raise self._error_at(BindError(f"{len(names)} column aliases given for {len(plan.schema)} columns"), node)
        if not names and all(f.qualifier == qualifier for f in plan.schema):
            return plan
        if isinstance(plan, Scan) and not names:
            fields = tuple(Field(f.name, f.dtype, f.nullable, f.id, qualifier) for f in plan.table_fields)
            return Scan(plan.source, fields, plan.projection, plan.filters, qualifier)
        exprs, fields = [], []
        for i, f in enumerate(plan.schema):
            name = names[i] if i < len(names) else f.name
            exprs.append(ColumnRef(f))
            fields.append(Field(name, f.dtype, f.nullable, new_id(), qualifier))
        return Project(plan, tuple(exprs), tuple(fields))

    def _named_table(self, node: exp.Table, scope: Scope):
        name = node.name
        if node.args.get("db") is not None and node.db.lower() == INFORMATION_SCHEMA:
            provider = self.catalog.information_schema(name, self.session.iceberg_catalog_tables
                                                       if getattr(self.session, "iceberg_catalogs", None) else None)
            return scan_of(provider), provider.name, False
        if node.args.get("catalog") is not None and node.catalog in getattr(self.session, "iceberg_catalogs", {}):
            # lake.db.orders: a table of a registered Iceberg catalog (as DuckDB names an attached one's)
            provider = self.session.iceberg_table(f"{node.catalog}.{node.db}.{name}")
            return scan_of(provider), provider.name, False
        if node.args.get("db") is not None and node.db.lower() not in ("main", "memory"):
            raise UnknownSchemaError(node.db)
        cte = scope.find_cte(name)
        if isinstance(cte, WorkingTable):
            # a recursive CTE's name in its own step: the rows of the round before
            return scan_of(cte.provider), cte.provider.name, False
        if cte is not None and cte[0].meta.get("recursive"):
            provider = recursive_rows(self, cte[0], cte[1])
            return scan_of(provider), provider.name, False
        if cte is not None:
            cte_node, visible = cte
            sub_scope = Scope(ctes={k: v for k, v in visible.items()})
            plan = self.bind_query(cte_node.this, sub_scope)
            names = [c.name for c in cte_node.args["alias"].columns] if cte_node.args.get("alias") is not None \
                and cte_node.args["alias"].columns else []
            return self._rename(plan, names, cte_node.alias_or_name, cte_node), cte_node.alias_or_name, False
        # a restricted session decides from the text alone: asking the disk would tell its client which
        # paths outside the sandbox exist ("not allowed" for one, "no such table" for another)
        on_disk = getattr(self.session, "sandbox", None) is None
        if not self.catalog.exists(name) and self._looks_like_path(name, on_disk):
            self.session.check_path_allowed(name)     # as read_parquet() does: servers limit file access
            return scan_of(provider_for(os.path.basename(name), name)), \
                os.path.splitext(os.path.basename(name))[0], True
        # a name no table has may be a DataFrame variable of the caller (a replacement scan)
        provider = self.catalog.get(name, fallback=getattr(self.session, "replacement_scan", None))
        if isinstance(provider, ViewTable):
            plan = provider.build()
            return self._rename(plan, [], provider.name, node), provider.name, False
        return scan_of(provider), provider.name, True

    @staticmethod
    def _looks_like_path(name: str, on_disk: bool = True) -> bool:
        """Whether a FROM name that is not in the catalog means a file (``FROM 'data/x.parquet'``).

        A name that exists on disk, has a glob, or ends with a data-file extension is a path,
        so a missing file is reported as a missing file rather than as an unknown table. With
        ``on_disk`` False the disk is not asked: any name with a folder separator is a path too.
        """
        if is_remote(name):
            return True
        if not on_disk:
            return any(ch in name for ch in "/\\*?[") or name.lower().endswith(_DATA_EXTENSIONS)
        if os.path.exists(name) or any(ch in name for ch in "*?"):
            return any(ch in name for ch in "/\\*.")
        return name.lower().endswith(_DATA_EXTENSIONS)

    def _table_function(self, fn: exp.Expression) -> LogicalPlan:
        name = (fn.name if isinstance(fn, exp.Anonymous) else fn.key).lower()
        # sqlglot keeps the path in `this` for some functions (read_csv) and among `expressions` for others
        args = ([fn.this] if isinstance(fn.this, exp.Expression) else []) + list(fn.expressions or [])
        step = getattr(self.session, "table_functions", {}).get(name)
        if step is not None:        # a Python table function (con.register_table_function)
            from quarry.sql.table_functions import bind_python_table_function
            return bind_python_table_function(self, step, args)
        if name not in _FILE_TABLE_FUNCTIONS:
            raise UnsupportedError(f"table function `{name}` does not exist",
                                   hint="use read_parquet('path') or read_csv('path')")
        positional, options = [], {}
        for a in args:
            if isinstance(a, (exp.EQ, exp.PropertyEQ)):
                options[a.this.name.lower()] = a.expression
            else:
                positional.append(a)
        if not positional:
            raise BindError(f"{name}() needs a path")
        path_node = positional[0]
        if isinstance(path_node, exp.Literal) and path_node.is_string:
            paths = path_node.this
        elif isinstance(path_node, exp.Array) and path_node.expressions and all(
                isinstance(p, exp.Literal) and p.is_string for p in path_node.expressions):
            paths = [p.this for p in path_node.expressions]
        else:
            raise BindError(f"{name}() takes a string path (or a list of paths)")
        self.session.check_path_allowed(paths)
        label = os.path.basename(paths if isinstance(paths, str) else paths[0])
        if name in ("readparquet", "read_parquet", "parquet_scan"):
            hive = options.get("hive_partitioning")
            provider = ParquetTable(label, paths, hive_partitioning=None if hive is None else _option_flag(hive))
        elif name in ("read_json", "read_json_auto", "read_ndjson", "read_ndjson_auto", "readjson"):
            if options:
                raise UnsupportedError(f"{name}() options ({', '.join(options)})",
                                       hint="read_json('path') infers the columns of newline-delimited JSON")
            provider = MemoryTable(label, read_json_table(paths))
        elif name in ("readcsv", "read_csv", "read_csv_auto"):
            delim = options.get("delim") or options.get("sep") or options.get("delimiter")
            header = options.get("header")
            table = read_csv_table(paths, delimiter=delim.name if delim is not None else None,
                                   header=True if header is None else _option_flag(header))
            provider = MemoryTable(label, table)
        else:
            raise UnsupportedError(f"table function `{name}` does not exist",
                                   hint="use read_parquet('path') or read_csv('path')")
        return scan_of(provider)

    # ------------------------------------------------------------------ SELECT

    def _expand_named_windows(self, sel: exp.Select) -> exp.Select:
        """``sel`` with every ``OVER w`` / ``OVER (w ORDER BY ...)`` spelled out from its ``WINDOW w AS
        (...)`` definition (a copy; the tree as parsed is bound again for each use of a CTE or view).

        As in the SQL standard and DuckDB, a window that names another adds an ORDER BY only when the
        named one has none, and a frame; it never adds a PARTITION BY. A name no WINDOW clause defines
        is an error, never an empty window.
        """
        uses = [w for w in sel.find_all(exp.Window) if w.args.get("alias") is not None
                and w.find_ancestor(exp.Select) is sel]
        if not sel.args.get("windows") and not uses:
            return sel
        defined: dict[str, exp.Window] = {}
        for w in sel.args.get("windows") or []:
            name = w.this.name.lower()
            if name in defined:
                raise self._error_at(BindError(f"window `{w.this.name}` is defined twice"), w)
            defined[name] = self._merge_window(w, defined)
        sel = sel.copy()
        sel.set("windows", None)
        for w in [w for w in sel.find_all(exp.Window) if w.args.get("alias") is not None
                  and w.find_ancestor(exp.Select) is sel]:
            merged = self._merge_window(w, defined)
            for key in ("partition_by", "order", "spec"):
                w.set(key, merged.args.get(key))
            w.set("alias", None)
        return sel

    def _merge_window(self, w: exp.Window, defined: dict[str, exp.Window]) -> exp.Window:
        """The specification of window ``w`` with the named window it refers to (if any) folded in."""
        ref = w.args.get("alias")
        if ref is None:
            return w
        base = defined.get(ref.name.lower())
        if base is None:
            raise self._error_at(BindError(f"window `{ref.name}` is not defined",
                                           hint=suggest(ref.name, list(defined)) or
                                           f"define it: WINDOW {ref.name} AS (PARTITION BY ... ORDER BY ...)"), ref)
        if w.args.get("partition_by"):
            raise self._error_at(BindError(f"a window based on `{ref.name}` cannot add a PARTITION BY"), w)
        if w.args.get("order") and base.args.get("order"):
            raise self._error_at(BindError(f"a window based on `{ref.name}` cannot add an ORDER BY: it has one"),
                                 w)
        merged = exp.Window(this=w.this)
        merged.set("partition_by", [p.copy() for p in base.args.get("partition_by") or []] or None)
        order = w.args.get("order") or base.args.get("order")
        merged.set("order", order.copy() if order is not None else None)
        spec = w.args.get("spec") or base.args.get("spec")
        merged.set("spec", spec.copy() if spec is not None else None)
        return merged

    def bind_select(self, sel: exp.Select, scope: Scope) -> LogicalPlan:
        self.check(sel)
        sel = self._expand_named_windows(sel)
        plan = self.bind_from(sel, scope)
        where = sel.args.get("where")
        self.check(where)
        if where is not None:
            plan = Filter(plan, self._bool(ExprBinder(self, scope).bind(where.this), where, "WHERE"))

        # select list, with * and COLUMNS(...) expanded
        items: list[tuple[exp.Expression, str, Field | None]] = []
        for item in sel.expressions:
            items.extend(self._select_items(item, scope))
        if not items:
            raise self._error_at(BindError("SELECT list is empty"), sel)

        select_binder = ExprBinder(self, scope, allow_aggregates=True, allow_windows=True)
        select_binder.allow_unnest = True       # unnest(l) in the select list, lifted below
        bound: list[Expr] = []
        for node, name, star_field in items:
            if star_field is not None:
                bound.append(ColumnRef(star_field))
            else:
                target = node.this if isinstance(node, exp.Alias) else node
                bound.append(select_binder.bind(target))
        names = [name for _, name, _ in items]
        alias_map = {n.lower(): e for n, e in zip(names, bound)}

        # GROUP BY
        group_node = sel.args.get("group")
        group_exprs: list[Expr] = []
        grouping_sets = None
        if group_node is not None:
            group_exprs, grouping_sets = self._bind_group_by(group_node, scope, bound, alias_map)

        having_node = sel.args.get("having")
        self.check(having_node)
        having = None
        if having_node is not None:
            having = ExprBinder(self, scope, allow_aggregates=True, aliases=alias_map).bind(having_node.this)
            having = self._bool(having, having_node, "HAVING")

        order_node = sel.args.get("order")
        order_keys: list[SortKey] = []
        order_targets: list = []   # per key: ("out", index) or ("expr", Expr)
        if order_node is not None:
            self.check(order_node)
            ob = ExprBinder(self, scope, allow_aggregates=True, allow_windows=True)
            lowered = [n.lower() for n in names]
            for o in order_node.expressions:
                self.check(o)
                t = o.this
                asc, nf = sort_direction(self.session, o)
                if _is_all(t):
                    # ORDER BY ALL: every output column, left to right
                    order_targets.extend(("out", i, asc, nf) for i in range(len(items)))
                elif isinstance(t, exp.Literal) and not t.is_string and t.this.isdigit():
                    idx = int(t.this)
                    if not 1 <= idx <= len(items):
                        raise self._error_at(BindError(f"ORDER BY position {idx} is out of range",
                                                       hint=f"the select list has {len(items)} columns"), o)
                    order_targets.append(("out", idx - 1, asc, nf))
                elif isinstance(t, exp.Column) and not t.table and t.name.lower() in lowered:
                    order_targets.append(("out", lowered.index(t.name.lower()), asc, nf))
                else:
                    order_targets.append(("expr", ob.bind(t), asc, nf))

        qualify_node = sel.args.get("qualify")
        self.check(qualify_node)
        qualify = None
        if qualify_node is not None:
            qb = ExprBinder(self, scope, allow_aggregates=True, allow_windows=True, aliases=alias_map)
            qualify = self._bool(qb.bind(qualify_node.this), qualify_node, "QUALIFY")
            if not any(isinstance(x, WindowCall) for e in bound + [qualify] for x in e.walk()):
                raise self._error_at(BindError("QUALIFY needs a window function in the select list or in QUALIFY",
                                               hint="use WHERE (or HAVING) to filter without one"), qualify_node)

        distinct_node = sel.args.get("distinct")
        distinct_on = self._distinct_on(distinct_node, scope, alias_map, names, bound, order_targets)

        aggs: list[AggCall] = B.collect_aggregates(
            bound + ([having] if having is not None else []) + [t[1] for t in order_targets if t[0] == "expr"]
            + ([qualify] if qualify is not None else []) + ([distinct_on] if distinct_on is not None else []))

        if group_node is not None or aggs:
            input_ids = {f.id for f in plan.schema}
            plan, mapping = B.aggregate(plan, group_exprs, aggs, grouping_sets)
            gfields, gid = plan.group_fields, plan.grouping_id

            keys = {k: v for k, v in mapping.items() if not isinstance(k, AggCall) and k.column_ids()}

            def rewrite(e: Expr, node) -> Expr:
                # a subquery's references to grouped columns (or key expressions) read the Aggregate's keys
                out = B.replace_in_subqueries(B.replace_exprs(e, mapping), keys)
                out = out.transform_up(lambda x: self._grouping_bits(x, gfields, gid, node))
                try:
                    return B.check_grouped(out, input_ids)
                except QuarryError as err:
                    raise self._error_at(err, node)
            bound = [rewrite(e, items[i][0]) for i, e in enumerate(bound)]
            if having is not None:
                having = rewrite(having, having_node)
            order_targets = [(t[0], rewrite(t[1], order_node) if t[0] == "expr" else t[1], t[2], t[3])
                             for t in order_targets]
            if qualify is not None:
                qualify = rewrite(qualify, qualify_node)
            if distinct_on is not None:
                distinct_on = rewrite(distinct_on, distinct_node)
            if having is not None:
                plan = Filter(plan, having)
        elif having is not None:
            raise self._error_at(BindError("HAVING needs GROUP BY or an aggregate",
                                           hint="use WHERE to filter rows"), having_node)

        # window functions
        order_exprs = [t[1] for t in order_targets if t[0] == "expr"]
        plan, lifted = B.lift_windows(plan, bound + order_exprs + ([qualify] if qualify is not None else []))
        if qualify is not None:
            # QUALIFY filters on the window results
            plan = Filter(plan, lifted.pop())
        if distinct_on is not None:
            # then DISTINCT ON keeps the first row of each group, among the rows QUALIFY kept
            plan, (first,) = B.lift_windows(plan, [distinct_on])
            plan = Filter(plan, first)
        bound, lifted_order = lifted[:len(bound)], iter(lifted[len(bound):])
        order_targets = [(t[0], next(lifted_order) if t[0] == "expr" else t[1], t[2], t[3])
                         for t in order_targets]
        # unnest(...) in the select list: one Unnest over everything computed so far
        order_exprs = [t[1] for t in order_targets if t[0] == "expr"]
        plan, lifted = B.lift_unnests(plan, bound + order_exprs)
        bound, lifted_order = lifted[:len(bound)], iter(lifted[len(bound):])
        order_targets = [(t[0], next(lifted_order) if t[0] == "expr" else t[1], t[2], t[3])
                         for t in order_targets]

        # projection (plus hidden ORDER BY columns)
        out_fields = output_fields(bound, names, {f.id for f in plan.schema})
        proj_exprs = list(bound)
        proj_fields = list(out_fields)
        distinct = sel.args.get("distinct") is not None and distinct_on is None
        self.check(sel.args.get("distinct"))
        for t in order_targets:
            if t[0] == "out":
                order_keys.append(SortKey(ColumnRef(out_fields[t[1]]), t[2], t[3]))
                continue
            e = t[1]
            match = next((i for i, b in enumerate(bound) if b == e), None)
            if match is not None:
                order_keys.append(SortKey(ColumnRef(out_fields[match]), t[2], t[3]))
                continue
            if distinct:
                raise self._error_at(BindError("for SELECT DISTINCT, ORDER BY expressions must appear in the select list"),
                                     order_node)
            hidden = Field("__order" + str(len(proj_fields)), e.dtype, e.nullable, new_id())
            proj_exprs.append(e)
            proj_fields.append(hidden)
            order_keys.append(SortKey(ColumnRef(hidden), t[2], t[3]))

        plan = Project(plan, tuple(proj_exprs), tuple(proj_fields))
        if distinct:
            plan = B.distinct(plan)
            remap = {old.id: new for old, new in zip(proj_fields, plan.schema)}
            order_keys = [SortKey(ColumnRef(remap[k.expr.field.id]), k.ascending, k.nulls_first) for k in order_keys]
            out_fields = list(plan.schema)
        if order_keys:
            B.refuse_nested_sort_keys(order_keys)
            plan = Sort(plan, tuple(order_keys))
        plan = self._apply_limit(sel, plan)
        if len(proj_fields) > len(out_fields) and not distinct:
            plan = Project(plan, tuple(ColumnRef(f) for f in out_fields), tuple(out_fields))
        return plan

    # ------------------------------------------------------------------ helpers

    def _distinct_on(self, node, scope: Scope, alias_map, names, bound, order_targets) -> Expr | None:
        """``DISTINCT ON (keys)`` as the condition ``row_number() OVER (PARTITION BY keys ORDER BY
        <the query's ORDER BY>) = 1``: the first row of each group of keys in that order (any row of
        it without an ORDER BY), as DuckDB keeps. None for a plain DISTINCT or none."""
        on = node.args.get("on") if node is not None else None
        if on is None:
            return None
        eb = ExprBinder(self, scope, allow_aggregates=True, aliases=alias_map)
        lowered = [n.lower() for n in names]
        keys = []
        for k in (on.expressions if isinstance(on, exp.Tuple) else [on]):
            if isinstance(k, exp.Literal) and not k.is_string and k.this.isdigit():
                idx = int(k.this)
                if not 1 <= idx <= len(bound):
                    raise self._error_at(BindError(f"DISTINCT ON position {idx} is out of range"), k)
                keys.append(bound[idx - 1])
            elif isinstance(k, exp.Column) and not k.table and k.name.lower() in lowered:
                keys.append(bound[lowered.index(k.name.lower())])
            else:
                keys.append(eb.bind(k))
        order = tuple(SortKey(bound[t[1]] if t[0] == "out" else t[1], t[2], t[3]) for t in order_targets)
        if any(isinstance(x, WindowCall) for e in keys + [k.expr for k in order] for x in e.walk()):
            raise self._error_at(UnsupportedError("window functions in DISTINCT ON or in its ORDER BY",
                                                  hint="compute them in a subquery first"), node)
        rank = WindowCall(F.call("row_number", []), tuple(keys), order, None)
        return F.call("equal", [rank, Literal(1, T.INT64)])

    def _select_items(self, item: exp.Expression, scope: Scope) -> list[tuple[exp.Expression, str, Field | None]]:
        """One select item as (expression, output name, field it reads directly) triples.

        ``*`` and ``t.*`` expand to their columns, with DuckDB's modifiers: ``EXCLUDE (a)`` drops a
        column, ``REPLACE (expr AS a)`` computes ``a`` by ``expr`` in its place, ``RENAME (a AS b)``
        gives it another name. ``COLUMNS(*)`` and ``COLUMNS('regex')`` expand to the columns ``*``
        holds (those whose name the regular expression matches somewhere), also inside an expression
        (``min(COLUMNS(*))`` is one ``min`` per column).
        """
        if item.meta.get(TYPED_ITEMS) is not None:
            return self._typed_items(item, scope)
        star = item if isinstance(item, exp.Star) else (item.this if isinstance(item, exp.Column)
                                                        and isinstance(item.this, exp.Star) else None)
        if star is not None:
            self.check(star)
            qualifier = item.table if isinstance(item, exp.Column) else None
            fields = self._star_fields(scope, qualifier, item)
            names = {f.name.lower() for f in fields}

            def modifier(key: str, what: str) -> dict[str, exp.Expression]:
                listed: dict[str, exp.Expression] = {}
                for e in star.args.get(key) or []:
                    name = (e.alias if isinstance(e, exp.Alias) and key == "replace" else
                            (e.this.name if isinstance(e, exp.Alias) else e.name)).lower()
                    if name not in names and key != "rename":
                        raise self._error_at(BindError(f"column `{name}` in the {what} list is not in the FROM clause",
                                                       hint=suggest(name, [f.name for f in fields])), e)
                    if name in listed:
                        raise self._error_at(BindError(f"column `{name}` is listed twice in {what}"), e)
                    listed[name] = e
                return listed
            excluded = modifier("except_", "EXCLUDE")
            replaced = modifier("replace", "REPLACE")
            renamed = modifier("rename", "RENAME")
            for both in (set(excluded) & set(replaced)) | (set(excluded) & set(renamed)) | \
                    (set(replaced) & set(renamed)):
                raise self._error_at(BindError(f"column `{both}` cannot be in two of EXCLUDE, REPLACE and RENAME"),
                                     item)
            out = []
            for f in fields:
                key = f.name.lower()
                if key in excluded:
                    continue
                if key in replaced:
                    out.append((replaced[key].this, f.name, None))
                elif key in renamed:
                    out.append((exp.column(f.name), renamed[key].alias, f))
                else:
                    out.append((exp.column(f.name), f.name, f))
            return out
        columns = [c for c in item.find_all(exp.Columns)]
        if not columns:
            return [(item, output_name(item), None)]
        if len(columns) > 1 or isinstance(item, exp.Alias):
            raise self._error_at(UnsupportedError("several COLUMNS(...) in one select item, or an alias on one, "
                                                  "are not supported"), item)
        node = columns[0]
        self.check(node)
        fields = scope.star_fields()
        if isinstance(node.this, exp.Star) and not any(node.this.args.values()):
            chosen = fields
        elif isinstance(node.this, exp.Literal) and node.this.is_string:
            try:
                pattern = re.compile(node.this.this)
            except re.error as err:
                raise self._error_at(BindError(f"COLUMNS: invalid regular expression `{node.this.this}` ({err})"),
                                     node)
            chosen = [f for f in fields if pattern.search(f.name)]
            if not chosen:
                raise self._error_at(BindError(f"no column matches the regular expression `{node.this.this}`",
                                               hint="the columns are " + ", ".join(f.name for f in fields)), node)
        else:
            raise self._error_at(UnsupportedError("COLUMNS takes '*' or a regular expression string here",
                                                  hint="COLUMNS with a list or a lambda is not supported"), node)
        if node is item:
            return [(exp.column(f.name), f.name, f) for f in chosen]
        out = []
        for f in chosen:
            # one copy of the expression per column
            copy, column = item.copy(), exp.column(f.name)
            copy.find(exp.Columns).replace(column)
            name = f.name                  # DuckDB names each expansion after its column: min(COLUMNS(*)) is `a`
            if f.qualifier:
                column.set("table", exp.to_identifier(f.qualifier))
            out.append((copy, name, None))
        return out

    def _typed_items(self, item: exp.Expression, scope: Scope) -> list[tuple[exp.Expression, str, Field | None]]:
        """A select item a front end built whose columns depend on types (Spark's generators: ``explode``
        of a map is two columns, ``inline`` one per struct field): its TYPED_ITEMS function gets a function
        gets the item and a function that binds an expression node in this scope to its type, and gives the
        (expression, name) items."""
        probe = ExprBinder(self, scope, allow_aggregates=True, allow_windows=True)
        probe.allow_unnest = True
        return [(e, name, None) for e, name in item.meta[TYPED_ITEMS](item, lambda node: probe.bind(node).dtype)]

    def _star_fields(self, scope: Scope, qualifier: str | None, node) -> list[Field]:
        if qualifier is None:
            fields = scope.star_fields()
            if not fields:
                raise self._error_at(BindError("SELECT * with no FROM clause"), node)
            return fields
        for r in scope.relations:
            if r.qualifier and r.qualifier.lower() == qualifier.lower():
                return list(r.fields)
        raise self._error_at(BindError(f"table `{qualifier}` is not in the FROM clause"), node)

    def _bool(self, e: Expr, node, clause: str) -> Expr:
        try:
            return B.condition(e, f"{clause} condition")
        except QuarryError as err:
            raise self._error_at(err, node)

    def _bind_group_by(self, group_node, scope, bound, alias_map):
        self.check(group_node)
        eb = ExprBinder(self, scope, aliases=alias_map)
        keys: list[Expr] = []

        def key_index(node) -> int:
            if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
                idx = int(node.this)
                if not 1 <= idx <= len(bound):
                    raise self._error_at(BindError(f"GROUP BY position {idx} is out of range"), node)
                e = bound[idx - 1]
                if any(isinstance(x, (AggCall, WindowCall)) for x in e.walk()):
                    raise self._error_at(BindError("GROUP BY cannot refer to an aggregate"), node)
            else:
                e = eb.bind(node)
            if e not in keys:
                keys.append(e)
            return keys.index(e)

        if group_node.args.get("all"):
            # GROUP BY ALL: every select item that holds no aggregate or window function
            for e in bound:
                if not any(isinstance(x, (AggCall, WindowCall)) for x in e.walk()) and e not in keys:
                    keys.append(e)
            return keys, None

        sets: list[list[tuple[int, ...]]] = []   # cartesian product across GROUP BY items
        plain = True
        # sqlglot puts ROLLUP / CUBE / GROUPING SETS among the plain items (newer versions)
        # or under their own keys (older ones); both spell the same thing.
        items = list(group_node.expressions)
        for kind in ("rollup", "cube", "grouping_sets"):
            items += list(group_node.args.get(kind) or [])
        for item in items:
            if isinstance(item, exp.Rollup):
                plain = False
                idx = [self._group_element(e, key_index) for e in item.expressions]
                sets.append([tuple(x for part in idx[:n] for x in part) for n in range(len(idx), -1, -1)])
            elif isinstance(item, exp.Cube):
                plain = False
                idx = [self._group_element(e, key_index) for e in item.expressions]
                combos = []
                for mask in range(2 ** len(idx) - 1, -1, -1):
                    combos.append(tuple(x for b, part in enumerate(idx) if mask >> (len(idx) - 1 - b) & 1
                                        for x in part))
                sets.append(combos)
            elif isinstance(item, exp.Tuple) and not item.expressions:
                plain = False               # GROUP BY (): the grand total
                sets.append([()])
            elif isinstance(item, exp.GroupingSets):
                plain = False
                options: list[tuple[int, ...]] = []
                for e in item.expressions:
                    if isinstance(e, (exp.Rollup, exp.Cube)):
                        raise self._error_at(UnsupportedError(
                            "ROLLUP / CUBE nested in GROUPING SETS is not supported",
                            hint="list the grouping sets explicitly"), e)
                    options.append(self._group_element(e, key_index))
                sets.append(options)
            else:
                sets.append([(key_index(item),)])
        if plain:
            return keys, None
        combined: list[tuple[int, ...]] = [()]
        for options in sets:
            combined = [tuple(dict.fromkeys(a + b)) for a in combined for b in options]
        return keys, tuple(combined)

    def _group_element(self, node, key_index) -> tuple[int, ...]:
        if isinstance(node, exp.Tuple):
            return tuple(dict.fromkeys(key_index(e) for e in node.expressions))
        if isinstance(node, exp.Paren):
            return self._group_element(node.this, key_index)
        return (key_index(node),)

    def bind_grouping_call(self, node, eb: ExprBinder) -> Expr:
        """``GROUPING(a, b)``: resolved to grouping-id bits once the Aggregate exists."""
        args = [eb.bind(e) for e in node.expressions]
        return Call("grouping", tuple(args), T.INT64, False)

    def _grouping_bits(self, e: Expr, gfields, gid, node) -> Expr:
        if not (isinstance(e, Call) and e.name == "grouping"):
            return e
        positions = []
        for a in e.args:
            pos = next((i for i, f in enumerate(gfields) if isinstance(a, ColumnRef) and a.field.id == f.id), None)
            if pos is None:
                raise self._error_at(BindError("GROUPING() arguments must be GROUP BY keys"), node)
            positions.append(pos)
        if gid is None:
            return Literal(0, T.INT64)
        # bit i of the result (from the right) is the grouping bit of the i-th argument from the end
        return Call("grouping_bits", (ColumnRef(gid), Literal(",".join(map(str, positions)), T.STRING)),
                    T.INT64, False)
