"""Special dates (PURE): fixed month-day dates and yearly rules as RFC 5545 RRULEs.

``"27 mar"`` -> ``FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=27``; ``"3rd sun jun"`` ->
``FREQ=YEARLY;BYMONTH=6;BYDAY=+3SU``; ``"last fri oct"`` -> ``BYDAY=-1FR``.  Occurrences come
from ``dateutil.rrule`` (RFC 5545 semantics, well kept).  A fixed Feb 29 falls on Feb 28 in
non-leap years so a leap-day birthday is never silently skipped.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from dateutil.rrule import rrulestr


class DateSpecError(ValueError):
    """The date or rule text cannot be understood; the message is one line."""


MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10,
    "nov": 11, "dec": 12,
    "янв": 1, "фев": 2, "мар": 3, "апр": 4, "мая": 5, "май": 5, "июн": 6, "июл": 7, "авг": 8, "сен": 9,
    "окт": 10, "ноя": 11, "дек": 12,
}
WEEKDAYS = {
    "mon": "MO", "tue": "TU", "wed": "WE", "thu": "TH", "fri": "FR", "sat": "SA", "sun": "SU",
    "пн": "MO", "вт": "TU", "ср": "WE", "чт": "TH", "пт": "FR", "сб": "SA", "вс": "SU",
    "пон": "MO", "вто": "TU", "сре": "WE", "чет": "TH", "пят": "FR", "суб": "SA", "вос": "SU",
}
ORDINALS = {
    "1st": 1, "first": 1, "2nd": 2, "second": 2, "3rd": 3, "third": 3, "4th": 4, "fourth": 4, "5th": 5,
    "fifth": 5, "last": -1, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "-1": -1,
}
_NOISE = {"of", "in", "the"}


@dataclass(frozen=True)
class DateSpec:
    """A special date: fixed (month, day, optional year) or an RRULE text."""

    month: int | None = None
    day: int | None = None
    year: int | None = None
    rule: str | None = None


def parse_fixed(text: str) -> DateSpec:
    """``MM-DD`` or ``YYYY-MM-DD`` -> a fixed DateSpec (DateSpecError on junk)."""
    m = re.fullmatch(r"\s*(?:(\d{4})-)?(\d{1,2})-(\d{1,2})\s*", text)
    if not m:
        raise DateSpecError(f"expected MM-DD or YYYY-MM-DD, got {text!r}")
    year = int(m.group(1)) if m.group(1) else None
    month, day = int(m.group(2)), int(m.group(3))
    if not 1 <= month <= 12 or not 1 <= day <= (29 if month == 2 else calendar.monthrange(2001, month)[1]):
        raise DateSpecError(f"no such date: {text!r}")
    if year is not None and month == 2 and day == 29 and not calendar.isleap(year):
        raise DateSpecError(f"{year} is not a leap year: {text!r}")
    return DateSpec(month=month, day=day, year=year)


def _month(word: str) -> int | None:
    w = word.lower().rstrip(".")
    for key, value in MONTHS.items():
        if w.startswith(key):
            return value
    return None


def _weekday(word: str) -> str | None:
    w = word.lower().rstrip(".")
    for key in sorted(WEEKDAYS, key=len, reverse=True):
        if w.startswith(key):
            return WEEKDAYS[key]
    return None


def parse_rule(text: str) -> str:
    """A yearly rule in words ("3rd sun jun", "last fri oct", "27 mar") -> RRULE text."""
    words = [w for w in re.split(r"[\s,]+", text.strip().lower()) if w and w not in _NOISE]
    if len(words) == 2:
        day_word, month_word = (words if words[0].isdigit() else words[::-1])
        month = _month(month_word)
        if day_word.isdigit() and month is not None:
            day = int(day_word)
            if not 1 <= day <= calendar.monthrange(2000, month)[1]:
                raise DateSpecError(f"no such date: {text!r}")
            return f"FREQ=YEARLY;BYMONTH={month};BYMONTHDAY={day}"
    if len(words) == 3 and words[0] in ORDINALS:
        weekday, month = _weekday(words[1]), _month(words[2])
        if weekday is not None and month is not None:
            n = ORDINALS[words[0]]
            return f"FREQ=YEARLY;BYMONTH={month};BYDAY={'+' if n > 0 else ''}{n}{weekday}"
    if text.strip().upper().startswith(("FREQ=", "RRULE:")):
        rule = text.strip().upper().removeprefix("RRULE:")
        try:
            rrulestr(rule, dtstart=dt.datetime(2000, 1, 1))
        except (ValueError, TypeError) as exc:
            raise DateSpecError(f"bad RRULE {text!r}: {exc}") from None
        return rule
    raise DateSpecError(f"cannot read rule {text!r}; try \"3rd sun jun\", \"last fri oct\" or \"27 mar\"")


def _fixed_in_year(spec: DateSpec, year: int) -> dt.date:
    assert spec.month is not None and spec.day is not None
    if spec.month == 2 and spec.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)  # leap-day dates are kept on Feb 28 in other years
    return dt.date(year, spec.month, spec.day)


def occurrences_between(spec: DateSpec, start: dt.date, end: dt.date) -> list[dt.date]:
    """Every occurrence of ``spec`` with start <= date <= end (inclusive), in order."""
    if end < start:
        return []
    if spec.rule:
        rule = rrulestr(spec.rule, dtstart=dt.datetime(start.year - 1, 1, 1))
        return [d.date() for d in rule.between(dt.datetime.combine(start, dt.time()),
                                                dt.datetime.combine(end, dt.time()), inc=True)]
    if spec.month is None or spec.day is None:
        return []
    out = []
    for year in range(start.year, end.year + 1):
        if spec.year is not None and year < spec.year:
            continue
        d = _fixed_in_year(spec, year)
        if start <= d <= end:
            out.append(d)
    return out


_MONTH_ABBR = ["", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAY_ABBR = {"MO": "mon", "TU": "tue", "WE": "wed", "TH": "thu", "FR": "fri", "SA": "sat", "SU": "sun"}
_NTH = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 5: "5th", -1: "last"}


def describe(spec: DateSpec) -> str:
    """A short human form: "03-27", "1985-02-29", "3rd sun jun", "27 mar" (else the RRULE text)."""
    if spec.rule:
        parts = dict(p.split("=", 1) for p in spec.rule.split(";") if "=" in p)
        month = parts.get("BYMONTH", "")
        if parts.get("FREQ") == "YEARLY" and month.isdigit() and 1 <= int(month) <= 12:
            m = _MONTH_ABBR[int(month)]
            if parts.get("BYMONTHDAY", "").isdigit() and "BYDAY" not in parts:
                return f"{int(parts['BYMONTHDAY'])} {m}"
            byday = re.fullmatch(r"([+-]?\d)([A-Z]{2})", parts.get("BYDAY", ""))
            if byday and int(byday.group(1)) in _NTH and byday.group(2) in _DAY_ABBR:
                return f"{_NTH[int(byday.group(1))]} {_DAY_ABBR[byday.group(2)]} {m}"
        return spec.rule
    prefix = f"{spec.year:04d}-" if spec.year else ""
    return f"{prefix}{spec.month:02d}-{spec.day:02d}"
