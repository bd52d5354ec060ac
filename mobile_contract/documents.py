"""Reading OpenAPI 3.x documents and following their local `$ref`s.

Only references inside the same document (`#/components/...`) are followed: the contract is
one self-contained file, so anything else is a mistake worth stopping for."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

EMPTY: Mapping[str, Any] = {}


class ContractError(ValueError):
    """A document that cannot be compared: unreadable, not OpenAPI 3.x, or a broken `$ref`."""


def read_document(path: Path) -> Mapping[str, Any]:
    """The parsed document at `path`, refused early if it is not an OpenAPI 3.x object."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path}: cannot read it ({exc})") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path}: not JSON ({exc})") from exc
    return check_document(document, source=str(path))


def check_document(document: object, *, source: str) -> Mapping[str, Any]:
    """`document`, refused if it is not OpenAPI 3.x, so later steps can trust its outline."""
    if not isinstance(document, Mapping):
        raise ContractError(f"{source}: not an OpenAPI document (the top level is not an object)")
    version = document.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        raise ContractError(f"{source}: not an OpenAPI 3.x document (openapi is {version!r})")
    for member in ("info", "paths", "components"):
        if not isinstance(document.get(member, {}), Mapping):
            raise ContractError(f"{source}: `{member}` is not an object")
    return document


def mapping(value: object) -> Mapping[str, Any]:
    """`value` if it is an object, else empty: optional members read the same either way."""
    return value if isinstance(value, Mapping) else EMPTY


def array(value: object) -> list[Any]:
    """`value` if it is an array, else empty."""
    return value if isinstance(value, list) else []


class Resolver:
    """Follows `$ref`s within one document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document

    def lookup(self, ref: str) -> Any:
        """The value a local JSON pointer (`#/components/schemas/X`) names."""
        if not ref.startswith("#/"):
            raise ContractError(f"only local references are supported, not {ref!r}")
        node: Any = self._document
        for token in ref[2:].split("/"):
            key = unquote(token).replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or key not in node:
                raise ContractError(f"unresolvable reference {ref!r}")
            node = node[key]
        return node

    def check_references(self) -> None:
        """Refuse a document with a `$ref` that leads nowhere, even where nothing compares it:
        clients cannot be generated from it either."""
        pending: list[object] = [self._document]
        while pending:
            node = pending.pop()
            if isinstance(node, Mapping):
                if isinstance(node.get("$ref"), str):
                    self.lookup(node["$ref"])
                pending.extend(node.values())
            elif isinstance(node, list):
                pending.extend(node)

    def resolve(self, value: object) -> tuple[Mapping[str, Any], frozenset[str]]:
        """`value` with its `$ref` chain followed, and the references it went through.

        Members beside a `$ref` (OpenAPI 3.1 allows them) override the target's, which is how
        FastAPI uses them (a description or default on a referenced schema)."""
        node = mapping(value)
        refs: list[str] = []
        while isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in refs:
                raise ContractError(f"reference cycle through {ref!r}")
            refs.append(ref)
            siblings = {key: item for key, item in node.items() if key != "$ref"}
            node = {**mapping(self.lookup(ref)), **siblings}
        return node, frozenset(refs)
