"""Name resolution scopes for the SQL binder (and for SQL text inside the DataFrame API).

A :class:`Scope` is one query level: the relations its FROM clause brought in
(each a qualifier and its fields) and a parent scope for correlated subqueries.
Resolving a name that only the parent knows yields an *outer reference*: a
ColumnRef whose id the subquery's own plan does not produce.

A ``JOIN ... USING`` changes what unqualified names and ``*`` mean (the key
becomes one merged column); the plan builder decides that shape
(:func:`quarry.logical.builder.join_using`) and the scope records it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quarry.errors import AmbiguousColumnError, BindError, UnknownColumnError, suggest
from quarry.logical.expressions import Field


@dataclass
class Relation:
    """One FROM item as seen by name resolution (qualifier None: columns without a table name,
    such as the merged keys of a FULL JOIN ... USING)."""

    qualifier: str | None
    fields: list[Field]
    # columns a name finds only when no column of the FROM clause has it, and which `*` leaves out:
    # a table's `rowid` (lowercase name -> field)
    hidden: dict[str, Field] = field(default_factory=dict)


@dataclass
class Scope:
    relations: list[Relation] = field(default_factory=list)
    parent: "Scope | None" = None
    ctes: dict = field(default_factory=dict)
    # merged USING columns: lowercase name -> id of the column an unqualified name resolves to
    using: dict[str, int] = field(default_factory=dict)
    # ids `*` expands to, in order, once a USING join has decided them (None: every relation's columns)
    star: list[int] | None = None

    def child(self) -> "Scope":
        """A scope for a subquery: sees this one as its outer scope, and its CTEs."""
        return Scope(parent=self, ctes=dict(self.ctes))

    def all_fields(self) -> list[Field]:
        return [f for r in self.relations for f in r.fields]

    def own_ids(self) -> set[int]:
        """The ids of every column this level's FROM clause brings in, hidden ones too."""
        return {f.id for r in self.relations for f in [*r.fields, *r.hidden.values()]}

    def field_by_id(self, fid: int) -> Field:
        """This level's current field (with its current nullability) of column id ``fid``."""
        return next(f for f in self.all_fields() if f.id == fid)

    def star_fields(self) -> list[Field]:
        """The columns an unqualified ``*`` stands for here, in order."""
        if self.star is None:
            return self.all_fields()
        by_id = {f.id: f for f in self.all_fields()}
        return [by_id[i] for i in self.star]

    def find_cte(self, name: str):
        return self.ctes.get(name.lower())

    def resolve(self, name: str, qualifier: str | None = None) -> Field:
        """The field ``qualifier.name`` names, searching outward through parent scopes."""
        scope: Scope | None = self
        while scope is not None:
            found = scope._lookup(name, qualifier)
            if found is not None:
                return found
            scope = scope.parent
        raise self._unknown(name, qualifier)

    def _lookup(self, name: str, qualifier: str | None) -> Field | None:
        lname = name.lower()
        if qualifier is None and lname in self.using:
            return self.field_by_id(self.using[lname])
        matches = []
        for rel in self.relations:
            if qualifier is not None and (rel.qualifier is None or rel.qualifier.lower() != qualifier.lower()):
                continue
            for f in rel.fields:
                if f.name.lower() == lname:
                    matches.append((rel, f))
        if not matches:
            # a hidden column (rowid), when no column of any FROM item has the name
            matches = [(rel, rel.hidden[lname]) for rel in self.relations if lname in rel.hidden and
                       (qualifier is None or rel.qualifier is not None and rel.qualifier.lower() == qualifier.lower())]
        if not matches:
            return None
        if len(matches) > 1:
            raise AmbiguousColumnError(name, [r.qualifier for r, _ in matches])
        return matches[0][1]

    def _unknown(self, name: str, qualifier: str | None) -> BindError:
        if qualifier is not None:
            quals = set()
            scope = self
            while scope is not None:
                quals |= {r.qualifier.lower() for r in scope.relations if r.qualifier}
                scope = scope.parent
            if qualifier.lower() not in quals:
                return BindError(f"table `{qualifier}` is not in the FROM clause",
                                 hint=suggest(qualifier, quals) or "add it to FROM, or fix the qualifier",
                                 subject=qualifier)
        candidates = []
        scope = self
        while scope is not None:
            candidates += [f.name for f in scope.all_fields()]
            scope = scope.parent
        hint = suggest(name, candidates)
        if name.lower() == "rowid" and hint is None:
            hint = "rowid is a column of tables and files only, not of views, CTEs, subqueries or table functions"
        elif hint is None and candidates:
            shown = ", ".join(sorted(set(candidates))[:12])
            hint = f"columns in scope: {shown}"
        return UnknownColumnError(name, qualifier, hint=hint)
