"""Bind prepared-statement parameters: replace each ``?`` in the parsed statement with a typed literal.

Values are never pasted into SQL text. The statement is parsed once into a sqlglot
tree; for each row of bound parameters, every ``Placeholder`` node is replaced by a
literal *node* built from the Arrow value and its Arrow type (``CAST('1994-01-01' AS
DATE)``, ``CAST(5 AS BIGINT)``, ``'O''Brien'``), and the tree is rendered back to SQL by
sqlglot's generator, which quotes and escapes literals itself. A string parameter
therefore can only ever be a string.

    >>> stmt = parse_statement("SELECT * FROM t WHERE name = ? AND n > ?")
    >>> stmt.parameter_count
    2
    >>> stmt.bind_row([pa.scalar("O'Brien"), pa.scalar(5)])
    "SELECT * FROM t WHERE name = 'O''Brien' AND n > CAST(5 AS BIGINT)"
"""

from __future__ import annotations

import datetime
import decimal
import math
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp
from sqlglot.dialects import Dialect
from sqlglot.tokens import TokenType

from quarry.errors import BindError, UnsupportedError
from quarry.sql.statements import DIALECT, parse

# statement kinds that only read: they may run concurrently, without the catalog write lock
_READ_ONLY = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery, exp.Show,
              exp.Describe)


@dataclass
class ParsedStatement:
    """A statement text, its sqlglot tree(s), and what the server needs to know about it."""

    text: str
    trees: list[exp.Expression]
    parameter_count: int
    read_only: bool

    def bind_row(self, values: list[pa.Scalar]) -> str:
        """The statement's SQL with the ``?`` placeholders replaced, in order, by ``values``."""
        if len(values) != self.parameter_count:
            raise BindError(f"the statement has {self.parameter_count} parameter(s), {len(values)} were bound",
                            hint="bind one value per `?`")
        if not self.parameter_count:
            return self.text
        literals = [literal_node(v) for v in values]
        rendered = []
        for tree in self.trees:
            copy = tree.copy()
            for node in _placeholders(copy):
                node.replace(literals[int(node.this) - 1].copy())
            rendered.append(copy.sql(dialect=DIALECT))
        return ";\n".join(rendered)

    def bind_rows_as_values(self, rows: list[list[pa.Scalar]]) -> str | None:
        """For ``INSERT INTO t VALUES (?, ...)``: one INSERT with a VALUES row per parameter row, else None.

        Running one statement instead of one per row makes ``executemany`` fast and atomic.
        """
        if len(self.trees) != 1 or not rows:
            return None
        tree = self.trees[0]
        values = tree.expression if isinstance(tree, exp.Insert) else None
        if not isinstance(values, exp.Values) or len(values.expressions) != 1:
            return None
        template = values.expressions[0]
        if len(list(_placeholders(template))) != self.parameter_count:
            return None
        tuples = []
        for row in rows:
            if len(row) != self.parameter_count:
                raise BindError(f"the statement has {self.parameter_count} parameter(s), {len(row)} were bound")
            copy = template.copy()
            for node in _placeholders(copy):
                node.replace(literal_node(row[int(node.this) - 1]))
            tuples.append(copy)
        insert = tree.copy()
        insert.set("expression", exp.Values(expressions=tuples))
        return insert.sql(dialect=DIALECT)


def _placeholders(tree: exp.Expression) -> list[exp.Placeholder]:
    """The numbered placeholders of ``tree``, ordered by their number (= position in the text)."""
    found = [node for node in tree.walk() if isinstance(node, exp.Placeholder)]
    return sorted(found, key=lambda n: int(n.this))


def _number_placeholders(text: str) -> tuple[str, int]:
    """``text`` with its n-th ``?`` token written ``$n``, and the number of them.

    Only placeholder *tokens* are rewritten (a ``?`` inside a string, identifier or comment
    is not a token), so the statement keeps its meaning; numbering them lets each
    placeholder node in the parsed tree say which parameter it is, whatever order
    the tree keeps its clauses in.
    """
    tokens = Dialect.get_or_raise(DIALECT).tokenizer_class().tokenize(text)
    if any(t.token_type == TokenType.PARAMETER for t in tokens) or any(
            t.token_type == TokenType.PLACEHOLDER and t.text != "?" for t in tokens):
        raise UnsupportedError("only positional `?` parameters are supported", hint="write `?` for each parameter")
    positions = [t.start for t in tokens if t.token_type == TokenType.PLACEHOLDER]
    pieces, last = [], 0
    for number, position in enumerate(positions, 1):
        pieces += [text[last:position], f" ${number} "]
        last = position + 1
    pieces.append(text[last:])
    return "".join(pieces), len(positions)


def parse_statement(text: str) -> ParsedStatement:
    """Parse ``text`` (one or more statements) and count its ``?`` parameters.

    EXPLAIN statements are passed through untouched (quarry handles them before parsing).
    """
    stripped = text.lstrip()
    if stripped[:7].lower() == "explain":
        return ParsedStatement(text, [], 0, True)
    trees = parse(text)          # syntax errors point into the text as the client wrote it
    read_only = bool(trees) and all(isinstance(t, _READ_ONLY) for t in trees)
    if not any(isinstance(node, exp.Placeholder) for t in trees for node in t.walk()):
        return ParsedStatement(text, trees, 0, read_only)
    numbered, count = _number_placeholders(text)
    return ParsedStatement(text, parse(numbered), count, read_only)


# -- values to literal nodes ----------------------------------------------------------------------


def _cast(value: exp.Expression, sql_type: str) -> exp.Expression:
    return exp.Cast(this=value, to=exp.DataType.build(sql_type, dialect=DIALECT))


def _sql_type(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return {1: "TINYINT", 2: "SMALLINT", 4: "INTEGER"}.get(t.bit_width // 8, "BIGINT") \
            if pa.types.is_signed_integer(t) else {8: "SMALLINT", 16: "INTEGER"}.get(t.bit_width, "BIGINT")
    if pa.types.is_float32(t) or pa.types.is_float16(t):
        return "REAL"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_decimal(t):
        return f"DECIMAL({min(t.precision, 38)},{min(t.scale, 38)})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "VARCHAR"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP" if t.tz is None else "TIMESTAMPTZ"
    raise UnsupportedError(f"parameters of type {t} are not supported",
                           hint="bind integers, floats, decimals, strings, booleans, dates or timestamps")


def literal_node(value: pa.Scalar) -> exp.Expression:
    """A sqlglot literal node for one Arrow value, typed like the value.

    >>> literal_node(pa.scalar(datetime.date(1994, 1, 1))).sql()
    "CAST('1994-01-01' AS DATE)"
    """
    t = value.type
    if pa.types.is_dictionary(t):
        return literal_node(value.value if value.is_valid else pa.scalar(None, t.value_type))
    if pa.types.is_null(t):
        return exp.Null()
    sql_type = _sql_type(t)
    if not value.is_valid:
        return _cast(exp.Null(), sql_type)
    v = value.as_py()
    if pa.types.is_boolean(t):
        return exp.Boolean(this=bool(v))
    if pa.types.is_integer(t):
        return _cast(exp.Literal.number(int(v)), sql_type)
    if pa.types.is_floating(t):
        f = float(v)
        text = repr(f) if math.isfinite(f) else ("nan" if math.isnan(f) else ("inf" if f > 0 else "-inf"))
        return _cast(exp.Literal.string(text), sql_type)
    if pa.types.is_decimal(t):
        return _cast(exp.Literal.string(format(decimal.Decimal(v), "f")), sql_type)
    if sql_type == "VARCHAR":
        return exp.Literal.string(str(v))
    if isinstance(v, datetime.datetime):
        return _cast(exp.Literal.string(v.isoformat(sep=" ")), sql_type)
    if isinstance(v, datetime.date):
        return _cast(exp.Literal.string(v.isoformat()), sql_type)
    raise UnsupportedError(f"parameters of type {t} are not supported")


def rows_of(table: pa.Table) -> list[list[pa.Scalar]]:
    """The parameter rows of a bound table, each a list of scalars in column order.

    A loop over rows, on purpose: every parameter row becomes literals in a statement,
    so the work is per row by nature (and parameter sets are small next to data).
    """
    columns = [table.column(i) for i in range(table.num_columns)]
    return [[c[r] for c in columns] for r in range(table.num_rows)]


__all__ = ["ParsedStatement", "parse_statement", "literal_node", "rows_of"]
