"""New text of replies: hand-made Russian fixtures (tests/data/replies) and edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcrm.parse.message import parse_message
from mailcrm.parse.reply_text import extract_reply

DATA = Path(__file__).parent / "data" / "replies"
USERS = frozenset({"me@example.org"})
DROPBOX = frozenset({"crm+secret@example.org"})

EXPECTED = {
    "gmail_ru.eml": "Иван, добрый день!\n\nДаты подтверждаю.",
    "napisal_a.eml": "Спасибо, получили.",
    "yandex_ru.eml": "Договорились.",
    "mailru_ru.eml": "Да, всё верно.",
    "pishet.eml": "Принято.",
    "outlook_ru_block.eml": "Согласовано, подписываем.",
    "outlook365_ru_block.eml": "Спасибо, ждём.",
    "thunderbird_ru.eml": "Хорошо, до встречи.",
    "html_blockquote.eml": "Отлично, спасибо!",
    # "Тема:/Дата:/Кому:" lines without an author are the user's own text, not a quote header.
    "not_a_quote.eml": "Итоги встречи:\nТема: бюджет на декабрь\nДата: пятница, 10:00\nКому: всем участникам\n\n"
                       "Вопрос: кто готовит смету?",
}


def test_every_fixture_is_covered() -> None:
    assert sorted(p.name for p in DATA.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reply_fixture(name: str) -> None:
    facts = parse_message((DATA / name).read_bytes(), user_addresses=USERS, dropbox_addresses=DROPBOX)
    assert facts.kind == "sent"
    assert facts.reply_text == EXPECTED[name]
    assert facts.to_json()["reply_text"] == EXPECTED[name]
    assert facts.snippet == " ".join(EXPECTED[name].split())


@pytest.mark.parametrize("text, expected", [
    ("Ok.\n\nOn Tue, Nov 3, 2026 at 10:15 AM Ann Lee <ann@x.example> wrote:\n> hi", "Ok."),
    ("Ok.\n\nOn Tue, Nov 3, 2026 at 10:15 AM, Ann Lee\n<ann@x.example>\nwrote:\n\n> hi", "Ok."),
    ("Да.\n\n20 окт. 2016 г. 19:37 пользователь \"Ann\" <\nann@x.example> написал:\n\n> hi", "Да."),
    ("Да.\n\nср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:\n\nпривет", "Да."),
    ("Yes\n\n-----Original Message-----\nFrom: a@b.example\nSent: Monday\nTo: c@d.example\nSubject: x\n\nq", "Yes"),
    ("Yes\n\nFrom: Ann Lee <ann@x.example>\nSent: Monday, November 2, 2026 4:37 PM\nTo: me\nSubject: x\n\nq", "Yes"),
    ("Hi\n\nSent from my iPhone\n\nOld text without markers", "Hi"),
    ("The note was sent from my iPhone app to all users.", "The note was sent from my iPhone app to all users."),
    ("Text\n\nᐧ\n--\n***\n____", "Text"),
    ("", ""),
])
def test_extract_reply_text(text: str, expected: str) -> None:
    assert extract_reply(text) == expected


def test_message_that_starts_with_a_header_block_keeps_the_quoted_message_text() -> None:
    text = "От: Иван <ivan@x.example>\nОтправлено: 3 ноября 2026 г.\nКому: Me\nТема: Re: x\n\nПривет!\n\n" \
           "03.11.2026 10:15, Me написал(а):\n> старое"
    assert extract_reply(text) == "Привет!"


def test_html_only_reply_uses_the_html() -> None:
    html = '<div>Hi. I am fine.</div><div class="gmail_quote">On Mon, Nov 2, 2026 Ann &lt;a@x.example&gt; wrote:' \
           "<blockquote>How are you?</blockquote></div>"
    assert extract_reply("", html) == "Hi. I am fine."


def test_giant_input_does_not_hang() -> None:
    import time

    text = "word " * 400_000 + "\n" + "> q\n" * 100_000
    start = time.perf_counter()
    out = extract_reply(text)
    assert time.perf_counter() - start < 5 and out.startswith("word")


def test_clean_lines_is_clean_line_of_each_line() -> None:
    from mailcrm.parse.quote_headers import clean_line, clean_lines

    text = ("Привет,\u00a0Иван\r\n\u200bНовый\tтекст \u00ad\r> quoted\u200f  \n\n"
            "\ufeffOn Mon, Ivan wrote:\t\r\n-----Original Message-----\u00a0")
    assert clean_lines(text) == [clean_line(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    assert clean_lines(text)[:3] == ["Привет, Иван", "Новый текст", "> quoted"]


@pytest.mark.parametrize("line, kind", [
    ("-----Original Message-----", "original"),
    ("---------- Forwarded message ---------", "forward"),
    ("---------- Пересылаемое сообщение ---------", "forward"),
    ("Begin forwarded message:", "forward"),
    ("Начало переадресованного сообщения:", "forward"),
    ("This is a forwarded message", "forward"),
    ("==========================", "rule"),
    ("*From:* nobody", None),
    ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.", None),
    ("We talked about the forwarded message yesterday and agreed on the dates for it.", None),
])
def test_separator_lines(line: str, kind: str | None) -> None:
    from mailcrm.parse.quote_headers import separator_kind

    assert separator_kind(line) == kind


def test_a_reply_written_below_the_quote_is_the_new_text() -> None:
    text = ("On Mon, Nov 2, 2026 at 10:00 AM Me <me@example.org> wrote:\n> Would you like to read the play?\n"
            "> It is 90 pages.\n\nYes, please send it.\n\nOlga\n")
    assert extract_reply(text) == "Yes, please send it.\n\nOlga"


def test_answers_between_quotes_are_kept_and_the_older_history_below_is_cut() -> None:
    text = ("> Would you like to read the play?\n\nYes, please.\n\n> It is 90 pages.\nFine.\n\n"
            "-----Original Message-----\nFrom: Me\nSent: Monday\nTo: Olga\nSubject: Play\n\nolder text\n")
    assert extract_reply(text) == "Yes, please.\n\nFine."


def test_a_quote_with_nothing_new_and_a_wrapped_quote_line_give_no_text() -> None:
    assert extract_reply("> only the quote\n> and nothing else\n") == ""
    wrapped = ("> Aenean quis diam urna. Maecenas eleifend vulputate ligula ac consequat. Pellentesque cursus\n"
               "tincidunt mauris non venenatis.\n> Praesent ac ligula orci.\n")
    assert extract_reply(wrapped) == ""  # the client wrapped a long quoted line; nobody wrote anything
