"""Values swapped in for some generated ones before a case is sent.

- Known values, for about half of the fields that name something of the seeded world, so that
  requests get past "not found" into the code behind it: a real award to approve or reverse, a
  real card to freeze, a real voucher to consume, a behaviour on the published list.
- Hostile values, for about one string or integer in eight anywhere in the path, the query or
  the body: the ones that broke APIs before (NUL, times and days at the edges of UTC and of
  the calendar, integers past 32 and 64 bits). Generation alone reaches them too rarely.

The choice is a hash of the operation, the place and the generated value: the same case always
gets the same swaps, so runs stay reproducible and shrinking stays meaningful. A swap replaces
the container (`case.body = ...`), which schemathesis notices: it checks again whether the case
is still a valid request before judging the response (a negative case may become positive).

Known values are left out on purpose where they identify a card to a PIN check (`chip_uid` at a
kiosk, the caller's number and card ending on the IVR): random PINs against the run's own cards
would lock them, and verifications are rate-limited per calling number."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from schemathesis import Case, HookContext

# Behaviours the run's awarder may certify without evidence, and one that needs it.
AWARDER_BEHAVIOURS = ["tree-planting", "river-patrol", "community-consultation", "blood-donation"]
# (value, weight): NUL weighs most, as any text field may carry it to the database.
HOSTILE_TEXT = [
    ("\u0000", 4),
    ("a\u0000b", 4),
    ("\\u0000", 1),
    ("9999-12-31T23:59:59-14:00", 2),
    ("0001-01-01T00:00:00+14:00", 2),
    ("9999-12-31", 1),
    ("0001-01-01", 1),
    ("9999-12", 1),
    ("0000-01", 1),
    ("2026-02-30", 1),
    ("9223372036854775808", 1),
    ("1e999", 1),
    ("NaN", 1),
    ("\u202e\u0301", 1),
    ("", 1),
]
HOSTILE_INTEGERS = [2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -1, 0]
HOSTILE_ONE_IN = 8
_TEXT = [value for value, weight in HOSTILE_TEXT for _ in range(weight)]

# A path segment the client itself would drop or resolve ("/cards//freeze", "/cards/./freeze"
# is "/cards/freeze"): sent percent-encoded, so the server sees the value and judges it.
DOT_SEGMENTS = {".": "%2E", "..": "%2E%2E"}

Values = Callable[[str], list[str]]  # the operation's path template -> the values known


def known_values(world: dict[str, Any], live: dict[str, str]) -> dict[tuple[str, str], Values]:
    """(location, name) -> the known values for an operation's path. `live` holds what
    changes during the run (the app resident's card, the TV box's session)."""
    people = world["residents"]
    app = people["app"]
    award_ids = [award for person in people.values() for award in person["award_ids"]]
    vouchers = [person["voucher_code"] for person in people.values()]

    def redemption(path: str) -> list[str]:
        who = "kiosk" if path.startswith("/v1/kiosk/") else "app"
        return [people[who]["redemption_id"]]

    def session_id(path: str) -> list[str]:
        return [live["tv_session_id"]] if "tv-boxes" in path else [app["spare_session_id"]]

    def code(path: str) -> list[str]:
        return vouchers if path.startswith("/v1/merchant/") else []

    def phone(path: str) -> list[str]:
        return [app["phone"]] if path in ("/v1/hotline/calls", "/v1/hotline/tickets") else []

    return {
        ("path", "award_id"): lambda _: award_ids,
        ("path", "card_id"): lambda _: [live["app_card_id"]],
        ("path", "code"): lambda _: world["reward_codes"],
        ("path", "community"): lambda _: [world["community"]],
        ("path", "resident_id"): lambda _: [app["id"]],
        ("path", "redemption_id"): redemption,
        ("path", "number"): lambda _: [world["ticket_number"]],
        ("path", "device_id"): lambda _: [app["device_id"]],
        ("path", "session_id"): session_id,
        ("path", "client_id"): lambda _: [world["partner"]["client_id"]],
        ("path", "source"): lambda _: [world["feed"]["source"]],
        ("path", "item_id"): lambda _: live["inbox_item_ids"].split(),
        ("body", "behaviour"): lambda _: AWARDER_BEHAVIOURS,
        ("body", "resident_id"): lambda _: [app["id"]],
        ("body", "community"): lambda _: [world["community"]],
        ("body", "reward"): lambda _: world["reward_codes"],
        ("body", "code"): code,
        ("body", "caller_number"): phone,
        ("body", "phone"): lambda path: [app["phone"]] if path.startswith("/v1/staff/") else [],
    }


def hook(table: dict[tuple[str, str], Values]) -> Callable[[HookContext, Case], Case]:
    """The `map_case` hook for a schema."""

    def map_case(context: HookContext, case: Case) -> Case:
        return substitute(case, table)

    return map_case


def substitute(case: Case, table: dict[tuple[str, str], Values]) -> Case:
    """`case` with some generated values swapped (see the module docstring)."""
    swap = _Swapper(case.operation.label, case.operation.path, table)
    if case.path_parameters:
        swapped = swap.container("path", case.path_parameters)
        if swapped is not None or _dot_segments(case.path_parameters):
            case.path_parameters = {
                name: DOT_SEGMENTS.get(value, value)
                for name, value in (swapped or case.path_parameters).items()
            }
    if case.query:
        swapped = swap.container("query", case.query)
        if swapped is not None:
            case.query = swapped
    if isinstance(case.body, dict | list):
        body = swap.value("body", (), case.body)
        if body is not case.body:
            case.body = body
    return case


def _dot_segments(parameters: dict[str, Any]) -> bool:
    return any(isinstance(value, str) and value in DOT_SEGMENTS for value in parameters.values())


class _Swapper:
    def __init__(self, label: str, path: str, table: dict[tuple[str, str], Values]) -> None:
        self.label, self.path, self.table = label, path, table

    def container(self, location: str, values: dict[str, Any]) -> dict[str, Any] | None:
        swapped = {name: self.value(location, (name,), value) for name, value in values.items()}
        changed = any(swapped[name] is not value for name, value in values.items())
        return swapped if changed else None

    def value(self, location: str, place: tuple[Any, ...], value: Any) -> Any:
        """`value`, or a swap for it; containers of a body are walked (a new one if changed)."""
        if isinstance(value, dict):
            items = {key: self.value(location, (*place, key), item) for key, item in value.items()}
            changed = any(items[key] is not item for key, item in value.items())
            return items if changed else value
        if isinstance(value, list):
            swapped = [self.value(location, (*place, i), item) for i, item in enumerate(value)]
            changed = any(new is not old for new, old in zip(swapped, value, strict=True))
            return swapped if changed else value
        digest = hashlib.sha256(
            json.dumps([self.label, location, place, value], default=repr).encode()
        ).digest()
        if isinstance(value, str) and place:
            known = self.table.get((location, str(place[-1])))
            candidates = known(self.path) if known is not None and len(place) == 1 else []
            if candidates and digest[0] % 2 == 0:
                return candidates[digest[1] % len(candidates)]
        if digest[2] % HOSTILE_ONE_IN:
            return value
        if isinstance(value, str):
            hostile = _TEXT[digest[3] % len(_TEXT)]
            return value if location == "path" and hostile == "" else hostile
        if isinstance(value, int) and not isinstance(value, bool):
            return HOSTILE_INTEGERS[digest[3] % len(HOSTILE_INTEGERS)]
        return value
