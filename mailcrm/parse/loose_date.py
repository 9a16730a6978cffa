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

# Month names (nominative, genitive, abbreviations) per month, lower-case, without dots.
_MONTHS: tuple[tuple[str, ...], ...] = (
    ("jan", "january", "январь", "января", "янв", "januar", "janvier", "janv", "enero", "ene", "gennaio", "gen",
     "janeiro", "januari", "stycznia", "styczeń", "sty", "tammikuuta", "tammi", "január", "ianuarie", "ocak", "led", "ledna"),
    ("feb", "february", "февраль", "февраля", "фев", "февр", "februar", "février", "févr", "febrero", "febbraio",
     "fevereiro", "fev", "februari", "lutego", "luty", "lut", "helmikuuta", "helmi", "február", "februarie", "şubat", "úno"),
    ("mar", "march", "март", "марта", "mär", "märz", "mars", "marzo", "março", "maart", "marca", "marzec",
     "maaliskuuta", "maalis", "március", "martie", "mart", "bře", "března"),
    ("apr", "april", "апрель", "апреля", "апр", "avril", "avr", "abril", "abr", "aprile", "kwietnia", "kwiecień", "kwi",
     "huhtikuuta", "huhti", "április", "aprilie", "nisan", "dub", "dubna"),
    ("may", "май", "мая", "mai", "mayo", "maggio", "mag", "maio", "mei", "maja", "maj", "toukokuuta", "touko", "május",
     "mayıs", "kvě", "května"),
    ("jun", "june", "июнь", "июня", "июн", "juni", "juin", "junio", "giugno", "giu", "junho", "czerwca", "czerwiec", "cze",
     "kesäkuuta", "kesä", "június", "iunie", "haziran", "čer", "června"),
    ("jul", "july", "июль", "июля", "июл", "juli", "juillet", "juil", "julio", "luglio", "lug", "julho", "lipca",
     "lipiec", "lip", "heinäkuuta", "heinä", "július", "iulie", "temmuz", "čvc", "července"),
    ("aug", "august", "август", "августа", "авг", "août", "agosto", "ago", "augustus", "sierpnia", "sierpień", "sie",
     "elokuuta", "elo", "augusztus", "ağustos", "srp", "srpna"),
    ("sep", "sept", "september", "сентябрь", "сентября", "сен", "сент", "septembre", "septiembre", "settembre", "set",
     "setembro", "września", "wrzesień", "wrz", "syyskuuta", "syys", "szeptember", "septembrie", "eylül", "zář", "září"),
    ("oct", "october", "октябрь", "октября", "окт", "oktober", "okt", "octobre", "octubre", "ottobre", "ott", "outubro",
     "out", "października", "październik", "paź", "lokakuuta", "loka", "október", "octombrie", "ekim", "říj", "října"),
    ("nov", "november", "ноябрь", "ноября", "нояб", "ноя", "novembre", "noviembre", "novembro", "listopada",
     "listopad", "lis", "marraskuuta", "marras", "noiembrie", "kasım", "listopadu"),
    ("dec", "december", "декабрь", "декабря", "дек", "dezember", "dez", "décembre", "déc", "diciembre", "dic",
     "dicembre", "dezembro", "grudnia", "grudzień", "gru", "joulukuuta", "joulu", "decembrie", "aralık", "pro", "prosince"),
)
_MONTH_OF = {name: i + 1 for i, names in enumerate(_MONTHS) for name in names}
# Marks around dates that carry no date information; other words are dropped by _translate.
_MARKS = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060\ufeff]")
_NOISE = re.compile(r"[(),]")
_TZ_OFFSET = re.compile(r"\b(?:gmt|utc)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\b", re.I)
_WORD = re.compile(r"[^\W\d_]+\.?", re.U)
_RFC5322 = re.compile(r"^\s*(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}")
_HUNGARIAN = re.compile(r"\b(\d{4})\.\s*([^\W\d_]+)\s+(\d{1,2})\.")  # "2021. október 28."
_ZONES = {"msk": 3 * 3600, "msd": 4 * 3600, "eest": 3 * 3600, "eet": 2 * 3600, "cest": 2 * 3600, "cet": 3600,
          "mesz": 2 * 3600, "mez": 3600, "bst": 3600, "est": -5 * 3600, "edt": -4 * 3600, "cst": -6 * 3600,
          "cdt": -5 * 3600, "pst": -8 * 3600, "pdt": -7 * 3600, "gmt": 0, "utc": 0, "ut": 0, "z": 0}
MAX_DATE_TEXT = 200


def _translate(text: str) -> str:
    """Replace localised month names by English ones and drop other words dateutil cannot read."""
    def repl(m: re.Match[str]) -> str:
        word = m.group(0).lower().rstrip(".")
        month = _MONTH_OF.get(word)
        if month is not None:
            return f" {dt.date(2000, month, 1):%b} "
        if word in ("am", "pm"):
            return m.group(0)
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
    hu = _HUNGARIAN.search(raw)
    if hu:
        raw = raw[: hu.start()] + f"{hu.group(3)} {hu.group(2)} {hu.group(1)}" + raw[hu.end():]
    cleaned = _NOISE.sub(" ", raw)
    cleaned = re.sub(r"(\d{1,2})\.(\d{2})(?!\.\d)(?=\s*(?:$|[ap]\.?m|\s))", r"\1:\2", cleaned.strip())  # "12.46" (fi)
    cleaned = _translate(cleaned)
    # "28. Oct" -> "28 Oct": dateutil reads "28." badly next to a month name.
    cleaned = re.sub(r"(\d{1,2})\.(?=\s+[A-Za-z])", r"\1", cleaned)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if not cleaned or not re.search(r"\d", cleaned):
        return None
    year_first = bool(re.match(r"^\d{4}[-/.]", cleaned))
    try:
        value = du_parser.parse(cleaned, dayfirst=not year_first, yearfirst=year_first, fuzzy=True,
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
