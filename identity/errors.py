"""Identity refusals. Each names its RFC 9457 problem type; the edges render them.

Resident ID numbers are personal data: no message or extension member here ever carries the
number (or any part of it) back to the caller, the logs or a traceback.
"""

from __future__ import annotations

from typing import Literal

from core.errors import DomainError, members

IdNumberRule = Literal[
    "legacy-15-digit", "length", "characters", "region", "birth-date", "check-character"
]


class IdentityError(DomainError):
    type = "identity-error"
    title = "The identity request was refused"
    status = 422


class InvalidIdNumber(IdentityError):
    """A resident ID number that breaks a GB 11643 rule; `reason` says which one."""

    type = "invalid-id-number"
    title = "The resident ID number is not valid"
    status = 422
    example_extensions = members(reason="check-character")

    def __init__(self, detail: str, *, reason: IdNumberRule) -> None:
        super().__init__(detail, reason=reason)
        self.reason: IdNumberRule = reason


# --- one-time codes and SMS --------------------------------------------------------------------
# Never carry the phone number or the code: only what the caller needs to act (how long to wait,
# how many tries are left).


class ResendTooSoon(IdentityError):
    """A code for this phone and purpose was sent less than a minute ago."""

    type = "otp-resend-too-soon"
    title = "A code was sent moments ago"
    status = 429
    example_extensions = members(retry_after=38)

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class CodeExpired(IdentityError):
    """No code is pending: it expired, was already used, or none was sent."""

    type = "otp-expired"
    title = "The code has expired or was already used"
    status = 400


class WrongCode(IdentityError):
    """The code does not match; `attempts_left` more tries before the code is burned."""

    type = "otp-wrong"
    title = "The code is not correct"
    status = 400
    example_extensions = members(attempts_left=3)

    def __init__(self, detail: str, *, attempts_left: int) -> None:
        super().__init__(detail, attempts_left=attempts_left)
        self.attempts_left = attempts_left


class TooManyAttempts(IdentityError):
    """Too many wrong codes: this one is burned; `retry_after` says when a new one may be sent."""

    type = "otp-locked"
    title = "Too many wrong codes"
    status = 429
    example_extensions = members(retry_after=600)

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class SmsUnavailable(IdentityError):
    """The SMS gateway could not be reached or refused the message."""

    type = "sms-unavailable"
    title = "Text messages cannot be sent right now"
    status = 503


# --- access tokens -------------------------------------------------------------------------------

TokenRefusal = Literal[
    "malformed",
    "algorithm",
    "type",
    "unknown-key",
    "signature",
    "issuer",
    "audience",
    "expired",
    "not-yet-valid",
    "revoked",
]


class InvalidToken(IdentityError):
    """An access token that must not be honoured; `reason` says which check refused it.

    The detail and reason never echo the token or its claims: a caller learns which rule failed,
    not anything a forger could tune against."""

    type = "invalid-token"
    title = "The access token is not valid"
    status = 401
    example_extensions = members(reason="expired")

    def __init__(self, detail: str, *, reason: TokenRefusal) -> None:
        super().__init__(detail, reason=reason)
        self.reason: TokenRefusal = reason

    def headers(self) -> dict[str, str]:
        # RFC 6750 §3: a 401 for a bearer token says so, so OAuth clients know to refresh.
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class InvalidPhone(IdentityError):
    type = "invalid-phone"
    title = "The mobile number is not valid"
    status = 422


class InvalidCredentials(IdentityError):
    """Sign-in refused; deliberately silent on whether the account exists."""

    type = "invalid-credentials"
    title = "The sign-in details are not correct"
    status = 401


class WeakPassword(IdentityError):
    type = "weak-password"
    title = "The password does not meet the rules"
    status = 422


class ResidentNotFound(IdentityError):
    type = "resident-not-found"
    title = "No such resident"
    status = 404


class IdNumberTaken(IdentityError):
    """The ID number is already bound to another resident's account."""

    type = "id-number-taken"
    title = "This ID number belongs to another account"
    status = 409


class RealNameMismatch(IdentityError):
    type = "real-name-mismatch"
    title = "The name and ID number do not match"
    status = 422


class VerificationUnavailable(IdentityError):
    type = "verification-unavailable"
    title = "The real-name verification service is unavailable"
    status = 503


class OAuthError(IdentityError):
    """A refusal of an OAuth endpoint: rendered there as RFC 6749 `{"error": oauth_error}`."""

    oauth_error = "invalid_request"
    status = 400


class InvalidRequest(OAuthError):
    type = "invalid-request"
    title = "The OAuth request is malformed"


class UnsupportedGrantType(OAuthError):
    type = "unsupported-grant-type"
    title = "The grant type is not supported"
    oauth_error = "unsupported_grant_type"


class InvalidGrant(OAuthError):
    """A refresh token (or code) that cannot be used."""

    type = "invalid-grant"
    title = "The grant is not valid"
    oauth_error = "invalid_grant"


class SessionNotFound(IdentityError):
    type = "session-not-found"
    title = "No such session"
    status = 404


class NotAuthenticated(IdentityError):
    type = "not-authenticated"
    title = "Authentication required"
    status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="wujiang"'}


class InsufficientScope(IdentityError):
    type = "insufficient-scope"
    title = "The token does not allow this"
    status = 403
    example_extensions = members(scope="profile")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="wujiang", error="insufficient_scope"'}


# --- staff ---------------------------------------------------------------------------------------


class InvalidStaffDetails(IdentityError):
    """A username, role or community code that breaks the rules (see identity.staff)."""

    type = "invalid-staff-details"
    title = "The staff details are not valid"
    status = 422


class StaffNotFound(IdentityError):
    type = "staff-not-found"
    title = "No such staff member"
    status = 404


class StaffExists(IdentityError):
    type = "staff-exists"
    title = "This staff username is taken"
    status = 409


class InsufficientRole(IdentityError):
    """The staff token lacks the role, in the community, that this action needs."""

    type = "insufficient-role"
    title = "The staff member may not do this here"
    status = 403
    example_extensions = members(role="awarder", community="songling")


# --- partner clients (OpenID Connect) ------------------------------------------------------------


class InvalidClient(OAuthError):
    """Client authentication failed (RFC 6749 §5.2); `basic` when HTTP Basic was attempted."""

    type = "invalid-client"
    title = "Client authentication failed"
    oauth_error = "invalid_client"
    status = 401

    def __init__(self, detail: str, *, basic: bool = False) -> None:
        super().__init__(detail)
        self.basic = basic

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="wujiang"'} if self.basic else {}


class InvalidClientMetadata(OAuthError):
    """A client registration that breaks a rule (redirect URI, scope, keys)."""

    type = "invalid-client-metadata"
    title = "The client registration is not valid"
    oauth_error = "invalid_client_metadata"


class ClientNotFound(IdentityError):
    type = "client-not-found"
    title = "No such client"
    status = 404


class ConsentNotFound(IdentityError):
    type = "consent-not-found"
    title = "No such consent"
    status = 404


# --- the browser side of the authorization endpoint (identity.authorize, identity.web_login) ---


class AuthorizationRequestInvalid(IdentityError):
    """An authorization request that cannot be answered at its redirect URI (unknown client,
    unregistered redirect URI, malformed parameters): shown to the resident, never redirected."""

    type = "authorization-request-invalid"
    title = "The sign-in request is not valid"
    status = 400


class AuthorizationRefused(IdentityError):
    """A refusal sent back to the partner at its (verified) redirect URI as RFC 6749 §4.1.2.1
    `error`, `error_description` and `state`. The redirect target is an attribute, not an
    extension member, so it is never echoed in a problem body."""

    type = "authorization-refused"
    title = "The authorization was refused"
    status = 400

    def __init__(
        self, detail: str, *, oauth_error: str, redirect_uri: str, state: str | None
    ) -> None:
        super().__init__(detail)
        self.oauth_error = oauth_error
        self.redirect_uri = redirect_uri
        self.state = state


class AuthorizationRequestExpired(IdentityError):
    """The pending sign-in request is gone (10 minutes passed, already finished, or it belongs
    to another browser)."""

    type = "authorization-request-expired"
    title = "The sign-in request has expired"
    status = 400


class CsrfRefused(IdentityError):
    type = "csrf-refused"
    title = "The form could not be verified"
    status = 403


class LoginTicketNotFound(IdentityError):
    type = "login-ticket-not-found"
    title = "No such sign-in QR code"
    status = 404


class LoginTicketExpired(IdentityError):
    type = "login-ticket-expired"
    title = "The sign-in QR code has expired"
    status = 410


class LoginTicketAnswered(IdentityError):
    """The QR code was already approved or denied: a ticket is answered once."""

    type = "login-ticket-answered"
    title = "The sign-in QR code was already used"
    status = 409


class LoginTicketPending(IdentityError):
    type = "login-ticket-pending"
    title = "The sign-in QR code has not been confirmed yet"
    status = 409


class LoginTicketDenied(IdentityError):
    type = "login-ticket-denied"
    title = "The sign-in was declined in the app"
    status = 403


# --- device authorization grant (RFC 8628, TV boxes) ---------------------------------------------
# The first four answer a polling box at /oauth2/token with RFC 8628 §3.5's own error codes.


class InvalidDeviceScope(OAuthError):
    type = "invalid-device-scope"
    title = "The client may not ask for this scope"
    oauth_error = "invalid_scope"


class AuthorizationPending(OAuthError):
    type = "authorization-pending"
    title = "The resident has not decided yet"
    oauth_error = "authorization_pending"


class SlowDown(OAuthError):
    """Polled faster than the interval: keep polling, 5 s more slowly from now on."""

    type = "slow-down"
    title = "Polling too fast"
    oauth_error = "slow_down"


class DeviceAccessDenied(OAuthError):
    type = "device-access-denied"
    title = "The resident denied the request"
    oauth_error = "access_denied"


class DeviceCodeExpired(OAuthError):
    type = "device-code-expired"
    title = "The device code has expired"
    oauth_error = "expired_token"


class InvalidUserCode(IdentityError):
    """Not a user code at all (wrong letters or length); says nothing of live codes."""

    type = "invalid-user-code"
    title = "This is not a valid code"
    status = 422


class UserCodeNotFound(IdentityError):
    type = "user-code-not-found"
    title = "No request with this code"
    status = 404


class UserCodeAlreadyDecided(IdentityError):
    type = "user-code-decided"
    title = "This request was already approved or denied"
    status = 409
