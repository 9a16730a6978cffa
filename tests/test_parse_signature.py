"""Signature detection and field extraction on hand-made Russian and English fixtures."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mailcrm.parse.facts import Address
from mailcrm.parse.message import parse_message
from mailcrm.parse.names import parse_person_name
from mailcrm.parse.signature import extract_signature

DATA = Path(__file__).parent / "data" / "signatures"
EXPECTED: dict[str, dict[str, Any]] = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_fields(name: str) -> None:
    want = EXPECTED[name]
    sig = extract_signature((DATA / name).read_text(encoding="utf-8"), region=want["region"])
    if "signature" in want:
        assert sig is None
        return
    assert sig is not None
    assert sig.text.startswith(want["starts"])
    for piece in want.get("not_in_text", []):
        assert piece not in sig.text
    assert (sig.name, sig.title, sig.company, sig.website) == (want["name"], want["title"], want["company"],
                                                               want["website"])
    assert list(sig.phones) == want["phones"]
    assert list(sig.emails) == want["emails"]
    person = parse_person_name(sig.name or "")
    assert person is not None
    assert (person.first, person.last, person.middle) == (want["first"], want["last"], want["middle"])


def test_every_fixture_has_an_expectation() -> None:
    assert {p.name for p in DATA.glob("*.txt")} == set(EXPECTED)


def test_sign_off_with_initials_and_sender_name() -> None:
    body = "Mike, please secure a long term quote for this deal.\n\nThanks, BT \n"
    sig = extract_signature(body, sender=Address(name="Barry Tycholiz", address="barry@example.com"))
    assert sig is not None and sig.text.strip() == "Thanks, BT"
    pal = extract_signature("Say hi to Kim for us.\n\nYour pal, Craig.",
                            sender=Address(name="Craig Heschuk", address="c@example.com"))
    assert pal is not None and pal.name == "Craig"


def test_name_alone_after_the_last_sentence() -> None:
    sig = extract_signature("Tom:\n\nBuffalo Gap would be just fine.\n\nBert\n")
    assert sig is not None and sig.text == "Bert" and sig.name == "Bert"
    ru = extract_signature("Договор подписали, оригинал у курьера.\n\nИван Петров\n+7 916 123-45-67")
    assert ru is not None and ru.name == "Иван Петров" and ru.phones == ("+79161234567",)


def test_sentences_and_lists_are_not_signatures() -> None:
    assert extract_signature("Thanks in advance for your help!") is None
    assert extract_signature("Please call Keith Bohn (403) 261-3388.") is None
    assert extract_signature("Cara's new number is\n\n503-810-1105") is None
    roster = "Here is the desk list:\n\n" + "\n".join(f"Surname{c}\tName{c}" for c in "ABCDEFGHIJKLMNOPQRST")
    assert extract_signature(roster) is None
    assert extract_signature("Love, Aunt Mary\nP.S. Uncle Bob sends his love.\nP.P.S. Come see us!") is None
    # "regards" inside a sentence is not a sign-off
    assert extract_signature("I am writing with regards to the payment we discussed last week.") is None


def test_mobile_tail_after_a_signature_stays_in_the_block() -> None:
    sig = extract_signature("Да, приеду.\n\nС уважением,\nАнна Смирнова\n\nОтправлено из мобильной Почты Mail.ru")
    assert sig is not None and sig.name == "Анна Смирнова"
    assert sig.text.endswith("Mail.ru")


@pytest.mark.parametrize("bad", ["", "   \n\n", "--", "-- \n", "С уважением,", "\x00\ufffd" * 50, "> only\n> quote"])
def test_bad_input_gives_none_not_an_error(bad: str) -> None:
    assert extract_signature(bad) is None


def test_unknown_region_does_not_raise() -> None:
    sig = extract_signature("See you.\n\nBest,\nJohn Smith\n+7 495 123-45-67", region="??")
    assert sig is not None and sig.name == "John Smith"


def test_only_the_tail_is_scanned_and_fast() -> None:
    body = "Some text of the message that goes on and on.\n" * 20000 + "\nС уважением,\nИван Петров"
    extract_signature("warm-up.\n\nИван")
    started = time.perf_counter()
    sig = extract_signature(body)
    assert time.perf_counter() - started < 2.0
    assert sig is not None and sig.name == "Иван Петров"


def test_parse_message_keeps_the_signature_contract() -> None:
    raw = (
        "From: Иван Петров <ivan@eksmo.example>\r\nTo: me@example.com\r\nSubject: Договор\r\n"
        "Message-ID: <sig-1@example>\r\nDate: Mon, 4 Mar 2024 10:00:00 +0300\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Высылаю договор на подпись.\r\n\r\nС уважением,\r\nИван Петров\r\nглавный редактор\r\n"
        "тел. +7 (495) 123-45-67 доб. 123\r\n"
    ).encode("utf-8")
    facts = parse_message(raw, user_addresses=frozenset({"me@example.com"}), region="RU")
    assert facts.signature is not None
    assert facts.signature.phones == ("+74951234567;ext=123",)
    assert facts.signature.title == "главный редактор"
    assert "С уважением" not in facts.reply_text


@pytest.mark.parametrize(
    ("body", "block"),
    [
        ("Hey!\n-roman", "-roman"),
        ("Hey man! How r u?\n---\nRoman", "---\nRoman"),
        ("Hey!\n--\n--\nRegards,\nRoman", "--\n--\nRegards,\nRoman"),
        ("Blah.\n\n-Lev.\n\nSent from my HTC smartphone!", "-Lev.\n\nSent from my HTC smartphone!"),
        ("Hey man!\nLook at this:\n\n--> one\n--> two\n--\nRoman", "--\nRoman"),
        ("Договорились, жду макет.\n\n— Иван", "— Иван"),
    ],
)
def test_dash_signatures(body: str, block: str) -> None:
    sig = extract_signature(body)
    assert sig is not None and sig.text == block


@pytest.mark.parametrize("body", [
    "--\nRoman",  # nothing but a signature: the author said nothing
    "List:\n- item 1\n- apples",
    "I'm writing because of:\n-- first point needs a check\n-- second point too\n\nThanks!",
    "If you have questions, please reply to this e-mail.\n\nSincerely,\nSuper Domain Name Manager",
])
def test_not_signatures(body: str) -> None:
    assert extract_signature(body) is None
