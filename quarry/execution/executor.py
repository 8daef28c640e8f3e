"""Executors: run a physical plan and hand back its rows.

* inline: every partition in the calling process, on threads (``workers=0`` or
  ``executor="inline"``); exchanges pass batches in memory.
* processes (the default): the plan is cut into stages at its exchanges
  (:mod:`quarry.execution.stages`) and the scheduler runs their tasks on a pool of
  worker processes (:mod:`quarry.execution.pool`), shuffling through Arrow IPC files.
* ray: the same stages as Ray tasks (:mod:`quarry.execution.ray_backend`).

Whatever fails inside is reported as a :class:`~quarry.errors.QuarryError`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pyarrow as pa

from quarry.errors import DataError, ExecutionError, QuarryError, disk_full
from quarry.physical.base import ExecContext, ExecNode, stream_partitions


@contextmanager
def quarry_errors():
    """Turn the exceptions a query can raise into QuarryErrors with a hint."""
    try:
        yield
    except QuarryError:
        raise
    except (pa.ArrowInvalid, OSError) as exc:
        full = disk_full(exc)
        if full is not None:
            raise full from exc
        raise DataError(f"query failed: {exc}") from exc
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError, pa.ArrowKeyError) as exc:
        raise ExecutionError(f"query failed: {exc}", hint="this operation is not supported on these types") from exc
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError, AssertionError,
            ZeroDivisionError) as exc:
        raise ExecutionError(f"query failed: {type(exc).__name__}: {exc}",
                             hint="this is a bug in quarry; rerun with the failing query in a report") from exc
    except MemoryError as exc:
        raise ExecutionError("query ran out of memory", hint="add filters or a LIMIT") from exc


def run_physical(root: ExecNode, ctx: ExecContext) -> pa.Table:
    """Execute ``root`` (one output partition) in this process and return all rows as a Table."""
    return pa.Table.from_batches(list(stream_inline(root, ctx)), schema=root.schema)


def stream_inline(root: ExecNode, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
    """The batches of ``root`` (one output partition) run in this process, as they are produced."""
    from quarry.parallelism import use_arrow_threads
    it = stream_partitions(root, ctx)
    try:
        while True:
            with quarry_errors(), use_arrow_threads(ctx.config.arrow_threads):
                try:
                    batch = next(it)
                except StopIteration:
                    return
            yield batch
    finally:
        it.close()
        ctx.release()


def stream_staged(run) -> Iterator[pa.RecordBatch]:
    """The result batches of a :class:`~quarry.execution.scheduler.StageRun`, errors as QuarryErrors."""
    it = run.batches()
    try:
        while True:
            with quarry_errors():
                try:
                    batch = next(it)
                except StopIteration:
                    return
            yield batch
    finally:
        it.close()
