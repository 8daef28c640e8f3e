"""The inline executor: runs every partition of a physical plan in the calling process."""

from __future__ import annotations

import pyarrow as pa

from quarry.errors import DataError, ExecutionError, QuarryError
from quarry.physical.base import ExecContext, ExecNode, run_partitions


def run_physical(root: ExecNode, ctx: ExecContext) -> pa.Table:
    """Execute ``root`` (one output partition) and return all rows as a Table."""
    try:
        batches = [b for part in run_partitions(root, ctx) for b in part]
        if not batches:
            return root.schema.empty_table()
        return pa.Table.from_batches(batches, schema=root.schema)
    except QuarryError:
        raise
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"query failed: {exc}") from exc
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError, pa.ArrowKeyError) as exc:
        raise ExecutionError(f"query failed: {exc}", hint="this operation is not supported on these types") from exc
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ExecutionError(f"query failed: {type(exc).__name__}: {exc}",
                             hint="this is a bug in quarry; rerun with the failing query in a report") from exc
    except MemoryError as exc:
        raise ExecutionError("query ran out of memory", hint="add filters or a LIMIT") from exc
    finally:
        ctx.buffers.clear()
