"""Dates as mail clients write them in forward/quote headers ("3 ноября 2026 г. в 10:15", "Thu, Mar 24, 2016 at 5:17 PM").

Forward headers are localised free text, not RFC 5322 dates, so we try the strict
RFC 5322 parser first and then python-dateutil with month and weekday names of the
languages mail clients localise into.  Pure: an explicit default time zone comes in,
None comes out when nothing sensible is found.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re

from dateutil import parser as du_parser

from mailcrm.parse.month_names import month_of

# Marks around dates that carry no date information; other words are dropped by _translate.
_MARKS = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060\ufeff]")
_NOISE = re.compile(r"[(),]")
_TZ_OFFSET = re.compile(r"\b(?:gmt|utc)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\b", re.I)
_WORD = re.compile(r"[^\W\d_]+\.?", re.U)
_RFC5322 = re.compile(r"^\s*(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}")
_HUNGARIAN = re.compile(r"\b(\d{4})\.\s*([^\W\d_]+)\.?\s+(\d{1,2})\.")  # "2021. október 28.", "2026. márc. 2."
# Numeric forms dateutil misreads, rewritten to ISO 8601 (year first) before it sees them:
_CJK = re.compile(r"(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]?")  # ja/zh "2026年3月2日", ko "2026년 3월 2일"
_YMD_DOTTED = re.compile(r"(?<![\d.])(\d{4})\.\s*(\d{1,2})\.\s*(\d{1,2})\b\.?")  # hu "2026. 03. 02."
_DMY_SPACED = re.compile(r"(?<![\d.])(\d{1,2})\.\s+(\d{1,2})\.\s*(\d{4}|\d{2})\b")  # cs/sk "2. 3. 2026"
_VI_MONTH = re.compile(r"(?<!\d)(\d{1,2})\s+(?:thg|tháng)\s+(\d{1,2})\b", re.I)  # vi "2 thg 3, 2026"
_VI_WEEKDAY = re.compile(r"(?<![^\W\d_])(?:thứ|th)\s*[2-7](?!\d)|\bt[2-7]\b|\bcn\b", re.I)  # "Th 2" is Monday
_ISO_ANYWHERE = re.compile(r"(?<!\d)\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)")
_US_NUMERIC = re.compile(r"(?<![\d./])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?![\d/])")
# The half of a 12-hour clock, as clients localise it (CLDR dayPeriods): en "PM", es "p. m.", el "μ.μ.",
# vi "CH" after the time; ko "오후", ja "午後", zh "下午" before it.
_AM_AFTER, _PM_AFTER = r"a\.?\s?m\.?|π\.?\s?μ\.?|sa", r"p\.?\s?m\.?|μ\.?\s?μ\.?|ch"
_AM_BEFORE, _PM_BEFORE = r"오전|午前|上午", r"오후|午後|下午"
_CLOCK = r"(?<![\d.:])(\d{1,2})[:.](\d{2})((?:[:.]\d{2})?)(?![\d])"
_MERIDIEM_BEFORE = re.compile(rf"(?:({_AM_BEFORE})|({_PM_BEFORE}))\s*{_CLOCK}")
_MERIDIEM_AFTER = re.compile(rf"{_CLOCK}\s*(?:({_AM_AFTER})|({_PM_AFTER}))(?![^\W\d_])", re.I)
_ZONES = {"msk": 3 * 3600, "msd": 4 * 3600, "eest": 3 * 3600, "eet": 2 * 3600, "cest": 2 * 3600, "cet": 3600,
          "mesz": 2 * 3600, "mez": 3600, "bst": 3600, "est": -5 * 3600, "edt": -4 * 3600, "cst": -6 * 3600,
          "cdt": -5 * 3600, "pst": -8 * 3600, "pdt": -7 * 3600, "gmt": 0, "utc": 0, "ut": 0, "z": 0}
# Zone abbreviations written in other scripts or with diacritics (dateutil reads ASCII names only):
# Russian "МСК", Czech/Slovak "SEČ"/"SELČ" (středoevropský (letní) čas).
_ZONE_ALIASES = {"мск": "msk", "seč": "cet", "selč": "cest"}
MAX_DATE_TEXT = 200


def _translate(text: str) -> str:
    """Replace localised month names by English ones and drop other words dateutil cannot read."""
    def repl(m: re.Match[str]) -> str:
        word = m.group(0).lower().rstrip(".")
        month = month_of(word)
        if month is not None:
            return f" {dt.date(2000, month, 1):%b} "
        if word in ("am", "pm"):
            return m.group(0)
        word = _ZONE_ALIASES.get(word, word)
        if word in _ZONES:
            return f" {word.upper()} "
        return " "

    return _WORD.sub(repl, text)


def parse_rfc_date(value: str | None) -> dt.datetime | None:
    """An RFC 5322 Date header as a datetime (naive for "-0000", RFC 5322 §3.3); None when unreadable."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _to_24h(hour: str, minute: str, seconds: str, pm: bool) -> str:
    """"2", "30", pm -> "14:30" (12 AM is midnight, 12 PM noon); an hour past 12 keeps its value."""
    h = int(hour)
    if h <= 12:
        h = (h % 12) + (12 if pm else 0)
    return f" {h:02d}:{minute}{seconds.replace('.', ':')} "


def _numeric_forms(raw: str) -> str:
    """Rewrite numeric dates and 12-hour clocks that dateutil misreads into ISO dates and a 24-hour clock."""
    raw = _CJK.sub(lambda m: f" {m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d} ", raw)
    raw = _YMD_DOTTED.sub(lambda m: f" {m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d} ", raw)
    raw = _DMY_SPACED.sub(r"\1.\2.\3", raw)
    raw = _VI_WEEKDAY.sub(" ", raw)
    raw = _VI_MONTH.sub(lambda m: f"{m.group(1)} {dt.date(2000, int(m.group(2)), 1):%b}"
                        if 1 <= int(m.group(2)) <= 12 else m.group(0), raw)
    twelve = False

    def before(m: re.Match[str]) -> str:
        nonlocal twelve
        twelve = True
        return _to_24h(m.group(3), m.group(4), m.group(5), m.group(2) is not None)

    def after(m: re.Match[str]) -> str:
        nonlocal twelve
        twelve = True
        return _to_24h(m.group(1), m.group(2), m.group(3), m.group(5) is not None)

    raw = _MERIDIEM_BEFORE.sub(before, raw)
    raw = _MERIDIEM_AFTER.sub(after, raw)
    if twelve:
        # A numeric M/D/Y date beside a 12-hour clock is the US convention (Thunderbird and Outlook in
        # en-US write "3/2/26, 2:30 PM"); elsewhere slashes are day first (en-GB "02/03/2026 14:30").
        raw = _US_NUMERIC.sub(lambda m: f" {_full_year(m.group(3))}-{int(m.group(1)):02d}-{int(m.group(2)):02d} "
                              if int(m.group(1)) <= 12 else m.group(0), raw)
    return raw


def _full_year(year: str) -> int:
    """A two-digit year is this century's: mail written before 2000 is not forwarded into a CRM today."""
    return int(year) + 2000 if len(year) == 2 else int(year)


def parse_loose_date(text: str | None, default_tz: dt.tzinfo | None = None) -> dt.datetime | None:
    """Read a date as written in a forward or quote header; aware result or None."""
    if not text:
        return None
    raw = _NOISE.sub(" ", _MARKS.sub("", text.strip()[:MAX_DATE_TEXT]))
    tz = default_tz or dt.timezone.utc
    strict = parse_rfc_date(raw)
    if strict is not None and _RFC5322.match(raw):
        return strict if strict.tzinfo else strict.replace(tzinfo=tz)
    offset: int | None = None
    m = _TZ_OFFSET.search(raw)
    if m:
        offset = (int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60) * (-1 if m.group(1) == "-" else 1)
        raw = raw[: m.start()] + " " + raw[m.end():]
    raw = _numeric_forms(raw)
    hu = _HUNGARIAN.search(raw)
    if hu:
        raw = raw[: hu.start()] + f"{hu.group(3)} {hu.group(2)} {hu.group(1)}" + raw[hu.end():]
    cleaned = _NOISE.sub(" ", raw)
    cleaned = re.sub(r"(?<![\d.])(\d{1,2})\.(\d{2})(?!\.\d)(?=\s*(?:$|[ap]\.?m|\s))", r"\1:\2", cleaned.strip())  # "12.46" (fi)
    cleaned = _translate(cleaned)
    # "28. Oct" -> "28 Oct": dateutil reads "28." badly next to a month name.
    cleaned = re.sub(r"(\d{1,2})\.(?=\s+[A-Za-z])", r"\1", cleaned)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if not cleaned or not re.search(r"\d", cleaned):
        return None
    year_first = bool(_ISO_ANYWHERE.search(cleaned))
    try:
        value: dt.datetime = du_parser.parse(cleaned, dayfirst=not year_first, yearfirst=year_first, fuzzy=True,
                                tzinfos={k.upper(): v for k, v in _ZONES.items()}, default=dt.datetime(1900, 1, 1))
    except (ValueError, OverflowError, TypeError):
        return None
    if value.year == 1900:
        return None  # no year written: too ambiguous to place on a timeline
    if offset is not None:
        value = value.replace(tzinfo=dt.timezone(dt.timedelta(seconds=offset)))
    elif value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value
