"""Every response a test receives, checked against the app's contract.

The HTTP test clients (`client`, `committed_client`) run this on each response:
- a refusal (4xx, or a 503) must be documented for its operation and status, with its problem
  `type` among that response's examples (OAuth bodies: their `error`);
- a 2xx JSON body must validate against the documented schema.
So the suite's ~thousands of realistic requests keep the contract honest, beside schemathesis'
generated ones. Requests outside the contract (throwaway test routes, unknown paths, a method
a path does not have) and 500s (documented once, in the conventions) are not checked.

`WUJIANG_CONTRACT_RECORD=FILE` appends what is observed instead of failing (one JSON line per
refusal), for finding what an operation really answers."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema_rs

from core.errors import PROBLEM_TYPE_PREFIX

_PARAMETER = re.compile(r"\{[^/{}]+\}")
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]


class Conformance:
    """The checks for one app's contract."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.operations = sorted(
            (
                Operation(method, path, _compile(path), spec)
                for path, item in document.get("paths", {}).items()
                for method, spec in item.items()
            ),
            key=lambda op: len(_PARAMETER.findall(op.template)),
        )
        self._validators: dict[str, Any] = {}

    def operation(self, method: str, path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method.lower() and op.pattern.fullmatch(path):
                return op
        return None

    async def check(self, response: httpx.Response) -> None:
        op = self.operation(response.request.method, response.request.url.path)
        if op is None or response.status_code == 500:
            return
        await response.aread()
        if response.status_code >= 400:
            self._check_refusal(op, response)
        elif 200 <= response.status_code < 300:
            self._check_success(op, response)

    def _check_refusal(self, op: Operation, response: httpx.Response) -> None:
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        documented = _documented(op, response.status_code)
        if media_type == "text/html" and media_type in documented.get("content", {}):
            return  # the browser flow's error pages
        try:
            body = response.json()
        except ValueError:
            body = {}
        key = _refusal_key(media_type, body)
        examples = documented.get("content", {}).get(media_type, {}).get("examples", {})
        known = key in examples or any(
            self._example(example).get("error") == key for example in examples.values()
        )
        if not known:
            _fail(
                f"{op.method.upper()} {op.template} answered {response.status_code} {key!r} "
                f"({media_type}), which its contract does not document: declare the error "
                f"with @raises on the handler or dependency that raises it",
                method=op.method,
                path=op.template,
                status=response.status_code,
                media_type=media_type,
                key=key,
            )

    def _check_success(self, op: Operation, response: httpx.Response) -> None:
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        documented = op.spec.get("responses", {}).get(str(response.status_code))
        if documented is None:
            _fail(
                f"{op.method.upper()} {op.template} answered {response.status_code}, "
                f"which its contract does not document",
                method=op.method,
                path=op.template,
                status=response.status_code,
                key="undocumented-status",
            )
            return
        content = documented.get("content")
        if not content or media_type != "application/json" or not response.content:
            return
        schema = content.get(media_type, {}).get("schema")
        if not schema:
            return
        errors = [e.message for e in self._validator(schema).iter_errors(response.json())]
        if errors:
            _fail(
                f"{op.method.upper()} {op.template} answered {response.status_code} with a body "
                f"that breaks its documented schema: {errors[:3]}",
                method=op.method,
                path=op.template,
                status=response.status_code,
                key="schema",
                errors=errors[:3],
            )

    def _example(self, example: dict[str, Any]) -> Any:
        """An example's value, following a `$ref` into `components/examples`."""
        if "$ref" in example:
            example = self.document["components"]["examples"][example["$ref"].rsplit("/", 1)[-1]]
        return example.get("value", {})

    def _validator(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            root = {**schema, "components": self.document.get("components", {})}
            self._validators[key] = jsonschema_rs.Draft202012Validator(root)
        return self._validators[key]


def _documented(op: Operation, status: int) -> dict[str, Any]:
    """The response documented for `status`, exactly or by its range (`4XX`)."""
    responses = op.spec.get("responses", {})
    found: dict[str, Any] = responses.get(str(status)) or responses.get(f"{status // 100}XX") or {}
    return found


def _fail(message: str, **entry: Any) -> None:
    record = os.environ.get("WUJIANG_CONTRACT_RECORD")
    if not record:
        raise AssertionError(message)
    with open(record, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")


def _refusal_key(media_type: str, body: Any) -> str:
    if not isinstance(body, dict):
        return "?"
    if media_type == PROBLEM:
        return str(body.get("type", "?")).removeprefix(PROBLEM_TYPE_PREFIX)
    return str(body.get("error", "?"))


def _compile(template: str) -> re.Pattern[str]:
    parts = _PARAMETER.split(template)
    return re.compile("[^/]+".join(re.escape(part) for part in parts))
