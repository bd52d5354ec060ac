"""Refusals of the points programme. Each names its RFC 9457 problem type; the edges render them."""

from __future__ import annotations

from core.errors import DomainError, members
from core.idempotency import IdempotencyKeyReused as IdempotencyKeyReused  # one for the whole API


class PointsError(DomainError):
    type = "points-error"
    title = "The points request was refused"
    status = 422


class InvalidBehaviourList(PointsError):
    """A behaviour-list document that cannot be published. `errors` lists every problem found,
    each with the path into the document (`behaviours[3].caps.week`) and a message."""

    type = "invalid-behaviour-list"
    title = "The behaviour list is not valid"
    status = 422

    def __init__(self, errors: list[dict[str, str]]) -> None:
        count = len(errors)
        detail = f"{count} problem{'s' if count != 1 else ''} in the behaviour list: " + "; ".join(
            f"{error['path']}: {error['message']}" for error in errors
        )
        super().__init__(detail, errors=errors)
        self.errors = errors


class NoBehaviourList(PointsError):
    type = "no-behaviour-list"
    title = "No behaviour list has been published yet"
    status = 404


class UnknownBehaviourVersion(PointsError):
    type = "unknown-behaviour-version"
    title = "No such version of the behaviour list"
    status = 404


class UnknownBehaviour(PointsError):
    type = "unknown-behaviour"
    title = "No such behaviour in the list"
    status = 404
    example_extensions = members(behaviour="litter-picking")


# --- earning ------------------------------------------------------------------------------------


class InvalidEarnCode(PointsError):
    """An earning code that is malformed, forged, or expired (a screenshot)."""

    type = "invalid-earn-code"
    title = "The earning code is not valid"
    status = 422


class EarnCodeUsed(PointsError):
    type = "earn-code-used"
    title = "This code has already earned points for this behaviour"
    status = 409
    example_extensions = members(behaviour="garbage-sorting")


class InvalidAward(PointsError):
    type = "invalid-award"
    title = "The award request is not valid"
    status = 422
    example_extensions = members(behaviour="volunteer-hour")


class BehaviourNotActive(PointsError):
    type = "behaviour-not-active"
    title = "This behaviour does not earn points now"
    status = 422
    example_extensions = members(behaviour="garbage-sorting")


class NotCertifier(PointsError):
    """The behaviour is certified by another role, or only by an integration feed."""

    type = "not-certifier"
    title = "You cannot certify this behaviour"
    status = 403
    example_extensions = members(certified_by="awarder", community="tongli")


class EvidenceRequired(PointsError):
    type = "evidence-required"
    title = "This behaviour needs evidence"
    status = 422


class CapReached(PointsError):
    """Extensions: `period` (day, week, month, year), `cap`, `used`, `remaining`."""

    type = "cap-reached"
    title = "The resident has reached the cap for this behaviour"
    status = 409
    example_extensions = members(period="day", cap=20, used=20, remaining=0)


class BudgetExhausted(PointsError):
    """Extensions: `budget`, `used`, `remaining`."""

    type = "budget-exhausted"
    title = "Your daily award budget is used up"
    status = 409
    example_extensions = members(budget=2000, used=1990, remaining=10)


class UnknownResident(PointsError):
    type = "unknown-resident"
    title = "No such resident"
    status = 404


class AwardNotFound(PointsError):
    type = "award-not-found"
    title = "No such award"
    status = 404


class AwardNotPending(PointsError):
    type = "award-not-pending"
    title = "The award is not waiting for approval"
    status = 409
    example_extensions = members(award_status="posted")


class SelfApproval(PointsError):
    type = "self-approval"
    title = "A second staff member must approve this award"
    status = 403


class AwardNotReversible(PointsError):
    type = "award-not-reversible"
    title = "This award cannot be reversed"
    status = 409
    example_extensions = members(award_status="pending", points=0)


# --- redemption ---------------------------------------------------------------------------------


class RewardNotFound(PointsError):
    type = "reward-not-found"
    title = "No such reward"
    status = 404


class InvalidReward(PointsError):
    type = "invalid-reward"
    title = "The reward is not valid"
    status = 422


class RewardUnavailable(PointsError):
    """Not active, or outside its validity window."""

    type = "reward-unavailable"
    title = "This reward cannot be redeemed now"
    status = 409
    example_extensions = members(valid_from="2027-01-01T00:00:00+08:00")


class SoldOut(PointsError):
    type = "sold-out"
    title = "This reward is sold out"
    status = 409


class RedemptionLimitReached(PointsError):
    type = "redemption-limit-reached"
    title = "You have redeemed this reward as often as allowed"
    status = 409
    example_extensions = members(limit=1)


class InsufficientPoints(PointsError):
    """Extensions: `balance`, `needed`."""

    type = "insufficient-points"
    title = "Not enough points"
    status = 409
    example_extensions = members(balance=120, needed=300)


class RedemptionNotFound(PointsError):
    type = "redemption-not-found"
    title = "No such redemption or voucher"
    status = 404


class VoucherNotUsable(PointsError):
    """Extensions: `status`."""

    type = "voucher-not-usable"
    title = "This voucher cannot be used"
    status = 409
    example_extensions = members(voucher_status="used")


class RedemptionNotCancellable(PointsError):
    type = "redemption-not-cancellable"
    title = "This redemption can no longer be cancelled"
    status = 409
    example_extensions = members(redemption_status="used")


class PaymentsUnavailable(PointsError):
    type = "payments-unavailable"
    title = "Points-plus-cash payments are not available"
    status = 503


class PaymentProviderError(PointsError):
    type = "payment-provider-error"
    title = "The payment provider refused or did not answer"
    status = 502


class InvalidWebhookSignature(PointsError):
    type = "invalid-webhook-signature"
    title = "The webhook signature is not valid"
    status = 400


# --- feeds --------------------------------------------------------------------------------------


class InvalidFeedBatch(PointsError):
    type = "invalid-feed-batch"
    title = "The feed batch cannot be read"
    status = 422
    example_extensions = members(missing=["record_id"])


class FeedBatchTooLarge(InvalidFeedBatch):
    """Extensions: `max_bytes`, `max_rows`. Split the batch: re-sent rows are duplicates."""

    type = "feed-batch-too-large"
    title = "The feed batch is too large for one request"
    status = 413
    example_extensions = members(max_bytes=10485760, max_rows=20000)


class UnknownFeedSource(PointsError):
    """No behaviour in the current list is certified by `feed:<source>`. Extensions: `source`."""

    type = "unknown-feed-source"
    title = "No behaviour is certified by this feed"
    status = 404
    example_extensions = members(source="bike-share")


# --- reading ------------------------------------------------------------------------------------


class InvalidPointsQuery(PointsError):
    """A history cursor this API did not issue, a date range backwards or too long, a bad month."""

    type = "invalid-points-query"
    title = "The query is not valid"
    status = 422
