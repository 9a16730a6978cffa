"""Digest rendering: text and HTML, escaping, Russian and English, empty days."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from digest_fixtures import STAGES_CFG, deal, person

from mailcrm.digest.render import plural_days, render
from mailcrm.digest.rules import BounceSnap, MessageRef, QuietSnap, Snapshot, SpecialDateSnap, WaitingSnap, build_digest
from mailcrm.domain.cadence import StageRule
from mailcrm.domain.special_dates import DateSpec

STAGES = {k: StageRule(*v) for k, v in STAGES_CFG.items()}
TODAY = dt.date(2025, 3, 10)
EVIL = "<script>alert('x')</script>"


def _snapshot() -> Snapshot:
    evil = person(1, EVIL, "evil@x.ru", ("+74951234567",), "ООО <b>Рога</b> & Копыта")
    t0 = dt.datetime(2025, 3, 1, 9)
    return Snapshot("me@example.org", "Аня", deals=(
        deal(1, "invoiced", t0, touched=dt.datetime(2025, 3, 4, 9), out=dt.datetime(2025, 3, 4, 9), people=(evil,),
             title="Счёт <img src=x onerror=alert(1)>", subject="Re: счёт № 5"),
        deal(2, "lead", dt.datetime(2025, 3, 9, 6), touched=dt.datetime(2025, 3, 9, 6), people=(person(2, None, "anna@gmail.com", ()),)),
    ), waiting=(WaitingSnap(person(3, "Олег"), MessageRef("Когда созвонимся?", dt.datetime(2025, 3, 9, 7, 15))),),
        dates=(SpecialDateSnap("ДР", DateSpec(month=3, day=12), person=evil),),
        bounces=(BounceSnap("gone@x.ru", None, True, "user unknown", dt.datetime(2025, 3, 9, 12)),),
        quiet=(QuietSnap(person(4, "Пётр"), MessageRef("Предложение", dt.datetime(2025, 1, 20, 9)), ("театры",)),))


def _render(language: str, tz: str = "Europe/Moscow"):  # type: ignore[no-untyped-def]
    d = build_digest(_snapshot(), today=TODAY, tz=ZoneInfo(tz), stages=STAGES)
    return render(d, language, 42)


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_names_titles_and_companies() -> None:
    r = _render("en")
    assert "<script>" not in r.html and "<img" not in r.html and "<b>Рога" not in r.html
    assert "&lt;script&gt;" in r.html and "&amp; Копыта" in r.html
    parser = _TextOnly()
    parser.feed(r.html)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert EVIL in "".join(parser.text)  # shown as text, exactly as typed


def test_plain_text_keeps_names_verbatim() -> None:
    r = _render("en")
    assert EVIL in r.text and "&lt;" not in r.text
    assert "Счёт <img src=x onerror=alert(1)>" in r.text


@pytest.mark.parametrize("language,heads", [
    ("en", ["Call today", "New leads not yet touched", "Waiting for your answer", "Special dates",
            "Bounces since the last digest", "Quiet outreach"]),
    ("ru", ["Позвонить сегодня", "Новые обращения без ответа", "Ждут вашего ответа", "Особые даты",
            "Возвраты писем", "Тишина"]),
])
def test_sections_in_both_languages_and_empty_ones_left_out(language: str, heads: list[str]) -> None:
    r = _render(language)
    positions = [r.text.index(h) for h in heads]
    assert positions == sorted(positions)  # the order
    for h in heads:
        assert h in r.html
    absent = {"en": "Back in the office", "ru": "Сегодня возвращаются"}[language]
    assert absent not in r.text and absent not in r.html
    assert "+74951234567" in r.text and 'href="tel:+74951234567"' in r.html


def test_details_of_a_call_line() -> None:
    en, ru = _render("en").text, _render("ru").text
    assert "overdue 5 days; last touch 6 days ago" in en
    assert "просрочено на 5 дней; последний контакт 6 дней назад" in ru
    assert '"Re: счёт № 5", 2025-03-04 12:00' in en  # Moscow time of 09:00 UTC
    assert "2025-03-04 19:00" in render(build_digest(_snapshot(), today=TODAY, tz=ZoneInfo("Asia/Vladivostok"),
                                                     stages=STAGES), "en").text
    assert "через 2 дня" in ru and "in 2 days" in en  # the birthday on the 12th
    assert "12.03.2025" in ru and "2025-03-12" in en


def test_subject_and_empty_day() -> None:
    r = _render("ru")
    assert r.subject.startswith("mailcrm:") and "10.03.2025" in r.subject and not r.empty
    empty = render(build_digest(Snapshot("me@x", None), today=TODAY, tz=ZoneInfo("UTC"), stages=STAGES), "en")
    assert empty.empty and "nothing to do" in empty.subject
    body = [line for line in empty.text.splitlines() if line.strip()]
    assert "Nothing to do today" in empty.text and len(body) <= 4


@pytest.mark.parametrize("n,word", [(1, "1 день"), (2, "2 дня"), (5, "5 дней"), (11, "11 дней"), (21, "21 день"),
                                    (22, "22 дня"), (112, "112 дней")])
def test_russian_plurals(n: int, word: str) -> None:
    assert plural_days(n, "ru") == word
    assert plural_days(1, "en") == "1 day" and plural_days(3, "en") == "3 days"


def test_quiet_heading_uses_the_plural_of_its_day_count() -> None:
    d = build_digest(_snapshot(), today=TODAY, tz=ZoneInfo("Europe/Moscow"), stages=STAGES)
    assert "нет ответа 42 дня и дольше" in render(d, "ru", 42).text
    assert "нет ответа 45 дней и дольше" in render(d, "ru", 45).html
    assert "no reply for 42 days or longer" in render(d, "en", 42).text


def test_stage_names_amounts_links_and_phones() -> None:
    """A Russian digest names stages in Russian and shows a deal's amount; lines link to the web pages."""
    import dataclasses
    from decimal import Decimal

    snap = _snapshot()
    invoiced = dataclasses.replace(snap.deals[0], amount=Decimal("150000.00"), currency="RUB")
    snap = dataclasses.replace(snap, deals=(invoiced, *snap.deals[1:]))
    d = build_digest(snap, today=TODAY, tz=ZoneInfo("Europe/Moscow"), stages=STAGES)
    ru = render(d, "ru", 42, public_url="https://crm.example.org/")
    assert "этап: invoiced" not in ru.text and "этап: счёт выставлен, 150\u00a0000\u00a0₽" in ru.text
    assert "счёт выставлен, 150\u00a0000\u00a0₽" in ru.html
    assert 'href="https://crm.example.org/deals#deal-1"' in ru.html and "https://crm.example.org/deals#deal-1" in ru.text
    assert 'href="https://crm.example.org/contacts/evil@x.ru"' in ru.html
    assert 'href="https://crm.example.org/today"' in ru.html and "https://crm.example.org/today" in ru.text
    assert 'href="tel:+74951234567"' in ru.html
    en = render(d, "en", 42, labels={"invoiced": "invoice out"})
    assert "stage: invoice out, 150,000\u00a0RUB" in en.text
    assert "crm.example.org" not in en.html and "/deals#" not in en.html  # no public_url: no links
    # Without a label a stage of one's own is its name.
    own = dataclasses.replace(d, call_today=(dataclasses.replace(d.call_today[0], deal=dataclasses.replace(
        invoiced, stage="casting_call")),))
    assert "этап: casting call" in render(own, "ru", 42).text
