"""The contract check: each rule shown by two small documents that differ in one thing, then the
real contract, properties over generated schemas, and the `wujiang contract check` command."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from mobile_contract.compat import Change, ContractError, Report, compare, render

JSON = "application/json"
PROBLEM = "application/problem+json"
SAMPLE = Path(__file__).parent / "data" / "openapi-sample.json"
Doc = dict[str, Any]

runner = CliRunner()


# --- Builders ---------------------------------------------------------------------------------


def contract(
    paths: dict[str, dict[str, Any]],
    *,
    version: str = "1.0.0",
    schemas: dict[str, Any] | None = None,
    schemes: dict[str, Any] | None = None,
    **top: Any,
) -> Doc:
    """An OpenAPI 3.1 document: `paths`, components and any other top-level member."""
    components = {"schemas": schemas or {}, "securitySchemes": schemes or {}}
    info = {"title": "Smart Wujiang API", "version": version}
    return {"openapi": "3.1.0", "info": info, "paths": paths, "components": components, **top}


def operation(**spec: Any) -> dict[str, Any]:
    """An operation answering 204 unless told otherwise."""
    return {"operationId": "op", "responses": {"204": {"description": "done"}}, **spec}


def body(schema: object, *, media_type: str = JSON, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {media_type: {"schema": schema}}}


def answer(schema: object, *, media_type: str = JSON, **extra: Any) -> dict[str, Any]:
    return {"description": "ok", "content": {media_type: {"schema": schema}}, **extra}


def sending(schema: object, **schemas: Any) -> Doc:
    """A contract whose one operation takes `schema` as its JSON request body."""
    return contract({"/v1/things": {"post": operation(requestBody=body(schema))}}, schemas=schemas)


def reading(schema: object, **schemas: Any) -> Doc:
    """A contract whose one operation answers 200 with `schema`."""
    get = operation(responses={"200": answer(schema)})
    return contract({"/v1/things": {"get": get}}, schemas=schemas)


def parameters(*declared: dict[str, Any], path: str = "/v1/things") -> Doc:
    return contract({path: {"get": operation(parameters=list(declared))}})


def query(name: str = "page", *, required: bool = False, **schema: Any) -> dict[str, Any]:
    return {
        "in": "query",
        "name": name,
        "required": required,
        "schema": schema or {"type": "integer"},
    }


def secured(*requirements: dict[str, list[str]], schemes: dict[str, Any] | None = None) -> Doc:
    get = operation(security=list(requirements))
    return contract({"/v1/me": {"get": get}}, schemes=schemes or {"Bearer": BEARER})


def obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """How FastAPI and pydantic write `X | None`."""
    return {"anyOf": [schema, {"type": "null"}]}


def only(old: Doc, new: Doc) -> Change:
    """The one change between two documents."""
    report = compare(old, new)
    assert len(report.changes) == 1, render(report)
    return report.changes[0]


def codes(old: Doc, new: Doc) -> list[tuple[str, bool]]:
    return [(change.code, change.breaking) for change in compare(old, new).changes]


BEARER = {"type": "http", "scheme": "bearer"}
STRING = {"type": "string"}
INTEGER = {"type": "integer"}


# --- Schema rules, in both directions ---------------------------------------------------------

# (old schema, new schema, code, breaking for a sender (request), breaking for a reader (response))
VALUE_CHANGES = {
    "enum value removed": (
        {"type": "string", "enum": ["a", "b"]},
        {"type": "string", "enum": ["a"]},
        "enum-narrowed",
        True,
        False,
    ),
    "enum value added": (
        {"type": "string", "enum": ["a"]},
        {"type": "string", "enum": ["a", "b"]},
        "enum-widened",
        False,
        True,
    ),
    "null removed from anyOf": (nullable(STRING), STRING, "nullable-removed", True, False),
    "becoming nullable": (STRING, nullable(STRING), "nullable-added", False, True),
    "null removed from a type list": (
        {"type": ["string", "null"]},
        STRING,
        "nullable-removed",
        True,
        False,
    ),
    "type removed from a union": (
        {"anyOf": [STRING, INTEGER]},
        STRING,
        "type-narrowed",
        True,
        False,
    ),
    "type added to a union": (STRING, {"anyOf": [STRING, INTEGER]}, "type-widened", False, True),
    "type replaced": (STRING, INTEGER, "type-changed", True, True),
    "integer to number": (INTEGER, {"type": "number"}, "type-widened", False, True),
    "any value to one type": ({}, STRING, "type-narrowed", True, False),
    "one type to any value": (STRING, {}, "type-widened", False, True),
    "number to integer": ({"type": "number"}, INTEGER, "type-narrowed", True, False),
    "no value to any value": (False, True, "enum-widened", False, True),
    "enum value added to a nullable type list": (
        {"type": ["string", "null"], "enum": ["a", None]},
        {"type": ["string", "null"], "enum": ["a", "b", None]},
        "enum-widened",
        False,
        True,
    ),
    "multipleOf coarser": (
        {"type": "integer", "multipleOf": 2},
        {"type": "integer", "multipleOf": 4},
        "limit-narrowed",
        True,
        False,
    ),
    "multipleOf finer": (
        {"type": "integer", "multipleOf": 4},
        {"type": "integer", "multipleOf": 2},
        "limit-widened",
        False,
        True,
    ),
    "multipleOf unrelated": (
        {"type": "integer", "multipleOf": 2},
        {"type": "integer", "multipleOf": 3},
        "limit-changed",
        True,
        True,
    ),
    "uniqueItems required": (
        {"type": "array", "items": STRING},
        {"type": "array", "items": STRING, "uniqueItems": True},
        "limit-narrowed",
        True,
        False,
    ),
    "minProperties raised": (
        {"type": "object"},
        {"type": "object", "minProperties": 1},
        "limit-narrowed",
        True,
        False,
    ),
    "const changed": ({"const": "v1"}, {"const": "v2"}, "const-changed", True, True),
    # A list of values replaced by bounds that take every one of them (token_type_hint):
    # only values were added.
    "enum to bounded string that takes the old values": (
        {"type": "string", "enum": ["access_token", "refresh_token"]},
        {"type": "string", "maxLength": 4096, "pattern": "^[a-z_]+$"},
        "enum-widened",
        False,
        True,
    ),
    "enum to integer range that takes the old values": (
        {"type": "integer", "enum": [1, 2, 5]},
        {"type": "integer", "minimum": 1, "maximum": 5},
        "enum-widened",
        False,
        True,
    ),
    "maxLength lowered": (
        {"type": "string", "maxLength": 200},
        {"type": "string", "maxLength": 100},
        "limit-narrowed",
        True,
        False,
    ),
    "maxLength raised": (
        {"type": "string", "maxLength": 100},
        {"type": "string", "maxLength": 200},
        "limit-widened",
        False,
        True,
    ),
    "minLength raised": (
        {"type": "string", "minLength": 1},
        {"type": "string", "minLength": 2},
        "limit-narrowed",
        True,
        False,
    ),
    "maximum lowered": (
        {"type": "integer", "maximum": 10},
        {"type": "integer", "maximum": 5},
        "limit-narrowed",
        True,
        False,
    ),
    "minimum removed": (
        {"type": "integer", "minimum": 1},
        INTEGER,
        "limit-widened",
        False,
        True,
    ),
    "exclusiveMinimum tightened": (
        {"type": "integer", "minimum": 0},
        {"type": "integer", "exclusiveMinimum": 0},
        "limit-narrowed",
        True,
        False,
    ),
    "exclusiveMaximum loosened": (
        {"type": "number", "exclusiveMaximum": 1},
        {"type": "number", "maximum": 1},
        "limit-widened",
        False,
        True,
    ),
    "maxItems lowered": (
        {"type": "array", "items": STRING, "maxItems": 5},
        {"type": "array", "items": STRING, "maxItems": 3},
        "limit-narrowed",
        True,
        False,
    ),
    "minItems raised": (
        {"type": "array", "items": STRING},
        {"type": "array", "items": STRING, "minItems": 1},
        "limit-narrowed",
        True,
        False,
    ),
    "pattern added": (
        STRING,
        {"type": "string", "pattern": "^[0-9]+$"},
        "pattern-added",
        True,
        False,
    ),
    "pattern changed": (
        {"type": "string", "pattern": "^[0-9]+$"},
        {"type": "string", "pattern": "^[a-z]+$"},
        "pattern-changed",
        True,
        True,
    ),
    "pattern removed": (
        {"type": "string", "pattern": "^a"},
        STRING,
        "pattern-removed",
        False,
        True,
    ),
    "format added": (STRING, {"type": "string", "format": "uuid"}, "format-added", True, False),
    "format changed": (
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
        "format-changed",
        True,
        True,
    ),
    "additionalProperties closed": (
        {"type": "object"},
        {"type": "object", "additionalProperties": False},
        "additional-properties-closed",
        True,
        False,
    ),
    "additionalProperties opened": (
        {"type": "object", "additionalProperties": False},
        {"type": "object"},
        "additional-properties-opened",
        False,
        False,
    ),
    "map values widened": (
        {"type": "object", "additionalProperties": INTEGER},
        {"type": "object", "additionalProperties": {"type": "number"}},
        "type-widened",
        False,
        True,
    ),
    "array items narrowed": (
        {"type": "array", "items": nullable(STRING)},
        {"type": "array", "items": STRING},
        "nullable-removed",
        True,
        False,
    ),
    "tuple member retyped": (
        {"type": "array", "prefixItems": [STRING, INTEGER]},
        {"type": "array", "prefixItems": [STRING, STRING]},
        "type-changed",
        True,
        True,
    ),
}


@pytest.mark.parametrize(
    ("old", "new", "code", "breaks_sender", "breaks_reader"),
    list(VALUE_CHANGES.values()),
    ids=list(VALUE_CHANGES),
)
def test_a_value_change_breaks_whoever_can_meet_the_unexpected_value(
    old: object, new: object, code: str, breaks_sender: bool, breaks_reader: bool
) -> None:
    in_request = only(sending(old), sending(new))
    in_response = only(reading(old), reading(new))

    assert (in_request.code, in_request.breaking) == (code, breaks_sender)
    assert (in_response.code, in_response.breaking) == (code, breaks_reader)


def test_bounds_that_refuse_a_value_the_old_list_allowed_still_narrow() -> None:
    old = {"type": "string", "enum": ["ok", "too-long"]}
    new = {"type": "string", "maxLength": 3}

    assert codes(sending(old), sending(new)) == [
        ("enum-widened", False),
        ("limit-narrowed", True),
    ]


# (old, new, request code and breaking, response code and breaking)
PROPERTY_CHANGES = {
    "new required property": (
        obj(id=STRING),
        obj(("note",), id=STRING, note=STRING),
        ("request-required-property-added", True),
        ("response-property-added", False),
    ),
    "new optional property": (
        obj(id=STRING),
        obj(id=STRING, note=STRING),
        ("request-property-added", False),
        ("response-property-added", False),
    ),
    "optional to required": (
        obj(note=STRING),
        obj(("note",), note=STRING),
        ("request-property-required", True),
        ("response-property-required", False),
    ),
    "required to optional": (
        obj(("note",), note=STRING),
        obj(note=STRING),
        ("request-property-optional", False),
        ("response-property-optional", True),
    ),
    "property removed, extra properties allowed": (
        obj(id=STRING, note=STRING),
        obj(id=STRING),
        ("request-property-removed", False),
        ("response-property-removed", True),
    ),
    "property removed, additionalProperties false": (
        {**obj(id=STRING, note=STRING), "additionalProperties": False},
        {**obj(id=STRING), "additionalProperties": False},
        ("request-property-removed", True),
        ("response-property-removed", True),
    ),
}


@pytest.mark.parametrize(
    ("old", "new", "request_change", "response_change"),
    list(PROPERTY_CHANGES.values()),
    ids=list(PROPERTY_CHANGES),
)
def test_a_property_change_is_classified_for_senders_and_readers_apart(
    old: object,
    new: object,
    request_change: tuple[str, bool],
    response_change: tuple[str, bool],
) -> None:
    assert codes(sending(old), sending(new)) == [request_change]
    assert codes(reading(old), reading(new)) == [response_change]


def test_a_removed_response_field_deep_in_an_array_of_objects_is_located_there() -> None:
    entry = obj(("points", "at"), points=INTEGER, at=STRING)
    old = reading(obj(("items",), items={"type": "array", "items": entry}))
    new = reading(obj(("items",), items={"type": "array", "items": obj(("at",), at=STRING)}))

    change = only(old, new)

    assert change.code == "response-property-removed"
    assert change.breaking
    assert change.operation == "GET /v1/things"
    assert change.location == "response 200 application/json: items[].points"


def test_references_are_followed_on_both_sides() -> None:
    old = reading({"$ref": "#/components/schemas/Points"}, Points=obj(("total",), total=INTEGER))
    new = reading({"$ref": "#/components/schemas/Points"}, Points=obj(total=INTEGER))

    change = only(old, new)

    assert (change.code, change.breaking) == ("response-property-optional", True)
    assert change.location == "response 200 application/json: total"


def test_an_inline_schema_moved_into_a_component_is_no_change() -> None:
    shape = obj(("total",), total=INTEGER)
    wrapped = {"allOf": [{"$ref": "#/components/schemas/Points"}], "description": "Yours."}

    assert compare(reading(shape), reading(wrapped, Points=shape)).changes == ()
    assert compare(reading(nullable(shape)), reading(nullable(wrapped), Points=shape)).changes == ()


def test_a_renamed_component_is_compared_by_its_content() -> None:
    old = reading(nullable({"$ref": "#/components/schemas/A"}), A=obj(n=INTEGER))
    new = reading(nullable({"$ref": "#/components/schemas/B"}), B=obj(n={"type": "number"}))

    assert codes(old, new) == [("type-widened", True)]


def test_nullable_reference_losing_its_null_breaks_senders_not_readers() -> None:
    card = obj(("number",), number=STRING)
    old_schema = obj(card=nullable({"$ref": "#/components/schemas/Card"}))
    new_schema = obj(card={"$ref": "#/components/schemas/Card"})

    assert codes(sending(old_schema, Card=card), sending(new_schema, Card=card)) == [
        ("nullable-removed", True)
    ]
    assert codes(reading(old_schema, Card=card), reading(new_schema, Card=card)) == [
        ("nullable-removed", False)
    ]


def test_a_recursive_schema_is_compared_once_and_terminates() -> None:
    def node(*extra: str) -> dict[str, Any]:
        children = {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
        parent = nullable({"$ref": "#/components/schemas/Node"})
        fields = {"name": STRING, "children": children, "parent": parent}
        fields |= dict.fromkeys(extra, INTEGER)
        return obj(("name", *extra), **fields)

    ref = {"$ref": "#/components/schemas/Node"}

    assert compare(sending(ref, Node=node()), sending(ref, Node=node())).changes == ()
    change = only(sending(ref, Node=node()), sending(ref, Node=node("rank")))
    assert (change.code, change.breaking) == ("request-required-property-added", True)
    assert change.location == "request body application/json: rank"


def test_a_union_that_includes_itself_terminates() -> None:
    loop = {"anyOf": [{"$ref": "#/components/schemas/Loop"}, STRING]}
    ref = {"$ref": "#/components/schemas/Loop"}

    assert compare(reading(ref, Loop=loop), reading(ref, Loop=loop)).changes == ()


def test_an_unchanged_branch_of_a_union_keeps_its_partner() -> None:
    old = {"anyOf": [{"const": 1}, {"const": 2}]}
    new = {"anyOf": [{"const": 2}]}

    change = only(sending(old), sending(new))

    assert (change.code, change.breaking, change.message) == ("enum-narrowed", True, "1 removed")


def test_a_new_variant_of_a_discriminated_union_breaks_readers_only() -> None:
    def pets(*names: str) -> dict[str, Any]:
        variants = [{"$ref": f"#/components/schemas/{name}"} for name in names]
        return {"oneOf": variants, "discriminator": {"propertyName": "kind"}}

    kinds = {name: obj(("kind",), kind={"const": name.lower()}) for name in ("Cat", "Dog")}

    assert codes(reading(pets("Cat"), **kinds), reading(pets("Cat", "Dog"), **kinds)) == [
        ("type-widened", True)
    ]
    assert codes(sending(pets("Cat"), **kinds), sending(pets("Cat", "Dog"), **kinds)) == [
        ("type-widened", False)
    ]


def test_a_changed_discriminator_breaks_both_directions() -> None:
    def pets(tag: str) -> dict[str, Any]:
        return {"oneOf": [obj(name=STRING)], "discriminator": {"propertyName": tag}}

    assert codes(reading(pets("kind")), reading(pets("type"))) == [("discriminator-changed", True)]
    assert codes(sending(pets("kind")), sending(pets("type"))) == [("discriminator-changed", True)]


def test_a_changed_request_default_is_reported_as_compatible() -> None:
    old = sending(obj(size={"type": "integer", "default": 20}))
    new = sending(obj(size={"type": "integer", "default": 50}))

    assert codes(old, new) == [("default-changed", False)]


def test_a_type_list_and_an_anyof_with_null_are_the_same_schema() -> None:
    listed = {"type": ["string", "null"], "maxLength": 10}
    union = nullable({"type": "string", "maxLength": 10})

    assert compare(reading(listed), reading(union)).changes == ()


def test_openapi_30_nullable_and_boolean_exclusive_bounds_read_as_31() -> None:
    old = sending({"type": "integer", "minimum": 0, "exclusiveMinimum": True, "nullable": True})
    new = sending(nullable({"type": "integer", "exclusiveMinimum": 0}))

    assert compare(old, new).changes == ()


def test_items_false_after_prefix_items_reads_as_max_items() -> None:
    closed = {"type": "array", "prefixItems": [STRING, INTEGER], "items": False}
    counted = {"type": "array", "prefixItems": [STRING, INTEGER], "maxItems": 2}

    assert compare(sending(closed), sending(counted)).changes == ()


def test_a_deprecated_property_is_reported_as_compatible() -> None:
    old = reading(obj(code=STRING))
    new = reading(obj(code={**STRING, "deprecated": True}))

    assert codes(old, new) == [("schema-deprecated", False)]


def test_an_allof_that_includes_itself_terminates() -> None:
    loop = {"allOf": [{"$ref": "#/components/schemas/Loop"}, obj(n=INTEGER)]}
    ref = {"$ref": "#/components/schemas/Loop"}

    assert compare(reading(ref, Loop=loop), reading(ref, Loop=loop)).changes == ()


def test_documentation_changes_are_no_changes_for_clients() -> None:
    def documented(text: str) -> Doc:
        schema = {
            **obj(id={"type": "string", "description": text, "examples": [text]}),
            "title": text,
        }
        get = operation(
            summary=text,
            description=text,
            tags=[text],
            responses={"200": {**answer(schema), "description": text}},
            parameters=[{**query(), "description": text, "example": 1}],
        )
        return contract({"/v1/things": {"get": get}}, info={"title": text, "version": "1.0.0"})

    assert compare(documented("old words"), documented("new words")).changes == ()


def test_identical_documents_have_no_changes() -> None:
    document = sending(obj(("id",), id={"$ref": "#/components/schemas/Id"}), Id=STRING)

    report = compare(document, copy.deepcopy(document))

    assert report.changes == ()
    assert report.ok


# --- Operations -------------------------------------------------------------------------------


def test_a_removed_operation_breaks_and_an_added_one_does_not() -> None:
    one = contract({"/v1/a": {"get": operation()}})
    two = contract({"/v1/a": {"get": operation()}, "/v1/b": {"post": operation()}})

    assert [(c.code, c.breaking, c.operation) for c in compare(two, one).changes] == [
        ("operation-removed", True, "POST /v1/b")
    ]
    assert [(c.code, c.breaking, c.operation) for c in compare(one, two).changes] == [
        ("operation-added", False, "POST /v1/b")
    ]


def test_a_changed_operation_id_breaks_generated_clients() -> None:
    old = contract({"/v1/a": {"get": operation(operationId="get_a")}})
    new = contract({"/v1/a": {"get": operation(operationId="read_a")}})

    assert codes(old, new) == [("operation-id-changed", True)]


def test_deprecating_an_operation_is_compatible() -> None:
    old = contract({"/v1/a": {"get": operation()}})
    new = contract({"/v1/a": {"get": operation(deprecated=True)}})

    assert codes(old, new) == [("operation-deprecated", False)]


def test_a_renamed_path_parameter_is_the_same_operation() -> None:
    def item(name: str) -> Doc:
        declared = {"in": "path", "name": name, "required": True, "schema": STRING}
        return parameters(declared, path=f"/v1/items/{{{name}}}")

    change = only(item("id"), item("item_id"))

    assert (change.code, change.breaking) == ("parameter-renamed", False)
    assert change.operation == "GET /v1/items/{item_id}"


# --- Parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ((), (query(required=True),), ("required-parameter-added", True)),
        ((), (query(),), ("parameter-added", False)),
        ((query(),), (query(required=True),), ("parameter-required", True)),
        ((query(required=True),), (query(),), ("parameter-optional", False)),
        ((query(required=True),), (), ("parameter-removed", False)),
        ((query(),), ({**query(), "deprecated": True},), ("parameter-deprecated", False)),
        (
            (query(),),
            ({**query(), "explode": False, "style": "form"},),
            ("parameter-style-changed", True),
        ),
        ((query(maximum=100),), (query(maximum=50),), ("limit-narrowed", True)),
        ((query(maximum=50),), (query(maximum=100),), ("limit-widened", False)),
    ],
    ids=[
        "new required",
        "new optional",
        "optional to required",
        "required to optional",
        "removed",
        "deprecated",
        "serialised differently",
        "schema narrowed",
        "schema widened",
    ],
)
def test_parameter_changes(
    old: tuple[dict[str, Any], ...], new: tuple[dict[str, Any], ...], expected: tuple[str, bool]
) -> None:
    assert codes(parameters(*old), parameters(*new)) == [expected]


def test_header_names_are_compared_without_case() -> None:
    old = {"in": "header", "name": "Idempotency-Key", "required": True, "schema": STRING}
    new = {**old, "name": "idempotency-key"}

    assert codes(parameters(old), parameters(new)) == [("parameter-renamed", False)]


def test_path_item_parameters_count_for_each_operation() -> None:
    shared = {"parameters": [query(required=True)], "get": operation()}
    own = {"get": operation(parameters=[query(required=True)])}

    assert compare(contract({"/v1/a": shared}), contract({"/v1/a": own})).changes == ()


def test_parameters_are_located_by_where_they_are_sent() -> None:
    change = only(
        parameters(query(maxLength=5, type="string")), parameters(query(maxLength=4, type="string"))
    )

    assert change.location == "query parameter page"


def test_a_parameter_given_as_content_is_compared_by_its_schema() -> None:
    def filtering(schema: dict[str, Any]) -> Doc:
        return parameters({"in": "query", "name": "filter", "content": {JSON: {"schema": schema}}})

    assert codes(filtering(obj(a=STRING)), filtering(obj(("a",), a=STRING))) == [
        ("request-property-required", True)
    ]


# --- Request bodies ---------------------------------------------------------------------------


def posting(request_body: dict[str, Any] | None) -> Doc:
    spec = operation() if request_body is None else operation(requestBody=request_body)
    return contract({"/v1/things": {"post": spec}})


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (body(STRING, required=False), body(STRING), ("request-body-required", True)),
        (body(STRING), body(STRING, required=False), ("request-body-optional", False)),
        (None, body(STRING), ("request-body-added", True)),
        (None, body(STRING, required=False), ("request-body-added", False)),
        (body(STRING), None, ("request-body-removed", False)),
        (
            {"content": {JSON: {"schema": STRING}, "text/plain": {"schema": STRING}}},
            {"content": {JSON: {"schema": STRING}}},
            ("request-media-type-removed", True),
        ),
        (
            {"content": {JSON: {"schema": STRING}}},
            {"content": {JSON: {"schema": STRING}, "text/plain": {"schema": STRING}}},
            ("request-media-type-added", False),
        ),
    ],
    ids=[
        "becomes required",
        "becomes optional",
        "required body added",
        "optional body added",
        "removed",
        "media type removed",
        "media type added",
    ],
)
def test_request_body_changes(
    old: dict[str, Any] | None, new: dict[str, Any] | None, expected: tuple[str, bool]
) -> None:
    assert codes(posting(old), posting(new)) == [expected]


def test_media_type_parameters_do_not_make_another_media_type() -> None:
    old = posting(body(STRING, media_type="application/json; charset=utf-8"))

    assert compare(old, posting(body(STRING))).changes == ()


# --- Responses --------------------------------------------------------------------------------


def answering(responses: dict[str, Any]) -> Doc:
    return contract({"/v1/things": {"get": operation(responses=responses)}})


PROBLEM_404 = answer({"type": "object"}, media_type=PROBLEM)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            {"200": answer(STRING), "202": answer(STRING)},
            {"200": answer(STRING)},
            ("response-status-removed", True),
        ),
        (
            {"200": answer(STRING), "404": PROBLEM_404},
            {"200": answer(STRING)},
            ("response-status-removed", False),
        ),
        (
            {"200": answer(STRING)},
            {"200": answer(STRING), "201": answer(STRING)},
            ("response-status-added", True),
        ),
        (
            {"200": answer(STRING)},
            {"200": answer(STRING), "404": PROBLEM_404},
            ("response-status-added", False),
        ),
        (
            {
                "200": {
                    "description": "ok",
                    "content": {JSON: {"schema": STRING}, "text/csv": {"schema": STRING}},
                }
            },
            {"200": answer(STRING)},
            ("response-media-type-removed", True),
        ),
        (
            {"200": answer(STRING)},
            {
                "200": {
                    "description": "ok",
                    "content": {JSON: {"schema": STRING}, "text/csv": {"schema": STRING}},
                }
            },
            ("response-media-type-added", False),
        ),
        (
            {"200": answer(STRING, headers={"Retry-After": {"schema": INTEGER, "required": True}})},
            {"200": answer(STRING)},
            ("response-header-removed", True),
        ),
        (
            {"200": answer(STRING, headers={"Retry-After": {"schema": INTEGER}})},
            {"200": answer(STRING)},
            ("response-header-removed", False),
        ),
        (
            {"200": answer(STRING)},
            {"200": answer(STRING, headers={"Retry-After": {"schema": INTEGER}})},
            ("response-header-added", False),
        ),
    ],
    ids=[
        "success removed",
        "error removed",
        "success added",
        "problem added",
        "media type removed",
        "media type added",
        "required header removed",
        "optional header removed",
        "header added",
    ],
)
def test_response_changes(
    old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]], expected: tuple[str, bool]
) -> None:
    assert codes(answering(old), answering(new)) == [expected]


def test_a_response_header_that_may_now_be_missing_breaks_readers() -> None:
    header = {"required": True, "schema": INTEGER}
    old = answering({"429": answer(STRING, headers={"Retry-After": header})})
    new = answering({"429": answer(STRING, headers={"retry-after": {**header, "required": False}})})

    change = only(old, new)

    assert (change.code, change.breaking) == ("response-header-optional", True)
    assert change.location == "response 429 header retry-after"


def test_status_ranges_are_one_status_however_they_are_spelled() -> None:
    old = answering({"2xx": answer(STRING), "default": PROBLEM_404})
    new = answering({"2XX": answer(STRING), "default": PROBLEM_404})

    assert compare(old, new).changes == ()
    assert codes(old, answering({"2XX": answer(STRING)})) == [("response-status-removed", False)]


def test_error_bodies_are_read_like_any_response() -> None:
    with_balance = obj(("type", "balance"), type=STRING, balance=INTEGER)
    without = obj(("type",), type=STRING)
    old = answering({"200": answer(STRING), "409": answer(with_balance, media_type=PROBLEM)})
    new = answering({"200": answer(STRING), "409": answer(without, media_type=PROBLEM)})

    change = only(old, new)

    assert (change.code, change.breaking) == ("response-property-removed", True)
    assert change.location == "response 409 application/problem+json: balance"


# --- Security ---------------------------------------------------------------------------------

KIOSK = {"type": "apiKey", "in": "header", "name": "Authorization"}
OAUTH = {
    "type": "oauth2",
    "flows": {"clientCredentials": {"tokenUrl": "/oauth2/token", "scopes": {"a": "", "b": ""}}},
}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ((), ({"Bearer": []},), ("security-added", True)),
        (({"Bearer": []},), ({"Kiosk": []},), ("security-changed", True)),
        (({"OAuth": ["a"]},), ({"OAuth": ["a", "b"]},), ("security-changed", True)),
        (({"OAuth": ["a", "b"]},), ({"OAuth": ["a"]},), ("security-changed", False)),
        (({"Bearer": []},), ({"Bearer": []}, {"Kiosk": []}), ("security-changed", False)),
        (({"Bearer": []},), (), ("security-removed", False)),
        (({"Bearer": []},), ({"Bearer": []}, {}), ("security-removed", False)),
    ],
    ids=[
        "requirement added",
        "scheme replaced",
        "scope added",
        "scope dropped",
        "alternative added",
        "all removed",
        "anonymous allowed",
    ],
)
def test_security_changes(
    old: tuple[dict[str, list[str]], ...],
    new: tuple[dict[str, list[str]], ...],
    expected: tuple[str, bool],
) -> None:
    schemes = {"Bearer": BEARER, "Kiosk": KIOSK, "OAuth": OAUTH}

    assert codes(secured(*old, schemes=schemes), secured(*new, schemes=schemes)) == [expected]


def test_document_security_applies_where_an_operation_has_none() -> None:
    old = contract(
        {"/v1/me": {"get": operation()}}, schemes={"Bearer": BEARER}, security=[{"Bearer": []}]
    )
    new = secured({"Bearer": []})

    assert compare(old, new).changes == ()


def test_a_redefined_scheme_breaks_every_operation_that_uses_it() -> None:
    def kiosk(header: str) -> Doc:
        get = operation(security=[{"Kiosk": []}])
        paths = {
            "/v1/kiosk/points": {"get": get},
            "/v1/kiosk/rewards": {"get": get},
            "/v1/open": {"get": operation()},
        }
        return contract(paths, schemes={"Kiosk": {**KIOSK, "name": header}})

    changes = compare(kiosk("Authorization"), kiosk("X-Kiosk-Key")).changes

    assert [(c.code, c.breaking, c.operation) for c in changes] == [
        ("security-scheme-changed", True, "GET /v1/kiosk/points"),
        ("security-scheme-changed", True, "GET /v1/kiosk/rewards"),
    ]
    assert "'Authorization' -> 'X-Kiosk-Key'" in changes[0].message


def test_a_renamed_scheme_or_a_new_description_keeps_credentials_working() -> None:
    old = secured({"Bearer": []}, schemes={"Bearer": {**BEARER, "scheme": "Bearer"}})
    renamed = secured(
        {"HTTPBearer": []}, schemes={"HTTPBearer": {**BEARER, "description": "Token"}}
    )

    assert codes(old, renamed) == [("security-changed", False)]


def test_oauth_token_urls_matter_and_new_flows_do_not() -> None:
    def oauth(**flows: dict[str, Any]) -> Doc:
        return secured({"OAuth": ["a"]}, schemes={"OAuth": {"type": "oauth2", "flows": flows}})

    token = {"tokenUrl": "/oauth2/token", "scopes": {"a": "read"}}
    moved = {**token, "tokenUrl": "/v2/oauth2/token"}
    device = {"tokenUrl": "/oauth2/token", "authorizationUrl": "/oauth2/device", "scopes": {}}

    assert codes(oauth(clientCredentials=token), oauth(clientCredentials=moved)) == [
        ("security-scheme-changed", True)
    ]
    assert codes(
        oauth(clientCredentials=token), oauth(clientCredentials=token, implicit=device)
    ) == [("security-changed", False)]


# --- Report and versions ----------------------------------------------------------------------


def removing_an_operation(old_version: str, new_version: str) -> Report:
    paths = {"/v1/a": {"get": operation()}, "/v1/b": {"get": operation()}}
    old = contract(paths, version=old_version)
    new = contract({"/v1/a": paths["/v1/a"]}, version=new_version)
    return compare(old, new)


@pytest.mark.parametrize(
    ("old_version", "new_version", "bumped"),
    [
        ("1.4.2", "2.0.0", True),
        ("0.1.0", "1.0.0", True),
        ("1.4.2", "1.5.0", False),
        ("2.0.0", "1.9.9", False),
        ("1.4.2", "2.0.0-rc.1", True),
        ("1.4", "2.0", False),
        ("v1.0.0", "v2.0.0", False),
        ("", "2.0.0", False),
    ],
)
def test_major_bump_reads_semver_and_refuses_anything_else(
    old_version: str, new_version: str, bumped: bool
) -> None:
    report = removing_an_operation(old_version, new_version)

    assert report.major_bumped is bumped
    assert report.ok is bumped
    assert len(report.breaking) == 1


def test_a_major_bump_accepts_breaking_changes_and_still_lists_them() -> None:
    report = removing_an_operation("1.4.2", "2.0.0")

    assert report.ok
    assert [change.code for change in report.breaking] == ["operation-removed"]
    assert "accepted because the major version went up" in render(report).splitlines()[-1]


def test_render_puts_breaking_changes_first_and_ends_with_the_verdict() -> None:
    old = contract({"/v1/a": {"get": operation()}, "/v1/b": {"get": operation()}})
    new = contract({"/v1/b": {"get": operation()}, "/v1/c": {"get": operation()}})

    lines = render(compare(old, new)).splitlines()

    assert lines[0].startswith("BREAKING    operation-removed  GET /v1/a")
    assert lines[2].startswith("compatible  operation-added  GET /v1/c")
    assert lines[-1].startswith("FAILED: 1 breaking change(s) without a major version bump")


def test_broken_references_and_non_openapi_documents_are_refused() -> None:
    dangling = reading({"$ref": "#/components/schemas/Missing"})
    external = reading({"$ref": "other.json#/components/schemas/X"})

    for document in (dangling, external):
        with pytest.raises(ContractError, match="reference"):
            compare(document, document)
    looping = reading(
        {"$ref": "#/components/schemas/A"},
        A={"$ref": "#/components/schemas/B"},
        B={"$ref": "#/components/schemas/A"},
    )
    with pytest.raises(ContractError, match="reference cycle"):
        compare(looping, looping)
    with pytest.raises(ContractError, match=r"not an OpenAPI 3\.x"):
        compare({"swagger": "2.0", "paths": {}}, dangling)


# --- The real contract ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> Doc:
    document: Doc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return document


def test_the_real_contract_compared_with_itself_has_no_changes(sample: Doc) -> None:
    report = compare(sample, copy.deepcopy(sample))

    assert report.changes == ()
    assert len(sample["paths"]) > 100


def test_a_field_removed_from_a_real_response_breaks_every_operation_returning_it(
    sample: Doc,
) -> None:
    mutated = copy.deepcopy(sample)
    del mutated["components"]["schemas"]["PointsSummary"]["properties"]["held"]

    changes = compare(sample, mutated).breaking

    assert {(c.code, c.operation, c.location) for c in changes} >= {
        ("response-property-removed", "GET /v1/me/points", "response 200 application/json: held")
    }
    assert all(change.code == "response-property-removed" for change in changes)


def test_a_required_field_added_to_a_real_request_breaks(sample: Doc) -> None:
    mutated = copy.deepcopy(sample)
    award = mutated["components"]["schemas"]["AwardIn"]
    award["properties"]["witness"] = {"type": "string"}
    award["required"].append("witness")

    assert [(c.code, c.breaking, c.operation) for c in compare(sample, mutated).changes] == [
        ("request-required-property-added", True, "POST /v1/staff/awards")
    ]


def test_a_real_operation_removed_breaks(sample: Doc) -> None:
    mutated = copy.deepcopy(sample)
    del mutated["paths"]["/v1/me/points"]["get"]

    report = compare(sample, mutated)

    assert [(c.code, c.breaking, c.operation) for c in report.changes] == [
        ("operation-removed", True, "GET /v1/me/points")
    ]
    assert not report.ok


# --- Properties over generated schemas --------------------------------------------------------

LITERALS = st.one_of(st.text(max_size=3), st.integers(-5, 5))
SCALARS = st.one_of(
    st.builds(lambda n: {"type": "string", "maxLength": n}, st.integers(0, 9)),
    st.builds(lambda n: {"type": "integer", "minimum": n}, st.integers(-9, 9)),
    st.builds(lambda values: {"enum": values}, st.lists(LITERALS, min_size=1, max_size=4)),
    st.just({"type": "null"}),
    st.just({"type": ["string", "null"], "format": "date"}),
)
SCHEMAS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.builds(lambda items: {"type": "array", "items": items}, inner),
        st.builds(lambda options: {"anyOf": options}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(
            lambda properties, closed: {
                "type": "object",
                "properties": properties,
                "required": sorted(properties)[:1],
                "additionalProperties": not closed,
            },
            st.dictionaries(st.sampled_from("abcd"), inner, max_size=3),
            st.booleans(),
        ),
    ),
    max_leaves=12,
)


@given(SCHEMAS)
def test_any_schema_compared_with_itself_has_no_changes(schema: dict[str, Any]) -> None:
    assert compare(sending(schema), sending(copy.deepcopy(schema))).changes == ()
    assert compare(reading(schema), reading(copy.deepcopy(schema))).changes == ()


@given(SCHEMAS, SCHEMAS)
def test_any_two_schemas_compare_into_located_changes(old: object, new: object) -> None:
    for build, where in ((sending, "request body application/json"), (reading, "response 200")):
        for change in compare(build(old), build(new)).changes:
            assert change.operation in ("POST /v1/things", "GET /v1/things")
            assert change.location.startswith(where)
            assert change.message


@given(
    st.lists(st.text(max_size=4), min_size=1, max_size=5, unique=True),
    st.lists(st.text(max_size=4), max_size=5),
)
def test_widening_an_enum_never_breaks_senders_and_always_breaks_readers(
    values: list[str], extra: list[str]
) -> None:
    old = {"type": "string", "enum": values}
    new = {"type": "string", "enum": values + [value for value in extra if value not in values]}
    widened = any(value not in values for value in extra)

    assert not compare(sending(old), sending(new)).breaking
    assert bool(compare(reading(old), reading(new)).breaking) is widened


@given(st.integers(0, 50), st.integers(0, 50), st.sampled_from(["maxLength", "minLength"]))
def test_a_length_limit_breaks_the_side_it_surprises(before: int, after: int, keyword: str) -> None:
    old, new = {"type": "string", keyword: before}, {"type": "string", keyword: after}
    narrower = after < before if keyword == "maxLength" else after > before

    assert bool(compare(sending(old), sending(new)).breaking) is narrower
    assert bool(compare(reading(old), reading(new)).breaking) is (before != after and not narrower)


@given(SCALARS, SCALARS)
def test_a_value_change_breaking_senders_breaks_readers_when_reversed(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    """Whatever narrows one way widens the other: the two directions mirror each other."""
    assert bool(compare(sending(first), sending(second)).breaking) is bool(
        compare(reading(second), reading(first)).breaking
    )


# --- The command ------------------------------------------------------------------------------


def write(path: Path, document: object) -> str:
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def test_check_exits_0_without_breaking_changes(tmp_path: Path) -> None:
    old = write(tmp_path / "old.json", contract({"/v1/a": {"get": operation()}}))
    new = write(
        tmp_path / "new.json",
        contract({"/v1/a": {"get": operation()}, "/v1/b": {"get": operation()}}, version="1.1.0"),
    )

    result = runner.invoke(app, ["contract", "check", old, new])

    assert result.exit_code == 0, result.output
    assert "operation-added  GET /v1/b" in result.output
    assert "OK: 1 compatible change(s), none breaking (1.0.0 -> 1.1.0)." in result.output


def test_check_exits_1_on_a_breaking_change_without_a_major_bump(tmp_path: Path) -> None:
    report_args = [
        write(tmp_path / "old.json", sending(obj(id=STRING))),
        write(tmp_path / "new.json", sending(obj(("id",), id=STRING))),
    ]

    result = runner.invoke(app, ["contract", "check", *report_args])

    assert result.exit_code == 1, result.output
    assert "BREAKING    request-property-required  POST /v1/things" in result.output
    assert "FAILED" in result.output


def test_check_exits_0_when_the_major_version_went_up(tmp_path: Path) -> None:
    old = write(tmp_path / "old.json", contract({"/v1/a": {"get": operation()}}))
    new = write(tmp_path / "new.json", contract({}, version="2.0.0"))

    result = runner.invoke(app, ["contract", "check", old, new])

    assert result.exit_code == 0, result.output
    assert "operation-removed" in result.output
    assert "accepted because the major version went up (1.0.0 -> 2.0.0)" in result.output


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (None, "cannot read it"),
        ("{not json", "not JSON"),
        (json.dumps({"swagger": "2.0", "paths": {}}), "not an OpenAPI 3.x document"),
        (json.dumps(["openapi", "3.1.0"]), "not an OpenAPI document"),
        (json.dumps(reading({"$ref": "#/components/schemas/Gone"})), "unresolvable reference"),
    ],
    ids=["missing", "not json", "swagger 2", "not an object", "broken reference"],
)
def test_check_exits_2_on_a_file_it_cannot_compare(
    tmp_path: Path, content: str | None, complaint: str
) -> None:
    good = write(tmp_path / "good.json", contract({}))
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content, encoding="utf-8")

    result = runner.invoke(app, ["contract", "check", good, str(bad)])

    assert result.exit_code == 2
    assert complaint in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_check_json_lists_the_changes_for_machines(tmp_path: Path) -> None:
    old = write(tmp_path / "old.json", reading(obj(("n",), n={"type": "integer", "enum": [1, 2]})))
    new = write(
        tmp_path / "new.json", reading(obj(("n",), n={"type": "integer", "enum": [1, 2, 3]}))
    )

    result = runner.invoke(app, ["contract", "check", "--json", old, new])

    assert result.exit_code == 1, result.output
    printed = json.loads(result.output)
    assert printed["ok"] is False
    assert printed["major_bumped"] is False
    assert printed["changes"] == [
        {
            "code": "enum-widened",
            "breaking": True,
            "operation": "GET /v1/things",
            "location": "response 200 application/json: n",
            "message": "3 added",
        }
    ]


def test_check_on_the_real_contract_against_itself(tmp_path: Path) -> None:
    result = runner.invoke(app, ["contract", "check", str(SAMPLE), str(SAMPLE)])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "OK: no changes for clients (0.1.0 -> 0.1.0)."
