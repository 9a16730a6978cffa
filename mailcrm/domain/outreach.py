"""Outreach rules (pure): the ledger's hash chain, how answers fold, what counts as a repeat, the warning text."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
# An answer from mail never lowers what is known: a deal outranks a no or a yes, which outrank a plain reply.
_RANK = {"none": 0, "replied": 1, "interested": 2, "declined": 2, "deal": 3}
ANSWER_VALUES = ("none", "replied", "declined", "interested", "deal")

RU_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
             "ноября", "декабря")
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")


def canonical(content: dict[str, Any]) -> bytes:
    """The bytes a ledger entry's hash covers: sorted-key JSON, UTF-8, no spaces."""
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def entry_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """sha256 over the previous entry's hash and this entry's canonical content."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(content)).hexdigest()


def entry_content(seq: int, at: dt.datetime, kind: str, work_id: int | None, contact_id: int | None,
                  company_id: int | None, message_id: int | None, data: dict[str, Any]) -> dict[str, Any]:
    """What a ledger entry's hash covers (every column but the hashes themselves)."""
    return {"seq": seq, "at": at.replace(microsecond=0).isoformat(), "kind": kind, "work_id": work_id,
            "contact_id": contact_id, "company_id": company_id, "message_id": message_id, "data": data}


@dataclass(frozen=True)
class ChainEntry:
    """An entry as read back: its content, the hash it names as previous and its own hash."""

    seq: int
    content: dict[str, Any]
    prev_hash: str
    hash: str


def verify_chain(entries: Iterable[ChainEntry], *, complete: bool) -> list[str]:
    """Problems in a run of entries ordered by seq ([] when intact).

    Every entry's hash must recompute from its content and ``prev_hash``.  ``complete``: the run is
    the whole ledger, so seqs go 1, 2, 3 … and each ``prev_hash`` is the hash before it (a removed
    or reordered entry breaks that); otherwise only entries with adjacent seqs are linked.
    """
    problems: list[str] = []
    prev: ChainEntry | None = None
    for e in entries:
        if e.content.get("seq") != e.seq:
            problems.append(f"entry {e.seq}: its content names seq {e.content.get('seq')}")
        if entry_hash(e.prev_hash, e.content) != e.hash:
            problems.append(f"entry {e.seq}: content changed (hash does not match)")
        expected_prev = prev.hash if prev is not None else GENESIS
        if complete:
            want_seq = (prev.seq + 1) if prev is not None else 1
            if e.seq != want_seq:
                problems.append(f"entry {want_seq}: missing (next is {e.seq})")
            elif e.prev_hash != expected_prev:
                problems.append(f"entry {e.seq}: previous hash does not match entry {want_seq - 1}")
        elif prev is not None and e.seq == prev.seq + 1 and e.prev_hash != prev.hash:
            problems.append(f"entry {e.seq}: previous hash does not match entry {prev.seq}")
        prev = e
    return problems


def fold_answer(current: str, new: str) -> str:
    """The answer after a new one from mail: a later no or yes replaces a plain reply; a deal stays."""
    if current == "deal":
        return current
    if new in ("declined", "interested", "deal"):
        return new
    return current if _RANK.get(current, 0) >= _RANK.get(new, 0) else new


@dataclass(frozen=True)
class PriorSend:
    """An earlier send of the same work to this person or a colleague."""

    contact_id: int
    name: str | None
    address: str
    company: str | None
    first_sent: dt.datetime
    last_sent: dt.datetime
    times: int
    answer: str
    answer_at: dt.datetime | None
    answer_text: str | None


def repeats(priors: Sequence[PriorSend], now: dt.datetime, window_days: int) -> list[PriorSend]:
    """The earlier sends that make this one a repeat: last sent within the window."""
    since = now - dt.timedelta(days=window_days)
    return sorted((p for p in priors if p.last_sent >= since), key=lambda p: p.last_sent)


def long_date(day: dt.date, lang: str) -> str:
    """'2 марта 2025' / '2 March 2025'."""
    months = RU_MONTHS if lang == "ru" else EN_MONTHS
    return f"{day.day} {months[day.month - 1]} {day.year}"


def _clip(text: str | None, n: int = 300) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def warning_text(lang: str, title: str, to_address: str, priors: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """(subject, body) of the "already sent" mail; ``priors`` are PriorSend-like dicts (dates as ISO)."""
    ru = lang == "ru"
    subject = (f"Повтор: «{title}» уже отправляли ({to_address})" if ru
               else f"Repeat: \u201c{title}\u201d was already sent ({to_address})")
    lines: list[str] = []
    for p in priors:
        who = p.get("company") or p.get("name") or p["address"]
        person = ", ".join(x for x in (p.get("name"), p["address"]) if x)
        sent = long_date(dt.date.fromisoformat(str(p["last_sent"])[:10]), lang)
        if ru:
            line = f"Вы отправляли «{title}» в {who} ({person}) {sent}"
            if p.get("times", 1) > 1:
                line += f" (всего {p['times']} раз)"
        else:
            line = f"You sent \u201c{title}\u201d to {who} ({person}) on {sent}"
            if p.get("times", 1) > 1:
                line += f" ({p['times']} times in all)"
        if p.get("answer_at"):
            ans = long_date(dt.date.fromisoformat(str(p["answer_at"])[:10]), lang)
            label = _answer_label(str(p.get("answer") or "replied"), lang)
            text = _clip(p.get("answer_text"))
            line += (f"; они ответили {ans} ({label})" if ru else f"; they answered on {ans} ({label})")
            line += f": {text}" if text else ""
        else:
            line += "; ответа не было" if ru else "; no answer"
        lines.append(line + ".")
    head = (f"Только что «{title}» ушло на {to_address}, а это уже было:" if ru
            else f"\u201c{title}\u201d just went to {to_address}, and it had been sent before:")
    return subject, head + "\n\n" + "\n".join(lines) + "\n"


def _answer_label(answer: str, lang: str) -> str:
    ru = {"replied": "ответ", "declined": "отказ", "interested": "интерес", "deal": "сделка", "none": "нет ответа"}
    return ru.get(answer, answer) if lang == "ru" else answer
