"""Whether the credentials a client sends today are still accepted by the new contract.

An operation's security is a list of alternatives (any one suffices), each naming schemes (all
required) with OAuth scopes. A client holds the credentials of one old alternative; we cannot
know which, so every old alternative must still satisfy some new one. Schemes are compared by
what they ask for (type, header, HTTP scheme, token URLs), not by their names in `components`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mobile_contract.compat_report import Change
from mobile_contract.documents import mapping

Requirement = Mapping[str, frozenset[str]]

# What a client must know to send credentials; descriptions and bearerFormat are hints only.
_IDENTITY = ("type", "scheme", "in", "name", "openIdConnectUrl")
_FLOW_URLS = ("authorizationUrl", "tokenUrl", "refreshUrl")


@dataclass(frozen=True)
class Security:
    """An operation's alternatives (`({},)` when it needs no credentials) and the document's
    security schemes they name."""

    requirements: tuple[Requirement, ...]
    schemes: Mapping[str, Any]


def effective_security(operation: Mapping[str, Any], document: Mapping[str, Any]) -> Security:
    """The operation's own `security`, else the document's; an empty list means none needed."""
    raw = operation["security"] if "security" in operation else document.get("security", [])
    requirements = tuple(
        {name: frozenset(scopes) for name, scopes in mapping(requirement).items()}
        for requirement in (raw if isinstance(raw, list) else [])
    )
    schemes = mapping(mapping(document.get("components")).get("securitySchemes"))
    return Security(requirements=requirements or ({},), schemes=schemes)


def security_changes(*, operation: str, old: Security, new: Security) -> list[Change]:
    """One change when the security of an operation changed, breaking when some old client's
    credentials are no longer enough."""
    if _canonical(old) == _canonical(new):
        return []
    kept = all(
        any(_satisfies(held, asked, old, new) for asked in new.requirements)
        for held in old.requirements
    )
    if kept:
        anonymous = {} in new.requirements
        code = "security-removed" if anonymous else "security-changed"
        message = f"{_described(old)} -> {_described(new)}; the credentials clients send still work"
        return [Change(code, False, operation, "security", message)]
    redefined = _redefined_schemes(old, new)
    if redefined:
        return [
            Change(
                "security-scheme-changed",
                True,
                operation,
                f"components.securitySchemes.{name}",
                message,
            )
            for name, message in redefined
        ]
    code = "security-added" if {} in old.requirements else "security-changed"
    message = f"{_described(old)} -> {_described(new)}: clients must send other credentials"
    return [Change(code, True, operation, "security", message)]


def _satisfies(held: Requirement, asked: Requirement, old: Security, new: Security) -> bool:
    """Credentials for `held` (old) cover `asked` (new): each scheme asked for is one held,
    still accepted, with no scope the client's token lacks."""
    return all(
        any(
            _still_accepted(_scheme(old, held_name), _scheme(new, name)) and scopes <= held_scopes
            for held_name, held_scopes in held.items()
        )
        for name, scopes in asked.items()
    )


def _still_accepted(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Same kind of credential in the same place, and every OAuth flow still where it was."""
    if _identity(old) != _identity(new):
        return False
    new_flows = mapping(new.get("flows"))
    for flow, urls in mapping(old.get("flows")).items():
        after = mapping(new_flows.get(flow))
        if not after or any(mapping(urls).get(url) != after.get(url) for url in _FLOW_URLS):
            return False
    return True


def _identity(scheme: Mapping[str, Any]) -> tuple[object, ...]:
    """HTTP auth schemes and header names are case-insensitive; the rest is compared as is."""
    values = {key: scheme.get(key) for key in _IDENTITY}
    if isinstance(values["scheme"], str):
        values["scheme"] = values["scheme"].lower()
    if values["in"] == "header" and isinstance(values["name"], str):
        values["name"] = values["name"].lower()
    return tuple(values.values())


def _redefined_schemes(old: Security, new: Security) -> list[tuple[str, str]]:
    """Schemes the operation uses whose definition changed under the same name."""
    used = sorted({name for requirement in old.requirements for name in requirement})
    redefined = []
    for name in used:
        before, after = mapping(old.schemes.get(name)), mapping(new.schemes.get(name))
        if before and after and not _still_accepted(before, after):
            differences = [
                f"{key} {before.get(key)!r} -> {after.get(key)!r}"
                for key in (*_IDENTITY, "flows")
                if before.get(key) != after.get(key)
            ]
            message = f"{', '.join(differences)}: clients must send other credentials"
            redefined.append((name, message))
    return redefined


def _scheme(security: Security, name: str) -> Mapping[str, Any]:
    """A scheme by name; an undefined one is only ever equal to itself."""
    return mapping(security.schemes.get(name)) or {"type": f"undefined {name}"}


def _canonical(security: Security) -> list[tuple[tuple[object, ...], ...]]:
    """The requirements in a comparable form, each scheme with its full definition."""
    return sorted(
        tuple(
            sorted(
                (name, tuple(sorted(scopes)), *_definition(_scheme(security, name)))
                for name, scopes in requirement.items()
            )
        )
        for requirement in security.requirements
    )


def _definition(scheme: Mapping[str, Any]) -> tuple[object, ...]:
    flows = mapping(scheme.get("flows"))
    urls = sorted(
        (str(flow), *(str(mapping(body).get(url)) for url in _FLOW_URLS))
        for flow, body in flows.items()
    )
    return (*(repr(value) for value in _identity(scheme)), tuple(urls))


def _described(security: Security) -> str:
    alternatives = [
        " + ".join(
            name + (f"[{' '.join(sorted(scopes))}]" if scopes else "")
            for name, scopes in sorted(requirement.items())
        )
        or "no credentials"
        for requirement in security.requirements
    ]
    return " or ".join(alternatives)
