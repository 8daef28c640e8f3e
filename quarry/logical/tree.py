"""The tree machinery shared by expressions and plan nodes.

Subclasses are frozen dataclasses that list their child-valued fields in
``_child_fields`` (a field holds one node, a tuple of nodes, or None).
``transform_up``/``transform_down`` return the very same object when nothing
changed, so "did the rewrite fire" is ``new is not old``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator, TypeVar

N = TypeVar("N", bound="TreeNode")


def gather(node, names: tuple[str, ...]) -> tuple:
    """The values of fields ``names`` flattened (tuples expanded, None skipped)."""
    out = []
    for name in names:
        value = getattr(node, name)
        if isinstance(value, tuple):
            out.extend(value)
        elif value is not None:
            out.append(value)
    return tuple(out)


def rebuild(node, names: tuple[str, ...], items) -> object:
    """``node`` with fields ``names`` refilled from ``items`` (same shape as :func:`gather`)."""
    items = tuple(items)
    if all(a is b for a, b in zip(items, gather(node, names))):
        return node
    it = iter(items)
    updates = {}
    for name in names:
        value = getattr(node, name)
        if isinstance(value, tuple):
            updates[name] = tuple(next(it) for _ in value)
        elif value is not None:
            updates[name] = next(it)
    return replace(node, **updates)


class TreeNode:
    _child_fields: tuple[str, ...] = ()

    def children(self) -> tuple:
        return gather(self, self._child_fields)

    def with_children(self: N, children) -> N:
        return rebuild(self, self._child_fields, children)

    def transform_up(self: N, fn: Callable[[N], N]) -> N:
        """Rewrite bottom-up: children first, then ``fn`` on the rebuilt node."""
        kids = self.children()
        new_kids = tuple(k.transform_up(fn) for k in kids)
        node = self if all(a is b for a, b in zip(kids, new_kids)) else self.with_children(new_kids)
        return fn(node)

    def transform_down(self: N, fn: Callable[[N], N]) -> N:
        """Rewrite top-down: ``fn`` on this node, then on the children of its result."""
        node = fn(self)
        kids = node.children()
        new_kids = tuple(k.transform_down(fn) for k in kids)
        return node if all(a is b for a, b in zip(kids, new_kids)) else node.with_children(new_kids)

    def walk(self) -> Iterator:
        """Every node of the tree, pre-order."""
        yield self
        for c in self.children():
            yield from c.walk()
