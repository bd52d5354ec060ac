"""Whether clients built against one version of the API contract keep working against the next.

`compare(old, new)` lists every difference between two OpenAPI 3.x documents that a client can
notice, each breaking or compatible for a client built against OLD; `render` prints the list.
`wujiang contract check OLD NEW` runs both. Operations are matched by method and path template
(parameter names aside); schemas are compared in `compat_schema`, security in
`compat_security`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mobile_contract.compat_report import Change, Report, render
from mobile_contract.compat_schema import Direction, Place, schema_changes
from mobile_contract.compat_security import effective_security, security_changes
from mobile_contract.documents import ContractError, Resolver, array, check_document, mapping

__all__ = ["Change", "ContractError", "Report", "compare", "render"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_TEMPLATE_PARAMETER = re.compile(r"\{([^}/]*)\}")
_PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class _Operation:
    label: str  # GET /v1/me/points
    spec: Mapping[str, Any]
    path_parameters: tuple[str, ...]  # in template order
    shared_parameters: tuple[Any, ...]  # from the path item


class _Contract:
    """One side of the comparison: the document, its references and its operations."""

    def __init__(self, document: Mapping[str, Any], *, source: str) -> None:
        check_document(document, source=source)
        self.document = document
        self.refs = Resolver(document)
        self.refs.check_references()
        self.operations = _operations(document, self.refs)
        self.version = str(mapping(document.get("info")).get("version", ""))

    def resolved(self, value: object) -> Mapping[str, Any] | None:
        return None if value is None else self.refs.resolve(value)[0]


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> Report:
    """Every difference between two contracts that a client can notice, classified."""
    before, after = _Contract(old, source="old"), _Contract(new, source="new")
    changes: list[Change] = []
    for key in _union(before.operations, after.operations):
        old_operation, new_operation = before.operations.get(key), after.operations.get(key)
        if old_operation and new_operation:
            changes += _Pair(before, after, old_operation, new_operation).changes()
        elif old_operation:
            message = "removed: clients calling it get 404 or 405"
            label = old_operation.label
            changes.append(Change("operation-removed", True, label, "operation", message))
        elif new_operation:
            label = new_operation.label
            changes.append(Change("operation-added", False, label, "operation", "added"))
    return Report(changes=tuple(changes), old_version=before.version, new_version=after.version)


def _operations(document: Mapping[str, Any], refs: Resolver) -> dict[tuple[str, str], _Operation]:
    """Operations keyed by method and path template with parameter names blanked, so that
    `/a/{id}` and `/a/{item_id}` are one operation, as they are one URL."""
    operations = {}
    for path, raw_item in mapping(document.get("paths")).items():
        item, _ = refs.resolve(raw_item)
        template = _TEMPLATE_PARAMETER.sub("{}", path)
        for method in _METHODS:
            if isinstance(item.get(method), Mapping):
                operations[(method, template)] = _Operation(
                    label=f"{method.upper()} {path}",
                    spec=item[method],
                    path_parameters=tuple(_TEMPLATE_PARAMETER.findall(path)),
                    shared_parameters=tuple(array(item.get("parameters"))),
                )
    return operations


@dataclass(frozen=True)
class _Pair:
    """One operation as it is in both contracts."""

    before: _Contract
    after: _Contract
    old: _Operation
    new: _Operation

    def changes(self) -> list[Change]:
        return [
            *self._identity(),
            *self._parameters(),
            *self._request_body(),
            *self._responses(),
            *security_changes(
                operation=self.new.label,
                old=effective_security(self.old.spec, self.before.document),
                new=effective_security(self.new.spec, self.after.document),
            ),
        ]

    def change(self, code: str, breaking: bool, location: str, message: str) -> Change:
        return Change(code, breaking, self.new.label, location, message)

    def schemas(self, old: object, new: object, direction: Direction, where: str) -> list[Change]:
        return schema_changes(
            old,
            new,
            direction=direction,
            place=Place(self.new.label, where),
            old_refs=self.before.refs,
            new_refs=self.after.refs,
        )

    def _identity(self) -> list[Change]:
        """Generated clients name their functions after the operationId."""
        changes = []
        old_id, new_id = self.old.spec.get("operationId"), self.new.spec.get("operationId")
        if old_id != new_id:
            message = f"{old_id!r} -> {new_id!r}: generated clients name their function after it"
            changes.append(self.change("operation-id-changed", True, "operationId", message))
        if self.new.spec.get("deprecated") is True and self.old.spec.get("deprecated") is not True:
            message = "deprecated now; it still works, clients should move off it"
            changes.append(self.change("operation-deprecated", False, "deprecated", message))
        return changes

    def _parameters(self) -> list[Change]:
        old = _parameters(self.before, self.old)
        new = _parameters(self.after, self.new)
        changes = []
        for key in _union(old, new):
            if key not in old:
                changes.append(_parameter_added(self, new[key]))
            elif key not in new:
                message = "removed: the server ignores it when old clients still send it"
                changes.append(self.change("parameter-removed", False, _named(old[key]), message))
            else:
                changes += self._parameter(old[key], new[key])
        return changes

    def _parameter(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
        where = _named(new)
        changes = []
        if old.get("name") != new.get("name"):
            message = f"renamed from {old.get('name')!r}; the URL is the same"
            changes.append(self.change("parameter-renamed", False, where, message))
        if old.get("required") is not True and new.get("required") is True:
            message = "required now: clients that omit it are refused"
            changes.append(self.change("parameter-required", True, where, message))
        if old.get("required") is True and new.get("required") is not True:
            changes.append(self.change("parameter-optional", False, where, "optional now"))
        if new.get("deprecated") is True and old.get("deprecated") is not True:
            changes.append(self.change("parameter-deprecated", False, where, "deprecated now"))
        if _serialisation(old) != _serialisation(new):
            message = (
                f"style/explode {_serialisation(old)} -> {_serialisation(new)}: sent differently"
            )
            changes.append(self.change("parameter-style-changed", True, where, message))
        return changes + self.schemas(
            _parameter_schema(old), _parameter_schema(new), Direction.REQUEST, where
        )

    def _request_body(self) -> list[Change]:
        old = self.before.resolved(self.old.spec.get("requestBody"))
        new = self.after.resolved(self.new.spec.get("requestBody"))
        where = "request body"
        if old is None and new is None:
            return []
        if old is None or new is None:
            return [_body_added(self, new) if old is None else _body_removed(self)]
        changes = []
        if old.get("required") is not True and new.get("required") is True:
            message = "required now: clients that send no body are refused"
            changes.append(self.change("request-body-required", True, where, message))
        if old.get("required") is True and new.get("required") is not True:
            changes.append(self.change("request-body-optional", False, where, "optional now"))
        return changes + self._content(old, new, Direction.REQUEST, where)

    def _content(
        self, old: Mapping[str, Any], new: Mapping[str, Any], direction: Direction, where: str
    ) -> list[Change]:
        """Media types one by one: a client sends or accepts only those it was built for, so
        losing one breaks it and gaining one does not."""
        old_content, new_content = _content(old), _content(new)
        side = direction.value
        changes = []
        for media_type in _union(old_content, new_content):
            here = f"{where} {media_type}"
            if media_type not in new_content:
                message = "no longer offered" if side == "response" else "no longer accepted"
                changes.append(self.change(f"{side}-media-type-removed", True, here, message))
            elif media_type not in old_content:
                changes.append(self.change(f"{side}-media-type-added", False, here, "added"))
            else:
                old_schema = old_content[media_type].get("schema")
                new_schema = new_content[media_type].get("schema")
                changes += self.schemas(old_schema, new_schema, direction, here)
        return changes

    def _responses(self) -> list[Change]:
        old = _responses(self.old)
        new = _responses(self.new)
        changes = []
        for status in _union(old, new):
            where = f"response {status}"
            if status not in new:
                changes.append(_status_removed(self, status))
            elif status not in old:
                changes.append(_status_added(self, status, self.after.resolved(new[status]) or {}))
            else:
                old_response = self.before.resolved(old[status]) or {}
                new_response = self.after.resolved(new[status]) or {}
                changes += self._content(old_response, new_response, Direction.RESPONSE, where)
                changes += self._headers(old_response, new_response, where)
        return changes

    def _headers(self, old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> list[Change]:
        """Response headers are read like response properties."""
        old_headers = _headers(self.before, old)
        new_headers = _headers(self.after, new)
        changes = []
        for name in _union(old_headers, new_headers):
            here = f"{where} header {name}"
            if name not in new_headers:
                # An optional header could always be missing: clients already cope with that.
                required = old_headers[name].get("required") is True
                message = (
                    "removed: clients reading it will not find it"
                    if required
                    else "removed: it was optional, so clients already handle its absence"
                )
                changes.append(self.change("response-header-removed", required, here, message))
            elif name not in old_headers:
                changes.append(self.change("response-header-added", False, here, "added"))
            else:
                changes += self._header(old_headers[name], new_headers[name], here)
        return changes

    def _header(self, old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> list[Change]:
        changes = []
        if old.get("required") is True and new.get("required") is not True:
            message = "optional now: it may be missing"
            changes.append(self.change("response-header-optional", True, where, message))
        old_schema, new_schema = _parameter_schema(old), _parameter_schema(new)
        return changes + self.schemas(old_schema, new_schema, Direction.RESPONSE, where)


def _parameter_added(pair: _Pair, parameter: Mapping[str, Any]) -> Change:
    if parameter.get("required") is True:
        message = "added as required: old clients do not send it and are refused"
        return pair.change("required-parameter-added", True, _named(parameter), message)
    return pair.change("parameter-added", False, _named(parameter), "added as optional")


def _body_added(pair: _Pair, body: Mapping[str, Any] | None) -> Change:
    required = mapping(body).get("required") is True
    message = "added as required: old clients send none" if required else "added as optional"
    return pair.change("request-body-added", required, "request body", message)


def _body_removed(pair: _Pair) -> Change:
    message = "removed: the server ignores a body old clients still send"
    return pair.change("request-body-removed", False, "request body", message)


def _status_removed(pair: _Pair, status: str) -> Change:
    """A client waits for the success it was built for; an error it no longer gets is fine."""
    success = status.startswith("2")
    message = (
        "removed: clients expecting it get another status" if success else "no longer returned"
    )
    return pair.change("response-status-removed", success, f"response {status}", message)


def _status_added(pair: _Pair, status: str, response: Mapping[str, Any]) -> Change:
    """A new error is handled like any error (all of ours are problem+json); a new success or
    redirect is an answer old clients were not built to read."""
    where = f"response {status}"
    if status[:1] in ("1", "2", "3"):
        message = "added: old clients do not expect this status and may fail on it"
        return pair.change("response-status-added", True, where, message)
    documented = "as" if _PROBLEM_JSON in _content(response) else "not as"
    message = f"added, documented {documented} {_PROBLEM_JSON}; clients handle it as an error"
    return pair.change("response-status-added", False, where, message)


def _parameters(contract: _Contract, operation: _Operation) -> dict[tuple[str, str], Any]:
    """Path-item and operation parameters (the latter win), keyed as a client tells them apart:
    path parameters by position, header names without case."""
    parameters: dict[tuple[str, str], Any] = {}
    for raw in (*operation.shared_parameters, *array(operation.spec.get("parameters"))):
        parameter, _ = contract.refs.resolve(raw)
        place, name = str(parameter.get("in")), str(parameter.get("name"))
        if place == "path" and name in operation.path_parameters:
            name = str(operation.path_parameters.index(name))
        elif place == "header":
            name = name.lower()
        parameters[(place, name)] = parameter
    return parameters


def _named(parameter: Mapping[str, Any]) -> str:
    return f"{parameter.get('in')} parameter {parameter.get('name')}"


def _serialisation(parameter: Mapping[str, Any]) -> tuple[str, bool]:
    """`style` and `explode` with the defaults OpenAPI gives each location."""
    in_form = parameter.get("in") in ("query", "cookie")
    style = str(parameter.get("style", "form" if in_form else "simple"))
    explode = parameter.get("explode", style == "form")
    return style, explode is True


def _parameter_schema(parameter: Mapping[str, Any]) -> object:
    """A parameter's (or header's) `schema`, or the schema of its one `content` media type."""
    if "schema" in parameter:
        return parameter["schema"]
    content = list(_content(parameter).values())
    return content[0].get("schema") if content else None


def _content(holder: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Media types without parameters or case: `application/json; charset=utf-8` is JSON."""
    return {
        str(media_type).split(";")[0].strip().lower(): mapping(media)
        for media_type, media in mapping(holder.get("content")).items()
    }


def _responses(operation: _Operation) -> dict[str, Any]:
    """Responses by status, ranges spelled one way (`2xx` is `2XX`), `default` as it is."""
    responses = mapping(operation.spec.get("responses"))
    return {str(status).replace("x", "X"): raw for status, raw in responses.items()}


def _headers(contract: _Contract, response: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(name).lower(): contract.refs.resolve(header)[0]
        for name, header in mapping(response.get("headers")).items()
    }


def _union(first: Iterable[Any], second: Iterable[Any]) -> list[Any]:
    """Keys of both, in the order of the first, then what only the second has."""
    return list(dict.fromkeys([*first, *second]))
