"""Expression evaluation over Arrow arrays: the kernels, the evaluator and row hashing.

Below both the optimizer (constant folding evaluates with the executor's own kernels)
and the physical operators, so neither imports the other.
"""
