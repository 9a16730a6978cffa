"""The "back on" date of an out-of-office text, resolved against the send date.

Month names in English, Russian, German, French, Spanish, Italian, Polish and Ukrainian (the
languages of a Russian writer's partners); weekdays and relative words in English and Russian.

Forms read: "12 March", "March 12th", "Monday, March 9", "12th of March 2025", "15.08",
"15.08.2025", "05/01/2010", "2025-03-12", "15 марта", "3 сентября 2025 г.", "until Monday",
"до понедельника", "tomorrow"/"завтра", "5-го декабря", "back on the 17th".  Numeric dates are day-first unless that is impossible
(Russia and most of Europe write D.M; a US-style M/D is taken only when the day-first reading
is invalid).  A date without a year is the first such date on or after the send date.
"""

from __future__ import annotations

import datetime as dt
import re

from mailcrm.parse.month_names import months

# Full month names of the languages above, abbreviations only in English and Russian: an out-of-office
# is prose, where short forms of other languages are ordinary words ("12 out of 15", "set", "lis").
_MONTHS: dict[str, int] = {
    **months(("en", "ru", "uk", "de", "fr", "es", "it", "pl"), abbreviations=False),
    **months(("en", "ru")),
}

_WEEKDAYS: dict[str, int] = {}
for _num, _names in enumerate(
    (
        "monday mon понедельник понедельника понедельнику пн",
        "tuesday tue tues вторник вторника вторнику вт",
        "wednesday wed среда среды среду ср",
        "thursday thu thur thurs четверг четверга четвергу чт",
        "friday fri пятница пятницы пятницу пт",
        "saturday sat суббота субботы субботу сб",
        "sunday sun воскресенье воскресенья вс",
    )
):
    for _n in _names.split():
        _WEEKDAYS[_n] = _num

_MONTH_RX = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY_RX = "|".join(sorted((w for w in _WEEKDAYS if len(w) > 3), key=len, reverse=True))  # "sat", "sun" are words too
_ORD = r"(?:st|nd|rd|th|-?(?:го|ого|е|ое))?"  # 5th, 5-го / 5го (Russian ordinal endings)
_YEAR = r"(?:,?\s*(?:de\s+)?(\d{4})(?:\s*(?:г\.?|года?|r\.|р\.))?)?"  # "de 2025" (es, pt), "2025 r." (pl), "р." (uk)

_DAY_MONTH = re.compile(rf"\b(\d{{1,2}}){_ORD}\.?(?:\s+(?:of|de))?\s+({_MONTH_RX})\.?(?![a-zа-яäöüßéèêûôàçñìòùąćęłńóśźżії]){_YEAR}", re.I)
_MONTH_DAY = re.compile(rf"\b({_MONTH_RX})\.?\s+(\d{{1,2}}){_ORD}\b{_YEAR}", re.I)
_NUMERIC = re.compile(r"(?<![\d.:/])(\d{1,2})([./])(\d{1,2})(?:\2(\d{4}|\d{2}))?(?![\d:]|[./]\d)")
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_WEEKDAY_ONLY = re.compile(rf"\b({_WEEKDAY_RX})\b(?:,?\s+(?:the\s+)?(\d{{1,2}}){_ORD}\b(?!\s*(?:[./]|{_MONTH_RX})))?", re.I)
_RELATIVE = re.compile(r"\b(tomorrow|завтра|послезавтра)\b", re.I)
# "on the 17th" / "17-го": a day of the month alone (with its ordinal ending, so "the 3 of us" is not one)
_DAY_ONLY = re.compile(rf"(?:\bthe\s+(\d{{1,2}})(?:st|nd|rd|th)|(?<![\d.])(\d{{1,2}})-?(?:го|ого))\b(?!\s*(?:of\s+)?(?:{_MONTH_RX}))", re.I)

# Words that put a date in "I am back / away until" position.
TRIGGERS = re.compile(
    r"back|return|returning|until|till|through|thru|from|away|absent|leave|vacation|holiday|office|"
    r"верн[уё]|выйду|буду|до\b|по\b|после|отпуск|отсутств|нет на месте|с\b|"
    r"bis\b|zurück|jusqu|retour|hasta|regreso|fino\b|rientr|ritorn|do\b|powr|повернус|відпуст",
    re.I,
)


def _valid(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _resolve(month: int, day: int, year: int | None, today: dt.date | None) -> dt.date | None:
    """A (month, day) without a year: the first such date on or after ``today``."""
    if year is not None:
        if year < 100:
            year += 2000
        return _valid(year, month, day)
    if today is None:
        return None
    for y in (today.year, today.year + 1):
        d = _valid(y, month, day)
        if d is not None and d >= today - dt.timedelta(days=1):
            return d
    return None


def find_dates(text: str, today: dt.date | None) -> list[tuple[int, dt.date]]:
    """Every date mentioned in ``text`` as (position, date), resolved against ``today``."""
    found: list[tuple[int, dt.date]] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], d: dt.date | None) -> None:
        if d is None or any(a <= m.start() < b for a, b in taken):
            return
        taken.append((m.start(), m.end()))
        found.append((m.start(), d))

    for m in _ISO.finditer(text):
        add(m, _valid(int(m.group(1)), int(m.group(2)), int(m.group(3))))
    for m in _DAY_MONTH.finditer(text):
        add(m, _resolve(_MONTHS[m.group(2).lower()], int(m.group(1)), int(m.group(3)) if m.group(3) else None, today))
    for m in _MONTH_DAY.finditer(text):
        add(m, _resolve(_MONTHS[m.group(1).lower()], int(m.group(2)), int(m.group(3)) if m.group(3) else None, today))
    for m in _NUMERIC.finditer(text):
        a, b = int(m.group(1)), int(m.group(3))
        year = int(m.group(4)) if m.group(4) else None
        if m.group(2) == ":" or (year is None and m.group(2) == "/" and today is None):
            continue
        day, month = (a, b) if b <= 12 else (b, a)  # day-first unless impossible
        add(m, _resolve(month, day, year, today))
    if today is not None:
        for m in _WEEKDAY_ONLY.finditer(text):
            wd = _WEEKDAYS[m.group(1).lower()]
            if m.group(2):  # "Monday 5th": the next 5th that is a Monday, within a year
                day = int(m.group(2))
                d = today
                for _ in range(400):
                    if d.day == day and d.weekday() == wd:
                        add(m, d)
                        break
                    d += dt.timedelta(days=1)
            else:
                ahead = (wd - today.weekday()) % 7 or 7
                add(m, today + dt.timedelta(days=ahead))
        for m in _DAY_ONLY.finditer(text):
            day = int(m.group(1) or m.group(2))
            d = today  # the next such day of a month, this month or a later one
            for _ in range(62):
                if d.day == day:
                    add(m, d)
                    break
                d += dt.timedelta(days=1)
        for m in _RELATIVE.finditer(text):
            add(m, today + dt.timedelta(days=2 if m.group(1).lower() == "послезавтра" else 1))
    return sorted(found)


def back_date(text: str, sent: dt.datetime | None) -> dt.date | None:
    """The date the sender is back (or away until), or None when the text gives none."""
    today = sent.date() if sent else None
    dates = find_dates(text, today)
    if today is not None:
        dates = [(p, d) for p, d in dates if today - dt.timedelta(days=1) <= d <= today + dt.timedelta(days=400)]
    if not dates:
        return None
    triggered = [d for p, d in dates if TRIGGERS.search(text[max(0, p - 40):p])]
    # "From 1 to 12 March" / "с 1 по 12 марта": the last date is the way back.
    return max(triggered or [d for _, d in dates])
