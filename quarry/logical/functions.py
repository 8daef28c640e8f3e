"""The function registry: every scalar, aggregate and window function quarry knows.

One registry serves SQL, the DataFrame API and the DSL. Each entry types its
call: it coerces the arguments (inserting casts) and fixes the result type.
Build calls with :func:`call`, :func:`agg` and :func:`cast`, never by hand, so
every expression in a plan is well typed::

    >>> e = call("add", [ColumnRef(f), lit(1)])     # doctest: +SKIP

How each function runs lives in ``quarry.compute.kernels`` under the same name.
"""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass
from typing import Callable

import pyarrow as pa

from quarry.errors import BindError, QuarryTypeError, suggest
from quarry.logical import types as T
from quarry.logical.expressions import AggCall, Call, Expr, Literal

# ---------------------------------------------------------------------------
# literals and casts


def lit(value, dtype: pa.DataType | None = None) -> Literal:
    """A typed literal from a Python value (int -> INTEGER/BIGINT, float -> DOUBLE, Decimal -> DECIMAL)."""
    if dtype is not None:
        return Literal(value, dtype)
    if value is None:
        return Literal(None, T.NULL)
    if isinstance(value, bool):
        return Literal(value, T.BOOL)
    if isinstance(value, int):
        return Literal(value, T.INT32 if -2**31 <= value < 2**31 else T.INT64)
    if isinstance(value, float):
        return Literal(value, T.FLOAT64)
    if isinstance(value, decimal.Decimal):
        return Literal(value, T.decimal_for_literal(value))
    if isinstance(value, str):
        return Literal(value, T.STRING)
    if isinstance(value, datetime.datetime):
        return Literal(value, T.TIMESTAMP)
    if isinstance(value, datetime.date):
        return Literal(value, T.DATE)
    if isinstance(value, bytes):
        return Literal(value, T.BINARY)
    raise QuarryTypeError(f"cannot use a Python {type(value).__name__} as a literal")


def _can_cast(src: pa.DataType, dst: pa.DataType) -> bool:
    if src == dst or T.is_null(src):
        return True
    if T.is_string(src) or T.is_string(dst):
        return True
    if T.is_numeric(src) and T.is_numeric(dst):
        return True
    if T.is_temporal(src) and T.is_temporal(dst):
        return True
    if src == T.BOOL and (T.is_numeric(dst)) or dst == T.BOOL and T.is_numeric(src):
        return True
    return False


def cast(e: Expr, dtype: pa.DataType, *, explicit: bool = False) -> Expr:
    """``CAST(e AS dtype)``; a no-op when the type already matches. Literals fold at once."""
    if e.dtype == dtype:
        return e
    if not _can_cast(e.dtype, dtype):
        raise QuarryTypeError(f"cannot cast {T.sql_name(e.dtype)} to {T.sql_name(dtype)}")
    if isinstance(e, Literal) and not explicit:
        folded = _fold_literal_cast(e, dtype)
        if folded is not None:
            return folded
    return Call("cast", (e,), dtype, e.nullable)


# Python's default decimal context keeps 28 digits; a DECIMAL(38, s) literal needs more
_WIDE = decimal.Context(prec=100, Emax=1000, Emin=-1000)

_TRUE_WORDS = {"true", "t", "1", "yes"}        # the words the cast kernel accepts
_FALSE_WORDS = {"false", "f", "0", "no"}


def parse_literal_text(text: str, dtype: pa.DataType):
    """The value of a string literal cast to ``dtype`` (as the cast kernel computes it), or raise ValueError.

    Spaces around the text are ignored, and numbers round half away from zero.

    >>> parse_literal_text(" 2.5 ", pa.int32())
    3
    """
    text = text.strip()
    if T.is_integer(dtype) or T.is_decimal(dtype):
        try:
            number = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise ValueError(text) from None
        if not number.is_finite():
            raise ValueError(text)
        scale = dtype.scale if T.is_decimal(dtype) else 0
        number = number.quantize(decimal.Decimal(1).scaleb(-scale), rounding=decimal.ROUND_HALF_UP,
                                 context=_WIDE)
        if T.is_decimal(dtype):
            if len(number.as_tuple().digits) > dtype.precision and number != 0:
                raise ValueError(text)
            return number
        bits = dtype.bit_width - 1
        if not -2**bits <= number < 2**bits:
            raise ValueError(text)
        return int(number)
    if T.is_float(dtype):
        return float(text)
    if dtype == T.BOOL:
        if text.lower() in _TRUE_WORDS:
            return True
        if text.lower() in _FALSE_WORDS:
            return False
        raise ValueError(text)
    return pa.scalar(text).cast(dtype).as_py()


def _fold_literal_cast(e: Literal, dtype: pa.DataType) -> Literal | None:
    if e.value is None:
        return Literal(None, dtype)
    if T.is_string(e.dtype) and (T.is_numeric(dtype) or T.is_temporal(dtype) or dtype == T.BOOL):
        try:
            return Literal(parse_literal_text(e.value, dtype), dtype)
        except (ValueError, OverflowError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise QuarryTypeError(f"cannot convert {e} to {T.sql_name(dtype)}",
                                  hint=f"write the value as a valid {T.sql_name(dtype)}") from exc
    if T.is_decimal(dtype) and isinstance(e.value, (int, decimal.Decimal)) and not isinstance(e.value, bool):
        value = decimal.Decimal(e.value).quantize(decimal.Decimal(1).scaleb(-dtype.scale),
                                                  rounding=decimal.ROUND_HALF_UP, context=_WIDE)
        if len(value.as_tuple().digits) > dtype.precision and value != 0:
            raise QuarryTypeError(f"{e} does not fit {T.sql_name(dtype)}")
        return Literal(value, dtype)
    try:
        value = pa.scalar(e.value, e.dtype).cast(dtype).as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        if T.is_string(e.dtype):
            raise QuarryTypeError(f"cannot convert {e} to {T.sql_name(dtype)}",
                                  hint=f"write the value as a valid {T.sql_name(dtype)}") from exc
        return None
    return Literal(value, dtype)


def coerce_pair(a: Expr, b: Expr, what: str) -> tuple[Expr, Expr]:
    """Cast two operands of a comparison (or CASE branches) to their common type."""
    ta, tb = a.dtype, b.dtype
    if ta == tb:
        return a, b
    # A string literal next to a date/number takes the other side's type (date '...' shorthand).
    if T.is_string(tb) and isinstance(b, Literal) and not T.is_string(ta) and not T.is_null(ta):
        return a, cast(b, ta)
    if T.is_string(ta) and isinstance(a, Literal) and not T.is_string(tb) and not T.is_null(tb):
        return cast(a, tb), b
    if T.is_decimal(ta) and T.is_integer(tb) and isinstance(b, Literal) and b.value is not None:
        target = T.numeric_common(ta, T.decimal_for_literal(b.value))
        return cast(a, target), cast(b, target)
    if T.is_decimal(tb) and T.is_integer(ta) and isinstance(a, Literal) and a.value is not None:
        target = T.numeric_common(T.decimal_for_literal(a.value), tb)
        return cast(a, target), cast(b, target)
    target = T.common_type(ta, tb)
    if target is None:
        raise QuarryTypeError(f"cannot {what} {T.sql_name(ta)} and {T.sql_name(tb)}",
                              hint="add an explicit CAST to make the types agree")
    return cast(a, target), cast(b, target)


def _literal_decimal_type(e: Expr) -> pa.DataType:
    if isinstance(e, Literal) and T.is_integer(e.dtype) and e.value is not None:
        return T.decimal_for_literal(e.value)
    return e.dtype


# ---------------------------------------------------------------------------
# the registry


@dataclass(frozen=True)
class FunctionDef:
    name: str
    kind: str                                               # "scalar" | "aggregate" | "window"
    bind: Callable[[str, list[Expr]], Expr]                 # typed call from arguments
    min_args: int = 0
    max_args: int | None = None
    doc: str = ""


REGISTRY: dict[str, FunctionDef] = {}
ALIASES: dict[str, str] = {}


def register(name, kind, bind, min_args=0, max_args=None, aliases=(), doc=""):
    REGISTRY[name] = FunctionDef(name, kind, bind, min_args, max_args, doc)
    for a in aliases:
        ALIASES[a] = name


def lookup(name: str) -> FunctionDef:
    """Find a function by SQL name; unknown names raise with a suggestion."""
    key = name.lower()
    key = ALIASES.get(key, key)
    if key not in REGISTRY:
        raise BindError(f"function `{name}` does not exist",
                        hint=suggest(key, list(REGISTRY) + list(ALIASES)) or "see docs/sql.md for the function list")
    return REGISTRY[key]


def call(name: str, args: list[Expr]) -> Expr:
    """A typed call of the function ``name`` on ``args`` (coercing arguments)."""
    fdef = lookup(name)
    _check_arity(fdef, name, len(args))
    return fdef.bind(fdef.name, list(args))


def _check_arity(fdef: FunctionDef, name: str, n: int) -> None:
    """Raise a type error naming the accepted argument counts when ``n`` is not one of them."""
    if n < fdef.min_args or (fdef.max_args is not None and n > fdef.max_args):
        expected = (str(fdef.min_args) if fdef.max_args == fdef.min_args
                    else f"{fdef.min_args}..{fdef.max_args if fdef.max_args is not None else 'n'}")
        raise QuarryTypeError(f"function `{name}` takes {expected} arguments, got {n}",
                              hint=f"check the arguments of {name}()")


def _nullable(args) -> bool:
    return any(a.nullable for a in args)


def _mk(name, args, dtype, nullable=None):
    return Call(name, tuple(args), dtype, _nullable(args) if nullable is None else nullable)


# -- arithmetic ----------------------------------------------------------------


def _bind_arith(op):
    def bind(name, args):
        a, b = args
        ta, tb = a.dtype, b.dtype
        if T.is_decimal(ta) or T.is_decimal(tb):
            # an integer literal next to a decimal takes the smallest decimal that holds it
            ta, tb = _literal_decimal_type(a), _literal_decimal_type(b)
        if pa.types.is_date(a.dtype) or pa.types.is_timestamp(a.dtype):
            return _bind_date_arith(name, a, b)
        if T.is_string(ta) and isinstance(a, Literal):
            a, ta = cast(a, T.FLOAT64), T.FLOAT64
        if T.is_string(tb) and isinstance(b, Literal):
            b, tb = cast(b, T.FLOAT64), T.FLOAT64
        try:
            result = T.arithmetic_type(op, ta, tb)
        except QuarryTypeError:
            if name == "add" and pa.types.is_interval(a.dtype) and T.is_temporal(b.dtype):
                return _bind_date_arith(name, b, a)
            raise
        if T.is_decimal(result):
            a = cast(a, ta) if T.is_decimal(ta) else cast(a, T.decimal_for_integer(a.dtype)) if T.is_integer(a.dtype) else a
            b = cast(b, tb) if T.is_decimal(tb) else cast(b, T.decimal_for_integer(b.dtype)) if T.is_integer(b.dtype) else b
        elif result == T.FLOAT64:
            a, b = cast(a, T.FLOAT64), cast(b, T.FLOAT64)
        else:
            a, b = cast(a, result), cast(b, result)
        nullable = _nullable(args) or name in ("divide", "modulo")
        return Call(name, (a, b), result, nullable)
    return bind


def _bind_date_arith(name, a, b):
    if pa.types.is_interval(b.dtype):
        if name not in ("add", "subtract"):
            raise QuarryTypeError(f"cannot apply `{name}` to a date and an interval")
        result = a.dtype
        if pa.types.is_date(a.dtype) and not (isinstance(b, Literal) and b.value is not None and b.value[2] == 0):
            result = T.TIMESTAMP   # hours, minutes or seconds make a date a timestamp (as in DuckDB)
        return Call("date_" + name, (a, b), result, _nullable([a, b]))
    if T.is_temporal(b.dtype) and name == "subtract":
        if pa.types.is_date(a.dtype) and pa.types.is_date(b.dtype):
            return Call("date_diff_days", (a, b), T.INT64, _nullable([a, b]))
        raise QuarryTypeError("subtracting timestamps is not supported", hint="use date_diff('second', a, b)")
    if (T.is_integer(b.dtype) or T.is_null(b.dtype)) and pa.types.is_date(a.dtype):
        return Call("date_" + name + "_days", (a, cast(b, T.INT64)), a.dtype, _nullable([a, b]))
    raise QuarryTypeError(f"cannot apply `{name}` to {T.sql_name(a.dtype)} and {T.sql_name(b.dtype)}")


for _name, _op in (("add", "+"), ("subtract", "-"), ("multiply", "*"), ("divide", "/"), ("modulo", "%")):
    register(_name, "scalar", _bind_arith(_op), 2, 2)
ALIASES["mod"] = "modulo"


def _bind_int_divide(name, args):
    """``a // b``: truncating integer division of integers; on other numbers DuckDB's ``//`` is ``/``."""
    a, b = args
    if all(T.is_integer(x.dtype) or T.is_null(x.dtype) for x in (a, b)):
        result = T.arithmetic_type("%", a.dtype, b.dtype)
        return Call("int_divide", (cast(a, result), cast(b, result)), result, True)
    return call("divide", [a, b])


register("int_divide", "scalar", _bind_int_divide, 2, 2, aliases=("div",))


def _bind_negate(name, args):
    (a,) = args
    if T.is_null(a.dtype):
        return cast(a, T.INT32)
    if not T.is_numeric(a.dtype) and not pa.types.is_interval(a.dtype):
        raise QuarryTypeError(f"cannot negate {T.sql_name(a.dtype)}")
    if isinstance(a, Literal) and a.value is not None and not pa.types.is_interval(a.dtype):
        return Literal(-a.value, a.dtype)
    return _mk("negate", args, a.dtype)


register("negate", "scalar", _bind_negate, 1, 1)

# -- comparison and logic ----------------------------------------------------------


def _bind_compare(name, args):
    a, b = coerce_pair(args[0], args[1], "compare")
    return _mk(name, (a, b), T.BOOL)


for _name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"):
    register(_name, "scalar", _bind_compare, 2, 2)


def _bind_distinct_from(name, args):
    a, b = coerce_pair(args[0], args[1], "compare")
    return _mk(name, (a, b), T.BOOL, False)


register("is_distinct_from", "scalar", _bind_distinct_from, 2, 2)
register("is_not_distinct_from", "scalar", _bind_distinct_from, 2, 2)


def _to_bool(e: Expr, what: str) -> Expr:
    if e.dtype == T.BOOL:
        return e
    if T.is_null(e.dtype):
        return cast(e, T.BOOL)
    raise QuarryTypeError(f"{what} expects a BOOLEAN, got {T.sql_name(e.dtype)} in `{e}`",
                          hint="compare the value with something, e.g. `x <> 0`")


def _bind_logic(name, args):
    return _mk(name, [_to_bool(a, name.upper()) for a in args], T.BOOL)


register("and", "scalar", _bind_logic, 2, 2)
register("or", "scalar", _bind_logic, 2, 2)
register("not", "scalar", _bind_logic, 1, 1)


def _bind_is(name, args):
    return _mk(name, args, T.BOOL, False)


for _name in ("is_null", "is_not_null"):
    register(_name, "scalar", _bind_is, 1, 1)


def _bind_is_bool(name, args):
    return _mk(name, [_to_bool(args[0], name)], T.BOOL, False)


for _name in ("is_true", "is_false", "is_not_true", "is_not_false"):
    register(_name, "scalar", _bind_is_bool, 1, 1)


def _bind_in_list(name, args):
    target = args[0]
    items = list(args[1:])
    common = target.dtype
    for it in items:
        if isinstance(it, Literal) and T.is_string(it.dtype) and not T.is_string(common):
            continue
        if T.is_decimal(common) and isinstance(it, Literal) and T.is_integer(it.dtype):
            common = T.numeric_common(common, T.decimal_for_literal(it.value)) if it.value is not None else common
            continue
        nxt = T.common_type(common, it.dtype)
        if nxt is None:
            raise QuarryTypeError(f"cannot compare {T.sql_name(target.dtype)} with {T.sql_name(it.dtype)} in IN list")
        common = nxt
    return _mk("in_list", [cast(target, common)] + [cast(i, common) for i in items], T.BOOL)


register("in_list", "scalar", _bind_in_list, 2)


def _bind_like(name, args):
    a, pattern = args[0], args[1]
    for x in (a, pattern):
        if not (T.is_string(x.dtype) or T.is_null(x.dtype)):
            raise QuarryTypeError(f"{name.upper()} expects strings, got {T.sql_name(x.dtype)}",
                                  hint="CAST the value to VARCHAR")
    rest = list(args[2:])
    return _mk(name, [cast(a, T.STRING), cast(pattern, T.STRING)] + rest, T.BOOL)


register("like", "scalar", _bind_like, 2, 3)
register("ilike", "scalar", _bind_like, 2, 3)


def _common_of(exprs: list[Expr], what: str) -> pa.DataType:
    common = T.NULL
    for e in exprs:
        t = _literal_decimal_type(e) if T.is_decimal(common) else e.dtype
        if T.is_decimal(t) and isinstance(e, Literal) is False and T.is_integer(common):
            pass
        nxt = T.common_type(common, t)
        if nxt is None:
            if isinstance(e, Literal) and T.is_string(e.dtype):
                continue
            raise QuarryTypeError(f"{what} mixes {T.sql_name(common)} and {T.sql_name(e.dtype)}",
                                  hint="CAST the values to one type")
        common = nxt
    return common


def _bind_case(name, args):
    # args: cond1, val1, cond2, val2, ..., else
    conds = [_to_bool(args[i], "CASE WHEN") for i in range(0, len(args) - 1, 2)]
    values = [args[i] for i in range(1, len(args) - 1, 2)] + [args[-1]]
    common = _common_of(values, "CASE")
    values = [cast(v, common) for v in values]
    out = []
    for c, v in zip(conds, values[:-1]):
        out += [c, v]
    out.append(values[-1])
    return Call("case", tuple(out), common, any(v.nullable for v in values))


register("case", "scalar", _bind_case, 3)


def _bind_coalesce(name, args):
    common = _common_of(args, name.upper())
    args = [cast(a, common) for a in args]
    return Call(name, tuple(args), common, all(a.nullable for a in args))


register("coalesce", "scalar", _bind_coalesce, 1, aliases=("ifnull", "nvl"))


def _bind_nullif(name, args):
    a, b = coerce_pair(args[0], args[1], "compare")
    return Call("nullif", (a, b), a.dtype, True)


register("nullif", "scalar", _bind_nullif, 2, 2)


def _bind_if(name, args):
    return _bind_case("case", [args[0], args[1], args[2] if len(args) > 2 else lit(None)])


register("if", "scalar", _bind_if, 2, 3, aliases=("iff",))


def _bind_greatest(name, args):
    common = _common_of(args, name.upper())
    if T.is_null(common):
        common = T.INT32                   # greatest(NULL, NULL): Arrow has no kernel for the null type
    return Call(name, tuple(cast(a, common) for a in args), common, all(a.nullable for a in args))


register("greatest", "scalar", _bind_greatest, 1)
register("least", "scalar", _bind_greatest, 1)


# -- strings ------------------------------------------------------------------------


def _str_arg(e: Expr, fname: str) -> Expr:
    if T.is_string(e.dtype) or T.is_null(e.dtype):
        return cast(e, T.STRING)
    raise QuarryTypeError(f"function `{fname}` expects a VARCHAR, got {T.sql_name(e.dtype)}",
                          hint=f"CAST the argument to VARCHAR: {fname}(CAST(x AS VARCHAR))")


def _int_arg(e: Expr, fname: str) -> Expr:
    if T.is_integer(e.dtype) or T.is_null(e.dtype):
        return cast(e, T.INT64)
    if T.is_decimal(e.dtype) or T.is_float(e.dtype):
        return cast(e, T.INT64)
    raise QuarryTypeError(f"function `{fname}` expects an integer, got {T.sql_name(e.dtype)}")


def _string_fn(result=T.STRING, ints=()):
    def bind(name, args):
        typed = [(_int_arg(a, name) if i in ints else _str_arg(a, name)) for i, a in enumerate(args)]
        return _mk(name, typed, result)
    return bind


register("upper", "scalar", _string_fn(), 1, 1, aliases=("ucase",))
register("lower", "scalar", _string_fn(), 1, 1, aliases=("lcase",))
register("trim", "scalar", _string_fn(), 1, 2, aliases=("btrim",))
register("ltrim", "scalar", _string_fn(), 1, 2)
register("rtrim", "scalar", _string_fn(), 1, 2)
register("length", "scalar", _string_fn(T.INT64), 1, 1, aliases=("char_length", "character_length", "len", "strlen"))
register("reverse", "scalar", _string_fn(), 1, 1)
register("replace", "scalar", _string_fn(), 3, 3)
register("substring", "scalar", _string_fn(ints=(1, 2)), 2, 3, aliases=("substr",))
register("left", "scalar", _string_fn(ints=(1,)), 2, 2)
register("right", "scalar", _string_fn(ints=(1,)), 2, 2)
register("lpad", "scalar", _string_fn(ints=(1,)), 2, 3)
register("rpad", "scalar", _string_fn(ints=(1,)), 2, 3)
register("repeat", "scalar", _string_fn(ints=(1,)), 2, 2)
register("starts_with", "scalar", _string_fn(T.BOOL), 2, 2, aliases=("startswith", "prefix"))
register("ends_with", "scalar", _string_fn(T.BOOL), 2, 2, aliases=("endswith", "suffix"))
register("contains", "scalar", _string_fn(T.BOOL), 2, 2)
register("strpos", "scalar", _string_fn(T.INT64), 2, 2, aliases=("position", "instr"))
register("split_part", "scalar", _string_fn(ints=(2,)), 3, 3)
register("regexp_matches", "scalar", _string_fn(T.BOOL), 2, 3, aliases=("regexp_like", "rlike"))
register("regexp_replace", "scalar", _string_fn(), 3, 4)


def _bind_concat(name, args):
    return _mk("concat", [cast(a, T.STRING) for a in args], T.STRING,
               _nullable(args) if name == "concat_op" else False)


register("concat", "scalar", _bind_concat, 1)
# `a || b` is NULL when either side is NULL; concat() skips NULLs (like DuckDB).
register("concat_op", "scalar", lambda n, a: Call("concat_op", tuple(cast(x, T.STRING) for x in a),
                                                  T.STRING, _nullable(a)), 2, 2)

# -- math ------------------------------------------------------------------------------


def _num_arg(e, fname):
    if T.is_numeric(e.dtype) or T.is_null(e.dtype):
        return e
    raise QuarryTypeError(f"function `{fname}` expects a number, got {T.sql_name(e.dtype)}")


def _bind_same_numeric(name, args):
    a = _num_arg(args[0], name)
    return _mk(name, [a], a.dtype if not T.is_null(a.dtype) else T.FLOAT64)


register("abs", "scalar", _bind_same_numeric, 1, 1)
# sign() is a TINYINT -1, 0 or 1 for every numeric type, as in DuckDB
register("sign", "scalar", lambda n, a: _mk(n, [cast(_num_arg(a[0], n), T.FLOAT64)], T.INT8), 1, 1)


def _bind_round(name, args):
    a = _num_arg(args[0], name)
    digits = 0
    if len(args) > 1:
        if not isinstance(args[1], Literal) or not (T.is_integer(args[1].dtype) or args[1].value is None):
            raise QuarryTypeError("round() takes a constant integer number of digits")
        if args[1].value is None:
            return Literal(None, a.dtype if not T.is_null(a.dtype) else T.FLOAT64)
        digits = args[1].value
    if T.is_decimal(a.dtype):
        scale = max(min(digits, a.dtype.scale), 0)
        result = pa.decimal128(a.dtype.precision, scale)
    elif T.is_integer(a.dtype):
        result = a.dtype
    else:
        result = T.FLOAT64
        a = cast(a, T.FLOAT64)
    return Call(name, (a, lit(digits)), result, a.nullable)


register("round", "scalar", _bind_round, 1, 2)


def _bind_floor_ceil(name, args):
    a = _num_arg(args[0], name)
    if T.is_decimal(a.dtype):
        return _mk(name, [a], pa.decimal128(a.dtype.precision, 0))
    if T.is_integer(a.dtype):
        return a
    return _mk(name, [cast(a, T.FLOAT64)], T.FLOAT64)


register("floor", "scalar", _bind_floor_ceil, 1, 1)
register("ceil", "scalar", _bind_floor_ceil, 1, 1, aliases=("ceiling",))


def _float_fn(n_args=1):
    def bind(name, args):
        return _mk(name, [cast(_num_arg(a, name), T.FLOAT64) for a in args], T.FLOAT64)
    return bind


for _name, _al in (("sqrt", ()), ("ln", ()), ("log10", ()), ("log2", ()), ("exp", ()), ("cbrt", ()),
                   ("sin", ()), ("cos", ()), ("tan", ()), ("atan", ())):
    register(_name, "scalar", _float_fn(), 1, 1, aliases=_al)
register("power", "scalar", _float_fn(2), 2, 2, aliases=("pow",))
register("log", "scalar", _float_fn(), 1, 2)
register("random", "scalar", lambda n, a: Call("random", (), T.FLOAT64, False), 0, 0, aliases=("rand",))
register("pi", "scalar", lambda n, a: Literal(3.141592653589793, T.FLOAT64), 0, 0)

# -- dates ---------------------------------------------------------------------------------

DATE_PARTS = {"year", "quarter", "month", "week", "day", "dayofweek", "dow", "dayofyear", "doy", "hour",
              "minute", "second", "millisecond", "microsecond", "epoch", "isodow"}


def _temporal_arg(e, fname):
    if T.is_temporal(e.dtype) or T.is_null(e.dtype):
        return e
    if isinstance(e, Literal) and T.is_string(e.dtype):
        return cast(e, T.DATE)
    raise QuarryTypeError(f"function `{fname}` expects a DATE or TIMESTAMP, got {T.sql_name(e.dtype)}")


def _bind_date_part(name, args):
    part_expr, value = args
    if not isinstance(part_expr, Literal) or not isinstance(part_expr.value, str):
        raise QuarryTypeError(f"{name}() takes the part as a constant string, e.g. 'year'")
    part = part_expr.value.lower()
    if part not in DATE_PARTS:
        raise QuarryTypeError(f"unknown date part `{part}`", hint=suggest(part, DATE_PARTS))
    value = _temporal_arg(value, name)
    result = T.FLOAT64 if part == "epoch" else T.INT64
    return Call("date_part", (Literal(part, T.STRING), value), result, value.nullable)


register("date_part", "scalar", _bind_date_part, 2, 2, aliases=("datepart", "extract"))
for _part in ("year", "month", "day", "quarter", "hour", "minute", "second", "dayofweek", "dayofyear", "week"):
    register(_part, "scalar", (lambda p: lambda n, a: _bind_date_part("date_part", [lit(p), a[0]]))(_part), 1, 1)


def _bind_date_trunc(name, args):
    part_expr, value = args
    if not isinstance(part_expr, Literal) or not isinstance(part_expr.value, str):
        raise QuarryTypeError("date_trunc() takes the part as a constant string, e.g. 'month'")
    value = _temporal_arg(value, name)
    part = part_expr.value.lower()
    if part not in ("year", "quarter", "month", "week", "day", "hour", "minute", "second"):
        raise QuarryTypeError(f"date_trunc: unknown part `{part}`")
    result = T.TIMESTAMP if part in ("hour", "minute", "second") and pa.types.is_timestamp(value.dtype) else value.dtype
    return Call("date_trunc", (Literal(part, T.STRING), value), result, value.nullable)


register("date_trunc", "scalar", _bind_date_trunc, 2, 2, aliases=("datetrunc",))


def _bind_date_diff(name, args):
    part_expr, a, b = args
    if not isinstance(part_expr, Literal):
        raise QuarryTypeError("date_diff() takes the part as a constant string")
    a, b = _temporal_arg(a, name), _temporal_arg(b, name)
    return Call("date_diff", (part_expr, a, b), T.INT64, _nullable([a, b]))


register("date_diff", "scalar", _bind_date_diff, 3, 3, aliases=("datediff",))
register("current_date", "scalar", lambda n, a: Literal(datetime.date.today(), T.DATE), 0, 0, aliases=("today",))
register("now", "scalar", lambda n, a: Literal(datetime.datetime.now().replace(microsecond=0), T.TIMESTAMP),
         0, 0, aliases=("current_timestamp",))


def _bind_make_date(name, args):
    return _mk(name, [_int_arg(a, name) for a in args], T.DATE)


register("make_date", "scalar", _bind_make_date, 3, 3)
register("strftime", "scalar", lambda n, a: _mk(n, [_temporal_arg(a[0], n), _str_arg(a[1], n)], T.STRING), 2, 2)
register("to_date", "scalar", lambda n, a: cast(_str_arg(a[0], n), T.DATE, explicit=True), 1, 1)

# ---------------------------------------------------------------------------
# aggregates

AGGREGATES = {"count", "count_star", "sum", "avg", "min", "max", "stddev_samp", "stddev_pop", "var_samp",
              "var_pop", "bool_and", "bool_or", "any_value", "approx_count_distinct", "median", "string_agg",
              "product"}


def agg(name: str, args: list[Expr], *, distinct: bool = False, filter: Expr | None = None) -> AggCall:
    """A typed aggregate call: ``agg("sum", [x])``; ``agg("count", [])`` is ``count(*)``."""
    fdef = lookup(name)
    if fdef.kind != "aggregate":
        raise BindError(f"`{name}` is not an aggregate function")
    _check_arity(fdef, name, len(args))
    # an untyped NULL argument (count(DISTINCT NULL)) gets a type the aggregate kernels know
    args = [cast(a, T.INT32) if T.is_null(a.dtype) and fdef.name in ("count", "approx_count_distinct") else a
            for a in args]
    result = fdef.bind(fdef.name, list(args))
    args = result.args
    if filter is not None:
        filter = _to_bool(filter, "FILTER")
    return AggCall(result.name, args, result.type, distinct, filter)


def _agg_bind(result_fn, min_args=1, max_args=1):
    def bind(name, args):
        if name == "count" and not args:
            return AggCall("count_star", (), T.INT64)
        typed = list(args)
        dtype = result_fn(name, typed)
        return AggCall(name, tuple(typed), dtype)
    return bind


def _sum_type(name, args):
    t = args[0].dtype
    if T.is_integer(t):
        return T.INT64
    if T.is_decimal(t):
        return pa.decimal128(38, t.scale)
    if T.is_float(t) or T.is_null(t):
        args[0] = cast(args[0], T.FLOAT64)
        return T.FLOAT64
    raise QuarryTypeError(f"{name}() expects a number, got {T.sql_name(t)}", hint="CAST the argument to a number")


def _avg_type(name, args):
    if not (T.is_numeric(args[0].dtype) or T.is_null(args[0].dtype)):
        raise QuarryTypeError(f"{name}() expects a number, got {T.sql_name(args[0].dtype)}")
    return T.FLOAT64


def _same_type(name, args):
    return args[0].dtype


def _bool_type(name, args):
    args[0] = _to_bool(args[0], name)
    return T.BOOL


register("count", "aggregate", _agg_bind(lambda n, a: T.INT64), 0, 1)
register("count_star", "aggregate", _agg_bind(lambda n, a: T.INT64), 0, 0)
register("sum", "aggregate", _agg_bind(_sum_type), 1, 1)
register("product", "aggregate", _agg_bind(lambda n, a: (a.__setitem__(0, cast(a[0], T.FLOAT64)), T.FLOAT64)[1]), 1, 1)
register("avg", "aggregate", _agg_bind(_avg_type), 1, 1, aliases=("mean",))
register("min", "aggregate", _agg_bind(_same_type), 1, 1)
register("max", "aggregate", _agg_bind(_same_type), 1, 1)
register("any_value", "aggregate", _agg_bind(_same_type), 1, 1, aliases=("first", "arbitrary"))
register("median", "aggregate", _agg_bind(_avg_type), 1, 1)
register("approx_count_distinct", "aggregate", _agg_bind(lambda n, a: T.INT64), 1, 1)
for _name, _al in (("stddev_samp", ("stddev", "std")), ("stddev_pop", ()), ("var_samp", ("variance", "var")),
                   ("var_pop", ())):
    register(_name, "aggregate", _agg_bind(_avg_type), 1, 1, aliases=_al)
register("bool_and", "aggregate", _agg_bind(_bool_type), 1, 1, aliases=("every",))
register("bool_or", "aggregate", _agg_bind(_bool_type), 1, 1)


def _string_agg_type(name, args):
    args[0] = cast(args[0], T.STRING)
    return T.STRING


register("string_agg", "aggregate", _agg_bind(_string_agg_type, 1, 2), 1, 2, aliases=("group_concat", "listagg"))

# ---------------------------------------------------------------------------
# window-only functions

WINDOW_FUNCTIONS = {"row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead",
                    "first_value", "last_value", "nth_value"}


def _bind_ranking(result):
    def bind(name, args):
        return Call(name, tuple(args), result, False)
    return bind


register("row_number", "window", _bind_ranking(T.INT64), 0, 0)
register("rank", "window", _bind_ranking(T.INT64), 0, 0)
register("dense_rank", "window", _bind_ranking(T.INT64), 0, 0)
register("percent_rank", "window", _bind_ranking(T.FLOAT64), 0, 0)
register("cume_dist", "window", _bind_ranking(T.FLOAT64), 0, 0)
register("ntile", "window", lambda n, a: Call(n, (_int_arg(a[0], n),), T.INT64, False), 1, 1)


def _bind_offset(name, args):
    value = args[0]
    offset = args[1] if len(args) > 1 else lit(1)
    if not isinstance(offset, Literal) or not T.is_integer(offset.dtype):
        raise QuarryTypeError(f"{name}() takes a constant integer offset")
    default = args[2] if len(args) > 2 else Literal(None, value.dtype)
    common = T.common_type(value.dtype, default.dtype) or value.dtype
    return Call(name, (cast(value, common), offset, cast(default, common)), common, True)


register("lag", "window", _bind_offset, 1, 3)
register("lead", "window", _bind_offset, 1, 3)
register("first_value", "window", lambda n, a: Call(n, (a[0],), a[0].dtype, True), 1, 1)
register("last_value", "window", lambda n, a: Call(n, (a[0],), a[0].dtype, True), 1, 1)
register("nth_value", "window", lambda n, a: Call(n, (a[0], a[1]), a[0].dtype, True), 2, 2)


def function_names() -> list[str]:
    """Every callable name (for shell completion and docs)."""
    return sorted(set(REGISTRY) | set(ALIASES))
