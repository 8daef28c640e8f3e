"""Join filters made at run time from a hash join's build side, applied in the probe side's scan.

DuckDB's join filter pushdown and Spark's dynamic partition pruning: once a join's build
side is complete its keys are known, and a probe row whose key is not among them can only
be dropped by the join. So the scan that produces the probe key drops such rows itself
(and whole row groups whose min/max cannot meet the keys' range), before they are
decoded further, shuffled and probed. TPC-H Q17 joins all of lineitem to 200-odd parts of
one brand and container: with the filter the lineitem scan passes on a few thousand rows.

A filter is planned (:func:`quarry.physical.filter_planning.plan_runtime_filters`) for a hash join whose build side is
estimated small and whose probe key, followed down through projections, filters,
exchanges, group keys of aggregations and the row-preserving sides of other joins, is a
column of a Parquet scan. Only where dropping probe rows without a match cannot change
the answer: the probe side of an inner join, either side of a semi join, the side of a
left (right) join whose unmatched rows are not emitted, the subquery side of an anti join.

At run time the filter is a :class:`JoinFilter`: the distinct build keys (up to
``MAX_VALUES``; more and only their range is kept) with their min and max. Whoever has
the whole build side makes it: the scheduler from the replies of the build stage's tasks
(each collects the keys it writes, so the probe scan's stage waits for the build stage),
or, in one process, the join itself from its build exchange before reading the probe side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.compute.masks import bool_array


MAX_VALUES = 1 << 22          # distinct build keys kept as a set (4M); beyond it only the range
BITMAP_RANGE = 1 << 30        # integer keys spanning at most this range are looked up in a bitmap
                              # (one bit per value: 128 MB at most, 7.5 MB for SF 10's order keys)
HASHED_VALUES = 1 << 16       # other keys: pc.is_in (which rebuilds its hash set per call) up to this many


@dataclass
class JoinFilter:
    """The keys of a complete build side: their distinct values (or None: too many) and range.

    Integer keys merged from several tasks may repeat (see :meth:`merge`); lookups do not mind.

    ``min``/``max`` are None when the build side has no non-NULL key: then no probe row matches.
    """

    values: pa.Array | None
    min: Any
    max: Any

    def __getstate__(self):
        return {"values": self.values, "min": self.min, "max": self.max}     # not the lookup built locally

    def __setstate__(self, state):
        self.__dict__.update(state)

    @classmethod
    def of(cls, arrays) -> "JoinFilter":
        """The filter of the key columns ``arrays`` (arrays or chunked arrays, one type)."""
        collector = KeyCollector()
        for a in arrays:
            collector.add(a)
        return collector.result()

    @classmethod
    def merge(cls, filters: list["JoinFilter"]) -> "JoinFilter":
        """One filter for the union of the build sides ``filters`` came from (tasks of one stage)."""
        ranged = [f for f in filters if f.min is not None]
        if not ranged:
            return cls(None, None, None)
        lo = min(f.min for f in ranged)
        hi = max(f.max for f in ranged)
        values = None
        if all(f.values is not None for f in filters):
            chunks = [f.values for f in filters if len(f.values)]
            if chunks:
                # runs in the driver between the build stage and the probe stage, on their path: see
                # _distinct for why not pc.unique. Integer keys are only concatenated while they fit
                # (each task's are distinct already, and the bitmap or sorted lookup takes repeats):
                # the distinct of Q5's 227k order keys held the driver 10 ms, delaying the next stages
                merged = chunks[0] if len(chunks) == 1 else pa.chunked_array(chunks).combine_chunks()
                if len(chunks) > 1 and (len(merged) > MAX_VALUES or not _is_integral(merged.type)):
                    merged = _distinct(merged)
                values = merged if len(merged) <= MAX_VALUES else None
        return cls(values, lo, hi)

    @property
    def matches_nothing(self) -> bool:
        return self.min is None

    def keep(self, column) -> pa.Array | None:
        """A mask of the probe rows that may find a match (None: keep all); NULL keys never match."""
        if self.matches_nothing:
            return pa.array(np.zeros(len(column), dtype=bool))
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        if pa.types.is_floating(column.type):
            return None         # NaN keys match NaN, which neither Arrow's ranges nor bit lookups see
        try:
            lookup = self._integer_lookup() if _is_integral(column.type) else None
            if lookup is not None:
                return lookup(column)
            if self.values is not None and len(self.values) <= HASHED_VALUES:
                values = self.values if self.values.type == column.type else self.values.cast(column.type)
                return pc.is_in(column, value_set=values)
            lo = pa.scalar(self.min).cast(column.type)
            hi = pa.scalar(self.max).cast(column.type)
            return pc.fill_null(pc.and_(pc.greater_equal(column, lo), pc.less_equal(column, hi)), False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
            return None         # keys of another kind: filtering is only an optimization

    def _integer_lookup(self):
        """A function from an integer column to its mask, built once per filter and process (a
        filter arrives afresh with every task): a bitmap over the keys' range when it is small, else
        binary search in the sorted keys; None when the keys are not integers or were too many."""
        if "_lookup" in self.__dict__:
            return self.__dict__["_lookup"]
        lookup = None
        if self.values is not None and len(self.values) and _is_integral(self.values.type):
            fingerprint = (len(self.values), self.min, self.max, str(self.values.type))
            lookup = _LOOKUPS.get(fingerprint)
            if lookup is None or lookup[0] is not self.values and not lookup[0].equals(self.values):
                lookup = (self.values, _build_lookup(_as_int64(self.values)))
                _LOOKUPS[fingerprint] = lookup
                while len(_LOOKUPS) > 8:
                    _LOOKUPS.pop(next(iter(_LOOKUPS)))
            lookup = lookup[1]
        self.__dict__["_lookup"] = lookup
        return lookup

    def excludes(self, stats) -> bool:
        """Whether a row group whose key statistics are ``stats`` (min, max) can hold no match."""
        if self.matches_nothing:
            return True
        if stats is None or stats.min is None or stats.max is None or isinstance(stats.max, float):
            return False        # float statistics leave NaN out
        try:
            return stats.max < self.min or stats.min > self.max
        except TypeError:
            return False


_LOOKUPS: dict = {}      # recent lookups by the filter they were built for (tasks of one stage share one)


def _build_lookup(keys: np.ndarray):
    """Membership of int64 ``keys`` (repeats allowed): a bitmap over their range, else a sorted array."""
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo < BITMAP_RANGE:
        # one bit per value of the range, bit i & 7 of byte i >> 3 (little bit order)
        present = np.zeros(hi - lo + 1, dtype=bool)
        present[keys - lo] = True
        bits = np.packbits(present, bitorder="little")
        del present

        def bit_at(at: np.ndarray) -> np.ndarray:
            return ((bits[at >> 3] >> (at & 7).astype(np.uint8)) & 1).view(bool)

        def lookup(column):
            ints = _as_int64(column)
            if len(ints) and ints.min() >= lo and ints.max() <= hi:
                hit = bit_at(ints - lo)          # every key inside the range (the usual case): no masking
            else:
                inside = (ints >= lo) & (ints <= hi)
                hit = np.zeros(len(ints), dtype=bool)
                hit[inside] = bit_at(ints[inside] - lo)
            return _valid_only(hit, column)
        return lookup
    ordered = np.sort(keys)

    def lookup(column):
        ints = _as_int64(column)
        at = np.minimum(np.searchsorted(ordered, ints), len(ordered) - 1)
        return _valid_only(ordered[at] == ints, column)
    return lookup


def _distinct(array: pa.Array) -> pa.Array:
    """The distinct values of ``array`` (no NULLs), in any order.

    Integer and date keys go through numpy: a bitmap over their range when it is dense
    enough, else a sort. Arrow's hash-based ``unique`` takes 100-250 ms on 730k order keys
    (TPC-H Q21's filter), numpy 2.4's ``np.unique`` about a second; the bitmap 10 ms, the
    sort 20 ms. Other types keep ``pc.unique``.
    """
    if len(array) < 2 or not _is_integral(array.type) or pa.types.is_uint64(array.type):
        return pc.unique(array) if len(array) >= 2 else array
    ints = _as_int64(array)
    lo, hi = int(ints.min()), int(ints.max())
    if hi - lo < max(8 * len(ints), 1 << 16):
        present = np.zeros(hi - lo + 1, dtype=bool)
        present[ints - lo] = True
        out = np.flatnonzero(present) + lo
    else:
        ordered = np.sort(ints)
        keep = np.empty(len(ordered), dtype=bool)
        keep[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
        out = ordered[keep]
    result = pa.array(out, pa.int64())
    if pa.types.is_int64(array.type):
        return result
    if pa.types.is_date32(array.type):
        return result.cast(pa.int32()).view(pa.date32())
    if pa.types.is_date64(array.type):
        return result.view(pa.date64())
    return result.cast(array.type)


def _is_integral(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_date32(t) or pa.types.is_date64(t)


def _as_int64(array) -> np.ndarray:
    """The integers of an integer or date array (NULL slots arbitrary) as int64, without a Python loop."""
    if pa.types.is_date32(array.type):
        array = array.view(pa.int32())
    elif pa.types.is_date64(array.type):
        array = array.view(pa.int64())
    return np.asarray(array.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64) \
        if array.null_count else np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int64)


def _valid_only(hit: np.ndarray, column) -> pa.Array:
    """``hit`` as a mask, with NULL keys (which match nothing) false."""
    if column.null_count:
        hit = hit & np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return bool_array(hit)


class KeyCollector:
    """Distinct non-NULL keys seen so far (until ``MAX_VALUES``), and their range."""

    def __init__(self):
        self.chunks: list[pa.Array] = []
        self.count = 0
        self.overflow = False
        self.min = None
        self.max = None

    def add(self, column) -> None:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        if len(column) == 0 or column.null_count == len(column):
            return
        bounds = pc.min_max(column)
        lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        if self.overflow:
            return
        distinct = _distinct(column.drop_null())
        self.chunks.append(distinct)
        self.count += len(distinct)
        if self.count > 2 * MAX_VALUES:
            self._compact()

    def _compact(self) -> None:
        merged = self.chunks[0] if len(self.chunks) == 1 else \
            _distinct(pa.chunked_array(self.chunks).combine_chunks())
        if len(merged) > MAX_VALUES:
            self.chunks, self.count, self.overflow = [], 0, True
        else:
            self.chunks, self.count = [merged], len(merged)

    def result(self) -> JoinFilter:
        if not self.overflow and self.chunks:
            self._compact()
        values = None if self.overflow else (self.chunks[0] if self.chunks else pa.array([], pa.null()))
        return JoinFilter(values, self.min, self.max)


def describe_filters(filters) -> str:
    """How a scan shows its runtime filters in EXPLAIN: ``runtime_filter=[#3 l_partkey]``."""
    return "runtime_filter=[" + ", ".join(f"#{fid} {field.name}" for fid, field in filters) + "]"


__all__ = ["JoinFilter", "KeyCollector", "describe_filters"]
