"""Rules and batches, the two building blocks of the optimizer.

A :class:`Rule` is a named function from plan to plan that returns the very
same object when it does not apply. A :class:`Batch` groups rules and says how
often they run: ``Once`` or to a ``FixedPoint(n)`` (until no rule changes the
plan, at most n rounds).

A rule the engine needs for correctness, not just speed, is not ``excludable``
(Catalyst's ``nonExcludableRules``): ``disabled_rules`` may not name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from quarry.logical.plan import LogicalPlan


@dataclass(frozen=True)
class Rule:
    """A named rewrite. ``apply(plan, ctx)`` returns ``plan`` itself when nothing changed.

    ``excludable=False`` marks a rule without which some plans cannot run
    (``decorrelate_subqueries``: the physical planner has no subquery operator).
    """

    name: str
    apply: Callable[[LogicalPlan, "OptimizerContext"], LogicalPlan]
    excludable: bool = True

    def __call__(self, plan: LogicalPlan, ctx: "OptimizerContext") -> LogicalPlan:
        return self.apply(plan, ctx)


@dataclass(frozen=True)
class Once:
    """Run the batch one time (rules that are not idempotent, or need no repetition)."""

    def rounds(self) -> int:
        return 1


@dataclass(frozen=True)
class FixedPoint:
    """Repeat the batch until the plan stops changing, at most ``limit`` rounds."""

    limit: int = 10

    def rounds(self) -> int:
        return self.limit


@dataclass(frozen=True)
class Batch:
    name: str
    strategy: Once | FixedPoint
    rules: tuple[Rule, ...]


@dataclass
class OptimizerContext:
    """What rules may consult: the session configuration."""

    config: dict


def rule(fn: Callable | None = None, *, excludable: bool = True):
    """Make a Rule from a function ``fn(plan, ctx)``, named after the function's module.

    ``@rule`` for an ordinary rule; ``@rule(excludable=False)`` for one the engine
    cannot do without.
    """
    def make(f: Callable) -> Rule:
        return Rule(f.__module__.rsplit(".", 1)[-1], f, excludable)
    return make(fn) if fn is not None else make
