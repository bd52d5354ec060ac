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
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for media in _json_media(operation):
                if "example" in media or "examples" in media:
                    continue
                found = example_of(media.get("schema", {}), schemas)
                if found is not _NO_EXAMPLE:
                    media["example"] = found


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
