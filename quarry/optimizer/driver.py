"""The optimizer driver: runs the batches in order and checks every rule's output.

After each rule that changed the plan the driver checks that the output
schema (column ids, types) is unchanged and names the rule in the error if it
is not. It records the plan after every rule that fired, which is what
``EXPLAIN VERBOSE`` prints. Rules named in ``config["disabled_rules"]`` are
skipped, so a wrong answer can be bisected to a rule from the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quarry.errors import PlanError, QuarryError
from quarry.logical.plan import LogicalPlan
from quarry.optimizer.rule import Batch, OptimizerContext


@dataclass
class Trace:
    """Plans after each rule that changed something: [(batch, rule, plan_text)]."""

    steps: list[tuple[str, str, str]] = field(default_factory=list)


def _signature(plan: LogicalPlan):
    return tuple((f.id, str(f.dtype)) for f in plan.schema)


class Optimizer:
    """Applies ``batches`` (see ``quarry.optimizer.rules.BATCHES``) to logical plans."""

    def __init__(self, batches: list[Batch]):
        self.batches = batches

    def rule_names(self) -> list[str]:
        """Every rule's name once, in first-run order."""
        return list(dict.fromkeys(r.name for b in self.batches for r in b.rules))

    def optimize(self, plan: LogicalPlan, config: dict | None = None, trace: Trace | None = None) -> LogicalPlan:
        config = config or {}
        disabled = {n.strip().lower() for n in config.get("disabled_rules", ()) if n.strip()}
        unknown = disabled - set(self.rule_names())
        if unknown:
            from quarry.errors import suggest
            name = sorted(unknown)[0]
            raise PlanError(f"unknown optimizer rule `{name}` in disabled_rules",
                            hint=suggest(name, self.rule_names()) or "rules: " + ", ".join(self.rule_names()))
        ctx = OptimizerContext(config)
        expected = _signature(plan)
        for batch in self.batches:
            for _ in range(batch.strategy.rounds()):
                changed = False
                for r in batch.rules:
                    if r.name in disabled:
                        continue
                    try:
                        new = r(plan, ctx)
                    except QuarryError:
                        raise
                    except Exception as exc:  # a bug in a rule must name the rule
                        raise PlanError(f"optimizer rule `{r.name}` failed: {type(exc).__name__}: {exc}",
                                        hint=f"disable it with config disabled_rules=['{r.name}'] and report this") from exc
                    if new is not plan:
                        if _signature(new) != expected:
                            raise PlanError(f"optimizer rule `{r.name}` changed the output schema",
                                            hint=f"disable it with config disabled_rules=['{r.name}'] and report this")
                        if trace is not None:
                            trace.steps.append((batch.name, r.name, new.pretty()))
                        plan = new
                        changed = True
                if not changed:
                    break
        return plan
