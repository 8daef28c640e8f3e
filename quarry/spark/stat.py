"""``df.describe``, ``df.summary`` and ``df.stat`` (crosstab, freqItems, approxQuantile, corr, cov,
sampleBy), and ``sample`` / ``randomSplit`` with their seed: the Stat* and Sample relations.

- ``summary(*statistics)`` (default ``count, mean, stddev, min, 25%, 50%, 75%, max``; also
  ``count_distinct``, ``approx_count_distinct`` and any ``p%``) covers the numeric and string
  columns and gives every value as a string, as Spark does (``12.0``, ``1.0E10``, NULL where a
  statistic does not apply): ``mean``/``stddev``/percentiles of a string column are those of
  its values read as numbers (NULL for text); the mean of a ``decimal(p, s)`` column is a
  decimal with ``s + 4`` digits (``1.875000``), as Spark's ``avg`` of decimals. ``describe(*cols)`` is the first five
  statistics over ``cols``.
- Percentiles (``p%``, ``approxQuantile``) are the values at rank ``ceil(p * n)`` among the
  ``n`` non-NULL values (the smallest for ``p <= relativeError``, the largest for
  ``p >= 1 - relativeError``): what Spark's quantile summary answers whenever its error bound
  lets it be exact, and always within any ``relativeError``.
- ``cov`` is the sample covariance, ``corr`` Pearson's coefficient, over the rows where
  both values are non-NULL.
- ``crosstab(a, b)``: a row per distinct ``a`` (as a string, in column ``a_b``), a column per
  distinct ``b`` (as a string, in string order), each cell the count of the pair (0 if none).
- ``freqItems(cols, support)``: per column the items in more than ``support`` of the rows
  (every item when there are at most ``1 / support`` distinct ones, as Spark's counter keeps
  them all), most frequent first.
- ``sample(withReplacement, fraction, seed)``, ``randomSplit(weights, seed)``,
  ``sampleBy(col, fractions, seed)``: each row draws from a generator seeded with ``seed``, so
  the same seed over the same rows picks the same rows; without replacement a row is kept
  when its draw falls in ``[lower, upper)`` (``randomSplit``'s splits are disjoint and cover
  every row), with replacement it is repeated a Poisson(``fraction``) number of times.

Aggregates run in the engine; what comes back (a row of statistics, the pairs of a crosstab)
is small. Sampling draws one number per row with NumPy over the rows of the input, which it
reads whole and sorts by every column first (the engine's workers may return rows in another
order each run), so a seed picks the same rows of the same data every time.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.api import functions as QF
from quarry.api.column import Column, col, lit
from quarry.api.dataframe import DataFrame
from quarry.logical import types as T
from quarry.logical.expressions import Call
from quarry.spark.errors import SparkError
from quarry.spark.na import _family, _fields, column_of
from quarry.spark.show import cell_text

__all__ = ["summary", "describe", "crosstab", "freq_items", "approx_quantile", "corr", "cov", "sample", "sample_by"]

_DEFAULT_STATS = ["count", "mean", "stddev", "min", "25%", "50%", "75%", "max"]


def _text(value, dtype: pa.DataType) -> str | None:
    """A value cast to a string as Spark casts it (NULL stays NULL)."""
    return None if value is None else cell_text(value, dtype)


def _as_double(column: Column) -> Column:
    """A string column's values read as doubles, NULL where one is not a number (``try_cast``)."""
    return Column(lambda ctx: Call("try_cast", (column.bind(ctx),), T.FLOAT64, True), column.name)


def _local(session, table: pa.Table, label: str) -> DataFrame:
    return DataFrame.from_arrow(session, table, label)


# ---------------------------------------------------------------------------- percentiles

def _rank(p: float, n: int, error: float) -> int:
    """The 1-based rank Spark's quantile summary answers ``p`` with, when exact: the smallest value
    for ``p <= error``, the largest for ``p >= 1 - error``, else the value at ``ceil(p * n)``."""
    if p <= error:
        return 1
    if p >= 1 - error:
        return n
    return min(max(math.ceil(p * n), 1), n)


def _at_ranks(df: DataFrame, columns: list[Column], probabilities: list[float], error: float = 1e-4) -> list[list]:
    """Per column, the values at the ranks :func:`_rank` gives among its ``n`` non-NULL values, for
    each ``p``: one query counts the values, one numbers the rows of every column (NULLs last) and
    keeps those at the wanted ranks. ``error`` is the relative error asked for (``summary``'s
    percentiles use Spark's default accuracy, 10000, so 1e-4)."""
    if not columns:
        return []
    counts = df.agg(*[QF.count(c).alias(f"__n{i}") for i, c in enumerate(columns)]).to_pylist()[0]
    ns = [counts[f"__n{i}"] for i in range(len(columns))]
    ranks = [[_rank(p, n, error) for p in probabilities] if n else [] for n in ns]
    values = df.select(*[c.alias(f"__v{i}") for i, c in enumerate(columns)])
    numbered = values.with_columns({f"__r{i}": QF.row_number().over(QF.window(order_by=col(f"__v{i}").asc_nulls_last()))
                                    for i in range(len(columns)) if ranks[i]})
    wanted = [col(f"__r{i}") == lit(k, pa.int64()) for i in range(len(columns)) for k in sorted(set(ranks[i]))]
    if not wanted:
        return [[None] * len(probabilities) for _ in columns]
    picked = numbered.filter(functools.reduce(lambda a, b: a | b, wanted)).to_arrow()
    out = []
    for i in range(len(columns)):
        if not ranks[i]:
            out.append([None] * len(probabilities))
            continue
        found = dict(zip(picked.column(f"__r{i}").to_pylist(), picked.column(f"__v{i}").to_pylist()))
        out.append([found.get(k) for k in ranks[i]])
    return out


def _percent(stat: str) -> float:
    try:
        p = float(stat[:-1]) / 100.0
    except ValueError:
        raise SparkError(f"unable to parse `{stat}` as a percentile", error_class="INVALID_PERCENTILE",
                         exception="IllegalArgumentException") from None
    if not 0 <= p <= 1:
        raise SparkError("percentiles must be in the range [0, 1]", exception="IllegalArgumentException")
    return p


# ---------------------------------------------------------------------------- describe / summary

def summary(session, df: DataFrame, statistics: list[str]) -> DataFrame:
    stats = list(statistics) or list(_DEFAULT_STATS)
    fields = [f for f in df.logical_plan.schema if _family(f.dtype) in ("numeric", "string")]
    for s in stats:
        if not s.endswith("%") and s.lower() not in ("count", "count_distinct", "approx_count_distinct", "mean",
                                                     "stddev", "min", "max"):
            raise SparkError(f"{s} is not a recognised statistic", error_class="STATISTIC_NOT_RECOGNIZED",
                             exception="IllegalArgumentException")
        if s.endswith("%"):
            _percent(s)
    aggs: list[Column] = []
    slots: dict[tuple[int, str], int] = {}
    for i, f in enumerate(fields):
        c = column_of(df, f)
        numbers = c if _family(f.dtype) == "numeric" else _as_double(c)
        for s in dict.fromkeys(x.lower() for x in stats if not x.endswith("%")):
            agg = {"count": lambda: QF.count(c), "count_distinct": lambda: QF.count_distinct(c),
                   "approx_count_distinct": lambda: QF.approx_count_distinct(c),
                   "mean": lambda: QF.call_function("sum" if T.is_decimal(f.dtype) else "avg", numbers),
                   "stddev": lambda: QF.call_function("stddev_samp", numbers),
                   "min": lambda: QF.call_function("min", c), "max": lambda: QF.call_function("max", c)}[s]()
            slots[(i, s)] = len(aggs)
            aggs.append(agg.alias(f"__s{len(aggs)}"))
    row = df.agg(*aggs).to_arrow() if aggs else None
    percentiles = [_percent(s) for s in stats if s.endswith("%")]
    names, columns = ["summary"], [stats]
    numeric = [_family(f.dtype) == "numeric" for f in fields]
    at_ranks = _at_ranks(df, [column_of(df, f) if numeric[i] else _as_double(column_of(df, f))
                              for i, f in enumerate(fields)], percentiles) if percentiles else []
    for i, f in enumerate(fields):
        ranked = []
        if percentiles:
            ranked = [_text(v, f.dtype if numeric[i] else pa.float64()) for v in at_ranks[i]]
        out, k = [], 0
        for s in stats:
            if s.endswith("%"):
                out.append(ranked[k])
                k += 1
                continue
            cell = row.column(slots[(i, s.lower())])
            if s.lower() == "mean" and T.is_decimal(f.dtype):
                n = row.column(slots[(i, "count")])[0].as_py() if (i, "count") in slots else \
                    df.filter(column_of(df, f).is_not_null()).count()
                out.append(_decimal_mean(cell[0].as_py(), n, f.dtype.scale))
                continue
            out.append(_text(cell[0].as_py(), cell.type))
        names.append(f.name)
        columns.append(out)
    table = pa.Table.from_arrays([pa.array(values, pa.string()) for values in columns], names=names)
    return _local(session, table, "summary")


def _decimal_mean(total, n: int, scale: int) -> str | None:
    """Spark's ``avg`` of a ``decimal(p, s)`` column: a ``decimal(p + 4, s + 4)``, rounded half up."""
    import decimal
    if total is None or not n:
        return None
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        value = (decimal.Decimal(total) / n).quantize(decimal.Decimal(1).scaleb(-min(scale + 4, 38)),
                                                     rounding=decimal.ROUND_HALF_UP)
    return format(value, "f")


def describe(session, df: DataFrame, cols: list[str]) -> DataFrame:
    if cols:
        df = df.select(*[column_of(df, f) for f in _fields(df, cols)])
    return summary(session, df, ["count", "mean", "stddev", "min", "max"])


# ---------------------------------------------------------------------------- crosstab / freqItems

def crosstab(session, df: DataFrame, col1: str, col2: str) -> DataFrame:
    f1, f2 = _fields(df, [col1, col2])
    pairs = df.group_by(column_of(df, f1).alias("a"), column_of(df, f2).alias("b")) \
        .agg(QF.count().alias("n")).to_arrow()
    a = [_label(v, f1.dtype) for v in pairs.column("a").to_pylist()]
    b = [_label(v, f2.dtype) for v in pairs.column("b").to_pylist()]
    rows = list(dict.fromkeys(a))
    cols = sorted(set(b))
    if len(cols) > 10000:
        raise SparkError(f"the number of distinct values of `{col2}` is more than 10000",
                         exception="IllegalArgumentException")
    counts = np.zeros((len(rows), len(cols)), dtype=np.int64)
    ri = pc.index_in(pa.array(a, pa.string()), pa.array(rows, pa.string())).to_numpy()
    ci = pc.index_in(pa.array(b, pa.string()), pa.array(cols, pa.string())).to_numpy()
    np.add.at(counts, (ri, ci), pairs.column("n").to_numpy())
    data = {f"{f1.name}_{f2.name}": pa.array(rows, pa.string())}
    for j, name in enumerate(cols):
        data[name] = pa.array(counts[:, j], pa.int64())
    names = list(data)
    table = pa.Table.from_arrays(list(data.values()), names=names) if len(set(names)) == len(names) else None
    if table is None:
        raise SparkError("crosstab: two values of the second column name the same column")
    return _local(session, table, "crosstab")


def _label(v, dtype) -> str:
    return "null" if v is None else cell_text(v, dtype)


def freq_items(session, df: DataFrame, cols: list[str], support: float) -> DataFrame:
    if not 1e-4 <= support <= 1:
        raise SparkError(f"support ({support}) must be greater than 1e-4 and at most 1",
                         exception="IllegalArgumentException")
    fields = _fields(df, cols)
    total = df.count()
    arrays, names = [], []
    for f in fields:
        counts = df.group_by(column_of(df, f).alias("v")).agg(QF.count().alias("n")).to_arrow()
        order = pc.sort_indices(counts, sort_keys=[("n", "descending")])
        counts = counts.take(order)
        if counts.num_rows > 1 / support:
            counts = counts.filter(pc.greater(counts.column("n"), support * total))
        values = counts.column("v").combine_chunks() if counts.num_rows else pa.array([], f.dtype)
        arrays.append(pa.array([values.to_pylist()], pa.list_(f.dtype)))
        names.append(f"{f.name}_freqItems")
    return _local(session, pa.Table.from_arrays(arrays, names=names), "freqItems")


# ---------------------------------------------------------------------------- quantiles, corr, cov

def approx_quantile(session, df: DataFrame, cols: list[str], probabilities: list[float], error: float) -> DataFrame:
    if error < 0:
        raise SparkError("relativeError must be non-negative", exception="IllegalArgumentException")
    out, chosen = [], []
    for f in _fields(df, cols):
        if _family(f.dtype) != "numeric":
            raise SparkError(f"approxQuantile needs a numeric column, `{f.name}` is {T.sql_name(f.dtype)}",
                             error_class="DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE")
        chosen.append(column_of(df, f).cast(pa.float64()))
    for values in (_at_ranks(df, chosen, list(probabilities), error) if probabilities else [[] for _ in chosen]):
        out.append([] if any(v is None for v in values) else values)
    arr = pa.array([out], pa.list_(pa.list_(pa.float64())))
    return _local(session, pa.table({"approx_quantile": arr}), "approxQuantile")


def _moments(df: DataFrame, col1: str, col2: str, what: str):
    f1, f2 = _fields(df, [col1, col2])
    for f in (f1, f2):
        if _family(f.dtype) != "numeric":
            raise SparkError(f"{what} needs numeric columns, `{f.name}` is {T.sql_name(f.dtype)}",
                             exception="IllegalArgumentException")
    x, y = column_of(df, f1).cast(pa.float64()), column_of(df, f2).cast(pa.float64())
    both = df.select(x.alias("x"), y.alias("y")).filter(col("x").is_not_null() & col("y").is_not_null())
    first = both.agg(QF.count().alias("n"), QF.call_function("avg", "x").alias("mx"),
                     QF.call_function("avg", "y").alias("my")).to_pylist()[0]
    n = first["n"]
    if n == 0:
        return 0, None, None, None
    dx, dy = col("x") - lit(first["mx"]), col("y") - lit(first["my"])
    second = both.agg(QF.call_function("sum", dx * dy).alias("sxy"), QF.call_function("sum", dx * dx).alias("sxx"),
                      QF.call_function("sum", dy * dy).alias("syy")).to_pylist()[0]
    return n, second["sxy"], second["sxx"], second["syy"]


def cov(session, df: DataFrame, col1: str, col2: str) -> DataFrame:
    n, sxy, _, _ = _moments(df, col1, col2, "cov")
    value = None if n < 2 else sxy / (n - 1)
    return _local(session, pa.table({"cov": pa.array([value], pa.float64())}), "cov")


def corr(session, df: DataFrame, col1: str, col2: str, method: str) -> DataFrame:
    if (method or "pearson").lower() != "pearson":
        raise SparkError(f"Currently only the calculation of the Pearson Correlation coefficient is supported, "
                         f"not {method}", exception="IllegalArgumentException")
    n, sxy, sxx, syy = _moments(df, col1, col2, "corr")
    if n < 2 or sxy is None:
        value = None
    elif sxx == 0 or syy == 0:
        value = float("nan")
    else:
        value = sxy / math.sqrt(sxx * syy)
    return _local(session, pa.table({"corr": pa.array([value], pa.float64())}), "corr")


# ---------------------------------------------------------------------------- sampling

def _generator(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed & 0xFFFF_FFFF_FFFF_FFFF)


def _sorted_rows(table: pa.Table) -> pa.Table:
    """``table``'s rows in one order whatever order they came in (by every column that sorts)."""
    keys = [(name, "ascending", "at_start") for name, t in zip(table.column_names, table.schema.types)
            if not (pa.types.is_nested(t) or pa.types.is_null(t))]
    return table.take(pc.sort_indices(table, sort_keys=keys)) if keys else table


def sample(session, df: DataFrame, s) -> DataFrame:
    lower, upper = float(s.lower_bound), float(s.upper_bound)
    if not 0.0 <= lower <= upper:
        raise SparkError(f"the sampling bounds [{lower}, {upper}) are not a range of fractions",
                         exception="IllegalArgumentException")
    seed = s.seed if s.HasField("seed") else int(np.random.SeedSequence().entropy & 0x7FFF_FFFF_FFFF_FFFF)
    # the engine may return the rows in another order each run: the draws go to the rows in sorted order
    table = _sorted_rows(df.to_arrow())
    rng = _generator(seed)
    if s.with_replacement:
        counts = rng.poisson(upper - lower, table.num_rows)
        picked = table.take(pa.array(np.repeat(np.arange(table.num_rows), counts)))
    else:
        if upper > 1.0 + 1e-7:
            raise SparkError(f"the fraction {upper} of a sample without replacement is above 1",
                             exception="IllegalArgumentException")
        u = rng.random(table.num_rows)
        picked = table.filter(pa.array((u >= lower) & (u < upper)))
    return _local(session, picked, "sample")


def sample_by(translator, df: DataFrame, s) -> DataFrame:
    column = translator.expressions.column(s.col)
    strata = [translator.expressions.literal_value(f.stratum)[0] for f in s.fractions]
    fractions = [float(f.fraction) for f in s.fractions]
    for fr in fractions:
        if not 0.0 <= fr <= 1.0:
            raise SparkError(f"the fraction {fr} of sampleBy is not in [0, 1]", exception="IllegalArgumentException")
    seed = s.seed if s.HasField("seed") else 0
    table = _sorted_rows(df.with_column("__stratum", column).to_arrow())
    stratum = table.column("__stratum").combine_chunks()
    table = table.drop_columns(["__stratum"])
    if not strata:
        return _local(translator.session, table.slice(0, 0), "sampleBy")
    try:
        keys = pa.array(strata).cast(stratum.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise SparkError("the strata of sampleBy do not have the column's type",
                         error_class="DATATYPE_MISMATCH") from None
    position = pc.index_in(stratum, keys)
    fraction = pc.fill_null(pc.take(pa.array(fractions, pa.float64()), position), 0.0).to_numpy(zero_copy_only=False)
    u = _generator(seed).random(table.num_rows)
    return _local(translator.session, table.filter(pa.array(u < fraction)), "sampleBy")
