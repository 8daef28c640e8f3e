"""Output column names as DuckDB gives them: ``sum(v)``, ``count_star()``, ``(a + 1)``, ``lower("名前")``.

An unaliased select item is named by DuckDB's own printing of the parsed expression, not by the
SQL sqlglot would generate (``SUM(v)``, ``a + 1``). The rules, from DuckDB's ``ToString``:

* operators are fully parenthesized: ``(a + (b * 2))``, ``(NOT (a > 1))``, ``(-(a))``, ``(a IS NULL)``;
  ``<>`` is ``!=``, LIKE/ILIKE/GLOB are ``~~``/``~~*``/``~~~`` (``!~~`` negated);
* functions keep the name as written, lower-cased (``substr``, ``ceiling``), quoted when it is a
  keyword (``"left"``, ``"nullif"``); ``count(*)`` is ``count_star()``; COALESCE stays upper-case;
* identifiers are quoted unless made of ASCII letters, digits and ``_`` (``"名前"``) or a keyword;
* literals as written (``1e10``, ``.5``), booleans ``true``/``false``, typed literals and ``::``
  as ``CAST(x AS TYPE)`` with DuckDB's type names (``INTEGER``, ``FLOAT``, ``VARCHAR``);
* ``CASE  WHEN (c) THEN (v) ELSE e END`` (ELSE NULL when omitted), ``[1, 2]`` is ``list_value(1, 2)``,
  ``{'x': 1}`` is ``struct_pack(x := 1)``, EXTRACT is ``date_part('YEAR', d)``.

Type names come from the text the parser recorded (``meta["type_text"]``: ``TEXT`` stays ``TEXT``,
``INT`` becomes ``INTEGER`` as in DuckDB). The parser also records what sqlglot's tree
loses: which of ``2 ** 3`` and ``2 ^ 3`` was written (``meta["operator"]``) and how many unary pluses
stood before an operand (``meta["unary_plus"]``: ``+a`` is ``(+(a))``).
"""

from __future__ import annotations

import contextvars
import re

from sqlglot import exp

_KEYWORDS = frozenset("""
abort absolute access action add admin after aggregate all also alter always analyse analyze and
anti any approx array as asc asof assertion assignment asymmetric at attach attribute authorization
backward before begin between bigint binary bit boolean both by cache call called cascade cascaded
case cast catalog centuries century chain char character characteristics check checkpoint class
close cluster coalesce collate collation column columns comment comments commit committed
compression concurrently configuration conflict connect connection constraint constraints content
continue conversion copy cost create cross csv cube current cursor cycle data database day days
deallocate dec decade decades decimal declare default defaults deferrable deferred definer delete
delimiter delimiters depends desc describe destroy detach dictionary disable discard disconnect
distance distinct do document domain double drop each else enable encoding encrypted end enum error
escape event exact except exclude excluding exclusive execute exists explain export export_state
extension extensions external extract false family fetch filter first float following for force
foreign forward freeze from full function functions generated glob global grant granted group
grouping grouping_id groups handler having header hold hour hours identity if ignore ilike immediate
immutable implicit import in include including increment index indexes inherit inherits initially
inline inner inout input insensitive insert install instead int integer intersect interval into
invoker is isnull isolation join json key label lambda language large last lateral leading leakproof
left level like limit listen load local location lock locked logged macro map mapping match matched
materialized maxvalue merge method microsecond microseconds millennia millennium millisecond
milliseconds minute minutes minvalue mode month months move name names national natural nchar
nearest new next no none not nothing notify notnull nowait null nullif nulls numeric object of off
offset oids old on only operator option options or order ordinality others out outer over overlaps
overlay overriding owned owner parallel parser partial partition partitioned passing password
percent persistent pivot pivot_longer pivot_wider placing plans policy position positional pragma
preceding precision prepare prepared preserve primary prior privileges procedural procedure program
publication qualify quarter quarters quote range read real reassign recheck recursive ref references
referencing refresh register reindex relative release rename repeatable replace replica reset
resource resources respect restart restrict returning returns revoke right role rollback rollup row
rows rule sample savepoint schema schemas scope scroll search second seconds secret secure security
select semi sequence sequences serializable server session set setof sets share show similar
similarity simple skip smallint snapshot some sorted source sql stable standalone start statement
statistics stdin stdout storage stored strict strip struct subscription substring summarize
symmetric sysid system table tables tablesample tablespace target temp template temporary text then
ties time timestamp to trailing transaction transform treat trigger trim true truncate trusted
try_cast tuple type types unbounded uncommitted unencrypted union unique unknown unlisten unlogged
unpack unpivot until update use user using vacuum valid validate validator value values varchar
variable variadic varying verbose version view views virtual volatile week weeks when where
whitespace window with within without work wrapper write xml xmlattributes xmlconcat xmlelement
xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable year years yes zone""".split())

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_BINARY = {
    exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.IntDiv: "//", exp.Mod: "%",
    exp.EQ: "=", exp.NEQ: "!=", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">=",
    exp.And: "AND", exp.Or: "OR", exp.DPipe: "||", exp.Pow: "^",
    exp.BitwiseAnd: "&", exp.BitwiseOr: "|", exp.BitwiseLeftShift: "<<", exp.BitwiseRightShift: ">>",
    exp.NullSafeEQ: "IS NOT DISTINCT FROM", exp.NullSafeNEQ: "IS DISTINCT FROM",
}
_MATCH = {exp.Like: "~~", exp.ILike: "~~*", exp.Glob: "~~~"}

_TYPE_NAMES = {
    "TEXT": "VARCHAR", "VARCHAR": "VARCHAR", "CHAR": "VARCHAR", "NVARCHAR": "VARCHAR", "NCHAR": "VARCHAR",
    "INT": "INTEGER", "BIGINT": "BIGINT", "SMALLINT": "SMALLINT", "TINYINT": "TINYINT", "INT128": "HUGEINT",
    "UINT128": "UHUGEINT", "UBIGINT": "UBIGINT", "UINT": "UINTEGER", "USMALLINT": "USMALLINT",
    "UTINYINT": "UTINYINT", "DOUBLE": "DOUBLE", "FLOAT": "FLOAT", "DECIMAL": "DECIMAL", "BOOLEAN": "BOOLEAN",
    "DATE": "DATE", "TIMESTAMP": "TIMESTAMP", "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "TIME": "TIME",
    "INTERVAL": "INTERVAL", "VARBINARY": "BLOB", "BLOB": "BLOB", "BINARY": "BLOB", "UUID": "UUID",
    "JSON": "JSON", "BIT": "BIT",
}

# EXTRACT/INTERVAL units: the to_* function and its argument's cast, as DuckDB rewrites INTERVAL n UNIT
_INTERVAL = {"DAY": ("to_days", "INTEGER"), "HOUR": ("to_hours", "BIGINT"), "MINUTE": ("to_minutes", "BIGINT"),
             "SECOND": ("to_seconds", None), "MONTH": ("to_months", "INTEGER"), "YEAR": ("to_years", "INTEGER"),
             "WEEK": ("to_weeks", "INTEGER"), "MILLISECOND": ("to_milliseconds", None),
             "MICROSECOND": ("to_microseconds", "BIGINT")}


# functions sqlglot parses without recording where their name was, spelled as DuckDB does
_CLASS_NAMES = {exp.GroupConcat: "string_agg"}


def quote(name: str) -> str:
    """An identifier as DuckDB prints it: bare when plain ASCII and no keyword, else double-quoted."""
    if _PLAIN.match(name) and name.lower() not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


# whose names unaliased items get: DuckDB's (the default) or, for Spark's front end, Spark's where they differ:
# count(*) is count(1), a string constant is its text unquoted (upper(a)), a CAST's type Spark's (CAST(k AS STRING))
NAME_STYLE = contextvars.ContextVar("quarry_name_style", default="duckdb")


def output_name(node: exp.Expression) -> str:
    """The column name DuckDB gives an unaliased select item ``node``."""
    if isinstance(node, exp.Alias):
        return node.alias
    if isinstance(node, exp.Column) and not node.meta.get("unary_plus"):
        return node.name
    try:
        return render(node)
    except Exception:                 # noqa: BLE001 - a shape this printer does not know
        return _fallback(node)


def _fallback(node: exp.Expression) -> str:
    from quarry.sql.statements import DIALECT
    return node.sql(dialect=DIALECT, comments=False)


def _source(node: exp.Expression) -> str | None:
    """The text ``node`` was parsed from, when the parser recorded it (see statements.parse)."""
    return node.meta.get("source") if node.meta else None


def _literal(node: exp.Literal) -> str:
    if node.is_string:
        if NAME_STYLE.get() == "spark":
            return node.this
        return "'" + node.this.replace("'", "''") + "'"
    text = _source(node)
    return text if text is not None and re.fullmatch(r"[0-9._eE+-]+", text) else node.this


# type names DuckDB's parser spells its own way; any other name it keeps as written (TEXT, INT8)
# (the SQL standard's type keywords); any other name it keeps as written, case and all (double, int8, text)
_WRITTEN_TYPES = {"INT": "INTEGER", "INTEGER": "INTEGER", "REAL": "FLOAT", "NUMERIC": "DECIMAL", "DEC": "DECIMAL",
                  "DECIMAL": "DECIMAL", "CHAR": "VARCHAR", "CHARACTER": "VARCHAR", "VARCHAR": "VARCHAR",
                  "BIGINT": "BIGINT", "SMALLINT": "SMALLINT", "FLOAT": "FLOAT", "BOOLEAN": "BOOLEAN",
                  "TIMESTAMP": "TIMESTAMP", "TIME": "TIME", "INTERVAL": "INTERVAL", "BIT": "BIT"}


def _type(dt: exp.DataType) -> str:
    if NAME_STYLE.get() == "spark":          # Spark's DataType.sql: CAST(k AS STRING), DECIMAL(10,2)
        return re.sub(r",\s+", ",", dt.sql(dialect="spark").upper())
    written = dt.meta.get("type_text") if dt.meta else None
    if written is not None and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*( ?\( ?[0-9]+( ?, ?[0-9]+)? ?\))?", written):
        as_written = written.split("(")[0].strip()
        base = as_written.upper()
        params = re.findall(r"[0-9]+", written[len(written.split("(")[0]):])
        name = _WRITTEN_TYPES.get(base, '"json"' if as_written == "json" else as_written)
        return name + (f"({', '.join(params)})" if params else "")
    name = dt.this.value if isinstance(dt.this, exp.DType) else str(dt.this)
    if dt.this == exp.DType.ARRAY or name == "LIST":
        inner = dt.expressions[0] if dt.expressions else None
        return (_type(inner) if inner is not None else "NULL") + "[]"
    base = _TYPE_NAMES.get(name)
    if base is None:
        return _fallback(dt)
    params = [e.this.sql() if isinstance(e, exp.DataTypeParam) else e.sql() for e in dt.expressions]
    return base + (f"({', '.join(params)})" if params else "")


def _args(node: exp.Expression) -> list[exp.Expression]:
    return [v for k, v in node.args.items() if isinstance(v, exp.Expression)]


def _func_name(node: exp.Func, generated: str) -> str:
    """The function's name as written (lower-cased), else as sqlglot's DuckDB SQL spells it."""
    spark = NAME_STYLE.get() == "spark"
    if isinstance(node, exp.Coalesce):
        return "coalesce" if spark else "COALESCE"   # also for IFNULL/NVL, which DuckDB's parser turns into it
    if type(node) in _CLASS_NAMES:
        return _CLASS_NAMES[type(node)]
    text = _source(node)
    if text is not None and _PLAIN.match(text):
        name = text.lower()
    else:
        m = re.match(r'"?([A-Za-z_][A-Za-z0-9_]*)"?\(', generated)
        if m is None:
            raise ValueError("not a plain function call")
        name = m.group(1).lower()
    if name == "coalesce":
        return "coalesce" if spark else "COALESCE"
    return quote(name)


# calls whose DuckDB SQL from sqlglot is not what was written (it adds regexp_extract_all's default
# group 0 and drops its options), so they are named from their arguments in order
_WRITTEN_IN_ORDER = (exp.RegexpExtractAll, exp.RegexpExtract, exp.GenerateSeries)
# the order they are written in, where it is not the order of the node's arguments
_WRITTEN_ORDER = {exp.RegexpExtract: ("this", "expression", "group", "parameters"),
                  exp.GenerateSeries: ("start", "end", "step")}     # range(n): the start 0 was not written


def _call(node: exp.Func) -> str:
    """A function call: sqlglot's DuckDB SQL for the call with each argument a placeholder (so the
    arguments keep the order it writes them in), the placeholders then replaced by their names."""
    from quarry.sql.statements import DIALECT
    if isinstance(node, exp.UnixToTime) and (_source(node) or "").lower() in ("epoch_ms", "make_timestamp"):
        # sqlglot's reading adds a scale that was not written
        return f"{_source(node).lower()}({render(node.this)})"
    if isinstance(node, exp.ArrayOverlaps) and (_source(node) or "").lower() in ("list_has_any", "array_has_any"):
        # sqlglot reads list_has_any(a, b) as the operator a && b
        return f"{_source(node).lower()}({render(node.this)}, {render(node.expression)})"
    if isinstance(node, exp.JarowinklerSimilarity):
        # sqlglot keeps DuckDB's score cutoff as a case_insensitive flag
        args = [node.args[k] for k in ("this", "expression", "case_insensitive") if node.args.get(k) is not None]
        return f"jaro_winkler_similarity({', '.join(render(a) for a in args)})"
    if isinstance(node, exp.ArrayOverlaps):
        return f"({render(node.this)} && {render(node.expression)})"
    if isinstance(node, exp.DateAdd) and (_source(node) or "").lower() == "date_add" and node.args.get("unit") is None:
        # sqlglot writes DuckDB's date_add(a, b) as a + INTERVAL b DAY
        return f"date_add({render(node.this)}, {render(node.expression)})"
    if isinstance(node, _WRITTEN_IN_ORDER):
        # a default the parser filled in was not written, so it has no source text
        keys = _WRITTEN_ORDER.get(type(node), node.arg_types)
        args = [node.args[k] for k in keys if isinstance(node.args.get(k), exp.Expression)
                and not (isinstance(node.args[k], exp.Literal) and _source(node.args[k]) is None)]
        return f"{_func_name(node, node.sql(dialect=DIALECT))}({', '.join(render(a) for a in args)})"
    copy = node.copy()
    parts = {}
    for key, value in list(copy.args.items()):
        values = value if isinstance(value, list) else [value]
        out = []
        for v in values:
            if isinstance(v, exp.Expression) and not isinstance(v, (exp.DataType, exp.Var)):
                tag = f"__qn{len(parts)}__"
                parts[tag] = render(v)
                out.append(exp.column(tag))
            else:
                out.append(v)
        copy.set(key, out if isinstance(value, list) else out[0])
    generated = copy.sql(dialect=DIALECT, comments=False)
    m = re.match(r'"?[A-Za-z_][A-Za-z0-9_]*"?\((.*)\)\Z', generated, re.S)
    if m is None:
        raise ValueError("not a plain function call")
    body = m.group(1)
    for tag, text in parts.items():
        body = body.replace(tag, text)
    if "__qn" in body:
        raise ValueError("an argument was not placed")
    return f"{_func_name(node, generated)}({body})"


def render(node: exp.Expression) -> str:
    """DuckDB's printing of one expression (see the module docstring)."""
    text = _render(node)
    for _ in range(node.meta.get("unary_plus", 0) if getattr(node, "_meta", None) else 0):   # +a is (+(a)), as DuckDB prints it
        text = f"(+({text}))"
    return text


def _render(node: exp.Expression) -> str:
    if isinstance(node, exp.Paren):
        return render(node.this)
    if NAME_STYLE.get() == "spark":
        spark = _spark_render(node)
        if spark is not None:
            return spark
    if isinstance(node, exp.Column):
        return ".".join(quote(p.name) for p in node.parts)
    if isinstance(node, exp.Identifier):
        return quote(node.name)
    if isinstance(node, exp.Literal):
        return _literal(node)
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    if isinstance(node, exp.Null):
        return "NULL"
    if isinstance(node, exp.Star):
        return "*"
    if isinstance(node, exp.Neg):
        if isinstance(node.this, exp.Literal) and not node.this.is_string:
            return "-" + _literal(node.this)
        return f"(-({render(node.this)}))"
    if isinstance(node, exp.BitwiseNot):
        return f"(~({render(node.this)}))"
    if isinstance(node, exp.Not):
        inner = node.this.unnest() if isinstance(node.this, exp.Paren) else node.this
        if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
            return f"({render(inner.this)} IS NOT NULL)"
        if type(inner) in _MATCH:
            return f"({render(inner.this)} !{_MATCH[type(inner)]} {render(inner.expression)})"
        return f"(NOT {render(inner)})"
    if type(node) in _MATCH:
        op = _MATCH[type(node)]
        if node.args.get("negate"):
            op = "!" + op
        if node.args.get("escape") is not None:
            raise ValueError("LIKE ... ESCAPE")
        return f"({render(node.this)} {op} {render(node.expression)})"
    if isinstance(node, exp.Escape):
        raise ValueError("ESCAPE")
    if type(node) in _BINARY and isinstance(node.expression, (exp.Any, exp.All)):
        return _quantified(node)
    if type(node) in _BINARY:
        written = _source(node)
        if written is not None and _PLAIN.match(written):       # power(a, 2), mod(a, 2): as called
            return f"{quote(written.lower())}({render(node.this)}, {render(node.expression)})"
        op = node.meta.get("operator", _BINARY[type(node)]) if isinstance(node, exp.Pow) else _BINARY[type(node)]
        return f"({render(node.this)} {op} {render(node.expression)})"
    if isinstance(node, exp.Is):
        return f"({render(node.this)} IS {render(node.expression)})"
    if isinstance(node, exp.Between):
        return f"({render(node.this)} BETWEEN {render(node.args['low'])} AND {render(node.args['high'])})"
    if isinstance(node, exp.In):
        query = node.args.get("query")
        if query is not None:                  # DuckDB prints x IN (SELECT ...) as x = ANY(SELECT ...)
            inner = query.this if isinstance(query, exp.Subquery) else query
            return f"({render(node.this)} = ANY({_query(inner)}))"
        if node.args.get("unnest") is not None:
            raise ValueError("IN UNNEST")
        return f"({render(node.this)} IN ({', '.join(render(e) for e in node.expressions)}))"
    if isinstance(node, (exp.Cast, exp.TryCast)):
        word = "TRY_CAST" if isinstance(node, exp.TryCast) or node.args.get("safe") else "CAST"
        return f"{word}({render(node.this)} AS {_type(node.to)})"
    if isinstance(node, exp.Case):
        subject = node.this
        out = "CASE "
        for when in node.args.get("ifs") or []:
            cond = when.this
            cond_text = f"({render(subject)} = {render(cond)})" if subject is not None else render(cond)
            out += f" WHEN ({cond_text}) THEN ({render(when.args['true'])})"
        default = node.args.get("default")
        return out + f" ELSE {render(default) if default is not None else 'NULL'} END"
    if isinstance(node, exp.Concat) and NAME_STYLE.get() == "spark":      # Spark: concat(x, k), not x || k
        return f"concat({', '.join(render(e) for e in node.expressions)})"
    if isinstance(node, exp.Count):
        arg = node.this
        if arg is None or isinstance(arg, exp.Star):
            return "count(1)" if NAME_STYLE.get() == "spark" else "count_star()"
    if isinstance(node, exp.Distinct):
        return "DISTINCT " + ", ".join(render(e) for e in node.expressions)
    if isinstance(node, exp.Filter):
        where = node.expression.this if isinstance(node.expression, exp.Where) else node.expression
        return f"{render(node.this)} FILTER (WHERE {render(where)})"
    if isinstance(node, exp.Window):
        return _window(node)
    if isinstance(node, exp.IgnoreNulls) and isinstance(node.this, exp.AnyValue):
        return render(node.this)        # sqlglot's reading of any_value(x), which skips NULLs anyway
    if isinstance(node, exp.Lambda):
        params = ", ".join(quote(p.name) for p in node.expressions)
        return f"(lambda {params}: {render(node.this)})"
    if isinstance(node, (exp.ArrayAgg, exp.GroupConcat, exp.First, exp.Last)) and isinstance(node.this, exp.Order):
        return _ordered_aggregate(node)
    if isinstance(node, exp.WithinGroup):
        return _within_group(node)
    if isinstance(node, exp.Array):
        return f"list_value({', '.join(render(e) for e in node.expressions)})"
    if isinstance(node, exp.Struct):
        items = []
        for e in node.expressions:
            if not isinstance(e, (exp.PropertyEQ, exp.Slice)):
                raise ValueError("struct entry without a name")
            key = e.this.name if isinstance(e.this, (exp.Identifier, exp.Literal)) else render(e.this)
            items.append(f"{quote(key)} := {render(e.expression)}")
        return f"struct_pack({', '.join(items)})"
    if isinstance(node, exp.Anonymous) and node.name.lower() == "struct_insert" and node.expressions:
        first, *named = node.expressions
        items = [render(first)]
        for e in named:
            key = e.this.name if isinstance(e, exp.PropertyEQ) and isinstance(e.this, (exp.Identifier, exp.Literal)) \
                else None
            items.append(f"{quote(key)} := {render(e.expression)}" if key is not None else render(e))
        return f"struct_insert({', '.join(items)})"
    if isinstance(node, exp.ToMap) and isinstance(node.this, exp.Struct):
        keys = [render(e.this) for e in node.this.expressions]
        values = [render(e.expression) for e in node.this.expressions]
        return f'"map"(list_value({", ".join(keys)}), list_value({", ".join(values)}))'
    if isinstance(node, exp.Tuple):
        return f'"row"({", ".join(render(e) for e in node.expressions)})'
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Identifier) \
            and not isinstance(node.this, (exp.Column, exp.Identifier, exp.Dot)):
        return f"({render(node.this)}).{quote(node.expression.name)}"
    if isinstance(node, exp.Bracket):
        return f"{render(node.this)}[{', '.join(render(e) for e in node.expressions)}]"
    if isinstance(node, exp.Slice):
        step = node.args.get("step")
        return f"{render(node.this) if node.this is not None else ''}:" \
               f"{render(node.expression) if node.expression is not None else ''}" + \
               (f":{render(step)}" if step is not None else "")
    if isinstance(node, exp.Extract):
        unit = node.this.name if isinstance(node.this, (exp.Var, exp.Identifier)) else render(node.this)
        return f"date_part('{unit.upper()}', {render(node.expression)})"
    if isinstance(node, exp.Interval) and isinstance(node.args.get("unit"), exp.Var):
        unit = node.args["unit"].name.upper().rstrip("S")
        if unit in _INTERVAL:
            fn, cast = _INTERVAL[unit]
            if isinstance(node.this, exp.Literal):
                value = node.this.this
                value = value if re.fullmatch(r"-?[0-9.]+", value) else "'" + value.replace("'", "''") + "'"
            else:
                value = render(node.this)       # INTERVAL (-1) DAY
            inner = f"CAST({value} AS DOUBLE)"
            return f"{fn}({inner})" if cast is None else f"{fn}(CAST(trunc({inner}) AS {cast}))"
    if isinstance(node, (exp.DateTrunc, exp.TimestampTrunc)) and isinstance(node.args.get("unit"), (exp.Var, exp.Literal)):
        # the unit as users write it (sqlglot keeps it upper-cased)
        unit = node.args["unit"].name.lower()
        return f"date_trunc('{unit}', {render(node.this)})"
    if isinstance(node, exp.Subquery):
        return f"({_query(node.this)})"
    if isinstance(node, exp.Exists):
        return f"EXISTS({_query(node.this)})"
    if isinstance(node, exp.If):
        args = [node.this, node.args.get("true"), node.args.get("false")]
        return '"if"(' + ", ".join(render(a) if a is not None else "NULL" for a in args) + ")"
    if isinstance(node, exp.Func) and not isinstance(node, (exp.Lambda,)):
        return _call(node)
    raise ValueError(f"no DuckDB name for {type(node).__name__}")


def _spark_render(node: exp.Expression) -> str | None:
    """Spark's names (its ``Expression.sql`` over pretty literals) where they differ from DuckDB's, or None:
    ``a LIKE x%`` and ``(NOT a LIKE x%)``, ``substring(s, 1, 2)`` (``2147483647`` for a length not given),
    ``CASE WHEN (k > 1) THEN 1 ELSE 0 END``, ``(- k)``, ``concat_ws(-, a, b)``."""
    if isinstance(node, exp.Like) and node.args.get("escape") is None:
        text = f"{render(node.this)} LIKE {render(node.expression)}"
        return f"(NOT {text})" if node.args.get("negate") else text
    if isinstance(node, exp.Not) and isinstance(node.this, exp.Like) and not node.this.args.get("negate"):
        return f"(NOT {render(node.this)})"
    if isinstance(node, exp.Substring):
        start, length = node.args.get("start"), node.args.get("length")
        args = [render(node.this), render(start) if start is not None else "1",
                render(length) if length is not None else "2147483647"]
        return f"substring({', '.join(args)})"
    if isinstance(node, exp.Case):
        subject = node.this
        out = "CASE"
        for when in node.args.get("ifs") or []:
            cond = f"({render(subject)} = {render(when.this)})" if subject is not None else render(when.this)
            out += f" WHEN {cond} THEN {render(when.args['true'])}"
        default = node.args.get("default")
        return out + (f" ELSE {render(default)}" if default is not None else "") + " END"
    if isinstance(node, exp.Neg) and not (isinstance(node.this, exp.Literal) and not node.this.is_string):
        return f"(- {render(node.this)})"
    if isinstance(node, exp.ConcatWs):
        return f"concat_ws({', '.join(render(e) for e in node.expressions)})"
    return None


_NEGATED_OPS = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _quantified(node: exp.Expression) -> str:
    """``x op ANY (...)``: DuckDB prints a list as ``ANY(SELECT unnest(l))``, and ``x op ALL (...)`` as
    ``(NOT (x negated-op ANY(...)))``."""
    q = node.expression
    inner = q.this
    while isinstance(inner, exp.Paren):
        inner = inner.this
    if isinstance(inner, (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values)):
        body = _query(inner)
    elif isinstance(inner, exp.Subquery):
        body = _query(inner.this)
    else:
        body = f"SELECT unnest({render(inner)})"
    op = _BINARY[type(node)]
    if isinstance(q, exp.All):
        return f"(NOT ({render(node.this)} {_NEGATED_OPS[op]} ANY({body})))"
    return f"({render(node.this)} {op} ANY({body}))"


_QUERY_PARTS = {"expressions", "from", "from_", "where", "group", "having", "order", "limit", "distinct", "joins"}


def _query(node: exp.Expression) -> str:
    """A subquery as DuckDB prints it (``SELECT count_star() FROM u AS x WHERE (x.a < 1)``) when it is a
    plain SELECT of tables; anything else as sqlglot's SQL."""
    try:
        return _select_text(node)
    except ValueError:
        return _fallback(node)


def _select_text(sel: exp.Expression) -> str:
    if not isinstance(sel, exp.Select) or any(v for k, v in sel.args.items() if k not in _QUERY_PARTS):
        raise ValueError("not a plain SELECT")
    items = []
    for e in sel.expressions:
        items.append(f"{render(e.this)} AS {quote(e.alias)}" if isinstance(e, exp.Alias) else render(e))
    distinct = sel.args.get("distinct")
    if distinct is not None and distinct.args.get("on") is not None:
        raise ValueError("DISTINCT ON")
    text = "SELECT " + ("DISTINCT " if distinct is not None else "") + ", ".join(items)
    from_ = sel.args.get("from_") or sel.args.get("from")
    if from_ is not None:
        tables = [from_.this]
        for j in sel.args.get("joins") or []:
            if j.args.get("on") is not None or j.args.get("using") or j.args.get("kind") or j.args.get("side") \
                    or j.args.get("method"):
                raise ValueError("a JOIN")
            tables.append(j.this)
        names = []
        for t in tables:
            if not isinstance(t, exp.Table) or not isinstance(t.this, exp.Identifier) or t.args.get("db") \
                    or (t.args.get("alias") is not None and t.args["alias"].columns):
                raise ValueError("not a table")
            names.append(quote(t.name) + (f" AS {quote(t.alias)}" if t.alias else ""))
        text += " FROM " + " , ".join(names)
    elif sel.args.get("joins"):
        raise ValueError("joins without FROM")
    if sel.args.get("where") is not None:
        text += " WHERE " + render(sel.args["where"].this)
    group = sel.args.get("group")
    if group is not None:
        if any(v for k, v in group.args.items() if k != "expressions"):
            raise ValueError("grouping sets")
        text += " GROUP BY " + ", ".join(render(e) for e in group.expressions)
    if sel.args.get("having") is not None:
        text += " HAVING " + render(sel.args["having"].this)
    if sel.args.get("order") is not None:
        text += " ORDER BY " + _order_items(sel.args["order"])
    limit = sel.args.get("limit")
    if limit is not None:
        if not isinstance(limit, exp.Limit) or limit.args.get("offset") or limit.args.get("expressions"):
            raise ValueError("LIMIT ...")
        text += " LIMIT " + render(limit.expression)
    return text


def _order_items(order: exp.Order) -> str:
    items = []
    for o in order.expressions:
        text = render(o.this) + (" DESC" if o.args.get("desc") else "")
        if o.meta.get("nulls_explicit"):
            text += " NULLS FIRST" if o.args.get("nulls_first") else " NULLS LAST"
        items.append(text)
    return ", ".join(items)


_ORDERED_NAMES = {exp.ArrayAgg: "array_agg", exp.GroupConcat: "string_agg", exp.First: '"first"',
                  exp.Last: '"last"'}


def _within_group(node: exp.WithinGroup) -> str:
    """``percentile_cont(q) WITHIN GROUP (ORDER BY x)`` as DuckDB prints it: ``quantile_cont(q ORDER BY x)``;
    ``mode() WITHIN GROUP (ORDER BY x)`` keeps its WITHIN GROUP."""
    func, order = node.this, node.expression
    if isinstance(func, exp.Mode):
        return f'"mode"() WITHIN GROUP ( ORDER BY {_order_items(order)})'
    name = {exp.PercentileCont: "quantile_cont", exp.PercentileDisc: "quantile_disc"}.get(type(func))
    if name is None:
        raise ValueError("WITHIN GROUP")
    return f"{name}({render(func.this)} ORDER BY {_order_items(order)})"


def _ordered_aggregate(node: exp.Expression) -> str:
    """``array_agg(x ORDER BY y)``, ``string_agg(s, ',' ORDER BY s)``: the ORDER BY after every argument."""
    order = node.this
    text = _source(node)
    name = quote(text.lower()) if text is not None and _PLAIN.match(text) else _ORDERED_NAMES[type(node)]
    if name == "listagg" or name == "group_concat":
        name = "string_agg" if name == "listagg" else name
    args = [render(order.this)]
    if isinstance(node, exp.GroupConcat) and node.args.get("separator") is not None:
        args.append(render(node.args["separator"]))
    return f"{name}({', '.join(args)} ORDER BY {_order_items(order)})"


def _window(node: exp.Window) -> str:
    parts = []
    if node.args.get("partition_by"):
        parts.append("PARTITION BY " + ", ".join(render(e) for e in node.args["partition_by"]))
    order = node.args.get("order")
    if order is not None:
        parts.append("ORDER BY " + _order_items(order))
    spec = node.args.get("spec")
    if spec is not None:
        parts.append(_fallback(spec))
    if node.args.get("alias") is not None:
        raise ValueError("named window")
    func = node.this
    if isinstance(func, (exp.First, exp.Last)) and not isinstance(func.this, exp.Order):
        # DuckDB binds first(x) OVER w as first_value(x) OVER w
        text = f"{'first' if isinstance(func, exp.First) else 'last'}_value({render(func.this)})"
    else:
        text = render(func)
    return f"{text} OVER ({' '.join(parts)})"
