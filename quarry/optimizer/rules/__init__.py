"""The optimizer's rules, one module each, and the ordered list of batches that runs them."""

from quarry.optimizer.rule import Batch, FixedPoint, Once

BATCHES: list[Batch] = []
