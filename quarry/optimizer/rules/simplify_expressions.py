"""Fold constants and simplify boolean logic in every expression.

    Filter: (x > 1 + 1) AND TRUE              Filter: x > 2
    Filter: (a AND b) OR (a AND c)     ==>    Filter: a AND (b OR c)
    Filter: FALSE                             Values: 0 rows

Correct under SQL's three-valued logic: ``x AND TRUE`` is ``x`` and ``x OR
FALSE`` is ``x`` for NULL too; ``NOT (a < b)`` is ``a >= b`` (both NULL when an
operand is); a factor common to every branch of an OR may be pulled out. A
filter that is constantly FALSE or NULL keeps no rows. Constant calls are
evaluated with the same kernels the executor uses (like Catalyst, whose
expressions evaluate themselves), so folding never changes a result; a call
that fails is left for run time, where the error names the row's data. Only
calls whose definition is ``foldable`` fold (never ``random()``), and only
deterministic conjuncts are deduplicated or factored.
"""

from __future__ import annotations

import pyarrow as pa

from quarry.errors import QuarryError
from quarry.logical.expressions import Call, Expr, Literal, and_all, conjuncts, disjuncts, or_all
from quarry.logical.functions import definition_of, is_deterministic
from quarry.logical.plan import Filter, LogicalPlan, Values
from quarry.optimizer.rule import rule

_NEGATE = {"equal": "not_equal", "not_equal": "equal", "less": "greater_equal", "greater_equal": "less",
           "greater": "less_equal", "less_equal": "greater", "is_null": "is_not_null", "is_not_null": "is_null"}
_ONE_ROW = pa.table({"__one": [None]})


def _fold(e: Expr) -> Expr:
    if not isinstance(e, Call) or not e.args:
        return e
    fdef = definition_of(e)
    if fdef is None or not fdef.foldable:
        return e
    if not all(isinstance(a, Literal) for a in e.args):
        return e
    from quarry.compute.expr_eval import evaluate   # the executor's own kernels: see the docstring
    try:
        value = evaluate(e, _ONE_ROW)
    except (QuarryError, pa.ArrowException, ValueError, TypeError, ZeroDivisionError, OverflowError):
        return e
    scalar = value if isinstance(value, pa.Scalar) else value[0]
    return Literal(scalar.as_py(), e.type)


def _is_true(e):
    return isinstance(e, Literal) and e.value is True


def _is_false(e):
    return isinstance(e, Literal) and e.value is False


def _dedupe(items: list[Expr]) -> list[Expr]:
    """Drop repeated conjuncts/disjuncts; `random() < 0.5 AND random() < 0.5` are two draws, kept."""
    out = []
    for x in items:
        if x not in out or not is_deterministic(x):
            out.append(x)
    return out


def _simplify_bool(e: Expr) -> Expr:
    if not isinstance(e, Call):
        return e
    if e.name == "and":
        parts = _dedupe([p for p in conjuncts(e) if not _is_true(p)])
        if any(_is_false(p) for p in parts):
            return Literal(False, e.type)
        if not parts:
            return Literal(True, e.type)
        out = and_all(parts)
        return out if out != e else e
    if e.name == "or":
        parts = _dedupe([p for p in disjuncts(e) if not _is_false(p)])
        if any(_is_true(p) for p in parts):
            return Literal(True, e.type)
        if not parts:
            return Literal(False, e.type)
        if len(parts) > 1:
            common = [c for c in conjuncts(parts[0]) if all(c in conjuncts(p) for p in parts[1:])]
            if common and all(is_deterministic(c) for c in common):
                rests = [and_all([c for c in conjuncts(p) if c not in common]) for p in parts]
                if any(r is None for r in rests):
                    return and_all(common)   # one branch is exactly the common part
                return and_all(common + [or_all(rests)])
        out = or_all(parts)
        return out if out != e else e
    if e.name == "not":
        inner = e.args[0]
        if isinstance(inner, Call) and inner.name == "not":
            return inner.args[0]
        if isinstance(inner, Call) and inner.name in _NEGATE and not any(
                pa.types.is_floating(a.dtype) for a in inner.args):
            # NOT (x < 2) is not x >= 2 for NaN, which compares false both ways
            return Call(_NEGATE[inner.name], inner.args, inner.type, inner.nullable)
    return e


def simplify(e: Expr) -> Expr:
    """Constant-fold and simplify one expression (bottom-up)."""
    return e.transform_up(lambda x: _simplify_bool(_fold(x)))


@rule
def apply(plan: LogicalPlan, ctx) -> LogicalPlan:
    def fn(node: LogicalPlan) -> LogicalPlan:
        node = node.map_expressions(simplify)
        if isinstance(node, Filter):
            p = node.predicate
            if _is_true(p):
                return node.input
            if isinstance(p, Literal) and (p.value is False or p.value is None):
                return Values((), node.schema)
        return node
    return plan.transform_up(fn)
