"""Signature block detection: where the author's own text ends and the signature begins.

Which lines are the signature is decided by a learned line classifier (signature_model: a
logistic regression over the per-line features of signature_features, after Carvalho & Cohen
2004 and mailgun/talon), not by hand-written anchors: each of the last WINDOW non-empty lines of
the author's own text (quoted history cut off first) gets a log-odds of being signature, and the
block is the suffix of those lines whose log-odds sum is highest, when that sum is above the
model's threshold (calibrated at training time, leaning towards "no signature").
Fields are then read by signature_fields. Pure: str and explicit arguments in, a frozen
Signature (or None) out; never raises.
"""

from __future__ import annotations

import re

from mailcrm.parse.facts import DEFAULT_PHONE_REGION, Address, Signature
from mailcrm.parse.quoted import own_lines
from mailcrm.parse.signature_features import DELIM, NAMES_SOMEONE, candidate_lines, line_features, signoff_kind
from mailcrm.parse.signature_fields import classify_line, read_fields, sender_tokens
from mailcrm.parse.signature_model import line_logits, threshold

__all__ = ["best_suffix", "extract_signature", "own_text_lines", "signature_start"]


def own_text_lines(text: str, unquoted: bool = False) -> list[str]:
    """The author's own lines of ``text`` (quoted history cut unless ``unquoted``), trailing blanks dropped."""
    lines = text.split("\n") if unquoted else own_lines(text)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _content_end(lines: list[str]) -> int:
    """End of the lines the classifier reads: mobile-client tags and legal disclaimers close a
    message but start no signature, so they are kept out of the choice (and in the block)."""
    end = len(lines)
    while end > 0 and (not lines[end - 1].strip() or classify_line(lines[end - 1]) in ("mobile", "disclaimer")):
        end -= 1
    return end


def best_suffix(feats: list[list[str]], logits: list[float]) -> tuple[float, int | None]:
    """The suffix of candidate lines whose log-odds add up highest, and that sum (0.0, None when
    none is positive), among those that name someone: a signature says who wrote ("503-810-1105"
    alone is not one)."""
    best, best_at, run, named = 0.0, None, 0.0, False
    for p in range(len(feats) - 1, -1, -1):
        run += logits[p]
        named = named or not NAMES_SOMEONE.isdisjoint(feats[p])
        if run > best and named:
            best, best_at = run, p
    return best, best_at


def signature_start(lines: list[str], sender: set[str]) -> int | None:
    """Index of the first signature line in ``lines`` (as given by ``own_text_lines``), or None."""
    end = _content_end(lines)
    cand = candidate_lines(lines[:end])
    if not cand:
        return None
    feats = line_features(lines[:end], cand, sender)
    best, best_at = best_suffix(feats, line_logits(feats))
    # The model's calibrated threshold (scripts/train_signature.py): a weak block is no signature.
    if best_at is None or best <= threshold():
        return None
    start = cand[best_at]
    while start > 0 and (DELIM.match(lines[start - 1]) or not lines[start - 1].strip()):
        start -= 1  # "--\n--\nRegards,": the whole run of delimiters opens the block
    while not lines[start].strip():
        start += 1
    if not any(line.strip() for line in lines[:start]):
        return None  # a signature cannot be all there is: the author said nothing else
    return start


def extract_signature(text: str, *, sender: Address | None = None, region: str = DEFAULT_PHONE_REGION,
                      unquoted: bool = False) -> Signature | None:
    """Find the signature block at the end of ``text`` and read its fields; None when absent.

    ``unquoted``: the caller already cut the quoted history off (``reply_text``), so it is not
    looked for again.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return _extract(text, sender, region, unquoted)
    except Exception:  # noqa: BLE001 - defects are data: a parser bug must not lose the message
        return None


def _extract(text: str, sender: Address | None, region: str, unquoted: bool = False) -> Signature | None:
    lines = own_text_lines(text, unquoted)
    sender_set = sender_tokens(sender)
    start = signature_start(lines, sender_set)
    if start is None:
        return None
    block = lines[start:]
    body: list[str] = []
    for line in block:
        if DELIM.match(line) or classify_line(line) in ("mobile", "disclaimer"):
            continue
        signoff = signoff_kind(line, sender_set)
        if signoff == "alone":
            continue  # "С уважением," carries no field
        if signoff == "named":
            line = re.split(r"[,.!\-–—]", line, maxsplit=1)[-1]  # "Thanks, BT" → "BT"
        body.append(line)
    if not any(line.strip() for line in body):
        return None
    sig_text = "\n".join(block).strip("\n")
    fields = read_fields(body, sender=sender, region=region)
    return Signature(text=sig_text, **fields)
