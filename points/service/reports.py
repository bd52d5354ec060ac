"""The operators' report: points issued, reversed and redeemed by local day, category and
community, with the redemption rate, as JSON or CSV.

Issued counts posted awards by the local day they were created; reversed, by the day of the
reversal; redeemed, vouchers used, by the day they were used. Redeemed points take the category
and community of the awards whose lots the voucher's hold consumed (the ledger records which
lots each entry took from), so each row compares like with like."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import get_settings
from points import calendar
from points.errors import InvalidPointsQuery
from points.repository import reports as repository
from points.schemas.reports import MAX_REPORT_DAYS, PointsReport, ReportRow, ReportTotals

CSV_COLUMNS = ("day", "category", "community", "issued", "reversed", "redeemed")
# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


async def points_report(
    session: AsyncSession,
    *,
    date_from: date,
    date_to: date,
    communities: Collection[str] | None = None,
) -> PointsReport:
    """The report for local days `date_from` to `date_to` inclusive, limited to `communities`
    (None: all of them)."""
    if date_from > date_to:
        raise InvalidPointsQuery("`from` is after `to`.")
    if (date_to - date_from).days >= MAX_REPORT_DAYS:
        raise InvalidPointsQuery(f"A report covers at most {MAX_REPORT_DAYS} days.")
    ordered = await _rows(
        session,
        start=calendar.start_of_local_day(date_from),
        end=calendar.end_of_local_day(date_to),
        communities=communities,
    )
    totals = ReportTotals(
        issued=sum(r.issued for r in ordered),
        reversed=sum(r.reversed for r in ordered),
        redeemed=sum(r.redeemed for r in ordered),
    )
    return PointsReport(
        from_=date_from,
        to=date_to,
        timezone=get_settings().points_timezone,
        communities=sorted(communities) if communities is not None else None,
        rows=ordered,
        totals=totals,
        redemption_rate=round(totals.redeemed / totals.issued, 4) if totals.issued else None,
    )


async def _rows(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    communities: Collection[str] | None,
) -> list[ReportRow]:
    """Issued, reversed and redeemed points in [start, end), summed per local day, category
    and community."""
    rows: dict[tuple[date, str, str], ReportRow] = {}
    for field, query in (
        ("issued", repository.issued),
        ("reversed", repository.reversed_),
        ("redeemed", repository.redeemed),
    ):
        for item in await query(session, start=start, end=end, communities=communities):
            key = (
                calendar.local_date(item.at),
                item.category or "other",
                item.community or "unknown",
            )
            row = rows.setdefault(key, ReportRow(day=key[0], category=key[1], community=key[2]))
            setattr(row, field, getattr(row, field) + int(item.points))
    return [rows[key] for key in sorted(rows)]


def report_csv(report: PointsReport) -> str:
    """The report's rows as CSV with a header; text cells are defused for spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        writer.writerow(
            [
                row.day.isoformat(),
                _cell(row.category),
                _cell(row.community),
                row.issued,
                row.reversed,
                row.redeemed,
            ]
        )
    return buffer.getvalue()


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
