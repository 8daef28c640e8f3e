"""Joins: Acero's hash join where it fits, and a general path built on matched row pairs.

Fast path: Acero's ``hashjoin`` node with the build (hash table) side on its
right input and any residual condition it can express as ``filter_expression``.

General path, for what Acero cannot express (residuals over decimals, CASE,
LIKE ..., non-equi joins): find the candidate pairs (an equi join on the keys
that outputs only row numbers, or all pairs for a nested loop), evaluate the
residual on just those pairs, and then assemble any join kind from the
surviving pairs with ``assemble_join``. Everything is vectorized.

``null_aware`` anti joins implement ``NOT IN``: if the subquery produced a
NULL, no row qualifies; a NULL on the left qualifies only if the subquery is
empty.

Memory: a hash join holds its build side only. It reads the build input first,
reserving its batches from the run's budget, and then streams the probe input
through Acero batch by batch (the hash table is built once), so the probe side
never sits in memory. When the build side does not fit, it becomes a grace hash
join: both inputs go to spill files by a seeded hash of their join keys (the same
seed and fan-out on both sides, keys cast to one type so that equal keys hash
equally), and then file pairs are joined one at a time, each again streaming its
probe file. That is correct for every join kind, with any residual: rows that can
match share a file pair, and each unmatched row is in exactly one file (NULL keys,
which match nothing, all land in one). The general path (a residual Acero cannot
evaluate) and a null-aware anti join hold both inputs, see ``HashJoinExec``.
"""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.acero as acero
import pyarrow.compute as pc

from quarry.errors import ExecutionError
from quarry.logical import types as T
from quarry.logical.expressions import ColumnRef, Expr
from quarry.physical.base import ExecNode, batches_of, run_partitions
from quarry.physical.operators import BroadcastExec, RepartitionExec
from quarry.physical.runtime_filter import JoinFilter
from quarry.compute.hashing import canonical_key
from quarry.compute.expr_eval import evaluate_array, evaluate_predicate, to_arrow_expression
from quarry.compute.kernels import cast_value
from quarry.compute.masks import bool_array
from quarry.physical.spill import SPILL_SEED, HashSpill
from quarry.parallelism import arrow_threads

_ACERO_KIND = {"inner": "inner", "left": "left outer", "right": "right outer", "full": "full outer",
               "semi": "left semi", "anti": "left anti"}
_SWAPPED = {"inner": "inner", "left outer": "right outer", "right outer": "left outer",
            "full outer": "full outer", "left semi": "right semi", "left anti": "right anti"}

PAIR_CHUNK = 1 << 21   # candidate pairs evaluated at a time by nested loops
# probe rows Acero joins in one task: a cancel waits for at most one (a few ms at this size);
# 4,096-row slices cost 5% more CPU over TPC-H Q3-Q21 at SF 1 (lineitem x orders alone: twice as much)
PROBE_SLICE_ROWS = 65_536
MAX_RESPLITS = 2       # times a spilled file pair too big for the budget is split again before it is joined anyway
# what Acero's hash join holds beyond the build batches themselves: a row-format copy of them
# and about 64 bytes of hash table per row (a 120 MB, 5M-row build peaked at 565 MB)
HASH_ROW_BYTES = 64
_SCRAMBLE_SEED = 0x5EED

# which inputs must have rows for a join kind to output any (a file pair missing one is skipped)
_NEEDS = {"inner": (True, True), "semi": (True, True), "left": (True, False), "anti": (True, False),
          "right": (False, True), "full": (False, False)}


def build_state_bytes(nbytes: int, rows: int) -> int:
    """The memory a build side of ``nbytes`` in ``rows`` takes once Acero has hashed it."""
    return 2 * nbytes + HASH_ROW_BYTES * rows


def _scrambled(table: pa.Table) -> pa.Table:
    """``table``'s rows in a fixed pseudo-random order.

    Acero emits the build rows a join keeps at the end (unmatched rows of an outer join's build
    side, a semi or anti join's output on the build side) by walking its hash table, so in the
    order of Arrow's key hash. Arrow's hash aggregation uses the same hash, and grouping keys that
    arrive in that order is quadratic (TPC-H Q13 at SF 100: 2.5M customers without orders, grouped
    after a left join, took 18 minutes; scrambled, a second).
    """
    if table.num_rows < 2:
        return table
    return table.take(pa.array(np.random.default_rng(_SCRAMBLE_SEED).permutation(table.num_rows)))


def join_fields(left_fields, right_fields, kind):
    from dataclasses import replace
    if kind in ("semi", "anti"):
        return tuple(left_fields)
    lf = tuple(left_fields)
    rf = tuple(right_fields)
    if kind in ("right", "full"):
        lf = tuple(replace(f, nullable=True) for f in lf)
    if kind in ("left", "full"):
        rf = tuple(replace(f, nullable=True) for f in rf)
    return lf + rf


LATE_BUILD_PAYLOAD = True
_BUILD_ROW = "__build_row"


def _combined(column) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _source(table: pa.Table) -> acero.Declaration:
    return acero.Declaration("table_source", acero.TableSourceNodeOptions(table))


def _with_keys(table: pa.Table, keys: list[Expr], prefix: str) -> tuple[pa.Table, list[str]]:
    names = []
    for i, k in enumerate(keys):
        if isinstance(k, ColumnRef) and not pa.types.is_floating(k.field.dtype):
            names.append(k.field.key)
        else:
            # float keys compare as SQL does, not by bits: every NaN one value (NaN = NaN), -0.0 = 0.0
            name = f"{prefix}{i}"
            table = table.append_column(name, canonical_key(evaluate_array(k, table)))
            names.append(name)
    return table, names


def matched_pairs(left: pa.Table, right: pa.Table, left_keys, right_keys) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers (left, right) of every pair with equal, non-NULL keys."""
    lt, lnames = _with_keys(left, left_keys, "__lk")
    rt, rnames = _with_keys(right, right_keys, "__rk")
    lt = pa.table({**{n: lt.column(n) for n in lnames}, "__lrow": pa.array(np.arange(left.num_rows, dtype=np.int64))})
    rt = pa.table({**{f"__r{n}": rt.column(n) for n in rnames},
                   "__rrow": pa.array(np.arange(right.num_rows, dtype=np.int64))})
    opts = acero.HashJoinNodeOptions("inner", lnames, [f"__r{n}" for n in rnames],
                                     left_output=["__lrow"], right_output=["__rrow"])
    out = acero.Declaration("hashjoin", opts, inputs=[_source(lt), _source(rt)]).to_table(use_threads=arrow_threads())
    return (np.asarray(out.column("__lrow").to_numpy()), np.asarray(out.column("__rrow").to_numpy()))


def filter_pairs(left: pa.Table, right: pa.Table, li: np.ndarray, ri: np.ndarray, residual: Expr | None):
    """Keep the pairs for which ``residual`` is TRUE."""
    if residual is None or len(li) == 0:
        return li, ri
    needed = residual.column_ids()
    cols = {}
    for t, idx in ((left, li), (right, ri)):
        for name in t.column_names:
            fid = int(name.rsplit("#", 1)[1]) if "#" in name else None
            if fid in needed:
                cols[name] = t.column(name).take(pa.array(idx))
    mask = evaluate_predicate(residual, pa.table(cols) if cols else pa.table({"__n": pa.nulls(len(li))}))
    if mask is True:
        return li, ri
    if mask is False:
        return li[:0], ri[:0]
    keep = np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
    return li[keep], ri[keep]


def _null_columns(n: int, schema: pa.Schema) -> list[pa.Array]:
    return [pa.nulls(n, f.type) for f in schema]


def assemble_join(kind: str, left: pa.Table, right: pa.Table, li: np.ndarray, ri: np.ndarray,
                  schema: pa.Schema) -> pa.Table:
    """The result of a ``kind`` join given its matched pairs (li[k], ri[k])."""
    if len(schema) == 0:
        # no column is needed above (count(*) over a cross join): only the row count matters
        return _rows_table(_join_row_count(kind, left.num_rows, right.num_rows, li, ri))
    if kind == "semi":
        keep = np.zeros(left.num_rows, dtype=bool)
        keep[li] = True
        return left.filter(bool_array(keep))
    if kind == "anti":
        keep = np.ones(left.num_rows, dtype=bool)
        keep[li] = False
        return left.filter(bool_array(keep))
    parts = []
    matched = pa.Table.from_arrays(
        [c.take(pa.array(li)) for c in left.columns] + [c.take(pa.array(ri)) for c in right.columns],
        schema=schema)
    parts.append(matched)
    if kind in ("left", "full"):
        hit = np.zeros(left.num_rows, dtype=bool)
        hit[li] = True
        rest = left.filter(bool_array(~hit))
        parts.append(pa.Table.from_arrays(rest.columns + _null_columns(rest.num_rows, right.schema),
                                          schema=schema))
    if kind in ("right", "full"):
        hit = np.zeros(right.num_rows, dtype=bool)
        hit[ri] = True
        rest = right.filter(bool_array(~hit))
        parts.append(pa.Table.from_arrays(_null_columns(rest.num_rows, left.schema) + rest.columns,
                                          schema=schema))
    return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def _join_row_count(kind: str, nl: int, nr: int, li: np.ndarray, ri: np.ndarray) -> int:
    def matched(indices: np.ndarray, n: int) -> int:
        # rows (of n) that some pair names; a bitmap, not np.unique (a hash table in numpy 2.4, slow)
        hit = np.zeros(n, dtype=bool)
        hit[indices] = True
        return int(np.count_nonzero(hit))
    if kind == "semi":
        return matched(li, nl)
    if kind == "anti":
        return nl - matched(li, nl)
    count = len(li)
    if kind in ("left", "full"):
        count += nl - matched(li, nl)
    if kind in ("right", "full"):
        count += nr - matched(ri, nr)
    return count


def _table_of(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()


def _one_batch(table: pa.Table, schema: pa.Schema) -> pa.RecordBatch:
    """``table`` as one record batch of ``schema`` (the probe reader's fixed schema)."""
    batches = table.combine_chunks().to_batches()
    if not batches:
        return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)
    return pa.RecordBatch.from_arrays(batches[0].columns, schema=schema)


BROADCAST_FREE_ROWS = 65_536   # extra build rows hashed by a broadcast that are always worth a shuffle saved
BUILD_ROW_COST = 4             # hashing a build row (Acero's row format) costs about 4 probe rows shuffled


def broadcast_pays(build_rows: float, probe_rows: float, partitions: int, limit: int) -> bool:
    """Whether a join should read its whole build side in every partition (broadcast) rather than
    shuffle both sides by key: the one rule the planner, the scheduler's adaptive switch and the
    in-process join all apply.

    A broadcast saves shuffling the probe side, but each of the ``partitions`` hashes the whole
    build side: ``partitions - 1`` extra copies, each build row costing Acero about four probe rows
    shuffled. So a build side within ``limit`` (``broadcast_rows``) is broadcast when its extra
    copies are few, or cheaper than the probe rows a shuffle would move. TPC-H Q7 at SF 1 built
    all 145k lineitem rows in both partitions to save shuffling 10k order rows (its join filter
    left no more): 110 ms of hashing for a few ms of shuffle.

    >>> broadcast_pays(5_000, 10, 2, 200_000), broadcast_pays(145_000, 145_000, 2, 200_000)
    (True, False)
    """
    if build_rows > limit:
        return False
    extra = build_rows * max(partitions - 1, 0)
    return extra <= BROADCAST_FREE_ROWS or extra * BUILD_ROW_COST <= probe_rows


PROBE_AHEAD = 4    # probe slices handed to Acero that it has not started to probe yet
GATE_WAIT = 0.05   # seconds a slice waits at most: the producer is one of Arrow's few I/O threads, and a
                   # join whose output is never read again (under a LIMIT) must not hold it for good
_GATE_TICK = "quarry_probe_tick"
_GATES: dict[int, "ProbeGate"] = {}
_GATE_IDS = itertools.count(1)
_GATE_LOCK = threading.Lock()


class ProbeGate:
    """Holds a streaming join's probe input back until Acero is ready to probe it.

    Acero pulls a ``record_batch_reader_source`` on an I/O thread as fast as the input comes, not
    as fast as the join works through it: while the operators above worked on one output batch, a
    join took hundreds of probe slices ahead (measured), and a cancel then waited over a second
    for Acero to probe all of them when the plan closed. So the probe source passes through a
    projection that calls a tiny UDF (``quarry_probe_tick``) as Acero starts probing each slice,
    and the producer hands over a slice only while fewer than ``ahead`` wait for that. The join's
    work on its input is then bounded by what its reader asks for, and so is a cancel's wait.

    A tick costs about 50 us (the UDF call), 2% of probing a 65,536-row slice, so only joins
    whose slices are cut shorter (build keys with several rows each, where a slice makes tens of
    thousands of rows and read-ahead costs most) are gated (``enabled``); a gate that is not
    enabled only ends the input when the join stops.
    """

    def __init__(self, ahead: int = PROBE_AHEAD, enabled: bool = True):
        self._cond = threading.Condition()
        self._ahead = ahead if enabled else None
        self._given = 0
        self._probed = 0
        self.halted = False
        self.ident = next(_GATE_IDS)
        if enabled:                     # only a gate that ticks needs finding by the UDF
            with _GATE_LOCK:
                _GATES[self.ident] = self

    def admit(self) -> bool:
        """Producer side: wait until a slice may go; False once the join has stopped."""
        with self._cond:
            deadline = None
            while self._ahead is not None and not self.halted and self._given - self._probed >= self._ahead:
                now = time.monotonic()
                deadline = deadline or now + GATE_WAIT
                if now >= deadline:
                    break
                self._cond.wait(deadline - now)
            self._given += 1
            return not self.halted

    def tick(self) -> None:
        with self._cond:
            self._probed += 1
            self._cond.notify_all()

    def source(self, reader: pa.RecordBatchReader) -> acero.Declaration:
        """Acero's source for ``reader`` (the gated probe input), ticking this gate per slice."""
        source = acero.Declaration("record_batch_reader_source", acero.RecordBatchReaderSourceNodeOptions(reader))
        if self._ahead is None:
            return source
        _register_tick()
        names = list(reader.schema.names)
        exprs = [pc.field(n) for n in names] + [pc.Expression._call(_GATE_TICK, [pc.scalar(self.ident)])]
        return acero.Declaration("project", acero.ProjectNodeOptions(exprs, names + ["__tick"]), inputs=[source])

    def halt(self) -> None:
        with self._cond:
            self.halted = True
            self._cond.notify_all()
        with _GATE_LOCK:
            _GATES.pop(self.ident, None)


def _gate_tick(ctx, ident):
    value = ident.as_py() if isinstance(ident, pa.Scalar) else ident[0].as_py()
    gate = _GATES.get(value)
    if gate is not None:
        gate.tick()
    return pa.nulls(ctx.batch_length, pa.bool_())


def _register_tick() -> None:
    with _GATE_LOCK:
        if _GATE_TICK in pc.list_functions():
            return
        pc.register_scalar_function(
            _gate_tick, _GATE_TICK,
            {"summary": "quarry: a streaming join starts to probe a slice",
             "description": "Counts the slice for the join's ProbeGate; returns NULLs."},
            {"gate": pa.int64()}, pa.bool_())


SLICE_OUTPUT_ROWS = 65_536  # output rows a probe slice should make at most
SLICE_SAMPLE_ROWS = 65_536  # build rows sampled for rows per key: a smaller sample sees as many distinct
                            # keys of a low-cardinality build side but fewer rows each, so it made slices
                            # 3x longer and a cancel took more than a second (8,192 was tried)


def probe_slice_rows(build: pa.Table, key: str) -> int:
    """Probe rows per Acero task for this build side.

    Acero finishes every probe slice it has started when a join stops (a cancel), and one slice
    is one task, so a slice should make about ``SLICE_OUTPUT_ROWS`` output rows at most. A probe
    row makes about as many as a build key has rows: measured on a sample of the build side
    (its first key; rows per composite key are no more), a key with hundreds of rows (a
    self-join on a low-cardinality column) gives slices of a few dozen rows.
    """
    n = build.num_rows
    if n == 0:
        return PROBE_SLICE_ROWS
    sample = build.column(key).slice(0, SLICE_SAMPLE_ROWS)
    distinct = _count_distinct(sample)
    rows_per_key = len(sample) / max(distinct, 1)
    return int(min(PROBE_SLICE_ROWS, max(16, SLICE_OUTPUT_ROWS / rows_per_key)))


def _count_distinct(column) -> int:
    """Distinct values (NULL counts as one) of a key sample. Integer keys are sorted in numpy: Arrow's
    hash count took 55 ms on 65,536 of TPC-H's order keys (numpy: 1 ms), on every join's first probe."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pa.types.is_integer(column.type) or len(column) == 0:
        return pc.count_distinct(column, mode="all").as_py()
    values = np.sort(np.asarray(column.drop_null().to_numpy(), dtype=np.int64))
    distinct = int(np.count_nonzero(values[1:] != values[:-1])) + (1 if len(values) else 0)
    return distinct + (1 if column.null_count else 0)


def _rows_table(n: int) -> pa.Table:
    return pa.table({"__rows": pa.nulls(n)}).drop_columns(["__rows"])


class HashJoinExec(ExecNode):
    """Equi-join on ``left_keys = right_keys`` (plus a residual condition), per partition.

    ``build_left`` puts the hash table on the left input (the planner picks the
    smaller side). Both inputs have the same number of partitions: either both
    hash-partitioned on the keys, or one side broadcast.

    Over the memory budget it spills both inputs and joins them file pair by file
    pair (see the module docstring; metrics ``spill_bytes`` and ``spill_files``).
    Two paths hold their inputs whatever the budget: a null-aware anti join (NOT IN),
    whose answer depends on whether the *whole* subquery has a NULL or any row at
    all, which no single file pair can tell; and the adaptive broadcast, taken only
    when the build side is small.
    """

    name = "HashJoin"

    def __init__(self, left: ExecNode, right: ExecNode, kind: str, left_keys, right_keys, residual,
                 null_aware: bool, build_left: bool, mode: str):
        super().__init__([left, right], join_fields(left.fields, right.fields, kind), left.partitions)
        self.kind = kind
        self.left_keys = list(left_keys)
        self.right_keys = list(right_keys)
        self.residual = residual
        self.null_aware = null_aware
        self.build_left = build_left
        self.mode = mode
        self.acero_filter = to_arrow_expression(residual) if residual is not None else None
        # the type each key pair is hashed in when spilling: equal keys must hash equally
        # even if the two sides evaluate to different types (int32 and int64, decimal scales)
        self.spill_key_types = [T.common_type(a.dtype, b.dtype) for a, b in zip(self.left_keys, self.right_keys)]
        self.estimates: tuple[float, float] | None = None    # planner's (build rows, probe rows)
        self.bases: tuple[float, float] | None = None        # (build, probe) rows before any filter
        self.build_unfiltered = False                        # the build side is all of one table
        build = self.children[0 if build_left else 1]
        if isinstance(build, RepartitionExec):
            build.held = True      # read whole (for a join filter or an adaptive broadcast) and then again
        # (id, build key) of the join filter this join's build side makes for its probe scan, if any
        self.runtime_filter: tuple[int, Expr] | None = None

    def describe(self):
        on = ", ".join(f"{a} = {b}" for a, b in zip(self.left_keys, self.right_keys))
        text = f"HashJoin({self.kind}{', null-aware' if self.null_aware else ''}, {self.mode}, " \
               f"build={'left' if self.build_left else 'right'}): {on}"
        if self.residual is not None:
            text += f" filter={self.residual}"
        if self.runtime_filter is not None:
            text += f" runtime_filter=#{self.runtime_filter[0]}"
        return text

    def _execute(self, partition, ctx):
        self.publish_runtime_filter(ctx)
        broadcast = self._adaptive_broadcast(ctx) if self.mode == "partitioned" else None
        if broadcast is not None:
            # the build side turned out small: join it whole with the probe input's own,
            # unshuffled partition (the probe exchange is never run)
            probe_source = self.children[1 if self.build_left else 0].children[0]
            probe = probe_source.execute(partition, ctx) if partition < probe_source.partitions else iter(())
            yield from self._probe(broadcast, probe, ctx)
        elif self.null_aware or not self._streams():
            yield from self._execute_in_memory(partition, ctx)
        else:
            yield from self._execute_spillable(partition, ctx)

    def publish_runtime_filter(self, ctx) -> None:
        """In one process: make this join's filter from its whole build exchange, before the probe side
        runs. (On worker processes the scheduler makes it from the build stage's tasks.)"""
        if self.runtime_filter is None:
            return
        fid, key = self.runtime_filter
        build = self.children[self.build_side]
        if fid in ctx.runtime_filters or not isinstance(build, (RepartitionExec, BroadcastExec)):
            return
        with ctx.exchange_lock(("runtime-filter", fid)):
            if fid in ctx.runtime_filters:
                return
            batches = build.all_batches(ctx)
            ctx.runtime_filters[fid] = JoinFilter.of(evaluate_array(key, b) for b in batches)

    def _streams(self) -> bool:
        """Whether the probe side can stream through Acero (no residual that only the general path evaluates,
        and no LIST/STRUCT/MAP column, which Acero's hash join cannot carry)."""
        return (self.residual is None or self.acero_filter is not None) and not self._nested_payload

    @property
    def _nested_payload(self) -> bool:
        # Acero's hash join aborts the process on a nested non-key column (Arrow 26): such joins
        # take the general path, which joins row numbers and then takes every column by them
        return any(T.is_nested(f.dtype) for c in self.children for f in c.fields)

    def _keeps_build_rows(self) -> bool:
        """Whether Acero emits rows of the build side itself at the end (see _scrambled)."""
        if self.build_left:
            return self.kind in ("left", "full", "semi", "anti")
        return self.kind in ("right", "full")

    @property
    def build_side(self) -> int:
        return 0 if self.build_left else 1

    def _execute_in_memory(self, partition, ctx):
        """Hold both inputs, reserved even over the limit (NOT IN cannot be split, see above)."""
        budget = ctx.memory
        reserved = 0
        try:
            sides = []
            for child in self.children:
                batches = []
                for batch in child.execute(partition, ctx):
                    budget.reserve(batch.nbytes)
                    reserved += batch.nbytes
                    self.note_peak("peak_reserved_bytes", reserved)
                    batches.append(batch)
                sides.append(_table_of(batches, child.schema))
            out = self.join_tables(*sides)
            del sides
        finally:
            budget.release(reserved)
        yield from batches_of(out, ctx.config.batch_rows)

    def _execute_spillable(self, partition, ctx):
        """Hold the build side and stream the probe side; if the build side does not fit, spill both
        and join file pair by file pair."""
        budget = ctx.memory
        build_side = self.build_side
        build_child, probe_child = self.children[build_side], self.children[1 - build_side]
        held: list[pa.RecordBatch] = []
        reserved = 0
        spills: list[HashSpill] | None = None
        try:
            for batch in build_child.execute(partition, ctx):
                if spills is None:
                    need = build_state_bytes(batch.nbytes, batch.num_rows)
                    if budget.try_reserve(need):
                        reserved += need
                        self.note_peak("peak_reserved_bytes", reserved)
                        held.append(batch)
                        continue
                    spills = [HashSpill(budget, c.schema, seed=SPILL_SEED) for c in self.children]
                    for b in held:
                        spills[build_side].write(b, self._spill_keys(build_side, b))
                    held = []
                    budget.release(reserved)
                    reserved = 0
                spills[build_side].write(batch, self._spill_keys(build_side, batch))
            if spills is None:
                build = _table_of(held, build_child.schema)
                held = []
                yield from self._probe(build, probe_child.execute(partition, ctx), ctx)
                return
            for batch in probe_child.execute(partition, ctx):
                spills[1 - build_side].write(batch, self._spill_keys(1 - build_side, batch))
            yield from self._join_spilled(spills, budget, 0, ctx)
        finally:
            budget.release(reserved)
            for spill in spills or ():
                spill.delete()

    def _probe(self, build: pa.Table, probe_batches, ctx):
        """Join the whole ``build`` table with the probe batches as they arrive (Acero builds its hash
        table once); batches of this join's schema. Falls back to joining whole tables for what
        Acero cannot do."""
        build_side = self.build_side
        probe_schema = self.children[1 - build_side].schema
        if self.kind in ("inner", "semi") and build.num_rows == 0:
            for _ in probe_batches:       # nothing can match; the input still runs (and is cancellable)
                pass
            return
        if not self._streams():
            probe = _table_of(list(probe_batches), probe_schema)
            left, right = (build, probe) if self.build_left else (probe, build)
            yield from batches_of(self.join_tables(left, right), ctx.config.batch_rows)
            return
        bt, bkeys = _with_keys(build, self.left_keys if self.build_left else self.right_keys, "__bk")
        probe_key_exprs = self.right_keys if self.build_left else self.left_keys
        first = next(probe_batches, None)
        if first is None and self.kind in ("inner", "semi", "left", "anti") and not self.build_left:
            return                          # probe on the left, and no probe rows: no output at all
        sample, pkeys = _with_keys(pa.Table.from_batches([first]) if first is not None
                                   else probe_schema.empty_table(), probe_key_exprs, "__pk")
        reader_schema = sample.schema

        # the gate ends the probe input at once when this join stops
        stop = {}
        slice_rows = probe_slice_rows(bt, bkeys[0]) if bkeys else PROBE_SLICE_ROWS
        gate = ProbeGate(enabled=slice_rows < PROBE_SLICE_ROWS)

        def sliced(batch: pa.RecordBatch):
            start = 0
            while start < batch.num_rows and gate.admit():
                size = min(slice_rows, batch.num_rows - start)
                yield batch.slice(start, size)
                start += size

        def probe_stream():
            # Acero probes a batch in one task, which a cancel cannot interrupt: slices keep each
            # task short, and shorter still where every probe row finds many matches
            if first is not None:
                yield from sliced(_one_batch(sample, reader_schema))
            for batch in probe_batches:
                if gate.halted:
                    return
                table, _ = _with_keys(pa.Table.from_batches([batch]), probe_key_exprs, "__pk")
                yield from sliced(_one_batch(table, reader_schema))
            stop["probed"] = True

        reader = pa.RecordBatchReader.from_batches(reader_schema, probe_stream())
        probe_source = gate.source(reader)
        kind = _ACERO_KIND[self.kind]
        probe_out = list(probe_schema.names)
        build_out = list(build.column_names)
        # variable-length build columns stay out of Acero's hash table (see _deferred_build_columns)
        deferred = self._deferred_build_columns(build, bkeys) if LATE_BUILD_PAYLOAD else []
        payload = None
        if deferred:
            payload = {name: _combined(bt.column(name)) for name in deferred}
            bt = bt.drop_columns(deferred).append_column(
                _BUILD_ROW, pa.array(np.arange(bt.num_rows, dtype=np.int64)))
            build_out = [c for c in build_out if c not in payload] + [_BUILD_ROW]
        if self.build_left:
            # Acero hashes its right input: the probe (our right) goes left, kinds swap sides
            opts = acero.HashJoinNodeOptions(_SWAPPED[kind], pkeys, bkeys,
                                             left_output=probe_out if self.kind not in ("semi", "anti") else [],
                                             right_output=build_out, filter_expression=self.acero_filter)
        else:
            opts = acero.HashJoinNodeOptions(kind, pkeys, bkeys, left_output=probe_out,
                                             right_output=build_out if self.kind not in ("semi", "anti") else [],
                                             filter_expression=self.acero_filter)
        decl = acero.Declaration("hashjoin", opts, inputs=[probe_source, _source(bt)])
        names = [f.name for f in self.schema]
        # the build rows Acero emits after the probe input ends come in hash order (see _scrambled):
        # they are held (no more than the build side already held) and emitted in another order
        tail_in_hash_order = self._keeps_build_rows()
        tail: list[pa.RecordBatch] = []
        try:
            # serial: Acero's tasks run in this thread while it reads (its source still pulls the probe
            # input on an I/O thread, which the gate holds back); partitions run in parallel above
            # it, and a worker process has one core's share anyway
            out = decl.to_reader(use_threads=False)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            # a key type Acero cannot hash: the general path, on whole tables
            gate.halt()
            rest = _table_of(([first] if first is not None else []) + list(probe_batches), probe_schema)
            left, right = (build, rest) if self.build_left else (rest, build)
            yield from batches_of(self.join_tables(left, right), ctx.config.batch_rows)
            return
        try:
            for batch in out:
                ctx.check_cancelled()
                if batch.num_rows:
                    if payload is None:
                        batch = pa.RecordBatch.from_arrays([batch.column(n) for n in names], schema=self.schema)
                    else:
                        # a probe row without a match (outer joins) has a NULL row number: NULLs, as Acero gives
                        rows = batch.column(_BUILD_ROW)
                        batch = pa.RecordBatch.from_arrays(
                            [payload[n].take(rows) if n in payload else batch.column(n) for n in names],
                            schema=self.schema)
                    if tail_in_hash_order and stop.get("probed"):
                        tail.append(batch)
                    else:
                        yield batch
            if tail:
                yield from batches_of(_scrambled(_table_of(tail, self.schema)), ctx.config.batch_rows)
        finally:
            # Acero's source thread may be waiting to pull more probe input: end that input first,
            # so closing the plan does not wait on work nobody will read
            gate.halt()
            out.close()

    def _deferred_build_columns(self, build: pa.Table, keys: list[str]) -> list[str]:
        """The build side's string and binary output columns that are not keys and not read by the
        residual filter.

        Acero's hash table stores the build side's rows, and for variable-length columns growing and
        merging that row table costs more than the rest of the build (in TPC-H Q7, carrying
        ``n_name`` through two joins of 145,000 rows is an eighth of all the work). So such columns are
        left out of the table: the build rows carry their row number instead, and each output batch
        takes the deferred columns by it, one vectorized ``take`` per column.
        """
        if self.kind in ("semi", "anti") or build.num_rows == 0:
            return []
        side_fields = self.children[self.build_side].fields
        in_filter = self.residual.column_ids() if self.residual is not None else set()
        read = {f.key for f in side_fields if f.id in in_filter} | set(keys)
        return [f.name for f in build.schema
                if f.name not in read and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                                           or pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)
                                           or pa.types.is_string_view(f.type) or pa.types.is_binary_view(f.type))]

    def _spill_keys(self, side: int, batch) -> list[pa.Array]:
        """The join keys of a left (0) or right (1) batch, in the type both sides hash in."""
        exprs = self.left_keys if side == 0 else self.right_keys
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        keys = []
        for e, target in zip(exprs, self.spill_key_types):
            col = evaluate_array(e, table)
            if isinstance(col, pa.ChunkedArray):
                col = col.combine_chunks()
            if pa.types.is_dictionary(col.type):
                col = col.dictionary_decode()
            if target is not None and not T.is_null(target) and col.type != target:
                col = cast_value(col, target)
            keys.append(col)
        return keys

    def _join_spilled(self, spills: list[HashSpill], budget, depth: int, ctx):
        """Join the file pairs of ``spills`` one at a time (build file held, probe file streamed),
        deleting each pair once joined; yields batches of the join's schema."""
        files = [s.finish() for s in spills]
        self.add_metric("spill_bytes", sum(s.nbytes for s in spills))
        self.add_metric("spill_files", sum(s.file_count for s in spills))
        need_left, need_right = _NEEDS[self.kind]
        for bucket, pair in enumerate(zip(*files)):
            if (need_left and pair[0] is None) or (need_right and pair[1] is None) or pair == (None, None):
                for f in pair:       # rows that can produce no output: drop them now
                    if f is not None:
                        f.delete()
                continue
            build_held = pair[self.build_side]
            if build_held is not None and build_state_bytes(build_held.nbytes, build_held.rows) > budget.limit \
                    and depth < MAX_RESPLITS and build_held.rows > 1:
                inner = [HashSpill(budget, s.schema, seed=s.seed + 1) for s in spills]
                try:
                    for side, f in enumerate(pair):
                        if f is not None:
                            for batch in f.batches():
                                inner[side].write(batch, self._spill_keys(side, batch))
                            f.delete()
                    split = sum(any(s.files[i] is not None for s in inner) for i in range(inner[0].fanout))
                    # all rows under one key hash: splitting again cannot help
                    yield from self._join_spilled(inner, budget, depth + 1 if split > 1 else MAX_RESPLITS, ctx)
                finally:
                    for s in inner:
                        s.delete()
                continue
            build_side = self.build_side
            build_file, probe_file = pair[build_side], pair[1 - build_side]
            held = build_state_bytes(build_file.nbytes, build_file.rows) if build_file is not None else 0
            budget.reserve(held)
            try:
                build = build_file.read_all() if build_file is not None \
                    else self.children[build_side].schema.empty_table()
                probe = probe_file.batches() if probe_file is not None else iter(())
                for out in self._probe(build, probe, ctx):
                    yield out
                del build
            finally:
                budget.release(held)
            for side, f in enumerate(pair):
                if f is not None:
                    f.delete()
                    spills[side].files[bucket] = None

    def may_broadcast_build(self) -> bool:
        """Whether this partitioned join may instead read its whole build side in every partition:
        only if the build side's unmatched rows are never emitted, and not for NOT IN (null-aware)."""
        if self.mode != "partitioned" or self.null_aware:
            return False
        return self.kind in ("inner", "right") if self.build_left else self.kind in ("inner", "left", "semi", "anti")

    def broadcast_pays_now(self, build_rows: int, config) -> bool:
        """:func:`broadcast_pays` for this partitioned join once its build side is known to have
        ``build_rows``, against the planner's probe estimate. A join filter from this build side
        that reaches the probe scan, with the build side the fact side of the key join (more rows
        before filters: lineitem against orders), leaves at most about one probe row per build row."""
        probe_rows = self.estimates[1] if self.estimates else float("inf")
        if self.runtime_filter is not None and self.bases and self.bases[0] > self.bases[1]:
            probe_rows = min(probe_rows, build_rows)
        return broadcast_pays(build_rows, probe_rows, self.partitions, config.broadcast_rows)

    def _adaptive_broadcast(self, ctx) -> pa.Table | None:
        """Once per query: the whole build side if it is small enough to broadcast, else None.

        Decided on the actual row count of the build side's exchange, so a bad estimate
        (a selective subquery, a skewed filter) cannot force a shuffle of the large side.
        Only when broadcasting is correct: the build side's unmatched rows must never be
        emitted, and both inputs must be hash exchanges the planner placed.
        """
        key = ("adaptive-join", id(self))
        with ctx.exchange_lock(key):
            if key in ctx.buffers:
                return ctx.buffers[key]
            build = self.children[0] if self.build_left else self.children[1]
            probe = self.children[1] if self.build_left else self.children[0]
            decision = None
            if self.may_broadcast_build() and isinstance(build, RepartitionExec) \
                    and isinstance(probe, RepartitionExec) and probe.children[0].partitions <= self.partitions:
                parts = run_partitions(build, ctx)
                rows = sum(b.num_rows for part in parts for b in part)
                if self.broadcast_pays_now(rows, ctx.config):
                    batches = [b for part in parts for b in part]
                    decision = pa.Table.from_batches(batches, schema=build.schema) if batches \
                        else build.schema.empty_table()
                    self.add_metric("switched_to_broadcast", 1)
            ctx.buffers[key] = decision
            return decision

    def join_tables(self, left: pa.Table, right: pa.Table) -> pa.Table:
        if self.null_aware:
            return self._null_aware_anti(left, right)
        if self.kind in ("inner", "semi") and (left.num_rows == 0 or right.num_rows == 0):
            return self.schema.empty_table()
        if (self.residual is None or self.acero_filter is not None) and not self._nested_payload:
            try:
                return self._acero(left, right)
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
                pass   # a key type Acero cannot hash: fall back to the general path
        li, ri = matched_pairs(left, right, self.left_keys, self.right_keys)
        li, ri = filter_pairs(left, right, li, ri, self.residual)
        return assemble_join(self.kind, left, right, li, ri, self.schema)

    def _acero(self, left: pa.Table, right: pa.Table) -> pa.Table:
        lt, lkeys = _with_keys(left, self.left_keys, "__lk")
        rt, rkeys = _with_keys(right, self.right_keys, "__rk")
        lout = left.column_names
        rout = right.column_names if self.kind not in ("semi", "anti") else []
        kind = _ACERO_KIND[self.kind]
        if self.build_left:
            opts = acero.HashJoinNodeOptions(_SWAPPED[kind], rkeys, lkeys,
                                             left_output=rout if self.kind not in ("semi", "anti") else [],
                                             right_output=lout, filter_expression=self.acero_filter)
            inputs = [_source(rt), _source(lt)]
        else:
            opts = acero.HashJoinNodeOptions(kind, lkeys, rkeys, left_output=lout, right_output=rout,
                                             filter_expression=self.acero_filter)
            inputs = [_source(lt), _source(rt)]
        out = acero.Declaration("hashjoin", opts, inputs=inputs).to_table(use_threads=arrow_threads())
        cols = [out.column(f.name) for f in self.schema]
        out = pa.Table.from_arrays(cols, schema=self.schema)
        return _scrambled(out) if self._keeps_build_rows() else out

    def _null_aware_anti(self, left: pa.Table, right: pa.Table) -> pa.Table:
        if right.num_rows == 0:
            return left
        rkey = evaluate_array(self.right_keys[0], right)
        if rkey.null_count:
            return self.schema.empty_table()
        lkey = evaluate_array(self.left_keys[0], left)
        if lkey.null_count:
            left = left.filter(pc.is_valid(lkey))
        li, ri = matched_pairs(left, right, self.left_keys, self.right_keys)
        li, ri = filter_pairs(left, right, li, ri, self.residual)
        return assemble_join("anti", left, right, li, ri, self.schema)


class NestedLoopJoinExec(ExecNode):
    """Join with no equality keys: every left row against the whole (broadcast) right side."""

    name = "NestedLoopJoin"

    def __init__(self, left: ExecNode, right: ExecNode, kind: str, condition: Expr | None):
        super().__init__([left, right], join_fields(left.fields, right.fields, kind), left.partitions)
        self.kind = kind
        self.condition = condition

    def describe(self):
        text = f"NestedLoopJoin({self.kind})"
        if self.condition is not None:
            text += f": {self.condition}"
        return text

    def _execute(self, partition, ctx):
        right = self.collect_child(self.children[1], partition, ctx)
        if right.num_rows == 0 and self.kind in ("inner", "semi"):
            return                  # nothing can match: the left input (often a large join) never runs
        left = self.collect_child(self.children[0], partition, ctx)
        if self.kind in ("right", "full") and self.children[0].partitions != 1:
            raise ExecutionError("a RIGHT/FULL join without equality keys needs a single partition")
        nl, nr = left.num_rows, right.num_rows
        lis, ris = [], []
        if nl and nr:
            step = max(1, PAIR_CHUNK // nr)
            for start in range(0, nl, step):
                ctx.check_cancelled()
                stop = min(nl, start + step)
                li = np.repeat(np.arange(start, stop, dtype=np.int64), nr)
                ri = np.tile(np.arange(nr, dtype=np.int64), stop - start)
                li, ri = filter_pairs(left, right, li, ri, self.condition)
                lis.append(li)
                ris.append(ri)
        li = np.concatenate(lis) if lis else np.zeros(0, dtype=np.int64)
        ri = np.concatenate(ris) if ris else np.zeros(0, dtype=np.int64)
        yield from batches_of(assemble_join(self.kind, left, right, li, ri, self.schema), ctx.config.batch_rows)
