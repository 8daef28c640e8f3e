"""Compare query results: quarry's answer against a reference such as DuckDB's.

`compare_tables` returns None when two Arrow tables hold the same answer and a
readable description of the first differences otherwise; `assert_tables_equal`
raises AssertionError with that description.

What "the same answer" means, column by column:

- integers of any width are equal by value, and equal to a decimal of scale 0
  (DuckDB returns HUGEINT sums as ``decimal128(38, 0)``);
- decimals are compared exactly as `decimal.Decimal` values, whatever their
  precision and scale (``1.50 == 1.5``); a decimal against a float is reported;
- floats are equal within ``rel_tol`` (relative) or 1e-12 (absolute, near zero),
  and NaN equals NaN;
- a date equals a timestamp at midnight of that day (DuckDB gives TIMESTAMP for
  ``date ± interval``);
- string, large_string and string_view are one kind, compared exactly;
- NULL equals only NULL.

With ``ordered=False`` both sides are sorted by all columns first (exactly compared
columns before float columns, so that tiny float differences rarely reorder rows).

This is a test utility, not an operator: it converts columns to Python lists
(with ``to_pylist``, in C) and walks rows only to locate differences.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["assert_tables_equal", "compare_tables", "executed_operators"]

ABS_TOL = 1e-12
_MAX_CELL_WIDTH = 40


def assert_tables_equal(
    actual: pa.Table,
    expected: pa.Table,
    *,
    ordered: bool,
    rel_tol: float = 1e-9,
    check_names: bool = True,
    max_rows: int = 10,
) -> None:
    """Raise AssertionError describing the differences when the tables hold different answers.

    >>> t = pa.table({"x": [1, 2]})
    >>> assert_tables_equal(t, pa.table({"X": [2, 1]}), ordered=False)
    """
    message = compare_tables(
        actual,
        expected,
        ordered=ordered,
        rel_tol=rel_tol,
        check_names=check_names,
        max_rows=max_rows,
    )
    if message is not None:
        raise AssertionError(message)


def compare_tables(
    actual: pa.Table,
    expected: pa.Table,
    *,
    ordered: bool,
    rel_tol: float = 1e-9,
    check_names: bool = True,
    max_rows: int = 10,
) -> str | None:
    """Return None when the tables hold the same answer, else a description of the differences.

    The description lists the row counts, the column names and kinds that differ,
    and up to ``max_rows`` of the first differing rows side by side.

    >>> compare_tables(pa.table({"x": [1.5]}), pa.table({"x": [1.5]}), ordered=True) is None
    True
    """
    actual = _as_table(actual)
    expected = _as_table(expected)
    mode = "ordered" if ordered else "unordered"
    header = f"tables differ ({mode} comparison, rel_tol={rel_tol:g}):"
    problems: list[str] = []

    if actual.num_columns != expected.num_columns:
        problems.append(
            f"column count: actual has {actual.num_columns} {_names(actual)}, "
            f"expected {expected.num_columns} {_names(expected)}"
        )
        return _render(header, problems)

    if check_names:
        mismatched = [
            i
            for i, (a, e) in enumerate(zip(actual.column_names, expected.column_names))
            if a.lower() != e.lower()
        ]
        if mismatched:
            detail = ", ".join(
                f"#{i} {actual.column_names[i]!r} vs {expected.column_names[i]!r}"
                for i in mismatched
            )
            problems.append(f"column names differ (actual vs expected): {detail}")

    for i, (a_type, e_type) in enumerate(zip(actual.schema.types, expected.schema.types)):
        if not _compatible(a_type, e_type):
            problems.append(
                f"column #{i} {expected.column_names[i]!r}: kinds differ: "
                f"actual {a_type} ({_kind(a_type)}), expected {e_type} ({_kind(e_type)})"
            )

    if actual.num_rows != expected.num_rows:
        problems.append(
            f"row count: actual has {actual.num_rows} rows, expected {expected.num_rows}"
        )

    a_table, e_table = _prepare(actual, expected)
    float_columns = [
        i
        for i, (a_type, e_type) in enumerate(zip(a_table.schema.types, e_table.schema.types))
        if pa.types.is_floating(a_type) or pa.types.is_floating(e_type)
    ]
    if not ordered:
        a_table = _sorted(a_table, float_columns)
        e_table = _sorted(e_table, float_columns)
    names = list(expected.column_names)

    if actual.num_rows != expected.num_rows and not ordered:
        problems.extend(
            _multiset_difference(a_table, e_table, names, float_columns, rel_tol, max_rows)
        )
        return _render(header, problems)

    common = min(actual.num_rows, expected.num_rows)
    a_head, e_head = a_table.slice(0, common), e_table.slice(0, common)
    masks = [
        _mismatch_mask(a_head.column(i), e_head.column(i), i in float_columns, rel_tol)
        for i in range(a_head.num_columns)
    ]
    any_mismatch = functools.reduce(pc.or_, masks) if masks else None
    if any_mismatch is not None and pc.any(any_mismatch).as_py():
        rows = pc.indices_nonzero(any_mismatch)
        shown = rows.slice(0, max_rows)
        where = "" if ordered else " (positions after sorting both sides by all columns)"
        problems.append(
            f"{len(rows)} of {_plural(common, 'compared row')} differ{where}; first {len(shown)}:"
        )
        marked = [
            {c for c, mask in enumerate(masks) if mask[row].as_py()} for row in shown.to_pylist()
        ]
        problems.append(
            _side_by_side(
                shown.to_pylist(),
                marked,
                a_head.take(shown).to_pylist(),
                e_head.take(shown).to_pylist(),
                names,
            )
        )
    if actual.num_rows != expected.num_rows:
        longer, table, extra = (
            ("actual", a_table, actual.num_rows - common)
            if actual.num_rows > common
            else ("expected", e_table, expected.num_rows - common)
        )
        shown_rows = list(range(common, common + min(extra, max_rows)))
        problems.append(
            f"{longer} has {_plural(extra, 'more row')}; first {len(shown_rows)} of them:"
        )
        tail = [tuple(row.values()) for row in table.slice(common, len(shown_rows)).to_pylist()]
        problems.append(_rows_block(names, tail, shown_rows))

    return _render(header, problems) if problems else None


def executed_operators(physical):
    """The operators that ran for a physical plan, with their metrics: the plan's own nodes in
    one process, or (on worker processes) the nodes of the stages it was cut into.

    >>> result = con.run(con.sql("SELECT 1 AS x").logical_plan)          # doctest: +SKIP
    >>> [n.name for n in executed_operators(result.physical)]            # doctest: +SKIP
    """
    graph = getattr(physical, "stage_graph", None)
    if graph is None:
        yield from physical.walk()
        return
    for stage in graph.stages:
        yield from stage.root.walk()


def _as_table(value: pa.Table | pa.RecordBatch) -> pa.Table:
    """Return ``value`` as a Table (RecordBatches are accepted for convenience)."""
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    if not isinstance(value, pa.Table):
        raise TypeError(f"expected a pyarrow.Table, got {type(value).__name__}")
    return value


def _names(table: pa.Table) -> str:
    """Return the column names as ``[a, b]`` for messages."""
    return "[" + ", ".join(table.column_names) + "]"


def _kind(data_type: pa.DataType) -> str:
    """Return the comparison kind of an Arrow type: integer, decimal, float, string, ..."""
    if pa.types.is_dictionary(data_type):
        return _kind(data_type.value_type)
    checks = (
        ("null", pa.types.is_null),
        ("boolean", pa.types.is_boolean),
        ("integer", pa.types.is_integer),
        ("decimal", pa.types.is_decimal),
        ("float", pa.types.is_floating),
        ("string", _is_string),
        ("binary", _is_binary),
        ("temporal", lambda t: pa.types.is_date(t) or pa.types.is_timestamp(t)),
        ("time", pa.types.is_time),
        ("duration", pa.types.is_duration),
        ("interval", pa.types.is_interval),
        ("list", _is_list),
        ("struct", pa.types.is_struct),
        ("map", pa.types.is_map),
    )
    for kind, check in checks:
        if check(data_type):
            return kind
    return str(data_type)


def _is_string(t: pa.DataType) -> bool:
    """Return whether ``t`` is any of Arrow's UTF-8 string types."""
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _is_binary(t: pa.DataType) -> bool:
    """Return whether ``t`` is any of Arrow's binary types."""
    return (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
        or pa.types.is_fixed_size_binary(t)
    )


def _is_list(t: pa.DataType) -> bool:
    """Return whether ``t`` is any of Arrow's list types."""
    return (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    )


def _value_type(t: pa.DataType) -> pa.DataType:
    """Return the value type of a dictionary type, else ``t`` itself."""
    return t.value_type if pa.types.is_dictionary(t) else t


def _compatible(a: pa.DataType, b: pa.DataType) -> bool:
    """Return whether values of types ``a`` and ``b`` may be compared by value."""
    a, b = _value_type(a), _value_type(b)
    kind_a, kind_b = _kind(a), _kind(b)
    if kind_a == kind_b or "null" in (kind_a, kind_b):
        return True
    if {kind_a, kind_b} == {"integer", "decimal"}:
        return (a if kind_a == "decimal" else b).scale == 0
    return False


def _sortable_type(t: pa.DataType) -> pa.DataType:
    """Return the type to cast a column to so that Arrow can sort it and build Python values."""
    t = _value_type(t)
    if pa.types.is_string_view(t):
        return pa.large_string()
    if pa.types.is_binary_view(t):
        return pa.large_binary()
    return t


def _prepare(actual: pa.Table, expected: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Return both tables with positional names, sortable types, dates aligned to timestamps."""
    a_columns: list[pa.ChunkedArray] = []
    e_columns: list[pa.ChunkedArray] = []
    for a_col, e_col in zip(actual.columns, expected.columns):
        a_col = _cast(a_col, _sortable_type(a_col.type))
        e_col = _cast(e_col, _sortable_type(e_col.type))
        # A date on one side and a timestamp on the other compare as timestamps.
        if pa.types.is_date(a_col.type) and pa.types.is_timestamp(e_col.type):
            a_col = _cast(a_col, e_col.type)
        elif pa.types.is_timestamp(a_col.type) and pa.types.is_date(e_col.type):
            e_col = _cast(e_col, a_col.type)
        a_columns.append(a_col)
        e_columns.append(e_col)
    positional = [f"c{i}" for i in range(len(a_columns))]
    return (
        pa.Table.from_arrays(a_columns, names=positional),
        pa.Table.from_arrays(e_columns, names=positional),
    )


def _cast(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Return ``column`` cast to ``target``, or unchanged when the cast is not possible."""
    if column.type == target:
        return column
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return column


def _sorted(table: pa.Table, float_columns: Sequence[int]) -> pa.Table:
    """Return ``table`` sorted by all columns, float columns last, NULLs at the end."""
    order = [i for i in range(table.num_columns) if i not in float_columns]
    order += list(float_columns)
    if not order or table.num_rows < 2:
        return table
    keys = [(table.column_names[i], "ascending") for i in order]
    try:
        return table.sort_by(keys)
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
        # Nested columns (lists, structs) cannot be sorted by Arrow; sort in Python.
        columns = [table.column(i).to_pylist() for i in order]
        indices = sorted(
            range(table.num_rows),
            key=lambda row: tuple(_python_sort_key(column[row]) for column in columns),
        )
        return table.take(pa.array(indices, pa.int64()))


def _python_sort_key(value: Any) -> tuple:
    """Return a key that orders any value: values first, then NaN, then NULL."""
    if value is None:
        return (2, 0)
    if isinstance(value, float) and math.isnan(value):
        return (1, 0)
    if isinstance(value, (int, float, decimal.Decimal, str, bytes, datetime.date,
                          datetime.time, datetime.timedelta)):
        return (0, value)
    return (0, repr(value))


def _float_equal(x: Any, y: Any, rel_tol: float) -> bool:
    """Return whether two values are equal as floats within tolerance; NaN equals NaN."""
    if x is None or y is None:
        return x is None and y is None
    try:
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        return False
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=rel_tol, abs_tol=ABS_TOL)


def _mismatch_mask(
    actual: pa.ChunkedArray, expected: pa.ChunkedArray, is_float: bool, rel_tol: float
) -> pa.ChunkedArray:
    """Return a boolean column, true where the two columns' values differ.

    Computed with Arrow kernels; falls back to Python values for types the kernels
    cannot compare (nested types, mismatched kinds).
    """
    try:
        if is_float:
            return _float_mismatch(actual, expected, rel_tol)
        return _exact_mismatch(actual, expected)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    a_values, e_values = actual.to_pylist(), expected.to_pylist()
    if is_float:
        differs = [not _float_equal(x, y, rel_tol) for x, y in zip(a_values, e_values)]
    else:
        differs = [_differ(x, y) for x, y in zip(a_values, e_values)]
    return pa.chunked_array([pa.array(differs, pa.bool_())])


def _both_null(actual: pa.ChunkedArray, expected: pa.ChunkedArray) -> pa.ChunkedArray:
    """Return a boolean column, true where both sides are NULL."""
    return pc.and_(pc.is_null(actual), pc.is_null(expected))


def _exact_mismatch(actual: pa.ChunkedArray, expected: pa.ChunkedArray) -> pa.ChunkedArray:
    """Return where exact values differ; decimals compare by value, NULL equals only NULL."""
    if _kind(actual.type) == "boolean" and _kind(expected.type) != "boolean":
        raise pa.ArrowTypeError("booleans are compared in Python to keep them apart from numbers")
    equal = pc.fill_null(pc.equal(actual, expected), False)
    return pc.invert(pc.or_(equal, _both_null(actual, expected)))


def _float_mismatch(
    actual: pa.ChunkedArray, expected: pa.ChunkedArray, rel_tol: float
) -> pa.ChunkedArray:
    """Return where values differ by more than ``rel_tol`` (or ABS_TOL near zero); NaN equals NaN.

    Mirrors `math.isclose`: ``|a - b| <= max(rel_tol * max(|a|, |b|), ABS_TOL)`` for
    finite values, exact equality for infinities.
    """
    a = actual.cast(pa.float64())
    e = expected.cast(pa.float64())
    scale = pc.max_element_wise(pc.abs(a), pc.abs(e))
    tolerance = pc.max_element_wise(pc.multiply(scale, rel_tol), ABS_TOL)
    finite = pc.and_(pc.is_finite(a), pc.is_finite(e))
    close = pc.and_(finite, pc.less_equal(pc.abs(pc.subtract(a, e)), tolerance))
    both_nan = pc.and_(pc.is_nan(a), pc.is_nan(e))
    equal = pc.or_(pc.or_(close, pc.equal(a, e)), both_nan)
    return pc.invert(pc.or_(pc.fill_null(equal, False), _both_null(a, e)))


def _differ(x: Any, y: Any) -> bool:
    """Return whether two exactly compared values differ (NULL equals only NULL)."""
    if x is None or y is None:
        return not (x is None and y is None)
    # bool is an int in Python; a boolean never equals a number here.
    if isinstance(x, bool) != isinstance(y, bool):
        return True
    return x != y


def _multiset_difference(
    actual: pa.Table,
    expected: pa.Table,
    names: list[str],
    float_columns: Sequence[int],
    rel_tol: float,
    max_rows: int,
) -> list[str]:
    """Describe the rows found only in actual and only in expected.

    Rows are matched exactly, except that floats are rounded to the digits that
    ``rel_tol`` keeps, so this is a description aid rather than the equality test.
    """
    digits = 17 if rel_tol <= 0 else max(1, min(17, round(-math.log10(rel_tol))))
    a_keys, e_keys = [], []
    for c in range(actual.num_columns):
        a_column, e_column = _key_column(actual.column(c), expected.column(c))
        if c in float_columns:
            a_column = [_float_key(value, digits) for value in a_column]
            e_column = [_float_key(value, digits) for value in e_column]
        a_keys.append(a_column)
        e_keys.append(e_column)

    def count(keys: list[list[Any]]) -> tuple[Counter, dict[tuple, int]]:
        rows = list(zip(*keys))
        # Any row index of a key serves to display it; dict() keeps the last one.
        return Counter(rows), dict(zip(rows, range(len(rows))))

    a_counts, a_index = count(a_keys)
    e_counts, e_index = count(e_keys)
    lines: list[str] = []
    for side, table, extra, index in (
        ("actual", actual, a_counts - e_counts, a_index),
        ("expected", expected, e_counts - a_counts, e_index),
    ):
        if not extra:
            continue
        indices = [index[key] for key in itertools.islice(extra.elements(), max_rows)]
        rows = [tuple(row.values()) for row in table.take(indices).to_pylist()]
        total = sum(extra.values())
        lines.append(f"{_plural(total, 'row')} only in {side}; first {len(rows)}:")
        lines.append(_rows_block(names, rows, None))
    return lines


def _key_column(actual: pa.ChunkedArray, expected: pa.ChunkedArray) -> tuple[list, list]:
    """Return both columns as Python values that are equal exactly when the values are.

    Decimals and dates become plain strings and integers in Arrow first, which is
    much faster to hash than `decimal.Decimal` and `datetime.date` objects.
    """
    kinds = {_kind(actual.type), _kind(expected.type)}
    try:
        if kinds <= {"integer", "decimal"} and "decimal" in kinds:
            scale = max(
                t.scale if pa.types.is_decimal(t) else 0 for t in (actual.type, expected.type)
            )
            target = pa.decimal128(38, scale)
            return (
                actual.cast(target).cast(pa.string()).to_pylist(),
                expected.cast(target).cast(pa.string()).to_pylist(),
            )
        if kinds == {"temporal"} and actual.type == expected.type:
            integer = pa.int32() if pa.types.is_date32(actual.type) else pa.int64()
            return actual.cast(integer).to_pylist(), expected.cast(integer).to_pylist()
        if kinds & {"list", "struct", "map"}:
            # Nested values are unhashable lists and dicts; their repr stands in.
            return [repr(v) for v in actual.to_pylist()], [repr(v) for v in expected.to_pylist()]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    return actual.to_pylist(), expected.to_pylist()


class _NaNKey:
    """A hashable stand-in for NaN, which Python does not match with itself in a Counter."""

    def __repr__(self) -> str:
        return "nan"


_NAN_KEY = _NaNKey()


def _float_key(value: Any, digits: int) -> Any:
    """Return a float rounded to ``digits`` significant digits, NaN as one shared key."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return value
    return _NAN_KEY if math.isnan(value) else float(f"{value:.{digits}g}")


def _plural(n: int, noun: str) -> str:
    """Return ``"1 row"`` or ``"3 rows"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _format_value(value: Any) -> str:
    """Return a short readable rendering of a cell value."""
    if value is None:
        text = "NULL"
    elif isinstance(value, (str, bytes)):
        text = repr(value)
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, (decimal.Decimal, int)):
        text = str(value)
    elif isinstance(value, (datetime.date, datetime.time)):
        text = value.isoformat()
    else:
        text = repr(value)
    if len(text) > _MAX_CELL_WIDTH:
        text = text[: _MAX_CELL_WIDTH - 3] + "..."
    return text


def _side_by_side(
    row_numbers: list[int],
    marked: list[set[int]],
    a_rows: list[dict[str, Any]],
    e_rows: list[dict[str, Any]],
    names: list[str],
) -> str:
    """Render differing rows as actual/expected line pairs, differing cells marked with ``*``."""
    header = ["row", "side"] + names
    lines: list[list[str]] = []
    for number, columns, a_row, e_row in zip(row_numbers, marked, a_rows, e_rows):
        for side, row in (("actual", a_row), ("expected", e_row)):
            cells = [
                _format_value(value) + (" *" if c in columns else "")
                for c, value in enumerate(row.values())
            ]
            lines.append([str(number) if side == "actual" else "", side] + cells)
    return _grid(header, lines)


def _rows_block(names: list[str], rows: list[tuple], indices: list[int] | None) -> str:
    """Render rows under a header of column names, optionally with their row numbers."""
    header = (["row"] if indices is not None else []) + names
    lines = [
        ([str(indices[k])] if indices is not None else []) + [_format_value(v) for v in row]
        for k, row in enumerate(rows)
    ]
    return _grid(header, lines)


def _grid(header: list[str], lines: list[list[str]]) -> str:
    """Render a header and lines as aligned text columns separated by `` | ``."""
    widths = [len(h) for h in header]
    for line in lines:
        widths = [max(w, len(cell)) for w, cell in zip(widths, line)]
    out = []
    for line in [header] + lines:
        out.append("    " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
    return "\n".join(out)


def _render(header: str, problems: list[str]) -> str:
    """Join the header and the problems into one message."""
    body = []
    for problem in problems:
        body.append(problem if problem.startswith("    ") else "  - " + problem)
    return "\n".join([header] + body)
