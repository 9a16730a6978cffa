"""Synthetic mails with labelled signature lines, for training the signature-line classifier.

Bodies and signatures are put together from the word lists in signature_lists.json (names,
titles, companies, phones, addresses, sign-offs, greetings and sentences in en, ru, uk, de, fr,
es, it, pl) in many layouts: sign-off and name, multi-line cards, "Name | Title | Company",
vCard-like labelled blocks, "-- " delimiters, dash names, initials, mobile tags and disclaimers
below, hard-wrapped and HTML-to-text spacing; about a third of the mails have no signature.
Only ``random.Random`` is used, so a seed gives the same mails.
"""

from __future__ import annotations

import json
import random
import textwrap
from dataclasses import dataclass
from pathlib import Path

LISTS = json.loads((Path(__file__).with_name("signature_lists.json")).read_text(encoding="utf-8"))
LANGS = ("en", "en", "en", "en", "ru", "ru", "uk", "de", "fr", "es", "it", "pl")


@dataclass
class Mail:
    """One synthetic mail: its lines with labels (1 = signature) and the sender."""

    lines: list[tuple[str, int]]
    sender_name: str | None
    sender_address: str

    @property
    def text(self) -> str:
        """The body as a parser sees it."""
        return "\n".join(line for line, _ in self.lines)

    @property
    def signature(self) -> str | None:
        """The labelled block: from the first signature line to the end, or None."""
        first = next((i for i, (_, lab) in enumerate(self.lines) if lab), None)
        return None if first is None else "\n".join(line for line, _ in self.lines[first:]).strip("\n")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _fill(rng: random.Random, pattern: str) -> str:
    return pattern.format(a=_digits(rng, 4), b=_digits(rng, 4), c=f"{_digits(rng, 2)}-{_digits(rng, 2)}",
                          d=f"{_digits(rng, 2)} {_digits(rng, 2)}")


def _pick(rng: random.Random, key: str, lang: str) -> str:
    table = LISTS[key]
    return rng.choice(table.get(lang) or table["en"])


def _person(rng: random.Random, lang: str) -> tuple[str, str]:
    first, last = _pick(rng, "first", lang), _pick(rng, "last", lang)
    if lang in ("ru", "uk") and last.endswith(("ов", "ин", "ев")) and first.endswith(("а", "я")):
        last += "а"
    return first, last


def _contacts(rng: random.Random, lang: str, first: str, last: str, company: str) -> list[str]:
    labels = LISTS["labels"].get(lang, LISTS["labels"]["en"])
    domain = rng.choice(LISTS["domains"])
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", first]).lower()
    local = "".join(ch for ch in local if ch.isascii() and (ch.isalnum() or ch == ".")) or "info"
    out = []
    for kind in rng.sample(["phone", "mobile", "fax", "email", "web", "street"], rng.randint(1, 5)):
        if kind in ("phone", "mobile", "fax"):
            value = _fill(rng, _pick(rng, "phones", lang))
            label = rng.choice(labels[kind])
            out.append(f"{label} {value}".strip() if not label.startswith("(") else f"{value} {label}")
        elif kind == "email":
            out.append(f"{rng.choice(labels['email'])} {local}@{domain}".strip())
        elif kind == "web":
            out.append(f"{rng.choice(labels['web'])} {rng.choice(['www.', 'https://www.', ''])}{domain}".strip())
        else:
            street, city = _pick(rng, "streets", lang), _pick(rng, "cities", lang)
            out += [f"{street}, {city}"] if rng.random() < 0.4 else [street, city]
    if rng.random() < 0.25 and len(out) >= 2:
        out = [rng.choice([" | ", " • ", "  "]).join(out[:2])] + out[2:]
    return out


def _signature(rng: random.Random, lang: str, first: str, last: str) -> list[str]:
    """The lines of one signature in a randomly chosen layout."""
    full = rng.choice([f"{first} {last}"] * 4 + [f"{last} {first}" if lang in ("ru", "uk") else f"{first} {last}"])
    title, company = _pick(rng, "titles", lang), _pick(rng, "companies", lang)
    signoff = _pick(rng, "signoffs", lang)
    layout = rng.randrange(12)
    head: list[str] = []
    if rng.random() < 0.7 and layout not in (5, 6):
        head = [signoff] + ([""] if rng.random() < 0.2 else [])
    if layout == 0:  # sign-off and first name
        return head + [rng.choice([first, first, full, first.upper()])] if head else [signoff, first]
    if layout == 1:  # sign-off, full card
        body = [full] + rng.sample([title, company], 2) + _contacts(rng, lang, first, last, company)
        return head + body
    if layout == 2:  # RFC 3676 delimiter and card
        card = [full, title, company][: rng.randint(1, 3)] + _contacts(rng, lang, first, last, company)[: rng.randint(0, 3)]
        return head + [rng.choice(["-- ", "--", "---", "__________"])] + card
    if layout == 3:  # one-line card
        sep = rng.choice([" | ", " / ", " - ", ", "])
        line = sep.join([full, title, company][: rng.randint(2, 3)])
        return head + [line] + _contacts(rng, lang, first, last, company)[: rng.randint(0, 2)]
    if layout == 4:  # vCard-like labelled block
        return head + [full, title] + _contacts(rng, lang, first, last, company)
    if layout == 5:  # dash name
        return [rng.choice(["-", "- ", "—", "-- "]) + rng.choice([first, full, first.lower()])]
    if layout == 6:  # sign-off and name on one line, or initials ("Thanks, BT", "Your pal, Craig.")
        initials = first[0] + last[0]
        lead = signoff.rstrip(",!") if rng.random() < 0.6 else _pick(rng, "lead_phrases", lang)
        return [f"{lead}, {rng.choice([first, initials, full])}{rng.choice(['', '', '.', ' ', '!'])}"]
    if layout == 7:  # name with a phone beside it
        return head + [f"{rng.choice([first, full])} {_fill(rng, _pick(rng, 'phones', lang))}"]
    if layout == 8:  # name, title on one line, then company lines
        return head + [f"{full}, {title}", company] + _contacts(rng, lang, first, last, company)[: rng.randint(0, 3)]
    if layout == 9:  # title above the name
        return head + [title, full, company] + _contacts(rng, lang, first, last, company)[: rng.randint(1, 3)]
    if layout == 10:  # name only, often after a blank line
        return head + [rng.choice([full, first, full.upper()])]
    return head + [full, company] + _contacts(rng, lang, first, last, company)


def _wrap(rng: random.Random, para: str) -> list[str]:
    width = rng.choice([60, 66, 72, 76])
    return textwrap.wrap(para, width) if rng.random() < 0.4 else [para]


def _body(rng: random.Random, lang: str, other: str) -> list[str]:
    out: list[str] = []
    if rng.random() < 0.6:
        out += [_pick(rng, "greetings", lang).format(n=other), ""]
    for _ in range(rng.choice([1, 1, 2, 2, 3, 4])):
        kind = rng.random()
        if kind < 0.1:
            out += rng.sample(LISTS["list_items"], rng.randint(2, 4))
        elif kind < 0.18:
            out += [_fill(rng, rng.choice(LISTS["prose_phone"]))]
        else:
            sents = [_pick(rng, "sentences", lang) for _ in range(rng.randint(1, 4))]
            out += _wrap(rng, " ".join(sents))
        out.append("")
    if rng.random() < 0.4:
        out += [_pick(rng, "closers", lang), ""]
    return out


def _negative_tail(rng: random.Random) -> str:
    """Short closing lines that are not a signature: paths, attachments, dates, links, form fields."""
    words = LISTS["short_words"]
    tail = rng.choice(LISTS["negative_tails"])
    return "\n".join(t.format(w=rng.choice(words), W=rng.choice(words).upper(), n=_digits(rng, 4),
                               D=rng.choice("CDGHOPSZ")) for t in tail)


def _table(rng: random.Random, lang: str) -> list[tuple[str, int]]:
    """A list of people as a table (tab or space columns): names, but no one's signature."""
    sep = rng.choice(["\t", "\t\t", "    ", " "])
    rows = []
    for _ in range(rng.randint(3, 8)):
        first, last = _person(rng, lang)
        rows.append((sep.join([last, first] + ([_fill(rng, "x3-{b}")] if rng.random() < 0.3 else [])) + rng.choice(["", "\t"]), 0))
    return rows


def make_mail(rng: random.Random) -> Mail:
    """One mail with its labels."""
    lang = rng.choice(LANGS)
    first, last = _person(rng, lang)
    other, _ = _person(rng, lang)
    lines = [(line, 0) for line in _body(rng, lang, other)]
    roll = rng.random()
    if roll < 0.66:
        sig = _signature(rng, lang, first, last)
        if rng.random() < 0.1:
            sig = sig + ["", rng.choice(LISTS["disclaimers"])]
        lines += [(s, 1 if s.strip() else 0) for s in sig]
    elif roll < 0.69:
        lines += [(_pick(rng, "closers", lang), 0)]
    elif roll < 0.72:
        lines += [(_negative_tail(rng), 0) for _ in range(1)]
        lines = [(line, 0) for chunk, _ in lines for line in chunk.split("\n")]
    elif roll < 0.75:
        lines += _table(rng, lang)
    elif roll < 0.78:
        # A sign-off with a P.S. below it: the letter ends in prose, not in a signature.
        lines += [(f"{_pick(rng, 'signoffs', lang)} {first}", 0), (f"P.S. {_pick(rng, 'sentences', lang)}", 0)]
    while lines and not lines[-1][0].strip():
        lines.pop()
    if rng.random() < 0.08:
        lines += [("", 0), (rng.choice(LISTS["mobile_tags"]), 1 if any(lab for _, lab in lines) else 0)]
    if rng.random() < 0.12:  # HTML-to-text output of a client that writes a paragraph per line
        spaced: list[tuple[str, int]] = []
        for line, lab in lines:
            spaced += [(line, lab), ("", 0)] if line.strip() else [(line, lab)]
        lines = spaced[:-1]
    if rng.random() < 0.05:
        lines = [(line.upper(), lab) for line, lab in lines]
    has_name = rng.random() < 0.75
    sender_name = f"{first} {last}" if has_name else None
    local = "".join(ch for ch in f"{first[0]}{last}".lower() if ch.isascii() and ch.isalpha()) or "user"
    return Mail(lines=lines, sender_name=sender_name, sender_address=f"{local}@{rng.choice(LISTS['domains'])}")


def make_mails(n: int, seed: int) -> list[Mail]:
    """``n`` mails from ``seed``."""
    rng = random.Random(seed)
    return [make_mail(rng) for _ in range(n)]
