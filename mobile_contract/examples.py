"""Examples on the operations. They are written once, on the pydantic models
(`model_config = ConfigDict(json_schema_extra={"examples": [...]})`), and appear in the
components; here each JSON request body and success response gets the example of its schema,
so a client developer reading one operation sees a whole request and a whole answer."""

from __future__ import annotations

from typing import Any

JSON_MEDIA_TYPES = ("application/json",)
_NO_EXAMPLE = object()


def lift_examples(document: dict[str, Any]) -> None:
    """Give every JSON request body and 2xx response without an example its schema's."""
    schemas = document.get("components", {}).get("schemas", {})
    for schema in schemas.values():
        for example in schema.get("examples", []):
            restore_nulls(example, schema, schemas)
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for media in _json_media(operation):
                if "example" in media or "examples" in media:
                    continue
                found = example_of(media.get("schema", {}), schemas)
                if found is not _NO_EXAMPLE:
                    media["example"] = restore_nulls(found, media.get("schema", {}), schemas)


def example_of(schema: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> Any:
    """The example a schema stands for: its own, its `$ref`'s, an array of its items', the first
    non-null variant's of an `anyOf`, an object of its properties' (when every required one has
    one); `_NO_EXAMPLE` when there is none."""
    if depth > 12:
        return _NO_EXAMPLE
    if schema.get("examples"):
        return schema["examples"][0]
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return example_of(schemas.get(name, {}), schemas, depth + 1)
    if schema.get("type") == "array" and "items" in schema:
        item = example_of(schema["items"], schemas, depth + 1)
        return _NO_EXAMPLE if item is _NO_EXAMPLE else [item]
    for key in ("anyOf", "oneOf", "allOf"):
        for variant in schema.get(key, []):
            if variant.get("type") != "null":
                found = example_of(variant, schemas, depth + 1)
                if found is not _NO_EXAMPLE:
                    return found
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "properties" in schema:
        return _object_example(schema, schemas, depth)
    return _NO_EXAMPLE


def _object_example(schema: dict[str, Any], schemas: dict[str, Any], depth: int) -> Any:
    """An object built from its properties' examples, or none if a required one has none."""
    built: dict[str, Any] = {}
    required = set(schema.get("required", []))
    for name, prop in schema["properties"].items():
        found = example_of(prop, schemas, depth + 1)
        if found is not _NO_EXAMPLE:
            built[name] = found
        elif name in required:
            return _NO_EXAMPLE
    return built


def restore_nulls(example: Any, schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    """`example` with the nulls FastAPI's document leaves out put back: a required property that
    may be null and is missing was null in the model's example (the document is written without
    any null value). Changes `example` in place, and returns it."""
    schema = _resolved(schema, schemas)
    if isinstance(example, list):
        items = schema.get("items", {})
        for item in example:
            restore_nulls(item, items, schemas)
    elif isinstance(example, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in example and _nullable(properties.get(name, {}), schemas):
                example[name] = None
        for name, value in example.items():
            if name in properties:
                restore_nulls(value, properties[name], schemas)
    return example


def _resolved(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The schema behind `$ref`s and a lone non-null variant (`Model | None`)."""
    for _ in range(8):
        if "$ref" in schema:
            schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
            continue
        variants = [v for v in schema.get("anyOf", []) if v.get("type") != "null"]
        if len(variants) == 1 and "properties" not in schema:
            schema = variants[0]
            continue
        break
    return schema


def _nullable(schema: dict[str, Any], schemas: dict[str, Any]) -> bool:
    if schema.get("type") == "null" or "null" in (schema.get("type") or []):
        return True
    return any(_nullable(v, schemas) for v in schema.get("anyOf", []) + schema.get("oneOf", []))


def has_example(value: Any) -> bool:
    return value is not _NO_EXAMPLE


def _json_media(operation: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON media objects of the request body and the success responses."""
    found = [
        media
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items()
        if media_type in JSON_MEDIA_TYPES
    ]
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            content = response.get("content", {})
            found.extend(
                media for media_type, media in content.items() if media_type in JSON_MEDIA_TYPES
            )
    return found
