"""Jinja2 for the web pages: one autoescaping environment, the Russian and English strings, ``render``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).parent / "templates"
# Autoescape every template (names ending .html): contact names and subjects come from strangers' mail.
env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"], default=True),
                  trim_blocks=True, lstrip_blocks=True)

STRINGS: dict[str, dict[str, str]] = {
    "ru": {
        "login.title": "Вход", "login.email": "Адрес", "login.password": "Пароль", "login.submit": "Войти",
        "login.failed": "Неверный адрес или пароль.",
        "login.throttled": "Слишком много попыток. Попробуйте через несколько минут.",
        "logout": "Выйти", "nav.search": "Поиск", "signed_in_as": "Вы вошли как",
        "search.placeholder": "Имя, адрес, компания, телефон, тег", "search.submit": "Найти",
        "search.found": "Найдено", "search.none": "Никого не нашлось.",
        "col.name": "Имя", "col.email": "Адрес", "col.company": "Компания", "col.last": "Последнее письмо",
        "error.csrf": "Форма устарела: обновите страницу и отправьте её снова.",
        "nav.bounces": "Возвраты", "col.when": "Когда", "col.reason": "Причина", "bounce.hard": "постоянный",
        "bounce.soft": "временный", "bounce.reactivate": "Адрес рабочий", "bounce.confirm": "Адрес мёртв",
        "bounce.none": "Возвратов за 90 дней нет.",
        "nav.deals": "Сделки", "deal.overdue": "просрочено", "deal.stage": "Этап", "deal.move": "Перенести",
        "deal.won": "Выиграна", "deal.lost": "Проиграна", "deal.reason": "Причина",
        "contact.unknown": "Такого контакта нет.", "contact.timeline": "Хронология", "contact.older": "Старше",
        "contact.newer": "Новее", "contact.empty": "Писем и событий пока нет.", "contact.tz": "Время",
        "contact.phones": "Телефоны", "contact.addresses": "Адреса", "contact.tags": "Теги",
        "contact.title": "Должность", "contact.name": "Имя", "contact.company": "Компания",
        "contact.website": "Сайт", "contact.city": "Город", "contact.learned": "из писем",
        "contact.edit": "Исправить", "contact.save": "Сохранить", "contact.phones_hint": "через запятую",
        "contact.dates": "Даты", "contact.works": "Получил(а) работы", "contact.raw": ".eml",
        "contact.forwarded": "переслано вами", "contact.bad_edit": "Не сохранено",
        "status.active": "действует", "status.suspect": "под сомнением",
        "status.bounced": "не доходит", "status.invalid": "неверный",
        "kind.received": "входящее", "kind.sent": "исходящее", "kind.bounce": "возврат",
        "kind.autoreply": "автоответ", "kind.forward": "пересланное", "kind.unknown": "письмо",
        "act.call": "звонок", "act.note": "заметка", "act.event": "событие", "act.status": "статус",
        "act.autoreply": "автоответ", "act.bounce": "возврат", "act.signature": "подпись",
        "act.snooze": "отложено", "nav.today": "Сегодня", "today.done": "Сделано", "today.snooze": "Отложить",
        "today.days": "на сколько дней", "today.suspect": "Проверьте эти адреса", "today.quiet": "Тишина: ответа нет",
        "today.bad_line": "Не понял, какую строку.",
        "nav.companies": "Компании", "company.people": "Люди", "company.none": "Компаний пока нет.",
        "company.unknown": "Такой компании нет.", "company.suggestions": "Предложения группировки",
        "company.accept": "Принять", "company.reject": "Отклонить", "company.no_suggestions": "Предложений нет.",
        "company.domain": "Домен", "col.people": "Людей",
        "sugg.contact_company": "работает в", "sugg.merge": "объединить с", "sugg.new_address": "новый адрес",
        "sugg.new_contact": "новый контакт",
        "nav.quarantine": "Карантин", "quarantine.none": "В карантине ничего нет.", "quarantine.retry": "Повторить",
        "quarantine.retried": "Письмо возвращено в очередь.", "quarantine.unknown": "Такого письма в карантине нет.",
        "col.source": "Источник", "col.from": "Отправитель", "col.id": "Номер",
        "nav.charts": "Графики", "chart.funnel": "Предложения по тегам: отправлено → ответили → интерес → выиграно",
        "chart.replies": "Ответы по неделям", "chart.stages": "Сделки по этапам",
        "chart.sent": "отправлено", "chart.answered": "ответили", "chart.interested": "интерес", "chart.won": "выиграно",
        "chart.week": "неделя", "chart.untagged": "без тега", "chart.empty": "Данных пока нет.",
    },
    "en": {
        "login.title": "Sign in", "login.email": "Email", "login.password": "Password", "login.submit": "Sign in",
        "login.failed": "Wrong address or password.",
        "login.throttled": "Too many attempts. Try again in a few minutes.",
        "logout": "Sign out", "nav.search": "Search", "signed_in_as": "Signed in as",
        "search.placeholder": "Name, address, company, phone, tag", "search.submit": "Search",
        "search.found": "Found", "search.none": "Nobody found.",
        "col.name": "Name", "col.email": "Email", "col.company": "Company", "col.last": "Last message",
        "error.csrf": "The form has expired: reload the page and send it again.",
        "nav.bounces": "Bounces", "col.when": "When", "col.reason": "Reason", "bounce.hard": "hard",
        "bounce.soft": "soft", "bounce.reactivate": "Reactivate", "bounce.confirm": "Confirm dead",
        "bounce.none": "No bounces in 90 days.",
        "nav.deals": "Deals", "deal.overdue": "overdue", "deal.stage": "Stage", "deal.move": "Move",
        "deal.won": "Won", "deal.lost": "Lost", "deal.reason": "Reason",
        "contact.unknown": "No such contact.", "contact.timeline": "Timeline", "contact.older": "Older",
        "contact.newer": "Newer", "contact.empty": "No messages or events yet.", "contact.tz": "Times in",
        "contact.phones": "Phones", "contact.addresses": "Addresses", "contact.tags": "Tags",
        "contact.title": "Title", "contact.name": "Name", "contact.company": "Company",
        "contact.website": "Website", "contact.city": "City", "contact.learned": "from mail",
        "contact.edit": "Edit", "contact.save": "Save", "contact.phones_hint": "comma-separated",
        "contact.dates": "Dates", "contact.works": "Works received", "contact.raw": ".eml",
        "contact.forwarded": "forwarded by you", "contact.bad_edit": "Not saved",
        "status.active": "active", "status.suspect": "suspect",
        "status.bounced": "bounced", "status.invalid": "invalid",
        "kind.received": "received", "kind.sent": "sent", "kind.bounce": "bounce",
        "kind.autoreply": "auto-reply", "kind.forward": "forwarded", "kind.unknown": "message",
        "act.call": "call", "act.note": "note", "act.event": "event", "act.status": "status",
        "act.autoreply": "auto-reply", "act.bounce": "bounce", "act.signature": "signature",
        "act.snooze": "snoozed", "nav.today": "Today", "today.done": "Done", "today.snooze": "Snooze",
        "today.days": "days to snooze", "today.suspect": "Check these addresses", "today.quiet": "Quiet outreach",
        "today.bad_line": "Which line was that?",
        "nav.companies": "Companies", "company.people": "People", "company.none": "No companies yet.",
        "company.unknown": "No such company.", "company.suggestions": "Grouping suggestions",
        "company.accept": "Accept", "company.reject": "Reject", "company.no_suggestions": "No suggestions.",
        "company.domain": "Domain", "col.people": "People",
        "sugg.contact_company": "works at", "sugg.merge": "merge with", "sugg.new_address": "new address",
        "sugg.new_contact": "new contact",
        "nav.quarantine": "Quarantine", "quarantine.none": "Nothing in quarantine.", "quarantine.retry": "Retry",
        "quarantine.retried": "The message is back in the queue.", "quarantine.unknown": "No such message in quarantine.",
        "col.source": "Source", "col.from": "Sender", "col.id": "Id",
        "nav.charts": "Charts", "chart.funnel": "Pitches per tag: sent → answered → interested → won",
        "chart.replies": "Replies per week", "chart.stages": "Deals per stage",
        "chart.sent": "sent", "chart.answered": "answered", "chart.interested": "interested", "chart.won": "won",
        "chart.week": "week", "chart.untagged": "untagged", "chart.empty": "No data yet.",
    },
}


def language_of(request: Request, default: str = "ru") -> str:
    """The language for a page without a user: the browser's first of ru/en, else ``default``."""
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in STRINGS:
            return tag
    return default if default in STRINGS else "ru"


def render(name: str, lang: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` in ``lang`` (``t(key)`` gives a string)."""
    strings = STRINGS.get(lang, STRINGS["ru"])
    html = env.get_template(name).render(lang=lang, t=lambda key: strings.get(key, key), **context)
    return HTMLResponse(html, status_code=status_code)
