"""Deep links from the TV to the app, shown as QR codes: whatever needs typing (redeeming a
reward, changing preferences, reporting a card lost, signing out elsewhere) is done on the phone.

A link names a screen of the app and, for a reward, its public catalogue code; it never carries
personal data, a session or a token, so a photo of the TV screen gives nobody anything."""

from __future__ import annotations

import io
from urllib.parse import quote

import segno
from pydantic import BaseModel

SCHEME = "wujiang://"
FROM_TV = "from=tv"
# Dark modules on the TV's light card; error level M survives a slightly blurry phone camera.
QR_DARK = "#1f2933"
QR_SCALE = 4


class Qr(BaseModel):
    """A deep link and its QR code as an inline SVG document."""

    payload: str
    svg: str


def reward(code: str) -> str:
    """Redeem this reward in the app."""
    return _link(f"rewards/{quote(code, safe='')}")


def notification_preferences() -> str:
    return _link("settings/notifications")


def report_card_lost() -> str:
    return _link("card/report-lost")


def sign_out_elsewhere() -> str:
    return _link("settings/sessions")


def open_app() -> str:
    """The app's home: to install it or sign in before pairing this box."""
    return _link("home")


def qr(payload: str) -> Qr:
    """The link with its QR code as a standalone SVG document (segno): with its namespace and a
    viewBox, so the box can draw it inline or as an image, at any size."""
    out = io.BytesIO()
    segno.make(payload, error="m").save(
        out, kind="svg", xmldecl=False, nl=False, omitsize=True, scale=QR_SCALE, dark=QR_DARK
    )
    return Qr(payload=payload, svg=out.getvalue().decode())


def _link(path: str) -> str:
    return f"{SCHEME}{path}?{FROM_TV}"
