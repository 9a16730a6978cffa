"""Replies to the digest (issue 27): apply "1 done", "2 snooze 3d", "3 won" … to the lines of the digest replied to.

Runs inside the ingest transaction (``apply.stage_digest_reply``).  The reply's commands come from
the pure ``parse/digest_commands.py``; the digest it answers is found by In-Reply-To/References
among the recorded runs (``digest_runs.run_for_reply``), so a reply to yesterday's digest acts on
yesterday's lines.  Only the user the digest was sent to may command; a reply is handled once
(``digest_replies.key``); automated mail and mailcrm's own are never answered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailcrm.app import deals as deal_store
from mailcrm.app import last_touch
from mailcrm.config import Config
from mailcrm.errors import Invalid, Refused
from mailcrm.parse.facts import MessageFacts
from mailcrm.store.models import Activity, DigestReply, DigestRun, FollowUp, Participant, User

if TYPE_CHECKING:  # the command parser loads with the first reply to a digest (parse_reply below)
    from mailcrm.parse.digest_commands import CommandReply, LineCommand

MAX_ANSWERS_PER_HOUR = 10  # never a mail loop: past this, commands still apply but nobody is answered


@dataclass
class ReplyOutcome:
    """What handling a reply did: ``status`` applied | refused | ignored | duplicate | none (not a digest reply)."""

    status: str
    reason: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    answer_to: str | None = None  # the user to answer (None: do not answer)
    language: str = "en"
    text: str | None = None  # the whole answer, when it is not the per-command confirmation


def references_a_digest(session: Session, references: tuple[str, ...]) -> bool:
    """True when a mail's In-Reply-To/References name a digest mailcrm sent (any user).

    After ``digests_referenced`` (the ingest batch asks once for all its references) the answer
    for those references comes from memory: ingest never sends a digest, so it cannot change.
    """
    if not references:
        return False
    ids = [r[:1000] for r in references]
    found: set[str] | None = session.info.get(_DIGEST_IDS)
    if found is not None and all(r in session.info[_DIGEST_IDS_LOOKED_UP] for r in ids):
        return any(r in found for r in ids)
    return session.scalar(select(DigestRun.id).where(DigestRun.message_id.in_(ids)).limit(1)) is not None


_DIGEST_IDS = "mailcrm.digest_message_ids"
_DIGEST_IDS_LOOKED_UP = "mailcrm.digest_references_looked_up"


def digests_referenced(session: Session, references: Iterable[str]) -> None:
    """Look up which of ``references`` are digests mailcrm sent, in one query (per 500)."""
    ids = sorted({r[:1000] for r in references if r})
    found: set[str] = session.info.setdefault(_DIGEST_IDS, set())
    with session.no_autoflush:
        for i in range(0, len(ids), 500):
            found.update(session.scalars(select(DigestRun.message_id).where(DigestRun.message_id.in_(ids[i:i + 500]))))
    session.info.setdefault(_DIGEST_IDS_LOOKED_UP, set()).update(ids)


def handle_mail(session: Session, cfg: Config, rcpt_tos: list[str], facts: MessageFacts, raw: bytes,
                now: dt.datetime) -> ReplyOutcome | None:
    """Handle ``raw`` when it is a reply to the digest (sent to a +digest address or referencing a digest);
    None for any other mail.  A +digest mail that references no digest of its sender is refused."""
    refs = tuple(dict.fromkeys(r for r in (facts.in_reply_to, *facts.references) if r))
    to_digest = any(cfg.user_for_address(r) is not None and r.lower().partition("@")[0].endswith("+digest")
                    for r in [*rcpt_tos, *(a.address for a in (*facts.to, *facts.cc))])
    if not to_digest:
        with session.no_autoflush:  # most replies are not to a digest: no flush of the batch for the lookup
            if not references_a_digest(session, refs):
                return None
    user = cfg.user_for_address((facts.from_.address if facts.from_ else "") or "") or cfg.users[0]
    today = now.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(user.timezone)).date()
    from mailcrm.parse.digest_commands import parse_reply

    reply = parse_reply(raw, today)
    return handle(session, cfg, reply, facts.identity, now)


def handle(session: Session, cfg: Config, reply: CommandReply, key: str, now: dt.datetime) -> ReplyOutcome:
    """Apply a reply's commands to the digest it references, once; say whom to answer."""
    if session.scalar(select(DigestReply.id).where(DigestReply.key == key[:1000])) is not None:
        return ReplyOutcome("duplicate")
    own = {cfg.digest.from_address.lower(), *(u.dropbox.lower() for u in cfg.users)}
    if reply.automated or reply.sender in own:
        out = ReplyOutcome("ignored", reply.automated or "mailcrm's own mail")
        _record(session, key, None, None, out, now)
        return out
    user = cfg.user_for_address(reply.sender)
    uid = session.scalar(select(User.id).where(User.email == user.email)) if user is not None else None
    from mailcrm.app.digest_runs import run_for_reply  # the digest's code: loaded for a reply to one

    run = run_for_reply(session, uid, reply.references) if uid is not None else None
    if run is None:
        # Either a stranger, or a user replying to another user's digest: both are refused.
        return ReplyOutcome("refused", f"reply from {reply.sender or 'nobody'} references no digest sent to them")
    lines = {int(x["n"]): x for x in run.lines or []}
    results = [_apply(session, run, lines.get(c.number), c, now) for c in reply.commands]
    results += [{"n": None, "ok": False, "line": b.line, "text": b.reason} for b in reply.not_understood]
    out = ReplyOutcome("applied", results=results, language=reply.language,
                       answer_to=user.email if user is not None and may_answer(session, uid, now) else None)
    _record(session, key, uid, run.id, out, now)
    return out


def may_answer(session: Session, uid: int | None, now: dt.datetime) -> bool:
    """Fewer than MAX_ANSWERS_PER_HOUR answers went to this user in the last hour."""
    answered_lately = session.scalar(select(func.count()).select_from(DigestReply).where(
        DigestReply.user_id == uid, DigestReply.answered.is_(True),
        DigestReply.created_at > now - dt.timedelta(hours=1))) or 0
    return answered_lately < MAX_ANSWERS_PER_HOUR


def record_outcome(session: Session, key: str, uid: int | None, run_id: int | None, out: ReplyOutcome,
                   now: dt.datetime) -> bool:
    """Record a handled mail once; False when ``key`` was handled before (a re-delivery)."""
    if session.scalar(select(DigestReply.id).where(DigestReply.key == key[:1000])) is not None:
        return False
    _record(session, key, uid, run_id, out, now)
    return True


def _record(session: Session, key: str, uid: int | None, run_id: int | None, out: ReplyOutcome,
            now: dt.datetime) -> None:
    session.add(DigestReply(key=key[:1000], user_id=uid, run_id=run_id, status=out.status, reason=out.reason,
                            results=out.results, answered=out.answer_to is not None, created_at=now))


def _apply(session: Session, run: DigestRun, line: dict[str, Any] | None, c: LineCommand,
           now: dt.datetime) -> dict[str, Any]:
    """One command on one digest line, in a savepoint: a refused move (a won deal "lost") fails alone."""
    base = {"n": c.number, "action": c.action, "label": line["label"] if line else None}
    if line is None:
        return {**base, "ok": False, "text": f"no line {c.number} in the digest of {run.local_date.isoformat()}"}
    try:
        with session.begin_nested():
            text = act_on_line(session, run.user_id, {"digest": run.local_date.isoformat(), "line": c.number},
                               str(line["kind"]), int(line["ref"]), c, now)
    except (Refused, IntegrityError) as exc:
        return {**base, "ok": False, "text": str(exc).splitlines()[0][:300]}
    return {**base, "ok": True, "text": text}


def act_on_line(session: Session, user_id: int | None, data: dict[str, Any], kind: str, ref: int, c: LineCommand,
                now: dt.datetime) -> str:
    """Do what ``c`` asks to the deal, follow-up or contact ``ref`` of a digest line; returns what was done.

    The digest reply and the web's Today page both act through here (``data`` is kept on the activity:
    which digest and line, or the web page)."""
    if kind == "deal":
        contact_ids = deal_store.deal_contact_ids(session, ref)
        contact = contact_ids[0] if contact_ids else None
        if c.action in ("won", "lost"):
            deal_store.move_deal(session, ref, c.action, at=now, lost_reason=(c.text or None) if c.action == "lost" else None)
            return f"deal moved to {c.action}" + (f" ({c.text})" if c.text else "")
        return _activity(session, user_id, data, c, now, contact_id=contact, deal_id=ref)
    if kind == "follow_up":
        fu = session.get(FollowUp, ref)
        if fu is None:
            raise Invalid("that follow-up is gone")
        if c.action in ("won", "lost"):
            raise Invalid(f"line {c.number} is a follow-up, not a deal")
        if c.action == "snooze" and c.until is not None:
            fu.due = c.until
            return f"follow-up moved to {c.until.isoformat()}"
        contact = session.scalar(select(Participant.contact_id).where(
            Participant.message_id == fu.message_id, Participant.direction == "out",
            Participant.contact_id.is_not(None)).limit(1))
        if c.action == "done":
            fu.status, fu.cancelled_at = "done", now
            return "follow-up closed"
        fu.status, fu.cancelled_at = "done", now
        return _activity(session, user_id, data, c, now, contact_id=contact) + "; follow-up closed"
    if c.action in ("won", "lost"):
        raise Invalid(f"line {c.number} is a person, not a deal")
    return _activity(session, user_id, data, c, now, contact_id=ref)


def _activity(session: Session, user_id: int | None, data: dict[str, Any], c: LineCommand, now: dt.datetime, *,
              contact_id: int | None, deal_id: int | None = None) -> str:
    """A call, note, snooze or "done" on the timeline (a call and "done" are touches for cadence)."""
    kind = {"done": "call", "call": "call", "note": "note", "snooze": "snooze"}[c.action]
    text = c.text if c.action != "done" else (c.text or "done (digest reply)")
    act = Activity(contact_id=contact_id, deal_id=deal_id, user_id=user_id, kind=kind, at=now, text=text, due=c.until,
                   data=data)
    session.add(act)
    session.flush()
    last_touch.call_logged(session, act)
    if c.action == "snooze" and c.until is not None:
        return f"snoozed until {c.until.isoformat()}"
    return {"call": "call logged", "note": "note added"}.get(kind, kind)


def answer_text(out: ReplyOutcome) -> str:
    """The confirmation mailed back: one line per command, then what was expected for lines not understood."""
    if out.text is not None:
        return out.text
    ru = out.language == "ru"
    head = "mailcrm выполнил:" if ru else "mailcrm did:"
    rows = [head]
    for r in out.results:
        mark = "OK " if r.get("ok") else "?? "
        what = r.get("label") or r.get("line") or ""
        rows.append(f"{mark}{r['n'] if r.get('n') is not None else '-'} {what}: {r['text']}")
    if any(not r.get("ok") for r in out.results):
        rows += ["", "Ожидалось: «1 готово», «1 позвонил, заметка», «2 отложить 3д», «3 выиграна», "
                 "«4 проиграна: причина», «5 заметка текст»." if ru else
                 "Expected: '1 done', '1 called, note', '2 snooze 3d', '3 won', '4 lost reason', '5 note text'."]
    return "\n".join(rows) + "\n"
