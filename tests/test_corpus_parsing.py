"""Forward and reply parsing scored on the shared parsing corpus (MAILCRM_CORPORA/parsing).

Scoring follows the corpus README ("Expected answers and how the steering side scores them").
The bare libraries (email-forward-parser for forwards, quotequail for replies) are measured
in the same run on the same inputs and printed next to mailcrm's figures.
"""

from __future__ import annotations

import email.policy
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import quotequail
from conftest import require
from emailforwardparser import forward_parser as efp

from mailcrm.parse.forward import find_forward_in_text
from mailcrm.parse.html_text import html_to_text
from mailcrm.parse.message import parse_message
from mailcrm.parse.mime import parse_bytes
from mailcrm.parse.quote_headers import WROTE
from mailcrm.parse.reply_text import extract_reply

FORWARD_TARGET = 0.97
REPLY_TARGET = 0.90
SIGNOFF_MAX = 300  # README: a trailing sign-off/signature of at most ~300 characters is tolerated


@dataclass(frozen=True)
class Case:
    """One manifest line with its input loaded."""

    id: str
    kind: str
    text: str  # plain text (HTML inputs: empty)
    html: str | None
    subject: str
    expected: dict[str, Any]


def _load(root: Path, kinds: tuple[str, ...]) -> list[Case]:
    cases = []
    for line in (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if entry["kind"] not in kinds:
            continue
        inp = entry["input"]
        folder = entry["file"].split("/", 1)[0]
        data = (root / entry["file"]).read_bytes()
        fmt = inp.get("format", "text")
        text, html = "", None
        if fmt == "eml":
            view = parse_bytes(data)
            text, html = view.text, view.html
        elif fmt == "html":
            html = data.decode("utf-8", errors="replace")
        else:
            text = data.decode("utf-8", errors="replace")
            if fmt == "annotated":
                text = "\n".join(re.sub(r"^#(sig|reply)#", "", ln) for ln in text.split("\n"))
        subject = ""
        if inp.get("subject_path"):
            subject = (root / folder / inp["subject_path"]).read_text(encoding="utf-8", errors="replace").strip()
        cases.append(Case(entry["id"], entry["kind"], text, html, subject, entry["expected"]))
    return cases


@pytest.fixture(scope="module")
def parsing_root(corpora: Path) -> Path:
    """The parsing corpus folder."""
    root = corpora / "parsing"
    require((root / "manifest.jsonl").is_file(), f"parsing corpus missing under {corpora}")
    return root


# -- forwards ---------------------------------------------------------------------------------

def _norm_name(name: str | None) -> str | None:
    if name is None:
        return None
    n = re.sub(r"\s+", " ", name.strip().strip("\"'").strip())
    return n or None


def _score_forwards(cases: list[Case], finder: Callable[[Case], tuple[bool, str | None, str | None]]
                    ) -> tuple[float, float, list[str]]:
    ok = name_ok = named = 0
    misses: list[str] = []
    for c in cases:
        detected, address, name = finder(c)
        exp = c.expected
        if not exp.get("forwarded", False):
            good = not detected
        else:
            want = (exp.get("from_address") or None)
            good = detected and (address or None) is not None and want is not None and address.lower() == want.lower() \
                if want is not None else detected and not address
            named += 1
            if detected and _norm_name(name) == _norm_name(exp.get("from_name")):
                name_ok += 1
            elif good:
                misses.append(f"{c.id}: name {name!r}, expected {exp.get('from_name')!r}")
        ok += good
        if not good:
            misses.append(f"{c.id}: got {detected} {address!r} {name!r}")
    return ok / len(cases), (name_ok / named if named else 1.0), misses


def _mailcrm_forward(c: Case) -> tuple[bool, str | None, str | None]:
    fwd = find_forward_in_text(c.text, c.html, c.subject)
    if fwd is None:
        return False, None, None
    return True, (fwd.from_.address or None) if fwd.from_ else None, fwd.from_.name if fwd.from_ else None


def _library_forward(c: Case) -> tuple[bool, str | None, str | None]:
    body = c.text if c.html is None else html_to_text(c.html)
    try:
        meta = efp.get_forwarded_metadata(body, c.subject or None)
    except Exception:  # noqa: BLE001 - a crash counts as a miss
        return False, None, None
    if not meta.forwarded:
        return False, None, None
    return True, meta.email.from_.address or None, meta.email.from_.name or None


# -- replies ----------------------------------------------------------------------------------

def _collapse(text: str, mode: str) -> str:
    return re.sub(r"\s+", "", text) if mode == "nows" else re.sub(r"\s+", " ", text).strip()


_QUOTEISH = re.compile(
    r"(?:^|\s)>|-{4,}|_{6,}|original\s*message|forwarded|пересыла|исходное|"
    r"(?:^|\s)(?:from|sent|date|to|subject|от|отправлено|кому|тема|de|von|gesendet|envoyé|fra|från)\s*:|"
    + WROTE.pattern.replace("\\s*$", ""),
    re.I,
)


def _quoteish(leftover: str) -> bool:
    """Does a leftover (whitespace-collapsed) look like quoted history rather than a sign-off?"""
    return _QUOTEISH.search(leftover) is not None


def _reply_ok(got: str, exp: dict[str, Any]) -> tuple[bool, bool]:
    """(main, strict) verdicts for one reply case."""
    if "reply_text" in exp:
        mode = exp.get("compare", "ws")
        g, e = _collapse(got, mode), _collapse(exp["reply_text"], mode)
        if g == e:
            return True, True
        for longer, shorter in ((g, e), (e, g)):
            if shorter and longer.startswith(shorter) and len(longer) - len(shorter) <= SIGNOFF_MAX:
                if not _quoteish(longer[len(shorter):]):
                    return True, False
        return False, False
    good = all(s in got for s in exp.get("reply_contains", [])) and not any(
        s in got for s in exp.get("reply_not_contains", []))
    return good, good


def _score_replies(cases: list[Case], extractor: Callable[[Case], str]) -> tuple[float, float, list[str]]:
    main = strict = 0
    misses = []
    for c in cases:
        got = extractor(c)
        m, s = _reply_ok(got, c.expected)
        main += m
        strict += s
        if not m:
            misses.append(f"{c.id}: got {got[:160]!r}")
    return main / len(cases), strict / len(cases), misses


def _mailcrm_reply(c: Case) -> str:
    return extract_reply(c.text, c.html)


def _library_reply(c: Case) -> str:
    try:
        if c.html is not None:
            parts = quotequail.quote_html(c.html, quote_intro_line=True)
            return html_to_text(parts[0][1]) if parts and parts[0][0] else ""
        parts = quotequail.quote(c.text, quote_intro_line=True)
        return parts[0][1].strip() if parts and parts[0][0] else ""
    except Exception:  # noqa: BLE001
        return ""


# -- tests ------------------------------------------------------------------------------------

def test_forward_corpus(parsing_root: Path) -> None:
    """Original sender of forwards: mailcrm vs bare email-forward-parser; target ≥ 97 %."""
    cases = _load(parsing_root, ("forward",))
    assert cases, "no forward cases in the manifest"
    acc, name_acc, misses = _score_forwards(cases, _mailcrm_forward)
    lib_acc, lib_name_acc, _ = _score_forwards(cases, _library_forward)
    print(f"\nforward ({len(cases)} cases): mailcrm sender {acc:.1%} name {name_acc:.1%} | "
          f"email-forward-parser sender {lib_acc:.1%} name {lib_name_acc:.1%}")
    for miss in misses:
        print("  miss", miss)
    assert acc >= FORWARD_TARGET, misses
    assert name_acc >= FORWARD_TARGET, misses


def test_reply_corpus(parsing_root: Path) -> None:
    """New text of replies: mailcrm vs bare quotequail; target ≥ 90 % (main score)."""
    cases = _load(parsing_root, ("reply",))
    assert cases, "no reply cases in the manifest"
    main, strict, misses = _score_replies(cases, _mailcrm_reply)
    lib_main, lib_strict, _ = _score_replies(cases, _library_reply)
    print(f"\nreply ({len(cases)} cases): mailcrm main {main:.1%} strict {strict:.1%} | "
          f"quotequail main {lib_main:.1%} strict {lib_strict:.1%}")
    for miss in misses:
        print("  miss", miss)
    assert main >= REPLY_TARGET, misses


# -- the same mail, sent another way --------------------------------------------------------

def _as_mail(body: str, subject: str, *, subtype: str = "plain", cte: str | None = None) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "Me <me@example.org>"
    msg["To"] = "crm@example.org"
    msg["Subject"] = subject
    msg["Message-ID"] = "<variant@example.org>"
    msg.set_content(body, subtype=subtype, charset="utf-8", cte=cte or ("8bit" if subtype == "plain" else None))
    return msg.as_bytes()


def html_lines(text: str) -> str:
    """A webmail's rendering of ``text``: one <div> per line, <div><br></div> for a blank one."""
    return "<html><body>\n" + "\n".join(f"<div>{html.escape(ln) if ln.strip() else '<br>'}</div>"
                                          for ln in text.split("\n")) + "\n</body></html>"


def html_blockquotes(text: str) -> str:
    """Like ``html_lines``, with "> " quoted runs as <blockquote type="cite"> (Gmail, Apple Mail, Thunderbird)."""
    out: list[str] = []
    depth = 0
    for ln in text.split("\n"):
        m = re.match(r"^((?:\s*>)*)\s?(.*)$", ln)
        want = m.group(1).count(">") if m else 0
        body = m.group(2) if m and want else ln
        out += ['<blockquote type="cite">'] * max(0, want - depth) + ["</blockquote>"] * max(0, depth - want)
        depth = want
        out.append(f"<div>{html.escape(body) if body.strip() else '<br>'}</div>")
    return "<html><body>\n" + "\n".join(out + ["</blockquote>"] * depth) + "\n</body></html>"


def test_answers_do_not_depend_on_transfer_encoding_or_html_rendering(parsing_root: Path) -> None:
    """Every plain-text forward and reply of the corpus, mailed as 8bit, quoted-printable, base64 and
    HTML-only (two renderings), gives the same forwarded sender and the same new text."""
    cases = [c for c in _load(parsing_root, ("forward", "reply")) if c.html is None and c.text.strip()]
    assert len(cases) > 50
    variants: dict[str, Callable[[Case, str], bytes]] = {
        "quoted-printable": lambda c, s: _as_mail(c.text, s, cte="quoted-printable"),
        "base64": lambda c, s: _as_mail(c.text, s, cte="base64"),
        "html divs": lambda c, s: _as_mail(html_lines(c.text), s, subtype="html"),
        "html blockquotes": lambda c, s: _as_mail(html_blockquotes(c.text), s, subtype="html"),
    }
    me = frozenset({"me@example.org"})

    def answer(raw: bytes) -> tuple[str | None, str]:
        facts = parse_message(raw, user_addresses=me)
        sender = facts.forwarded.from_.address if facts.forwarded and facts.forwarded.from_ else None
        return sender, re.sub(r"\s+", " ", facts.reply_text or "").strip()

    differ: list[str] = []
    for c in cases:
        subject = c.subject or ("Fwd: corpus" if c.kind == "forward" else "Re: corpus")
        want = answer(_as_mail(c.text, subject))
        differ += [f"{c.id} as {name}: {got!r} != {want!r}" for name, make in variants.items()
                   if (got := answer(make(c, subject))) != want]
    assert not differ, "\n".join(differ[:10])
