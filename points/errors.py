"""Refusals of the points programme. Each names its RFC 9457 problem type; the edges render them."""

from __future__ import annotations

from core.errors import DomainError


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
