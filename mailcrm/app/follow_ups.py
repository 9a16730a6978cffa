"""Follow-ups (issue 27): a mail BCC'd to ``crm+<secret>+3d@`` is recorded as usual and gets a reminder row.

The grammar is ``parse/subaddress.py``; this module writes the row inside the ingest transaction
(called by ``apply.stage_follow_up``) and reads which reminders are due for the digest.  "Answered"
is decided when read: a later inbound mail from one of the original's recipients, or in its thread.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcrm.config import Config, UserConfig
from mailcrm.parse.subaddress import FollowUp as FollowUpWord
from mailcrm.parse.subaddress import classify, subaddress_of
from mailcrm.store.models import FollowUp, Message, Participant


def follow_up_word(cfg: Config, recipients: Iterable[str]) -> tuple[UserConfig, str] | None:
    """The first recipient that is a dated dropbox sub-address: its user and its word ("3d")."""
    for rcpt in recipients:
        for user in cfg.users:
            word = subaddress_of(rcpt, user.dropbox)
            if word:
                return user, word
    return None


def record(session: Session, cfg: Config, message: Message, recipients: Iterable[str], now: dt.datetime) -> FollowUp | None:
    """Add the follow-up a dated sub-address among ``recipients`` asks for (``message`` has its id)."""
    found = follow_up_word(cfg, recipients)
    if found is None:
        return None
    user, word = found
    today = now.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(user.timezone)).date()
    parsed = classify(word, today)
    if not isinstance(parsed, FollowUpWord):
        return None  # commands and unknown words are answered elsewhere, not remembered here
    if session.scalar(select(FollowUp.id).where(FollowUp.message_id == message.id)) is not None:
        return None
    row = FollowUp(user_id=message.user_id, message_id=message.id, due=parsed.due, always=parsed.always,
                   word=word[:100], status="waiting", created_at=now)
    session.add(row)
    return row


@dataclass(frozen=True)
class DueFollowUp:
    """A waiting follow-up whose day has come and whose mail nobody answered (or ``always``)."""

    id: int
    due: dt.date
    always: bool
    subject: str
    date: dt.datetime
    recipients: tuple[str, ...]
    contact_ids: tuple[int, ...]


def _answered(session: Session, message: Message, recipients: list[str]) -> bool:
    """A mail in after ``message`` from one of its recipients, or in its thread (a reply, forwarded or read)."""
    later_in_thread = select(Message.id).where(
        Message.thread_key == message.thread_key, Message.direction == "in", Message.date > message.date,
        Message.id != message.id, Message.status == "active").limit(1)
    if session.scalar(later_in_thread) is not None:
        return True
    if not recipients:
        return False
    from_them = select(Participant.id).where(
        Participant.address.in_(recipients), Participant.direction == "in", Participant.date > message.date,
        Participant.message_id != message.id).limit(1)
    return session.scalar(from_them) is not None


def due(session: Session, user_id: int, today: dt.date) -> list[DueFollowUp]:
    """The user's waiting follow-ups due on or before ``today`` and not answered, oldest due first."""
    rows = session.execute(
        select(FollowUp, Message).join(Message, Message.id == FollowUp.message_id)
        .where(FollowUp.user_id == user_id, FollowUp.status == "waiting", FollowUp.due <= today)
        .order_by(FollowUp.due, FollowUp.id)).all()
    out = []
    for fu, msg in rows:
        people = session.execute(select(Participant.address, Participant.contact_id).where(
            Participant.message_id == msg.id, Participant.direction == "out",
            Participant.role.in_(("to", "cc")))).all()
        recipients = sorted({a for a, _ in people})
        if not fu.always and _answered(session, msg, recipients):
            continue
        out.append(DueFollowUp(fu.id, fu.due, fu.always, msg.subject, msg.date, tuple(recipients),
                               tuple(sorted({c for _, c in people if c is not None}))))
    return out
