"""How one JSON Schema keyword changed the set of values a schema allows.

Each check says whether NEW allows fewer values than OLD (narrows), more (widens), some of
each (alters), or the same values (notes). Which of these breaks a client depends on whether the
client sends the values or reads them; `compat_schema` decides that."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

# A bound: its value, and whether the value itself is excluded.
Bound = tuple[float, bool]


class Effect(Enum):
    NARROWS = "narrows"
    WIDENS = "widens"
    ALTERS = "alters"
    NOTES = "notes"


@dataclass(frozen=True)
class Finding:
    code: str
    effect: Effect
    message: str


def json_type(value: object) -> str:
    """The JSON Schema type of a literal (`enum` and `const` values)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def allowed_values(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """The values `const`/`enum` allow, keyed by their canonical JSON; None when unrestricted."""
    if "const" in schema:
        literals = [schema["const"]]
    elif isinstance(schema.get("enum"), list):
        literals = schema["enum"]
    else:
        return None
    return {json.dumps(value, sort_keys=True, ensure_ascii=False): value for value in literals}


def type_of(schema: Mapping[str, Any]) -> str | None:
    """The one JSON type a single-type schema allows, inferred from its literals if unstated."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    if isinstance(declared, list) and len(declared) == 1 and isinstance(declared[0], str):
        return declared[0]
    types = {json_type(value) for value in (allowed_values(schema) or {}).values()}
    if types == {"integer", "number"}:
        return "number"
    return types.pop() if len(types) == 1 else None


def declared_types(schema: Mapping[str, Any]) -> list[str] | None:
    """The types of a schema's `type` (string or list), with OpenAPI 3.0's `nullable` folded in."""
    declared = schema.get("type")
    if isinstance(declared, str):
        types = [declared]
    elif isinstance(declared, list) and all(isinstance(item, str) for item in declared):
        types = list(declared)
    else:
        return None
    if schema.get("nullable") is True and "null" not in types:
        types.append("null")
    return types


def only_type(schema: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The part of a multi-type schema that applies to values of type `kind`."""
    part = {key: value for key, value in schema.items() if key != "nullable"}
    part["type"] = kind
    if isinstance(schema.get("enum"), list):
        accepted = {kind, "integer"} if kind == "number" else {kind}
        part["enum"] = [value for value in schema["enum"] if json_type(value) in accepted]
    return part


def normalise(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Spell the same constraints one way: OpenAPI 3.0's boolean `exclusiveMinimum`/`Maximum`
    as 3.1 numbers, and `items: false` after `prefixItems` as `maxItems`."""
    result = dict(schema)
    for inclusive, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if result.get(exclusive) is True and inclusive in result:
            result[exclusive] = result.pop(inclusive)
        elif isinstance(result.get(exclusive), bool):
            del result[exclusive]
    if result.get("items") is False:
        del result["items"]
        prefix = len(result.get("prefixItems") or [])
        result["maxItems"] = min(prefix, result.get("maxItems", prefix))
    return result


def type_change(before: str | None, after: str | None) -> Finding | None:
    """A change of the single type; None also for integer/number, which differ only in range."""
    if before == after:
        return None
    if before is None:
        return Finding("type-narrowed", Effect.NARROWS, f"only {after} values are allowed now")
    if after is None:
        return Finding(
            "type-widened", Effect.WIDENS, f"any value is allowed now, not only {before}"
        )
    if (before, after) == ("integer", "number"):
        return Finding("type-widened", Effect.WIDENS, "numbers with fractions are allowed now")
    if (before, after) == ("number", "integer"):
        return Finding("type-narrowed", Effect.NARROWS, "only integers are allowed now")
    return Finding("type-changed", Effect.ALTERS, f"the type changed from {before} to {after}")


def value_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Finding]:
    """Changes of `enum` and `const`: values no longer allowed narrow, new values widen."""
    before, after = allowed_values(old), allowed_values(new)
    if before is None and after is None:
        return []
    if before is None:
        return [Finding("enum-narrowed", Effect.NARROWS, f"limited to {_listed(after)} now")]
    if after is None:
        return [Finding("enum-widened", Effect.WIDENS, f"no longer limited to {_listed(before)}")]
    if before.keys() == after.keys():
        return []
    if len(before) == len(after) == 1:
        message = f"the only allowed value changed from {_listed(before)} to {_listed(after)}"
        return [Finding("const-changed", Effect.ALTERS, message)]
    removed = {key: value for key, value in before.items() if key not in after}
    added = {key: value for key, value in after.items() if key not in before}
    findings = []
    if removed:
        findings.append(Finding("enum-narrowed", Effect.NARROWS, f"{_listed(removed)} removed"))
    if added:
        findings.append(Finding("enum-widened", Effect.WIDENS, f"{_listed(added)} added"))
    return findings


def within_bounds(values: Iterable[Any], schema: Mapping[str, Any]) -> bool:
    """Whether every one of `values` keeps to `schema`'s lengths, pattern and numeric limits:
    then tighter bounds replacing an `enum` of them refuse none of the values allowed before."""
    for value in values:
        if isinstance(value, str):
            length = len(value)
            if length < _number(schema.get("minLength"), 0):
                return False
            if length > _number(schema.get("maxLength"), math.inf):
                return False
            pattern = schema.get("pattern")
            if isinstance(pattern, str) and not _matches(pattern, value):
                return False
        elif _is_number(value):
            lower = numeric_bound(schema, upper=False)
            upper = numeric_bound(schema, upper=True)
            if lower and (value < lower[0] or (lower[1] and value == lower[0])):
                return False
            if upper and (value > upper[0] or (upper[1] and value == upper[0])):
                return False
            step = schema.get("multipleOf")
            if _is_number(step) and step and (value / step) % 1:
                return False
    return True


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return False  # a pattern Python cannot read: assume the worst


def _listed(values: Mapping[str, Any] | None) -> str:
    return ", ".join(values or {}) or "no value at all"


def count_limit_change(
    old: Mapping[str, Any], new: Mapping[str, Any], keyword: str, *, upper: bool
) -> Finding | None:
    """A changed `maxLength`, `minItems`, ...: absent means no limit (0 for a minimum)."""
    before, after = old.get(keyword), new.get(keyword)
    if before == after:
        return None
    unset = math.inf if upper else 0
    low, high = _number(before, unset), _number(after, unset)
    if low == high:
        return None
    narrower = high < low if upper else high > low
    return _limit(narrower, f"{keyword} {_shown(before)} -> {_shown(after)}")


def unique_items_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> Finding | None:
    before, after = old.get("uniqueItems") is True, new.get("uniqueItems") is True
    if before == after:
        return None
    return _limit(after, f"uniqueItems {str(before).lower()} -> {str(after).lower()}")


def numeric_bound_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Finding]:
    """`minimum`/`exclusiveMinimum` (and the maxima) taken together as one bound per side, so
    `minimum: 0` becoming `exclusiveMinimum: 0` reads as one tightening."""
    findings = []
    for upper, name in ((False, "minimum"), (True, "maximum")):
        before, after = numeric_bound(old, upper=upper), numeric_bound(new, upper=upper)
        if before == after:
            continue
        narrower = _tighter(after, before, upper=upper)
        message = f"{name} {_bound(before, upper)} -> {_bound(after, upper)}"
        findings.append(_limit(narrower, message))
    return findings


def numeric_bound(schema: Mapping[str, Any], *, upper: bool) -> Bound | None:
    """The tightest of a schema's inclusive and exclusive bounds on one side."""
    inclusive, exclusive = (
        ("maximum", "exclusiveMaximum") if upper else ("minimum", "exclusiveMinimum")
    )
    bounds = [
        (float(schema[key]), excluded)
        for key, excluded in ((inclusive, False), (exclusive, True))
        if _is_number(schema.get(key))
    ]
    if not bounds:
        return None
    if upper:
        return min(bounds, key=lambda bound: (bound[0], not bound[1]))
    return max(bounds, key=lambda bound: (bound[0], bound[1]))


def _tighter(bound: Bound | None, than: Bound | None, *, upper: bool) -> bool:
    if bound is None:
        return False
    if than is None:
        return True
    if upper:
        return (bound[0], not bound[1]) < (than[0], not than[1])
    return (bound[0], bound[1]) > (than[0], than[1])


def multiple_of_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> Finding | None:
    """A new step that is a multiple of the old one narrows; a divisor of it widens."""
    before, after = _number(old.get("multipleOf"), 0), _number(new.get("multipleOf"), 0)
    if before == after:
        return None
    message = f"multipleOf {_shown(old.get('multipleOf'))} -> {_shown(new.get('multipleOf'))}"
    if not after:
        return _limit(False, message)
    if not before or (after / before).is_integer():
        return _limit(True, message)
    if (before / after).is_integer():
        return _limit(False, message)
    return Finding("limit-changed", Effect.ALTERS, message)


def restriction_change(
    old: Mapping[str, Any], new: Mapping[str, Any], keyword: str
) -> Finding | None:
    """`pattern` or `format`: added narrows, removed widens, replaced does some of each."""
    before, after = old.get(keyword), new.get(keyword)
    if before == after:
        return None
    if before is None:
        return Finding(f"{keyword}-added", Effect.NARROWS, f"{keyword} {after!r} added")
    if after is None:
        return Finding(f"{keyword}-removed", Effect.WIDENS, f"{keyword} {before!r} removed")
    return Finding(f"{keyword}-changed", Effect.ALTERS, f"{keyword} {before!r} -> {after!r}")


def _limit(narrower: bool, message: str) -> Finding:
    if narrower:
        return Finding("limit-narrowed", Effect.NARROWS, message)
    return Finding("limit-widened", Effect.WIDENS, message)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: object, unset: float) -> float:
    """`value` as a float when it is a JSON number (not a boolean), else `unset`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return unset


def _shown(value: object) -> str:
    return "unset" if value is None else str(value)


def _bound(bound: Bound | None, upper: bool) -> str:
    if bound is None:
        return "unbounded"
    value, excluded = bound
    shown = int(value) if value.is_integer() else value
    return f"{'<' if upper else '>'}{'' if excluded else '='} {shown}"
