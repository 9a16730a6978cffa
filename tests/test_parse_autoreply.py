"""Auto-replies: RFC 3834 headers, EN/RU vacation texts, back-on dates, "no longer works here"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mailcrm.parse.autoreply import detect_autoreply
from mailcrm.parse.autoreply_dates import back_date
from mailcrm.parse.facts import Address
from mailcrm.parse.message import parse_message
from mailcrm.parse.mime import parse_bytes

DATA = Path(__file__).parent / "data" / "bounces"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_russian_vacation_reply_with_return_date() -> None:
    facts = parse_message(load("vacation_ru.eml"))
    assert facts.kind == "autoreply"
    assert facts.autoreply is not None
    assert facts.autoreply.until == dt.date(2025, 3, 15)
    assert facts.autoreply.reason == "Auto-Submitted: auto-replied"
    assert not facts.autoreply.left_company


def test_english_out_of_office_back_on_monday_march_9() -> None:
    facts = parse_message(load("ooo_en.eml"))
    assert facts.kind == "autoreply"
    assert facts.autoreply is not None
    assert facts.autoreply.until == dt.date(2026, 3, 9)
    assert facts.autoreply.reason is not None and facts.autoreply.reason.startswith("subject:")


def test_no_longer_with_the_company_proposes_the_given_contacts_not_the_sender() -> None:
    auto = parse_message(load("left_company.eml")).autoreply
    assert auto is not None and auto.left_company
    assert auto.new_contacts == (Address("Jane Doe", "jane.doe@client.example"), Address(None, "sales@client.example"))
    assert auto.until is None


def test_russian_left_company_with_new_address() -> None:
    auto = parse_message(load("left_company_ru.eml")).autoreply
    assert auto is not None and auto.left_company
    assert [a.address for a in auto.new_contacts] == ["info@client.example"]


def test_challenge_response_is_an_autoreply_flagged_in_reason() -> None:
    facts = parse_message(load("challenge.eml"))
    assert (facts.kind, facts.bounce) == ("autoreply", None)
    assert facts.autoreply is not None and facts.autoreply.reason == "challenge-response"


def test_precedence_bulk_alone_is_not_an_autoreply() -> None:
    facts = parse_message(load("human_mentions_vacation.eml"))
    assert facts.autoreply is None
    assert facts.kind == "received"


def test_auto_submitted_no_is_not_an_autoreply() -> None:
    raw = b"From: a@b.example\nTo: c@d.example\nSubject: Hello\nAuto-Submitted: no\n\nJust a note.\n"
    assert detect_autoreply(parse_bytes(raw), sent=None) is None


SENT = dt.datetime(2025, 3, 2, 12, 0, tzinfo=dt.timezone.utc)  # a Sunday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I will be back on 12 March.", dt.date(2025, 3, 12)),
        ("back on Monday, March 9", dt.date(2025, 3, 9)),
        ("I am away until Monday 5th", dt.date(2025, 5, 5)),
        ("until Monday", dt.date(2025, 3, 3)),
        ("Я в отпуске, вернусь 15.08", dt.date(2025, 8, 15)),
        ("В отпуске до 3 сентября", dt.date(2025, 9, 3)),
        ("Нет на месте с 1 по 12 марта", dt.date(2025, 3, 12)),
        ("back on 5 January", dt.date(2026, 1, 5)),  # no year: the next 5 January
        ("returning 2025-04-01", dt.date(2025, 4, 1)),
        ("out of office until 10/04/2025", dt.date(2025, 4, 10)),  # day first
        ("The cat sat on the mat.", None),
        ("Вернусь 5-го апреля", dt.date(2025, 4, 5)),  # a Russian ordinal ending
        ("I'll be back on the 17th", dt.date(2025, 3, 17)),  # a day alone: the next 17th
        ("Буду в офисе 3-го", dt.date(2025, 3, 3)),
        ("The 3 of us are away", None),  # a number without an ordinal ending is no date
    ],
)
def test_back_date(text: str, expected: dt.date | None) -> None:
    assert back_date(text, SENT) == expected


def test_back_date_without_send_date_needs_a_year() -> None:
    assert back_date("back on 12 March", None) is None
    assert back_date("back on 12 March 2025", None) == dt.date(2025, 3, 12)


@pytest.mark.parametrize("prefix", [
    "Automatic reply", "Automatische Antwort", "Réponse automatique", "Respuesta automática", "Risposta automatica",
    "Automatisch antwoord", "Resposta automática", "Automatiskt svar", "Automatisk svar", "Automaattinen vastaus",
    "Odpowiedź automatyczna", "Automatická odpověď", "Otomatik yanıt", "Automatikus válasz", "Răspuns automat",
    "Автоматический ответ", "Автоматична відповідь", "Αυτόματη απάντηση", "自動応答", "自动回复", "자동 회신",
])
def test_outlooks_automatic_reply_prefix_in_each_ui_language_is_enough(prefix: str) -> None:
    # Without any auto-reply header (as after an inline forward), Outlook's subject prefix tells.
    raw = (f"From: Olga <olga@theatre.example>\r\nTo: me@example.org\r\nSubject: {prefix}: Pitch\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThanks for your message.\r\n").encode()
    assert detect_autoreply(parse_bytes(raw)) is not None
    plain = raw.replace(f"{prefix}: Pitch".encode(), b"Re: Pitch")
    assert detect_autoreply(parse_bytes(plain)) is None


@pytest.mark.parametrize("text", [
    "Данный адрес больше не используется. Новый адрес: olga.petrova@newtheatre.example",
    "This address is no longer in use. Please write to olga.petrova@newtheatre.example",
])
def test_an_address_no_longer_in_use_names_its_successor(text: str) -> None:
    raw = ("From: Olga <olga@theatre.example>\r\nTo: me@example.org\r\nSubject: Автоответ\r\nAuto-Submitted: auto-replied\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n").encode()
    auto = parse_message(raw).autoreply
    assert auto is not None and auto.left_company and auto.moved  # the address is gone, not the person
    assert [a.address for a in auto.new_contacts] == ["olga.petrova@newtheatre.example"]


def test_someone_who_left_is_not_a_moved_address() -> None:
    auto = parse_message(load("left_company.eml")).autoreply
    assert auto is not None and auto.left_company and not auto.moved


# Out-of-office notices in the languages of European partners, with and without the
# Auto-Submitted header (an inline-forwarded or badly configured one has none): the subject or
# text says it, and "until 15 January" in each language is the date the person is back.
OUT_OF_OFFICE = {
 "en": ("Out of Office: the play", "I am out of the office until 15 January 2025 with limited access to email. For urgent matters contact anna@theatre.example."),
 "ru": ("Автоответ: пьеса", "Добрый день! Я в отпуске до 15 января 2025 г. По срочным вопросам обращайтесь к Анне: anna@theatre.example"),
 "de": ("Abwesenheitsnotiz: Stück", "Ich bin bis zum 15.01.2025 nicht im Büro. In dringenden Fällen wenden Sie sich bitte an anna@theatre.example."),
 "fr": ("Absence du bureau : pièce", "Je suis absent du bureau jusqu'au 15 janvier 2025. Pour toute urgence, contactez anna@theatre.example."),
 "es": ("Respuesta automática: obra", "Estoy fuera de la oficina hasta el 15 de enero de 2025. Para asuntos urgentes, contacte con anna@theatre.example."),
 "it": ("Risposta automatica: opera", "Sono fuori ufficio fino al 15 gennaio 2025. Per urgenze contattare anna@theatre.example."),
 "pl": ("Odpowiedź automatyczna: sztuka", "Jestem poza biurem do 15 stycznia 2025 r. W pilnych sprawach proszę kontaktować się z anna@theatre.example."),
 "uk": ("Автовідповідь: п'єса", "Я у відпустці до 15 січня 2025 р. З термінових питань звертайтеся до anna@theatre.example."),
}


@pytest.mark.parametrize("lang", sorted(OUT_OF_OFFICE))
@pytest.mark.parametrize("header", ["", "Auto-Submitted: auto-replied\n"], ids=["no-header", "auto-submitted"])
def test_out_of_office_in_partners_languages_gives_the_return_date(lang: str, header: str) -> None:
    subject, body = OUT_OF_OFFICE[lang]
    raw = (f"From: Ivan <ivan@theatre.example>\nTo: Me <me@example.org>\nSubject: {subject}\n{header}"
           f"Date: Mon, 06 Jan 2025 10:00:00 +0300\nMessage-ID: <ooo-{lang}@theatre.example>\n"
           f"Content-Type: text/plain; charset=utf-8\n\n{body}\n").encode()
    facts = parse_message(raw, user_addresses=frozenset({"me@example.org"}))
    assert facts.kind == "autoreply" and facts.autoreply is not None
    assert facts.autoreply.until == dt.date(2025, 1, 15)


# "No longer works here, write to X" in the languages of European partners: the person left,
# and X is proposed as a new contact at the company.
LEFT_COMPANY = {
    "en": "Ivan Petrov no longer works at Theatre. Please contact anna@theatre.example instead.",
    "ru": "Иван Петров больше не работает в компании. По всем вопросам пишите anna@theatre.example.",
    "de": "Herr Petrov ist nicht mehr im Unternehmen tätig. Bitte wenden Sie sich an anna@theatre.example.",
    "fr": "Ivan Petrov ne fait plus partie de l'entreprise. Merci de contacter anna@theatre.example.",
    "es": "Ivan Petrov ya no trabaja en la empresa. Por favor, contacte con anna@theatre.example.",
    "it": "Ivan Petrov non lavora più presso l'azienda. Si prega di contattare anna@theatre.example.",
    "pl": "Ivan Petrov nie pracuje już w firmie. Prosimy o kontakt z anna@theatre.example.",
    "uk": "Іван Петров більше не працює в компанії. Пишіть на anna@theatre.example.",
}


@pytest.mark.parametrize("lang", sorted(LEFT_COMPANY))
def test_someone_who_left_names_a_successor_in_partners_languages(lang: str) -> None:
    raw = (f"From: Ivan <ivan@theatre.example>\nTo: me@example.org\nSubject: Auto: the play\n"
           f"Auto-Submitted: auto-replied\nContent-Type: text/plain; charset=utf-8\n\n{LEFT_COMPANY[lang]}\n").encode()
    facts = parse_message(raw, user_addresses=frozenset({"me@example.org"}))
    assert facts.kind == "autoreply" and facts.autoreply is not None
    assert facts.autoreply.left_company and not facts.autoreply.moved
    assert [a.address for a in facts.autoreply.new_contacts] == ["anna@theatre.example"]
