"""Plan join filters: which hash join's build side filters which Parquet scan (see runtime_filter).

A pass over a finished physical plan, run by the planner. It sits above the operators it reads
(joins, aggregations, scans, exchanges), while :mod:`quarry.physical.runtime_filter` holds the
filters themselves, which those operators use.
"""

from __future__ import annotations

import itertools

from quarry.logical.expressions import ColumnRef
from quarry.physical.aggregate import HashAggregateExec
from quarry.physical.join import HashJoinExec
from quarry.physical.operators import (
    BroadcastExec, FilterExec, GatherExec, ParquetScanExec, ProjectExec, RepartitionExec,
)

MAX_BUILD_ROWS = 8_000_000    # a build side estimated above this gets no filter
MIN_REDUCTION = 2             # ... nor one not estimated this many times smaller than the probe side

_IDS = itertools.count(1)

# the side of a join whose rows may be dropped when they find no match: (kind, probe is left) -> ok
_FILTERABLE = {("inner", True): True, ("inner", False): True, ("semi", True): True, ("semi", False): True,
               ("left", False): True, ("right", True): True, ("anti", False): True}


def plan_runtime_filters(root) -> None:
    """Give every hash join that qualifies (see the module docstring) a filter on its probe scan,
    and pass filters on across equi-joins above them.

    Sets ``join.runtime_filter = (id, build key expression)`` and appends ``(id, field)`` to the
    scan's ``runtime_filters``. Then, since every row leaving a join that applied filter F has its
    key in F, a join further up on that key may drop the rows of its other side whose key is not in
    F (where it drops that side's unmatched rows): TPC-H Q20 joins partsupp, already filtered by the
    ``forest%`` parts, to an aggregation of lineitem by part, so F also filters that lineitem scan
    before the aggregation.
    """
    joins = [n for n in _post_order(root) if isinstance(n, HashJoinExec) and not n.null_aware]
    within: dict[int, set[int]] = {}          # column id -> filters every row's value is known to pass
    sources: dict[int, object] = {}           # filter id -> the join whose build side makes it
    for node in joins:
        probe_left = not node.build_left
        build_rows, probe_rows = node.estimates if node.estimates else (None, None)
        if _FILTERABLE.get((node.kind, probe_left)) and build_rows is not None and \
                build_rows <= MAX_BUILD_ROWS and build_rows * MIN_REDUCTION <= probe_rows:
            probe_keys = node.left_keys if probe_left else node.right_keys
            build_keys = node.right_keys if probe_left else node.left_keys
            probe = node.children[0 if probe_left else 1]
            for pkey, bkey in zip(probe_keys, build_keys):
                if not isinstance(pkey, ColumnRef):
                    continue
                target = trace_to_scan(probe, pkey.field.id)
                if target is None:
                    continue
                fid = next(_IDS)
                node.runtime_filter = (fid, bkey)
                sources[fid] = node
                _attach(target, fid, node)
                for key in (pkey, bkey):
                    if isinstance(key, ColumnRef):
                        within.setdefault(key.field.id, set()).add(fid)
                break
        _pass_on(node, within, sources)
    _drop_pointless(root, sources)


def _drop_pointless(root, sources: dict) -> None:
    """Drop the filters whose build side is all of one table, read with no filter of its own: they
    keep every probe row whose key refers to that table (in data with foreign keys, all rows) and
    would only make the probe's stage wait for the build's (Q9: all of nation into supplier). A
    build side's scan keeps its filters while one reaches it; dropping a filter can leave another
    build side with none, hence the loop."""
    scans = [n for n in root.walk() if isinstance(n, ParquetScanExec)]
    while True:
        pointless = set()
        for fid, join in sources.items():
            if join.build_unfiltered and not any(
                    isinstance(n, ParquetScanExec) and n.runtime_filters
                    for n in join.children[join.build_side].walk()):
                pointless.add(fid)
        if not pointless:
            return
        for fid in pointless:
            sources.pop(fid).runtime_filter = None
        for scan in scans:
            if any(f in pointless for f, _ in scan.runtime_filters):
                scan.runtime_filters = [(f, field) for f, field in scan.runtime_filters if f not in pointless]


def _pass_on(node, within: dict[int, set[int]], sources: dict) -> None:
    """Filters known to hold on one key of ``node``'s equi-join also filter the other side's key."""
    for lkey, rkey in zip(node.left_keys, node.right_keys):
        if not (isinstance(lkey, ColumnRef) and isinstance(rkey, ColumnRef)):
            continue
        for known, other, side in ((lkey, rkey, 1), (rkey, lkey, 0)):
            fids = within.get(known.field.id, set()) - within.get(other.field.id, set())
            # the other side's rows whose key is outside a filter find no match: only where the
            # join drops its unmatched rows may they go
            if not fids or not _FILTERABLE.get((node.kind, side == 0)):
                continue
            target = trace_to_scan(node.children[side], other.field.id)
            if target is None:
                continue
            for fid in sorted(fids):
                _attach(target, fid, sources[fid])
            within.setdefault(other.field.id, set()).update(fids)


def _attach(target, fid: int, source) -> None:
    """Give the scan of ``target`` filter ``fid``, unless the scan feeds the filter's own build side
    (it would wait for itself)."""
    scan, field = target
    build = source.children[source.build_side]
    if any(node is scan for node in build.walk()):
        return
    if all(f != fid for f, _ in scan.runtime_filters):
        scan.runtime_filters = list(scan.runtime_filters) + [(fid, field)]


def _post_order(node):
    for child in node.children:
        yield from _post_order(child)
    yield node


def trace_to_scan(node, fid: int):
    """The Parquet scan (and its field) that produces column ``fid`` of ``node``'s output, following
    only operators through which dropping a row of that scan drops exactly the output rows that
    carry its value; None if there is none."""
    while True:
        if isinstance(node, ParquetScanExec):
            field = next((f for f in node.fields if f.id == fid), None)
            return (node, field) if field is not None else None
        if isinstance(node, (RepartitionExec, GatherExec, BroadcastExec, FilterExec)):
            node = node.children[0]
            continue
        if isinstance(node, ProjectExec):
            index = next((i for i, f in enumerate(node.fields) if f.id == fid), None)
            if index is None or not isinstance(node.exprs[index], ColumnRef):
                return None
            fid = node.exprs[index].field.id
            node = node.children[0]
            continue
        if isinstance(node, HashAggregateExec):
            index = next((i for i, f in enumerate(node.group_fields) if f.id == fid), None)
            if index is None or node.grouping_sets is not None or not isinstance(node.group_exprs[index], ColumnRef):
                return None
            fid = node.group_exprs[index].field.id
            node = node.children[0]
            continue
        if isinstance(node, HashJoinExec):
            left = any(f.id == fid for f in node.children[0].fields)
            preserved = {"inner": (True, True), "semi": (True, False), "anti": (True, False),
                         "left": (True, False), "right": (False, True)}.get(node.kind)
            if preserved is None or not preserved[0 if left else 1]:
                return None
            node = node.children[0 if left else 1]
            continue
        return None
