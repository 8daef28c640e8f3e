"""``df.colRegex("`pattern`")``: the columns whose names match a regular expression (the
UnresolvedRegex expression), as a star that expands to them in their order.

As in Spark, the pattern is the text between backquotes, optionally after a qualifier
(``t.`a_.*```), matched against the whole column name, case-insensitively
(``spark.sql.caseSensitive`` is false); a name without backquotes is a plain column.
"""

from __future__ import annotations

import re

from quarry.api.column import _StarColumn, col
from quarry.spark.errors import SparkError

__all__ = ["regex_column"]

_QUOTED = re.compile(r"^(?:(.+)\.)?`(.+)`$", re.S)


class _RegexColumns(_StarColumn):
    __slots__ = ("pattern",)

    def __init__(self, qualifier: str | None, pattern: str):
        super().__init__(qualifier)
        try:
            self.pattern = re.compile(pattern, re.IGNORECASE)
        except re.error as err:
            raise SparkError(f"invalid regular expression `{pattern}`: {err}",
                             error_class="INVALID_PARAMETER_VALUE.PATTERN") from None

    def fields(self, ctx) -> list:
        return [f for f in super().fields(ctx) if self.pattern.fullmatch(f.name)]


def regex_column(name: str):
    """The Column ``colRegex(name)`` selects, and whether it is a star (many columns)."""
    m = _QUOTED.match(name)
    if m is None:
        return col(name), False
    return _RegexColumns(m.group(1), m.group(2).replace("``", "`")), True
