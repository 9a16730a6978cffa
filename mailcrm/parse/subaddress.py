"""The dropbox sub-address grammar: what ``crm+<secret>+WORD@`` asks mailcrm to do, in one pure module.

``classify(word, today)`` reads the part after the dropbox's own local part and returns one frozen value:

- ``Plain``: no sub-address, record the mail as usual;
- ``FollowUp(due, always)``: record the mail and remind on ``due`` if nobody answered (``always``: remind anyway);
- ``Command(kind)``: ``pending``, ``cancel``, ``find``, ``outreach``, ``deal`` or ``digest`` (replies to the digest);
- ``Unknown(word, reason)``: answered with ``help_text`` — never a silent drop.

Date forms (English and Russian, case-insensitive; a leading ``r`` makes the reminder unconditional):
``3d`` ``2w`` ``1m`` (days, weeks, calendar months; also ``3days``, ``3д``, ``3дн``, ``2н``, ``2нед``, ``1мес``),
``mon`` … ``sun`` / ``пн`` … ``вс`` and full names (the next such day, never today), ``tomorrow`` / ``завтра``,
``15mar`` / ``15march`` / ``15мар`` / ``15марта`` (the next such date after today), ``2026-04-01`` (ISO, after today).
Local parts are usually ASCII; Russian words reach us from SMTPUTF8 clients and from IMAP headers.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from mailcrm.parse.month_names import month_of

# The farthest a follow-up may be set: a typo such as +300m should not vanish for 25 years.
MAX_AHEAD = timedelta(days=2 * 366)

CommandKind = Literal["pending", "cancel", "find", "outreach", "deal", "digest"]


@dataclass(frozen=True)
class Plain:
    """No sub-address: the mail is recorded as usual."""


@dataclass(frozen=True)
class FollowUp:
    """Remind on ``due`` unless the recipient answered first (``always``: remind whatever happens)."""

    due: date
    always: bool = False


@dataclass(frozen=True)
class Command:
    """A request answered by mail (pending, cancel, find, outreach) or the ``+deal`` intake."""

    kind: CommandKind


@dataclass(frozen=True)
class Unknown:
    """A sub-address mailcrm cannot read; ``reason`` says why, the sender gets ``help_text``."""

    word: str
    reason: str


SubAddress = Plain | FollowUp | Command | Unknown

_COMMANDS: dict[str, CommandKind] = {
    "pending": "pending", "ждут": "pending", "ожидание": "pending",
    "cancel": "cancel", "отмена": "cancel", "отменить": "cancel",
    "find": "find", "найти": "find", "поиск": "find",
    "outreach": "outreach", "рассылка": "outreach",
    "deal": "deal",
    "digest": "digest",  # the digest's Reply-To: answers to it carry commands
}

_UNITS: dict[str, str] = {}
for _unit, _words in (("d", "d day days д дн день дня дней"), ("w", "w wk week weeks н нед недели недель неделя"),
                      ("m", "m mo mon month months м мес месяц месяца месяцев")):
    for _w in _words.split():
        _UNITS[_w] = _unit

_WEEKDAYS: dict[str, int] = {}
for _i, _words in enumerate(("mon monday пн пнд понедельник", "tue tues tuesday вт вторник",
                             "wed wednesday ср среда среду", "thu thur thurs thursday чт четверг",
                             "fri friday пт пятница пятницу", "sat saturday сб суббота субботу",
                             "sun sunday вс воскресенье")):
    for _w in _words.split():
        _WEEKDAYS[_w] = _i

_TOMORROW = frozenset({"tomorrow", "tmrw", "завтра"})

_RELATIVE = re.compile(r"(\d{1,4})([^\d]+)")
_DAY_MONTH = re.compile(r"(\d{1,2})[-.]?([^\d\W]+)\.?")
_MONTH_DAY = re.compile(r"([^\d\W]+)[-.]?(\d{1,2})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def subaddress_of(recipient: str, dropbox: str) -> str | None:
    """The sub-address word of ``recipient`` under ``dropbox`` ("" for the dropbox itself); None if not ours."""
    r_local, _, r_domain = recipient.strip().lower().rpartition("@")
    d_local, _, d_domain = dropbox.strip().lower().rpartition("@")
    if not r_local or r_domain != d_domain:
        return None
    if r_local == d_local:
        return ""
    if r_local.startswith(d_local + "+"):
        return r_local[len(d_local) + 1:]
    return None


def classify(word: str, today: date) -> SubAddress:
    """Read a sub-address word (the part after ``crm+<secret>+``) relative to ``today``."""
    w = word.strip().lower()
    if not w:
        return Plain()
    if w in _COMMANDS:
        return Command(_COMMANDS[w])
    always = False
    due = _due(w, today)
    if isinstance(due, str) and w.startswith("r") and len(w) > 1:
        always = True
        due = _due(w[1:], today)
    if isinstance(due, str):
        return Unknown(word, due)
    if due <= today:
        return Unknown(word, "date is not in the future")
    if due - today > MAX_AHEAD:
        return Unknown(word, "date is more than two years ahead")
    return FollowUp(due, always)


def _due(w: str, today: date) -> date | str:
    """The date a word names, or a short reason it names none."""
    if w in _TOMORROW:
        return today + timedelta(days=1)
    if w in _WEEKDAYS:
        ahead = (_WEEKDAYS[w] - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    if m := _ISO.fullmatch(w):
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return "no such date"
    if (m := _RELATIVE.fullmatch(w)) and m[2] in _UNITS:
        n = int(m[1])
        if n == 0:
            return "a period of zero"
        unit = _UNITS[m[2]]
        if unit == "d":
            return _safe_add(today, n)
        if unit == "w":
            return _safe_add(today, 7 * n)
        return _add_months(today, n)
    for pattern, day_first in ((_DAY_MONTH, True), (_MONTH_DAY, False)):
        if m := pattern.fullmatch(w):
            day_s, month_s = (m[1], m[2]) if day_first else (m[2], m[1])
            month = month_of(month_s)
            if month is None:
                continue
            return _next_day_month(int(day_s), month, today)
    return "not a known sub-address"


def _safe_add(today: date, days: int) -> date | str:
    if days > MAX_AHEAD.days:
        return "date is more than two years ahead"
    return today + timedelta(days=days)


def _add_months(today: date, n: int) -> date | str:
    """``today`` plus ``n`` calendar months, the day clamped to the month's end (31 Jan + 1m = 28/29 Feb)."""
    if n > 24:
        return "date is more than two years ahead"
    index = today.month - 1 + n
    year, month = today.year + index // 12, index % 12 + 1
    return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))


def _next_day_month(day: int, month: int, today: date) -> date | str:
    """The first ``day``.``month`` after today (this year or the next; 29 Feb waits for a leap year)."""
    for year in range(today.year, today.year + 5):
        try:
            d = date(year, month, day)
        except ValueError:
            continue
        if d > today:
            return d
    return "no such date"


HELP_EN = """mailcrm did not understand the address {address} ({reason}).

Sub-addresses of your dropbox (crm+<secret>+WORD@...):
  +3d +2w +1m        follow up in 3 days, 2 weeks, 1 month if nobody answered
  +mon ... +sun      follow up on the next Monday ... Sunday
  +tomorrow          follow up tomorrow
  +15mar             follow up on 15 March
  +2026-04-01        follow up on that date
  +r3d (r + any)     remind on that day whatever happens
  +pending           list the follow-ups waiting
  +cancel            (forward a mail of the thread) cancel its follow-up
  +find              card of the name, address, company, phone or tag in the subject
  +outreach          outreach list of the work named in the subject
  +deal              open a deal from the mail
"""

HELP_RU = """mailcrm не понял адрес {address} ({reason}).

Подадреса вашего ящика (crm+<секрет>+СЛОВО@...):
  +3d +2w +1m (+3д +2н +1мес)   напомнить через 3 дня, 2 недели, месяц, если не ответили
  +mon … +sun (+пн … +вс)       напомнить в ближайший понедельник … воскресенье
  +tomorrow (+завтра)           напомнить завтра
  +15mar (+15мар, +15марта)     напомнить 15 марта
  +2026-04-01                   напомнить в этот день
  +r3d (r + любая форма)        напомнить в любом случае
  +pending (+ждут)              список ожидающих напоминаний
  +cancel (+отмена)             (переслать письмо цепочки) отменить напоминание
  +find (+найти)                карточка по имени, адресу, компании, телефону или тегу из темы
  +outreach (+рассылка)         список рассылки произведения из темы
  +deal                         открыть сделку из письма
"""


def help_text(address: str, reason: str, language: str = "en") -> str:
    """The short help answered to an unknown sub-address, in Russian or English."""
    template = HELP_RU if language == "ru" else HELP_EN
    return template.format(address=address, reason=reason)
