"""The authorization endpoint's decisions (RFC 6749 §4.1, OpenID Connect Core §3.1.2).

`begin` validates a request in the order the RFC asks: a request whose client or redirect URI
cannot be trusted is refused to the resident's face (AuthorizationRequestInvalid, never a
redirect); every later refusal goes back to that redirect URI (AuthorizationRefused). A valid
request is kept in Redis for 10 minutes under a random id, bound to the browser that sent it
(the SHA-256 of its binding cookie) and carrying a CSRF token for the pages' forms.

`proceed` then says what the resident must do next (sign in, verify their real name, consent)
or, when nothing is left, issues the code; `decide` records the answer of the consent page.
A pending request is consumed exactly once: by the code it produced or by its refusal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.settings import get_settings
from identity import authorization_codes, clients, consents, residents
from identity.errors import (
    AuthorizationRefused,
    AuthorizationRequestExpired,
    AuthorizationRequestInvalid,
    ClientNotFound,
    CsrfRefused,
)
from identity.models import Assurance, Client, assurance_rank
from identity.web_login import WebSession

PENDING_TTL = timedelta(minutes=10)
MAX_PARAM_LENGTH = 2048
MAX_PARAMS = 30
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_PENDING_ID = re.compile(r"[A-Za-z0-9_-]{32}")
_PROMPTS = frozenset({"none", "login", "consent", "select_account"})
REAL_NAME_SCOPE = "real_name"

# What each scope releases, in the words the consent page shows (Chinese first).
SCOPE_TEXT: dict[str, tuple[str, str]] = {
    "openid": ("你的智慧吴江账号标识", "Your Smart Wujiang account identifier"),
    "profile": ("姓名", "Your name"),
    "phone": ("手机号码", "Your mobile number"),
    "real_name": ("实名信息(姓名和身份证号码)", "Your verified name and ID number"),
}


@dataclass(frozen=True)
class PendingAuthorization:
    id: str
    client_id: str
    client_name: str
    redirect_uri: str
    scope: str  # requested scopes, space-separated, in the order asked
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: tuple[str, ...]
    max_age: int | None
    ui_locales: str | None
    created_at: int  # unix seconds
    csrf: str
    browser: str  # SHA-256 of the browser's binding cookie

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.scope.split())


@dataclass(frozen=True)
class Redirect:
    url: str


@dataclass(frozen=True)
class NeedsLogin:
    pass


@dataclass(frozen=True)
class NeedsRealName:
    pass


@dataclass(frozen=True)
class NeedsConsent:
    claims: tuple[tuple[str, str], ...]  # (zh, en) per scope


Outcome = Redirect | NeedsLogin | NeedsRealName | NeedsConsent


class _Refuse(Protocol):  # the shape of `refuse` in `begin`, for the helpers' signatures
    def __call__(self, error: str, detail: str) -> AuthorizationRefused: ...


# --- parameters and validation -----------------------------------------------------------------


def single_params(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Query parameters as a dict; repeated, oversized or too many refused (RFC 6749 §3.1),
    and NUL characters, which no parameter has a use for."""
    params: dict[str, str] = {}
    for count, (name, value) in enumerate(items):
        if count >= MAX_PARAMS or name in params:
            raise AuthorizationRequestInvalid("A parameter is repeated, or there are too many.")
        if len(name) > 64 or len(value) > MAX_PARAM_LENGTH:
            raise AuthorizationRequestInvalid("A parameter is too long.")
        if "\0" in name or "\0" in value:  # PostgreSQL cannot even compare it
            raise AuthorizationRequestInvalid("A parameter holds a NUL character.")
        params[name] = value
    return params


async def begin(
    session: AsyncSession, redis: Redis, params: dict[str, str], *, browser_token: str
) -> PendingAuthorization:
    """Validate an authorization request and keep it, pending, for this browser."""
    client, redirect_uri = await _trusted_target(session, params)

    def refuse(error: str, detail: str) -> AuthorizationRefused:
        return AuthorizationRefused(
            detail, oauth_error=error, redirect_uri=redirect_uri, state=params.get("state")
        )

    if "request" in params:
        raise refuse("request_not_supported", "Request objects are not supported.")
    if "request_uri" in params:
        raise refuse("request_uri_not_supported", "request_uri is not supported.")
    response_type = params.get("response_type")
    if not response_type:
        raise refuse("invalid_request", "response_type is required.")
    if response_type != "code":
        raise refuse("unsupported_response_type", "Only response_type=code is supported.")
    scopes = _scopes(params.get("scope", ""), client, refuse)
    challenge = _challenge(params, refuse)
    prompt = _prompt(params.get("prompt", ""), refuse)
    max_age = _max_age(params.get("max_age"), refuse)
    pending = PendingAuthorization(
        id=secrets.token_urlsafe(24),
        client_id=client.client_id,
        client_name=client.name,
        redirect_uri=redirect_uri,
        scope=" ".join(scopes),
        state=params.get("state"),
        nonce=params.get("nonce"),
        code_challenge=challenge,
        prompt=prompt,
        max_age=max_age,
        ui_locales=params.get("ui_locales"),
        created_at=int(clock.now().timestamp()),
        csrf=secrets.token_urlsafe(24),
        browser=_browser_digest(browser_token),
    )
    await redis.set(_pending_key(pending.id), json.dumps(asdict(pending)), ex=PENDING_TTL)
    return pending


async def _trusted_target(session: AsyncSession, params: dict[str, str]) -> tuple[Client, str]:
    client_id, redirect_uri = params.get("client_id"), params.get("redirect_uri")
    if not client_id:
        raise AuthorizationRequestInvalid("client_id is missing.")
    try:
        client = await clients.get_client(session, client_id)
    except ClientNotFound:
        raise AuthorizationRequestInvalid("The application is not registered.") from None
    # Character for character: no prefix, no normalisation (OpenID Connect Core §3.1.2.1).
    if not redirect_uri or redirect_uri not in client.redirect_uris:
        raise AuthorizationRequestInvalid("The redirect_uri is not registered for this app.")
    return client, redirect_uri


def _scopes(raw: str, client: Client, refuse: _Refuse) -> tuple[str, ...]:
    requested = tuple(dict.fromkeys(raw.split(" ")) if raw else ())
    requested = tuple(s for s in requested if s)
    if "openid" not in requested:
        raise refuse("invalid_scope", "The scope must include openid.")
    outside = set(requested) - set(client.allowed_scopes.split())
    if outside:
        raise refuse("invalid_scope", "The scope asks for more than this client may have.")
    return requested


def _challenge(params: dict[str, str], refuse: _Refuse) -> str:
    # PKCE with S256 for every client: no plain, no absent method, no downgrade (RFC 7636).
    challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
    if not challenge:
        raise refuse("invalid_request", "PKCE is required: send code_challenge (S256).")
    if method != "S256":
        raise refuse("invalid_request", "code_challenge_method must be S256.")
    if not _CHALLENGE.fullmatch(challenge):
        raise refuse("invalid_request", "code_challenge must be 43 base64url characters.")
    return challenge


def _prompt(raw: str, refuse: _Refuse) -> tuple[str, ...]:
    prompt = tuple(p for p in raw.split(" ") if p)
    if not set(prompt) <= _PROMPTS:
        raise refuse("invalid_request", "Unknown prompt value.")
    if "none" in prompt and len(prompt) > 1:
        raise refuse("invalid_request", "prompt=none cannot be combined with other values.")
    return prompt


def _max_age(raw: str | None, refuse: _Refuse) -> int | None:
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise refuse("invalid_request", "max_age must be a number of seconds.")
    return int(raw)


# --- the pending request -----------------------------------------------------------------------


def _pending_key(pending_id: str) -> str:
    return f"oauth:authz:{pending_id}"


def _browser_digest(browser_token: str) -> str:
    return hashlib.sha256(browser_token.encode()).hexdigest()


async def load(redis: Redis, pending_id: str, *, browser_token: str | None) -> PendingAuthorization:
    """The pending request, if it is still there and this browser started it."""
    if not _PENDING_ID.fullmatch(pending_id or ""):
        raise AuthorizationRequestExpired("This sign-in request is not valid.")
    raw = await redis.get(_pending_key(pending_id))
    if raw is None:
        raise AuthorizationRequestExpired("This sign-in request has expired; start again.")
    record = json.loads(raw)
    pending = PendingAuthorization(**{**record, "prompt": tuple(record["prompt"])})
    if not browser_token or not hmac.compare_digest(
        pending.browser, _browser_digest(browser_token)
    ):
        raise AuthorizationRequestExpired("This sign-in request was started in another browser.")
    return pending


def check_csrf(pending: PendingAuthorization, token: str | None) -> None:
    """Refuse a form that does not carry the pending request's CSRF token."""
    if not token or not hmac.compare_digest(pending.csrf.encode(), token.encode()):
        raise CsrfRefused("The form has expired or did not come from this page.")


async def _consume(redis: Redis, pending: PendingAuthorization) -> None:
    # Single use: of two submissions of the same page, only one gets past this.
    if not await redis.delete(_pending_key(pending.id)):
        raise AuthorizationRequestExpired("This sign-in request was already completed.")


# --- what happens next -------------------------------------------------------------------------


def signed_in_enough(pending: PendingAuthorization, web: WebSession | None) -> bool:
    """Whether the browser session satisfies the request (prompt=login, max_age)."""
    if web is None:
        return False
    if "login" in pending.prompt and web.auth_time < pending.created_at:
        return False
    if pending.max_age is not None:
        return clock.now().timestamp() - web.auth_time <= pending.max_age
    return True


async def proceed(
    session: AsyncSession, redis: Redis, pending: PendingAuthorization, web: WebSession | None
) -> Outcome:
    """The next step of the request for this browser, or the redirect with the code."""
    if web is None or not signed_in_enough(pending, web):
        if "none" in pending.prompt:
            await _consume(redis, pending)
            raise refusal(pending, "login_required", "The resident is not signed in.")
        return NeedsLogin()
    resident = await residents.get(session, resident_id=web.resident_id)
    if _lacks_real_name(pending.scopes, resident.assurance):
        if "none" in pending.prompt:
            await _consume(redis, pending)
            raise refusal(pending, "interaction_required", "Real-name verification is needed.")
        return NeedsRealName()
    granted = await consents.current(session, resident_id=resident.id, client_id=pending.client_id)
    if "consent" in pending.prompt or granted is None or not set(pending.scopes) <= granted:
        if "none" in pending.prompt:
            await _consume(redis, pending)
            raise refusal(pending, "consent_required", "The resident has not consented.")
        return NeedsConsent(tuple(describe(scope) for scope in pending.scopes))
    await _consume(redis, pending)
    return Redirect(await _issue(redis, pending, web, resident.assurance))


async def decide(
    session: AsyncSession,
    redis: Redis,
    pending: PendingAuthorization,
    web: WebSession | None,
    *,
    allow: bool,
) -> Outcome:
    """The resident's answer on the consent (or verify-first) page."""
    if web is None or not signed_in_enough(pending, web):
        return NeedsLogin()
    await _consume(redis, pending)
    resident = await residents.get(session, resident_id=web.resident_id)
    needs_real_name = _lacks_real_name(pending.scopes, resident.assurance)
    if needs_real_name:
        raise refusal(
            pending,
            "access_denied",
            "The resident has not verified their real name, which this app requires.",
        )
    if not allow:
        raise refusal(pending, "access_denied", "The resident declined the request.")
    # Added to what was allowed before: asking for less must not withdraw the rest.
    before = await consents.current(session, resident_id=resident.id, client_id=pending.client_id)
    await consents.grant(
        session,
        resident_id=resident.id,
        client_id=pending.client_id,
        scopes=(before or frozenset()) | frozenset(pending.scopes),
    )
    return Redirect(await _issue(redis, pending, web, resident.assurance))


async def refuse_pending(
    redis: Redis, pending: PendingAuthorization, *, error: str, detail: str
) -> AuthorizationRefused:
    """End the pending request with a refusal to send back to the partner."""
    await _consume(redis, pending)
    return refusal(pending, error, detail)


async def _issue(
    redis: Redis, pending: PendingAuthorization, web: WebSession, assurance: str
) -> str:
    code = await authorization_codes.issue(
        redis,
        client_id=pending.client_id,
        redirect_uri=pending.redirect_uri,
        scope=pending.scope,
        code_challenge=pending.code_challenge,
        resident_id=web.resident_id,
        nonce=pending.nonce,
        auth_time=web.auth_time,
        acr=assurance,
        amr=[_AMR[web.amr]],
    )
    return redirect_to(pending.redirect_uri, code=code, state=pending.state)


# RFC 8176 method values: an SMS one-time code; a QR code approved on the resident's phone
# (multiple-channel authentication, the app itself holding a signed-in session).
_AMR = {"sms": "sms", "qr": "mca"}


def refusal(pending: PendingAuthorization, error: str, detail: str) -> AuthorizationRefused:
    return AuthorizationRefused(
        detail, oauth_error=error, redirect_uri=pending.redirect_uri, state=pending.state
    )


def describe(scope: str) -> tuple[str, str]:
    return SCOPE_TEXT.get(scope, (scope, scope))


def redirect_to(redirect_uri: str, **params: str | None) -> str:
    """The redirect URI with `params` (and `iss`, RFC 9207) added to any query it already has."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(name, value) for name, value in params.items() if value is not None]
    query.append(("iss", get_settings().issuer))
    return urlunsplit(parts._replace(query=urlencode(query)))


def error_redirect(error: AuthorizationRefused) -> str:
    return redirect_to(
        error.redirect_uri,
        error=error.oauth_error,
        error_description=error.detail,
        state=error.state,
    )


def _lacks_real_name(scopes: Iterable[str], assurance: str) -> bool:
    """The partner asks for the real name, and the resident has not verified it (below L2)."""
    return REAL_NAME_SCOPE in scopes and assurance_rank(assurance) < assurance_rank(
        Assurance.REAL_NAME
    )
