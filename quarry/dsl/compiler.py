"""Compile a pipeline to DataFrame API calls: one call per verb, so the plan is the API's plan.

    >>> df = compile_pipeline(con, "from lineitem | filter l_quantity < 24 | take 5")   # doctest: +SKIP

is exactly ``con.table("lineitem").filter(F.expr("l_quantity < 24")).limit(5)``.

| verb | DataFrame API |
|---|---|
| ``from t`` / ``from 'x.parquet'`` / ``from read_csv('x.csv')`` | ``con.table`` / ``con.read_parquet`` / ``con.read_csv`` |
| ``... as a`` | ``.alias("a")`` |
| ``select a, n = expr`` | ``.select("a", F.expr("expr").alias("n"))`` |
| ``filter cond`` | ``.filter(F.expr("cond"))`` |
| ``derive n = expr, ...`` | ``.with_columns(F.expr("expr").alias("n"), ...)`` |
| ``window [over (w)] n = f(...) [over (w)]`` | ``.with_columns(F.expr("f(...) over (w)").alias("n"))`` |
| ``group k (n = agg(...))`` | ``.group_by(F.expr("k")).agg(F.expr("agg(...)").alias("n"))`` |
| ``aggregate (n = agg(...))`` | ``.agg(F.expr("agg(...)").alias("n"))`` |
| ``join [how] r on cond`` / ``on (k1, k2)`` | ``.join(r, on=F.expr("cond"), how=how)`` / ``on=["k1", "k2"]`` |
| ``sort a, b desc nulls first`` | ``.sort(F.expr("a"), F.expr("b").desc_nulls_first())`` |
| ``take n offset m`` | ``.offset(m).limit(n)`` |
| ``distinct`` / ``distinct a, b`` | ``.distinct()`` / ``.drop_duplicates(["a", "b"])`` |
| ``union r`` / ``union all r`` | ``.union(r).distinct()`` / ``.union(r)`` (SQL's UNION / UNION ALL) |
| ``intersect [all] r``, ``except [all] r`` | ``.intersect`` / ``.intersect_all``, ``.except_`` / ``.except_all`` |
| ``rename new = old`` | ``.rename({"old": "new"})`` |
| ``drop a, b`` | ``.drop("a", "b")`` |

Expressions are passed as SQL text (``quarry.api.column.expr``), bound by the SQL
expression binder: the DSL has SQL's expression syntax and functions by
construction, and its plans come from the plan builder (``quarry.logical.builder``)
through the API. A QuarryError raised by an API call is moved to the pipeline's
text: the line and column of the expression (or of the name the error is about,
``err.subject``), else of the step; its message names the verb rather than the API
method, and the errors whose API wording would mislead (an aggregate outside
``group``, a column that is no group key, ...) are reworded by their class.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass

import sqlglot

from quarry.dsl import ast as A
from quarry.dsl.parser import SQL_DIALECT, offset_of, parse_pipeline, position
from quarry.errors import (
    BindError, MisplacedAggregateError, MisplacedWindowError, NestedAggregateError, NotBooleanError,
    NotGroupedError, QuarryError, UnsupportedError, suggest,
)

_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".tab", ".csv.gz")


def compile_pipeline(session, text: str):
    """Parse ``text`` and build its DataFrame on ``session`` (lazy: nothing runs yet).

    >>> compile_pipeline(con, "from nation | sort n_name | take 3").to_pylist()     # doctest: +SKIP
    """
    return Compiler(session, text).pipeline(parse_pipeline(text))


@dataclass(frozen=True)
class _Source:
    """SQL text handed to the API, with where each of its pieces was written in the pipeline.

    ``pieces`` are ``(offset in text, length, offset in the pipeline)``; the text between
    pieces (the ``over (`` the compiler adds) maps to the start of the next piece.
    """

    text: str
    pieces: tuple[tuple[int, int, int], ...]

    @classmethod
    def of(cls, fragment: A.Fragment) -> "_Source":
        return cls(fragment.text, ((0, len(fragment.text), fragment.span.start),))

    def pipeline_offset(self, offset: int) -> int:
        for start, length, where in self.pieces:
            if offset < start + length:
                return where + max(offset - start, 0)
        start, length, where = self.pieces[-1]
        return where + length


class Compiler:
    """Builds the DataFrame of one pipeline text on one session."""

    def __init__(self, session, text: str):
        self.session = session
        self.text = text

    # ------------------------------------------------------------------ errors

    @contextmanager
    def located(self, verb: str, span: A.Span, sources: list[_Source] = ()):
        """Give any QuarryError raised inside a position in the pipeline and the DSL verb's name."""
        try:
            yield
        except QuarryError as err:
            self.place(err, verb, span, list(sources))
            raise

    def place(self, err: QuarryError, verb: str, span: A.Span, sources: list[_Source]) -> None:
        if err.sql != self.text:             # not yet placed by a nested pipeline
            _in_dsl_words(err, verb)
            if err.operation is not None and err.operation != verb:
                err.in_operation(verb)
        if err.sql == self.text:
            return                      # already placed (an error inside a nested pipeline)
        if err.sql is not None and err.line is not None and not any(s.text == err.sql for s in sources):
            return                      # about some other text (a view's SQL): leave it there
        offset = None
        if err.sql is not None and err.line is not None:
            source = next(s for s in sources if s.text == err.sql)
            offset = source.pipeline_offset(offset_of(source.text, err.line, err.column or 1))
        if offset is None and err.subject is not None:
            offset = self._name_offset(err.subject, sources)
        if offset is None:
            # about the step as a whole, or its one expression (`filter l_quantity`: not BOOLEAN)
            offset = sources[0].pipeline_offset(0) if len(sources) == 1 else span.start
        err.sql = self.text
        err.line, err.column = position(self.text, offset)

    def _name_offset(self, name: str, sources: list[_Source]) -> int | None:
        """Where ``name`` (the column or table an error is about) is written in the step, if it is."""
        short = name.rsplit(".", 1)[-1]
        for candidate in (name, short):
            pattern = re.compile(r"(?<![\w$\"])\"?" + re.escape(candidate) + r"\"?(?![\w$])", re.IGNORECASE)
            for source in sources:
                m = pattern.search(source.text)
                if m:
                    return source.pipeline_offset(m.start())
        return None

    def _span_source(self, span: A.Span) -> _Source:
        return _Source(self.text[span.start:span.end], ((0, span.end - span.start, span.start),))

    # ------------------------------------------------------------------ expressions

    @staticmethod
    def column(source: _Source, name: str | None = None):
        """The API Column for an expression: ``F.expr(text)``, named when ``name`` is given."""
        from quarry.api.column import expr, to_column
        text = source.text
        if name is None and (text == "*" or re.fullmatch(r"[A-Za-z_][\w$]*\.\*", text)):
            return to_column(text)          # `*` and `t.*` are select's, not expressions
        column = expr(text)
        return column.alias(name) if name is not None else column

    def named(self, items: tuple[A.NamedExpr, ...]) -> tuple[list, list[_Source]]:
        sources = [_Source.of(it.expr) for it in items]
        return [self.column(s, it.name) for s, it in zip(sources, items)], sources

    # ------------------------------------------------------------------ pipeline and relations

    def pipeline(self, pipeline: A.Pipeline):
        df = self.relation(pipeline.source)
        for step in pipeline.steps:
            df = getattr(self, "step_" + type(step).__name__.lower())(df, step)
        return df

    def relation(self, relation: A.Relation):
        where = [self._span_source(relation.span)]
        if relation.kind == "pipeline":
            df = self.pipeline(relation.pipeline)
        else:
            with self.located("from", relation.span, where):
                if relation.kind == "table":
                    df = self.session.table(relation.name)
                elif relation.kind == "path":
                    reader = self.session.read_csv if relation.name.lower().endswith(_CSV_SUFFIXES) \
                        else self.session.read_parquet
                    df = reader(relation.name)
                else:
                    df = self.table_function(relation)
        if relation.alias is not None:
            with self.located("as", relation.span, where):
                df = df.alias(relation.alias)
        return df

    def table_function(self, relation: A.Relation):
        """``read_parquet('path', hive_partitioning = true)``, ``read_csv('path', delim = ';', header = false)``."""
        name = relation.name
        positional = [a for a in relation.args if a.name is None]
        options = {a.name.lower(): a for a in relation.args if a.name is not None}
        step = getattr(self.session, "table_functions", {}).get(name.lower())
        if step is not None:        # a Python table function of constants (con.register_table_function)
            from dataclasses import replace
            from quarry.api.dataframe import DataFrame
            from quarry.logical import udf as U
            if options:
                raise UnsupportedError(f"named arguments of the table function `{name}`",
                                       hint=f"pass them by position: {name}(1, 'x')")
            call = replace(step, args=tuple(_constant(a.expr) for a in positional))
            return DataFrame(self.session, U.TableFunctionScan(call, U.fields_for(step.schema)))
        if name in ("read_parquet", "parquet_scan"):
            reader, allowed = self.session.read_parquet, {"hive_partitioning": "hive_partitioning"}
        elif name in ("read_csv", "read_csv_auto"):
            reader, allowed = self.session.read_csv, {"delim": "delimiter", "sep": "delimiter",
                                                      "delimiter": "delimiter", "header": "header"}
        else:
            raise UnsupportedError(f"table function `{name}` does not exist",
                                   hint=suggest(name, ["read_parquet", "read_csv"])
                                   or "use read_parquet('path') or read_csv('path')")
        if len(positional) != 1:
            raise BindError(f"{name}() takes one path (or a list of paths) and named options")
        path = _constant(positional[0].expr)
        if not (isinstance(path, str) or isinstance(path, list) and all(isinstance(p, str) for p in path)):
            raise BindError(f"{name}() takes a string path (or a list of paths)")
        kwargs = {}
        for option, item in options.items():
            if option not in allowed:
                raise BindError(f"{name}() has no option `{item.name}`",
                                hint=suggest(option, allowed) or "options: " + ", ".join(sorted(allowed)))
            kwargs[allowed[option]] = _constant(item.expr)
        return reader(path, **kwargs)

    # ------------------------------------------------------------------ steps

    def step_select(self, df, step: A.Select):
        columns, sources = self.named(step.items)
        with self.located("select", step.span, sources):
            return df.select(*columns)

    def step_filter(self, df, step: A.Filter):
        source = _Source.of(step.condition)
        with self.located("filter", step.span, [source]):
            return df.filter(self.column(source))

    def step_derive(self, df, step: A.Derive):
        columns, sources = self.named(step.items)
        with self.located("derive", step.span, sources):
            return df.with_columns(*columns)

    def step_window(self, df, step: A.Window):
        sources = []
        for it in step.items:
            source = _Source.of(it.expr)
            if step.over is not None and not _is_window(it.expr.text):
                # `window over (w) s = sum(x)`: the shared window becomes the item's OVER clause
                head = f"{it.expr.text} over ("
                text = head + step.over.text + ")"
                source = _Source(text, ((0, len(it.expr.text), it.expr.span.start),
                                        (len(head), len(step.over.text), step.over.span.start)))
            sources.append(source)
        with self.located("window", step.span, sources):
            return df.with_columns(*[self.column(s, it.name) for s, it in zip(sources, step.items)])

    def step_group(self, df, step: A.Group):
        keys, key_sources = self.named(step.keys)
        aggregates, agg_sources = self.named(step.aggregates)
        with self.located("group", step.span, key_sources + agg_sources):
            return df.group_by(*keys).agg(*aggregates)

    def step_aggregate(self, df, step: A.Aggregate):
        aggregates, sources = self.named(step.aggregates)
        with self.located("aggregate", step.span, sources):
            return df.agg(*aggregates)

    def step_join(self, df, step: A.Join):
        other = self.relation(step.relation)
        sources = [_Source.of(step.condition)] if step.condition is not None else []
        if step.using is not None:
            sources = [self._span_source(step.span)]
        with self.located("join", step.span, sources):
            if step.kind == "cross":
                return df.join(other, how="cross")
            on = list(step.using) if step.using is not None else self.column(sources[0])
            return df.join(other, on=on, how=step.kind)

    def step_sort(self, df, step: A.Sort):
        keys, sources = [], []
        for key in step.keys:
            source = _Source.of(key.expr)
            column = self.column(source)
            if key.nulls_first is None:
                column = column.desc() if key.descending else column
            elif key.descending:
                column = column.desc_nulls_first() if key.nulls_first else column.desc_nulls_last()
            else:
                column = column.asc_nulls_first() if key.nulls_first else column.asc_nulls_last()
            keys.append(column)
            sources.append(source)
        with self.located("sort", step.span, sources):
            return df.sort(*keys)

    def step_take(self, df, step: A.Take):
        with self.located("take", step.span):
            if step.offset:
                df = df.offset(step.offset)
            return df.limit(step.limit)

    def step_distinct(self, df, step: A.Distinct):
        with self.located("distinct", step.span, [self._span_source(step.span)]):
            return df.drop_duplicates(list(step.subset)) if step.subset else df.distinct()

    def step_setoperation(self, df, step: A.SetOperation):
        other = self.relation(step.relation)
        with self.located(step.op + (" all" if step.all else ""), step.span):
            if step.op == "union":
                out = df.union(other)
                return out if step.all else out.distinct()
            if step.op == "intersect":
                return df.intersect_all(other) if step.all else df.intersect(other)
            return df.except_all(other) if step.all else df.except_(other)

    def step_rename(self, df, step: A.Rename):
        with self.located("rename", step.span, [self._span_source(step.span)]):
            return df.rename({old: new for new, old in step.pairs})

    def step_drop(self, df, step: A.Drop):
        with self.located("drop", step.span, [self._span_source(step.span)]):
            return df.drop(*step.names)


def _in_dsl_words(err: QuarryError, verb: str) -> None:
    """Reword, by its class and facts, an error whose API wording would mislead in a pipeline."""
    if isinstance(err, MisplacedAggregateError):
        hint = ("aggregate first (`group k (total = sum(x))`), then filter on the result: `filter total > 10`"
                if verb == "filter" else
                "aggregate in `group k (...)` or `aggregate (...)`, or over a window: `window s = sum(x) over (...)`")
        err.reword(f"aggregate function `{err.function}` is not allowed in {verb}", hint)
    elif isinstance(err, NestedAggregateError):
        err.reword(hint="aggregate in two steps: `group k (s = sum(x)) | aggregate (m = max(s))`")
    elif isinstance(err, MisplacedWindowError):
        err.reword(f"window functions are not allowed in {verb}",
                   "compute it first (`window r = rank() over (...)`), then use its name")
    elif isinstance(err, NotGroupedError):
        name = err.name
        err.reword(f"column `{name}` must be a group key or be used in an aggregate function",
                   f"add `{name}` to the group keys, or aggregate it: any_value({name})")
    elif isinstance(err, NotBooleanError):
        err.reword(hint="compare the value, e.g. `x != 0`")


def _is_window(text: str) -> bool:
    from quarry.dsl.parser import _parse_sql
    return isinstance(_parse_sql(text), sqlglot.exp.Window)


def _constant(fragment: A.Fragment):
    """The Python value of a constant argument: a string, number, boolean or list of them."""
    node = sqlglot.parse_one(fragment.text, read=SQL_DIALECT)

    def value(n):
        if isinstance(n, sqlglot.exp.Literal):
            return n.this if n.is_string else (int(n.this) if n.this.isdigit() else float(n.this))
        if isinstance(n, sqlglot.exp.Boolean):
            return bool(n.this)
        if isinstance(n, sqlglot.exp.Array):
            return [value(e) for e in n.expressions]
        if isinstance(n, (sqlglot.exp.Column, sqlglot.exp.Identifier, sqlglot.exp.Var)) and \
                n.name.lower() in ("true", "false"):
            return n.name.lower() == "true"
        raise BindError(f"`{fragment.text}` is not a constant", hint="write a string, number, true/false or a list")
    return value(node)


__all__ = ["compile_pipeline", "Compiler"]
