"""Forward unwrapping on hand-made fixtures (tests/data/forwards) and through the store pipeline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mailcrm.parse.forward import find_forward_in_text, looks_forwarded_subject
from mailcrm.parse.message import parse_message

DATA = Path(__file__).parent / "data" / "forwards"
USERS = frozenset({"me@example.org"})
DROPBOX = frozenset({"crm+secret@example.org"})
MSK = dt.timezone(dt.timedelta(hours=3))

# file -> (original address, original name, original date, original subject)
CASES = {
    "gmail_ru.eml": ("ivan.petrov@theatre.ru", "Иван Петров", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK),
                     "Договор на гастроли"),
    "apple_ru.eml": ("anna.smirnova@filarmonia.ru", "Анна Смирнова", dt.datetime(2026, 11, 3, 10, 15, 42, tzinfo=MSK),
                     "Репертуар на декабрь"),
    "outlook_desktop_ru.eml": ("kozlov@kinostudio.ru", "Сергей Козлов", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK),
                               "Смета на декорации"),
    "outlook365_ru.eml": ("o.novikova@museum.ru", "Ольга Новикова", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK),
                          "Выставка"),
    "yandex_ru.eml": ("volkov@yandex.ru", "Дмитрий Волков", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK), "Райдер"),
    "mailru_text.eml": ("morozova@mail.ru", "Елена Морозова", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK), "Билеты"),
    "mailru_html.eml": ("galiev@bk.ru", "Рустам Галиев", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK),
                        "Билеты на премьеру"),
    "mailru_koi8.eml": ("sidorov@inbox.ru", "Пётр Сидоров", dt.datetime(2026, 11, 4, 9, 5, tzinfo=MSK), "Гастроли"),
    "thebat_ru.eml": ("orlov@orchestra.ru", "Николай Орлов", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK), "Ноты"),
    "thebat_en.eml": ("peter.wright@stage.example", "Peter Wright", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK),
                      "Lighting plan"),
    "thunderbird_ru.eml": ("belova@opera.ru", "Мария Белова", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK),
                           "Приглашение"),
    "html_only_en.eml": ("laura@venue.example", "Laura Green", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK),
                         "Tour dates"),
    "doe_john_outlook.eml": ("john.doe@acme.example", "Doe, John", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK),
                             "Budget"),
    "doe_john_quoted.eml": ("john.doe@acme.example", "Doe, John", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK),
                            "Budget"),
    "fwd_of_fwd.eml": ("galiev@bk.ru", "Рустам Галиев", dt.datetime(2026, 11, 2, 18, 40, tzinfo=MSK),
                       "Гастроли в Казани"),
    "forwarded_reply.eml": ("ivan.petrov@theatre.ru", "Иван Петров", dt.datetime(2026, 11, 2, 18, 40, tzinfo=MSK),
                            "Re: Предложение"),
    "outlook_en_nosep.eml": ("sam.taylor@band.example", "Sam Taylor", dt.datetime(2026, 11, 3, 10, 15, tzinfo=MSK),
                             "Rider"),
    "rfc822_attachment.eml": ("kuznetsov@circus.ru", "Кузнецов, Павел", dt.datetime(2026, 11, 2, 15, 20, tzinfo=MSK),
                              "Аренда манежа"),
}


def _parse(name: str):  # type: ignore[no-untyped-def]
    return parse_message((DATA / name).read_bytes(), user_addresses=USERS, dropbox_addresses=DROPBOX)


def test_every_fixture_is_covered() -> None:
    assert sorted(p.name for p in DATA.glob("*.eml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_fixture(name: str) -> None:
    address, display, date, subject = CASES[name]
    facts = _parse(name)
    assert facts.kind == "forward", facts.defects
    fwd = facts.forwarded
    assert fwd is not None and fwd.from_ is not None
    assert (fwd.from_.address, fwd.from_.name) == (address, display)
    assert fwd.date == date
    assert fwd.subject == subject
    # The timeline text is the original's own words: no forward header, no quoted history.
    assert facts.reply_text and "@" not in facts.reply_text.split("\n")[0]
    for marker in ("Пересылаемое", "Forwarded", "From:", "От:", "Тема:", "wrote", "-----", "===8<"):
        assert marker not in facts.reply_text
    js = facts.to_json()
    assert js["kind"] == "forward" and js["forwarded"]["from"]["address"] == address
    assert js["forwarded"]["date"] == date.isoformat() and js["forwarded"]["subject"] == subject


def test_cp1251_and_koi8_bodies_are_decoded() -> None:
    assert _parse("outlook_desktop_ru.eml").forwarded.cc[0].address == "olga@kinostudio.ru"  # type: ignore[union-attr]
    assert "Подтверждаю" in _parse("mailru_koi8.eml").reply_text


def test_forward_of_a_forward_skips_the_middle_forwarder() -> None:
    fwd = _parse("fwd_of_fwd.eml").forwarded
    assert fwd is not None and fwd.to[0].address == "colleague@example.org"
    assert fwd.text.startswith("Готовы принять")


def test_rfc822_attachment_keeps_the_original_message_id() -> None:
    fwd = _parse("rfc822_attachment.eml").forwarded
    assert fwd is not None and fwd.message_id == "orig-123@circus.ru"


def test_text_level_entry_point() -> None:
    text = "FYI\n\n---------- Forwarded message ---------\nFrom: Ann Lee <ann@x.example>\nDate: Tue, Nov 3, 2026 at 10:15 AM\n" \
           "Subject: Hi\nTo: me@example.org\n\nHello"
    fwd = find_forward_in_text(text)
    assert fwd is not None and fwd.from_ is not None and fwd.from_.address == "ann@x.example" and fwd.text == "Hello"
    # An Outlook block without a separator is a forward only when the subject (or envelope) says so.
    outlook = "Note\n\nFrom: Ann Lee <ann@x.example>\nSent: Tuesday, November 3, 2026 10:15 AM\nTo: me\nSubject: Hi\n\nHello"
    assert find_forward_in_text(outlook, subject="Hi") is None
    assert find_forward_in_text(outlook, subject="FW: Hi") is not None
    assert find_forward_in_text(outlook, subject="Hi", expect_forward=True) is not None


def test_replies_and_plain_text_are_not_forwards() -> None:
    assert find_forward_in_text("Thanks!\n\nOn Tue, Nov 3, 2026 at 10:15 AM Ann <ann@x.example> wrote:\n> hi") is None
    assert find_forward_in_text("Повестка:\nТема: бюджет\nДата: пятница") is None
    assert find_forward_in_text("") is None


def test_forward_subject_prefixes() -> None:
    for subject in ("Fwd: x", "FW: x", "Fw: x", "Пересл: x", "ПЕР: x", "TR: x", "WG: x", "Re: Fwd: x"):
        assert looks_forwarded_subject(subject), subject
    for subject in ("Re: x", "Fwdx", "Forward planning", ""):
        assert not looks_forwarded_subject(subject), subject


def test_sent_mail_quoting_a_forward_header_stays_sent() -> None:
    raw = (b"From: Me <me@example.org>\r\nTo: Client <client@corp.example>\r\nBcc: crm+secret@example.org\r\n"
           b"Subject: Re: offer\r\nDate: Tue, 03 Nov 2026 09:00:00 +0300\r\n\r\nAgreed.\r\n\r\n"
           b"-----Original Message-----\r\nFrom: Client <client@corp.example>\r\nSent: Monday\r\nSubject: offer\r\n\r\nOffer\r\n")
    facts = parse_message(raw, user_addresses=USERS, dropbox_addresses=DROPBOX)
    assert facts.kind == "sent" and facts.forwarded is None and facts.reply_text == "Agreed."


def test_author_without_address_is_a_defect_not_a_contact() -> None:
    raw = ("From: Me <me@example.org>\r\nTo: crm+secret@example.org\r\nSubject: FW: x\r\n"
           "Date: Tue, 03 Nov 2026 09:00:00 +0300\r\n\r\n-----Original Message-----\r\nFrom: John Doe\r\n"
           "Sent: 23 July 2026 07:53\r\nTo: Me\r\nSubject: x\r\n\r\nBody\r\n").encode()
    facts = parse_message(raw, user_addresses=USERS, dropbox_addresses=DROPBOX)
    assert facts.kind == "forward" and facts.forwarded is not None and facts.forwarded.from_ is not None
    assert facts.forwarded.from_.name == "John Doe" and facts.forwarded.from_.address == ""
    assert "forwarded original has no sender address" in facts.defects


def test_giant_body_is_fast_and_safe() -> None:
    import time

    body = ("From: a\n" * 50_000 + "x" * 2_000_000 + "\n-------- Forwarded --------\n").encode()
    raw = b"From: Me <me@example.org>\r\nTo: crm+secret@example.org\r\nSubject: Fwd: big\r\n\r\n" + body
    start = time.perf_counter()
    facts = parse_message(raw, user_addresses=USERS, dropbox_addresses=DROPBOX)
    assert time.perf_counter() - start < 5
    assert facts.kind == "forward"  # the subject says so; the unusable original is recorded as a defect
    assert {"forward without a recognisable original", "forwarded original has no sender address"} & set(facts.defects)


def test_forwarded_reply_lands_on_the_original_sender(store) -> None:  # type: ignore[no-untyped-def]
    from mailcrm import config
    from mailcrm.app import apply as pipeline
    from mailcrm.spool import SpoolMeta
    from mailcrm.store import db, repository

    cfg = config.parse('[[users]]\nemail = "me@example.org"\ndropbox = "crm+secret@example.org"\n', "test")
    meta = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret@example.org"])
    _, factory = store
    with db.transaction(factory) as s:
        repository.sync_users(s, cfg)
        job = pipeline.ingest(s, cfg, meta, (DATA / "forwarded_reply.eml").read_bytes())
    assert job.outcome == pipeline.STORED and job.plan.kind == "received" and job.plan.direction == "in"
    with db.transaction(factory) as s:
        card = repository.contact_card(s, "ivan.petrov@theatre.ru")
        assert card["name"] == "Иван Петров"
        entry = card["timeline"][0]
        assert entry["direction"] == "in" and entry["kind"] == "received"
        assert entry["at"] == dt.datetime(2026, 11, 2, 15, 40)  # the original's date (18:40 MSK), naive UTC
        assert entry["snippet"].startswith("Согласны на ваши условия")
        assert repository.find_contact(s, "me@example.org") is None
