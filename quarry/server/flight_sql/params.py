"""Prepared-statement parameters: parse once, bind typed Arrow values into the plan, never into SQL text.

The statement is parsed once into sqlglot trees, its ``?`` placeholders numbered
``$1``, ``$2``, ... in text order. Executing it hands the trees and the bound values to
:func:`quarry.sql.statements.run_prepared`: each placeholder becomes a literal of the
value's own Arrow type (one row), or a column of the parameter batch (``INSERT INTO t
VALUES (?, ...)`` with many rows: one scan of the batch and one append, see
:meth:`ParsedStatement.insert_batch`). No value is ever rendered as SQL and re-parsed,
so a string parameter can only ever be a string, and 100k bound rows cost one plan.

    >>> import quarry
    >>> stmt = parse_statement("SELECT ? + 1 AS n, ? AS name")
    >>> stmt.parameter_count
    2
    >>> con = quarry.connect(workers=0)
    >>> con.run(stmt.run(con, [pa.scalar(41), pa.scalar("O'Brien")]).plan).table.to_pylist()
    [{'n': 42, 'name': "O'Brien"}]
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp
from sqlglot.dialects import Dialect
from sqlglot.tokens import TokenType

from quarry.errors import BindError, UnsupportedError
from quarry.sql.statements import DIALECT, parse, run_prepared

# statement kinds that only read: they may run concurrently, without the catalog write lock
_READ_ONLY = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery, exp.Show,
              exp.Describe)


@dataclass
class ParsedStatement:
    """A statement text, its sqlglot tree(s), and what the server needs to know about it.

    ``bound_text`` is the text the trees were parsed from (``?`` written ``$n``), for error positions.
    """

    text: str
    trees: list[exp.Expression]
    parameter_count: int
    read_only: bool
    bound_text: str = ""

    def check_width(self, width: int) -> None:
        if width != self.parameter_count:
            raise BindError(f"the statement has {self.parameter_count} parameter(s), {width} were bound",
                            hint="bind one value per `?`")

    def run(self, session, values):
        """Run the statement(s) with ``values`` (Arrow scalars, one per ``?``); the last one's typed result."""
        values = list(values)
        self.check_width(len(values))
        result = None
        for tree in self.trees:
            result = run_prepared(session, tree, self.bound_text or self.text, values)
        return result

    @property
    def takes_batch(self) -> bool:
        """Whether a whole parameter batch binds at once: ``INSERT INTO t [(cols)] VALUES (one row of ?)``."""
        if len(self.trees) != 1 or not isinstance(self.trees[0], exp.Insert):
            return False
        values = self.trees[0].expression
        return isinstance(values, exp.Values) and len(values.expressions) == 1

    def insert_batch(self, session, batch: pa.Table):
        """Insert every row of ``batch`` (one column per ``?``) in one append; the RowCount.

        Only for statements that :attr:`takes_batch`; atomic (a bad value fails the whole batch).
        """
        self.check_width(batch.num_columns)
        return run_prepared(session, self.trees[0], self.bound_text or self.text, batch=batch)


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
    return ParsedStatement(text, parse(numbered), count, read_only, numbered)


def rows_of(table: pa.Table) -> list[list[pa.Scalar]]:
    """The parameter rows of a bound table, each a list of scalars in column order.

    A loop over rows, on purpose: each row is one execution of a statement that is not
    an ``INSERT ... VALUES`` (those bind the whole batch at once, :meth:`ParsedStatement.insert_batch`).
    """
    columns = [table.column(i) for i in range(table.num_columns)]
    return [[c[r] for c in columns] for r in range(table.num_rows)]


__all__ = ["ParsedStatement", "parse_statement", "rows_of"]
