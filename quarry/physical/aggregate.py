"""Hash aggregation on Arrow's grouped kernels (``Table.group_by``), in three modes.

* ``partial``: group the rows of one partition and emit per-group *states*
  (``avg`` becomes a sum and a count), small enough to shuffle.
* ``final``: merge states that a hash exchange brought together by key.
* ``single``: aggregate raw rows in one step; used for DISTINCT aggregates,
  grouping sets and functions whose states do not merge (median, stddev, ...).

Memory follows the groups, not the input. ``partial`` and ``final`` fold each arriving
batch into per-group states (:class:`GroupStates`): a batch is grouped on its own, its
states join the pending ones, and pending states are merged by key once they outgrow
the states already merged, so the states held are about one row per group. The bytes
held are reserved from the run's budget (``ctx.memory``); when a reservation is refused:

* ``partial`` emits its states early and starts again empty (the final phase merges
  states anyway), so it never holds more than the budget, whatever its input;
* ``final`` and ``single`` with group keys spill: rows go to spill files by a seeded
  hash of the group keys, and each file is then grouped alone (its keys occur in no
  other file). A file bigger than the whole budget is split again with another seed,
  at most ``MAX_RESPLITS`` times (a single huge group cannot split); then it is
  grouped in memory over the limit;
* keyless aggregates and grouping sets never spill: see ``HashAggregateExec``.

``single`` (DISTINCT aggregates, grouping sets, median, stddev ...) holds its input
rows, since their states do not merge.

Decimal sums take 64-bit integers where the values allow it (``compute/scaled.py``):
a batch's ``sum(price * (1 - discount))`` is an int64 sum of unscaled integers when
its rows times their largest magnitude stay below 2**63, exact, and only the per-group
sums become DECIMAL(38, s) states.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pyarrow.acero as acero
import pyarrow.compute as pc

from quarry.errors import DataError, ExecutionError
from quarry.logical import types as T
from quarry.logical.expressions import AggCall, ColumnRef, Field, new_id
from quarry.physical.base import ExecNode, batches_of
from quarry.compute.expr_eval import evaluate_array
from quarry.compute.kernels import cast_value
from quarry.compute.hashing import canonical_key, pack_short_strings, unpack_short_strings
from quarry.compute.nested_kernels import sort_key
from quarry.compute.scaled import (Scaled, column_as_int64, int64_to_decimal, scaled, to_decimal_array,
                                   to_int64_array)
from quarry.physical.spill import SPILL_SEED, HashSpill
from quarry.compute.udf import grouped_udaf, udaf_positions
from quarry.logical.udf import UDAFCall
from quarry.logical.expressions import Literal
from quarry.logical.functions import ROW_AGGREGATES, quantile_fractions
from quarry.parallelism import arrow_threads

MAX_RESPLITS = 2   # times a spill file too big for the budget is split again before it is grouped anyway

# function -> list of (state function for partial, merge function for final)
DECOMPOSABLE = {
    "sum": [("sum", "sum")],
    "count": [("count", "sum")],
    "count_star": [("count_all", "sum")],
    "avg": [("sum", "sum"), ("count", "sum")],
    "min": [("min", "min")],
    "max": [("max", "max")],
    # "one" (any value) rather than "first": Arrow refuses ordered aggregators when grouping on threads
    "any_value": [("one", "one")],
    "bool_and": [("all", "all")],
    "bool_or": [("any", "any")],
}


def decomposable(aggs) -> bool:
    # any_value of a LIST/STRUCT/MAP: Arrow's "one" has no kernel for them (see _single_keys)
    return all(a.name in DECOMPOSABLE and not a.distinct and not (a.args and T.is_nested(a.args[0].dtype))
               for a in aggs)


def state_fields(aggs: tuple[AggCall, ...]) -> list[list[Field]]:
    """The partial-state columns of each aggregate."""
    out = []
    for a in aggs:
        fields = []
        for j, (fn, _) in enumerate(DECOMPOSABLE[a.name]):
            if fn in ("count", "count_all"):
                t = T.INT64
            elif a.name == "avg":
                t = a.args[0].dtype if fn == "sum" else T.INT64
                t = pa.decimal128(38, t.scale) if T.is_decimal(t) else (T.FLOAT64 if T.is_float(t) else T.INT64)
            elif fn == "sum" and T.is_decimal(a.dtype):
                t = a.dtype
            else:
                t = a.dtype
            fields.append(Field(f"{a.name}_state{j}", t, True, new_id()))
        out.append(fields)
    return out


# aggregate functions Arrow offers only grouped (no scalar kernel of the same name)
_GROUPED_ONLY = {"one", "list", "distinct"}


def _aggregate(table: pa.Table, keys: list[str], specs: list[tuple[str, str, object]], *,
               nan_flags: bool = True) -> pa.Table:
    """Run Arrow's grouped aggregation; returns keys then one column per spec, in order.

    Without keys it is a grand total of exactly one row, also over empty input (counts
    0, everything else NULL), including for functions Arrow has only in grouped form.
    """
    if not specs and not keys:
        return table.select([])
    table, specs, nan_max = _with_nan_flags(table, specs) if nan_flags else (table, specs, [])
    names = [f"{col}_{fn}" if col else fn for col, fn, _ in specs]
    if nan_max:
        result = _aggregate(table, keys, specs, nan_flags=False)
        for name, flag in nan_max:
            i = result.schema.get_field_index(name)
            hit = pc.fill_null(result.column(flag), False)
            fixed = pc.if_else(hit, pa.scalar(float("nan"), result.schema.field(i).type), result.column(i))
            result = result.set_column(i, name, fixed)
        return result.drop_columns([flag for _, flag in nan_max])
    if not keys and any(fn in _GROUPED_ONLY for _, fn, _ in specs):
        work = table.append_column("__all", pa.array(np.zeros(table.num_rows, dtype=np.int8)))
        result = work.group_by(["__all"], use_threads=arrow_threads()).aggregate(specs)
        if result.num_rows == 0:
            return pa.table({name: pa.array([0], pa.int64()) if fn in ("count", "count_all", "count_distinct")
                             else pa.nulls(1, result.schema.field(name).type)
                             for name, (_, fn, _) in zip(names, specs)})
        return result.select(names)
    result = table.group_by(keys, use_threads=arrow_threads()).aggregate(specs)
    return result.select(keys + names) if result.num_columns else result


_COUNT_VALID = pc.CountOptions(mode="only_valid")
RUNS_MAX_FRACTION = 0.25     # runs of equal keys per row at most, for grouping by runs to pay (keys
                             # not in order: hashing may find far fewer groups than there are runs)


def _run_key_type(t: pa.DataType) -> bool:
    """Key types whose equality ``pc.not_equal`` decides as grouping does (no floats: NaN and -0.0)."""
    return (pa.types.is_integer(t) or pa.types.is_date(t) or pa.types.is_timestamp(t) or pa.types.is_decimal(t)
            or pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
            or pa.types.is_boolean(t))


def _run_starts(table: pa.Table, keys: list[str], exact: bool = False) -> np.ndarray | None:
    """Where each run of equal keys starts, or None when the keys cannot be compared so or repeat
    too little in a row for runs to pay (see :func:`aggregate_runs`). With ``exact`` the runs must
    be the groups: one key, without NULLs, in order (the caller puts it so, :func:`_in_key_order`)."""
    n = table.num_rows
    if n < 2 or not keys or exact and len(keys) != 1:
        return None
    change = None
    ordered = None          # whether the first key is in order (checked once, when needed)
    for name in keys:
        col = table.column(name)
        if not _run_key_type(col.type):
            return None
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        after, before = col.slice(1), col.slice(0, n - 1)
        ne = pc.not_equal(after, before)
        if col.null_count:
            # NULL keys are one group: a run goes on across two NULLs and ends at a NULL next to a value
            ne = pc.if_else(pc.is_null(ne), pc.xor(pc.is_null(after), pc.is_null(before)), ne)
        ne = np.asarray(ne.to_numpy(zero_copy_only=False), dtype=bool)
        if change is None:
            first = (col, after, before)
        change = ne if change is None else change | ne
        if exact:
            break
        # stop early once the keys so far change too often (a later key only adds runs), unless the
        # first key is in order: then its runs are its groups, as many as hashing would give (and
        # later keys only split them, usually not at all: Q3's o_orderdate is l_orderkey's)
        if np.count_nonzero(change) + 1 > RUNS_MAX_FRACTION * n:
            if ordered is None:
                key, key_after, key_before = first
                ordered = key.null_count == 0 and not pc.any(pc.less(key_after, key_before)).as_py()
            if not ordered:
                return None
    return np.concatenate(([0], np.flatnonzero(change) + 1))


RESORT_MAX_DESCENTS = 64     # a final's key out of order at most this often is sorted (timsort: ~linear)


def _in_key_order(table: pa.Table, key: str) -> pa.Table | None:
    """``table`` in the order of its integer ``key`` when it is nearly in that order already (the
    merged states of one ordered scan, a few sorted pieces): a stable argsort of few sorted runs
    is about linear; None when the key has NULLs, is no integer, or is far from ordered."""
    col = table.column(key)
    if col.null_count or not (pa.types.is_integer(col.type) or pa.types.is_date(col.type)):
        return table if not col.null_count and table.num_rows < 2 else None
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    ints = col.view(pa.int32() if pa.types.is_date32(col.type) else col.type) \
        if pa.types.is_date(col.type) else col
    k = ints.to_numpy(zero_copy_only=False)
    descents = int(np.count_nonzero(k[1:] < k[:-1]))
    if descents == 0:
        return table
    if descents > RESORT_MAX_DESCENTS:
        return None
    return table.take(pa.array(np.argsort(k, kind="stable")))


def aggregate_runs(table: pa.Table, keys: list[str], specs, exact: bool = False) -> pa.Table | None:
    """Partial aggregation of ``table`` by runs of equal keys, when its rows come clustered by key.

    A scan of a table stored in key order (lineitem by l_orderkey in TPC-H Q18's subquery) brings
    each group's rows one after the other; Arrow's hash grouping still hashes and probes every row
    (about 1.9 s for 6M rows into 1.5M groups), while the runs' boundaries are one comparison of
    neighbours and each aggregate one ``np.<op>.reduceat`` (about 0.1 s). A key that recurs in a
    later run gives another row with the same key: a partial aggregation's output may repeat keys,
    the final phase merges them. With ``exact`` (a final phase) runs are used only when they are
    the groups: one key, in order (the states of one partition's ordered scan, as Q18's are).
    Returns keys then one column per spec, as :func:`_aggregate`,
    or None when the input is not clustered enough or a spec has no exact numpy equivalent here
    (then Arrow groups it).
    """
    plan = []
    for col, fn, opts in specs:
        t = table.schema.field(col).type
        if fn == "count" and opts == _COUNT_VALID:
            plan.append((col, fn))
        elif fn == "sum" and (pa.types.is_int64(t) or pa.types.is_float64(t)):
            plan.append((col, fn))
        elif fn == "sum" and pa.types.is_decimal128(t):
            plan.append((col, "decimal_sum"))     # states of decimal sums: exact in int64 when they fit
        elif fn in ("min", "max") and (pa.types.is_int64(t) or pa.types.is_int32(t) or pa.types.is_date32(t)):
            plan.append((col, fn))
        else:
            return None
    if exact and len(keys) == 1:
        table = _in_key_order(table, keys[0])
        if table is None:
            return None
    starts = _run_starts(table, keys, exact)
    if starts is None:
        return None
    n = table.num_rows
    out_cols, names = [], []
    at = pa.array(starts)
    for name in keys:
        out_cols.append(table.column(name).take(at))
        names.append(name)
    valid_counts: dict[str, np.ndarray] = {}

    def valid_count(col: str) -> np.ndarray:
        if col not in valid_counts:
            arr = table.column(col)
            if arr.null_count == 0:
                ends = np.append(starts[1:], table.num_rows)
                valid_counts[col] = (ends - starts).astype(np.int64)
            else:
                valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=np.int64)
                valid_counts[col] = np.add.reduceat(valid, starts)
        return valid_counts[col]

    for col, fn in plan:
        arr = table.column(col)
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        counts = valid_count(col)
        if fn == "count":
            out_cols.append(pa.array(counts, pa.int64()))
        elif fn == "decimal_sum":
            ints = column_as_int64(arr)
            if ints is None or ints.bound * n > INT64_SUM_LIMIT:
                return None
            values = ints.values if ints.valid is None else np.where(ints.valid, ints.values, 0)
            sums = np.add.reduceat(values, starts)
            out_cols.append(to_decimal_array(Scaled(sums, arr.type.scale, 0, counts > 0 if (counts == 0).any()
                                                    else None), arr.type, len(sums)))
            fn = "sum"
        else:
            t = arr.type
            physical = t if not pa.types.is_date32(t) else pa.int32()
            if fn == "sum":
                fill = 0
            elif pa.types.is_int64(physical):
                fill = np.iinfo(np.int64).max if fn == "min" else np.iinfo(np.int64).min
            else:
                fill = np.iinfo(np.int32).max if fn == "min" else np.iinfo(np.int32).min
            values = arr.view(physical) if physical != t else arr
            if values.null_count:
                values = values.fill_null(pa.scalar(fill, physical))
            values = values.to_numpy(zero_copy_only=False)
            op = {"sum": np.add, "min": np.minimum, "max": np.maximum}[fn]
            with np.errstate(over="ignore"):
                reduced = op.reduceat(values, starts)     # int64 sums wrap as Arrow's do
            empty = counts == 0
            result = pa.array(reduced, physical, mask=empty if empty.any() else None)
            out_cols.append(result.view(t) if physical != t else result)
        names.append(f"{col}_{fn}")
    return pa.Table.from_arrays(out_cols, names=names)


def _with_nan_flags(table: pa.Table, specs):
    """Arrow's ``max`` passes over NaN, DuckDB's NaN is above every number: for each float ``max``
    over a column holding a NaN, a flag column (its ``any`` per group) that puts NaN in its place.
    ``(table, specs, [(max result name, flag result name)])``; nothing changes without a NaN."""
    fixes = []
    for col, fn, _ in list(specs):
        if fn != "max" or not col or not pa.types.is_floating(table.schema.field(col).type):
            continue
        mask = pc.is_nan(table.column(col))
        if not pc.any(mask).as_py():
            continue
        flag = f"__nanflag{len(fixes)}_{col}"
        table = table.append_column(flag, mask)
        specs = list(specs) + [(flag, "any", pc.ScalarAggregateOptions(skip_nulls=True, min_count=1))]
        fixes.append((f"{col}_max", f"{flag}_any"))
    return table, specs, fixes


def _options(fn: str, distinct=False):
    if fn in ("count", "count_distinct"):
        return pc.CountOptions(mode="only_valid")
    if fn == "count_all_valid":
        return pc.CountOptions(mode="all")
    if fn in ("sum", "min", "max", "mean", "all", "any", "product", "first"):
        return pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)
    return None


class HashAggregateExec(ExecNode):
    """GROUP BY ``group_exprs`` computing ``aggs`` (see the module docstring for the modes).

    Over the memory budget, ``partial`` emits early and keyed ``final``/``single``
    spill (metrics ``spill_bytes``, ``spill_files``, ``early_emits``; present only
    when it happened). Two cases hold their input over the limit instead:

    * no group keys: ``final`` merges one state row per input partition, tiny; a
      keyless ``single`` (median, DISTINCT, ...) is one group, which no hash can split;
    * grouping sets: each set groups by a different subset of the keys, so a row
      hash on all keys would split the groups of the coarser sets (the grand total
      above all) across files; spilling them would need one spill per set.
    """

    name = "HashAggregate"

    def __init__(self, child: ExecNode, mode: str, group_exprs, group_fields, aggs, agg_fields,
                 grouping_sets=None, grouping_id: Field | None = None, states=None):
        self.mode = mode
        self.group_exprs = tuple(group_exprs)
        self.group_fields = tuple(group_fields)
        self.aggs = tuple(aggs)
        self.agg_fields = tuple(agg_fields)
        self.grouping_sets = grouping_sets
        self.grouping_id = grouping_id
        # the final phase reads the state columns its partial phase wrote
        self.states = states if states is not None else (
            state_fields(self.aggs) if mode in ("partial", "final") else None)
        if mode == "partial":
            out = list(self.group_fields) + [f for fs in self.states for f in fs]
        else:
            out = list(self.group_fields) + list(self.agg_fields) + ([grouping_id] if grouping_id else [])
        super().__init__([child], out, child.partitions)

    def describe(self):
        groups = ", ".join(f.name if self.mode == "final" else str(e)
                           for e, f in zip(self.group_exprs, self.group_fields))
        aggs = ", ".join(str(a) for a in self.aggs)
        text = f"HashAggregate({self.mode}): group=[{groups}] aggs=[{aggs}]"
        if self.grouping_sets is not None:
            text += f" sets={len(self.grouping_sets)}"
        return text

    def _execute(self, partition, ctx):
        if self.mode == "partial":
            yield from self._execute_partial(partition, ctx)
        elif self.group_exprs and self.grouping_sets is None:
            yield from self._execute_spillable(partition, ctx)
        else:
            yield from self._execute_in_memory(partition, ctx)

    def _group(self, table: pa.Table) -> pa.Table:
        """This mode's aggregation of ``table`` (all rows of the groups it contains)."""
        if self.mode == "final":
            return self._final(table)
        if self.mode == "partial":
            return self._partial(table)
        return self._single(table)

    def _execute_in_memory(self, partition, ctx):
        """Keyless or grouping sets: hold the whole partition (reserved even over the limit)."""
        budget = ctx.memory
        batches, reserved = [], 0
        try:
            for batch in self.children[0].execute(partition, ctx):
                budget.reserve(batch.nbytes)
                reserved += batch.nbytes
                batches.append(batch)
            out = self._group(_table_of(batches, self.children[0].schema))
            del batches
        finally:
            budget.release(reserved)
        if not self.group_fields and out.num_rows == 0:
            return
        yield from batches_of(out, ctx.config.batch_rows)

    def _execute_partial(self, partition, ctx):
        """Fold the input into the group states; emit them early whenever the budget is full.

        With group keys the input is grouped in chunks, each one streaming Acero aggregation
        over up to ``CHUNK_ROWS`` rows whose hash table is reserved by an estimate (rows times
        the groups per row seen so far); the chunks' states are merged in :class:`GroupStates`.
        Without keys every batch is one row of states, merged as it comes.
        """
        budget = ctx.memory
        states = GroupStates(self, budget, grouped=True)
        emitted = False

        def emit(new_states: pa.Table):
            nonlocal emitted
            if states.futile:
                # merging stopped paying: pass the states on (the final phase merges them)
                emitted = True
                if states.rows:
                    yield from batches_of(states.take(), ctx.config.batch_rows)
                yield from batches_of(new_states, ctx.config.batch_rows)
                return
            if not states.add(new_states):
                self.add_metric("early_emits", 1)
                emitted = True
                if states.rows:
                    yield from batches_of(states.take(), ctx.config.batch_rows)
                if not states.add(new_states):
                    yield from batches_of(new_states, ctx.config.batch_rows)   # bigger than the budget

        try:
            source = _Pushback(self.children[0].execute(partition, ctx))
            if self.group_exprs:
                # the first batch is grouped alone: its groups per row say how big the hash table of
                # a chunk may grow (reserved before it does); each chunk then updates the ratio
                ratio = 1.0
                first = next(source, None)
                if first is not None:
                    first_states = self._partial(_as_table(first))
                    ratio = min(1.0, max(first_states.num_rows / max(first.num_rows, 1), 1 / CHUNK_ROWS))
                    yield from emit(first_states)
                while first is not None:
                    chunk = _Chunk(self, source, budget, ratio)
                    try:
                        result = self._aggregate_chunk(chunk)
                    finally:
                        chunk.release()
                    if result is None:
                        break
                    chunk_states = self._states_of(result)
                    self.note_peak("peak_reserved_bytes", chunk.peak + states.reserved)
                    ratio = min(1.0, max(chunk_states.num_rows / max(chunk.rows, 1), 1 / CHUNK_ROWS))
                    yield from emit(chunk_states)
            else:
                yield from self._keyless_partials(source, budget, emit)
            if states.rows or not emitted:
                # (a keyless partial over no rows still emits its one row of empty states)
                out = states.take() if states.rows else self._partial(self.children[0].schema.empty_table())
                yield from batches_of(out, ctx.config.batch_rows)
        finally:
            states.release()
            self.note_peak("peak_reserved_bytes", states.peak)

    def _keyless_partials(self, source, budget, emit):
        """A keyless partial aggregation's states, one row per ``KEYLESS_ROWS`` input rows: below a
        selective filter batches hold a few thousand rows (TPC-H Q6: 2,000 of a row group's 114,000),
        and one aggregation per batch cost more in calls than in rows. The batches waiting are
        reserved from ``budget``; one that cannot be is aggregated at once, with those before it."""
        held: list[pa.Table] = []
        rows = reserved = 0
        try:
            for batch in source:
                table = _as_table(batch)
                if budget.try_reserve(table.nbytes):
                    held.append(table)
                    rows += table.num_rows
                    reserved += table.nbytes
                    if rows < KEYLESS_ROWS:
                        continue
                else:
                    held.append(table)
                yield from emit(self._partial(_concat_tables(held)))
                held, rows = [], 0
                budget.release(reserved)
                reserved = 0
            if held:
                yield from emit(self._partial(_concat_tables(held)))
        finally:
            budget.release(reserved)

    def _execute_spillable(self, partition, ctx):
        """Keyed ``final``/``single``: group in memory, or spill by key and group file by file.

        ``final`` merges arriving states as they come (memory follows the groups); ``single``
        holds its rows. Either spills everything once the budget refuses what it holds.
        """
        budget = ctx.memory
        schema = self.children[0].schema
        merging = self.mode == "final"
        states = GroupStates(self, budget, grouped=False) if merging else None
        batches, reserved, spill = [], 0, None
        try:
            for batch in self.children[0].execute(partition, ctx):
                if spill is None:
                    if merging:
                        if states.add(_as_table(batch)):
                            continue
                        held = [t for t in [states.take()] if t is not None]
                    else:
                        if budget.try_reserve(batch.nbytes):
                            reserved += batch.nbytes
                            self.note_peak("peak_reserved_bytes", reserved)
                            batches.append(batch)
                            continue
                        held, batches = batches, []
                        budget.release(reserved)
                        reserved = 0
                    spill = HashSpill(budget, schema, seed=SPILL_SEED)
                    for piece in held:
                        spill.write(piece, self._spill_keys(piece))
                    del held
                spill.write(batch, self._spill_keys(batch))
            if spill is None:
                if merging:
                    taken = states.take()
                    out = self._finish_states(taken if taken is not None else self._merge_states(schema.empty_table()))
                else:
                    out = self._group(_table_of(batches, schema))
                    batches = []
                    budget.release(reserved)
                    reserved = 0
                yield from batches_of(out, ctx.config.batch_rows)
                return
            for out in self._group_spilled(spill, budget, 0):
                yield from batches_of(out, ctx.config.batch_rows)
        finally:
            budget.release(reserved)
            if states is not None:
                states.release()
                self.note_peak("peak_reserved_bytes", states.peak)
            if spill is not None:
                spill.delete()

    def _spill_keys(self, batch) -> list:
        """The group key columns of ``batch``, which decide its rows' spill files."""
        if self.mode == "final":
            return [batch.column(f.key) for f in self.group_fields]
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        return [evaluate_array(e, table) for e in self.group_exprs]

    def _group_spilled(self, spill: HashSpill, budget, depth: int):
        """Group each spill file alone (files share no key), deleting it once grouped."""
        files = spill.finish()
        self.add_metric("spill_bytes", spill.nbytes)
        self.add_metric("spill_files", spill.file_count)
        for bucket, f in enumerate(files):
            if f is None:
                continue
            if f.nbytes > budget.limit and depth < MAX_RESPLITS and f.rows > 1:
                inner = HashSpill(budget, spill.schema, seed=spill.seed + 1)
                try:
                    for batch in f.batches():
                        inner.write(batch, self._spill_keys(batch))
                    f.delete()
                    yield from self._group_spilled(inner, budget, depth + 1 if inner.file_count > 1
                                                   else MAX_RESPLITS)   # one key only: stop splitting
                finally:
                    inner.delete()
                continue
            budget.reserve(f.nbytes)
            try:
                out = self._group(f.read_all())
            finally:
                budget.release(f.nbytes)
            f.delete()
            spill.files[bucket] = None
            yield out

    # -- helpers -------------------------------------------------------------------------------

    def dictionary_key_inputs(self, dictionary_keys: frozenset[str]) -> frozenset[str]:
        """The input columns among ``dictionary_keys`` this aggregation may receive dictionary-encoded:
        those it reads only as plain group keys (see ``_key_columns``)."""
        plain = [e.field for e in self.group_exprs if isinstance(e, ColumnRef)]
        other: set[int] = set()          # columns read anywhere else
        for e in self.group_exprs:
            if not isinstance(e, ColumnRef):
                other |= e.column_ids()
        for a in self.aggs:
            filt = getattr(a, "filter", None)
            for x in list(getattr(a, "args", ())) + ([filt] if filt is not None else []):
                other |= x.column_ids()
        return frozenset(f.key for f in plain if f.key in dictionary_keys and f.id not in other)

    def _key_columns(self, table: pa.Table, packed: bool = False) -> dict[str, pa.Array]:
        """The group keys of ``table`` as the grouping sees them. A dictionary-encoded key (a scan
        below passes some on, see ``dictionary_key_inputs``) is decoded; with ``packed`` one whose
        values are short strings of one length becomes their packed integers (see
        ``pack_short_strings``), made from the dictionary's few values and taken by the indices,
        which costs far less than decoding the strings."""
        cols = {}
        for j, e in enumerate(self.group_exprs):
            col = evaluate_array(e, table)
            if pa.types.is_dictionary(col.type):
                col = _dictionary_key(col, packed)
            cols[f"__k{j}"] = canonical_key(col)
        return cols

    def _arg_column(self, a: AggCall, table: pa.Table, n: int):
        if a.name == "count_star":
            col = pa.array(np.ones(n, dtype=np.bool_))
        else:
            col = evaluate_array(a.args[0], table)
            if a.distinct:
                col = canonical_key(col)
        if a.filter is not None:
            mask = pc.fill_null(evaluate_array(a.filter, table), False)
            col = pc.if_else(mask, col, pa.scalar(None, col.type))
        return col

    def _partial(self, table: pa.Table) -> pa.Table:
        """The states of ``table``'s groups (one row per group, or per run of equal keys when the rows
        come clustered by key: see :func:`aggregate_runs`), in this node's output schema."""
        work, _ = self._prepare(table)
        keys = self._key_columns_names()
        specs = self._partial_specs()
        result = aggregate_runs(work, keys, specs) if keys else None
        if result is None:
            result = _aggregate(work, keys, specs)
        return self._states_of(self._expand_states(result, len(keys)))

    def _prepare(self, table: pa.Table) -> tuple[pa.Table, int]:
        """The columns a partial aggregation groups: keys ``__k<j>``, then one argument ``__a<i>`` per
        distinct aggregate argument (see ``_argument_slots``); and the largest magnitude among the
        int64 sum arguments (0 if none).

        A decimal ``sum``/``avg`` argument is its unscaled int64 values when their sum over ``table``
        cannot overflow 64 bits (rows times the largest magnitude below 2**63); the int64 per-group
        sums become the DECIMAL(38, s) states in ``_states_of``."""
        n = table.num_rows
        cols = self._key_columns(table, packed=True)
        for name, key in cols.items():
            packed = pack_short_strings(key)        # unpacked in _expand_states
            if packed is not None:
                cols[name] = packed
        shared: dict = {}        # scaled subexpressions shared by this batch's aggregates
        bound = 0
        slots, _ = self._partial_layout()
        for i, a in enumerate(self.aggs):
            name = f"__a{slots[i]}"
            if name in cols:
                continue                     # an earlier aggregate has the same argument
            value = self._int64_sum_value(a, table, shared)
            if value is not None:
                arg = to_int64_array(value, n)
                bound = max(bound, value.bound)
            else:
                arg = self._arg_column(a, table, n)
                if a.name == "avg" and not T.is_decimal(arg.type) and not T.is_integer(arg.type):
                    arg = cast_value(arg, T.FLOAT64)
            cols[name] = arg
        return (pa.table(cols) if cols else pa.table({"__dummy": pa.nulls(n)})), bound

    def _partial_layout(self) -> tuple[list[int], list[tuple[int, str]]]:
        """Which argument column each aggregate reads, and the distinct (column, function) pairs.

        Aggregates that read the same argument share one column, and one Arrow aggregation serves
        every state that computes the same function of it: TPC-H Q1's ``sum(l_quantity)`` and
        ``avg(l_quantity)`` sum ``l_quantity`` once, and its four ``count``s of whole rows are one.
        Returns (argument slot per aggregate, the pairs in the order Arrow computes them).
        """
        cached = self.__dict__.get("_layout")
        if cached is not None:
            return cached
        def signature(a, family):
            as_double = a.name == "avg" and not (T.is_decimal(a.args[0].dtype) or T.is_integer(a.args[0].dtype))
            return (family, a.args, a.filter, a.distinct, as_double)

        # sum and avg read the argument as int64 scaled values where they can (the same decision
        # for both; avg of other numbers as float64); a count of the same argument counts that
        # column's non-NULL rows, which are the argument's
        summed = {signature(a, "sum") for a in self.aggs if a.name in ("sum", "avg")}
        slot_of: dict = {}
        slots = []
        for a in self.aggs:
            if a.name == "count_star":
                key = ("count_star", a.filter)
            elif a.name in ("sum", "avg"):
                key = signature(a, "sum")
            elif a.name == "count" and signature(a, "sum") in summed:
                key = signature(a, "sum")
            else:
                key = signature(a, "value")
            slots.append(slot_of.setdefault(key, len(slot_of)))
        pairs: list[tuple[int, str]] = []
        for i, a in enumerate(self.aggs):
            for fn, _ in DECOMPOSABLE[a.name]:
                pair = (slots[i], "count" if fn == "count_all" else fn)
                if pair not in pairs:
                    pairs.append(pair)
        self.__dict__["_layout"] = (slots, pairs)
        return slots, pairs

    def _partial_specs(self) -> list[tuple[str, str, object]]:
        """The distinct Arrow aggregations of a partial aggregation (see ``_partial_layout``)."""
        _, pairs = self._partial_layout()
        return [(f"__a{slot}", fn, _options(fn)) for slot, fn in pairs]

    def _expand_states(self, result: pa.Table, nkeys: int) -> pa.Table:
        """Keys then one column per distinct aggregation -> keys then every aggregate's states."""
        slots, pairs = self._partial_layout()
        columns = []
        for j in range(nkeys):
            key, dtype = result.column(j), self.group_fields[j].dtype
            if pa.types.is_uint64(key.type) and (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)):
                key = unpack_short_strings(key, dtype)       # packed in _prepare
            columns.append(key)
        for i, a in enumerate(self.aggs):
            for fn, _ in DECOMPOSABLE[a.name]:
                columns.append(result.column(nkeys + pairs.index((slots[i], "count" if fn == "count_all" else fn))))
        return pa.Table.from_arrays(columns, names=[f"c{j}" for j in range(len(columns))])

    def _states_of(self, result: pa.Table) -> pa.Table:
        return self._rename(result, list(self.group_fields) + [f for fs in self.states for f in fs])

    def _int64_sum_value(self, a: AggCall, table: pa.Table, shared: dict):
        """The scaled int64 values of a decimal ``sum``/``avg`` argument over ``table`` when their sum
        cannot overflow (see ``_prepare``), else None."""
        if a.name not in ("sum", "avg") or a.filter is not None or not T.is_decimal(a.args[0].dtype):
            return None
        value = scaled(a.args[0], table, shared)
        if value is None or value.is_constant or value.scale != a.args[0].dtype.scale \
                or value.bound * max(table.num_rows, 1) > INT64_SUM_LIMIT:
            return None
        return value

    def _aggregate_chunk(self, chunk: "_Chunk") -> pa.Table | None:
        """Group a chunk's batches in one streaming Acero aggregation (one hash table, fed batch by batch);
        None when the input had no batch left."""
        first = chunk.first()
        if first is None:
            return None
        specs = self._partial_specs()
        keys = self._key_columns_names()
        batches = chunk.batches()
        parts = []
        if keys:
            # rows clustered by key are grouped batch by batch by runs, while they stay clustered;
            # the first batch that is not goes to Arrow's grouping with the rest of the chunk
            for batch in batches:
                runs = aggregate_runs(pa.Table.from_batches([batch]), keys, specs)
                if runs is None:
                    batches = itertools.chain([batch], batches)
                    break
                self.add_metric("run_grouped_rows", batch.num_rows)
                parts.append(runs)
            else:
                return self._expand_states(pa.concat_tables(parts), len(keys))
        aggregates = [(col, "hash_" + fn, opts, f"{col}_{fn}") for col, fn, opts in specs]
        reader = pa.RecordBatchReader.from_batches(first.schema, batches)
        decl = acero.Declaration.from_sequence([
            acero.Declaration("record_batch_reader_source", acero.RecordBatchReaderSourceNodeOptions(reader)),
            acero.Declaration("aggregate", acero.AggregateNodeOptions(aggregates, keys=keys))])
        # serial, like the streaming join: no read-ahead past a cancel
        result = decl.to_table(use_threads=False).select(keys + [name for *_, name in aggregates])
        if parts:
            result = pa.concat_tables(parts + [result.cast(parts[0].schema)])
        return self._expand_states(result, len(keys))

    def _key_columns_names(self):
        return [f"__k{j}" for j in range(len(self.group_exprs))]

    def _final(self, table: pa.Table) -> pa.Table:
        """Merge the states in ``table`` by key and finish each aggregate's value."""
        return self._finish_states(self._merge_states(table))

    def _merge_states(self, table: pa.Table) -> pa.Table:
        """States (this node's input schema for ``final``, its output for ``partial``) merged by key:
        one row per group, in the same schema."""
        keys = self.group_fields
        cols = {f"__k{j}": table.column(j) for j in range(len(keys))}
        specs = []
        pos = len(keys)
        for i, (a, fs) in enumerate(zip(self.aggs, self.states)):
            for j, ((_, merge), f) in enumerate(zip(DECOMPOSABLE[a.name], fs)):
                cols[f"__s{i}_{j}"] = table.column(pos)
                pos += 1
                specs.append((f"__s{i}_{j}", merge, _options(merge)))
        work = pa.table(cols) if cols else pa.table({"__dummy": pa.nulls(table.num_rows)})
        key_names = self._key_columns_names()[:len(keys)]
        merged = aggregate_runs(work, key_names, specs, exact=True) if key_names else None
        if merged is None:
            merged = _aggregate(work, key_names, specs)
        return pa.Table.from_arrays(
            [c if c.type == t else cast_value(c, t) for c, t in zip(merged.columns, table.schema.types)],
            schema=table.schema)

    def _finish_states(self, merged: pa.Table) -> pa.Table:
        """The final values of merged states (one row per group)."""
        arrays = [merged.column(j) for j in range(len(self.group_fields))]
        pos = len(self.group_fields)
        for a, fs in zip(self.aggs, self.states):
            vals = [merged.column(pos + j) for j in range(len(fs))]
            pos += len(fs)
            arrays.append(self._finish(a, vals))
        return self._assemble(arrays)

    def _finish(self, a: AggCall, vals) -> pa.Array:
        if a.name in ("count", "count_star"):
            return pc.fill_null(cast_value(vals[0], T.INT64), 0)
        if a.name == "avg":
            total, count = vals
            total = cast_value(total, T.FLOAT64)
            count = cast_value(count, T.FLOAT64)
            return pc.if_else(pc.equal(count, 0.0), pa.scalar(None, T.FLOAT64), pc.divide(total, count))
        return cast_value(vals[0], a.dtype)

    def _single(self, table: pa.Table) -> pa.Table:
        if self.grouping_sets is not None:
            return self._grouping_sets(table)
        arrays, _ = self._single_keys(table, list(range(len(self.group_exprs))))
        return self._assemble(arrays)

    def _single_keys(self, table: pa.Table, key_positions: list[int]):
        """Aggregate raw rows grouped by the keys at ``key_positions``: (arrays, positions)."""
        n = table.num_rows
        all_keys = self._key_columns(table)
        key_names = [f"__k{j}" for j in key_positions]
        cols = {k: all_keys[k] for k in key_names}
        specs = []
        post = []   # per agg: how to finish
        for i, a in enumerate(self.aggs):
            name = f"__a{i}"
            if isinstance(a, UDAFCall):
                # a Python aggregate: each group's row positions, handed to the function (compute/udf.py)
                cols[name] = udaf_positions(a, table)
                specs.append((name, "list", None))
                post.append(("udaf", i))
                continue
            if a.name == "any_value" and T.is_nested(a.dtype):
                # a nested value: the first row where it is not NULL, by the smallest such position
                valid = pc.fill_null(pc.is_valid(self._arg_column(a, table, n)), False)
                cols[name] = pc.if_else(valid, pa.array(np.arange(n, dtype=np.int64)), pa.scalar(None, pa.int64()))
                specs.append((name, "min", _options("min")))
                post.append(("any_nested", i))
                continue
            if a.name in ("min", "max") and T.is_nested(a.dtype):
                # a nested value: the smallest (largest) sort key, with the row position appended
                # (keys are prefix-free, so the order stays the keys'), gives the row to take it from
                arg = self._arg_column(a, table, n)
                arg = arg.combine_chunks() if isinstance(arg, pa.ChunkedArray) else arg
                rows = np.arange(n, dtype=">u8").view(np.uint8)
                where = pa.FixedSizeBinaryArray.from_buffers(pa.binary(8), n, [None, pa.py_buffer(rows.tobytes())])
                cols[name] = pc.binary_join_element_wise(sort_key(arg, n), where.cast(pa.binary()), b"")
                specs.append((name, a.name, _options(a.name)))
                post.append(("nested_extreme", i))
                continue
            if a.name == "array_agg" and a.distinct:
                # the row positions of each group's first row of every distinct value (NULL one of
                # them), put in order as array_agg's are
                values = evaluate_array(a.args[0], table)
                cols[name] = first_of_each_value(values, [cols[k] for k in key_names], udaf_positions(a, table))
                specs.append((name, "list", None))
                post.append(("array_agg", i))
                continue
            if a.name == "string_agg" and (len(a.args) > 2 or a.distinct) or a.name in ("first", "last"):
                # each group's row positions (with DISTINCT its first row of each value), put in order;
                # then string_agg(s, sep ORDER BY ...) joins their values, first (last) takes one
                positions = udaf_positions(a, table)
                if a.distinct:
                    positions = first_of_each_value(evaluate_array(a.args[0], table),
                                                    [cols[k] for k in key_names], positions)
                cols[name] = positions
                specs.append((name, "list", None))
                post.append(("string_agg_ordered" if a.name == "string_agg" else "first_last", i))
                continue
            if a.name == "array_agg" and not a.distinct:
                # each group's row positions, put in order (input order without ORDER BY) afterwards
                cols[name] = udaf_positions(a, table)
                specs.append((name, "list", None))
                post.append(("array_agg", i))
                continue
            if a.name in HISTOGRAMS:
                # each group's values (NULL where FILTER left the row out), counted afterwards
                arg = evaluate_array(a.args[0], table)
                if a.filter is not None:
                    arg = pc.if_else(pc.fill_null(evaluate_array(a.filter, table), False), arg,
                                     pa.scalar(None, arg.type))
                cols[name] = arg
                specs.append((name, "list", None))
                post.append(("histogram", i))
                continue
            if a.name in ROW_AGGREGATES:
                # mode, arg_max, quantiles, statistics: each group's row positions (with DISTINCT its first
                # row of each distinct argument), computed from afterwards
                positions = udaf_positions(a, table)
                if a.distinct:
                    positions = distinct_positions(a, table, [cols[k] for k in key_names], positions)
                cols[name] = positions
                specs.append((name, "list", None))
                post.append(("rows", i))
                continue
            arg = self._arg_column(a, table, n)
            if a.distinct and a.name not in ("count", "approx_count_distinct"):
                post.append(("distinct", i))
                cols[name] = arg
                specs.append((name, "distinct", pc.CountOptions(mode="only_valid")))
                continue
            fn, opts = self._single_function(a)
            if a.name in ("avg", "stddev_samp", "stddev_pop", "var_samp", "var_pop", "median"):
                arg = cast_value(arg, T.FLOAT64)
            cols[name] = arg
            specs.append((name, fn, opts))
            post.append((a.name, i))
        grand_total = not key_names and any(fn in ("list", "distinct") for _, fn, _ in specs)
        if grand_total:
            # Arrow has no ungrouped "list"/"distinct": group on a constant key instead
            cols["__all"] = pa.array(np.zeros(n, dtype=np.int8))
            key_names = ["__all"]
        work = pa.table(cols) if cols else pa.table({"__dummy": pa.nulls(n)})
        result = _aggregate(work, key_names, specs)
        if grand_total:
            if result.num_rows == 0:
                return self._empty_grand_total(), key_positions
            result = result.drop_columns(["__all"])
            key_names = []
        arrays = [result.column(j) for j in range(len(key_names))]
        for k, (kind, i) in enumerate(post):
            col = result.column(len(key_names) + k)
            a = self.aggs[i]
            if kind == "udaf":
                col = grouped_udaf(a, table, col)
            elif kind == "array_agg":
                col = _ordered_lists(a, table, col)
            elif kind == "first_last":
                col = _list_end(_ordered_lists(a, table, col, dtype=pa.list_(a.dtype)), last=a.name == "last")
            elif kind == "string_agg_ordered":
                col = _join_lists(_ordered_lists(a, table, col, keys_from=2, dtype=pa.list_(a.dtype)), _separator(a))
            elif kind == "any_nested":
                col = evaluate_array(a.args[0], table).take(col)
            elif kind == "nested_extreme":
                col = evaluate_array(a.args[0], table).take(_appended_rows(col))
            elif kind == "distinct":
                col = _aggregate_lists(col, a.name)
            elif kind == "histogram":
                col = histogram_of(a, col)
            elif kind == "rows":
                col = row_aggregate(a, table, col)
            elif kind == "median":
                col = _exact_median(col)
            elif kind == "string_agg":
                col = _join_lists(col, _separator(a))
            elif kind in ("count", "approx_count_distinct"):
                col = pc.fill_null(col, 0)
            arrays.append(cast_value(col, a.dtype) if col.type != a.dtype else col)
        return arrays, key_positions

    def _empty_grand_total(self) -> list[pa.Array]:
        """The one row an ungrouped aggregate returns for empty input: counts 0, the rest NULL."""
        return [pa.array([0], pa.int64()) if a.name in ("count", "count_star", "approx_count_distinct", "regr_count")
                else pa.nulls(1, a.dtype) for a in self.aggs]

    @staticmethod
    def _single_function(a: AggCall):
        name = a.name
        if name in ("count", "approx_count_distinct"):
            return ("count_distinct" if a.distinct or name == "approx_count_distinct" else "count",
                    pc.CountOptions(mode="only_valid"))
        if name == "count_star":
            return "count", pc.CountOptions(mode="only_valid")
        if name in ("var_samp", "var_pop", "stddev_samp", "stddev_pop"):
            fn = "variance" if name.startswith("var") else "stddev"
            return fn, pc.VarianceOptions(ddof=1 if name.endswith("samp") else 0, min_count=1)
        if name in ("median", *HISTOGRAMS):
            return "list", None
        if name == "string_agg":
            return "list", None
        mapping = {"sum": "sum", "avg": "mean", "min": "min", "max": "max", "any_value": "one",
                   "bool_and": "all", "bool_or": "any", "product": "product"}
        if name not in mapping:
            raise ExecutionError(f"aggregate `{name}` is not implemented")
        fn = mapping[name]
        return fn, _options(fn)

    def _grouping_sets(self, table: pa.Table) -> pa.Table:
        k = len(self.group_exprs)
        pieces = []
        for s in self.grouping_sets:
            arrays, positions = self._single_keys(table, list(s))
            # no keys and no aggregates: the grand-total set is still one row (also over no rows)
            rows = len(arrays[0]) if arrays else 1
            keyed = {p: arrays[j] for j, p in enumerate(positions)}
            out = []
            for j in range(k):
                out.append(keyed[j] if j in keyed else pa.nulls(rows, self.group_fields[j].dtype))
            out += arrays[len(positions):]
            gid = sum(1 << j for j in range(k) if j not in s)
            out.append(pa.array(np.full(rows, gid, dtype=np.int64)))
            pieces.append(self._assemble(out))
        return pa.concat_tables(pieces)

    def _assemble(self, arrays) -> pa.Table:
        cols = []
        for arr, f in zip(arrays, self.fields):
            if isinstance(arr, pa.ChunkedArray):
                arr = arr.combine_chunks()
            cols.append(cast_value(arr, f.dtype) if arr.type != f.dtype else arr)
        return pa.Table.from_arrays(cols, schema=self.schema)

    def _rename(self, result: pa.Table, fields) -> pa.Table:
        cols = []
        for i, f in enumerate(fields):
            col = result.column(i)
            if col.type != f.dtype and pa.types.is_integer(col.type) and pa.types.is_decimal128(f.dtype):
                col = int64_to_decimal(col, f.dtype)     # an int64 sum of unscaled decimals: exact
            cols.append(cast_value(col, f.dtype) if col.type != f.dtype else col)
        return pa.Table.from_arrays(cols, schema=self.schema)


INT64_SUM_LIMIT = (1 << 63) - 1
# pending states are merged once they reach this many rows (or twice the merged ones)
MERGE_ROWS = 1 << 16


class GroupStates:
    """The per-group states one partial or final aggregation holds, reserved from the budget.

    States arrive as small tables (a batch's groups); they wait as ``pending`` until there are
    more pending rows than twice the merged ones (at least ``MERGE_ROWS``), and are then merged
    by key with the aggregates' merge functions. So the rows held stay within a small factor
    of the number of groups, and merging costs amortized linear time.

    ``add`` returns False (and keeps nothing of ``states``) when the budget refuses them even
    after a merge: the caller then takes what is held (``take``) to emit it early or to spill.
    """

    def __init__(self, node: HashAggregateExec, budget, grouped: bool):
        self.node = node
        self.grouped = grouped          # whether each added table already has one row per group
        self.budget = budget
        self.merged: pa.Table | None = None
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.reserved = 0
        self.peak = 0
        # merging that hardly shrinks the states (a key that rarely repeats across batches, as
        # l_orderkey in a scan of lineitem) is wasted work: a partial then emits what it holds,
        # and a final phase merges only once, at the end (or when the budget is full)
        self.futile = False

    @property
    def rows(self) -> int:
        return self.pending_rows + (self.merged.num_rows if self.merged is not None else 0)

    def add(self, states: pa.Table) -> bool:
        if not self.budget.try_reserve(states.nbytes):
            self._merge()
            if not self.budget.try_reserve(states.nbytes):
                return False
        self._hold(states.nbytes)
        self.pending.append(states)
        self.pending_rows += states.num_rows
        merged_rows = self.merged.num_rows if self.merged is not None else 0
        # once merging has stopped shrinking the states, merging again before the end only hashes
        # the same rows over and over (a final phase over keys that occur once per partial)
        if self.pending_rows >= max(MERGE_ROWS, 2 * merged_rows) and not self.futile:
            self._merge()
        return True

    def take(self) -> pa.Table | None:
        """All states, merged by key (None if none were added); the holder is empty afterwards."""
        self._merge()
        out = self.merged
        self.merged = None
        self.release()
        return out

    def release(self) -> None:
        self.budget.release(self.reserved)
        self.reserved = 0
        if self.merged is None:
            self.pending, self.pending_rows = [], 0

    def _hold(self, nbytes: int) -> None:
        self.reserved += nbytes
        self.peak = max(self.peak, self.reserved)

    def _merge(self) -> None:
        if not self.pending:
            return
        parts = ([self.merged] if self.merged is not None else []) + self.pending
        table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        self.pending, self.pending_rows = [], 0
        merged = self.node._merge_states(table) if len(parts) > 1 or not self.grouped else table
        if len(parts) > 1 and merged.num_rows > 0.8 * table.num_rows:
            self.futile = True
        del table, parts
        self.budget.release(self.reserved)
        self.reserved = 0
        self.budget.reserve(merged.nbytes)       # the merged states are the least there is
        self._hold(merged.nbytes)
        self.merged = merged


CHUNK_ROWS = 1 << 21     # input rows one streaming aggregation takes at most before its states are merged
KEYLESS_ROWS = 1 << 16   # input rows a keyless partial aggregation takes at once (see _keyless_partials)


class _Pushback:
    """An iterator that can take one item back (the batch that did not fit a chunk)."""

    def __init__(self, it):
        self._it = iter(it)
        self._back = []

    def __iter__(self):
        return self

    def __next__(self):
        if self._back:
            return self._back.pop()
        return next(self._it)

    def push_back(self, item) -> None:
        self._back.append(item)


class _Chunk:
    """The batches one streaming aggregation takes: prepared work columns of one schema, until
    ``CHUNK_ROWS`` rows, until the budget refuses the estimated hash table (rows seen times
    ``ratio`` groups per row times a row's bytes), or until a batch does not fit the chunk (other
    argument representations, or int64 sums that could overflow); that batch goes back."""

    def __init__(self, node: "HashAggregateExec", source: _Pushback, budget, ratio: float):
        self.node = node
        self.source = source
        self.budget = budget
        self.ratio = ratio
        self.rows = 0
        self.reserved = 0
        self.peak = 0
        self._first = None
        self._schema = None
        self._sum_bound = 0
        self._row_bytes = 0.0

    def first(self) -> pa.RecordBatch | None:
        """The first prepared batch (None when the input is exhausted); it is always taken."""
        try:
            batch = next(self.source)
        except StopIteration:
            return None
        work, bound = self.node._prepare(_as_table(batch))
        self._schema = work.schema
        self._row_bytes = work.nbytes / max(work.num_rows, 1)
        self._take(work, bound, force=True)
        self._first = _single_batch(work)
        return self._first

    def batches(self):
        yield self._first
        self._first = None
        while self.rows < CHUNK_ROWS:
            try:
                batch = next(self.source)
            except StopIteration:
                return
            work, bound = self.node._prepare(_as_table(batch))
            if work.schema != self._schema or not self._take(work, bound, force=False):
                self.source.push_back(batch)
                return
            yield _single_batch(work)

    def _take(self, work: pa.Table, bound: int, force: bool) -> bool:
        n = work.num_rows
        if self._sum_bound + bound * n > INT64_SUM_LIMIT and not force:
            return False
        need = int(n * self.ratio * self._row_bytes)
        if not self.budget.try_reserve(need):
            if not force:
                return False
            self.budget.reserve(need)
        self._sum_bound += bound * n
        self.rows += n
        self.reserved += need
        self.peak = max(self.peak, self.reserved)
        return True

    def release(self) -> None:
        self.budget.release(self.reserved)
        self.reserved = 0


def _dictionary_key(col, packed: bool):
    """A dictionary-encoded key column decoded, or (``packed``) as packed short strings if every
    chunk's dictionary packs (see ``HashAggregateExec._key_columns``)."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    if packed:
        out = []
        for c in chunks:
            values = pack_short_strings(c.dictionary)
            if values is None:
                break
            out.append(values.take(c.indices))
        else:
            return out[0] if len(out) == 1 else pa.chunked_array(out, pa.uint64())
    return col.cast(col.type.value_type)


def _single_batch(table: pa.Table) -> pa.RecordBatch:
    batches = table.combine_chunks().to_batches()
    return batches[0] if batches else pa.RecordBatch.from_arrays(
        [pa.array([], f.type) for f in table.schema], schema=table.schema)


def _concat_tables(tables: list[pa.Table]) -> pa.Table:
    """``tables`` as one; tables without columns (count(*) input: rows only) keep their row count,
    which ``pa.concat_tables`` drops."""
    if len(tables) == 1:
        return tables[0]
    if tables[0].num_columns == 0:
        return pa.table({"__rows": pa.nulls(sum(t.num_rows for t in tables))}).select([])
    return pa.concat_tables(tables)


def _as_table(batch) -> pa.Table:
    return batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])


def _table_of(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()


def first_of_each_value(values, groups: list, positions) -> pa.Array:
    """``positions`` (NULL at rows that do not count: FILTER left them out) with NULL also at every
    row whose value an earlier row of its group (same ``groups`` keys) had: what remains is each
    group's first row of each distinct value. NULL is one value; LIST, STRUCT and MAP values compare
    by their sort keys, floats as SQL compares them (-0.0 = 0.0, one NaN)."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    n = len(values)
    key = sort_key(values, n) if T.is_nested(values.type) else canonical_key(values)
    if pa.types.is_dictionary(key.type):
        key = key.cast(key.type.value_type)
    columns = {f"g{j}": g for j, g in enumerate(groups)}
    columns.update({"v": key, "p": positions})
    firsts = pa.table(columns).group_by([*(f"g{j}" for j in range(len(groups))), "v"], use_threads=False) \
        .aggregate([("p", "min")]).column("p_min")
    keep = pc.fill_null(pc.is_in(positions, value_set=firsts.drop_null()), False)
    return pc.if_else(keep, positions, pa.scalar(None, pa.int64()))


def distinct_positions(a: AggCall, table: pa.Table, groups: list, positions, arrange=None) -> pa.Array:
    """``positions`` with NULL also at every row whose arguments an earlier row of its group had: the rows a
    DISTINCT aggregate reads. Its arguments that are constants (a quantile's fraction) take no part; several
    others count as one value together (``regr_slope(DISTINCT y, x)`` reads each distinct pair once).
    ``arrange`` puts a column of ``table`` in the order of ``groups`` and ``positions`` (a window's)."""
    operands = [e for e in a.args if not isinstance(e, Literal)] or list(a.args[:1])
    columns = []
    for e in operands:
        column = evaluate_array(e, table)
        column = arrange(column) if arrange is not None else column
        columns.append(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    values = columns[0] if len(columns) == 1 else \
        pa.StructArray.from_arrays(columns, [f"a{j}" for j in range(len(columns))])
    return first_of_each_value(values, groups, positions)


def _aggregate_lists(lists, fn: str) -> pa.Array:
    """Apply aggregate ``fn`` to each list of distinct values (DISTINCT aggregates), vectorized."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    n = len(lists)
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    mapping = {"sum": "sum", "avg": "mean", "min": "min", "max": "max", "any_value": "one", "product": "product",
               "bool_and": "all", "bool_or": "any", "string_agg": "list", "var_samp": "variance",
               "stddev_samp": "stddev", "var_pop": "variance", "stddev_pop": "stddev"}
    if fn == "median":
        return _exact_median(lists)            # exact, as without DISTINCT (Arrow's own median is approximate)
    fn_name = mapping.get(fn)
    if fn_name is None:
        raise ExecutionError(f"{fn}(DISTINCT ...) is not supported")
    if fn in ("avg", "var_samp", "var_pop", "stddev_samp", "stddev_pop"):
        flat = cast_value(flat, T.FLOAT64)
    opts = pc.VarianceOptions(ddof=1 if fn.endswith("samp") else 0) if fn_name in ("variance", "stddev") else \
        _options(fn_name)
    grouped = pa.table({"p": parents, "v": flat}).group_by("p").aggregate([("v", fn_name, opts)])
    # scatter back: groups whose list was empty get NULL
    positions = pc.index_in(pa.array(np.arange(n, dtype=np.int64)), value_set=grouped.column("p").cast(pa.int64()))
    return grouped.column(1).take(positions)


HISTOGRAMS = ("histogram", "histogram_exact")


def histogram_of(a: AggCall, lists) -> pa.Array:
    """``histogram(x [, bins])`` / ``histogram_exact(x, bins)`` of each list of a group's values."""
    if len(a.args) == 1:
        return histogram_of_lists(lists, a.distinct, a.dtype)
    return binned_histogram(lists, histogram_bins(a), a.distinct, a.dtype, exact=a.name == "histogram_exact")


def histogram_bins(a: AggCall) -> np.ndarray | pa.Array:
    """The bins of ``histogram(x, bins)`` (a constant: the binder checks), sorted, each once."""
    bins = evaluate_array(a.args[1], pa.table({"__one": pa.nulls(1)}))[0]
    if not bins.is_valid:
        raise DataError(f"the bin list of {a.name}() cannot be NULL", hint=f"{a.name}(x, [10, 20, 30])")
    values = bins.values
    if values.null_count:
        raise DataError(f"a bin of {a.name}() cannot be NULL", hint="leave the NULL out of the bin list")
    values = pc.unique(values)
    return values.take(pc.sort_indices(values))     # NaN last, as DuckDB sorts it


def binned_histogram(lists, bins: pa.Array, distinct: bool, dtype: pa.DataType, exact: bool = False) -> pa.Array:
    """histogram(x, bins), as DuckDB counts: each value goes to the first bin it is not above
    (``exact``: the bin it equals), those above the last bin (``exact``: equal to none) to one more
    entry keyed by the type's largest value (infinity for DOUBLE, '' for VARCHAR), which is there only
    when it counts some. Every other bin is there, 0 or not; a group without a non-NULL value is NULL.
    A NaN value goes to the first bin, as DuckDB's binary search puts it (NaN is below no bin)."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    n = len(lists)
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    keep = flat.is_valid()
    flat, parents = flat.filter(keep), parents.filter(keep)
    if distinct:
        once = pa.table({"g": parents, "v": canonical_key(flat)}).group_by(["g", "v"], use_threads=False) \
            .aggregate([])
        parents, flat = once.column("g").combine_chunks(), once.column("v").combine_chunks()
    k = len(bins)
    if T.is_string(flat.type):
        # per bin, not per row: the values below it
        slot = np.zeros(len(flat), dtype=np.int64)
        for b in bins:
            slot += np.asarray(pc.less(b, flat).to_numpy(zero_copy_only=False), dtype=np.int64)
        top = ""
    else:
        edges = np.asarray(bins.to_numpy(zero_copy_only=False))
        values = np.asarray(flat.to_numpy(zero_copy_only=False))
        slot = np.searchsorted(edges, values, side="left").astype(np.int64)
        if T.is_float(flat.type):
            slot[np.isnan(values)] = 0
            top = float("inf")
        else:
            top = int(np.iinfo(values.dtype).max) if values.dtype.kind in "iu" else None
    if exact:
        hit = slot < k
        hit[hit] = pc.equal(bins.take(pa.array(slot[hit])), flat.filter(pa.array(hit))).to_numpy(
            zero_copy_only=False)
        slot[~hit] = k
    groups = np.asarray(parents.to_numpy(zero_copy_only=False), dtype=np.int64)
    counts = np.bincount(groups * (k + 1) + slot, minlength=n * (k + 1)).reshape(n, k + 1)
    present = np.bincount(groups, minlength=n) > 0
    entries = np.ones((n, k + 1), dtype=bool)
    entries[:, k] = counts[:, k] > 0
    entries[~present] = False
    lengths = entries.sum(axis=1)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    labels = pa.concat_arrays([bins.cast(dtype.key_type), pa.array([top], dtype.key_type)])
    keys = labels.take(pa.array(np.nonzero(entries)[1]))
    return pa.MapArray.from_arrays(offsets, keys, pa.array(counts[entries], dtype.item_type), type=dtype,
                                   mask=pa.array(~present))


def histogram_of_lists(lists, distinct: bool, dtype: pa.DataType) -> pa.Array:
    """histogram: each list of values as a MAP from its distinct non-NULL values, in ascending order,
    to how often each occurs (1 with DISTINCT); NULL for a list without such values.

    The values are grouped and counted by (list, value) with Arrow's grouped kernels and sorted by
    list, then value; -0.0 counts as 0.0, and NaN sorts after every number, as in DuckDB.
    """
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    n = len(lists)
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    keep = flat.is_valid()
    flat, parents = flat.filter(keep), parents.filter(keep)
    if T.is_float(flat.type):
        flat = pc.if_else(pc.equal(flat, 0), pa.scalar(0, flat.type), flat)
    counted = pa.table({"g": parents, "v": flat}).group_by(["g", "v"], use_threads=False) \
        .aggregate([([], "count_all")])
    counted = counted.take(pc.sort_indices(counted, sort_keys=[("g", "ascending"), ("v", "ascending")]))
    groups = np.asarray(counted.column("g").to_numpy(), dtype=np.int64)
    lengths = np.bincount(groups, minlength=n)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    counts = counted.column("count_all").combine_chunks()
    if distinct:
        counts = pa.array(np.ones(len(counts), dtype=np.int64))
    keys = counted.column("v").combine_chunks().cast(dtype.key_type)
    return pa.MapArray.from_arrays(offsets, keys, counts.cast(dtype.item_type), type=dtype,
                                   mask=pa.array(lengths == 0))


def _appended_rows(keys) -> pa.Array:
    """The row numbers in the last 8 bytes (big-endian) of each key; NULL for a NULL key."""
    keys = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    valid = np.asarray(keys.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    tails = pc.binary_slice(pc.fill_null(keys, b"\x00" * 8), -8).cast(pa.binary(8))
    rows = np.frombuffer(tails.buffers()[1], dtype=">u8", count=tails.offset + len(tails))[tails.offset:]
    return pa.array(rows.astype(np.int64), mask=~valid)


def _ordered_lists(a: AggCall, table: pa.Table, positions, keys_from: int = 1, dtype=None) -> pa.Array:
    """array_agg: each group's list of row positions (NULL: left out by FILTER) as the list of its
    values, ordered by the aggregate's ORDER BY keys (``a.args[keys_from:]``: string_agg's come after
    its separator), then by input position. A group with no row left is NULL."""
    from quarry.compute.nested_kernels import Parts, build_list
    lists = positions.combine_chunks() if isinstance(positions, pa.ChunkedArray) else positions
    p = Parts(lists)
    keep = p.flat.is_valid()
    rows = pa.array(p.parents, pa.int64()).filter(keep)
    flat = p.flat.filter(keep)
    columns = {"__group": rows}
    sort_keys = [("__group", "ascending")]
    for j, key in enumerate(a.args[keys_from:]):
        column = evaluate_array(key.expr, table).take(flat)
        if T.is_nested(column.type):
            column = sort_key(column, len(column))      # a LIST/STRUCT/MAP orders by its sort key
        columns[f"__o{j}"] = column
        sort_keys.append((f"__o{j}", "ascending" if key.ascending else "descending",
                          "at_start" if key.nulls_first else "at_end"))
    columns["__position"] = flat
    sort_keys.append(("__position", "ascending"))
    order = pc.sort_indices(pa.table(columns), sort_keys=sort_keys)
    values = evaluate_array(a.args[0], table).take(flat.take(order))
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    lengths = np.bincount(np.asarray(rows.to_numpy(), dtype=np.int64), minlength=len(lists)).astype(np.int64)
    return build_list(lengths, values, p.valid & (lengths > 0), dtype or a.dtype)


def _list_end(lists, last: bool) -> pa.Array:
    """Each list's first (``last``: last) element; NULL for a NULL or empty list."""
    from quarry.compute.nested_kernels import Parts
    p = Parts(lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists)
    has = p.valid & (p.lengths > 0)
    at = p.starts + (p.lengths - 1 if last else 0)
    return p.flat.take(pa.array(np.where(has, at, 0), mask=~has))


def _separator(a: AggCall) -> str:
    """string_agg's separator (a constant; ',' when not given)."""
    sep = a.args[1] if len(a.args) > 1 else None
    return sep.value if sep is not None and hasattr(sep, "value") else ","


def _join_lists(lists, sep: str) -> pa.Array:
    """string_agg: join each list's non-NULL strings with ``sep``; NULL when there are none."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    keep = pc.is_valid(flat)
    grouped = pa.table({"p": parents.filter(keep), "v": flat.filter(keep)}).group_by("p", use_threads=False) \
        .aggregate([("v", "list")])
    joined = pc.binary_join(grouped.column("v_list"), sep)
    positions = pc.index_in(pa.array(np.arange(len(lists), dtype=np.int64)),
                            value_set=grouped.column("p").cast(pa.int64()))
    return joined.take(positions)


def _exact_median(lists) -> pa.Array:
    """Exact median of each list (the mean of the two middle values for even counts)."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    helper = pa.table({"p": parents, "v": flat}).filter(pc.is_valid(flat))
    order = pc.sort_indices(helper, sort_keys=[("p", "ascending"), ("v", "ascending")])
    values = np.asarray(helper.column("v").take(order).to_numpy(zero_copy_only=False), dtype=np.float64)
    counts = np.bincount(np.asarray(helper.column("p")), minlength=len(lists)) if helper.num_rows else \
        np.zeros(len(lists), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    lo = starts + (counts - 1) // 2
    hi = starts + counts // 2
    valid = counts > 0
    med = np.full(len(lists), np.nan)
    if valid.any():
        med[valid] = (values[lo[valid]] + values[hi[valid]]) / 2.0
    return pa.array(med, mask=~valid)


def _group_rows(table: pa.Table, lists):
    """The rows of each group's list of row positions (NULL: left out by FILTER): the positions, in
    group order, and the group of each."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    keep = flat.is_valid()
    return flat.filter(keep), np.asarray(parents.filter(keep).to_numpy(), dtype=np.int64), len(lists)


def _at_rows(e, table: pa.Table, positions) -> pa.Array:
    values = evaluate_array(e, table).take(positions)
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    return values


def _firsts(groups: np.ndarray) -> np.ndarray:
    """Where each run of equal (sorted) group numbers starts."""
    return np.concatenate([[True], groups[1:] != groups[:-1]]) if len(groups) else np.zeros(0, dtype=bool)


def _first_rows(ordered: pa.Table, position: str, k: int) -> np.ndarray:
    """The ``position`` of each of ``k`` groups' first row in ``ordered`` (sorted by its group column
    ``g`` first); -1 for a group without rows."""
    g = np.asarray(ordered.column("g").to_numpy(), dtype=np.int64)
    first = _firsts(g)
    rows = np.full(k, -1, dtype=np.int64)
    rows[g[first]] = np.asarray(ordered.column(position).to_numpy(), dtype=np.int64)[first]
    return rows


def _take_rows(a: AggCall, table: pa.Table, rows: np.ndarray) -> pa.Array:
    """The aggregate's first argument at ``rows`` (one per group; -1: NULL)."""
    values = evaluate_array(a.args[0], table)
    return values.take(pa.array(np.maximum(rows, 0), pa.int64(), mask=rows < 0))


def row_aggregate(a: AggCall, table: pa.Table, lists) -> pa.Array:
    """mode, arg_max/arg_min, quantile_cont/quantile_disc and the two-argument statistics of each group,
    given as lists of row positions of ``table``: Arrow's grouped kernels and sorts, then numpy over the
    sorted values (no per-row Python)."""
    positions, groups, k = _group_rows(table, lists)
    if a.name == "mode":
        return _mode(a, table, positions, groups, k)
    if a.name in ("arg_max", "arg_min"):
        return _arg_extreme(a, table, positions, groups, k)
    if a.name in ("quantile_cont", "quantile_disc"):
        return _quantiles(a, table, positions, groups, k)
    return _statistic(a, table, positions, groups, k)


def _mode(a, table, positions, groups, k):
    # the most frequent value; of equally frequent ones the one seen first (smallest row position)
    x = _at_rows(a.args[0], table, positions)
    ok = x.is_valid()
    counted = pa.table({"g": pa.array(groups).filter(ok), "v": canonical_key(x.filter(ok)),
                        "p": positions.filter(ok)}) \
        .group_by(["g", "v"], use_threads=False).aggregate([("p", "count"), ("p", "min")])
    counted = counted.take(pc.sort_indices(counted, sort_keys=[("g", "ascending"), ("p_count", "descending"),
                                                               ("p_min", "ascending")]))
    return _take_rows(a, table, _first_rows(counted, "p_min", k))


def _arg_extreme(a, table, positions, groups, k):
    # x at the largest (smallest) y, over the rows where neither is NULL; of ties the first row; NaN is
    # the largest value, as DuckDB orders it (Arrow's sort puts NaN last either way: it gets its own key)
    x, y = _at_rows(a.args[0], table, positions), _at_rows(a.args[1], table, positions)
    ok = pc.and_(x.is_valid(), y.is_valid())
    largest = a.name == "arg_max"
    y = y.filter(ok)
    columns = {"g": pa.array(groups).filter(ok)}
    keys = [("g", "ascending")]
    if pa.types.is_floating(y.type):
        columns["nan"] = pc.is_nan(y)
        keys.append(("nan", "descending" if largest else "ascending"))
    columns["y"] = y
    columns["p"] = positions.filter(ok)
    keys += [("y", "descending" if largest else "ascending"), ("p", "ascending")]
    t = pa.table(columns)
    t = t.take(pc.sort_indices(t, sort_keys=keys))
    return _take_rows(a, table, _first_rows(t, "p", k))


def _quantiles(a, table, positions, groups, k):
    """DuckDB's quantiles of each group's sorted non-NULL values (NaN last, as the largest): quantile_cont
    interpolates at (n - 1) * q, quantile_disc takes the value at max(ceil(n * q), 1) - 1; a negative q
    is 1 + q."""
    x = _at_rows(a.args[0], table, positions)
    ok = x.is_valid()
    t = pa.table({"g": pa.array(groups).filter(ok), "x": x.filter(ok)})
    t = t.take(pc.sort_indices(t, sort_keys=[("g", "ascending"), ("x", "ascending")]))
    xs = t.column("x").combine_chunks()
    g = np.asarray(t.column("g").to_numpy(), dtype=np.int64)
    counts = np.bincount(g, minlength=k).astype(np.int64) if len(g) else np.zeros(k, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    constant = evaluate_array(a.args[1], pa.table({"__one": pa.nulls(1)}))[0].as_py()
    fractions = [float(v) for v in (constant if isinstance(constant, list) else [constant])]
    per_q = []
    for q in fractions:
        q = 1 + q if q < 0 else q
        if a.name == "quantile_cont":
            values = np.asarray(xs.to_numpy(zero_copy_only=False), dtype=np.float64)
            pos = (counts - 1) * q
            lo = np.floor(pos).astype(np.int64)
            hi = np.ceil(pos).astype(np.int64)
            at_lo = values[np.where(has, starts + lo, 0)] if len(values) else np.zeros(k)
            at_hi = values[np.where(has, starts + hi, 0)] if len(values) else np.zeros(k)
            with np.errstate(all="ignore"):
                out = np.where(lo == hi, at_lo, at_lo + (at_hi - at_lo) * (pos - lo))
            per_q.append(pa.array(out, pa.float64(), mask=~has))
        else:
            idx = np.maximum(np.ceil(counts * q), 1).astype(np.int64) - 1
            at = np.where(has, starts + np.minimum(idx, np.maximum(counts - 1, 0)), 0)
            per_q.append(xs.take(pa.array(at, pa.int64(), mask=~has)))
    if not isinstance(constant, list):
        return per_q[0]
    from quarry.compute.nested_kernels import build_list
    m = len(fractions)
    if m:
        stacked = pa.concat_arrays(per_q)
        order = (np.arange(m, dtype=np.int64)[None, :] * k + np.arange(k, dtype=np.int64)[:, None]).ravel()
        flat = stacked.take(pa.array(order))
    else:
        flat = pa.array([], a.dtype.value_type)
    return build_list(np.full(k, m, dtype=np.int64), flat, has, a.dtype)


def _statistic(a, table, positions, groups, k):
    """corr, covar_pop/covar_samp and the regr_ functions (arguments y, x) over the rows where neither
    argument is NULL, from each group's centred sums of squares and products."""
    y, x = _at_rows(a.args[0], table, positions), _at_rows(a.args[1], table, positions)
    ok = np.asarray(pc.and_(y.is_valid(), x.is_valid()).to_numpy(zero_copy_only=False), dtype=bool)
    g = groups[ok]
    yv = np.asarray(pc.fill_null(y, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64)[ok]
    xv = np.asarray(pc.fill_null(x, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64)[ok]
    n = np.bincount(g, minlength=k).astype(np.float64) if len(g) else np.zeros(k)
    if a.name == "regr_count":
        return pa.array(n.astype(np.int64), pa.int64())
    has = n > 0
    with np.errstate(all="ignore"):
        mx = (np.bincount(g, xv, minlength=k) if len(g) else np.zeros(k)) / n
        my = (np.bincount(g, yv, minlength=k) if len(g) else np.zeros(k)) / n
        dx, dy = xv - mx[g], yv - my[g]
        sxx = np.bincount(g, dx * dx, minlength=k) if len(g) else np.zeros(k)
        syy = np.bincount(g, dy * dy, minlength=k) if len(g) else np.zeros(k)
        sxy = np.bincount(g, dx * dy, minlength=k) if len(g) else np.zeros(k)
        valid = has
        if a.name == "covar_pop":
            out = sxy / n
        elif a.name == "covar_samp":
            out, valid = sxy / (n - 1), n > 1
        elif a.name == "corr":
            out = (sxy / n) / (np.sqrt(sxx / n) * np.sqrt(syy / n))
        elif a.name == "regr_slope":
            out = sxy / sxx
        elif a.name == "regr_intercept":
            out, valid = my - (sxy / sxx) * mx, has & (sxx != 0)
        elif a.name == "regr_r2":
            corr = (sxy / n) / (np.sqrt(sxx / n) * np.sqrt(syy / n))
            out, valid = np.where(syy == 0, 1.0, corr * corr), has & (sxx != 0)
        elif a.name == "regr_avgx":
            out = mx
        elif a.name == "regr_avgy":
            out = my
        elif a.name == "regr_sxx":
            out = sxx
        elif a.name == "regr_syy":
            out = syy
        elif a.name == "regr_sxy":
            out = sxy
        else:
            raise ExecutionError(f"aggregate `{a.name}` is not implemented")
    return pa.array(np.where(valid, out, 0.0), pa.float64(), mask=~valid)
