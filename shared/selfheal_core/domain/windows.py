"""Change windows that raise an incident's risk: freeze windows and business hours (UTC).

Freeze windows are ISO-8601 intervals, comma separated: ``2026-12-20T00:00Z/2027-01-02T00:00Z``.
Business hours are days and hours: ``Mon-Fri 08:00-18:00``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WindowError(ValueError):
    pass


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise WindowError(f"not an ISO-8601 time: {text!r}") from error
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def parse_freeze_windows(spec: str) -> tuple[Interval, ...]:
    intervals = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        start, sep, end = item.partition("/")
        if not sep:
            raise WindowError(f"a freeze window is START/END, got {item!r}")
        interval = Interval(_instant(start), _instant(end))
        if interval.end <= interval.start:
            raise WindowError(f"a freeze window must end after it starts: {item!r}")
        intervals.append(interval)
    return tuple(intervals)


@dataclass(frozen=True)
class BusinessHours:
    days: frozenset[int]
    start: time
    end: time

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(UTC)
        return local.weekday() in self.days and self.start <= local.time() < self.end


def parse_business_hours(spec: str) -> BusinessHours | None:
    if not spec.strip():
        return None
    try:
        days_part, hours_part = spec.split()
        first, _, last = days_part.lower().partition("-")
        start_day, end_day = DAYS.index(first[:3]), DAYS.index((last or first)[:3])
        opens, _, closes = hours_part.partition("-")
        start, end = time.fromisoformat(opens), time.fromisoformat(closes)
    except ValueError as error:
        raise WindowError(f"business hours look like 'Mon-Fri 08:00-18:00', got {spec!r}") from error
    days = (
        range(start_day, end_day + 1) if start_day <= end_day else [*range(start_day, 7), *range(end_day + 1)]
    )
    return BusinessHours(frozenset(days), start, end)


def in_freeze_window(moment: datetime, windows: tuple[Interval, ...]) -> bool:
    return any(window.contains(moment) for window in windows)
