"""Hash aggregation on Arrow's grouped kernels (``Table.group_by``), in three modes.

* ``partial``: group the rows of one partition and emit per-group *states*
  (``avg`` becomes a sum and a count), small enough to shuffle.
* ``final``: merge states that a hash exchange brought together by key.
* ``single``: aggregate raw rows in one step; used for DISTINCT aggregates,
  grouping sets and functions whose states do not merge (median, stddev, ...).

Memory: input batches are reserved from the run's budget (``ctx.memory``) as they
arrive. While everything fits, a partition is grouped in one ``group_by`` over all
of its rows, exactly as without a budget. When a reservation is refused:

* ``partial`` groups what it holds and emits those states early (the final phase
  merges states anyway), then starts again with an empty buffer;
* ``final`` and ``single`` with group keys spill: rows go to spill files by a
  seeded hash of the group keys, and each file is then grouped alone (its keys
  occur in no other file). A file bigger than the whole budget is split again with
  another seed, at most ``MAX_RESPLITS`` times (a single huge group cannot split);
  then it is grouped in memory over the limit;
* keyless aggregates and grouping sets never spill: see ``HashAggregateExec``.
"""

from __future__ import annotations


import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.errors import ExecutionError
from quarry.logical import types as T
from quarry.logical.expressions import AggCall, Field, new_id
from quarry.physical.base import ExecNode, batches_of
from quarry.compute.expr_eval import evaluate_array
from quarry.compute.kernels import cast_value
from quarry.physical.spill import SPILL_SEED, HashSpill
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
    return all(a.name in DECOMPOSABLE and not a.distinct for a in aggs)


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


def _aggregate(table: pa.Table, keys: list[str], specs: list[tuple[str, str, object]]) -> pa.Table:
    """Run Arrow's grouped aggregation; returns keys then one column per spec, in order.

    Without keys it is a grand total of exactly one row, also over empty input (counts
    0, everything else NULL), including for functions Arrow has only in grouped form.
    """
    if not specs and not keys:
        return table.select([])
    names = [f"{col}_{fn}" if col else fn for col, fn, _ in specs]
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
        """Group the buffered rows and emit their states early whenever the budget is full."""
        budget = ctx.memory
        schema = self.children[0].schema
        batches, reserved, emitted = [], 0, False
        try:
            for batch in self.children[0].execute(partition, ctx):
                if not budget.try_reserve(batch.nbytes):
                    if batches:
                        out = self._partial(_table_of(batches, schema))
                        batches = []
                        budget.release(reserved)
                        reserved = 0
                        self.add_metric("early_emits", 1)
                        emitted = True
                        yield from batches_of(out, ctx.config.batch_rows)
                    if not budget.try_reserve(batch.nbytes):
                        budget.reserve(batch.nbytes)      # one batch is the least state there is
                reserved += batch.nbytes
                batches.append(batch)
            if batches or not emitted:
                # (a keyless partial over no rows still emits its one row of empty states)
                out = self._partial(_table_of(batches, schema))
                batches = []
                budget.release(reserved)
                reserved = 0
                yield from batches_of(out, ctx.config.batch_rows)
        finally:
            budget.release(reserved)

    def _execute_spillable(self, partition, ctx):
        """Keyed ``final``/``single``: group in memory, or spill by key and group file by file."""
        budget = ctx.memory
        schema = self.children[0].schema
        batches, reserved, spill = [], 0, None
        try:
            for batch in self.children[0].execute(partition, ctx):
                if spill is None:
                    if budget.try_reserve(batch.nbytes):
                        reserved += batch.nbytes
                        batches.append(batch)
                        continue
                    spill = HashSpill(budget, schema, seed=SPILL_SEED)
                    for held in batches:
                        spill.write(held, self._spill_keys(held))
                    batches = []
                    budget.release(reserved)
                    reserved = 0
                spill.write(batch, self._spill_keys(batch))
            if spill is None:
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

    def _key_columns(self, table: pa.Table) -> dict[str, pa.Array]:
        return {f"__k{j}": evaluate_array(e, table) for j, e in enumerate(self.group_exprs)}

    def _arg_column(self, a: AggCall, table: pa.Table, n: int):
        if a.name == "count_star":
            col = pa.array(np.ones(n, dtype=np.bool_))
        else:
            col = evaluate_array(a.args[0], table)
        if a.filter is not None:
            mask = pc.fill_null(evaluate_array(a.filter, table), False)
            col = pc.if_else(mask, col, pa.scalar(None, col.type))
        return col

    def _partial(self, table: pa.Table) -> pa.Table:
        n = table.num_rows
        cols = self._key_columns(table)
        specs = []
        for i, a in enumerate(self.aggs):
            arg = self._arg_column(a, table, n)
            if a.name == "avg" and not T.is_decimal(arg.type) and not T.is_integer(arg.type):
                arg = cast_value(arg, T.FLOAT64)
            cols[f"__a{i}"] = arg
            for fn, _ in DECOMPOSABLE[a.name]:
                fn_name = "count" if fn == "count_all" else fn
                specs.append((f"__a{i}", fn_name, _options(fn_name)))
        work = pa.table(cols) if cols else pa.table({"__dummy": pa.nulls(n)})
        result = _aggregate(work, list(self._key_columns_names()), specs)
        return self._rename(result, list(self.group_fields) + [f for fs in self.states for f in fs])

    def _key_columns_names(self):
        return [f"__k{j}" for j in range(len(self.group_exprs))]

    def _final(self, table: pa.Table) -> pa.Table:
        cols = {f"__k{j}": table.column(f.key) for j, f in enumerate(self.group_fields)}
        specs = []
        for i, (a, fs) in enumerate(zip(self.aggs, self.states)):
            for j, ((_, merge), f) in enumerate(zip(DECOMPOSABLE[a.name], fs)):
                cols[f"__s{i}_{j}"] = table.column(f.key)
                specs.append((f"__s{i}_{j}", merge, _options(merge)))
        n = table.num_rows
        work = pa.table(cols) if cols else pa.table({"__dummy": pa.nulls(n)})
        merged = _aggregate(work, self._key_columns_names(), specs)
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
            arg = self._arg_column(a, table, n)
            name = f"__a{i}"
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
            if kind == "distinct":
                col = _aggregate_lists(col, a.name)
            elif kind == "median":
                col = _exact_median(col)
            elif kind == "string_agg":
                sep = a.args[1] if len(a.args) > 1 else None
                sep_value = sep.value if sep is not None and hasattr(sep, "value") else ","
                col = _join_lists(col, sep_value)
            elif kind in ("count", "approx_count_distinct"):
                col = pc.fill_null(col, 0)
            arrays.append(cast_value(col, a.dtype) if col.type != a.dtype else col)
        return arrays, key_positions

    def _empty_grand_total(self) -> list[pa.Array]:
        """The one row an ungrouped aggregate returns for empty input: counts 0, the rest NULL."""
        return [pa.array([0], pa.int64()) if a.name in ("count", "count_star", "approx_count_distinct")
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
        if name == "median":
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
            rows = len(arrays[0]) if arrays else 0
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
            cols.append(cast_value(col, f.dtype) if col.type != f.dtype else col)
        return pa.Table.from_arrays(cols, schema=self.schema)


def _table_of(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()


def _aggregate_lists(lists, fn: str) -> pa.Array:
    """Apply aggregate ``fn`` to each list of distinct values (DISTINCT aggregates), vectorized."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    n = len(lists)
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    mapping = {"sum": "sum", "avg": "mean", "min": "min", "max": "max", "any_value": "one", "product": "product",
               "bool_and": "all", "bool_or": "any", "string_agg": "list", "var_samp": "variance",
               "stddev_samp": "stddev", "var_pop": "variance", "stddev_pop": "stddev", "median": "approximate_median"}
    fn_name = mapping.get(fn)
    if fn_name is None:
        raise ExecutionError(f"{fn}(DISTINCT ...) is not supported")
    if fn in ("avg", "var_samp", "var_pop", "stddev_samp", "stddev_pop", "median"):
        flat = cast_value(flat, T.FLOAT64)
    opts = pc.VarianceOptions(ddof=1 if fn.endswith("samp") else 0) if fn_name in ("variance", "stddev") else \
        _options(fn_name)
    grouped = pa.table({"p": parents, "v": flat}).group_by("p").aggregate([("v", fn_name, opts)])
    # scatter back: groups whose list was empty get NULL
    positions = pc.index_in(pa.array(np.arange(n, dtype=np.int64)), value_set=grouped.column("p").cast(pa.int64()))
    return grouped.column(1).take(positions)


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
