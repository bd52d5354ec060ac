"""The browser side of the OpenID Connect provider: /oauth2/authorize and its pages (sign-in by
QR code or SMS code, consent), RP-initiated logout, and the app's answer to a scanned QR code.

Pages are server-rendered HTML (api/authorize_pages.py). Refusals the partner must hear go back
to its verified redirect URI; every other refusal is a page, never a redirect and never a 500."""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno
from fastapi import Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api import authorize_pages as pages
from api.deps import Session, caller_bucket
from api.principal import CurrentResident, OptionalResidentKey
from api.routing import contract_router
from core.crypto import mask_phone
from core.errors import DomainError
from core.ratelimit import RateLimited, hit
from core.redis import get_redis
from core.settings import get_settings
from identity import authorize, web_login
from identity.authorize import (
    NeedsConsent,
    NeedsLogin,
    NeedsRealName,
    Outcome,
    PendingAuthorization,
    Redirect,
)
from identity.errors import (
    AuthorizationRefused,
    CodeExpired,
    InvalidPhone,
    LoginTicketAnswered,
    LoginTicketExpired,
    LoginTicketNotFound,
    LoginTicketPending,
    ResendTooSoon,
    SmsUnavailable,
    TooManyAttempts,
    WrongCode,
)
from identity.sms import sms_sender
from mobile_contract.problems import raises

router = contract_router(prefix="/oauth2", tags=["partner"])
app_router = contract_router(prefix="/v1/me/qr-logins", tags=["app"])

WEB_COOKIE = "wj_web"
BIND_COOKIE = "wj_bind"  # binds pending requests (and their forms) to this browser
COOKIE_PATH = "/oauth2"
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{43}")
LOGIN_PATH = "/oauth2/authorize/login"
CONSENT_PATH = "/oauth2/authorize/consent"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# --- responses ---------------------------------------------------------------------------------


def _html(content: str, *, status: int = 200, script_nonce: str | None = None) -> HTMLResponse:
    script = f"'nonce-{script_nonce}'" if script_nonce else "'none'"
    policy = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; "
        f"script-src {script}; frame-ancestors 'none'; base-uri 'none'"
    )
    headers = {
        **_NO_STORE,
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",  # the consent page must not be clickjacked
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(content, status_code=status, headers=headers)


def _error(exc: DomainError) -> HTMLResponse:
    return _html(pages.error_page(exc.detail), status=exc.status)


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=_NO_STORE)


def _to_partner(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=302, headers=_NO_STORE)


def _secure() -> bool:
    return get_settings().issuer.startswith("https://")


def _set_cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(),
    )


def _step(outcome: Outcome, pending: PendingAuthorization) -> Response:
    """Where the browser goes after a step of the flow."""
    if isinstance(outcome, Redirect):
        return _to_partner(outcome.url)
    if isinstance(outcome, NeedsLogin):
        return _see(f"{LOGIN_PATH}?request={pending.id}")
    if isinstance(outcome, NeedsRealName):
        return _html(pages.real_name_page(pending))
    assert isinstance(outcome, NeedsConsent)
    return _html(pages.consent_page(pending, outcome.claims))


def _cookie(request: Request, name: str) -> str | None:
    value = request.cookies.get(name)
    return value if value and _COOKIE_VALUE.fullmatch(value) else None


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return authorize.single_params(items)


async def _pending_form(request: Request) -> tuple[PendingAuthorization, dict[str, str]]:
    """A posted form's pending request, checked against this browser and its CSRF token."""
    form = await _form(request)
    pending = await authorize.load(
        get_redis(), form.get("request", ""), browser_token=_cookie(request, BIND_COOKIE)
    )
    authorize.check_csrf(pending, form.get("csrf"))
    return pending, form


# The two addresses a partner sends the resident's browser to: answered with pages and redirects.
BROWSER_RESPONSES: dict[int | str, dict[str, Any]] = {
    302: {
        "description": "Back to the partner's redirect URI with `code`, `state` and `iss` (or "
        "`error` and `error_description`)."
    },
    303: {"description": "On to the next page of the flow."},
    "4XX": {
        "description": "A page telling the resident the request cannot be trusted enough to "
        "send them back (unknown client, redirect URI not registered, malformed request).",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
}


def _query(name: str, description: str, *, required: bool = False, **schema: Any) -> dict[str, Any]:
    """A query parameter the handler reads by hand (so FastAPI cannot see it), for the contract.
    Every parameter is sent once and is at most `MAX_PARAM_LENGTH` characters."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string", "maxLength": authorize.MAX_PARAM_LENGTH, **schema},
    }


AUTHORIZE_PARAMETERS = [
    _query("response_type", "Only `code`.", required=True, enum=["code"]),
    _query("client_id", "The partner's registered client id.", required=True, maxLength=100),
    _query(
        "redirect_uri",
        "One of the client's registered redirect URIs, character for character.",
        required=True,
        examples=["https://tongban.example.gov.cn/oauth/callback"],
    ),
    _query(
        "scope",
        "Space-separated; must include `openid`; among the client's registered scopes: "
        "`openid`, `profile`, `phone`, `real_name` (the resident must have verified their real "
        "name, or is asked to first), `offline_access` (a refresh token).",
        required=True,
        examples=["openid profile phone"],
    ),
    _query(
        "state",
        "Opaque; returned unchanged with the code or the error. Use it against CSRF.",
        examples=["af0ifjsldkj"],
    ),
    _query("nonce", "Opaque; copied into the ID token's `nonce` claim.", examples=["n-0S6_WzA2Mj"]),
    _query(
        "code_challenge",
        "PKCE (RFC 7636), required of every client: BASE64URL(SHA256(code_verifier)).",
        required=True,
        pattern="^[A-Za-z0-9_-]{43}$",
        examples=["E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"],
    ),
    _query("code_challenge_method", "Only `S256`.", required=True, enum=["S256"]),
    _query(
        "prompt",
        "Space-separated among `login` (sign in again), `consent` (ask again), `none` (alone: "
        "no page at all; `login_required`, `interaction_required` or `consent_required` comes "
        "back instead) and `select_account` (accepted, no effect).",
        examples=["login"],
    ),
    _query(
        "max_age",
        "Seconds since the resident last signed in on this browser beyond which they sign in "
        "again.",
        pattern="^[0-9]{1,9}$",
    ),
    _query("ui_locales", "Accepted; the pages are shown in Chinese and English."),
]
LOGOUT_PARAMETERS = [
    _query(
        "id_token_hint",
        "An ID token we issued to the client (expired ones too): names the client whose "
        "`post_logout_redirect_uri` may be used.",
        maxLength=8192,
    ),
    _query(
        "client_id",
        "Names the client when there is no `id_token_hint`; must match the hint's if both. A "
        "client we do not know (or a mismatch) only means no redirect: the signed-out page.",
    ),
    _query(
        "post_logout_redirect_uri",
        "Where to send the browser afterwards, if registered for the client; otherwise a "
        "signed-out page is shown.",
        examples=["https://tongban.example.gov.cn/signed-out"],
    ),
    _query("state", "Opaque; added to `post_logout_redirect_uri` when the browser goes back."),
]


# --- the authorization endpoint ----------------------------------------------------------------


@router.get(
    "/authorize",
    response_class=HTMLResponse,
    responses=BROWSER_RESPONSES,
    summary="Sign a resident in for a partner (authorization endpoint)",
    openapi_extra={"parameters": AUTHORIZE_PARAMETERS},
)
async def authorization_endpoint(request: Request, session: Session) -> Response:
    """OpenID Connect authorization endpoint (authorization code flow, PKCE S256 required): send
    the resident's browser here, not an API client. The resident signs in (QR code with the
    app, or SMS code), verifies their real name if `real_name` is asked for, and consents once
    per partner; the browser then comes back to `redirect_uri` with `code`, `state` and `iss`
    (RFC 9207), or with `error` (`invalid_scope`, `access_denied`, `login_required`, …).
    Trade the code at `/oauth2/token` within a minute. A request whose client or redirect URI
    cannot be trusted is never redirected: the resident sees an error page."""
    redis = get_redis()
    browser = _cookie(request, BIND_COOKIE)
    fresh_browser = browser is None
    browser = browser or secrets.token_urlsafe(32)
    try:
        params = authorize.single_params(request.query_params.multi_items())
        pending = await authorize.begin(session, redis, params, browser_token=browser)
        web = await web_login.current_web_session(redis, _cookie(request, WEB_COOKIE))
        outcome = await authorize.proceed(session, redis, pending, web)
    except AuthorizationRefused as refused:
        return _to_partner(authorize.error_redirect(refused))
    except DomainError as exc:
        return _error(exc)
    if isinstance(outcome, NeedsConsent | NeedsRealName):
        # The consent page has its own address, so reloading it does not start over.
        response: Response = _see(f"{CONSENT_PATH}?request={pending.id}")
    else:
        response = _step(outcome, pending)
    if fresh_browser:
        _set_cookie(response, BIND_COOKIE, browser, max_age=None)
    return response


@router.get("/authorize/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, session: Session) -> Response:
    """The sign-in page: a QR code for the app, or phone and SMS code."""
    try:
        pending = await authorize.load(
            get_redis(),
            request.query_params.get("request", ""),
            browser_token=_cookie(request, BIND_COOKIE),
        )
        return await _login(pending, ticket_id=request.query_params.get("ticket"))
    except DomainError as exc:
        return _error(exc)


async def _login(
    pending: PendingAuthorization,
    *,
    ticket_id: str | None = None,
    message: tuple[str, str] | None = None,
) -> Response:
    redis = get_redis()
    ticket = await web_login.get_ticket(redis, ticket_id) if ticket_id else None
    if (
        ticket is None
        or ticket.request_id != pending.id
        or ticket.status
        not in {
            "pending",
            "approved",
        }
    ):
        ticket = await web_login.new_ticket(
            redis,
            request_id=pending.id,
            client_id=pending.client_id,
            client_name=pending.client_name,
            scope=pending.scope,
        )
    svg = segno.make(ticket.deep_link, error="m").svg_inline(scale=5, dark="#1f2933")
    nonce = secrets.token_urlsafe(16)
    page = pages.login_page(
        pending,
        ticket_id=ticket.id,
        qr_svg=svg,
        status_url=f"/oauth2/authorize/qr/{ticket.id}",
        restart_url=f"{LOGIN_PATH}?request={pending.id}",
        script_nonce=nonce,
        message=message,
    )
    return _html(page, script_nonce=nonce)


@router.get("/authorize/qr/{ticket}", include_in_schema=False)
async def qr_status(ticket: Annotated[str, Path(max_length=64)], request: Request) -> Response:
    """What became of a QR login ticket: pending, approved, denied or expired."""
    redis = get_redis()
    try:
        await hit(
            redis, bucket=f"qr-status:ip:{caller_bucket(request)}", limit=300, window_seconds=300
        )
    except RateLimited as exc:
        return JSONResponse({"status": "pending"}, status_code=429, headers=exc.headers())
    found = await web_login.get_ticket(redis, ticket)
    return JSONResponse({"status": found.status if found else "expired"}, headers=_NO_STORE)


@router.post("/authorize/qr/continue", response_class=HTMLResponse, include_in_schema=False)
async def qr_continue(request: Request, session: Session) -> Response:
    """The page's next step once the app approved its QR code: the browser is signed in."""
    try:
        pending, form = await _pending_form(request)
    except DomainError as exc:
        return _error(exc)
    ticket_id = form.get("ticket", "")
    try:
        cookie = await web_login.redeem_ticket(
            session, get_redis(), ticket_id=ticket_id, request_id=pending.id
        )
    except LoginTicketPending:
        waiting = ("请先在手机上确认登录。", "Confirm the sign-in in the app first.")
        return await _login(pending, ticket_id=ticket_id, message=waiting)
    except DomainError:
        again = ("二维码已失效或已被拒绝，请重新扫码。", "The QR code expired or was declined.")
        return await _login(pending, message=again)
    response = _see(f"{CONSENT_PATH}?request={pending.id}")
    _set_cookie(
        response, WEB_COOKIE, cookie, max_age=int(web_login.WEB_SESSION_TTL.total_seconds())
    )
    return response


@router.post("/authorize/sms-code", response_class=HTMLResponse, include_in_schema=False)
async def sms_code(request: Request) -> Response:
    """Text a sign-in code to the phone typed on the page."""
    try:
        pending, form = await _pending_form(request)
    except DomainError as exc:
        return _error(exc)
    phone = form.get("phone", "")[:32]
    try:
        await web_login.send_sign_in_code(
            get_redis(), sms_sender(get_settings()), phone=phone, caller=caller_bucket(request)
        )
    except ResendTooSoon:
        sent = ("验证码刚刚已发送，请稍后再试。", "A code was sent moments ago.")
        return _html(pages.code_page(pending, phone=phone, masked=mask_phone(phone), message=sent))
    except InvalidPhone:
        return await _login(pending, message=("手机号码格式不正确。", "The number is not valid."))
    except (RateLimited, SmsUnavailable):
        return await _login(pending, message=("暂时无法发送短信，请稍后再试。", "Try later."))
    return _html(pages.code_page(pending, phone=phone, masked=mask_phone(phone), message=None))


@router.post("/authorize/sms-sign-in", response_class=HTMLResponse, include_in_schema=False)
async def sms_sign_in(request: Request, session: Session) -> Response:
    """Sign the browser in with the phone and its SMS code."""
    try:
        pending, form = await _pending_form(request)
    except DomainError as exc:
        return _error(exc)
    phone, code = form.get("phone", "")[:32], form.get("code", "")[:12]
    try:
        cookie = await web_login.sign_in_with_code(
            session, get_redis(), phone=phone, code=code, caller=caller_bucket(request)
        )
    except (WrongCode, CodeExpired, TooManyAttempts) as exc:
        wrong = ("验证码不正确或已失效。", exc.detail)
        page = pages.code_page(pending, phone=phone, masked=mask_phone(phone), message=wrong)
        return _html(page, status=400)
    except (InvalidPhone, RateLimited):
        return await _login(pending, message=("请重新登录。", "Please sign in again."))
    response = _see(f"{CONSENT_PATH}?request={pending.id}")
    _set_cookie(
        response, WEB_COOKIE, cookie, max_age=int(web_login.WEB_SESSION_TTL.total_seconds())
    )
    return response


@router.get("/authorize/consent", response_class=HTMLResponse, include_in_schema=False)
async def consent_page(request: Request, session: Session) -> Response:
    """The consent page (or the verify-your-real-name page), unless consent is already given."""
    redis = get_redis()
    try:
        pending = await authorize.load(
            redis,
            request.query_params.get("request", ""),
            browser_token=_cookie(request, BIND_COOKIE),
        )
        web = await web_login.current_web_session(redis, _cookie(request, WEB_COOKIE))
        return _step(await authorize.proceed(session, redis, pending, web), pending)
    except AuthorizationRefused as refused:
        return _to_partner(authorize.error_redirect(refused))
    except DomainError as exc:
        return _error(exc)


@router.post("/authorize/consent", response_class=HTMLResponse, include_in_schema=False)
async def consent_answer(request: Request, session: Session) -> Response:
    """Allow or deny: the code, or access_denied, goes back to the partner."""
    redis = get_redis()
    try:
        pending, form = await _pending_form(request)
        web = await web_login.current_web_session(redis, _cookie(request, WEB_COOKIE))
        allow = form.get("decision") == "allow"
        return _step(await authorize.decide(session, redis, pending, web, allow=allow), pending)
    except AuthorizationRefused as refused:
        return _to_partner(authorize.error_redirect(refused))
    except DomainError as exc:
        return _error(exc)


# --- logout ------------------------------------------------------------------------------------


@router.get(
    "/logout",
    response_class=HTMLResponse,
    responses=BROWSER_RESPONSES,
    summary="Sign the resident's browser out (RP-initiated logout)",
    openapi_extra={"parameters": LOGOUT_PARAMETERS},
)
async def logout(request: Request, session: Session) -> Response:
    """OpenID Connect RP-Initiated Logout: end the browser session; back to the partner only if
    post_logout_redirect_uri is registered for the client the id_token_hint was issued to,
    otherwise a signed-out page. The partner's own tokens are not revoked: use /oauth2/revoke."""
    try:
        params = authorize.single_params(request.query_params.multi_items())
    except DomainError as exc:
        return _error(exc)
    target = await web_login.end_session(
        session,
        get_redis(),
        cookie=_cookie(request, WEB_COOKIE),
        id_token_hint=params.get("id_token_hint"),
        client_id=params.get("client_id"),
        post_logout_redirect_uri=params.get("post_logout_redirect_uri"),
    )
    response: Response
    if target is None:
        response = _html(pages.signed_out_page())
    else:
        response = _to_partner(_with_state(target, params.get("state")))
    response.delete_cookie(WEB_COOKIE, path=COOKIE_PATH, secure=_secure(), httponly=True)
    return response


def _with_state(uri: str, state: str | None) -> str:
    if state is None:
        return uri
    parts = urlsplit(uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("state", state)]
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- the app's answer to a scanned QR code -----------------------------------------------------


class QrAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"approve": True}]})

    approve: StrictBool = Field(description="`true` signs the browser in as this resident.")


class ClaimOut(BaseModel):
    """What one scope releases, in the words of the consent page."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"scope": "phone", "zh": "手机号码", "en": "Your mobile number"}]
        }
    )

    scope: str
    zh: str
    en: str


class QrLoginOut(BaseModel):
    """A scanned QR code: which partner the browser signs in to, and what it asks for."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "pending",
                    "client_id": "FKFALze_2aEwOBpIH0maTTrV",
                    "client_name": "吴江公共自行车",
                    "claims": [
                        {
                            "scope": "openid",
                            "zh": "你的智慧吴江账号标识",
                            "en": "Your Smart Wujiang account identifier",
                        },
                        {"scope": "phone", "zh": "手机号码", "en": "Your mobile number"},
                    ],
                }
            ]
        }
    )

    status: str = Field(description="`pending` (preview), `approved` or `denied` (answer).")
    client_id: str
    client_name: str
    claims: list[ClaimOut]


def _qr_login_out(ticket: web_login.LoginTicket) -> QrLoginOut:
    claims = [
        ClaimOut(scope=scope, zh=zh, en=en)
        for scope in ticket.scope.split()
        for zh, en in [authorize.describe(scope)]
    ]
    return QrLoginOut(
        status=ticket.status,
        client_id=ticket.client_id,
        client_name=ticket.client_name,
        claims=claims,
    )


@app_router.get("/{ticket}", summary="Preview a scanned sign-in QR code")
@raises(LoginTicketNotFound, LoginTicketAnswered, LoginTicketExpired)
async def preview_qr_login(
    ticket: Annotated[str, Path(max_length=64)], me: CurrentResident
) -> QrLoginOut:
    """What a scanned QR code (`wujiang://login?ticket=…`) would sign the resident into, before
    they approve it: show the partner's name and the claims. A code lives 2 minutes
    (`login-ticket-expired`: ask the resident to refresh the page) and is answered once."""
    return _qr_login_out(await web_login.preview_ticket(get_redis(), ticket_id=ticket))


@app_router.post("/{ticket}", summary="Approve or deny a sign-in QR code")
@raises(LoginTicketNotFound, LoginTicketAnswered, LoginTicketExpired, RateLimited)
async def answer_qr_login(
    ticket: Annotated[str, Path(max_length=64)],
    body: QrAnswer,
    me: CurrentResident,
    _key: Annotated[str | None, OptionalResidentKey],
) -> QrLoginOut:
    """Approve (or deny) signing in on the browser that shows this QR code; the answer says
    which partner it is for and what it asks for. The browser then goes on by itself (to the
    consent page, if the partner is new). 20 answers per resident every 10 minutes."""
    answered = await web_login.answer_ticket(
        get_redis(), ticket_id=ticket, resident_id=me.resident_id, approve=body.approve
    )
    return _qr_login_out(answered)
