"""The cheap tests placed before costly patterns skip only what the pattern cannot match.

reply_text.MOBILE_FIRST: _MOBILE_TAG (case-insensitive) starts with one of these characters,
or is its "… gönderildi" alternative (which the prefilter finds by "nder"); checked against the
pattern's own parse over all of Unicode.
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # type: ignore[import-not-found]
from typing import Any

from mailcrm.parse.reply_text import _MOBILE_TAG, MOBILE_FIRST, MOBILE_PAIRS, _mobile_tag

_ALL = "".join(chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF)


def _first_chars(items: Any) -> set[str] | None:
    """The characters a sequence of parsed items can start with (None: any word character)."""
    op, av = items[0]
    name = str(op)
    if name == "LITERAL":
        return set(re.findall(re.escape(chr(av)), _ALL, re.I))
    if name == "SUBPATTERN":
        return _first_chars(list(av[3]))
    if name == "BRANCH":
        out: set[str] = set()
        for branch in av[1]:
            first = _first_chars(list(branch))
            assert first is not None
            out |= first
        return out
    if name == "MAX_REPEAT" and av[0] >= 1:
        return None
    raise AssertionError(f"unexpected pattern item {name}")


def test_mobile_tag_starts_with_a_character_of_mobile_first_or_holds_nder() -> None:
    top = list(sre_parse.parse(_MOBILE_TAG.pattern, _MOBILE_TAG.flags))
    assert str(top[0][1]) == "AT_BEGINNING"
    (branch_op, (_, branches)), = list(top[1][1][3])
    assert str(branch_op) == "BRANCH"
    catch_all = 0
    for branch in branches:
        items = list(branch)
        first = _first_chars(items)
        if first is None:
            # "[\w ]+['’]\w+(?:dan|den) gönderildi": the one alternative that starts anywhere.
            assert "(?:dan|den) gönderildi" in _MOBILE_TAG.pattern
            catch_all += 1
            continue
        assert first <= MOBILE_FIRST, sorted(first - MOBILE_FIRST)
        for firsts, seconds in _heads(items):
            # Two ASCII characters open the line: their pair, lower-cased, must be listed.
            pairs = {(a + b).lower() for a in firsts for b in seconds if (a + b).isascii()}
            assert pairs <= MOBILE_PAIRS, sorted(pairs - MOBILE_PAIRS)
    assert catch_all == 1


def _heads(items: Any) -> list[tuple[set[str], set[str]]]:
    """(first characters, second characters) of each way a sequence of parsed items can start."""
    op, av = items[0]
    if str(op) == "SUBPATTERN":
        return _heads(list(av[3]) + list(items[1:]))
    if str(op) == "BRANCH":  # "(?:iphone|ipad|android)": each word is two characters or more
        assert all(len(list(branch)) >= 2 for branch in av[1])
        return [head for branch in av[1] for head in _heads(list(branch))]
    first, second = _first_chars(items[:1]), _first_chars(items[1:2])
    assert first is not None and second is not None
    return [(first, second)]


def test_mobile_tag_prefilter_agrees_with_the_pattern() -> None:
    lines = ["Sent from my iPhone", "ſent from my iPhone", "SENT WITH Spark", "Get Outlook for iOS",
             "Отправлено с iPhone", "ОТПРАВЛЕНО ИЗ мобильной Почты", "Von meinem iPhone gesendet",
             "Envoyé de mon iPad", "iPhone'umdan gönderildi", "IPHONE'UMDAN GÖNDERILDI", "Samsung'umdan gönderildi",
             "从我的iPhone发送", "發自我的 iPhone", "iPhoneから送信", "Получите Outlook для Android",
             "The meeting is on Monday", "Добрый день, коллеги", "Thanks", "Under the wonder"]
    for line in lines:
        assert _mobile_tag(line) == (_MOBILE_TAG.match(line) is not None), line
    assert sum(_mobile_tag(line) for line in lines) >= 12


def test_char_counts_count_as_the_str_methods() -> None:
    from mailcrm.parse.signature_features import char_counts

    def slow(text: str) -> tuple[int, int, int, int, int]:
        return (sum(map(str.isalpha, text)), sum(map(str.isupper, text)), sum(map(str.isdigit, text)),
                sum(map(str.isalnum, text)), sum(map(str.isspace, text)))

    one_byte = "".join(bytes([b]).decode("cp1251") for b in range(256) if b != 0x98)
    for ch in one_byte:  # every character the byte path counts, alone and beside others
        assert char_counts(ch) == slow(ch), repr(ch)
    for text in (one_byte, one_byte[::-1] * 3, "", "Иван Петров, тел. +7 (495) 123-45-67",
                 "Agnieszka Woźniak ½ Ⅻ 😀", "ΑΒΓ abc ١٢٣", "\x1c\x1d\u2028 x"):
        assert char_counts(text) == slow(text), text
