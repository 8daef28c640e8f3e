"""Spark Connect relations (``spark.connect.Relation``) as quarry DataFrames.

Each relation becomes a call of quarry's DataFrame API, which builds its nodes with the plan
builder (:mod:`quarry.logical.builder`) the SQL binder uses, so a PySpark program and the
same query in quarry's SQL reach the optimizer as the same plan. Spark's shapes where they
differ from quarry's are made here:

- ``join(other, "k")`` (USING) puts the keys first, then the other left and right columns;
- ``withColumnRenamed`` and ``drop`` of a column that does not exist do nothing, as in Spark;
- ``spark.read.csv`` reads every column as a string unless ``inferSchema`` or a schema is
  given, names headerless columns ``_c0, _c1, ...``; ``text`` reads lines into ``value``;
- ``Range`` is a ``bigint`` column ``id``; ``LocalRelation`` is the client's Arrow stream.

``df["x"]`` references carry the plan id of the DataFrame they were taken from; every
translated relation is remembered under its plan id, so such a reference binds to that
frame's own column (unambiguous in a join of two frames that both have ``x``).

The larger relations live in their own modules: rollup/cube/grouping sets and pivot in
:mod:`quarry.spark.grouping`, ``df.na`` in :mod:`quarry.spark.na`, describe/summary/``df.stat``
and seeded sampling in :mod:`quarry.spark.stat`, unpivot in :mod:`quarry.spark.reshape`,
``spark.catalog`` in :mod:`quarry.spark.catalog`, and the Python relations (``mapInPandas``/``mapInArrow``,
grouped and cogrouped maps) in :mod:`quarry.spark.udfs`.

Relations quarry does not implement raise ``Not supported: the relation `...```.
"""

from __future__ import annotations

import os
import re

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pyspark.sql.connect.proto import relations_pb2

from quarry.api.dataframe import DataFrame
from quarry.logical import builder as B
from quarry.logical.expressions import ColumnRef
from quarry.spark.errors import SparkError, not_supported
from quarry.spark.expressions import ExpressionTranslator, split_identifier
from quarry.spark.show import show_string
from quarry.spark.types import parse_ddl, schema_to_arrow

Relation = relations_pb2.Relation

__all__ = ["RelationTranslator", "read_files"]

_JOIN_TYPES = {
    relations_pb2.Join.JOIN_TYPE_UNSPECIFIED: "inner", relations_pb2.Join.JOIN_TYPE_INNER: "inner",
    relations_pb2.Join.JOIN_TYPE_FULL_OUTER: "full", relations_pb2.Join.JOIN_TYPE_LEFT_OUTER: "left",
    relations_pb2.Join.JOIN_TYPE_RIGHT_OUTER: "right", relations_pb2.Join.JOIN_TYPE_LEFT_ANTI: "anti",
    relations_pb2.Join.JOIN_TYPE_LEFT_SEMI: "semi", relations_pb2.Join.JOIN_TYPE_CROSS: "cross",
}

# options each reader honours; any other option is refused, never ignored
_CSV_OPTIONS = {"header", "inferschema", "sep", "delimiter", "encoding", "charset", "nullvalue", "emptyvalue", "quote",
                "escape", "ignoreleadingwhitespace", "ignoretrailingwhitespace", "multiline", "mode", "enforceschema",
                "path", "columnnameofcorruptrecord", "comment", "linesep", "dateformat", "timestampformat",
                "nanvalue", "positiveinf", "negativeinf"}
_PARQUET_OPTIONS = {"path", "mergeschema"}
_DELTA_OPTIONS = {"path", "versionasof", "timestampasof"}       # Delta's time-travel reader options
_JSON_OPTIONS = {"path", "multiline"}
_TEXT_OPTIONS = {"path", "wholetext"}


def _true(value: str | None) -> bool:
    return str(value).strip().lower() == "true"


class RelationTranslator:
    """Translate the relations of one request for the Spark session ``state``
    (:class:`quarry.spark.session.SparkSessionState`). ``use_cache=False`` ignores what ``df.cache()``
    holds, as Spark's analyzed plans do (``sameSemantics`` of a cached and an uncached frame)."""

    def __init__(self, state, use_cache: bool = True):
        self.state = state
        self.use_cache = use_cache
        self.session = state.session
        self.by_plan_id: dict[int, DataFrame] = {}
        self.observations: list = []     # df.observe(...): (name, plan id, input, [(key, metric Column)])
        self.expressions = ExpressionTranslator(self.by_plan_id.get, state.time_zone, ansi=state.ansi)
        self.expressions.state = state               # Python UDFs need the session (quarry.spark.udfs)
        self.expressions.relations = self            # subquery expressions (df.scalar(), df.exists())
        self.references: dict[int, Relation] = {}     # WithRelations: the subqueries' plans, by plan id

    # -- entry -------------------------------------------------------------------------------

    def translate_result(self, rel: Relation) -> DataFrame:
        """``translate``, with quarry's INTERVAL columns (from SQL text: ``SELECT INTERVAL 3 DAYS``) as Spark's
        day-time intervals, the interval type the client reads."""
        df = self.translate(rel)
        if not any(pa.types.is_interval(f.type) for f in df.schema):
            return df
        from quarry.api.column import Column, col
        from quarry.logical import types as T
        from quarry.logical.expressions import Call as CallExpr
        from quarry.logical.expressions import Literal
        from quarry.logical.spark_functions import DAY_TIME

        def as_day_time(name):
            def bind(ctx):
                return CallExpr("spark_interval", (Literal("from_interval", T.STRING), col(name).bind(ctx)),
                                DAY_TIME, True)
            return Column(bind, name).alias(name)
        return df.select(*[as_day_time(f.name) if pa.types.is_interval(f.type) else col(f.name) for f in df.schema])

    def translate(self, rel: Relation) -> DataFrame:
        cached = self.state.cached(rel) if self.use_cache else None
        if cached is not None:
            df = DataFrame.from_arrow(self.session, cached, "cache")
        else:
            kind = rel.WhichOneof("rel_type")
            if kind is None:
                raise SparkError("the plan has a relation with nothing in it (a required input is missing)",
                                 code=grpc.StatusCode.INVALID_ARGUMENT)
            method = getattr(self, f"_{kind}", None)
            if method is None:
                raise not_supported(f"the relation `{kind}`")
            df = method(getattr(rel, kind))
        if rel.HasField("common") and rel.common.HasField("plan_id"):
            self.by_plan_id[rel.common.plan_id] = df
        return df

    def _columns(self, exprs, df: DataFrame | None = None) -> list:
        """The named Columns of a select list (a generator may give several; ``df`` is the input)."""
        def shape(column):
            if df is None:
                raise SparkError("a generator (explode, posexplode, inline) is only allowed in select()",
                                 error_class="UNSUPPORTED_GENERATOR.OUTSIDE_SELECT")
            return df.select(column.alias("__shape")).schema.field(0).type
        out = []
        for e in exprs:
            out.extend(self.expressions.translate(e).outputs(shape))
        return out

    # -- sources -----------------------------------------------------------------------------

    def _read(self, r) -> DataFrame:
        if r.is_streaming:
            raise not_supported("streaming reads")
        kind = r.WhichOneof("read_type")
        if kind == "named_table":
            if r.named_table.options:
                raise not_supported("options on a table read")
            return self.table(r.named_table.unparsed_identifier)
        source = r.data_source
        fmt = (source.format or "parquet").lower()
        if source.predicates:
            raise not_supported("JDBC predicates")
        options = {k.lower(): v for k, v in source.options.items()}
        paths = list(source.paths) or ([options["path"]] if "path" in options else [])
        if not paths:
            raise SparkError(f"no path given to read {fmt}", error_class="UNABLE_TO_INFER_SCHEMA")
        schema = None
        if source.HasField("schema") and source.schema:
            schema = _schema_from_text(source.schema, self.state.time_zone)
        return read_frame(self.session, fmt, paths, options, schema, self.state.time_zone)

    def table(self, identifier: str) -> DataFrame:
        parts = split_identifier(identifier)
        while len(parts) > 1 and parts[0].lower() in ("spark_catalog", "default"):
            parts = parts[1:]
        if len(parts) == 2 and parts[0].lower() == "global_temp":
            return DataFrame(self.session, self.state.global_view(parts[1]).build())
        if len(parts) != 1:
            raise not_supported(f"the qualified table name `{identifier}`")
        return self.session.table(parts[0])

    def _local_relation(self, r) -> DataFrame:
        table = None
        if r.HasField("data") and r.data:
            with pa.ipc.open_stream(r.data) as reader:
                table = reader.read_all()
        if r.HasField("schema") and r.schema:
            schema = _schema_from_text(r.schema, self.state.time_zone)
            if table is None:
                table = schema.empty_table()
            elif table.num_columns == len(schema):
                table = pa.Table.from_arrays(table.columns, names=schema.names)
                if table.schema.types != schema.types:
                    table = table.cast(pa.schema([pa.field(f.name, f.type, True) for f in schema]))
        if table is None:
            raise SparkError("a local relation without data or schema")
        return DataFrame.from_arrow(self.session, _zone_free(table, self.state.time_zone), "local")

    def _range(self, r) -> DataFrame:
        start = r.start if r.HasField("start") else 0
        step = r.step
        if step == 0:
            raise SparkError("the step of a range cannot be 0", error_class="INVALID_PARAMETER_VALUE",
                             exception="IllegalArgumentException")
        values = np.arange(start, r.end, step, dtype=np.int64)
        table = pa.table({"id": pa.array(values, pa.int64())}, schema=pa.schema([pa.field("id", pa.int64(), False)]))
        return DataFrame.from_arrow(self.session, table, "range")

    def _sql(self, s) -> DataFrame:
        from quarry.spark.sql import run_spark_sql
        from quarry.sql.commands import QueryPlan
        named, positional = self.sql_arguments(s)
        result = run_spark_sql(self.session, s.query, named, positional, self.state.global_store,
                               ansi=self.state.ansi, time_zone=self.state.time_zone)
        if isinstance(result, QueryPlan):
            return DataFrame(self.session, result.plan)
        return DataFrame.from_arrow(self.session, result.table(), "sql")

    def sql_arguments(self, s) -> tuple[dict, list]:
        """The named and positional parameter values of a ``SQL`` relation or ``SqlCommand``."""
        named = {k: self._constant(v, k) for k, v in s.args.items()}
        named.update({k: self._constant_expr(v, k) for k, v in s.named_arguments.items()})
        positional = [self._constant(v, "?") for v in s.pos_args]
        positional += [self._constant_expr(v, "?") for v in s.pos_arguments]
        return named, positional

    def _constant(self, literal, name: str):
        return self.expressions.literal_value(literal)[0]

    def _constant_expr(self, e, name: str):
        if e.WhichOneof("expr_type") != "literal":
            raise not_supported(f"the SQL parameter `{name}` that is not a literal")
        return self.expressions.literal_value(e.literal)[0]

    # -- row and column operations -----------------------------------------------------------

    def _unresolved_table_valued_function(self, f) -> DataFrame:
        """``spark.tvf.explode(col)`` and the other generators of ``spark.tvf`` (Spark 4): the generator's
        rows over one input row, as ``SELECT explode(...)`` gives them (``spark.tvf.range`` is a Range)."""
        from pyspark.sql.connect.proto import expressions_pb2
        from quarry.spark.functions.nested import GENERATORS
        name = f.function_name.lower()
        if name not in GENERATORS:
            raise not_supported(f"the table-valued function `{f.function_name}` (spark.tvf has range, explode, "
                                "explode_outer, posexplode, posexplode_outer, inline, inline_outer, json_tuple and "
                                "stack here)")
        call = expressions_pb2.Expression()
        call.unresolved_function.function_name = name
        call.unresolved_function.arguments.extend(f.arguments)
        one = DataFrame.from_arrow(self.session, pa.table({"__one": [1]}), "one")
        return one.select(*self._columns([call], one))

    def _project(self, p) -> DataFrame:
        if not p.HasField("input"):
            # select without a FROM: one row
            one = DataFrame.from_arrow(self.session, pa.table({"__one": [1]}), "one")
            return one.select(*self._columns(p.expressions, one))
        df = self.translate(p.input)
        if not p.expressions:
            # select() of nothing: the rows without columns (isEmpty() is len(df.select().take(1)) == 0)
            return DataFrame(self.session, B.project_fields(df.logical_plan, []))
        return df.select(*self._columns(p.expressions, df))

    def _filter(self, f) -> DataFrame:
        df = self.translate(f.input)
        return df.filter(self.expressions.column(f.condition))

    def _with_columns(self, w) -> DataFrame:
        df = self.translate(w.input)
        pairs = {}
        for a in w.aliases:
            if len(a.name) != 1:
                raise not_supported("withColumns with a multi-part name")
            t = self.expressions.translate(a.expr)
            if t.generator is not None:
                # withColumn("w", explode(...)): the row repeated per element, as in select
                outs = t.outputs(lambda c: df.select(c.alias("__shape")).schema.field(0).type)
                if len(outs) != 1:
                    raise SparkError(f"`{t.generator[0]}` gives {len(outs)} columns; withColumn takes one",
                                     error_class="UDTF_ALIAS_NUMBER_MISMATCH")
                pairs[a.name[0]] = outs[0]
            else:
                pairs[a.name[0]] = t.column
        return df.with_columns(pairs)

    def _with_columns_renamed(self, w) -> DataFrame:
        df = self.translate(w.input)
        renames = list(w.rename_columns_map.items()) + [(r.col_name, r.new_col_name) for r in w.renames]
        present = {name.lower() for name in df.columns}
        mapping = {old: new for old, new in renames if old.lower() in present}   # Spark: a missing name is a no-op
        return df.rename(mapping) if mapping else df

    def _drop(self, d) -> DataFrame:
        df = self.translate(d.input)
        present = {name.lower() for name in df.columns}
        targets: list = [n for n in d.column_names if n.lower() in present]   # Spark: a missing name is a no-op
        for e in d.columns:
            if e.WhichOneof("expr_type") == "unresolved_attribute" and not e.unresolved_attribute.HasField("plan_id"):
                name = e.unresolved_attribute.unparsed_identifier
                if name.lower() in present:
                    targets.append(name)
            else:
                targets.append(self.expressions.column(e))
        return df.drop(*targets) if targets else df

    def _to_df(self, t) -> DataFrame:
        df = self.translate(t.input)
        fields = df.logical_plan.schema
        if len(t.column_names) != len(fields):
            raise SparkError(f"toDF needs {len(fields)} names, got {len(t.column_names)}",
                             error_class="INVALID_COLUMN_NAME_AS_PATH")
        plan = B.project(df.logical_plan, [ColumnRef(f) for f in fields], list(t.column_names))
        return DataFrame(self.session, plan)

    def _subquery_alias(self, s) -> DataFrame:
        if s.qualifier:
            raise not_supported("an alias with a qualifier")
        return self.translate(s.input).alias(s.alias)

    def _sort(self, s) -> DataFrame:
        from quarry.errors import BindError
        df = self.translate(s.input)
        keys = [self.expressions._sort_key(o) for o in s.order]
        try:
            return df.sort(*keys)
        except BindError:             # a column it lacks (by name, or df["v"] of the select's input)
            widened = self._sort_by_dropped_columns(s, df)
            if widened is None:
                raise
            return widened

    def _sort_by_dropped_columns(self, s, df: DataFrame) -> DataFrame | None:
        """``df.select("a").orderBy("b")``: Spark resolves a sort column the select dropped from the select's
        input (ResolveMissingReferences): the select is widened by those columns, sorted, and narrowed again.
        Only for sort keys that are plain columns, over a select without aggregates; None otherwise."""
        from quarry.api.column import col
        project = s.input.project if s.input.WhichOneof("rel_type") == "project" else None
        if project is None or not project.HasField("input"):
            return None
        names = []
        for o in s.order:
            child = o.child
            if child.WhichOneof("expr_type") != "unresolved_attribute":
                return None
            names.append(child.unresolved_attribute.unparsed_identifier)
        present = {c.lower() for c in df.columns}
        inner = self.translate(project.input)
        available = {c.lower(): c for c in inner.columns}
        absent = [n for n in dict.fromkeys(names) if n.lower() not in present]
        if not absent or any(n.lower() not in available for n in absent):
            return None
        missing = [available[n.lower()] for n in absent]
        hidden = [f"__sort_{i}_{n}" for i, n in enumerate(missing)]
        try:
            wide = inner.select(*self._columns(project.expressions, inner),
                                *[col(n).alias(h) for n, h in zip(missing, hidden)])
            wide.logical_plan          # noqa: B018 - bound now: an aggregate select fails here
        except Exception:         # noqa: BLE001 - an aggregate select (Spark's rule does not apply there)
            return None
        if len(wide.columns) != len(df.columns) + len(missing):
            return None
        renamed = {n.lower(): h for n, h in zip(missing, hidden)}
        order = []
        for o in s.order:
            name = o.child.unresolved_attribute.unparsed_identifier
            copy = type(o)()
            copy.CopyFrom(o)
            if name.lower() in renamed:
                copy.child.unresolved_attribute.unparsed_identifier = renamed[name.lower()]
                copy.child.unresolved_attribute.ClearField("plan_id")      # df.v: now the widened select's
            order.append(self.expressions._sort_key(copy))
        return wide.sort(*order).select(*[col(c) for c in df.columns])

    def _limit(self, lim) -> DataFrame:
        return self.translate(lim.input).limit(lim.limit)

    def _offset(self, o) -> DataFrame:
        return self.translate(o.input).offset(o.offset)

    def _tail(self, t) -> DataFrame:
        table = self.translate(t.input).to_arrow()
        return DataFrame.from_arrow(self.session, table.slice(max(table.num_rows - t.limit, 0)), "tail")

    def _collect_metrics(self, c) -> DataFrame:
        """``df.observe(name_or_observation, *metrics)``: the rows pass through; the metrics (aggregates over
        the same rows, computed after them) go back with the result as Spark's observed metrics."""
        df = self.translate(c.input)
        if not c.metrics:
            raise SparkError("observe() needs at least one metric", error_class="INVALID_OBSERVED_METRICS")
        metrics = [self.expressions.translate(m) for m in c.metrics]
        self.observations.append((c.name, df, [(t.name, t.column) for t in metrics]))
        return df

    def observed_metrics(self) -> list:
        """The observed metrics of the relations translated so far, as ExecutePlanResponse.ObservedMetrics."""
        from pyspark.sql.connect.expressions import LiteralExpression
        from pyspark.sql.connect.proto import base_pb2
        from pyspark.sql.connect.types import proto_schema_to_pyspark_data_type
        from quarry.spark.types import from_arrow
        out = []
        for name, df, metrics in self.observations:
            row = df.agg(*[column.alias(key) for key, column in metrics]).to_arrow()
            message = base_pb2.ExecutePlanResponse.ObservedMetrics(name=name)
            for i, (key, _) in enumerate(metrics):
                field = row.schema.field(i)
                value = row.column(i)[0].as_py()
                spark_type = proto_schema_to_pyspark_data_type(from_arrow(field.type))
                message.values.append(LiteralExpression(value, spark_type).to_plan(None).literal)
                message.keys.append(key)
            out.append(message)
        return out

    def _deduplicate(self, d) -> DataFrame:
        if d.within_watermark:
            raise not_supported("dropDuplicatesWithinWatermark")
        df = self.translate(d.input)
        if d.all_columns_as_keys or not d.column_names:
            _refuse_maps(df.schema)
            return _distinct(df)
        keys = {k.lower() for k in d.column_names}
        _refuse_maps(pa.schema([f for f in df.schema if f.name.lower() in keys]))
        _refuse_intervals(df.schema, "dropDuplicates over")
        return df.drop_duplicates(list(d.column_names))

    def _sample(self, s) -> DataFrame:
        from quarry.spark import stat
        return stat.sample(self.session, self.translate(s.input), s)    # the seed honoured (stat.py)

    def _repartition(self, r) -> DataFrame:
        return self.translate(r.input)           # partitioning is the engine's: nothing to change in the result

    def _repartition_by_expression(self, r) -> DataFrame:
        return self.translate(r.input)

    def _map_partitions(self, m) -> DataFrame:
        from quarry.spark.udfs import map_partitions
        return map_partitions(self, m)

    def _group_map(self, g) -> DataFrame:
        from quarry.spark.udfs import group_map
        return group_map(self, g)

    def _co_group_map(self, c) -> DataFrame:
        from quarry.spark.udfs import cogroup_map
        return cogroup_map(self, c)

    def _hint(self, h) -> DataFrame:
        return self.translate(h.input)           # hints never change a result; quarry's optimizer picks joins

    # -- joins, aggregates, set operations ---------------------------------------------------

    def _with_relations(self, w) -> DataFrame:
        """The root of a plan whose subquery expressions (``df.scalar()``, ``df.exists()``, ``isin(df)``)
        name their plans by id among ``references``."""
        for ref in w.references:
            if not (ref.HasField("common") and ref.common.HasField("plan_id")):
                raise SparkError("a WithRelations reference has no plan id", code=grpc.StatusCode.INVALID_ARGUMENT)
            self.references[ref.common.plan_id] = ref
        return self.translate(w.root)

    def subquery(self, plan_id: int, scope) -> DataFrame:
        """The referenced plan ``plan_id``, bound inside ``scope`` (the outer query's columns): a name the
        subquery's own inputs lack is an outer reference, as Spark resolves ``col(...).outer()``."""
        from quarry.api.column import outer_scope
        rel = self.references.get(plan_id)
        if rel is None:
            raise SparkError(f"a subquery names the plan {plan_id}, which the request does not hold",
                             code=grpc.StatusCode.INVALID_ARGUMENT)
        with outer_scope(scope):
            return self.translate(rel)

    def _lateral_join(self, j) -> DataFrame:
        """``left.lateralJoin(right, on, how)``: ``right`` may read ``left``'s columns (``col(...).outer()``),
        as SQL's ``JOIN LATERAL``; inner, left and cross, as Spark allows."""
        from quarry.api.column import BindContext, outer_scope, to_condition
        from quarry.logical.plan import Join, produced_ids
        kind = _JOIN_TYPES.get(j.join_type)
        if kind not in ("inner", "left", "cross"):
            raise SparkError(f"a lateral join must be inner, left outer or cross, not {kind}",
                             error_class="INVALID_LATERAL_JOIN_TYPE")
        left = self.translate(j.left)
        lctx = BindContext(self.session, left.logical_plan.schema, "lateralJoin")
        with outer_scope(lctx.scope):
            right = self.translate(j.right)
        lplan, rplan = left.logical_plan, right.logical_plan
        if produced_ids(lplan) & produced_ids(rplan):
            # each side is translated on its own, so their columns are distinct; a shared id would make the
            # outer references ambiguous
            raise not_supported("a lateral join whose two sides share columns")
        condition = None
        if j.HasField("join_condition"):
            ctx = BindContext(self.session, lplan.schema + rplan.schema, "lateralJoin")
            condition = B.condition(to_condition(self.expressions.column(j.join_condition)).bind(ctx),
                                    "the join condition")
        if condition is None and kind == "left":
            from quarry.logical import types as T
            from quarry.logical.expressions import Literal
            condition = Literal(True, T.BOOL)             # LEFT JOIN LATERAL (...) ON TRUE
        kind = ("inner" if kind == "cross" else kind) if condition is not None else "cross"
        return DataFrame(self.session, Join(lplan, rplan, kind, condition, lateral=True))

    def _join(self, j) -> DataFrame:
        if j.HasField("join_data_type"):
            raise not_supported("joinWith")
        left = self.translate(j.left)
        right = self.translate(j.right)
        kind = _JOIN_TYPES.get(j.join_type)
        if kind is None:
            raise not_supported(f"the join type {j.join_type}")
        if j.using_columns:
            # a cross join on columns is an inner join on them (Spark's UsingJoin(Cross, ...))
            return self._join_using(left, right, list(j.using_columns), "inner" if kind == "cross" else kind)
        if not j.HasField("join_condition"):
            if kind in ("inner", "cross"):
                return left.join(right, how="cross")
            raise SparkError(f"a {kind} join needs a condition or columns", error_class="UNSUPPORTED_JOIN_TYPE")
        condition = self.expressions.column(j.join_condition)
        return left.join(right, on=condition, how="inner" if kind == "cross" else kind)

    def _join_using(self, left: DataFrame, right: DataFrame, keys: list[str], kind: str) -> DataFrame:
        lowered_keys = {k.lower() for k in keys}
        _refuse_intervals(pa.schema([f for f in left.schema if f.name.lower() in lowered_keys]), "a join on")
        joined = left.join(right, on=keys, how=kind)
        lowered = {k.lower() for k in keys}
        fields = joined.logical_plan.schema
        key_fields = [next(f for f in fields if f.name.lower() == k.lower()) for k in keys]
        others = [f for f in fields if f.name.lower() not in lowered or f not in key_fields]
        ordered = key_fields + [f for f in others if f not in key_fields]
        return DataFrame(self.session, B.project_fields(joined.logical_plan, ordered))

    def _aggregate(self, a) -> DataFrame:
        df = self.translate(a.input)
        if not _plain_group_by(a):
            from quarry.spark import grouping
            return grouping.aggregate(self, df, a)      # rollup, cube, grouping sets, pivot (grouping.py)
        keys = [self.expressions.translate(g).named() for g in a.grouping_expressions]
        df, keys = self._expand_sliding_windows(df, a.grouping_expressions, keys)
        aggs = self._columns(a.aggregate_expressions)
        if not aggs:
            return df.select(*keys).distinct() if keys else df
        names = [self.expressions.translate(g).name for g in a.grouping_expressions]
        types = [df.select(k.alias("__shape")).schema.field(0).type for k in keys] if keys else []
        for name, t in zip(names, types):
            if pa.types.is_map(t):
                # Spark refuses map grouping keys (maps have no equality there); quarry's SQL groups them
                from quarry.spark.errors import SparkError
                raise SparkError(f"cannot group by `{name}`, a MAP value",
                                 error_class="GROUP_EXPRESSION_TYPE_IS_NOT_ORDERABLE")
        if any(pa.types.is_struct(t) for t in types):
            return self._group_by_structs(df, keys, names, types, aggs)
        from quarry.logical.spark_functions import is_calendar, is_year_month
        if any(is_calendar(t) for t in types):
            raise not_supported("grouping by a calendar interval (make_interval)")
        if any(is_year_month(t) for t in types):
            return self._group_by_year_months(df, keys, names, types, aggs)
        return df.group_by(*keys).agg(*aggs)

    def _group_by_year_months(self, df, keys, names, types, aggs) -> DataFrame:
        """``groupBy`` of year-month interval keys: grouped by their months, the keys made intervals again
        in the result (quarry's hash grouping holds no extension types)."""
        from quarry.api.column import Column, col
        from quarry.logical.spark_functions import is_year_month, spark_year_month_unary, ym_months
        wrapped = [Column(lambda ctx, k=k: ym_months(k.bind(ctx)), name).alias(name) if is_year_month(t) else k
                   for k, name, t in zip(keys, names, types)]
        out = df.group_by(*wrapped).agg(*aggs)
        months = {name for name, t in zip(names, types) if is_year_month(t)}
        return out.select(*[Column(lambda ctx, c=c: spark_year_month_unary("from_months", col(c).bind(ctx)),
                                   c).alias(c) if i < len(keys) and c in months else col(c)
                            for i, c in enumerate(out.columns)])

    def _expand_sliding_windows(self, df: DataFrame, exprs, keys: list) -> tuple[DataFrame, list]:
        """``groupBy(window(ts, width, slide))``: each row repeated once per window it is in (a
        select with the windows' generator), then grouped by the window column."""
        from quarry.api.column import col
        from quarry.spark.functions.dates import SlidingWindow
        sliding = [i for i, e in enumerate(exprs) if isinstance(self.expressions.translate(e).column, SlidingWindow)]
        if not sliding:
            return df, keys
        extra = {i: f"__window{i}" for i in sliding}
        df = df.select("*", *[keys[i].alias(name) for i, name in extra.items()])
        names = [self.expressions.translate(e).name for e in exprs]
        return df, [col(extra[i]).alias(names[i]) if i in extra else k for i, k in enumerate(keys)]

    def _group_by_structs(self, df: DataFrame, keys: list, names: list, types: list, aggs: list) -> DataFrame:
        """``groupBy(window(...))`` and other STRUCT keys: grouped by the struct's fields (quarry groups
        by scalar keys), the struct put back together over the result."""
        from quarry.api.column import Column, col
        from quarry.logical.nested_functions import struct_pack
        from quarry.spark.functions.nested import extract_value
        flat, rebuild = [], []
        for i, (k, name, t) in enumerate(zip(keys, names, types)):
            if pa.types.is_struct(t):
                parts = [f"__key{i}_{j}" for j in range(t.num_fields)]
                flat += [extract_value(k, f.name).alias(part) for f, part in zip(t, parts)]
                rebuild.append((name, [f.name for f in t], parts))
            else:
                flat.append(k)
                rebuild.append((name, None, None))
        grouped = df.group_by(*flat).agg(*aggs)
        outputs = []
        position = 0
        for name, fields, parts in rebuild:
            if fields is None:
                outputs.append(grouped.columns[position])
                position += 1
                continue
            columns = [col(part) for part in parts]
            outputs.append(Column(lambda ctx, fields=fields, columns=columns:
                                  struct_pack(fields, [c.bind(ctx) for c in columns]), name).alias(name))
            position += len(parts)
        outputs += grouped.columns[position:]
        return grouped.select(*outputs)

    def _set_op(self, s) -> DataFrame:
        left = self.translate(s.left_input)
        right = self.translate(s.right_input)
        op = s.set_op_type
        if not (op == relations_pb2.SetOperation.SET_OP_TYPE_UNION and s.is_all):
            _refuse_maps(left.schema)                # rows compared as wholes: Spark has no map equality
            if op != relations_pb2.SetOperation.SET_OP_TYPE_UNION:
                _refuse_intervals(left.schema, "intersect or except of")
        if op == relations_pb2.SetOperation.SET_OP_TYPE_UNION:
            if s.by_name:
                out = left.union_by_name(right, allow_missing_columns=s.allow_missing_columns)
            else:
                out = left.union(right)
            return out if s.is_all else _distinct(out)
        if s.by_name:
            raise not_supported("intersect/except by name")
        if op == relations_pb2.SetOperation.SET_OP_TYPE_INTERSECT:
            return left.intersect_all(right) if s.is_all else left.intersect(right)
        if op == relations_pb2.SetOperation.SET_OP_TYPE_EXCEPT:
            return left.except_all(right) if s.is_all else left.except_(right)
        raise not_supported("a set operation without a type")

    # -- output ------------------------------------------------------------------------------

    def _show_string(self, s) -> DataFrame:
        df = self.translate(s.input)
        table = df.limit(max(s.num_rows, 0) + 1).to_arrow()
        text = show_string(table, s.num_rows, s.truncate, s.vertical)
        return DataFrame.from_arrow(self.session, pa.table({"show_string": [text]}), "show")

    def _html_string(self, s) -> DataFrame:
        from quarry.spark.show import html_string
        df = self.translate(s.input)
        table = df.limit(max(s.num_rows, 0) + 1).to_arrow()
        text = html_string(table, s.num_rows, s.truncate)
        return DataFrame.from_arrow(self.session, pa.table({"html_string": [text]}), "html")

    # -- na, stat, unpivot (quarry/spark/na.py, stat.py, reshape.py) -------------------------

    def _fill_na(self, r) -> DataFrame:
        from quarry.spark import na
        return na.fill(self, self.translate(r.input), r)

    def _drop_na(self, r) -> DataFrame:
        from quarry.spark import na
        return na.drop(self, self.translate(r.input), r)

    def _replace(self, r) -> DataFrame:
        from quarry.spark import na
        return na.replace(self, self.translate(r.input), r)

    def _summary(self, r) -> DataFrame:
        from quarry.spark import stat
        return stat.summary(self.session, self.translate(r.input), list(r.statistics))

    def _describe(self, r) -> DataFrame:
        from quarry.spark import stat
        return stat.describe(self.session, self.translate(r.input), list(r.cols))

    def _crosstab(self, r) -> DataFrame:
        from quarry.spark import stat
        return stat.crosstab(self.session, self.translate(r.input), r.col1, r.col2)

    def _freq_items(self, r) -> DataFrame:
        from quarry.spark import stat
        support = r.support if r.HasField("support") else 0.01
        return stat.freq_items(self.session, self.translate(r.input), list(r.cols), support)

    def _approx_quantile(self, r) -> DataFrame:
        from quarry.spark import stat
        return stat.approx_quantile(self.session, self.translate(r.input), list(r.cols), list(r.probabilities),
                                    r.relative_error)

    def _cov(self, r) -> DataFrame:
        from quarry.spark import stat
        return stat.cov(self.session, self.translate(r.input), r.col1, r.col2)

    def _corr(self, r) -> DataFrame:
        from quarry.spark import stat
        method = r.method if r.HasField("method") else "pearson"
        return stat.corr(self.session, self.translate(r.input), r.col1, r.col2, method)

    def _sample_by(self, r) -> DataFrame:
        from quarry.spark import stat
        return stat.sample_by(self, self.translate(r.input), r)

    def _cached_remote_relation(self, c) -> DataFrame:
        return DataFrame.from_arrow(self.session, self.state.checkpointed(c.relation_id), "checkpoint")

    def _catalog(self, c) -> DataFrame:
        from quarry.spark.catalog import catalog_relation
        return catalog_relation(self, c)

    def _transpose(self, r) -> DataFrame:
        from quarry.spark.reshape import transpose
        return transpose(self, self.translate(r.input), r)

    def _to_schema(self, r) -> DataFrame:
        from quarry.spark.reshape import to_schema
        return to_schema(self, self.translate(r.input), r)

    def _unpivot(self, u) -> DataFrame:
        from quarry.spark.reshape import unpivot
        return unpivot(self, self.translate(u.input), u)


def _plain_group_by(a) -> bool:
    """Whether the Aggregate ``a`` is a plain ``groupBy`` (no grouping sets, no pivot, no ``grouping()``)."""
    if a.group_type not in (relations_pb2.Aggregate.GROUP_TYPE_GROUPBY, relations_pb2.Aggregate.GROUP_TYPE_UNSPECIFIED):
        return False
    from quarry.spark.grouping import uses_grouping
    return not uses_grouping(a.aggregate_expressions)


# ---------------------------------------------------------------------------- files

def _schema_from_text(text: str, time_zone: str) -> pa.Schema:
    """A schema sent as text: Spark's JSON form (``{"type": "struct", ...}``) or DDL (``a INT, b STRING``)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        import json
        t = _json_type(json.loads(stripped), time_zone)
    else:
        t = parse_ddl(stripped, time_zone)
    if not pa.types.is_struct(t):
        t = pa.struct([pa.field("value", t)])
    return pa.schema([t.field(i) for i in range(t.num_fields)])


_JSON_SIMPLE = {"null": pa.null(), "boolean": pa.bool_(), "byte": pa.int8(), "short": pa.int16(),
                "integer": pa.int32(), "long": pa.int64(), "float": pa.float32(), "double": pa.float64(),
                "string": pa.string(), "binary": pa.binary(), "date": pa.date32(),
                "timestamp_ntz": pa.timestamp("us"), "void": pa.null()}


def _json_type(t, time_zone: str) -> pa.DataType:
    """A type in Spark's JSON schema form (``StructType.json()``)."""
    if isinstance(t, str):
        if t in _JSON_SIMPLE:
            return _JSON_SIMPLE[t]
        if t == "timestamp":
            return pa.timestamp("us", tz=time_zone)
        if t.startswith("decimal"):
            inside = t[t.index("(") + 1:t.index(")")].split(",")
            return pa.decimal128(int(inside[0]), int(inside[1]))
        return parse_ddl(t, time_zone)
    kind = t.get("type")
    if kind == "struct":
        return pa.struct([pa.field(f["name"], _json_type(f["type"], time_zone), f.get("nullable", True))
                          for f in t["fields"]])
    if kind == "array":
        return pa.list_(pa.field("element", _json_type(t["elementType"], time_zone), t.get("containsNull", True)))
    if kind == "map":
        return pa.map_(_json_type(t["keyType"], time_zone), _json_type(t["valueType"], time_zone))
    raise not_supported(f"the schema type `{kind}`")


def _zone_free(table: pa.Table, time_zone: str = "UTC") -> pa.Table:
    """Timestamps with a zone as quarry's zone-less timestamps: the wall time in the session time zone
    (``spark.sql.session.timeZone``), which is what Spark shows and computes fields (hour, day) in."""
    if not any(pa.types.is_timestamp(f.type) and f.type.tz is not None for f in table.schema):
        return table
    fields = [pa.field(f.name, pa.timestamp("us"), f.nullable) if pa.types.is_timestamp(f.type) and f.type.tz
              else f for f in table.schema]
    columns = [_session_wall_time(c, time_zone) if pa.types.is_timestamp(c.type) and c.type.tz else c
               for c in table.columns]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _session_wall_time(column, time_zone: str):
    """Zoned instants as the session zone's wall times (zone-less)."""
    zoned = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us", tz=time_zone))
    return pc.local_timestamp(zoned).cast(pa.timestamp("us"))


def _check_options(fmt: str, options: dict, allowed: set) -> None:
    for key in options:
        if key not in allowed:
            raise not_supported(f"the {fmt} option `{key}`")


def read_frame(session, fmt: str, paths: list[str], options: dict, schema: pa.Schema | None,
               time_zone: str = "UTC") -> DataFrame:
    """``spark.read.format(fmt).load(paths)`` as a DataFrame. Parquet and Delta without a user schema
    are scans, as SQL's ``read_parquet`` / ``delta_scan`` make them (local or on an object store): the
    files are planned from their footers (or the Delta log) and read by each query, with its column
    and row-group pruning, not loaded into the server first. The other formats, and a user schema
    (applied by position), read the files into memory (see :func:`read_files`)."""
    if fmt in ("parquet", "delta") and schema is None:
        session.check_path_allowed(paths)
        if fmt == "parquet":
            _check_options(fmt, options, _PARQUET_OPTIONS)
            return session.read_parquet(paths if len(paths) > 1 else paths[0], name=fmt)
        version, timestamp = _delta_version(options, paths)
        return session.read_delta(paths[0], version=version, timestamp=timestamp, name=fmt)
    return DataFrame.from_arrow(session, read_files(session, fmt, paths, options, schema, time_zone), fmt)


def _delta_version(options: dict, paths: list[str]):
    """``(versionAsOf, timestampAsOf)`` of a Delta read, as Delta Lake's reader takes them."""
    _check_options("delta", options, _DELTA_OPTIONS)
    if len(paths) != 1:
        raise not_supported("reading several Delta tables in one load")
    if "versionasof" in options and "timestampasof" in options:
        raise SparkError("give versionAsOf or timestampAsOf, not both")
    version = options.get("versionasof")
    try:
        version = int(version) if version is not None else None
    except ValueError:
        raise SparkError(f"versionAsOf takes a version number, not `{version}`") from None
    return version, options.get("timestampasof")


def read_files(session, fmt: str, paths: list[str], options: dict, schema: pa.Schema | None,
               time_zone: str = "UTC") -> pa.Table:
    """Read ``paths`` in format ``fmt`` into one Arrow table, as ``spark.read.format(fmt)`` does; every
    path passes the session's sandbox first. ``time_zone`` is the session's, the zone csv timestamps
    with an offset are read into."""
    from quarry.catalog.providers import expand_paths
    if fmt not in ("parquet", "csv", "json", "text", "delta"):
        raise not_supported(f"reading the `{fmt}` format")
    session.check_path_allowed(paths)
    if fmt == "delta":
        # spark.read.format("delta").option("versionAsOf", 3).load(path), as Delta Lake's reader takes it
        version, timestamp = _delta_version(options, paths)
        table = session.read_delta(paths[0], version=version, timestamp=timestamp).to_arrow()
        return _apply_schema(table, schema) if schema is not None else table
    if fmt == "parquet":
        _check_options(fmt, options, _PARQUET_OPTIONS)
        table = session.read_parquet(paths if len(paths) > 1 else paths[0]).to_arrow()
        return _apply_schema(table, schema) if schema is not None else table
    with session.using_storage():
        files = expand_paths(paths)
        return _read_small_files(fmt, files, options, schema, time_zone)


def _read_small_files(fmt: str, files: list[str], options: dict, schema: pa.Schema | None,
                      time_zone: str = "UTC") -> pa.Table:
    if fmt == "csv":
        _check_options(fmt, options, _CSV_OPTIONS)
        return _read_csv(files, options, schema, time_zone)
    if fmt == "json":
        _check_options(fmt, options, _JSON_OPTIONS)
        if _true(options.get("multiline")):
            raise not_supported("multiLine JSON")
        import pyarrow.json as pjson
        parse = pjson.ParseOptions(explicit_schema=schema) if schema is not None else None
        tables = [pjson.read_json(_open(f), parse_options=parse) for f in files]
        table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
        # Spark orders inferred JSON columns by name
        return table if schema is not None else table.select(sorted(table.column_names))
    if fmt == "text":
        _check_options(fmt, options, _TEXT_OPTIONS)
        if _true(options.get("wholetext")):
            raise not_supported("wholetext")
        return _read_text(files)
    raise not_supported(f"reading the `{fmt}` format")


def _open(path: str):
    """A binary input stream of a local file or an object-store URI (the session's credentials)."""
    from quarry.catalog.filesystems import filesystem, is_remote, remote_error
    if not is_remote(path):
        return open(path, "rb")
    fs, inner = filesystem(path)
    try:
        return fs.open_input_stream(inner)
    except (OSError, pa.ArrowException) as exc:
        raise remote_error(path, exc) from None


def _read_text(files: list[str]) -> pa.Table:
    """Each line of each file as a row of the string column ``value`` (line ends dropped)."""
    chunks = []
    for f in files:
        with _open(f) as fh:
            data = fh.read().decode("utf-8", errors="replace")
        lines = pc.split_pattern_regex(pa.array([data]), r"\r?\n").flatten()
        if data.endswith("\n") or not data:
            lines = lines.slice(0, len(lines) - 1)
        chunks.append(lines)
    return pa.table({"value": pa.chunked_array(chunks, pa.string())})


def _csv_char(options: dict, key: str, default: str):
    """A one-character csv option (``sep``, ``quote``, ``escape``) as Spark's CSVOptions reads it: ``\\t``
    (backslash, t) is a tab, an empty ``quote``/``escape`` turns quoting/escaping off (``None``)."""
    value = options.get(key, default)
    if value == "\\t":
        value = "\t"
    if value == "":
        return None
    if len(value) != 1:
        if key == "sep":
            raise not_supported(f"a csv delimiter of several characters (`{value}`)")
        raise SparkError(f"{key} cannot be more than one character", error_class="INVALID_OPTION_VALUE",
                         exception="IllegalArgumentException")
    return value


# every character Univocity (Spark's CSV parser) counts as white space: code points up to U+0020
_CSV_SPACE = "".join(chr(i) for i in range(0x21))


def _csv_parse_options(options: dict):
    """Arrow's ParseOptions for Spark's sep/quote/escape/multiLine (defaults: ``,``, ``"``, ``\\``)."""
    import pyarrow.csv as pcsv
    if "sep" not in options and "delimiter" in options:
        options = {**options, "sep": options["delimiter"]}
    delimiter = _csv_char(options, "sep", ",")
    if delimiter is None:
        raise SparkError("Delimiter cannot be empty string", error_class="INVALID_DELIMITER_VALUE.EMPTY_STRING",
                         exception="IllegalArgumentException")
    quote = _csv_char(options, "quote", '"')
    escape = _csv_char(options, "escape", "\\")
    if escape == quote or quote is None:   # Spark: escape set to the quote character is RFC 4180's doubled quote
        escape = None
    for char in (delimiter, quote, escape):
        if char is not None and not char.isascii():
            raise not_supported(f"the csv character `{char}` outside ASCII as a delimiter, quote or escape")
    return pcsv.ParseOptions(delimiter=delimiter, quote_char=quote or False, double_quote=quote is not None,
                             escape_char=escape or False, newlines_in_values=_true(options.get("multiline")))


def _csv_strings(column: pa.ChunkedArray, options: dict) -> pa.ChunkedArray:
    """A string column read by Arrow (an unquoted empty field NULL, a quoted one ``""``) as Spark's reader
    gives it: white space trimmed as ``ignoreLeading/TrailingWhiteSpace`` ask, a value equal to
    ``nullValue`` NULL, and a quoted empty field ``emptyValue`` (NULL when that is also ``nullValue``)."""
    if _true(options.get("ignoreleadingwhitespace")):
        column = pc.utf8_ltrim(column, characters=_CSV_SPACE)
    if _true(options.get("ignoretrailingwhitespace")):
        column = pc.utf8_rtrim(column, characters=_CSV_SPACE)
    null_value = options.get("nullvalue", "")
    empty_value = options.get("emptyvalue", "")
    null = pa.scalar(None, pa.string())
    is_null = pc.equal(column, null_value)
    empty = null if empty_value == null_value else pa.scalar(empty_value)
    column = pc.if_else(pc.equal(column, ""), empty, column)
    return pc.if_else(is_null, null, column) if null_value != "" else column


def _spark_escapes(data: bytes, quote: str, escape: str) -> tuple[bytes, np.ndarray | None]:
    """``data`` rewritten so that Arrow's reader, escaping with ``escape``, reads what Spark's (Univocity's)
    reads: Arrow takes an escape character anywhere as "the next character is literal", while Spark
    escapes only inside a quoted value (``\\"`` a quote, ``\\\\`` one backslash) and keeps a backslash
    elsewhere (``C:\\dir`` unquoted, a lone ``\\`` before another character inside quotes) as it is.
    Such literal backslashes are doubled here, with numpy over the positions of the file's quotes and
    escapes only: a quote is escaped when an odd run of backslashes precedes it, and the other quotes
    open and close values. Also returns a mask of the added bytes (None when none are)."""
    b = np.frombuffer(data, np.uint8)
    esc_byte, quote_byte = ord(escape), ord(quote)
    is_esc_b = b == esc_byte
    if not is_esc_b.any():
        return data, None
    pos = np.flatnonzero(is_esc_b | (b == quote_byte))           # the only characters that matter, in order
    esc = b[pos] == esc_byte
    k = len(pos)
    idx = np.arange(k)
    adjacent = np.concatenate(([False], pos[1:] == pos[:-1] + 1))   # right after the previous one of them
    prev_esc = adjacent & np.concatenate(([False], esc[:-1]))
    run_start = np.maximum.accumulate(np.where(esc & ~prev_esc, idx, 0))
    odd = esc & ((idx - run_start) % 2 == 0)                     # an odd count of escapes up to here in its run
    real_quote = ~esc & ~(prev_esc & np.concatenate(([False], odd[:-1])))
    inside = (np.cumsum(real_quote) - real_quote) % 2 == 1        # after an opening quote, before its closing one
    next_adjacent = np.concatenate((adjacent[1:], [False]))
    next_esc = next_adjacent & np.concatenate((esc[1:], [False]))
    next_quote = next_adjacent & np.concatenate((~esc[1:], [False]))
    # inside quotes: a run's pairs are escaped backslashes, its odd last one escapes a quote or is literal
    lone = esc & ~next_esc & odd & ~next_quote
    literal = esc & (~inside | lone)
    if not literal.any():
        return data, None
    added = np.insert(np.zeros(len(b), bool), pos[literal], True)
    return np.insert(b, pos[literal], esc_byte).tobytes(), added


def _csv_inferred_int(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Spark's CSV inference makes a column of integers ``int`` when every value fits, ``bigint`` only
    past that (Arrow infers int64 for both)."""
    if not pa.types.is_int64(column.type):
        return column
    bounds = pc.min_max(column)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None or (-2**31 <= low and high < 2**31):
        return column.cast(pa.int32())
    return column


_CSV_MODES = ("PERMISSIVE", "DROPMALFORMED", "FAILFAST")


class _Misfit(Exception):
    """Some record of a CSV file has another number of fields than the header or the schema."""


def _read_csv(files: list[str], options: dict, schema: pa.Schema | None, time_zone: str = "UTC") -> pa.Table:
    """Spark's csv reader: every column a string unless ``inferSchema`` or a schema is given, through
    Arrow's reader with Spark's separator, quote and backslash escape; nullValue, emptyValue and the
    white space options applied to the string columns with Arrow kernels (:func:`_csv_strings`). A
    malformed record (another number of fields than the schema or the header, or a value that does not
    parse as its column's type) is kept with NULLs (``mode=PERMISSIVE``, Spark's default; its text in
    the schema's ``columnNameOfCorruptRecord`` column), dropped (``DROPMALFORMED``) or raises
    (``FAILFAST``). A user schema applies by position, as with Spark's default enforceSchema=true."""
    mode = str(options.get("mode", "PERMISSIVE")).upper()
    if mode not in _CSV_MODES:
        raise SparkError(f"`{options['mode']}` is not a csv parse mode (PERMISSIVE, DROPMALFORMED or FAILFAST)",
                         error_class="INVALID_OPTION_VALUE", exception="IllegalArgumentException")
    if "enforceschema" in options and not _true(options["enforceschema"]):
        raise not_supported("enforceSchema=false (a schema applies by position, as with enforceSchema=true)")
    _, fields = _corrupt_column(options, schema)
    if _true(options.get("inferschema")) and schema is None:
        for key in ("dateformat", "timestampformat"):
            if key in options:
                raise not_supported(f"the csv option `{key}` with inferSchema (give a schema)")
    encoding = options.get("encoding") or options.get("charset") or "utf-8"
    tables = []
    for f in files:
        try:
            with _open(f) as fh:
                data = fh.read()
            if encoding.replace("-", "").lower() != "utf8":
                data = data.decode(encoding).encode("utf-8")
        except (pa.ArrowException, OSError, UnicodeError, LookupError) as exc:
            raise _csv_file_error(f, exc) from None
        tables.append(_read_csv_data(f, data, options, fields, mode, time_zone))
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    # a user schema's columns in its order, the corrupt record column among them (or left out)
    return table.select(schema.names) if schema is not None else table


def _csv_file_error(path: str, exc: Exception) -> SparkError:
    return SparkError(f"cannot read CSV file `{os.path.basename(path)}`: {exc}", exception="SparkRuntimeException")


def _corrupt_column(options: dict, schema: pa.Schema | None) -> tuple[str | None, list | None]:
    """The user schema's ``columnNameOfCorruptRecord`` column (if it has one; Spark's default name is
    ``_corrupt_record``) and the schema's other fields, the ones the file's fields fill."""
    if schema is None:
        return None, None
    name = options.get("columnnameofcorruptrecord", "_corrupt_record")
    if name not in schema.names:
        return None, list(schema)
    field = schema.field(name)
    if not pa.types.is_string(field.type) or not field.nullable:
        raise SparkError(f"The field for corrupt records must be string type and nullable (`{name}`)",
                         error_class="INVALID_CORRUPT_RECORD_TYPE", parameters={"columnName": f"`{name}`",
                                                                                 "actualType": str(field.type)})
    return name, [f for f in schema if f.name != name]


def _csv_line_sep(data: bytes, options: dict) -> bytes:
    """``data`` with Spark's ``lineSep`` (one character) made the line break Arrow's reader splits at."""
    sep = options.get("linesep")
    if sep is None or sep in ("\n", "\r\n", "\r"):
        return data
    if len(sep) != 1:
        raise SparkError(f"lineSep is one character when reading csv, not `{sep}`", error_class="INVALID_OPTION_VALUE",
                         exception="IllegalArgumentException")
    if b"\n" in data or b"\r" in data:
        raise not_supported(f"line breaks in a csv file read with lineSep `{sep}` (they would end records too)")
    return data.replace(sep.encode("utf-8"), b"\n")


def _read_csv_data(path: str, data: bytes, options: dict, fields: list | None, mode: str,
                   time_zone: str = "UTC") -> pa.Table:
    """One CSV file's bytes as a table (see :func:`_read_csv`): ``fields`` are the user schema's (without
    the corrupt record column), or None."""
    import pyarrow.csv as pcsv
    from quarry.spark import csv_records
    header = _true(options.get("header"))
    infer = _true(options.get("inferschema")) and fields is None
    parse = _csv_parse_options(options)
    null_value = options.get("nullvalue", "")
    read = pcsv.ReadOptions(autogenerate_column_names=not header)
    data = _csv_line_sep(data, options)
    added = None
    if parse.escape_char:
        data, added = _spark_escapes(data, parse.quote_char, parse.escape_char)
    quote = parse.quote_char or None
    records = None

    def scanned():
        return csv_records.scan(data, parse.delimiter, quote, parse.escape_char or None, added)
    comment = _csv_comment(options)
    if comment is not None:
        records = scanned()
        lines = records.data[records.starts] == ord(comment) if len(records.starts) else np.zeros(0, bool)
        if lines.any():
            records = records.drop(lines)
            data, added = records.data.tobytes(), records.added

    def strings_of(data):
        probe = pcsv.open_csv(pa.BufferReader(data), read_options=read, parse_options=parse)
        names = probe.schema.names
        probe.close()
        return pcsv.read_csv(pa.BufferReader(data), read_options=read, parse_options=parse,
                             convert_options=pcsv.ConvertOptions(
                                 column_types={n: pa.string() for n in names}, strings_can_be_null=True,
                                 quoted_strings_can_be_null=False, null_values=[""]))
    misfit = None
    try:
        try:
            strings = strings_of(data)
            if fields is not None and strings.num_columns != len(fields):
                raise _Misfit
        except (_Misfit, pa.ArrowInvalid) as exc:
            if isinstance(exc, pa.ArrowInvalid) and not re.search(r"Expected \d+ columns", str(exc)):
                raise
            records = records or scanned()
            counts = records.fields
            skip = np.zeros(len(counts), bool)
            skip[:int(header)] = True
            width = len(fields) if fields is not None else int(counts[0])
            misfit = (counts != width) & ~skip
            if mode == "FAILFAST" and misfit.any():
                raise csv_records.malformed_error(records.texts()[int(np.argmax(misfit))].as_py())
            data = records.fit(width, np.zeros(len(counts), bool))
            strings = strings_of(data)
            misfit = misfit[int(header):]
        typed = None
        if infer:
            # inferred types from a second read, where nullValue and every empty field are NULL
            typed = pcsv.read_csv(pa.BufferReader(data), read_options=read, parse_options=parse,
                                  convert_options=pcsv.ConvertOptions(
                                      strings_can_be_null=True, quoted_strings_can_be_null=True,
                                      null_values=sorted({"", null_value})))
    except (pa.ArrowException, OSError, UnicodeError, LookupError) as exc:
        raise _csv_file_error(path, exc) from None
    columns = [_csv_strings(strings.column(i), options) for i in range(strings.num_columns)]
    bad = misfit if misfit is not None else np.zeros(strings.num_rows, bool)
    if fields is not None:
        converted = [csv_records.convert(c, f.type, options, time_zone) for c, f in zip(columns, fields)]
        columns = [c for c, _ in converted]
        for _, failed in converted:
            bad = bad | np.asarray(failed.to_numpy(zero_copy_only=False), bool)
        names = [f.name for f in fields]
    else:
        if typed is not None:
            columns = [_csv_inferred_int(typed.column(i)) if not pa.types.is_string(typed.column(i).type)
                       and not pa.types.is_null(typed.column(i).type) else c for i, c in enumerate(columns)]
        names = strings.column_names if header else [f"_c{i}" for i in range(strings.num_columns)]
    table = pa.Table.from_arrays(columns, names=names)
    corrupt = options.get("columnnameofcorruptrecord", "_corrupt_record")
    if not bad.any():
        return table.append_column(corrupt, pa.nulls(table.num_rows, pa.string())) if fields is not None else table
    texts = (records or scanned()).texts()[int(header):]
    if mode == "FAILFAST":
        raise csv_records.malformed_error(texts[int(np.argmax(bad))].as_py())
    if mode == "DROPMALFORMED":
        return table.filter(pa.array(~bad)).append_column(corrupt, pa.nulls(int((~bad).sum()), pa.string())) \
            if fields is not None else table.filter(pa.array(~bad))
    if fields is None:
        return table
    return table.append_column(corrupt, pc.if_else(pa.array(bad), texts, pa.scalar(None, pa.string())))


def _csv_comment(options: dict) -> str | None:
    """Spark's ``comment``: one character that starts the lines to skip (off by default)."""
    comment = options.get("comment")
    if comment in (None, "", "\u0000"):
        return None
    if len(comment) != 1:
        raise SparkError(f"comment is one character, not `{comment}`", error_class="INVALID_OPTION_VALUE",
                         exception="IllegalArgumentException")
    return comment


def _apply_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table``'s columns, by position, under ``schema``'s names and types (Spark's user schema)."""
    if table.num_columns != len(schema):
        raise SparkError(f"the schema has {len(schema)} columns, the data {table.num_columns}",
                         exception="SparkRuntimeException")
    try:
        columns = [c.cast(f.type) for c, f in zip(table.columns, schema)]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SparkError(f"the data does not fit the schema: {exc}", error_class="CAST_INVALID_INPUT",
                         exception="SparkRuntimeException") from None
    return pa.Table.from_arrays(columns, names=schema.names)


def _has_map(t: pa.DataType) -> bool:
    if pa.types.is_map(t):
        return True
    if pa.types.is_struct(t):
        return any(_has_map(f.type) for f in t)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_map(t.value_type)
    return False


def _refuse_maps(schema: pa.Schema) -> None:
    """Spark's check for distinct, dropDuplicates and the set operations: MAP values have no equality."""
    for f in schema:
        if _has_map(f.type):
            from quarry.spark.types import from_arrow, simple_string
            raise SparkError(f"cannot have MAP type columns in DataFrame which calls set operations (INTERSECT, "
                             f"EXCEPT, etc.), but the type of column `{f.name}` is "
                             f"\"{simple_string(from_arrow(f.type)).upper()}\"",
                             error_class="UNSUPPORTED_FEATURE.SET_OPERATION_ON_MAP_TYPE",
                             parameters={"colName": f"`{f.name}`", "dataType": simple_string(from_arrow(f.type))})


def _refuse_intervals(schema: pa.Schema, what: str) -> None:
    """Year-month and calendar intervals are extension types that quarry's hash keys do not take."""
    from quarry.logical.spark_functions import is_calendar, is_year_month
    for f in schema:
        if is_year_month(f.type) or is_calendar(f.type):
            raise not_supported(f"{what} the interval column `{f.name}` (a year-month or calendar interval); "
                                "compare the intervals, or cast them to STRING first")


def _distinct(df: DataFrame) -> DataFrame:
    """``df.distinct()``; year-month interval columns are deduplicated by their months (quarry's hash keys hold
    no extension types) and made intervals again."""
    from quarry.api.column import Column, col
    from quarry.logical.spark_functions import is_calendar, is_year_month, spark_year_month_unary, ym_months
    types = {f.name: f.type for f in df.schema}
    if any(is_calendar(t) for t in types.values()):
        raise not_supported("distinct rows with a calendar interval column (make_interval)")
    months = [n for n, t in types.items() if is_year_month(t)]
    if not months:
        return df.distinct()
    inner = df.select(*[Column(lambda ctx, n=n: ym_months(col(n).bind(ctx)), n).alias(n) if n in months else col(n)
                        for n in types]).distinct()
    return inner.select(*[Column(lambda ctx, n=n: spark_year_month_unary("from_months", col(n).bind(ctx)), n).alias(n)
                          if n in months else col(n) for n in types])
