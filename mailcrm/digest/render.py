"""Digest rendering (PURE): sections -> subject, plain text and HTML, in Russian or English.

Two jinja2 environments over the same templates directory: HTML with autoescape on (a contact
called ``<script>`` stays text), plain text without (nothing there is markup).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2

from mailcrm.digest.rules import Digest, Person, section_offsets
from mailcrm.domain.deal_states import stage_label, stage_labels
from mailcrm.domain.money import format_amount

TEMPLATES = Path(__file__).with_name("templates")

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "mailcrm: {n} to do on {date}",
        "subject_empty": "mailcrm: nothing to do on {date}",
        "hello": "Good morning{name}. Here is {date}.",
        "nothing": "Nothing to do today: no follow-ups, no dates, no bounces.",
        "call_today": "Call today",
        "new_leads": "New leads not yet touched",
        "waiting": "Waiting for your answer",
        "dates": "Special dates today and in the next 7 days",
        "bounces": "Bounces since the last digest",
        "no_address": "Contacts left without a live address",
        "suspect": "Check this address (a bounce made it doubtful; `mailcrm address confirm-bounced` or `address reactivate`)",
        "autoreplies": "Back in the office today",
        "repeats": "Sent again: they had it already",
        "repeat_line": "«{title}» to {to}{company}: already sent {date}, answer: {answer}",
        "quiet": "Quiet outreach: no reply for {days} or longer",
        "overdue": "overdue {n}",
        "due_today": "due today",
        "since_touch": "last touch {n} ago",
        "never_touched": "never touched",
        "last_message": "last message",
        "deal": "deal",
        "stage": "stage",
        "opened": "opened",
        "received": "received",
        "today": "today",
        "in_days": "in {n}",
        "tag": "tag",
        "untagged": "no tag",
        "more": "and {n} more",
        "more_older": "and {n} older ones",
        "sent": "sent",
        "hard": "hard",
        "soft": "soft",
        "everyone_tagged": "everyone tagged",
        "no_phone": "no phone",
        "footer": "Sent by mailcrm to {email}; time zone {tz}.",
        "on_web": "The same on the web: {url}",
        "follow_ups": "Follow up: no answer yet",
        "reminder": "reminder",
        "due_since": "due since {date}",
        "touches": "Keep in touch",
        "every": "every {n}",
        "last_touch": "last touch {date}",
        "no_touch": "no touch yet",
    },
    "ru": {
        "subject": "mailcrm: дел на {date} — {n}",
        "subject_empty": "mailcrm: на {date} дел нет",
        "hello": "Доброе утро{name}. Сегодня {date}.",
        "nothing": "Сегодня дел нет: ни звонков, ни дат, ни возвратов.",
        "call_today": "Позвонить сегодня",
        "new_leads": "Новые обращения без ответа",
        "waiting": "Ждут вашего ответа",
        "dates": "Особые даты: сегодня и в ближайшие 7 дней",
        "bounces": "Возвраты писем с прошлой сводки",
        "no_address": "Контакты без рабочего адреса",
        "suspect": "Проверьте этот адрес (после возврата он под сомнением; `mailcrm address confirm-bounced` или `address reactivate`)",
        "autoreplies": "Сегодня возвращаются",
        "repeats": "Повторные отправки: это у них уже было",
        "repeat_line": "«{title}» — {to}{company}: уже отправляли {date}, ответ: {answer}",
        "quiet": "Тишина: нет ответа {days} и дольше",
        "overdue": "просрочено на {n}",
        "due_today": "срок сегодня",
        "since_touch": "последний контакт {n} назад",
        "never_touched": "контактов не было",
        "last_message": "последнее письмо",
        "deal": "сделка",
        "stage": "этап",
        "opened": "открыта",
        "received": "получено",
        "today": "сегодня",
        "in_days": "через {n}",
        "tag": "тег",
        "untagged": "без тега",
        "more": "и ещё {n}",
        "more_older": "и ещё {n}, более давних",
        "sent": "отправлено",
        "hard": "постоянная ошибка",
        "soft": "временная ошибка",
        "everyone_tagged": "все с тегом",
        "no_phone": "нет телефона",
        "footer": "Сводку прислал mailcrm для {email}; часовой пояс {tz}.",
        "on_web": "То же на сайте: {url}",
        "follow_ups": "Напомнить: ответа пока нет",
        "reminder": "напоминание",
        "due_since": "срок с {date}",
        "touches": "Пора напомнить о себе",
        "every": "раз в {n}",
        "last_touch": "последний контакт {date}",
        "no_touch": "контактов ещё не было",
    },
}


def plural_days(n: int, language: str) -> str:
    """"1 day"/"3 days", or Russian "1 день"/"3 дня"/"5 дней" (Russian has three forms)."""
    n = abs(n)
    if language == "ru":
        if n % 10 == 1 and n % 100 != 11:
            word = "день"
        elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            word = "дня"
        else:
            word = "дней"
        return f"{n} {word}"
    return f"{n} day" if n == 1 else f"{n} days"


@dataclass(frozen=True)
class Rendered:
    """A digest ready to send."""

    subject: str
    text: str
    html: str
    empty: bool


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails the tests, not the morning mail
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


_TEXT_ENV = _environment(False)
_HTML_ENV = _environment(True)


def tel_uri(phone: str) -> str:
    """A phone as a ``tel:`` link target: the digits and a leading +, nothing a dialer trips on."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "tel:" + ("+" if phone.strip().startswith("+") else "") + digits


def contact_path(person: Person) -> str | None:
    """The web page of a person: /contacts/<first address, else first phone>; None without either."""
    ref = person.address or (person.phones[0] if person.phones else None)
    return f"/contacts/{quote(ref, safe='@+')}" if ref else None


def render(digest: Digest, language: str = "ru", quiet_after_days: int = 42, *,
           labels: Mapping[str, str] | None = None, public_url: str = "") -> Rendered:
    """Subject, text and HTML of a digest in ``language`` (ru or en).

    ``labels``: stage -> name in ``language`` (default: the built-in labels); ``public_url``: where the
    web pages are (``[web] public_url``): each line then links to its page, and the digest to /today.
    """
    strings = STRINGS.get(language, STRINGS["en"])
    names = dict(labels) if labels is not None else stage_labels(language)
    base = public_url.rstrip("/")

    def link(path: str | None) -> str:
        return f"{base}{path}" if base and path else ""

    def money(amount: Decimal | None, currency: str | None) -> str:
        return format_amount(amount, currency, language)
    tz = ZoneInfo(digest.timezone)

    def days(n: int) -> str:
        return plural_days(n, language)

    def local(when: dt.datetime) -> str:
        return when.replace(tzinfo=dt.timezone.utc).astimezone(tz).strftime("%Y-%m-%d %H:%M")

    def day(when: dt.date) -> str:
        return when.strftime("%d.%m.%Y") if language == "ru" else when.isoformat()

    n = sum(digest.total(x) for x in ("call_today", "new_leads", "waiting", "follow_ups"))
    subject = (strings["subject_empty"] if digest.is_empty else strings["subject"]).format(
        n=n or digest.total("dates") + digest.total("bounces"), date=day(digest.today))
    ctx = {
        "d": digest, "s": strings, "days": days, "local": local, "day": day,
        "name": f", {digest.user_name}" if digest.user_name else "", "quiet_days": quiet_after_days,
        "lang": language if language in STRINGS else "en", "off": section_offsets(digest),
        "stage": lambda st: stage_label(st, names), "money": money, "link": link, "page": contact_path,
        "tel": tel_uri,
    }
    return Rendered(subject=subject, text=_TEXT_ENV.get_template("digest.txt.j2").render(ctx),
                    html=_HTML_ENV.get_template("digest.html.j2").render(ctx), empty=digest.is_empty)
