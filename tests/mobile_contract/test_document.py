"""The contract's own rules: what every operation documents, whatever it does."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import jsonschema_rs
import pytest

from api.app import create_app
from core.errors import PROBLEM_TYPE_PREFIX
from mobile_contract import document as contract
from mobile_contract import problems
from mobile_contract.examples import example_of, has_example

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def doc(settings) -> dict[str, Any]:
    return create_app(settings).openapi()


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items()]


def _ids(doc: dict[str, Any]) -> list[str]:
    return [f"{m.upper()} {p}" for m, p, _ in _operations(doc)]


def test_operation_ids_are_unique_and_camel_case(doc) -> None:
    ids = [op["operationId"] for _, _, op in _operations(doc)]

    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert [i for i in ids if not contract.is_camel_case(i)] == []


def test_every_operation_has_an_audience_and_a_summary(doc) -> None:
    for method, path, op in _operations(doc):
        tags = set(op.get("tags", []))
        assert tags, f"{method} {path} has no tag"
        assert tags <= contract.AUDIENCE_NAMES, f"{method} {path}: tags {tags}"
        assert op.get("summary"), f"{method} {path} has no summary"


def test_only_audiences_are_tags(doc) -> None:
    assert [t["name"] for t in doc["tags"]] == [a["name"] for a in contract.AUDIENCES]


def test_every_refusal_is_a_documented_problem_with_a_known_type(doc) -> None:
    known = {error.type for error in problems.all_problem_types()} | {"validation-error"}
    for method, path, op in _operations(doc):
        for status, response in op["responses"].items():
            if status[0] in "123":
                continue
            content = response.get("content", {})
            allowed = {PROBLEM, "application/json"} if path.startswith("/oauth2/") else {PROBLEM}
            if "text/html" in op["responses"].get("200", {}).get("content", {}):
                allowed = {"text/html"} | allowed  # the browser flow answers with pages
            assert content, f"{method} {path} {status} documents no body"
            assert set(content) <= allowed, f"{method} {path} {status}: {set(content)}"
            for media_type, media in content.items():
                if media_type == "text/html":
                    continue
                assert media["examples"], f"{method} {path} {status} has no example"
                schema = {**media["schema"], "components": doc["components"]}
                validator = jsonschema_rs.Draft202012Validator(schema)
                for key, example in media["examples"].items():
                    assert key in known, f"{method} {path} {status}: unknown type {key}"
                    value = _shared(doc, example)["value"]
                    if media_type == PROBLEM:
                        assert value["type"] == PROBLEM_TYPE_PREFIX + key
                        assert str(value["status"]) == status
                    # The body a client meets must fit the schema it is told to expect there.
                    errors = [e.message for e in validator.iter_errors(value)]
                    assert errors == [], f"{method} {path} {status} {key}: {errors[:2]}"


def _shared(doc: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    """An example object, following a `$ref` into `components/examples`."""
    if "$ref" in example:
        found: dict[str, Any] = doc["components"]["examples"][example["$ref"].rsplit("/", 1)[-1]]
        return found
    return example


def test_every_shared_problem_example_fits_the_problem_schemas(doc) -> None:
    for name, example in doc["components"]["examples"].items():
        schema = "OAuthError" if name.startswith("oauth-") else "Problem"
        if name == "validation-error":
            schema = "ValidationProblem"
        root = {"$ref": f"#/components/schemas/{schema}", "components": doc["components"]}
        errors = [
            e.message
            for e in jsonschema_rs.Draft202012Validator(root).iter_errors(example["value"])
        ]
        assert errors == [], name


def test_every_secured_operation_documents_its_authentication_refusal(doc) -> None:
    for method, path, op in _operations(doc):
        requirements = op.get("security", doc.get("security", []))
        if any(requirement for requirement in requirements):  # {} is "no credentials"
            if {} in requirements:
                continue  # credentials optional (OAuth client authentication)
            # 401 for tokens; the payments provider's bad signature is a 400 (its convention)
            refused = {"400", "401"} & set(op["responses"])
            assert refused, f"{method} {path} documents no refusal of its credentials"


def test_every_security_scheme_says_how_to_get_its_credentials(doc) -> None:
    for name, scheme in doc["components"]["securitySchemes"].items():
        assert scheme.get("description"), name


def test_problem_types_are_one_per_slug() -> None:
    by_type: dict[str, set[tuple[int, str]]] = {}
    for error in problems.all_problem_types():
        by_type.setdefault(error.type, set()).add((error.status, error.title))
    # Abstract bases share the generic slugs of their packages; concrete refusals never do.
    clashes = {t: v for t, v in by_type.items() if len(v) > 1 and not t.endswith("-error")}
    assert clashes == {}


def _bodies(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for method, path, op in _operations(doc):
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            found.append((f"{method.upper()} {path} request", body))
        for status, response in op["responses"].items():
            media = response.get("content", {}).get("application/json")
            if status.startswith("2") and media:
                found.append((f"{method.upper()} {path} {status}", media))
    return found


def test_every_json_body_has_an_example_that_fits_its_schema(doc) -> None:
    missing, wrong = [], []
    for where, media in _bodies(doc):
        schema = media.get("schema") or {}
        example = media.get("example", example_of(schema, {}))
        if not has_example(example) or not schema:
            missing.append(where)
            continue
        root = {**schema, "components": doc["components"]}
        errors = [e.message for e in jsonschema_rs.Draft202012Validator(root).iter_errors(example)]
        if errors:
            wrong.append((where, errors[:2]))
    assert wrong == []
    assert missing == []


_LIST_SHAPE = re.compile(r"Page$")


def _schema(doc: dict[str, Any], ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in ref_or_schema:
        return doc["components"]["schemas"][ref_or_schema["$ref"].rsplit("/", 1)[-1]]
    return ref_or_schema


def _parameters(op: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["in"], p["name"]): p for p in op.get("parameters", [])}


def test_every_list_is_one_cursor_page(doc) -> None:
    for method, path, op in _operations(doc):
        ok = op["responses"].get("200", {}).get("content", {}).get("application/json")
        if method != "get" or not ok:
            continue
        schema = _schema(doc, ok["schema"])
        assert schema.get("type") != "array", f"GET {path} answers a bare array, not a page"
        if "items" not in schema.get("properties", {}):
            continue
        assert {"items", "next_cursor"} <= set(schema["required"]), path
        parameters = _parameters(op)
        cursor, limit = parameters[("query", "cursor")], parameters[("query", "limit")]
        assert cursor["schema"]["anyOf"][0]["maxLength"] == 200, path
        assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100), path
        assert "invalid-cursor" in op["responses"]["400"]["content"][PROBLEM]["examples"], path


# Writes without an Idempotency-Key, each for its reason (mobile_contract/conventions.md).
NO_KEY = {
    # signing in and codes: answers carry credentials, codes work once, rate limits guard them
    "POST /v1/auth/sms-codes",
    "POST /v1/auth/sessions/sms",
    "POST /v1/auth/sessions/password",
    "POST /v1/auth/sign-out",
    "POST /v1/staff/sessions",
    "POST /v1/kiosk/sessions",
    "POST /v1/hotline/ivr/verify",
    "POST /v1/me/cards/pin-reset-codes",
    # OAuth endpoints follow RFC 6749
    "POST /oauth2/token",
    "POST /oauth2/userinfo",
    "POST /oauth2/revoke",
    "POST /oauth2/introspect",
    "POST /oauth2/device_authorization",
    # reads sent as POST because their input is personal data
    "POST /v1/staff/residents/lookup",
    "POST /v1/merchant/vouchers/verify",
    "POST /v1/hotline/calls",
    # idempotent by their own ids: record ids, the provider's event ids
    "POST /v1/feeds/{source}/batches",
    "POST /v1/payments/webhook",
}


def test_every_write_takes_the_same_idempotency_key(doc) -> None:
    seen = []
    for method, path, op in _operations(doc):
        if method not in {"post", "patch"} or f"{method.upper()} {path}" in NO_KEY:
            continue
        param = _parameters(op).get(("header", "Idempotency-Key"))
        assert param is not None, f"{method.upper()} {path} takes no Idempotency-Key"
        schema = param["schema"].get("anyOf", [param["schema"]])[0]
        assert (schema["minLength"], schema["maxLength"]) == (1, 255)
        assert schema["pattern"] == "^[\\x21-\\x7e]+$"
        assert "idempotency-key-reused" in op["responses"]["422"]["content"][PROBLEM]["examples"]
        seen.append(param["required"])
    assert len(seen) > 30
    assert True in seen
    assert False in seen
