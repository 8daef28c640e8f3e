"""The pieces every family of Spark functions is built from.

A family module registers builders with :func:`spark_function`. A builder gets a :class:`Call`
(the translator, the ``UnresolvedFunction`` message, its arguments as quarry Columns, and their
Spark names) and returns a :class:`Function` (or a plain Column, wrapped for it).
"""

from __future__ import annotations

from typing import Callable

from quarry.api.column import Column
from quarry.spark.errors import SparkError

__all__ = ["Call", "Function", "REGISTRY", "SparkFunction", "spark_function"]


class Function:
    """A translated call: ``base`` (the registry's call, which ``over()`` may take) and ``finish``, applied
    after the call or after its window (a cast, an offset)."""

    def __init__(self, base: Column, finish=None):
        self.base = base
        self.finish = finish or (lambda c: c)

    def plain(self) -> Column:
        return self.finish(self.base)


class Call:
    """One Spark function call being translated."""

    def __init__(self, translator, message, name: str):
        self.translator = translator
        self.message = message                     # spark.connect.Expression.UnresolvedFunction
        self.name = name                           # lower-cased Spark name
        self.protos = list(message.arguments)      # argument Expression messages
        self._args = None

    @property
    def args(self) -> list[Column]:
        """The arguments as quarry Columns (translated on first use: some builders need only literals)."""
        if self._args is None:
            self._args = [self.translator.column(a) for a in self.protos]
        return self._args

    @property
    def distinct(self) -> bool:
        return bool(self.message.is_distinct)

    def literal(self, i: int, default=None):
        """The Python value of argument ``i`` when it is a literal (``default`` when absent); a
        SparkError naming the function when it is not a literal."""
        if i >= len(self.protos):
            return default
        p = self.protos[i]
        if p.WhichOneof("expr_type") != "literal":
            raise SparkError(f"`{self.name}` needs a literal as argument {i + 1}")
        value, _ = self.translator.literal_value(p.literal)
        return value

    def is_literal(self, i: int) -> bool:
        return i < len(self.protos) and self.protos[i].WhichOneof("expr_type") == "literal"

    def expect(self, low: int, high: int | None = None) -> None:
        """Refuse a call with fewer than ``low`` or more than ``high`` arguments (``high`` None: = low)."""
        high = low if high is None else high
        n = len(self.protos)
        if n < low or (high >= 0 and n > high):
            want = f"{low}" if low == high else (f"{low} to {high}" if high >= 0 else f"at least {low}")
            raise SparkError(f"`{self.name}` takes {want} argument(s), got {n}")


Builder = Callable[[Call], "Function | Column"]
Namer = Callable[[str, list[str], Call], str]


class SparkFunction:
    """A registered Spark function: its builder, and optionally how Spark names its result column
    (``namer(spark_name, argument_names, call)``; by default ``name(arg, ...)``)."""

    __slots__ = ("builder", "namer")

    def __init__(self, builder: Builder, namer: Namer | None):
        self.builder = builder
        self.namer = namer

    def build(self, call: Call) -> Function:
        out = self.builder(call)
        return out if isinstance(out, Function) else Function(out)


REGISTRY: dict[str, SparkFunction] = {}


def spark_function(*names: str, namer: Namer | None = None):
    """Register the decorated builder under each Spark name (lower case)."""
    def register(builder: Builder) -> Builder:
        for n in names:
            key = n.lower()
            if key in REGISTRY:
                raise RuntimeError(f"Spark function `{key}` registered twice")
            REGISTRY[key] = SparkFunction(builder, namer)
        return builder
    return register
