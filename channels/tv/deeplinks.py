"""Deep links from the TV to the app, shown as QR codes: whatever needs typing (redeeming a
reward, changing preferences, reporting a card lost, signing out elsewhere) is done on the phone.

A link names a screen of the app and, for a reward, its public catalogue code; it never carries
personal data, a session or a token, so a photo of the TV screen gives nobody anything."""

from __future__ import annotations

import io
from urllib.parse import quote

import segno
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

SCHEME = "wujiang://"
FROM_TV = "from=tv"
# Dark modules on the TV's light card; error level M survives a slightly blurry phone camera.
QR_DARK = "#1f2933"
QR_SCALE = 4


def _link(path: str) -> str:
    return f"{SCHEME}{path}?{FROM_TV}"


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


def render_svg(payload: str) -> str:
    """The QR code of `payload` as a standalone SVG document (segno): with its namespace and a
    viewBox, so the box can draw it inline or as an image, at any size."""
    out = io.BytesIO()
    segno.make(payload, error="m").save(
        out, kind="svg", xmldecl=False, nl=False, omitsize=True, scale=QR_SCALE, dark=QR_DARK
    )
    return out.getvalue().decode()


def example(payload: str) -> JsonDict:
    """A QR as the contract shows it: the real SVG of `payload`, its path data cut short."""
    document = render_svg(payload)
    start = document.index(' d="') + len(' d="')
    return {"payload": payload, "svg": f'{document[: start + 12]}…"/></svg>'}


class Qr(BaseModel):
    """A deep link and its QR code as an inline SVG document."""

    model_config = ConfigDict(json_schema_extra={"examples": [example(reward("tote-bag"))]})

    payload: str = Field(description="The deep link the QR code holds: `wujiang://…?from=tv`.")
    svg: str = Field(
        description="A standalone SVG document (namespace and viewBox, no size): draw it inline "
        "or as an image at any size. Cut short in the examples."
    )


def qr(payload: str) -> Qr:
    """The link with its QR code."""
    return Qr(payload=payload, svg=render_svg(payload))
