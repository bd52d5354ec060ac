"""The pages residents see while signing in to a partner app: small, Chinese first with English
alongside, inline CSS, no external assets. Every value is HTML-escaped here; nothing a caller
sent is written unescaped."""

from __future__ import annotations

from html import escape

from identity.authorize import PendingAuthorization

_CSS = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;
background:#f4f6f8;color:#1f2933}
main{max-width:420px;margin:0 auto;padding:24px 16px}
.card{background:#fff;border-radius:12px;padding:20px;margin-bottom:16px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:0 0 12px}
.en{color:#6b7280;font-size:13px}
.qr{text-align:center}.qr svg{width:200px;height:200px}
label{display:block;margin:12px 0 4px}
input{width:100%;box-sizing:border-box;padding:10px;font-size:16px;border:1px solid #cbd2d9;
border-radius:8px}
button{width:100%;padding:12px;font-size:16px;border:0;border-radius:8px;margin-top:12px;
background:#1769e0;color:#fff}
button.secondary{background:#e4e7eb;color:#1f2933}
ul{padding-left:20px}li{margin:6px 0}
.msg{background:#fff4e5;border-radius:8px;padding:10px;margin-bottom:12px}
"""

# The only script: polls the QR ticket and continues once the app approved it.
_POLL = """
(function(){var f=document.getElementById('qr-continue');if(!f)return;
var u=f.getAttribute('data-status');function poll(){fetch(u,{credentials:'same-origin'})
.then(function(r){return r.json()}).then(function(b){if(b.status==='approved'){f.submit();}
else if(b.status==='pending'){setTimeout(poll,2000);}else{location.replace(
f.getAttribute('data-restart'));}}).catch(function(){setTimeout(poll,4000);});}
setTimeout(poll,2000);})();
"""


def _page(title: str, body: str, *, script_nonce: str | None = None, refresh: str = "") -> str:
    script = f'<script nonce="{script_nonce}">{_POLL}</script>' if script_nonce else ""
    noscript = (
        f'<noscript><meta http-equiv="refresh" content="5;url={escape(refresh)}"></noscript>'
        if refresh
        else ""
    )
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title>{noscript}<style>{_CSS}</style></head>"
        f"<body><main>{body}</main>{script}</body></html>"
    )


def _hidden(pending: PendingAuthorization, **extra: str) -> str:
    fields = {"request": pending.id, "csrf": pending.csrf, **extra}
    return "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )


def _message(message: tuple[str, str] | None) -> str:
    if message is None:
        return ""
    zh, en = escape(message[0]), escape(message[1])
    return f'<div class="msg">{zh}<br><span class="en">{en}</span></div>'


def _header(pending: PendingAuthorization) -> str:
    name = escape(pending.client_name)
    return (
        f'<div class="card"><h1>登录「{name}」</h1>'
        f'<div class="en">Sign in to {name} with Smart Wujiang (智慧吴江)</div></div>'
    )


def error_page(detail: str, *, zh: str = "无法完成登录请求") -> str:
    body = (
        f'<div class="card"><h1>{escape(zh)}</h1>'
        '<div class="en">The sign-in request cannot be completed.</div>'
        f"<p>{escape(detail)}</p>"
        "<p>请返回原应用重新发起登录。<br>"
        '<span class="en">Go back to the app and start again.</span></p></div>'
    )
    return _page("无法登录 Sign-in error", body)


def login_page(
    pending: PendingAuthorization,
    *,
    ticket_id: str,
    qr_svg: str,
    status_url: str,
    restart_url: str,
    script_nonce: str,
    message: tuple[str, str] | None = None,
) -> str:
    qr = (
        '<div class="card qr"><h2>扫码登录 <span class="en">Scan to sign in</span></h2>'
        f"{qr_svg}<p>请用「智慧吴江」App 扫描二维码并确认。<br>"
        '<span class="en">Scan with the Smart Wujiang app and confirm there.</span></p>'
        '<form id="qr-continue" method="post" action="/oauth2/authorize/qr/continue" '
        f'data-status="{escape(status_url)}" data-restart="{escape(restart_url)}">'
        f"{_hidden(pending, ticket=ticket_id)}"
        '<button type="submit" class="secondary">我已在手机上确认 I have confirmed</button>'
        "</form></div>"
    )
    sms = (
        '<div class="card"><h2>短信验证码登录 <span class="en">Sign in with an SMS code</span></h2>'
        '<form method="post" action="/oauth2/authorize/sms-code">'
        f"{_hidden(pending)}"
        '<label for="phone">手机号码 <span class="en">Mobile number</span></label>'
        '<input id="phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" '
        'maxlength="32" required>'
        '<button type="submit">获取验证码 Send code</button></form></div>'
    )
    body = _header(pending) + _message(message) + qr + sms
    refresh = restart_url + "&ticket=" + ticket_id
    return _page("登录 Sign in", body, script_nonce=script_nonce, refresh=refresh)


def code_page(
    pending: PendingAuthorization, *, phone: str, masked: str, message: tuple[str, str] | None
) -> str:
    body = (
        _header(pending)
        + _message(message)
        + '<div class="card"><h2>输入验证码 <span class="en">Enter the code</span></h2>'
        f"<p>验证码已发送至 {escape(masked)}<br>"
        f'<span class="en">A 6-digit code was sent to {escape(masked)}.</span></p>'
        '<form method="post" action="/oauth2/authorize/sms-sign-in">'
        f"{_hidden(pending, phone=phone)}"
        '<label for="code">验证码 <span class="en">Code</span></label>'
        '<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" '
        'maxlength="12" required>'
        '<button type="submit">登录 Sign in</button></form></div>'
    )
    return _page("输入验证码 Enter code", body)


def consent_page(pending: PendingAuthorization, claims: tuple[tuple[str, str], ...]) -> str:
    name = escape(pending.client_name)
    items = "".join(
        f'<li>{escape(zh)} <span class="en">{escape(en)}</span></li>' for zh, en in claims
    )
    body = (
        f'<div class="card"><h1>「{name}」申请获取你的以下信息</h1>'
        f'<div class="en">{name} would like to receive:</div><ul>{items}</ul>'
        "<p>你可以随时在「智慧吴江」App 中撤回授权。<br>"
        '<span class="en">You can withdraw this at any time in the Smart Wujiang app.</span></p>'
        '<form method="post" action="/oauth2/authorize/consent">'
        f"{_hidden(pending)}"
        '<button type="submit" name="decision" value="allow">同意 Allow</button>'
        '<button type="submit" name="decision" value="deny" class="secondary">拒绝 Deny</button>'
        "</form></div>"
    )
    return _page("授权 Consent", body)


def real_name_page(pending: PendingAuthorization) -> str:
    name = escape(pending.client_name)
    body = (
        f'<div class="card"><h1>需要先完成实名认证</h1>'
        '<div class="en">Verify your real name first</div>'
        f"<p>「{name}」需要你的实名信息。请打开「智慧吴江」App，在「我的 › 实名认证」中完成认证后"
        "再回来登录。<br>"
        f'<span class="en">{name} needs your verified real name. Open the Smart Wujiang app, '
        "verify your name and ID number under Me › Real name, then sign in again.</span></p>"
        '<form method="post" action="/oauth2/authorize/consent">'
        f"{_hidden(pending)}"
        '<button type="submit" name="decision" value="deny" class="secondary">'
        "取消并返回 Cancel and go back</button></form></div>"
    )
    return _page("需要实名认证 Real name required", body)


def signed_out_page() -> str:
    body = (
        '<div class="card"><h1>你已退出登录</h1>'
        '<div class="en">You have signed out of Smart Wujiang on this browser.</div>'
        "<p>可以关闭此页面。<br>"
        '<span class="en">You may close this page.</span></p></div>'
    )
    return _page("已退出 Signed out", body)


def device_page(user_code: str | None, qr_svg: str) -> str:
    """Where a TV box sends the resident: pairing happens in the app, so this page says how."""
    shown = (
        f'<p class="code">{escape(user_code)}</p>'
        if user_code
        else '<p>电视屏幕上显示的 8 位配对码<br><span class="en">the code on the TV</span></p>'
    )
    body = (
        '<div class="card"><h1>在智慧吴江 App 中确认电视登录</h1>'
        '<div class="en">Pair your TV box in the Smart Wujiang app</div>'
        f"{shown}<div>{qr_svg}</div>"
        "<p>打开智慧吴江 App,扫描此二维码,或在「我的 › 设备」中输入配对码。<br>"
        '<span class="en">Open the app and scan this code, or enter the pairing code under '
        "Me › Devices.</span></p></div>"
    )
    return _page("电视登录 Pair your TV", body)
