"""Differences between an old and a new JSON Schema, classified for the clients that use them.

A schema describes a set of values. In a request the client sends the values, so a schema that
allows fewer of them (narrowing) can refuse what an old client sends; in a response the client
reads them, so a schema that allows more (widening) can hand an old client a value it does not
handle. Object properties are the exception: clients ignore properties they do not know, so a
new property breaks no one, and a removed one breaks only readers (see `_property_*`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from mobile_contract.compat_keywords import (
    Effect,
    Finding,
    allowed_values,
    count_limit_change,
    multiple_of_change,
    numeric_bound_changes,
    restriction_change,
    type_change,
    type_of,
    unique_items_change,
    value_changes,
    within_bounds,
)
from mobile_contract.compat_report import Change
from mobile_contract.compat_unions import (
    Node,
    alternatives,
    as_schema,
    pair_branches,
    resolve_schema,
    variant_finding,
)
from mobile_contract.documents import Resolver, array, mapping

_TEXT = frozenset({None, "string"})
_NUMBERS = frozenset({None, "integer", "number"})
_FORMATTED = _TEXT | _NUMBERS
_ARRAYS = frozenset({None, "array"})
_OBJECTS = frozenset({None, "object"})
# Findings about bounds on strings and numbers (lengths, pattern, minimum, multipleOf, ...).
_BOUND_CODES = frozenset(
    {
        *("limit-narrowed", "limit-widened", "limit-changed"),
        *("pattern-added", "pattern-removed", "pattern-changed"),
    }
)


def _listed_within(listing: Mapping[str, Any], bounding: Mapping[str, Any]) -> bool:
    """Whether `listing` has `enum`/`const` values, all of them within `bounding`'s bounds."""
    values = allowed_values(listing)
    return values is not None and within_bounds(values.values(), bounding)


class Direction(Enum):
    """Who produces the values: the client (a request) or the server (a response)."""

    REQUEST = "request"
    RESPONSE = "response"


@dataclass(frozen=True)
class Place:
    """Where a schema sits in the contract: operation label and location prefix."""

    operation: str | None
    location: str


def schema_changes(
    old: object,
    new: object,
    *,
    direction: Direction,
    place: Place,
    old_refs: Resolver,
    new_refs: Resolver,
) -> list[Change]:
    """Every difference between two schemas that matters to a client, in document order."""
    comparer = _Comparer(old_refs, new_refs, direction, place)
    comparer.compare(old, new, "")
    return comparer.changes


class _Comparer:
    def __init__(self, old: Resolver, new: Resolver, direction: Direction, place: Place) -> None:
        self._old, self._new = old, new
        self._direction = direction
        self._place = place
        # Pairs of referenced schemas being compared further up (see `_pair`).
        self._active: set[tuple[frozenset[str], frozenset[str]]] = set()
        self.changes: list[Change] = []

    def compare(self, old: object, new: object, pointer: str) -> None:
        self._nodes(resolve_schema(self._old, old), resolve_schema(self._new, new), pointer)

    def _nodes(self, old: Node, new: Node, pointer: str) -> None:
        self._annotations(old.schema, new.schema, pointer)
        old_branches = alternatives(self._old, old, frozenset())
        new_branches = alternatives(self._new, new, frozenset())
        pairs, removed, added = pair_branches(old_branches, new_branches)
        for old_branch, new_branch in pairs:
            self._pair(old_branch, new_branch, pointer)
        for branch in removed:
            self._report(variant_finding(branch, Effect.NARROWS), pointer)
        for branch in added:
            self._report(variant_finding(branch, Effect.WIDENS), pointer)

    def _pair(self, old: Node, new: Node, pointer: str) -> None:
        """Compare two single-type schemas, unless this very pair is already being compared
        further up: a recursive schema, reported where it was first met."""
        key = (old.refs, new.refs)
        if key in self._active:
            return
        if old.refs or new.refs:
            self._active.add(key)
        try:
            self._single(old.schema, new.schema, pointer)
        finally:
            self._active.discard(key)

    def _annotations(self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str) -> None:
        """Members that do not change which values are valid but change what a client meets."""
        if self._direction is Direction.REQUEST and old.get("default") != new.get("default"):
            message = f"default {old.get('default')!r} -> {new.get('default')!r}"
            self._report(Finding("default-changed", Effect.NOTES, message), pointer)
        if new.get("deprecated") is True and old.get("deprecated") is not True:
            self._report(Finding("schema-deprecated", Effect.NOTES, "deprecated now"), pointer)
        before = mapping(old.get("discriminator")).get("propertyName")
        after = mapping(new.get("discriminator")).get("propertyName")
        if before and after and before != after:
            message = f"variants are told apart by {after!r} now, not {before!r}"
            self._report(Finding("discriminator-changed", Effect.ALTERS, message), pointer)

    def _single(self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str) -> None:
        """Two schemas of one type each: the type, then the keywords that apply to it."""
        old_type, new_type = type_of(old), type_of(new)
        retyped = type_change(old_type, new_type)
        if retyped:
            self._report(retyped, pointer)
            if retyped.effect is Effect.ALTERS:
                return  # limits of a string say nothing about the integer that replaced it
        kinds = {old_type, new_type}
        findings: list[Finding | None] = [*value_changes(old, new)]
        if kinds & _TEXT:
            findings += [count_limit_change(old, new, "minLength", upper=False)]
            findings += [count_limit_change(old, new, "maxLength", upper=True)]
            findings += [restriction_change(old, new, "pattern")]
        if kinds & _FORMATTED:
            findings += [restriction_change(old, new, "format")]
        if kinds & _NUMBERS:
            findings += [*numeric_bound_changes(old, new), multiple_of_change(old, new)]
        if _listed_within(old, new) or _listed_within(new, old):
            # One side lists its values and the other's bounds take every one of them: what
            # changed is which values are allowed, which `value_changes` reports alone.
            findings = [f for f in findings if not (f and f.code in _BOUND_CODES)]
        for finding in findings:
            if finding:
                self._report(finding, pointer)
        if kinds & _ARRAYS:
            self._array(old, new, pointer)
        if kinds & _OBJECTS:
            self._object(old, new, pointer)

    def _array(self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str) -> None:
        for finding in (
            count_limit_change(old, new, "minItems", upper=False),
            count_limit_change(old, new, "maxItems", upper=True),
            unique_items_change(old, new),
        ):
            if finding:
                self._report(finding, pointer)
        old_items, new_items = old.get("items"), new.get("items")
        old_prefix, new_prefix = array(old.get("prefixItems")), array(new.get("prefixItems"))
        for index in range(max(len(old_prefix), len(new_prefix))):
            self.compare(
                old_prefix[index] if index < len(old_prefix) else as_schema(old_items),
                new_prefix[index] if index < len(new_prefix) else as_schema(new_items),
                f"{pointer}[{index}]",
            )
        if old_items is not None or new_items is not None:
            self.compare(as_schema(old_items), as_schema(new_items), f"{pointer}[]")

    def _object(self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str) -> None:
        old_properties = mapping(old.get("properties"))
        new_properties = mapping(new.get("properties"))
        old_required, new_required = _required(old), _required(new)
        names = [*old_properties, *(name for name in new_properties if name not in old_properties)]
        for name in names:
            where = f"{pointer}.{name}" if pointer else name
            if name not in new_properties:
                self._property_removed(name in old_required, _closed(new), where)
            elif name not in old_properties:
                self._property_added(name in new_required, where)
            else:
                self._property_required(name in old_required, name in new_required, where)
                self.compare(old_properties[name], new_properties[name], where)
        for finding in (
            count_limit_change(old, new, "minProperties", upper=False),
            count_limit_change(old, new, "maxProperties", upper=True),
        ):
            if finding:
                self._report(finding, pointer)
        self._additional_properties(old, new, pointer)

    def _property_removed(self, was_required: bool, closed: bool, pointer: str) -> None:
        """A reader misses the property; a sender is refused only if extra ones are."""
        if self._direction is Direction.RESPONSE:
            message = "removed: clients reading it will not find it"
            self._flag("response-property-removed", True, pointer, message)
        elif closed:
            message = (
                "removed, and additionalProperties is false: clients still sending it are refused"
            )
            self._flag("request-property-removed", True, pointer, message)
        else:
            state = "required" if was_required else "optional"
            message = (
                f"removed (was {state}); extra properties are allowed, so senders are not refused"
            )
            self._flag("request-property-removed", False, pointer, message)

    def _property_added(self, required: bool, pointer: str) -> None:
        if self._direction is Direction.RESPONSE:
            self._flag("response-property-added", False, pointer, "added")
        elif required:
            message = "added as required: clients that do not send it are refused"
            self._flag("request-required-property-added", True, pointer, message)
        else:
            self._flag("request-property-added", False, pointer, "added as optional")

    def _property_required(self, before: bool, after: bool, pointer: str) -> None:
        """A sender must send a required property; a reader can count on finding it."""
        if before == after:
            return
        side = self._direction.value
        reading = self._direction is Direction.RESPONSE
        if after:
            message = "always present now" if reading else "required now: omitting it is refused"
            self._flag(f"{side}-property-required", not reading, pointer, message)
        else:
            message = "optional now: it may be missing" if reading else "optional now"
            self._flag(f"{side}-property-optional", reading, pointer, message)

    def _additional_properties(
        self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str
    ) -> None:
        """Closing an object narrows it; opening it is like adding properties, which no client
        minds; a map's value schema is compared like any other."""
        before, after = old.get("additionalProperties"), new.get("additionalProperties")
        if before is not False and after is False:
            message = "additionalProperties is false now: unknown properties are refused"
            self._report(Finding("additional-properties-closed", Effect.NARROWS, message), pointer)
        elif before is False and after is not False:
            message = "additionalProperties is allowed now"
            self._report(Finding("additional-properties-opened", Effect.NOTES, message), pointer)
        elif isinstance(before, Mapping) or isinstance(after, Mapping):
            self.compare(as_schema(before), as_schema(after), f"{pointer}.*" if pointer else "*")

    def _report(self, finding: Finding, pointer: str) -> None:
        sending = self._direction is Direction.REQUEST
        breaking_effect = Effect.NARROWS if sending else Effect.WIDENS
        breaking = finding.effect in (Effect.ALTERS, breaking_effect)
        self._flag(finding.code, breaking, pointer, finding.message)

    def _flag(self, code: str, breaking: bool, pointer: str, message: str) -> None:
        location = self._place.location
        self.changes.append(
            Change(
                code=code,
                breaking=breaking,
                operation=self._place.operation,
                location=f"{location}: {pointer}" if pointer else location,
                message=message,
            )
        )


def _closed(schema: Mapping[str, Any]) -> bool:
    return (
        schema.get("additionalProperties") is False or schema.get("unevaluatedProperties") is False
    )


def _required(schema: Mapping[str, Any]) -> set[str]:
    return {name for name in array(schema.get("required")) if isinstance(name, str)}
