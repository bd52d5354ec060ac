"""Refusals in the contract: how a handler or dependency declares the domain errors it raises
(`@raises`), and how each becomes a documented response — RFC 9457 `application/problem+json`,
or RFC 6749's `{"error": …}` body where an OAuth endpoint answers with it — with one example per
problem `type`, so a client team sees every `type` it has to handle."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

from core.errors import (
    OAUTH_PATH_PREFIX,
    PROBLEM_TYPE_PREFIX,
    VALIDATION_PROBLEM_TITLE,
    VALIDATION_PROBLEM_TYPE,
    DomainError,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
OAUTH_MEDIA_TYPE = "application/json"
_ATTRIBUTE = "__problems__"
F = TypeVar("F", bound=Callable[..., Any])


def raises(*errors: type[DomainError]) -> Callable[[F], F]:
    """Declare the refusals the decorated handler or dependency may raise. The function itself
    is returned unchanged, so FastAPI reads the same signature."""

    def declare(function: F) -> F:
        before = declared_by(function)
        setattr(function, _ATTRIBUTE, before + tuple(e for e in errors if e not in before))
        return function

    return declare


def declared_by(function: object) -> tuple[type[DomainError], ...]:
    """The refusals `function` declared; none for an undeclared one."""
    found: tuple[type[DomainError], ...] = getattr(function, _ATTRIBUTE, ())
    return found


def all_problem_types() -> Iterator[type[DomainError]]:
    """Every DomainError subclass imported so far."""
    stack, seen = list(DomainError.__subclasses__()), set()
    while stack:
        error = stack.pop()
        if error not in seen:
            seen.add(error)
            yield error
            stack.extend(error.__subclasses__())


def is_oauth_path(path: str) -> bool:
    return path.startswith(OAUTH_PATH_PREFIX)


@dataclass(frozen=True)
class Refusal:
    """One documented refusal: its status, key (the problem type's slug), media type and
    example body."""

    status: int
    key: str
    title: str
    media_type: str
    example: dict[str, Any]


def refusal(error: type[DomainError], *, oauth: bool) -> Refusal:
    """How `error` reaches a client (of an OAuth endpoint if `oauth`)."""
    detail = _first_line(error.__doc__) or error.title
    oauth_error = getattr(error, "oauth_error", None)
    if oauth and isinstance(oauth_error, str):
        oauth_body = {"error": oauth_error, "error_description": detail}
        return Refusal(error.status, error.type, error.title, OAUTH_MEDIA_TYPE, oauth_body)
    body: dict[str, Any] = {
        **error.example_extensions,
        "type": error.type_uri(),
        "title": error.title,
        "status": error.status,
        "detail": detail,
    }
    return Refusal(error.status, error.type, error.title, PROBLEM_MEDIA_TYPE, body)


def validation() -> Refusal:
    """The 422 every operation with parameters or a body answers to input that breaks them."""
    body = {
        "type": PROBLEM_TYPE_PREFIX + VALIDATION_PROBLEM_TYPE,
        "title": VALIDATION_PROBLEM_TITLE,
        "status": 422,
        "detail": "1 field(s) failed validation",
        "errors": [
            {
                "field": "query.limit",
                "message": "Input should be less than or equal to 100",
                "type": "less_than_equal",
            }
        ],
    }
    return Refusal(422, VALIDATION_PROBLEM_TYPE, VALIDATION_PROBLEM_TITLE, PROBLEM_MEDIA_TYPE, body)


def oauth_validation() -> Refusal:
    """OAuth endpoints answer malformed input with RFC 6749's `invalid_request`."""
    body = {"error": "invalid_request", "error_description": "Missing or invalid: grant_type"}
    return Refusal(400, "invalid-request", "The OAuth request is malformed", OAUTH_MEDIA_TYPE, body)


def response(refusals: list[Refusal], shared: dict[str, Any]) -> dict[str, Any]:
    """One status code's response object: every refusal of that status as an example under its
    media type, keyed by its problem type, the example itself written once in `shared` (the
    document's `components/examples`) and referred to."""
    status = refusals[0].status
    content: dict[str, Any] = {}
    for item in refusals:
        media = content.setdefault(item.media_type, {"schema": _schema_for(item), "examples": {}})
        media["schema"] = _either(media["schema"], _schema_for(item))
        name = item.key if item.media_type == PROBLEM_MEDIA_TYPE else f"oauth-{item.key}"
        shared.setdefault(name, {"summary": item.title, "value": item.example})
        media["examples"][item.key] = {"$ref": f"#/components/examples/{name}"}
    listed = ", ".join(f"`{item.key}`" for item in refusals)
    documented: dict[str, Any] = {
        "description": f"{_phrase(status)}: {listed}",
        "content": content,
    }
    if status == 429:
        documented["headers"] = {"Retry-After": RETRY_AFTER}
    return documented


def _schema_for(item: Refusal) -> dict[str, str]:
    if item.media_type == OAUTH_MEDIA_TYPE:
        return {"$ref": "#/components/schemas/OAuthError"}
    if item.key == VALIDATION_PROBLEM_TYPE:
        return {"$ref": "#/components/schemas/ValidationProblem"}
    return {"$ref": "#/components/schemas/Problem"}


def _either(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """`first`, or a schema for bodies of either when `second` is another one (a
    `validation-error` beside the operation's own 422s: `ValidationProblem` or `Problem`)."""
    choices = first.get("anyOf", [first])
    return first if second in choices else {"anyOf": [*choices, second]}


def _first_line(text: str | None) -> str:
    return text.strip().split("\n\n")[0].replace("\n", " ").strip() if text else ""


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Refused"


RETRY_AFTER: dict[str, Any] = {
    "description": "Seconds to wait before trying again.",
    "required": False,
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "title": "Problem",
        "description": "RFC 9457 problem details. Branch on `type`, which is stable; `title` and "
        "`detail` are for people. Extension members (e.g. `retry_after`, `attempts_left`, "
        "`balance`) carry what a client needs to act and are named in each operation's examples.",
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {
                "type": "string",
                "description": "`urn:wujiang:problem:<slug>`; the slugs an operation can answer "
                "are the keys of its examples.",
                "examples": ["urn:wujiang:problem:insufficient-points"],
            },
            "title": {"type": "string", "description": "Short, the same for every occurrence."},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string", "description": "This occurrence, for people."},
            "instance": {"type": "string", "description": "The request's path."},
        },
        "additionalProperties": True,
    },
    "ValidationProblem": {
        "title": "ValidationProblem",
        "description": "A `validation-error` problem: where the input broke a rule and why. The "
        "input itself is never echoed (it may be personal data).",
        "allOf": [{"$ref": "#/components/schemas/Problem"}],
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message", "type"],
                    "properties": {
                        "field": {"type": "string", "description": "e.g. `body.points`"},
                        "message": {"type": "string"},
                        "type": {"type": "string", "description": "The rule, e.g. `missing`."},
                    },
                },
            }
        },
    },
    "OAuthError": {
        "title": "OAuthError",
        "description": "RFC 6749 §5.2 error body, answered by `/oauth2/` endpoints.",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "examples": ["invalid_grant"]},
            "error_description": {"type": "string"},
        },
    },
}
