"""Who each operation of the contract run is sent as, and keeping those credentials valid for
the whole run although the fuzzed operations revoke them.

Audiences, by path (the operation's security and tag say the same, more coarsely):
- app routes with a bearer token: the `app` resident's app token;
- `/v1/tv/...`: a TV box's token, the box paired through the device grant;
- `/v1/staff/...`, `/v1/admin/...`, `/v1/merchant/...`: the staff member whose role the route
  needs (awarder, approver, counter clerk, district-wide admin, merchant cashier);
- `/v1/kiosk/...`: the working kiosk (`Authorization: Kiosk id:secret`) with the `kiosk`
  resident's card session (`X-Kiosk-Session`); starting a session, the fuzzed kiosk alone;
- `/v1/hotline/...`: signed with the call centre's key over the exact bytes sent, and the
  `hotline` resident's IVR session (`X-IVR-Session`) for the IVR's questions;
- `/v1/feeds/...`: a feed machine's client-credentials token; `/oauth2/userinfo`: a partner
  app's token; `/oauth2/introspect` and `/oauth2/revoke`: the partner app's client secret;
- `/v1/payments/webhook`: a `Stripe-Signature`, when the case sends one, made valid.

Renewal: an operation known to end a credential (sign-out, revoke-all, unpairing, ending a
kiosk session, reporting the card lost, ...) marks it stale when it succeeds, and the next case
that needs it gets a new one. Anything else that kills one (expiry, or an operation not on the
list) shows as a 401: the credentials the case used are then probed, the dead ones renewed, and
the case sent once more. Tokens are minted by the seeding process, as sign-in would make them;
card and IVR sessions are started over HTTP, the card made usable again first if the run lost,
froze, locked it or changed its PIN, and at a new kiosk or from a new caller's number once the
run has used up the rate limit on starting them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import requests
from requests.auth import AuthBase

from channels.hotline.signing import sign as hotline_sign
from identity.clients import TV_CLIENT_ID

HOTLINE_KID = "contract"
HOTLINE_SECRET = "contract-run-hotline-secret-" + "x" * 16
WEBHOOK_SECRET = "whsec_contract_run"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
PROBE_TIMEOUT = 10
SEEDER_ANSWER_SECONDS = 60
RENEWAL_ATTEMPTS = 3

# (path prefix, staff member): the first match wins.
STAFF_ROUTES = [
    ("/v1/admin/", "admin"),
    ("/v1/merchant/", "cashier"),
    ("/v1/staff/awards/pending", "approver"),
    ("/v1/staff/awards/{award_id}/", "approver"),
    ("/v1/staff/flags", "approver"),
    ("/v1/staff/awards", "awarder"),
    ("/v1/staff/residents", "clerk"),
    ("/v1/staff/cards", "clerk"),
    ("/v1/staff/", "awarder"),
]

RESIDENTS = ("app", "kiosk", "hotline")
# After these operations the app resident's card may need making usable again.
CARD_ROUTES = ("/v1/me/cards", "/v1/staff/cards/", "/v1/staff/residents/{resident_id}/cards")
# What a successful call of these operations ends (the credentials the run holds).
REVOKES: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/v1/auth/sign-out"): frozenset({"resident"}),
    ("POST", "/v1/me/sessions/revoke-all"): frozenset({"resident", "tv", "partner"}),
    ("DELETE", "/v1/me/sessions/{session_id}"): frozenset({"resident", "tv", "partner"}),
    ("DELETE", "/v1/me/tv-boxes/{session_id}"): frozenset({"tv"}),
    ("DELETE", "/v1/me/consents/{client_id}"): frozenset({"partner"}),
    ("DELETE", "/v1/kiosk/sessions/current"): frozenset({"kiosk"}),
    ("POST", "/v1/kiosk/me/card/report-lost"): frozenset({"kiosk"}),
    ("POST", "/v1/hotline/ivr/report-lost"): frozenset({"ivr"}),
}


def audience_of(method: str, path: str, *, secured: bool) -> str:
    """Whom the operation `method path` is sent as (see the module docstring)."""
    if path.startswith("/v1/hotline/ivr/") and path != "/v1/hotline/ivr/verify":
        return "ivr"
    if path.startswith("/v1/hotline/"):
        return "hotline"
    if path == "/v1/kiosk/sessions" and method == "POST":
        return "kiosk-device"
    if path.startswith("/v1/kiosk/"):
        return "kiosk"
    if path in ("/oauth2/introspect", "/oauth2/revoke"):
        return "partner-client"
    if path == "/oauth2/userinfo":
        return "partner"
    if path == "/v1/payments/webhook":
        return "webhook"
    if not secured:
        return "public"
    if path.startswith("/v1/tv/"):
        return "tv"
    if path.startswith("/v1/feeds/"):
        return "feed"
    for prefix, who in STAFF_ROUTES:
        if path.startswith(prefix):
            return f"staff:{who}"
    return "resident"


class HotlineSignature(AuthBase):
    """The call centre's four headers, signed over the request exactly as it goes out: the
    path with its query as sent, the body bytes as sent; a fresh nonce each time (a resend of
    the same case included)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = _body_bytes(request)
        timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(24)
        signature = hotline_sign(
            HOTLINE_SECRET.encode(),
            timestamp=timestamp,
            nonce=nonce,
            method=request.method or "GET",
            path=request.path_url,
            body=body,
        )
        request.headers.update(
            {
                "X-Hotline-Key": HOTLINE_KID,
                "X-Hotline-Timestamp": timestamp,
                "X-Hotline-Nonce": nonce,
                "X-Hotline-Signature": signature,
            }
        )
        return request


class WebhookSignature(AuthBase):
    """A valid `Stripe-Signature` over the exact body, in place of the generated one; a case
    without the header goes without, so both branches stay covered."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if "Stripe-Signature" in request.headers:
            body = _body_bytes(request)
            timestamp = int(time.time())
            signed = str(timestamp).encode() + b"." + body
            digest = hmac.new(WEBHOOK_SECRET.encode(), signed, hashlib.sha256).hexdigest()
            request.headers["Stripe-Signature"] = f"t={timestamp},v1={digest}"
        return request


def _body_bytes(request: requests.PreparedRequest) -> bytes:
    """The body as it will be sent; a text body is made bytes (UTF-8) here, so what is signed
    is what goes out (http.client would otherwise encode text as Latin-1, or fail)."""
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        request.body = body.encode("utf-8")
        request.prepare_content_length(request.body)
        return request.body
    if isinstance(body, bytes):
        return body
    return b""  # a stream: nothing a hotline operation sends; its signature simply fails


@dataclass
class Seeder:
    """The seeding process (tests/contract/seeding.py): the world it made, and its commands."""

    process: subprocess.Popen[str]
    world: dict[str, Any]

    def ask(self, op: str, **more: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, **more}) + "\n")
        self.process.stdin.flush()
        line = read_line(self.process.stdout, SEEDER_ANSWER_SECONDS)
        reply: dict[str, Any] = json.loads(line or '{"error": "no answer"}')
        if "error" in reply:
            raise RuntimeError(f"the seeding process refused {op} {more}: {reply['error']}")
        return reply


def read_line(stream: IO[str], timeout: float) -> str:
    """One line from `stream`, or '' when the process ends or `timeout` passes first."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


@dataclass
class Prepared:
    """What a case is sent with: headers, a `requests` auth hook, and the credentials used."""

    headers: dict[str, str] = field(default_factory=dict)
    auth: AuthBase | None = None
    uses: frozenset[str] = frozenset()


@dataclass
class Credentials:
    """The run's credentials, renewed when the run has ended them."""

    world: dict[str, Any]
    seeder: Seeder
    base_url: str
    http: requests.Session
    held: dict[str, str] = field(default_factory=dict)
    renewals: dict[str, int] = field(default_factory=dict)
    # What changes during the run and the fuzzed requests may name (see known.py).
    live: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.held["resident"] = self.world["residents"]["app"]["access_token"]
        self.held["partner"] = self.world["partner"]["access_token"]
        for who, member in self.world["staff"].items():
            self.held[f"staff:{who}"] = member["access_token"]
        self.cards = {who: self.world["residents"][who]["card"] for who in RESIDENTS}
        self.held["tv"] = self.pair_tv()
        self.renewers: dict[str, Callable[[], str]] = {
            "resident": lambda: self.seeder.ask("resident", who="app")["access_token"],
            "tv": self.mint_tv,
            "partner": lambda: self.seeder.ask("partner")["access_token"],
            "kiosk": self.start_kiosk_session,
            "ivr": self.start_ivr_session,
            "feed": self.feed_token,
        }
        self.live["app_card_id"] = self.cards["app"]["id"]
        self.live["tv_session_id"] = self._get("/v1/me/tv-boxes", "resident")["items"][0]["id"]
        inbox = self._get("/v1/me/inbox", "resident")["items"]
        self.live["inbox_item_ids"] = " ".join(item["id"] for item in inbox)

    # --- what a case is sent with ------------------------------------------------------------

    def prepare(self, method: str, path: str, *, secured: bool) -> Prepared:
        audience = audience_of(method, path, secured=secured)
        kiosks = self.world["kiosks"]
        match audience.split(":")[0]:
            case "public":
                return Prepared()
            case "resident" | "tv" | "partner" | "feed" | "staff":
                return Prepared(self._bearer(audience), uses=frozenset({audience}))
            case "kiosk-device":
                return Prepared({"Authorization": _kiosk(kiosks["fuzzed"])})
            case "kiosk":
                headers = {
                    "Authorization": _kiosk(kiosks["working"]),
                    "X-Kiosk-Session": self.get("kiosk"),
                }
                return Prepared(headers, uses=frozenset({"kiosk"}))
            case "ivr":
                headers = {"X-IVR-Session": self.get("ivr")}
                return Prepared(headers, HotlineSignature(), frozenset({"ivr"}))
            case "hotline":
                return Prepared(auth=HotlineSignature())
            case "partner-client":
                partner = self.world["partner"]
                pair = f"{partner['client_id']}:{partner['client_secret']}".encode()
                return Prepared({"Authorization": "Basic " + base64.b64encode(pair).decode()})
            case "webhook":
                return Prepared(auth=WebhookSignature())
        raise AssertionError(f"no credentials for {audience}")

    def _bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.get(name)}"}

    def get(self, name: str) -> str:
        if name not in self.held:
            self.renew(name)
        return self.held[name]

    def renew(self, name: str) -> None:
        if name.startswith("staff:"):
            token = self.seeder.ask("staff", who=name.removeprefix("staff:"))["access_token"]
        else:
            token = self.renewers[name]()
        self.held[name] = token
        self.renewals[name] = self.renewals.get(name, 0) + 1

    # --- after a case ------------------------------------------------------------------------

    def settle(self, method: str, path: str, prepared: Prepared, status: int) -> bool:
        """Drop what the call ended; True if the case must be sent again with renewed ones
        (a 401 although its credentials were valid when the run last knew)."""
        if any(path.startswith(prefix) for prefix in CARD_ROUTES):
            self.keep_app_card()
        if status < 400:
            for name in REVOKES.get((method, path), frozenset()):
                self.held.pop(name, None)
            return False
        if status != 401 or not prepared.uses:
            return False
        dead = [name for name in prepared.uses if not self.alive(name)]
        for name in dead:
            self.renew(name)
        return bool(dead)

    def alive(self, name: str) -> bool:
        """Whether the held credential still works, asked of an operation that needs nothing
        else (the feed token has none: a 401 on a feed means the token)."""
        if name == "feed":
            return False
        probes = {
            "resident": "/v1/me",
            "tv": "/v1/tv/more",
            "partner": "/oauth2/userinfo",
            "kiosk": "/v1/kiosk/me/points",
            "ivr": "/v1/hotline/ivr/balance",
        }
        path = "/v1/staff/me" if name.startswith("staff:") else probes[name]
        prepared = self.prepare("GET", path, secured=True)
        response = self.http.get(
            self.base_url + path,
            headers=prepared.headers,
            auth=prepared.auth,
            timeout=PROBE_TIMEOUT,
        )
        return response.status_code == 200

    def keep_app_card(self) -> None:
        """The app resident's card active and unlocked again after the run froze, lost, locked
        or replaced it: most card operations are worth fuzzing on a card that works."""
        cards = self._get("/v1/me/cards", "resident")["items"]
        if not any(card["status"] == "active" and not card["locked_until"] for card in cards):
            self.cards["app"] = self.seeder.ask("card", who="app")
            self.live["app_card_id"] = self.cards["app"]["id"]

    # --- credentials made over HTTP ----------------------------------------------------------

    def mint_tv(self) -> str:
        """A TV box's session as the device grant leaves it (pairing again over HTTP would run
        into the per-address limit on device authorizations the fuzzer uses up)."""
        minted = self.seeder.ask("tv")
        self.live["tv_session_id"] = minted["session_id"]
        return str(minted["access_token"])

    def pair_tv(self) -> str:
        """The real pairing: the box asks, the resident approves in the app, the box polls."""
        started = self._post("/oauth2/device_authorization", data={"client_id": TV_CLIENT_ID})
        approved = self._post(
            f"/v1/me/device-codes/{started['user_code']}",
            json={"approve": True},
            headers=self._bearer("resident"),
        )
        assert approved, "the resident's approval of the TV box"
        tokens = self._post(
            "/oauth2/token",
            data={
                "grant_type": DEVICE_GRANT,
                "device_code": started["device_code"],
                "client_id": TV_CLIENT_ID,
            },
        )
        return str(tokens["access_token"])

    def start_kiosk_session(self) -> str:
        """A card session at the working kiosk: the kiosk resident's card and PIN."""

        def start() -> requests.Response:
            card = self.cards["kiosk"]
            return self.http.post(
                f"{self.base_url}/v1/kiosk/sessions",
                json={"chip_uid": card["chip_uid"], "pin": card["pin"]},
                headers={"Authorization": _kiosk(self.world["kiosks"]["working"])},
                timeout=PROBE_TIMEOUT,
            )

        def another_kiosk() -> None:  # session starts are limited per kiosk
            self.world["kiosks"]["working"] = self.seeder.ask("kiosk")

        started = self._card_session("kiosk", start, ok=201, limited=another_kiosk)
        return str(started["session_token"])

    def start_ivr_session(self) -> str:
        """An IVR session of the hotline resident calling from their phone (card ending, PIN)."""

        def verify() -> requests.Response:
            phone, card = self.world["residents"]["hotline"]["phone"], self.cards["hotline"]
            body = {"caller_number": phone, "card_last4": card["last4"], "pin": card["pin"]}
            return self.http.post(
                f"{self.base_url}/v1/hotline/ivr/verify",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
                auth=HotlineSignature(),
                timeout=PROBE_TIMEOUT,
            )

        def another_caller() -> None:  # verifications are limited per calling number
            caller = self.seeder.ask("caller")
            self.world["residents"]["hotline"].update(id=caller["id"], phone=caller["phone"])
            self.cards["hotline"] = caller["card"]

        verified = self._card_session("hotline", verify, ok=200, limited=another_caller)
        return str(verified["ivr_session"])

    def _card_session(
        self,
        who: str,
        start: Callable[[], requests.Response],
        *,
        ok: int,
        limited: Callable[[], None],
    ) -> dict[str, Any]:
        """The answer of `start` once it is `ok`: after a refusal, `who`'s card is made usable
        again (the run lost, froze, locked it or changed its PIN); after a 429, `limited` moves
        on to a kiosk or a caller the rate limit has not counted yet."""
        for _ in range(RENEWAL_ATTEMPTS):
            response = start()
            if response.status_code == ok:
                answer: dict[str, Any] = response.json()
                return answer
            if response.status_code == 429:
                limited()
            else:
                self.cards[who] = self.seeder.ask("card", who=who)
        raise AssertionError(f"{who} card session: {response.status_code} {response.text}")

    def feed_token(self) -> str:
        feed = self.world["feed"]
        tokens = self._post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "scope": f"feed:{feed['source']}"},
            auth=(feed["client_id"], feed["client_secret"]),
        )
        return str(tokens["access_token"])

    def _get(self, path: str, credential: str) -> Any:
        response = self.http.get(
            self.base_url + path, headers=self._bearer(credential), timeout=PROBE_TIMEOUT
        )
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        return response.json()

    def _post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.post(self.base_url + path, timeout=PROBE_TIMEOUT, **kwargs)
        assert response.status_code in (200, 201), f"{path}: {response.status_code} {response.text}"
        body: dict[str, Any] = response.json()
        return body


def _kiosk(kiosk: dict[str, str]) -> str:
    return f"Kiosk {kiosk['id']}:{kiosk['secret']}"
