"""Evaluate a typed expression over a RecordBatch (or Table), column at a time.

Columns are looked up by field key (``name#id``). Literals stay Arrow scalars
until an operation broadcasts them, so ``x + 1`` never materializes a column of
ones. A few forms also translate to ``pyarrow.compute.Expression`` so Acero can
apply them inside a hash join (``to_arrow_expression``).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from quarry.errors import DataError, ExecutionError, QuarryError
from quarry.logical.expressions import AggCall, Call, ColumnRef, Expr, Literal, SubqueryExpr, WindowCall
from quarry.logical.functions import definition
from quarry.logical.nested import Lambda, LambdaParam
from quarry.logical.udf import UDFCall
from quarry.compute.kernels import to_array
from quarry.compute.udf import evaluate_udf
from quarry.compute.scaled import is_decimal_arithmetic, scaled, to_decimal_array


def _all_null(value) -> bool:
    """Whether ``value`` is a NULL constant or a column of Arrow's null type."""
    if isinstance(value, pa.Scalar):
        return not value.is_valid
    return pa.types.is_null(value.type)


def literal_scalar(e: Literal) -> pa.Scalar:
    if e.value is None:
        return pa.scalar(None, e.type)
    return pa.scalar(e.value, e.type)


def evaluate(e: Expr, batch) -> pa.Array | pa.ChunkedArray | pa.Scalar:
    """Value of ``e`` for every row of ``batch`` (a scalar when it does not depend on the rows)."""
    if isinstance(e, ColumnRef):
        try:
            return batch.column(e.field.key)
        except KeyError:
            raise ExecutionError(f"column {e.field.key} is missing from the batch "
                                 f"({', '.join(batch.schema.names)})", hint="this is a planner bug") from None
    if isinstance(e, Literal):
        return literal_scalar(e)
    if isinstance(e, LambdaParam):
        return batch.column(e.field.key)
    if isinstance(e, UDFCall):
        # a Python UDF: the whole batch to the user's function (compute/udf.py)
        return evaluate_udf(e, [evaluate(a, batch) for a in e.args], batch.num_rows)
    if isinstance(e, Call):
        if is_decimal_arithmetic(e):
            # decimal + - * over values that fit 64 bits: numpy int64, exact (see compute/scaled.py)
            fast = scaled(e, batch)
            if fast is not None:
                return to_decimal_array(fast, e.type, batch.num_rows)
        fdef = definition(e.name)
        if fdef is None or fdef.kernel is None:
            raise ExecutionError(f"function `{e.name}` has no implementation",
                                 hint="this is a bug in quarry; please report it")
        args = [BoundLambda(a, batch) if isinstance(a, Lambda) else evaluate(a, batch) for a in e.args]
        if any(_all_null(args[i]) for i in fdef.null_propagating_args(len(args))):
            # a NULL where the definition says NULL in means NULL out: kernels never see it,
            # so none of them needs a case for NULL constants or NULL-typed columns there
            return pa.scalar(None, e.type) if all(isinstance(a, pa.Scalar) for a in args) \
                else pa.nulls(batch.num_rows, e.type)
        try:
            out = fdef.kernel(e.name, args, e.type, batch.num_rows)
        except QuarryError:
            raise
        except pa.ArrowInvalid as exc:
            raise DataError(f"error evaluating `{e}`: {exc}") from exc
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise ExecutionError(f"cannot evaluate `{e}`: {exc}") from exc
        if out.type != e.type:
            if pa.types.is_null(out.type) or out.type != e.type:
                out = out.cast(e.type) if not isinstance(out, pa.Scalar) else pa.scalar(out.as_py(), e.type)
        return out
    if isinstance(e, (AggCall, WindowCall)):
        raise ExecutionError(f"`{e}` cannot be evaluated per row", hint="this is a planner bug")
    if isinstance(e, SubqueryExpr):
        raise ExecutionError("a subquery reached execution without being decorrelated",
                             hint="is the `decorrelate_subqueries` rule disabled?")
    raise ExecutionError(f"cannot evaluate {type(e).__name__}")


class BoundLambda:
    """A lambda argument handed to its function's kernel, with the batch its outer columns come from.

    ``apply(values, parents, positions)`` evaluates the body once over all the flat list values:
    a batch of the parameter (the values, and their 1-based positions for a second parameter)
    plus each outer column the body reads, taken at the values' parent rows."""

    def __init__(self, fn: Lambda, batch):
        self.fn = fn
        self.batch = batch

    def apply(self, values, parents, positions):
        columns, names = [], []
        for param, data in zip(self.fn.params, (values, pa.array(positions + 1, pa.int64()))):
            columns.append(data if data.type == param.dtype else data.cast(param.dtype))
            names.append(param.key)
        outer = {e.field.key for e in self.fn.body.walk() if isinstance(e, ColumnRef)}
        take = pa.array(parents, pa.int64())
        for key in sorted(outer):
            column = self.batch.column(key)
            columns.append(column.take(take))
            names.append(key)
        flat = pa.RecordBatch.from_arrays([c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c
                                           for c in columns], names=names)
        return evaluate_array(self.fn.body, flat)


    def apply_columns(self, arrays, parents):
        """The body over a batch of the parameters given as ``arrays`` (one per parameter, in order),
        each outer column taken at ``parents`` (list_reduce's steps)."""
        columns, names = [], []
        for param, data in zip(self.fn.params, arrays):
            columns.append(data if data.type == param.dtype else data.cast(param.dtype))
            names.append(param.key)
        take = pa.array(parents, pa.int64())
        for key in sorted({e.field.key for e in self.fn.body.walk() if isinstance(e, ColumnRef)}):
            columns.append(self.batch.column(key).take(take))
            names.append(key)
        flat = pa.RecordBatch.from_arrays([c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c
                                           for c in columns], names=names)
        return evaluate_array(self.fn.body, flat)


def evaluate_array(e: Expr, batch) -> pa.Array | pa.ChunkedArray:
    """Like :func:`evaluate` but always an array as long as the batch."""
    out = evaluate(e, batch)
    if isinstance(out, pa.Scalar):
        return to_array(out, batch.num_rows)
    return out


def evaluate_predicate(e: Expr, batch):
    """A boolean mask where NULL counts as FALSE (WHERE semantics)."""
    mask = evaluate(e, batch)
    if isinstance(mask, pa.Scalar):
        return bool(mask.as_py())
    if mask.null_count:
        mask = pc.fill_null(mask, False)
    return mask


def filter_batch(batch, e: Expr):
    """Rows of ``batch`` where ``e`` is TRUE."""
    mask = evaluate_predicate(e, batch)
    if mask is True:
        return batch
    if mask is False:
        return batch.slice(0, 0)
    return batch.filter(mask)


# ---------------------------------------------------------------- Acero expressions

_ACERO_BINARY = {"equal": "equal", "not_equal": "not_equal", "less": "less", "less_equal": "less_equal",
                 "greater": "greater", "greater_equal": "greater_equal", "and": "and_kleene", "or": "or_kleene",
                 "add": "add", "subtract": "subtract", "multiply": "multiply"}


def to_arrow_expression(e: Expr) -> pc.Expression | None:
    """Translate a simple expression to an Acero expression, or None when it has no exact equivalent."""
    if isinstance(e, ColumnRef):
        return pc.field(e.field.key)
    if isinstance(e, Literal):
        return pc.scalar(literal_scalar(e))
    if isinstance(e, Call):
        args = [to_arrow_expression(a) for a in e.args]
        if any(a is None for a in args):
            return None
        if e.name in _ACERO_BINARY and len(args) == 2:
            if e.name in ("add", "subtract", "multiply") and not pa.types.is_floating(e.type):
                return None   # decimal/int arithmetic typing differs; evaluate it ourselves
            if e.name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal") and \
                    any(pa.types.is_floating(a.dtype) for a in e.args):
                return None   # Acero compares NaN as IEEE does; ours puts NaN above every number
            return pc.Expression._call(_ACERO_BINARY[e.name], args)
        if e.name == "not":
            return pc.Expression._call("invert", args)
        if e.name == "is_null":
            return pc.Expression._call("is_null", args)
        if e.name == "is_not_null":
            return pc.Expression._call("is_valid", args)
    return None
