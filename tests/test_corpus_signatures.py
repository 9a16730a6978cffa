"""Score signature extraction on the shared parsing corpus (MAILCRM_CORPORA/parsing).

Scoring follows the corpus README: an expected block is matched by line-level F1 ≥ 0.8 with
"--" delimiter lines ignored (strict: whitespace-collapsed equality); ``{"signature": null}``
is right only when nothing is returned; ``signature_contains`` needs every string inside the
returned block. Annotated inputs lose their ``#sig#``/``#reply#`` markers first; the sender
comes from ``sender_path`` or, as talon's dataset reader does, the body's ``From:`` line.
"""

from __future__ import annotations

import email
import email.utils
import html
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mailcrm.parse.facts import Address
from mailcrm.parse.html_text import html_to_text
from mailcrm.parse.mime import parse_bytes
from mailcrm.parse.signature import extract_signature

_MARKERS = re.compile(r"^(?:#sig#|#reply#)", re.MULTILINE)
_DELIM_LINE = re.compile(r"^-{2,}\s*$")


def _norm_lines(text: str) -> list[str]:
    """Non-empty, whitespace-collapsed lines, "--" delimiter lines dropped."""
    out = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if line and not _DELIM_LINE.match(line):
            out.append(line)
    return out


def line_f1(expected: str, got: str) -> float:
    """F1 of the two blocks' line multisets."""
    exp, res = Counter(_norm_lines(expected)), Counter(_norm_lines(got))
    common = sum((exp & res).values())
    if not common:
        return 0.0
    precision, recall = common / sum(res.values()), common / sum(exp.values())
    return 2 * precision * recall / (precision + recall)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _sender(line: str) -> Address | None:
    line = line.strip()
    if not line:
        return None
    if "<" in line or "@" in line:
        name, addr = email.utils.parseaddr(line)
        if addr and "@" not in addr and not name:
            name, addr = addr, ""  # "doe@example.com (John Doe)" parses; a bare word is a name
        return Address(name=(name or "").strip() or None, address=addr.lower())
    return Address(name=line.strip('"'), address="")


def load_case(base: Path, row: dict[str, Any]) -> tuple[str, Address | None]:
    """The body to give the extractor and the sender, as the manifest describes them."""
    fmt = row["input"]["format"]
    path = base / row["file"]
    raw = path.read_bytes()
    sender: Address | None = None
    if fmt == "eml":
        view = parse_bytes(raw)
        body = view.text
        sender = _sender(view.header("From") or "")
    else:
        body = raw.decode("utf-8", errors="replace")
        if fmt == "html":
            body = html_to_text(body)
        if fmt == "annotated":
            body = _MARKERS.sub("", body)
    sender_path = row["input"].get("sender_path")
    if sender_path:
        folder = row["file"].split("/", 1)[0]
        sender = _sender((base / folder / sender_path).read_text(encoding="utf-8", errors="replace"))
    elif sender is None:
        found = re.search(r"^From:(.*)$", body, re.MULTILINE)
        sender = _sender(found.group(1)) if found else None
    return body, sender


@dataclass
class Score:
    """Counters over the signature cases."""

    total: int = 0
    ok: int = 0
    strict: int = 0
    has_total: int = 0
    has_ok: int = 0
    null_total: int = 0
    null_ok: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, row: dict[str, Any], got: str | None) -> None:
        """Judge one answer against the manifest's expectation."""
        exp = row["expected"]
        self.total += 1
        if "signature_contains" in exp:
            self.has_total += 1
            good = got is not None and all(_collapse(s) in _collapse(got) for s in exp["signature_contains"])
            strict = good
        elif exp.get("signature") is None:
            self.null_total += 1
            good = strict = got is None
            self.null_ok += good
        else:
            self.has_total += 1
            good = got is not None and line_f1(exp["signature"], got) >= 0.8
            strict = got is not None and _collapse(exp["signature"]) == _collapse(got)
        if "signature_contains" in exp or exp.get("signature") is not None:
            self.has_ok += good
        self.ok += good
        self.strict += strict
        if not good:
            want = exp.get("signature", exp.get("signature_contains"))
            self.misses.append(f"{row['id']}: want {want!r}, got {got!r}")


@pytest.fixture(scope="module")
def cases(corpora: Path) -> tuple[Path, list[dict[str, Any]]]:
    """The parsing corpus folder and its signature rows."""
    base = corpora / "parsing"
    rows = [json.loads(line) for line in (base / "manifest.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["kind"] == "signature"]
    assert rows, "no signature cases in the manifest"
    return base, rows


def test_line_f1_ignores_delimiters_and_spacing() -> None:
    assert line_f1("--\nJohn  Doe\njohn@example.com", "John Doe\n\njohn@example.com") == 1.0
    assert line_f1("Thanks,\nKim", "Kim") == pytest.approx(2 / 3)
    assert line_f1("Kim", "") == 0.0


def test_signature_corpus_scores(cases: tuple[Path, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]) -> None:
    base, rows = cases
    score = Score()
    for row in rows:
        body, sender = load_case(base, row)
        sig = extract_signature(body, sender=sender)
        score.add(row, sig.text if sig is not None else None)
    overall = score.ok / score.total
    with capsys.disabled():
        print(f"\nsignature corpus: {score.total} cases")
        print(f"  overall accuracy   {overall:.1%} ({score.ok}/{score.total})")
        print(f"  strict accuracy    {score.strict / score.total:.1%} ({score.strict}/{score.total})")
        print(f"  has a signature    {score.has_ok / max(1, score.has_total):.1%} ({score.has_ok}/{score.has_total})")
        print(f"  no signature (null) {score.null_ok / max(1, score.null_total):.1%} ({score.null_ok}/{score.null_total})")
        for line in score.misses:
            print("  miss:", line)
    assert overall >= 0.85


def _outlook_lines(text: str) -> str:
    """Outlook's HTML for ``text``: a ``<p class=MsoNormal>`` per line, ``&nbsp;`` for an empty one."""
    return "\n".join(f"<p class=MsoNormal>{html.escape(ln) if ln.strip() else '&nbsp;'}<o:p></o:p></p>"
                     for ln in text.split("\n"))


def test_signatures_do_not_depend_on_the_html_a_client_wrote(cases: tuple[Path, list[dict[str, Any]]]) -> None:
    """Each case's body rendered as HTML the ways clients write it (a <div> per line, <br> breaks,
    Outlook's MsoNormal paragraphs) and read back gives the same signature, fields included."""
    base, rows = cases
    renderings = {
        "divs": lambda t: "\n".join(f"<div>{html.escape(ln) if ln.strip() else '<br>'}</div>" for ln in t.split("\n")),
        "breaks": lambda t: "<div>" + "<br>\n".join(html.escape(ln) for ln in t.split("\n")) + "</div>",
        "outlook": _outlook_lines,
    }

    def fields(text: str, sender: Address | None) -> tuple[Any, ...] | None:
        sig = extract_signature(text, sender=sender)
        return None if sig is None else (_collapse(sig.text), sig.name, sig.title, sig.company, sig.phones, sig.website)

    differ = []
    for row in rows:
        body, sender = load_case(base, row)
        want = fields(body, sender)
        differ += [f"{row['id']} as {name}: {got} != {want}" for name, render in renderings.items()
                   if (got := fields(html_to_text(f"<html><body>{render(body)}</body></html>"), sender)) != want]
    assert not differ, "\n".join(differ[:10])
