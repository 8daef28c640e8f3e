"""The optimizer driver: runs the batches in order and checks every rule's output.

Catalyst's safety nets, each naming the rule at fault:

- after each rule that changed the plan, the output schema (column ids, types)
  must be unchanged, and no column reference may dangle: every ``ColumnRef``
  resolves to a column of the node's inputs or, inside a subquery, of the query
  around it (``quarry.optimizer.integrity``);
- a rule that raises something other than a ``QuarryError`` becomes a
  ``PlanError`` naming it;
- rules named in ``config["disabled_rules"]`` are skipped, so a wrong answer can
  be bisected to a rule from the session, except the rules the engine needs to
  run at all (``Rule.excludable`` False), which may not be disabled;
- a ``FixedPoint`` batch that is still changing the plan when it reaches its
  round limit issues an :class:`OptimizerWarning` (and a note in the trace).

With a :class:`Trace`, the driver records the plan after every rule that fired,
and the time each rule took, which is what ``EXPLAIN VERBOSE`` prints.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

from quarry.errors import PlanError, QuarryError, suggest
from quarry.logical.plan import LogicalPlan
from quarry.optimizer.integrity import dangling_reference
from quarry.optimizer.rule import Batch, FixedPoint, OptimizerContext, Rule


class OptimizerWarning(UserWarning):
    """Something in the optimizer deserves a look but did not stop the query (a batch hit its round limit)."""


@dataclass(frozen=True)
class RuleRun:
    """One application of one rule: where, how long, and whether it changed the plan."""

    batch: str
    rule: str
    round: int
    seconds: float
    changed: bool


@dataclass
class Trace:
    """What the optimizer did to one plan, for ``EXPLAIN VERBOSE``.

    ``steps``: the plan text after each rule that changed something, [(batch, rule, plan_text)].
    ``runs``: every rule application, changed or not, with its time.
    ``warnings``: batches that hit their round limit. ``disabled``: the rules skipped.
    ``check_seconds``: time spent in the schema and integrity checks.
    """

    steps: list[tuple[str, str, str]] = field(default_factory=list)
    runs: list[RuleRun] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    check_seconds: float = 0.0

    def rule_summary(self) -> str:
        """One line per (batch, rule) in run order: runs, how many changed the plan, total time.

        >>> t = Trace(runs=[RuleRun("pushdown", "push_down_filter", 1, 0.002, True),
        ...                 RuleRun("pushdown", "push_down_filter", 2, 0.001, False)])
        >>> print(t.rule_summary())
        == Optimizer Rules ==
        batch     rule              runs  changed  time
        pushdown  push_down_filter     2        1  3.00 ms
        total                                      3.00 ms
        checks (schema, integrity)                 0.00 ms
        """
        rows: dict[tuple[str, str], list] = {}
        for run in self.runs:
            row = rows.setdefault((run.batch, run.rule), [0, 0, 0.0])
            row[0] += 1
            row[1] += run.changed
            row[2] += run.seconds
        table = [("batch", "rule", "runs", "changed", "time")]
        table += [(b, r, str(n), str(c), f"{s * 1000:.2f} ms") for (b, r), (n, c, s) in rows.items()]
        table.append(("total", "", "", "", f"{sum(r.seconds for r in self.runs) * 1000:.2f} ms"))
        widths = [max(len(row[i]) for row in table) for i in range(5)]
        lines = ["== Optimizer Rules =="]
        for row in table:
            cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]),
                     row[3].rjust(widths[3]), row[4]]
            lines.append("  ".join(cells).rstrip())
        label = "checks (schema, integrity)"
        lines.append(label.ljust(sum(widths[:4]) + 8) + f"{self.check_seconds * 1000:.2f} ms")
        lines += [f"disabled: {name}" for name in self.disabled]
        lines += [f"WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)


def _signature(plan: LogicalPlan):
    return tuple((f.id, str(f.dtype)) for f in plan.schema)


def _report_hint(r: Rule) -> str:
    if r.excludable:
        return f"disable it with config disabled_rules=['{r.name}'] and report this"
    return "this rule cannot be disabled (the engine needs it); please report this"


class Optimizer:
    """Applies ``batches`` (see ``quarry.optimizer.rules.BATCHES``) to logical plans."""

    def __init__(self, batches: list[Batch]):
        self.batches = batches

    def rule_names(self) -> list[str]:
        """Every rule's name once, in first-run order."""
        return list(dict.fromkeys(r.name for b in self.batches for r in b.rules))

    def required_rules(self) -> list[str]:
        """The rules ``disabled_rules`` may not name, because some plans cannot run without them."""
        return list(dict.fromkeys(r.name for b in self.batches for r in b.rules if not r.excludable))

    def check_disabled(self, names) -> frozenset[str]:
        """The normalized set of rule names to skip; raise for an unknown or a required rule.

        ``names`` is a string or a list of strings; case and surrounding spaces do not matter.
        """
        if isinstance(names, str):
            names = [names]
        disabled = {n.strip().lower() for n in names if n.strip()}
        known = self.rule_names()
        for name in sorted(disabled):
            if name not in known:
                raise PlanError(f"unknown optimizer rule `{name}` in disabled_rules",
                                hint=suggest(name, known) or "rules: " + ", ".join(known))
            if name in self.required_rules():
                raise PlanError(f"optimizer rule `{name}` cannot be disabled: queries need it to run",
                                hint="rules that cannot be disabled: " + ", ".join(self.required_rules())
                                + " (see docs/configuration.md)")
        return frozenset(disabled)

    def optimize(self, plan: LogicalPlan, config: dict | None = None, trace: Trace | None = None) -> LogicalPlan:
        """Run every batch over ``plan``, checking each rule's output; record what happened in ``trace``."""
        config = config or {}
        disabled = self.check_disabled(config.get("disabled_rules", ()))
        if trace is not None:
            trace.disabled.extend(n for n in self.rule_names() if n in disabled)
        found = dangling_reference(plan)
        if found is not None:
            raise PlanError(f"the plan to optimize has a dangling column reference: {found}",
                            hint="the query was built wrongly before the optimizer; please report this")
        ctx = OptimizerContext(config)
        expected = _signature(plan)
        for batch in self.batches:
            limit = batch.strategy.rounds()
            for round_number in range(1, limit + 1):
                changed = False
                for r in batch.rules:
                    if r.name in disabled:
                        continue
                    new = self._apply(r, plan, ctx, trace, batch.name, round_number)
                    if new is not plan:
                        start = time.perf_counter()
                        self._check(r, new, expected)
                        if trace is not None:
                            trace.check_seconds += time.perf_counter() - start
                        if trace is not None:
                            trace.steps.append((batch.name, r.name, new.pretty()))
                        plan = new
                        changed = True
                if not changed:
                    break
            else:
                if isinstance(batch.strategy, FixedPoint) and changed:
                    self._warn_limit(batch, trace)
        return plan

    @staticmethod
    def _apply(r: Rule, plan, ctx, trace, batch_name: str, round_number: int) -> LogicalPlan:
        start = time.perf_counter()
        try:
            new = r(plan, ctx)
        except QuarryError:
            raise
        except Exception as exc:  # a bug in a rule must name the rule
            raise PlanError(f"optimizer rule `{r.name}` failed: {type(exc).__name__}: {exc}",
                            hint=_report_hint(r)) from exc
        if trace is not None:
            trace.runs.append(RuleRun(batch_name, r.name, round_number, time.perf_counter() - start,
                                      new is not plan))
        return new

    @staticmethod
    def _check(r: Rule, new: LogicalPlan, expected) -> None:
        if _signature(new) != expected:
            raise PlanError(f"optimizer rule `{r.name}` changed the output schema", hint=_report_hint(r))
        found = dangling_reference(new)
        if found is not None:
            raise PlanError(f"optimizer rule `{r.name}` left a dangling column reference: {found}",
                            hint=_report_hint(r))

    @staticmethod
    def _warn_limit(batch: Batch, trace: Trace | None) -> None:
        message = (f"optimizer batch `{batch.name}` reached its limit of {batch.strategy.rounds()} rounds "
                   "while still changing the plan; the plan is correct but may be less optimized")
        if trace is not None:
            trace.warnings.append(message)
        warnings.warn(message, OptimizerWarning, stacklevel=3)
