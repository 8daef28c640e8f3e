"""The canonical form of a logical plan: what two plans must share to compute the same result.

Spark's ``Dataset.sameSemantics`` and ``semanticHash`` compare *canonicalized* analyzed plans:
expression ids renumbered in order, alias and column names erased, commutative operands put
in one order. quarry's plans are already resolved (every column reference is a field id), so
the canonical form of a plan is the plan itself with

- each column id replaced by its ordinal in a fixed walk (children before the node's own
  expressions, which come before the columns the node produces), so two builds of one query,
  whose ids differ, match;
- column names, qualifiers, nullability, scan aliases and labels of in-memory tables left out
  (``select(a.alias("x"))`` and ``select(a.alias("y"))`` compute the same column);
- the two operands of ``AND``, ``OR``, ``+``, ``*``, ``=``, ``<>``, ``<=>`` sorted (when both are
  deterministic), and ``a > b`` written ``b < a`` (``>=`` as ``<=``);
- an in-memory table (``createDataFrame``, a file read whole) compared by its rows, a table of the
  catalog by the provider object, and a Python function by its ``semantic_key()`` when the function
  has one (PySpark's pickled command), else by identity.

    >>> same_semantics(df.filter("a > 1").logical_plan, df.filter("1 < a").logical_plan)   # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import hashlib

import pyarrow as pa

from quarry.logical.expressions import Call, Expr, Field, WindowFrame
from quarry.logical.plan import Cached, LogicalPlan, Scan
from quarry.logical.udf import PythonFunction, PythonTableStep

__all__ = ["canonical", "same_semantics", "semantic_hash"]

# operators whose operands may swap without changing the result
_COMMUTATIVE = {"and", "or", "add", "multiply", "equal", "not_equal", "is_not_distinct_from", "is_distinct_from"}
# a comparison and its mirror image (``a > b`` is ``b < a``)
_MIRROR = {"greater": "less", "greater_equal": "less_equal"}
# fields that only name things for people
_COSMETIC = {Scan: {"alias"}, Cached: {"label"}}


class _Rows:
    """An in-memory table in a canonical form: equal when the column types and the rows are equal
    (column names are field keys, which differ between builds). ``digest`` (a function of the table, or
    None) puts the rows' content into the text :func:`semantic_hash` hashes."""

    def __init__(self, table: pa.Table, digest=None):
        self.table = table.rename_columns([str(i) for i in range(table.num_columns)])
        self.digest = digest

    def __eq__(self, other):
        return isinstance(other, _Rows) and self.table.schema.types == other.table.schema.types \
            and self.table.equals(other.table)

    def __hash__(self):
        return hash((self.table.num_rows, tuple(map(str, self.table.schema.types))))

    def __repr__(self):
        content = f", {self.digest(self.table)}" if self.digest is not None else ""
        return f"rows({self.table.num_rows}, {', '.join(map(str, self.table.schema.types))}{content})"


class _Same:
    """An object compared by identity (a catalog table's provider, a Python function)."""

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, _Same) and self.obj is other.obj

    def __hash__(self):
        return id(self.obj)

    def __repr__(self):
        # the name, never the address: semantic_hash stays the same for the same source
        return f"{type(self.obj).__name__}({getattr(self.obj, 'name', '')})"


_PLAIN = (str, int, bool, bytes, type(None), decimal.Decimal, datetime.date, datetime.datetime,
          datetime.time, datetime.timedelta)


class _Canonicalizer:
    def __init__(self, digest=None):
        self.ordinals: dict[int, int] = {}
        self.digest = digest

    def column(self, f: Field):
        ordinal = self.ordinals.setdefault(f.id, len(self.ordinals))
        return ("column", ordinal, str(f.dtype))

    def key(self, value):
        if isinstance(value, Field):
            return self.column(value)
        if isinstance(value, (tuple, list)):
            return tuple(self.key(v) for v in value)
        if isinstance(value, float):
            return ("float", repr(value))            # NaN matches NaN, 0.0 differs from -0.0
        if isinstance(value, _PLAIN):
            return value
        if isinstance(value, (pa.DataType, pa.Schema)):
            return ("type", str(value))
        if isinstance(value, pa.Table):
            return _Rows(value, self.digest)
        if isinstance(value, dict):
            return ("dict",) + tuple(sorted((repr(self.key(k)), self.key(v)) for k, v in value.items()))
        if isinstance(value, (LogicalPlan, Expr, WindowFrame)):
            return self.node(value)
        if isinstance(value, PythonFunction) and hasattr(value.func, "semantic_key"):
            # a Python UDF the same function as another by what it was made from (a front end's
            # ``semantic_key``: PySpark's pickled command), not by being the same object
            return ("python_function", value.name, value.kind, value.style, str(value.returns),
                    self.key(value.func.semantic_key()))
        if isinstance(value, PythonTableStep) and hasattr(value.func, "semantic_key"):
            return ("python_step", value.name, value.style, str(value.schema), self.key(value.args),
                    self.key(value.func.semantic_key()))
        if hasattr(value, "semantic_key"):
            # a table source that says what it reads (a Parquet scan: its files), so two reads of the
            # same files are the same relation, as Spark compares file relations by their location
            return ("source", type(value).__name__, self.key(value.semantic_key()))
        return _Same(value)

    def node(self, value):
        cosmetic = _COSMETIC.get(type(value), ())
        parts = tuple(self.key(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name not in cosmetic)
        key = (type(value).__name__,) + parts
        if type(value) is Call and len(value.args) == 2:
            key = _ordered(value, key)
        return key


def _ordered(call: Call, key: tuple) -> tuple:
    """The key of a two-operand call with its operands in one order (see the module docstring)."""
    from quarry.logical.functions import is_deterministic
    names = [f.name for f in dataclasses.fields(call)]
    name_at, args_at = names.index("name") + 1, names.index("args") + 1
    name, (a, b) = call.name, key[args_at]
    if name in _MIRROR:
        name, (a, b) = _MIRROR[name], (b, a)
    elif name in _COMMUTATIVE and all(is_deterministic(x) for x in call.args) and repr(b) < repr(a):
        a, b = b, a
    out = list(key)
    out[name_at], out[args_at] = name, (a, b)
    return tuple(out)


def canonical(plan: LogicalPlan, digest=None):
    """``plan`` as a nested tuple that is equal (and hashes equal) for plans that compute the same thing
    by the rules of the module docstring; ``digest`` as for :func:`semantic_hash`."""
    return _Canonicalizer(digest).key(plan)


def same_semantics(a: LogicalPlan, b: LogicalPlan) -> bool:
    """Whether the two plans are the same after canonicalization (Spark's ``sameSemantics``)."""
    return canonical(a) == canonical(b)


def semantic_hash(plan: LogicalPlan, digest=None) -> int:
    """A 32-bit signed hash of the canonical form: equal for plans that :func:`same_semantics` calls the
    same, and the same in every process (it hashes the text of the canonical form, not Python's ``hash``).

    ``digest(table)`` (the logical layer computes nothing over rows itself) gives a text that is equal for
    equal in-memory tables, so tables with other rows hash apart; without it only their row counts and
    column types count."""
    digest_bytes = hashlib.blake2b(repr(canonical(plan, digest)).encode(), digest_size=4).digest()
    return int.from_bytes(digest_bytes, "big", signed=True)
