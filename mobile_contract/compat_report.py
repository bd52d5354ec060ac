"""What a contract comparison found, and how it reads on a terminal."""

from __future__ import annotations

import re
from dataclasses import dataclass

# MAJOR.MINOR.PATCH with an optional pre-release or build suffix, as semver.org spells it.
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+][0-9A-Za-z.+-]+)?")


@dataclass(frozen=True)
class Change:
    """One difference between two versions of the contract, as a client built on the old one
    sees it. `breaking` means such a client may fail against the new version."""

    code: str
    breaking: bool
    operation: str | None
    location: str
    message: str


@dataclass(frozen=True)
class Report:
    """Every change from one contract version to the next, and whether that is acceptable."""

    changes: tuple[Change, ...]
    old_version: str
    new_version: str

    @property
    def breaking(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.breaking)

    @property
    def major_bumped(self) -> bool:
        """The new major version is higher; clients know to expect breaking changes then."""
        old, new = major_version(self.old_version), major_version(self.new_version)
        return old is not None and new is not None and new > old

    @property
    def ok(self) -> bool:
        return not self.breaking or self.major_bumped


def major_version(version: str) -> int | None:
    """MAJOR of a semver `MAJOR.MINOR.PATCH`, or None when `version` is not one."""
    match = _SEMVER.fullmatch(version.strip())
    return int(match.group(1)) if match else None


def render(report: Report) -> str:
    """Plain text for a terminal: breaking changes first, then a one-line verdict."""
    ordered = sorted(report.changes, key=lambda change: not change.breaking)
    lines = [line for change in ordered for line in _change_lines(change)]
    return "\n".join([*lines, verdict(report)])


def _change_lines(change: Change) -> list[str]:
    label = "BREAKING  " if change.breaking else "compatible"
    where = f"{change.operation}  {change.location}" if change.operation else change.location
    return [f"{label}  {change.code}  {where}", f"            {change.message}"]


def verdict(report: Report) -> str:
    """One line saying whether the new version may ship as it is versioned."""
    versions = f"{report.old_version or '?'} -> {report.new_version or '?'}"
    breaking, total = len(report.breaking), len(report.changes)
    if not total:
        return f"OK: no changes for clients ({versions})."
    if not breaking:
        return f"OK: {total} compatible change(s), none breaking ({versions})."
    if report.major_bumped:
        return (
            f"OK: {breaking} breaking change(s) accepted because the major version went up "
            f"({versions})."
        )
    return (
        f"FAILED: {breaking} breaking change(s) without a major version bump ({versions}); "
        "raise the major version or keep the old behaviour."
    )
