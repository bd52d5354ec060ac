"""The contract, built from the app: FastAPI's OpenAPI document, completed with what a client
team needs and FastAPI cannot know — every refusal of every operation as problem+json (or the
RFC 6749 body on OAuth endpoints), examples on the operations, the audiences, and the shared
conventions (errors, pagination, idempotency) written once in `conventions.md`."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from fastapi import FastAPI, routing
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from core.errors import DomainError
from mobile_contract import problems
from mobile_contract.examples import lift_examples

CONVENTIONS = Path(__file__).with_name("conventions.md")
SUMMARY = "One API behind the Smart Wujiang app, citizen cards, kiosks, TV boxes and 12345."

# The audiences a client team filters by; every operation carries at least one.
AUDIENCES: list[dict[str, str]] = [
    {"name": "app", "description": "The Smart Wujiang app (智慧吴江 APP), signed-in residents."},
    {"name": "kiosk", "description": "Self-service kiosks (自助一体机): card tap and PIN."},
    {"name": "tv", "description": "Digital-TV boxes (数字电视) paired with the device grant."},
    {"name": "hotline", "description": "The 12345 call-centre system: signed requests."},
    {
        "name": "partner",
        "description": "Partner apps and services: OpenID Connect, feeds, payment events.",
    },
    {"name": "staff", "description": "Community staff, counter clerks and merchant cashiers."},
]
AUDIENCE_NAMES = frozenset(tag["name"] for tag in AUDIENCES)
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def operation_id(route: APIRoute) -> str:
    """The operation's stable id: its handler's name in lowerCamelCase (`my_points` →
    `myPoints`). Generated clients name their functions after it, so renaming a handler is a
    breaking change, caught by the snapshot test and `wujiang contract check`."""
    head, *rest = route.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def build(app: FastAPI) -> dict[str, Any]:
    """The contract of `app`'s client-facing operations (those included in the schema)."""
    routes = contract_routes(app)
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=SUMMARY,
        description=CONVENTIONS.read_text(encoding="utf-8"),
        routes=app.routes,
        tags=AUDIENCES,
    )
    by_operation = {(m.lower(), r.path_format): r for r in routes for m in r.methods}
    shared = document.setdefault("components", {}).setdefault("examples", {})
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            _document_refusals(operation, by_operation[(method, path)], path, shared)
            _all_credentials_together(operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas.update(problems.SCHEMAS)
    lift_examples(document)
    return document


def contract_routes(app: FastAPI) -> list[Any]:
    """The app's client-facing routes, with the prefixes of the routers that include them
    (FastAPI's route contexts, which read like APIRoutes: `path_format`, `methods`, `dependant`)."""
    return [
        context
        for context in routing.iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.include_in_schema
    ]


def declared_refusals(route: Any) -> list[type[DomainError]]:
    """Every refusal declared over the route's dependency tree and its handler, in order."""
    found: list[type[DomainError]] = []
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        for error in problems.declared_by(dependant.call):
            if error not in found:
                found.append(error)
        stack.extend(reversed(dependant.dependencies))
    return found


def _document_refusals(
    operation: dict[str, Any], route: Any, path: str, shared: dict[str, Any]
) -> None:
    responses: dict[str, Any] = operation["responses"]
    oauth = problems.is_oauth_path(path)
    by_status: dict[int, list[problems.Refusal]] = defaultdict(list)
    # FastAPI's own validation response, and input it does not parse (a raw body) refused
    # the same way: no client text may carry NUL (api.deps.refuse_nul_characters).
    if responses.pop("422", None) is not None or "requestBody" in operation:
        refusal = problems.oauth_validation() if oauth else problems.validation()
        by_status[refusal.status].append(refusal)
    for error in declared_refusals(route):
        refusal = problems.refusal(error, oauth=oauth)
        by_status[refusal.status].append(refusal)
    for status, refusals in sorted(by_status.items()):
        if str(status) in responses:
            raise ValueError(f"{route.path}: declare refusal {status} with @raises, not responses=")
        responses[str(status)] = problems.response(refusals, shared)


def _all_credentials_together(operation: dict[str, Any]) -> None:
    """FastAPI lists each credential a route checks as an alternative (`[{A}, {B}]`, "A or
    B"); a route needs all of them (`[{A, B}]`). An empty requirement (`{}`, added through
    `openapi_extra`) stays an alternative: the credentials are optional."""
    requirements = operation.get("security")
    if not requirements or len([r for r in requirements if r]) < 2:
        return
    merged: dict[str, list[str]] = {}
    for requirement in requirements:
        for name, scopes in requirement.items():
            merged.setdefault(name, []).extend(s for s in scopes if s not in merged[name])
    operation["security"] = [merged] + ([{}] if {} in requirements else [])


_CAMEL = re.compile(r"^[a-z][A-Za-z0-9]*$")


def is_camel_case(name: str) -> bool:
    return bool(_CAMEL.match(name))
