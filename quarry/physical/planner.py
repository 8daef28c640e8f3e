"""Turn an optimized logical plan into a physical plan with explicit exchanges.

Exchanges are placed where rows must meet: a hash Repartition before the final
phase of an aggregation and on both sides of a partitioned join, a Broadcast of
a small join side, a Gather before a global limit or a window without
partition keys, and a k-way MergeSorted over per-partition sorts for ORDER BY.
With one partition the exchanges pass batches through. The process and Ray
executors cut the plan into stages at these exchanges (quarry.execution.stages).
"""

from __future__ import annotations

from quarry.catalog.providers import MemoryTable, ParquetTable, rowid_field_of
from quarry.errors import PlanError, UnsupportedError
import dataclasses

import pyarrow as pa

from quarry.logical import functions as F
from quarry.logical import types as T
from quarry.logical.expressions import ColumnRef, Expr, Field, SortKey, and_all, conjuncts, new_id
from quarry.logical.nested_functions import nested_key
from quarry.logical.plan import (
    Aggregate, Cached, Filter, Join, Limit, LogicalPlan, Project, Scan, SetOp, SingleRow, Sort, Union, Values,
    Window,
)
from quarry.logical.statistics import base_rows, estimate_rows, is_unfiltered_scan
from quarry.physical.aggregate import HashAggregateExec, decomposable
from quarry.physical.base import ExecConfig, ExecNode
from quarry.physical.join import HashJoinExec, NestedLoopJoinExec, broadcast_pays
from quarry.physical.operators import (
    BroadcastExec, GatherExec, LimitExec, MemoryScanExec, MergeSortedExec, ParquetScanExec,
    RepartitionExec, SingleRowExec, SortExec, UnionExec, ValuesExec,
)
from quarry.physical.filter_planning import plan_runtime_filters
from quarry.physical.setop import SetOpExec
from quarry.physical.udf import MapBatchesExec, MapGroupsExec, TableFunctionExec, plan_filter, plan_project
from quarry.physical.window import WindowExec


def _keyed(e: Expr) -> Expr:
    """``e``, or its BINARY sort key when it is a LIST, STRUCT or MAP value (Arrow's grouping, sorting
    and joins take no nested keys; the key orders and compares as DuckDB's nested values do)."""
    return nested_key(e) if T.is_nested(e.dtype) else e


def _key_pairs(keys_l: list[Expr], keys_r: list[Expr]) -> tuple[list[Expr], list[Expr]]:
    """Equi-join keys with every nested pair replaced by the pair's sort keys, of one common type."""
    out_l, out_r = [], []
    for a, b in zip(keys_l, keys_r):
        if T.is_nested(a.dtype) or T.is_nested(b.dtype):
            if a.dtype != b.dtype:
                common = T.common_type(a.dtype, b.dtype)
                if common is None:
                    raise UnsupportedError(f"joining {T.sql_name(a.dtype)} to {T.sql_name(b.dtype)} values")
                a, b = F.cast(a, common), F.cast(b, common)
            a, b = nested_key(a), nested_key(b)
        out_l.append(a)
        out_r.append(b)
    return out_l, out_r


def _counts_nested(a) -> bool:
    """``count(DISTINCT l)`` of a nested ``l``: it counts the distinct sort keys instead."""
    return a.name in ("count", "approx_count_distinct") and len(a.args) == 1 and T.is_nested(a.args[0].dtype) \
        and (a.distinct or a.name == "approx_count_distinct")


def needs_keys(p: Aggregate) -> bool:
    """Whether ``p`` groups by, or counts distinct, LIST, STRUCT or MAP values (see keyed_aggregate)."""
    return any(T.is_nested(g.dtype) for g in p.group_exprs) or any(_counts_nested(a) for a in p.aggs)


def keyed_aggregate(p: Aggregate) -> LogicalPlan:
    """An Aggregate grouping by LIST, STRUCT or MAP values, as one grouping by their sort keys.

    Each nested key ``g`` becomes ``nested_key(g)``, and ``any_value(g)`` (one value of the group:
    the values of a group are all equal) gives the value back; a Project on top restores the
    Aggregate's columns, ids included, so nothing above changes. Under grouping sets a key that is
    rolled up is NULL: the value is NULL wherever its key is. ``count(DISTINCT l)`` counts the keys.
    """
    groups, gfields, extra_aggs, extra_fields, outputs = [], [], [], [], []
    for g, f in zip(p.group_exprs, p.group_fields):
        if not T.is_nested(g.dtype):
            groups.append(g)
            gfields.append(f)
            outputs.append(ColumnRef(f))
            continue
        key_field = Field(f"{f.name}_key", pa.binary(), f.nullable, new_id())
        value_field = Field(f.name, f.dtype, True, new_id())
        groups.append(nested_key(g))
        gfields.append(key_field)
        extra_aggs.append(F.agg("any_value", [g]))
        extra_fields.append(value_field)
        value: Expr = ColumnRef(value_field)
        if p.grouping_sets is not None:
            value = F.call("case", [F.call("is_null", [ColumnRef(key_field)]), F.lit(None), value])
        outputs.append(value)
    aggs = tuple(dataclasses.replace(a, args=(nested_key(a.args[0]),)) if _counts_nested(a) else a for a in p.aggs)
    agg = Aggregate(p.input, tuple(groups), tuple(gfields), aggs + tuple(extra_aggs),
                    p.agg_fields + tuple(extra_fields), p.grouping_sets, p.grouping_id)
    outputs += [ColumnRef(f) for f in p.agg_fields]
    if p.grouping_id is not None:
        outputs.append(ColumnRef(p.grouping_id))
    return Project(agg, tuple(outputs), p.schema)


def split_join_condition(condition: Expr | None, left_ids: set[int], right_ids: set[int]):
    """Split a join condition into equi-key pairs (left expr, right expr) and a residual."""
    keys_l, keys_r, rest = [], [], []
    for c in conjuncts(condition):
        from quarry.logical.expressions import Call
        if isinstance(c, Call) and c.name == "equal":
            a, b = c.args
            ia, ib = a.column_ids(), b.column_ids()
            if ia and ib and ia <= left_ids and ib <= right_ids:
                keys_l.append(a)
                keys_r.append(b)
                continue
            if ia and ib and ia <= right_ids and ib <= left_ids:
                keys_l.append(b)
                keys_r.append(a)
                continue
        rest.append(c)
    return keys_l, keys_r, and_all(rest)


JOIN_TASK_BUILD_ROWS = 262_144
JOIN_SPLIT_MAX = 4


def join_partitions(n: int, build_rows: int) -> int:
    """Partitions of a shuffled hash join with an estimated ``build_rows`` on its build side.

    A task's hash table of much more than ``JOIN_TASK_BUILD_ROWS`` rows misses the CPU caches on
    most probes: at TPC-H SF 10, Q13's 750,000 customers a task made its join probe at ~200 ns a
    row, against ~30 ns with 150,000. So a large build is split into up to ``JOIN_SPLIT_MAX``
    times ``n`` partitions (a multiple of ``n``, so the tasks come in even waves); the operators
    above the join in its stage (a partial aggregation) get the smaller pieces too.

    >>> join_partitions(2, 150_000), join_partitions(2, 1_500_000), join_partitions(2, 60_000_000)
    (2, 6, 8)
    """
    if n <= 1:
        return n
    tasks = -(-int(build_rows) // JOIN_TASK_BUILD_ROWS)
    return min(JOIN_SPLIT_MAX, max(1, -(-tasks // n))) * n


class PhysicalPlanner:
    """Plans one query; ``config.target_partitions`` sets the parallelism."""

    def __init__(self, config: ExecConfig):
        self.config = config
        self.n = max(1, config.target_partitions)

    def plan(self, logical: LogicalPlan) -> ExecNode:
        node = self._plan(logical)
        node = node if node.partitions == 1 else GatherExec(node)
        if self.config.runtime_filters:
            plan_runtime_filters(node)
        return node

    def _plan(self, p: LogicalPlan) -> ExecNode:
        method = getattr(self, "_" + type(p).__name__, None)
        if method is None:
            raise PlanError(f"no physical operator for {type(p).__name__}")
        return method(p)

    # -- leaves -----------------------------------------------------------------------------

    def _Scan(self, p: Scan) -> ExecNode:
        predicate = and_all(list(p.filters))
        source = p.source
        label = source.name if not p.alias or p.alias == source.name else f"{source.name} AS {p.alias}"
        if isinstance(source, ParquetTable):
            if hasattr(source, "for_scan"):
                # a Delta/Iceberg snapshot: the table's metadata drops files before their footers are read
                source = source.for_scan(predicate, p.table_fields)
            parts = max(1, min(self.n, len(source.row_groups)))
            return ParquetScanExec(source, p.table_fields, p.schema, predicate, parts, label,
                                   rowid_field_of(source, p.table_fields))
        if isinstance(source, MemoryTable):
            needed = {f.id for f in p.schema} | (predicate.column_ids() if predicate is not None else set())
            rowid = rowid_field_of(source, p.table_fields)
            read = [f for f in p.table_fields if f.id in needed and f is not rowid]
            table, ids = source.rows_with_ids()
            parts = max(1, min(self.n, table.num_rows // 10_000 + 1))
            if rowid is None or rowid.id not in needed:
                return MemoryScanExec(table, [f.name for f in read], p.schema, predicate, parts, label, read)
            return MemoryScanExec(table, [f.name for f in read], p.schema, predicate, parts, label, read,
                                  rowid=(rowid, ids))
        raise PlanError(f"cannot scan a {type(source).__name__}")

    def _Values(self, p: Values) -> ExecNode:
        return ValuesExec(p.rows, p.fields)

    def _Cached(self, p: Cached) -> ExecNode:
        names = p.table.column_names
        return MemoryScanExec(p.table, names, p.fields, None, 1, p.label, list(p.fields))

    # -- streaming --------------------------------------------------------------------------

    def _Filter(self, p: Filter) -> ExecNode:
        return plan_filter(self._plan(p.input), p.predicate)

    def _Project(self, p: Project) -> ExecNode:
        return plan_project(self._plan(p.input), p.exprs, p.fields)

    # -- Python functions (quarry/physical/udf.py) --------------------------------------------

    def _MapBatches(self, p) -> ExecNode:
        return MapBatchesExec(self._plan(p.input), p.step, p.fields)

    def _MapGroups(self, p) -> ExecNode:
        child = self._plan(p.input)
        # every partition must hold whole groups
        child = RepartitionExec(child, list(p.keys), self.n) if p.keys else \
            (child if child.partitions == 1 else GatherExec(child))
        return MapGroupsExec(child, p.keys, p.step, p.fields)

    def _TableFunctionScan(self, p) -> ExecNode:
        return TableFunctionExec(p.step, p.fields)

    def _Unnest(self, p) -> ExecNode:
        from quarry.physical.unnest import UnnestExec
        return UnnestExec(self._plan(p.input), p.lists, p.fields)

    def _SingleRow(self, p: SingleRow) -> ExecNode:
        child = self._plan(p.input)
        return SingleRowExec(child if child.partitions == 1 else GatherExec(child))

    def _Union(self, p: Union) -> ExecNode:
        return UnionExec([self._plan(c) for c in p.inputs], p.fields)

    # -- blocking ---------------------------------------------------------------------------

    def _Aggregate(self, p: Aggregate) -> ExecNode:
        if needs_keys(p):
            return self._plan(keyed_aggregate(p))
        child = self._plan(p.input)
        keys = list(p.group_exprs)
        if p.grouping_sets is not None or not decomposable(p.aggs):
            exchange = RepartitionExec(child, keys, self.n) if keys and p.grouping_sets is None else GatherExec(child)
            return HashAggregateExec(exchange, "single", p.group_exprs, p.group_fields, p.aggs, p.agg_fields,
                                     p.grouping_sets, p.grouping_id)
        partial = HashAggregateExec(child, "partial", p.group_exprs, p.group_fields, p.aggs, p.agg_fields)
        if isinstance(child, ParquetScanExec):
            # group keys read as dictionaries stay encoded up to the aggregation (see _key_columns)
            child.keep_dictionary_keys = partial.dictionary_key_inputs(child.dictionary_keys)
        if keys:
            exchange: ExecNode = RepartitionExec(partial, [ColumnRef(f) for f in p.group_fields], self.n)
        else:
            exchange = GatherExec(partial)
        return HashAggregateExec(exchange, "final", [ColumnRef(f) for f in p.group_fields], p.group_fields,
                                 p.aggs, p.agg_fields, states=partial.states)

    def _Sort(self, p: Sort) -> ExecNode:
        if any(T.is_nested(k.expr.dtype) for k in p.keys):
            keys = tuple(SortKey(_keyed(k.expr), k.ascending, k.nulls_first) for k in p.keys)
            return self._Sort(Sort(p.input, keys, p.fetch))
        child = self._plan(p.input)
        if child.partitions == 1:
            return SortExec(child, p.keys, p.fetch)
        # each partition sorts (or keeps its top `fetch` rows), then one merge interleaves them
        return MergeSortedExec(SortExec(child, p.keys, p.fetch), p.keys, p.fetch)

    def _Limit(self, p: Limit) -> ExecNode:
        child = self._plan(p.input)
        if p.percent is not None:
            return LimitExec(child if child.partitions == 1 else GatherExec(child), None, p.offset, p.percent)
        if child.partitions == 1:
            return LimitExec(child, p.limit, p.offset)
        local_limit = None if p.limit is None else p.limit + p.offset
        return LimitExec(GatherExec(LimitExec(child, local_limit, 0)), p.limit, p.offset)

    def _Window(self, p: Window) -> ExecNode:
        if any(T.is_nested(e.dtype) for w in p.exprs for e in list(w.partition_by) + [k.expr for k in w.order_by]):
            exprs = tuple(dataclasses.replace(
                w, partition_by=tuple(_keyed(e) for e in w.partition_by),
                order_by=tuple(SortKey(_keyed(k.expr), k.ascending, k.nulls_first) for k in w.order_by))
                for w in p.exprs)
            return self._Window(Window(p.input, exprs, p.fields))
        child = self._plan(p.input)
        parts = {tuple(w.partition_by) for w in p.exprs}
        if len(parts) == 1 and next(iter(parts)):
            child = RepartitionExec(child, list(next(iter(parts))), self.n)
        elif child.partitions != 1:
            child = GatherExec(child)
        return WindowExec(child, p.exprs, p.fields)

    def _SetOp(self, p: SetOp) -> ExecNode:
        left, right = self._plan(p.left), self._plan(p.right)
        keys_l = [ColumnRef(f) for f in p.left.schema]
        keys_r = [ColumnRef(f) for f in p.right.schema]
        left = RepartitionExec(left, keys_l, self.n)
        right = RepartitionExec(right, keys_r, self.n)
        return SetOpExec(left, right, p.kind, p.all, p.fields)

    def _Join(self, p: Join) -> ExecNode:
        left_ids = set(p.left.schema_ids)
        right_ids = set(p.right.schema_ids)
        keys_l, keys_r, residual = split_join_condition(p.condition, left_ids, right_ids)
        keys_l, keys_r = _key_pairs(keys_l, keys_r)
        left, right = self._plan(p.left), self._plan(p.right)
        if not keys_l:
            if p.null_aware:
                raise UnsupportedError("NOT IN with a subquery that has no comparable column")
            if p.kind in ("right", "full"):
                left = left if left.partitions == 1 else GatherExec(left)
                right = right if right.partitions == 1 else GatherExec(right)
            else:
                right = BroadcastExec(right, left.partitions) if left.partitions > 1 else \
                    (right if right.partitions == 1 else GatherExec(right))
            kind = "inner" if p.kind == "cross" else p.kind
            return NestedLoopJoinExec(left, right, kind, p.condition if p.kind != "cross" else None)
        lrows, rrows = estimate_rows(p.left), estimate_rows(p.right)
        build_left = lrows < rrows and not p.null_aware
        small = min(lrows, rrows)
        # a side may be broadcast only if the join never emits its unmatched rows
        can_broadcast_left = p.kind in ("inner", "right")
        can_broadcast_right = p.kind in ("inner", "left", "semi", "anti")
        n = self.n
        if n > 1 and broadcast_pays(small, max(lrows, rrows), n, self.config.broadcast_rows) and (
                (build_left and can_broadcast_left) or (not build_left and can_broadcast_right)):
            if build_left:
                right = right if right.partitions > 1 else RepartitionExec(right, keys_r, n)
                left = BroadcastExec(left, right.partitions)
                # HashJoinExec takes its partition count from the left input
                node = HashJoinExec(left, right, p.kind, keys_l, keys_r, residual, p.null_aware, True, "broadcast")
            else:
                right = BroadcastExec(right, left.partitions)
                node = HashJoinExec(left, right, p.kind, keys_l, keys_r, residual, p.null_aware, False, "broadcast")
            node.estimates = (small, max(lrows, rrows))
            node.build_unfiltered = is_unfiltered_scan(p.left if build_left else p.right)
            return node
        if p.null_aware:
            # NOT IN must see every subquery row in each partition to detect a NULL
            right = BroadcastExec(right, left.partitions)
            return HashJoinExec(left, right, p.kind, keys_l, keys_r, residual, True, False, "broadcast")
        n = join_partitions(n, small)
        left = RepartitionExec(left, keys_l, n)
        right = RepartitionExec(right, keys_r, n)
        node = HashJoinExec(left, right, p.kind, keys_l, keys_r, residual, False, build_left, "partitioned")
        node.estimates = (lrows, rrows) if build_left else (rrows, lrows)      # (build, probe)
        lbase, rbase = base_rows(p.left), base_rows(p.right)
        node.bases = (lbase, rbase) if build_left else (rbase, lbase)
        node.build_unfiltered = is_unfiltered_scan(p.left if build_left else p.right)
        return node
