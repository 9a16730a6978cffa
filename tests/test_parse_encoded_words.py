"""RFC 2047 encoded words in folded headers: folding whitespace is kept, except between adjacent encoded words.

RFC 5322 §2.2.3 unfolds a header by removing CRLF only, so the whitespace after a fold stays; RFC 2047
§6.2 drops whitespace only when it separates two encoded words.  Python's email package folds long
headers exactly between an encoded word and the plain text after it.
"""

from __future__ import annotations

import email.policy
from email.headerregistry import Address as EmailAddress
from email.message import EmailMessage

import pytest

from mailcrm.parse.addresses import parse_address_header
from mailcrm.parse.message import parse_message
from mailcrm.parse.mime import decode_header_value

RU = "0J/RgNC10LTQu9C+0LbQtdC90LjQtSDQv9C+INC/0YDQvtC10LrRgtGD"  # base64 of "Предложение по проекту" (utf-8)


@pytest.mark.parametrize("raw,expected", [
    # an encoded word, a fold, then text: the space stays (the reported case)
    (f"=?utf-8?b?{RU}?=\r\n 4", "Предложение по проекту 4"),
    (f"=?utf-8?b?{RU}?=\n\t4", "Предложение по проекту 4"),
    (f"=?utf-8?b?{RU}?= 4", "Предложение по проекту 4"),
    # text, a fold, then an encoded word
    ("Re:\r\n =?utf-8?q?=D0=BF=D1=8C=D0=B5=D1=81=D0=B0?=", "Re: пьеса"),
    ("Fwd: 2026\r\n =?utf-8?q?=D0=BF=D1=8C=D0=B5=D1=81=D0=B0?= final", "Fwd: 2026 пьеса final"),
    # adjacent encoded words: the whitespace between them, folded or not, is dropped (RFC 2047 §6.2)
    ("=?utf-8?q?=D0=BF=D1=8C?=\r\n =?utf-8?q?=D0=B5=D1=81=D0=B0?=", "пьеса"),
    ("=?utf-8?q?=D0=BF=D1=8C?= =?utf-8?q?=D0=B5=D1=81=D0=B0?=", "пьеса"),
    ("=?utf-8?b?0L/RjA==?=\r\n\t=?utf-8?b?0LXRgdCw?=", "пьеса"),
    # a space encoded inside the word ("_" in q, bytes in b) is text and stays
    ("=?utf-8?q?=D0=BF=D1=8C=D0=B5=D1=81=D0=B0_?=\r\n =?utf-8?q?2?=", "пьеса 2"),
    # mixed charsets, each word decoded with its own
    ("=?koi8-r?b?8MzBzg==?=\r\n =?iso-8859-1?q?_caf=E9?= und\r\n =?utf-8?q?=E2=82=AC?=", "План café und €"),
    ("=?windows-1251?b?z+vg7Q==?= 4", "План 4"),
    # plain text folded: one space, as before
    ("Hello\r\n world", "Hello world"),
])
def test_decode_header_value_keeps_folding_space_after_an_encoded_word(raw: str, expected: str) -> None:
    assert decode_header_value(raw) == expected


SUBJECTS = [
    "Предложение по проекту 4",
    "Предложение по проекту 4 (вторая редакция)",
    "Re: Предложение по проекту № 12 для театра на Таганке, сезон 2026/27",
    "Pitch 2026: «Вишнёвый сад» — new staging, act 3 notes and budget v2",
    "Заявка",
    "Fwd: Ответ на заявку от 02.03.2026 — Мастерская Петра Фоменко, Москва, ул. Тараса Шевченко 2",
    "Café résumé naïve 4 — straße ΑΒΓ",
    "日本語の件名 と English words 2026",
]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_subject_round_trip_through_pythons_smtp_folding(subject: str) -> None:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = subject
    msg["From"] = "a@example.org"
    msg.set_content("text")
    raw = msg.as_bytes()
    assert parse_message(raw).subject == subject


NAMES = [
    "Константин Константинопольский-Преображенский 2",
    "Иван Петров",
    "Театр на Таганке Отдел 3 Литературная часть",
    "Doe, Анна",
    "Мария Сидорова «Кинокомпания Север» продюсер",
]


@pytest.mark.parametrize("name", NAMES)
def test_display_name_round_trip_through_pythons_smtp_folding(name: str) -> None:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = "x"
    msg["From"] = EmailAddress(name, "sender", "example.org")
    msg["To"] = [EmailAddress(name + " копия", "to", "example.org"), EmailAddress("Second", "b", "example.org")]
    msg.set_content("text")
    facts = parse_message(msg.as_bytes())
    assert facts.from_ is not None and facts.from_.name == name and facts.from_.address == "sender@example.org"
    assert [a.name for a in facts.to] == [name + " копия", "Second"]


def test_parenthesised_display_name_round_trip() -> None:
    # Only in From: CPython's folder puts a list's "<addr>," inside the encoded word after a name with
    # "()" (the mail is then not RFC 2047-valid), so the list case is not Python's own round trip.
    name = "Мария Сидорова (Кинокомпания «Север»)"
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = EmailAddress(name, "sender", "example.org")
    msg.set_content("text")
    facts = parse_message(msg.as_bytes())
    assert facts.from_ is not None and facts.from_.name == name


@pytest.mark.parametrize("value,expected", [
    (f"=?utf-8?b?{RU}?=\r\n 4 <p@example.org>", "Предложение по проекту 4"),
    (f'"=?utf-8?b?{RU}?=\r\n 4" <p@example.org>', "Предложение по проекту 4"),  # inside quotes (not RFC 2047, but common)
    ("=?utf-8?q?=D0=98=D0=B2=D0=B0=D0=BD?=\r\n =?utf-8?q?_=D0=9F=D0=B5=D1=82=D1=80=D0=BE=D0=B2?= <i@example.org>",
     "Иван Петров"),
])
def test_folded_display_names_in_address_headers(value: str, expected: str) -> None:
    raw = f"From: {value}\r\nTo: x@example.org\r\nSubject: s\r\n\r\nbody\r\n".encode()
    facts = parse_message(raw)
    assert facts.from_ is not None and facts.from_.name == expected
    assert parse_address_header([value])[0].name == expected


def test_unencoded_8bit_names_in_address_headers_are_decoded() -> None:
    # RFC 6532 (UTF-8 headers), and legacy clients writing windows-1251 raw: the name is decoded after
    # splitting, not turned into U+FFFD (as swaks and some scripts send it).
    from mailcrm.parse.message import parse_message

    for charset in ("utf-8", "cp1251", "koi8-r"):
        raw = ("From: me@example.org\r\nTo: Пётр Петров <petrov@teatr.example>, \"Волкова, Анна\" <anna@kino.example>\r\n"
               "Subject: x\r\n\r\nbody\r\n").encode(charset)
        to = parse_message(raw).to
        assert [(a.name, a.address) for a in to] == [("Пётр Петров", "petrov@teatr.example"),
                                                    ("Волкова, Анна", "anna@kino.example")], charset
