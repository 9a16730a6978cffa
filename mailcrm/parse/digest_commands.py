"""Commands in a reply to the digest (PURE): bytes in, numbered commands out.

A command is a line of the reply's own text (the quoted digest below is cut by ``reply_text``)
that starts with a digest line number, then a verb in English or Russian:

``1 done`` / ``1 готово``; ``1 позвонил, договорились на вторник`` / ``1 called: …`` (a call with a note);
``2 snooze 3d`` / ``2 отложить 3`` (a bare number is days; any date form of ``parse/subaddress``);
``3 won`` / ``3 выиграна``; ``4 lost дорого`` / ``4 проиграна: дорого``; ``5 note …`` / ``5 заметка …``.

Lines without a leading number (greetings, signatures) are ignored; a numbered line whose verb is
unknown is returned as ``NotUnderstood`` so the answer can say what was expected.  The reply's
headers are read too: what it answers (In-Reply-To/References) and why it must never be answered
(an auto-reply, a bounce, a list: RFC 3834 section 2 and RFC 2369).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Literal

from mailcrm.parse.identity import message_ids
from mailcrm.parse.mime import parse_bytes
from mailcrm.parse.reply_text import extract_reply
from mailcrm.parse.subaddress import FollowUp, classify

Action = Literal["done", "call", "snooze", "won", "lost", "note"]

_VERBS: dict[str, Action] = {}
for _action, _words in (
    ("done", "done ok готово сделано сделал сделала выполнено"),
    ("call", "call called позвонил позвонила позвонили звонил звонила звонок созвонились"),
    ("snooze", "snooze later postpone отложить отложи отложено позже"),
    ("won", "won win выиграна выиграно выиграли выиграл успех"),
    ("lost", "lost lose проиграна проиграно проиграли проиграл отказ"),
    ("note", "note заметка примечание"),
):
    for _w in _words.split():
        _VERBS[_w] = _action  # type: ignore[assignment]

_LINE = re.compile(r"^\s*(\d{1,3})\s*[.)]?\s*[,:;\-–—]?\s*(.*?)\s*$")
_VERB = re.compile(r"^([^\s,:;.!]+)[\s,:;.!—–-]*(.*)$", re.S)
_CYRILLIC = re.compile(r"[а-яё]", re.I)
MAX_LINES = 100  # a reply is a few lines; a pasted document is not a list of commands


@dataclass(frozen=True)
class LineCommand:
    """One understood command: digest line ``number``, an action and its text (note, reason)."""

    number: int
    action: Action
    text: str = ""
    until: dt.date | None = None  # snooze: the day the line comes back


@dataclass(frozen=True)
class NotUnderstood:
    """A numbered line mailcrm could not read, with a short reason."""

    line: str
    reason: str


@dataclass(frozen=True)
class CommandReply:
    """What a reply to a digest asks for, and what its headers say about answering it."""

    sender: str
    message_id: str | None
    references: tuple[str, ...]  # In-Reply-To first, then References, normalized (parse/identity)
    commands: tuple[LineCommand, ...]
    not_understood: tuple[NotUnderstood, ...]
    language: str  # "ru" when the commands are written in Cyrillic, else "en"
    automated: str | None  # why this mail must never be answered (None: a person wrote it)


def parse_lines(text: str, today: dt.date) -> tuple[tuple[LineCommand, ...], tuple[NotUnderstood, ...]]:
    """The commands in the reply's own text (already without the quoted digest)."""
    commands: list[LineCommand] = []
    bad: list[NotUnderstood] = []
    for line in text.splitlines()[:MAX_LINES]:
        m = _LINE.match(line)
        if m is None:
            continue
        number, rest = int(m[1]), m[2]
        v = _VERB.match(rest)
        if number == 0 or v is None:
            bad.append(NotUnderstood(line.strip(), "no command after the number"))
            continue
        action = _VERBS.get(v[1].casefold())
        arg = v[2].strip()
        if action is None:
            bad.append(NotUnderstood(line.strip(), f"unknown command {v[1]!r}"))
        elif action == "snooze":
            until = _until(arg, today)
            if until is None:
                bad.append(NotUnderstood(line.strip(), "snooze needs a period: 3d, 2w, 1m, mon, 15mar or days"))
            else:
                commands.append(LineCommand(number, "snooze", arg, until))
        elif action == "note" and not arg:
            bad.append(NotUnderstood(line.strip(), "note needs a text"))
        else:
            commands.append(LineCommand(number, action, arg))
    return tuple(commands), tuple(bad)


def _until(arg: str, today: dt.date) -> dt.date | None:
    word = re.sub(r"\s+", "", arg.casefold()).rstrip(".")
    if word.isdigit():
        word += "d"
    parsed = classify(word, today)
    return parsed.due if isinstance(parsed, FollowUp) and not parsed.always else None


def _ids(value: str | None) -> list[str]:
    return list(message_ids(value))


def automated_reason(headers: dict[str, str], sender: str, content_type: str) -> str | None:
    """Why a mail must not be answered: auto-submitted (RFC 3834), a list (RFC 2369), a bounce."""
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto[:40]}"
    if any(h in headers for h in ("list-id", "list-unsubscribe", "list-post")):
        return "mailing list"
    if headers.get("precedence", "").strip().lower() in ("bulk", "list", "junk", "auto_reply"):
        return f"Precedence: {headers['precedence'].strip().lower()}"
    if any(h in headers for h in ("x-autoreply", "x-autorespond", "x-auto-response-suppress")):
        return "auto-responder header"
    local = sender.partition("@")[0]
    if not sender or local in ("mailer-daemon", "postmaster") or local.startswith(("noreply", "no-reply")):
        return "bounce or no-reply sender"
    if content_type == "multipart/report":
        return "delivery report"
    return None


def parse_reply(raw: bytes, today: dt.date) -> CommandReply:
    """Read a reply to a digest: its sender, what it answers, its commands; never raises on bad mail."""
    view = parse_bytes(raw)
    headers = {k.lower(): v for k, v in reversed(view.headers)}  # the first occurrence wins
    senders = getaddresses([headers.get("from", "")])
    sender = senders[0][1].strip().lower() if senders else ""
    refs = list(dict.fromkeys(_ids(headers.get("in-reply-to")) + _ids(headers.get("references"))[::-1]))
    mids = _ids(headers.get("message-id"))
    text = extract_reply(view.text, view.html)
    commands, bad = parse_lines(text, today)
    written = " ".join([*(c.text for c in commands), *(b.line for b in bad)]) or text[:500]
    verbs = " ".join(t.split()[1] if len(t.split()) > 1 else "" for t in text.splitlines()[:MAX_LINES]
                     if _LINE.match(t))
    language = "ru" if _CYRILLIC.search(verbs or written) else "en"
    return CommandReply(sender=sender, message_id=mids[0] if mids else None, references=tuple(refs),
                        commands=commands, not_understood=bad, language=language,
                        automated=automated_reason(headers, sender, view.content_type))
