"""Parse pipeline text into the AST of ``quarry.dsl.ast``; syntax errors become ``ParseError``.

    >>> p = parse_pipeline("from lineitem | filter l_quantity < 24 | take 3")
    >>> p.source.name, [s.verb for s in p.steps]
    ('lineitem', ['filter', 'take'])

The grammar is LALR(1) (lark's ``parser="lalr"`` with its contextual lexer). Its
canonical text is ``grammar/quarry.lark`` at the top of the repository, where the
project keeps its grammars. ``grammar/`` is not a Python package, so an installed
quarry cannot read it: a copy ships inside this package (``quarry/dsl/quarry.lark``,
picked up by the ``"*.lark"`` package-data pattern in pyproject.toml). The loader
prefers the repository file when it exists, so editing the grammar takes effect at
once in a checkout, and a test (``tests/test_dsl.py``) fails when the two copies
differ. A build hook copying the file would avoid the duplicate, but it would need
a ``setup.py`` and would still leave editable installs reading a stale copy.

Expressions are captured as SQL source text and checked here with sqlglot (the
parser SQL statements go through), so a malformed expression is reported as a
syntax error at its place in the pipeline, before any API call runs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import sqlglot
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from quarry.dsl import ast as A
from quarry.errors import ParseError, suggest

_REPO_GRAMMAR = Path(__file__).resolve().parents[2] / "grammar" / "quarry.lark"
_PACKAGED_GRAMMAR = Path(__file__).resolve().parent / "quarry.lark"

VERBS = ("select", "filter", "derive", "group", "aggregate", "window", "join", "sort", "take", "distinct",
         "union", "intersect", "except", "rename", "drop")

_VERB_TOKENS = {v: "_" + v.upper() for v in VERBS}     # the grammar's terminal of each verb

SQL_DIALECT = "duckdb"


def grammar_path() -> Path:
    """The grammar file in use: the repository's ``grammar/quarry.lark``, else the packaged copy."""
    return _REPO_GRAMMAR if _REPO_GRAMMAR.is_file() else _PACKAGED_GRAMMAR


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr", lexer="contextual",
                propagate_positions=True, maybe_placeholders=True)


def parse_pipeline(text: str) -> A.Pipeline:
    """Parse a pipeline; raise ``ParseError`` (with line, column and a caret) on bad syntax.

    >>> parse_pipeline("from t | sort x desc").steps[0].keys[0].descending
    True
    """
    if not text.strip() or _only_comments(text):
        raise ParseError("empty pipeline", sql=text, line=1, column=1,
                         hint="a pipeline starts with `from <table>`, e.g. `from lineitem | take 10`")
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as err:
        raise _syntax_error(text, err) from None
    return _Builder(text).pipeline(tree.children[0])


# ---------------------------------------------------------------------- positions


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of character ``offset`` in ``text``.

    >>> position("ab\\ncd", 4)
    (2, 2)
    """
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def offset_of(text: str, line: int, column: int) -> int:
    """The character offset of 1-based (line, column) in ``text`` (inverse of :func:`position`)."""
    start = 0
    for _ in range(line - 1):
        nl = text.find("\n", start)
        if nl == -1:
            break
        start = nl + 1
    return start + max(column - 1, 0)


def _only_comments(text: str) -> bool:
    return not re.sub(r"--[^\n]*", "", text).strip()


# ---------------------------------------------------------------------- syntax errors

_EXPRESSION_START = {"NAME", "QUOTED", "STRING", "NUMBER", "OP", "DOT", "CONCAT", "LPAR", "LSQB"}
_PUNCTUATION = {"VBAR": "`|`", "COMMA": "`,`", "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`",
                "SEMICOLON": "`;`", "INT": "an integer", "NAME": "a name", "QUOTED": 'a "quoted name"',
                "STRING": "a 'string'", "NUMBER": "a number", "OP": "an operator", "ALIAS": "`name =`",
                "$END": "the end of the pipeline"}
# the order expected tokens are listed in: what most often comes next first
_ORDER = ["$END", "VBAR", "COMMA", "RPAR", "RSQB"]


# words from SQL, the DataFrame API and other pipeline languages, for "did you mean"
_VERB_SYNONYMS = {
    "where": "filter", "limit": "take", "head": "take", "order": "sort", "orderby": "sort", "order_by": "sort",
    "arrange": "sort", "groupby": "group", "group_by": "group", "agg": "aggregate", "summarize": "aggregate",
    "mutate": "derive", "with_column": "derive", "with_columns": "derive", "extend": "derive",
    "unique": "distinct", "minus": "except", "subtract": "except",
}


def _describe_expected(accepts: set[str]) -> str:
    """Terminal names as words for a message: "`|`, `,` or an expression".

    Sets of expression tokens are summarized as "an expression", sets of verbs as
    "a verb (...)", and the optional final `;` is left out next to anything else.
    """
    accepts = set(accepts)
    parts: list[str] = []
    verbs = [v for v in VERBS if _VERB_TOKENS[v] in accepts]
    accepts -= set(_VERB_TOKENS.values())
    expression = len(accepts & _EXPRESSION_START) >= 4
    if expression:
        named = "ALIAS" in accepts
        accepts -= _EXPRESSION_START | {"ALIAS"}
    if len(accepts) > 1:
        accepts.discard("SEMICOLON")      # an optional trailing `;` is noise in the list
    for name in sorted(accepts, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n)):
        if name in _PUNCTUATION:
            parts.append(_PUNCTUATION[name])
        else:
            parts.append(f"`{name.lstrip('_').lower()}`")
    if expression:
        parts.append("an expression or `name = expression`" if named else "an expression")
    if verbs:
        parts.append("a verb (" + ", ".join(verbs) + ")" if len(verbs) > 3 else " or ".join(f"`{v}`" for v in verbs))
    if not parts:
        return "nothing more"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _syntax_error(text: str, err: UnexpectedInput) -> ParseError:
    """A ParseError for a lark error: where, what was found, what was expected, and a hint."""
    hint = None
    if isinstance(err, UnexpectedToken) and err.token.type != "$END":
        token = err.token
        # LALR reduces before it notices the error, so lark's own `accepts` can be those of an
        # outer rule (`filter a )` would list only the end); ask at the token's offset instead
        accepts = _accepts_at(text, token.start_pos) or set(err.accepts or err.expected)
        line, column = token.line, token.column
        found = f"`{token.value}`"
        if "_FROM" in accepts and token.start_pos == _first_token_offset(text):
            return ParseError(f"syntax error at line {line}, column {column}: a pipeline starts with `from`, "
                              f"not {found}", sql=text, line=line, column=column,
                              hint="write `from <table> | ...`; to run SQL, use con.sql()")
        verb_tokens = set(_VERB_TOKENS.values())
        if accepts & verb_tokens and token.type in ("NAME", "QUOTED"):
            word = str(token.value).lower()
            hint = f"did you mean `{_VERB_SYNONYMS[word]}`?" if word in _VERB_SYNONYMS else \
                suggest(word, VERBS) or "verbs: " + ", ".join(VERBS)
            return ParseError(f"syntax error at line {line}, column {column}: unknown verb {found}; expected "
                              + _describe_expected(accepts), sql=text, line=line, column=column, hint=hint)
        if token.type in verb_tokens and "VBAR" in accepts:
            hint = "separate steps with `|`"
        elif token.type == "_FROM" and accepts & verb_tokens:
            hint = "a pipeline has one `from`; bring in more tables with `join` or `union`"
    elif isinstance(err, (UnexpectedToken, UnexpectedEOF)):
        end = len(text.rstrip())
        line, column = position(text, end)
        found = "end of the pipeline"
        accepts = _accepts_at(text, len(text)) or set(getattr(err, "accepts", None) or err.expected or ())
    else:
        assert isinstance(err, UnexpectedCharacters)
        line, column = err.line, err.column
        char = text[err.pos_in_stream]
        accepts = _accepts_at(text, err.pos_in_stream) or set(err.allowed or ())
        if char in "'\"":
            kind = "string" if char == "'" else "quoted name"
            return ParseError(f"syntax error at line {line}, column {column}: unterminated {kind}",
                              sql=text, line=line, column=column, hint=f"close the {char} that starts here")
        found = f"character `{char}`"
        if char == "#":
            hint = "comments start with `--`"
    message = f"syntax error at line {line}, column {column}: unexpected {found}; expected " \
              + _describe_expected(accepts)
    return ParseError(message, sql=text, line=line, column=column, hint=hint)


def _first_token_offset(text: str) -> int:
    m = re.match(r"(?:\s|--[^\n]*)*", text)
    return m.end() if m else 0


def _accepts_at(text: str, offset: int) -> set[str] | None:
    """The terminals the parser accepts at ``offset``, before LALR's default reductions.

    Used for every error: lark's own lists come after reductions (for a token) or are
    the lexer's guesses (for a character nothing matches).
    """
    try:
        interactive = _lark().parse_interactive(text[:offset])
        for _ in interactive.iter_parse():
            pass
        return set(interactive.accepts())
    except UnexpectedInput:
        return None


# ---------------------------------------------------------------------- tree -> AST


def _unquote(name: str) -> str:
    """``"my col"`` -> ``my col``; plain names are returned as written."""
    if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
        return name[1:-1].replace('""', '"')
    return name


def _alias_name(token: Token) -> str:
    """The name in an ALIAS token (``revenue =``)."""
    return _unquote(str(token).rstrip("=").rstrip())


class _Builder:
    """Turns the lark tree into AST nodes, keeping source spans and checking expression syntax."""

    def __init__(self, text: str):
        self.text = text

    # -- spans ----------------------------------------------------------------------

    def span(self, node) -> A.Span:
        if isinstance(node, Token):
            return A.Span(node.start_pos, node.end_pos, node.line, node.column)
        m = node.meta
        return A.Span(m.start_pos, m.end_pos, m.line, m.column)

    def span_of(self, first, last) -> A.Span:
        a, b = self.span(first), self.span(last)
        return A.Span(a.start, b.end, a.line, a.column)

    def error(self, message: str, span: A.Span, hint: str | None = None) -> ParseError:
        return ParseError(message, sql=self.text, line=span.line, column=span.column, hint=hint)

    # -- pipeline -------------------------------------------------------------------

    def pipeline(self, tree: Tree) -> A.Pipeline:
        source_tree, *step_trees = tree.children
        source = self.relation(source_tree.children[0])
        steps = tuple(self.step(s) for s in step_trees)
        return A.Pipeline(source, steps, self.span(tree))

    def relation(self, tree: Tree) -> A.Relation:
        inner, alias = tree.children
        alias_name = _unquote(str(alias)) if alias is not None else None
        span = self.span(tree)
        if tree.data == "subpipeline":
            return A.Relation("pipeline", span, pipeline=self.pipeline(inner), alias=alias_name)
        if inner.data == "table_name":
            return A.Relation("table", span, name=_unquote(str(inner.children[0])), alias=alias_name)
        if inner.data == "table_path":
            literal = str(inner.children[0])
            return A.Relation("path", span, name=literal[1:-1].replace("''", "'"), alias=alias_name)
        name_token, *args = inner.children
        items = tuple(self.item(a) for a in args if a is not None)
        return A.Relation("function", span, name=str(name_token).lower(), args=items, alias=alias_name)

    def step(self, tree: Tree) -> A.Step:
        return getattr(self, "step_" + tree.data)(tree, self.span(tree))

    def step_select(self, tree, span):
        return A.Select(span, self.items(tree.children[0]))

    def step_filter(self, tree, span):
        return A.Filter(span, self.expr(tree.children[0]))

    def step_derive(self, tree, span):
        items = self.items(tree.children[0])
        for it in items:
            if it.name is None:
                raise self.error("derive needs a name for each column: `derive name = expression`", it.span,
                                 hint=f"write `derive new_name = {it.expr.text}`")
        return A.Derive(span, items)

    def step_group(self, tree, span):
        items_tree = tree.children[0]
        item_trees = items_tree.children
        last = item_trees[-1]
        atoms = last.children[-1].children               # the atoms of the last item's expression
        final = atoms[-1]
        missing = self.error(
            "group needs its aggregates in parentheses after the keys", A.Span(span.end, span.end,
                                                                              *position(self.text, span.end)),
            hint="write `group k1, k2 (name = agg(...), ...)`")
        if not (isinstance(final, Tree) and final.data == "paren"):
            raise missing
        if len(atoms) == 1:
            if len(item_trees) > 1 or last.data == "named":
                raise self.error("the aggregate list follows the last key without a comma", self.span(final),
                                 hint="write `group k1, k2 (name = agg(...))`")
            keys: list[A.NamedExpr] = []
        else:
            before = atoms[-2]
            adjacent = isinstance(before, Token) and before.type in ("NAME", "QUOTED") \
                and before.end_pos == final.meta.start_pos
            if adjacent:
                # `group k, f(x)`: that is a call, not `f` followed by an aggregate list
                raise missing
            keys = [self.item(t) for t in item_trees[:-1]]
            name = _alias_name(last.children[0]) if last.data == "named" else None
            first = last.children[0] if last.data == "named" else atoms[0]
            expr = self.fragment(atoms[0], before)
            keys.append(A.NamedExpr(name, expr, self.span_of(first, before)))
        aggregates = self.paren_items(final)
        if not aggregates:
            raise self.error("group needs at least one aggregate", self.span(final),
                             hint="for the distinct keys, write `select k1, k2 | distinct`")
        return A.Group(span, tuple(keys), aggregates)

    def step_aggregate(self, tree, span):
        item_trees = tree.children[0].children
        if len(item_trees) == 1 and item_trees[0].data == "unnamed":
            atoms = item_trees[0].children[0].children
            if len(atoms) == 1 and isinstance(atoms[0], Tree) and atoms[0].data == "paren":
                return A.Aggregate(span, self.paren_items(atoms[0]))
        return A.Aggregate(span, self.items(tree.children[0]))

    def step_window(self, tree, span):
        over_token, spec, items_tree = tree.children
        over = None
        if spec is not None:
            inner = spec.children
            if any(c is None for c in inner) or not inner:
                raise self.error("`over ()` needs a window: partition by ... order by ...", self.span(spec))
            over = self.fragment(inner[0], inner[-1], check=False)
        items = self.items(items_tree)
        for it in items:
            if it.name is None:
                raise self.error("window needs a name for each column: `window name = f(...) over (...)`",
                                 it.span)
            if over is None and not isinstance(_parse_sql(it.expr.text), sqlglot.exp.Window):
                raise self.error(f"window function `{it.expr.text}` needs an OVER clause", it.expr.span,
                                 hint="add `over (partition by ... order by ...)`, or write `window over (...)` "
                                      "before the functions to share one window")
        return A.Window(span, over, items)

    def step_join(self, tree, span):
        kind_tree, relation_tree, on = tree.children
        kind = str(kind_tree.children[0]).lower() if kind_tree is not None else "inner"
        relation = self.relation(relation_tree)
        if on is None:
            if kind != "cross":
                article = "an" if kind in ("inner", "anti") else "a"
                raise self.error(f"{article} {kind} join needs `on <condition>` or `on (key, ...)`",
                                 A.Span(span.end, span.end, *position(self.text, span.end)),
                                 hint="write `join orders on o_custkey = c_custkey`, or `join cross t` for "
                                      "every pair of rows")
            return A.Join(span, kind, relation)
        if kind == "cross":
            raise self.error("a cross join takes no `on`", self.span(on), hint="use an inner join with a condition")
        using = self.join_names(on)
        if using is not None:
            return A.Join(span, kind, relation, using=using)
        return A.Join(span, kind, relation, condition=self.expr(on))

    def join_names(self, expr_tree: Tree) -> tuple[str, ...] | None:
        """``on k`` or ``on (k1, k2)``: the key names, when that is all the condition is."""
        atoms = expr_tree.children
        if len(atoms) != 1:
            return None
        atom = atoms[0]
        if isinstance(atom, Token):
            return (_unquote(str(atom)),) if atom.type in ("NAME", "QUOTED") else None
        if atom.data != "paren" or not atom.children or atom.children[0] is None:
            return None
        names = []
        for item in atom.children:
            inner = item.children[-1].children
            if item.data != "unnamed" or len(inner) != 1 or not isinstance(inner[0], Token) \
                    or inner[0].type not in ("NAME", "QUOTED"):
                return None
            names.append(_unquote(str(inner[0])))
        return tuple(names)

    def step_sort(self, tree, span):
        return A.Sort(span, tuple(self.sort_key(key) for key in tree.children))

    def sort_key(self, key: Tree) -> A.SortKey:
        """``expr [asc | desc] [nulls first | nulls last]``: the modifiers are the key's last words."""
        atoms = list(key.children[0].children)
        words = [str(a).lower() if isinstance(a, Token) and a.type == "NAME" else None for a in atoms]
        nulls_first = None
        if len(atoms) >= 3 and words[-2] == "nulls" and words[-1] in ("first", "last"):
            nulls_first = words[-1] == "first"
            del atoms[-2:], words[-2:]
        descending = False
        if len(atoms) >= 2 and words[-1] in ("asc", "desc"):
            descending = words[-1] == "desc"
            del atoms[-1], words[-1]
        return A.SortKey(self.fragment(atoms[0], atoms[-1]), descending, nulls_first, self.span(key))

    def step_take(self, tree, span):
        limit, offset = tree.children
        return A.Take(span, int(limit), int(offset) if offset is not None else 0)

    def step_distinct(self, tree, span):
        names = tuple(_unquote(str(t)) for t in tree.children if t is not None)
        return A.Distinct(span, names)

    def _set_operation(self, op, tree, span):
        all_token, relation = tree.children
        return A.SetOperation(span, op, all_token is not None, self.relation(relation))

    def step_union(self, tree, span):
        return self._set_operation("union", tree, span)

    def step_intersect(self, tree, span):
        return self._set_operation("intersect", tree, span)

    def step_except_(self, tree, span):
        return self._set_operation("except", tree, span)

    def step_rename(self, tree, span):
        pairs = []
        for pair in tree.children:
            alias, old = pair.children
            pairs.append((_alias_name(alias), _unquote(str(old))))
        return A.Rename(span, tuple(pairs))

    def step_drop(self, tree, span):
        return A.Drop(span, tuple(_unquote(str(t)) for t in tree.children))

    # -- expressions ------------------------------------------------------------------

    def items(self, tree: Tree) -> tuple[A.NamedExpr, ...]:
        return tuple(self.item(t) for t in tree.children)

    def paren_items(self, paren: Tree) -> tuple[A.NamedExpr, ...]:
        return tuple(self.item(t) for t in paren.children if t is not None)

    def item(self, tree: Tree) -> A.NamedExpr:
        if tree.data == "named":
            alias, expr_tree = tree.children
            return A.NamedExpr(_alias_name(alias), self.expr(expr_tree), self.span(tree))
        return A.NamedExpr(None, self.expr(tree.children[0]), self.span(tree))

    def expr(self, tree: Tree) -> A.Fragment:
        return self.fragment(tree.children[0], tree.children[-1])

    def fragment(self, first, last, check: bool = True) -> A.Fragment:
        """The source text from ``first`` to ``last`` (tokens or trees), checked as a SQL expression."""
        span = self.span_of(first, last)
        fragment = A.Fragment(self.text[span.start:span.end], span)
        if check:
            self.check_expression(fragment)
        return fragment

    def check_expression(self, fragment: A.Fragment) -> None:
        """Raise a positioned ParseError unless ``fragment`` is one SQL expression.

        The text is parsed as the DataFrame API's expression strings are (``SELECT <text>``
        in the DuckDB dialect), so what passes here parses there too.
        """
        try:
            node = _parse_sql(fragment.text)
        except sqlglot.errors.ParseError as err:
            info = err.errors[0] if err.errors else {}
            line, col = info.get("line") or 1, info.get("col") or 1
            highlight = info.get("highlight") or ""
            if highlight:
                col = max(col - len(highlight) + 1, 1)
            if line == 1:
                col = max(col - len(_SELECT), 1)
            offset = min(fragment.span.start + offset_of(fragment.text, line, col), fragment.span.end)
            line, column = position(self.text, offset)
            desc = info.get("description") or str(err)
            desc = re.sub(r"<Token token_type: TokenType\.(\w+), text: ([^,]*),.*?>", r"`\2`", desc)
            if desc.startswith("Required keyword"):
                desc = f"`{highlight}` is missing an operand" if highlight else "incomplete expression"
            shown = f" in `{fragment.text}`" if "\n" not in fragment.text and len(fragment.text) <= 60 else ""
            raise ParseError(f"syntax error at line {line}, column {column}{shown}: {desc}", sql=self.text, line=line, column=column,
                             hint=f"check the expression near `{highlight}`" if highlight else None) from None
        except sqlglot.errors.TokenError as err:
            raise self.error(f"syntax error in expression `{fragment.text}`: {err}", fragment.span) from None
        if node is None:
            raise self.error(f"syntax error: `{fragment.text}` is not one SQL expression", fragment.span,
                             hint="a query inside an expression goes in parentheses: `x in (select ...)`; "
                                  "a nested pipeline is `(from ...)` after join or union")
        if isinstance(node, sqlglot.exp.Alias):
            alias = node.args["alias"]
            where = fragment.text.rfind(alias.name)
            offset = fragment.span.start + max(where, 0)
            line, column = position(self.text, offset)
            raise ParseError(f"syntax error at line {line}, column {column}: unexpected `{alias.name}` after "
                             f"an expression", sql=self.text, line=line, column=column,
                             hint=f"to name a result, write `{alias.name} = <expression>`; separate items "
                                  f"with `,`")


_SELECT = "SELECT "
_CLAUSES = ("from", "from_", "where", "group", "having", "order", "limit", "offset", "joins", "qualify", "with",
            "with_", "windows", "distinct")


@lru_cache(maxsize=512)
def _parse_sql(text: str):
    """The one SQL expression ``text`` holds (sqlglot), or None when it is more than an expression."""
    tree = sqlglot.parse_one(_SELECT + text, read=SQL_DIALECT)
    if not isinstance(tree, sqlglot.exp.Select) or len(tree.expressions) != 1 \
            or any(tree.args.get(k) for k in _CLAUSES):
        return None
    return tree.expressions[0]


__all__ = ["parse_pipeline", "grammar_path", "position", "offset_of", "VERBS"]
