"""Name resolution scopes for the SQL binder.

A :class:`Scope` is one query level: the relations its FROM clause brought in
(each a qualifier and its fields) and a parent scope for correlated subqueries.
Resolving a name that only the parent knows yields an *outer reference*: a
ColumnRef whose id the subquery's own plan does not produce.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quarry.errors import BindError, suggest
from quarry.logical.expressions import Field


@dataclass
class Relation:
    """One FROM item as seen by name resolution."""

    qualifier: str | None
    fields: list[Field]
    hidden: set[int] = field(default_factory=set)   # ids excluded from `*` (USING duplicates)


@dataclass
class Scope:
    relations: list[Relation] = field(default_factory=list)
    parent: "Scope | None" = None
    ctes: dict = field(default_factory=dict)
    # merged USING columns: lowercase name -> field that an unqualified name resolves to
    using: dict[str, Field] = field(default_factory=dict)
    # field id -> the merged USING column that replaces it in an unqualified `*` (RIGHT/FULL joins)
    star_replacements: dict[int, Field] = field(default_factory=dict)

    def child(self) -> "Scope":
        """A scope for a subquery: sees this one as its outer scope, and its CTEs."""
        return Scope(parent=self, ctes=dict(self.ctes))

    def all_fields(self) -> list[Field]:
        return [f for r in self.relations for f in r.fields]

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
            return self.using[lname]
        matches = []
        for rel in self.relations:
            if qualifier is not None and (rel.qualifier is None or rel.qualifier.lower() != qualifier.lower()):
                continue
            for f in rel.fields:
                if f.name.lower() == lname:
                    matches.append((rel, f))
        if not matches:
            return None
        if len(matches) > 1:
            quals = sorted({(r.qualifier or "?") for r, _ in matches})
            raise BindError(f"column reference `{name}` is ambiguous",
                            hint="qualify it: " + " or ".join(f"{q}.{name}" for q in quals))
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
                                 hint=suggest(qualifier, quals) or "add it to FROM, or fix the qualifier")
        candidates = []
        scope = self
        while scope is not None:
            candidates += [f.name for f in scope.all_fields()]
            scope = scope.parent
        full = f"{qualifier}.{name}" if qualifier else name
        hint = suggest(name, candidates)
        if hint is None and candidates:
            shown = ", ".join(sorted(set(candidates))[:12])
            hint = f"columns in scope: {shown}"
        return BindError(f"column `{full}` does not exist", hint=hint)
