"""The alternatives of a schema, and how the alternatives of two schemas pair up.

`anyOf`, `oneOf` and type lists (`["string", "null"]`) all say the same thing: a value is one
of these. Spelled whichever way, a schema becomes a list of single-type branches, each with
its `$ref`s followed and its `allOf` merged, so that `X | None` written by pydantic compares
equal to `{"type": [X, "null"]}` and a union gaining `null` reads as exactly that."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mobile_contract.compat_keywords import (
    Effect,
    Finding,
    allowed_values,
    declared_types,
    normalise,
    only_type,
    type_of,
)
from mobile_contract.documents import Resolver, array, mapping

# Members that say nothing about the values of the branches of a union.
_NOT_INHERITED = frozenset(
    {"anyOf", "oneOf", "discriminator", "default", "deprecated", "title", "description"}
    | {"examples", "example"}
)


@dataclass(frozen=True)
class Node:
    """A schema with its `$ref`s followed and its `allOf` merged, and the references used."""

    schema: Mapping[str, Any]
    refs: frozenset[str]


def resolve_schema(resolver: Resolver, raw: object, seen: frozenset[str] = frozenset()) -> Node:
    """`raw` resolved, with its `allOf` parts merged into one schema (a conjunction)."""
    schema, refs = resolver.resolve(as_schema(raw))
    parts = schema.get("allOf")
    if not isinstance(parts, list):
        return Node(normalise(schema), refs)
    merged: Mapping[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
    for part in parts:
        if mapping(part).get("$ref") in seen | refs:
            continue  # a schema that includes itself adds nothing to itself
        inner = resolve_schema(resolver, part, seen | refs)
        merged = _conjoin(inner.schema, merged)
        refs |= inner.refs
    return Node(normalise(merged), refs)


def _conjoin(part: Mapping[str, Any], outer: Mapping[str, Any]) -> dict[str, Any]:
    """Both schemas at once: their properties and required lists joined, else `outer` wins."""
    merged = {**part, **outer}
    merged["properties"] = {**mapping(part.get("properties")), **mapping(outer.get("properties"))}
    merged["required"] = list(
        dict.fromkeys([*array(part.get("required")), *array(outer.get("required"))])
    )
    return {
        key: value
        for key, value in merged.items()
        if value or key not in ("properties", "required")
    }


def alternatives(resolver: Resolver, node: Node, seen: frozenset[str]) -> list[Node]:
    """The alternatives a schema allows: the items of its `anyOf`/`oneOf` (with the union's
    own constraints applied to each) or the types of a type list, flattened."""
    schema = node.schema
    union = schema.get("anyOf", schema.get("oneOf"))
    if isinstance(union, list):
        outer = _values_only(schema)
        branches: list[Node] = []
        for item in union:
            if mapping(item).get("$ref") in seen | node.refs:
                continue  # a union that includes itself adds nothing to itself
            inner = resolve_schema(resolver, item)
            merged = Node(_conjoin(inner.schema, outer), inner.refs)
            branches += alternatives(resolver, merged, seen | node.refs)
        return branches
    types = declared_types(schema)
    if types is None or len(types) < 2:
        return [node]
    return [Node(_values_only(only_type(schema, kind)), node.refs) for kind in types]


def _values_only(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in schema.items() if key not in _NOT_INHERITED}


def pair_branches(
    old: list[Node], new: list[Node]
) -> tuple[list[tuple[Node, Node]], list[Node], list[Node]]:
    """Branches paired first when unchanged, then by the same reference or literal type, then
    by related types (integer and number, or an untyped branch), so a renamed component is still
    compared. Two single schemas are always a pair, whatever their types."""
    if len(old) == len(new) == 1:
        return [(old[0], new[0])], [], []
    pairs: list[tuple[Node, Node]] = []
    old_left, new_left = list(old), list(new)
    for related in (_unchanged, _same_variant, _same_family):
        for old_branch in list(old_left):
            partner = next((branch for branch in new_left if related(old_branch, branch)), None)
            if partner is not None:
                pairs.append((old_branch, partner))
                old_left.remove(old_branch)
                new_left.remove(partner)
    return pairs, old_left, new_left


def _unchanged(old: Node, new: Node) -> bool:
    return old == new


def _same_variant(old: Node, new: Node) -> bool:
    same_literal = old.schema.get("const") == new.schema.get("const")
    return old.refs == new.refs and type_of(old.schema) == type_of(new.schema) and same_literal


def _same_family(old: Node, new: Node) -> bool:
    numbers = {"integer": "number"}
    old_type, new_type = type_of(old.schema), type_of(new.schema)
    if old_type is None or new_type is None:
        return True
    return numbers.get(old_type, old_type) == numbers.get(new_type, new_type)


def variant_finding(branch: Node, effect: Effect) -> Finding:
    """A branch of a union without a partner: null, literals (an enum by another name) or a
    type or component no longer allowed (NARROWS) or newly allowed (WIDENS)."""
    added = effect is Effect.WIDENS
    kind, literals = type_of(branch.schema), allowed_values(branch.schema)
    if kind == "null":
        message = "null is allowed now" if added else "null is no longer allowed"
        return Finding("nullable-added" if added else "nullable-removed", effect, message)
    if literals:
        message = f"{', '.join(literals)} {'added' if added else 'removed'}"
        return Finding("enum-widened" if added else "enum-narrowed", effect, message)
    names = sorted(ref.rsplit("/", 1)[-1] for ref in branch.refs)
    what = " / ".join(names) or kind or "any value"
    message = f"{what} {'added to' if added else 'removed from'} the allowed types"
    return Finding("type-widened" if added else "type-narrowed", effect, message)


def as_schema(value: object) -> object:
    """Boolean schemas as objects: `true` allows anything, `false` nothing (an empty enum)."""
    if value is None or value is True:
        return {}
    if value is False:
        return {"enum": []}
    return value
