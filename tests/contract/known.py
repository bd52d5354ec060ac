"""Values the seeded world holds, swapped in for about half of the generated ones, so that
requests get past "not found" into the code behind it: a real award to approve or reverse, a
real card to freeze, a real voucher to consume, a behaviour on the published list.

The choice is a hash of the operation, the field and the generated value: the same case always
gets the same substitution, so runs stay reproducible and shrinking stays meaningful. The swap
replaces the container (`case.body = ...`), which schemathesis notices: it checks again whether
the case is still a valid request before judging the response (a negative case may become a
positive one).

Left alone on purpose: what identifies a card to a PIN check (`chip_uid` at a kiosk, caller
number and card ending on the IVR) — random PINs against the run's own cards would lock them,
and verifications are rate-limited per calling number."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from schemathesis import Case, HookContext

# Behaviours the run's awarder may certify without evidence, and one that needs it.
AWARDER_BEHAVIOURS = ["tree-planting", "river-patrol", "community-consultation", "blood-donation"]

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


def substitute(case: Case, table: dict[tuple[str, str], Values]) -> Case:
    """`case` with some generated strings replaced by known values (see the module docstring)."""
    path = case.operation.path
    if case.path_parameters:
        swapped = _swap(case, "path", dict(case.path_parameters), table, path)
        if swapped is not None:
            case.path_parameters = swapped
    if isinstance(case.body, dict):
        swapped = _swap(case, "body", dict(case.body), table, path)
        if swapped is not None:
            case.body = swapped
    return case


def _swap(
    case: Case,
    location: str,
    container: dict[str, Any],
    table: dict[tuple[str, str], Values],
    path: str,
) -> dict[str, Any] | None:
    changed = False
    for name, value in container.items():
        values = table.get((location, name))
        if values is None or not isinstance(value, str):
            continue
        candidates = values(path)
        if not candidates:
            continue
        digest = hashlib.sha256(
            json.dumps([case.operation.label, location, name, value]).encode()
        ).digest()
        if digest[0] % 2:
            continue
        container[name] = candidates[digest[1] % len(candidates)]
        changed = True
    return container if changed else None


def hook(table: dict[tuple[str, str], Values]) -> Callable[[HookContext, Case], Case]:
    """The `map_case` hook for a schema."""

    def map_case(context: HookContext, case: Case) -> Case:
        return substitute(case, table)

    return map_case
