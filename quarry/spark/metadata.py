"""Column metadata (``df.withMetadata``, ``col.alias(name, metadata={...})``) on the schemas the
client receives.

quarry's plans carry no per-column metadata, so it is read from the relation the client sent:
an alias with metadata sets it, a column passed through (a plain reference, a star, a
rename, the relations that keep their input's columns: filter, sort, limit, ...) keeps it,
anything computed anew has none, as in Spark. The JSON text is put on the matching fields of
the schema sent to the client.
"""

from __future__ import annotations

__all__ = ["column_metadata", "with_metadata"]

# relations whose output columns are their input's columns
_PASS = {"filter", "sort", "limit", "offset", "tail", "deduplicate", "sample", "hint", "repartition",
         "repartition_by_expression", "subquery_alias"}


def _last(identifier: str) -> str:
    from quarry.spark.expressions import split_identifier
    return split_identifier(identifier)[-1].lower()


def column_metadata(rel) -> dict[str, str]:
    """Lower-cased column name -> its metadata (JSON text), for the columns of ``rel`` that have some."""
    kind = rel.WhichOneof("rel_type")
    if kind is None:
        return {}
    m = getattr(rel, kind)
    if kind in _PASS:
        return column_metadata(m.input)
    if kind == "with_columns":
        out = column_metadata(m.input)
        for a in m.aliases:
            name = a.name[0].lower() if a.name else ""
            if a.HasField("metadata") and a.metadata:
                out[name] = a.metadata
            else:
                out.pop(name, None)
        return out
    if kind == "project":
        child = column_metadata(m.input) if m.HasField("input") else {}
        if not child and not any(e.WhichOneof("expr_type") == "alias" and e.alias.HasField("metadata")
                                 for e in m.expressions):
            return {}
        out: dict[str, str] = {}
        for e in m.expressions:
            t = e.WhichOneof("expr_type")
            if t == "alias" and e.alias.name:
                name = e.alias.name[0].lower()
                if e.alias.HasField("metadata") and e.alias.metadata:
                    out[name] = e.alias.metadata
                elif e.alias.expr.WhichOneof("expr_type") == "unresolved_attribute":
                    source = _last(e.alias.expr.unresolved_attribute.unparsed_identifier)
                    if source in child:
                        out[name] = child[source]
            elif t == "unresolved_attribute":
                source = _last(e.unresolved_attribute.unparsed_identifier)
                if source in child:
                    out[source] = child[source]
            elif t == "unresolved_star":
                out.update(child)
        return out
    if kind == "with_columns_renamed":
        out = column_metadata(m.input)
        renames = list(m.rename_columns_map.items()) + [(r.col_name, r.new_col_name) for r in m.renames]
        for old, new in renames:
            if old.lower() in out:
                out[new.lower()] = out.pop(old.lower())
        return out
    if kind == "drop":
        out = column_metadata(m.input)
        for name in m.column_names:
            out.pop(name.lower(), None)
        for e in m.columns:
            if e.WhichOneof("expr_type") == "unresolved_attribute":
                out.pop(_last(e.unresolved_attribute.unparsed_identifier), None)
        return out
    return {}


def with_metadata(data_type, rel):
    """``data_type`` (a struct DataType message) with the metadata of ``rel``'s columns on its fields."""
    meta = column_metadata(rel)
    if meta and data_type.WhichOneof("kind") == "struct":
        for f in data_type.struct.fields:
            text = meta.get(f.name.lower())
            if text:
                f.metadata = text
    return data_type
