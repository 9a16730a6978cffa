"""Applying bounces to the store: verify against mail we sent, then change address status.

A bounce changes an address only when it is *verified* (domain.bounces.verify_bounce):
mail from a user to that address was recorded before the bounce and, when the bounce
names the original Message-ID, it is one of those.  Otherwise the event is kept as
"unverified" for review and nothing changes (forged bounces cannot kill contacts).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcrm.config import Config
from mailcrm.domain import bounces as rules
from mailcrm.errors import NotFound
from mailcrm.parse.facts import MessageFacts
from mailcrm.store import repository as repo
from mailcrm.store.models import Activity, BounceEvent, Contact, EmailAddress, Message, Participant, utcnow


def sent_records(session: Session, address: str, before: dt.datetime) -> list[rules.SentRecord]:
    """Mail a user sent to ``address`` up to ``before`` (newest first, at most 50)."""
    q = (
        select(Message.message_id, Message.date, Message.subject)
        .join(Participant, Participant.message_id == Message.id)
        .where(Participant.address == address, Participant.direction == "out", Message.kind == "sent")
        .where(Message.date <= before + dt.timedelta(hours=1))  # clock skew between MTAs
        .order_by(Message.date.desc())
        .limit(50)
    )
    return [rules.SentRecord(message_id=mid, sent_at=d, subject=subj) for mid, d, subj in session.execute(q)]


def apply_bounce(session: Session, cfg: Config, message: Message, facts: MessageFacts) -> list[BounceEvent]:
    """Record one event per failed recipient; the kill/suspect/none rule (domain.bounces) sets the status.

    An address is killed only by a permanent "does not exist" failure tied to mail recorded as
    sent there through the original's Message-ID (or confirmed by an independent report 24 h or
    more apart); a report that quotes no original, or a run of soft failures, makes it suspect.
    """
    from mailcrm.parse.bounce import DELAYED  # the bounce parser's module: loaded with the first bounce

    bounce = facts.bounce
    if bounce is None:
        return []
    events: list[BounceEvent] = []
    any_verified = False
    for r in bounce.recipients:
        records = sent_records(session, r.address, message.date)
        verdict = rules.verify_bounce(bounce, r.address, records)
        tie = rules.tie_of(bounce, r.address, records)
        addr = repo.find_address(session, r.address)
        prior = [rules.PriorReport(at=e.at, reason=e.reason, permanent=e.hard if e.permanent is None else e.permanent,
                                   tie=_tie(e), report_id=e.report_id)
                 for e in session.scalars(select(BounceEvent).where(BounceEvent.address == r.address,
                                                                     BounceEvent.effect != DELAYED))]
        ev = BounceEvent(
            message_id=message.id, address=r.address, address_id=addr.id if addr else None, hard=r.hard,
            status=r.status, reason=r.reason, diagnostic=(r.diagnostic or "")[:2000] or None,
            verified=verdict.verified, verify_note=verdict.reason, effect="none", at=message.date,
            permanent=r.permanent, tie=tie, report_id=(facts.message_id or "")[:998] or None,
        )
        session.add(ev)
        events.append(ev)
        if addr is None or tie == "unrelated":
            continue
        any_verified = any_verified or verdict.verified
        if r.reason == DELAYED:
            ev.effect = DELAYED  # not delivered yet, still retried: on the timeline, not in any rule
        else:
            decision = rules.decide_bounce(r.reason, r.hard if r.permanent is None else r.permanent, tie, at=message.date, prior=prior,
                                           report_id=facts.message_id, soft_run=cfg.bounces.soft_threshold,
                                           soft_window_days=cfg.bounces.soft_window_days)
            ev.verify_note = decision.why
            if decision.action == "kill":
                _mark_bounced(session, addr, decision.why, message)
                ev.effect = "bounced"
            elif decision.action == "suspect":
                _mark_suspect(addr, decision.why)
                ev.effect = "suspect"
        session.add(Activity(contact_id=addr.contact_id, message_id=message.id, user_id=message.user_id,
                             kind="bounce", at=message.date,
                             text=(f"delivery to {r.address} delayed" + (f": {r.status}" if r.status else "") if ev.effect == DELAYED
                                   else f"{'hard' if r.hard else 'soft'} bounce of {r.address}: {r.reason or r.status or ''}"
                                   + (f" ({ev.effect})" if ev.effect in ("bounced", "suspect") else "")),
                             data={"address": r.address, "hard": r.hard, "effect": ev.effect, "reason": r.reason}))
    if not any_verified:
        message.status = "unverified"
    return events


def _tie(event: BounceEvent) -> rules.Tie:
    """An earlier event's tie (events recorded before revision 0003: verified means tied by Message-ID)."""
    if event.tie in ("message_id", "unquoted", "unrelated"):
        return event.tie  # type: ignore[return-value]
    return "message_id" if event.verified else "unquoted"


def _mark_suspect(addr: EmailAddress, reason: str) -> None:
    """An active address becomes suspect ("check this address"); a dead one stays dead."""
    if addr.status != "active":
        return
    addr.status = "suspect"
    addr.status_reason = reason
    addr.status_changed_at = utcnow()


def confirm_bounced(session: Session, address: str) -> dict[str, Any]:
    """The user confirms that ``address`` is dead (a suspect one, or any other)."""
    addr = repo.find_address(session, address)
    if addr is None:
        raise NotFound(f"unknown address {address}")
    _mark_bounced(session, addr, "confirmed dead by the user", None)
    return {"address": addr.address, "status": addr.status}


def _mark_bounced(session: Session, addr: EmailAddress, reason: str, message: Message | None) -> None:
    if addr.status == "bounced":
        return
    addr.status = "bounced"
    addr.status_reason = reason
    addr.status_changed_at = utcnow()
    session.flush()
    contact = session.get(Contact, addr.contact_id)
    if contact is None:
        return
    live = [a for a in repo.contact_addresses(session, contact.id) if a.status == "active"]
    if not live:
        contact.needs_new_address = True


def list_bounces(session: Session, since: dt.datetime | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Recent bounce events, newest first."""
    q = select(BounceEvent).order_by(BounceEvent.at.desc(), BounceEvent.id.desc()).limit(limit)
    if since is not None:
        q = q.where(BounceEvent.at >= since)
    return [{"id": e.id, "at": e.at, "address": e.address, "hard": e.hard, "status": e.status, "reason": e.reason,
             "verified": e.verified, "note": e.verify_note, "effect": e.effect, "message_id": e.message_id}
            for e in session.scalars(q)]


def reactivate(session: Session, address: str) -> dict[str, Any]:
    """Set a bounced or suspect address active again (the user knows better)."""
    addr = repo.find_address(session, address)
    if addr is None:
        raise NotFound(f"unknown address {address}")
    addr.status = "active"
    addr.status_reason = "reactivated by the user"
    addr.status_changed_at = utcnow()
    contact = session.get(Contact, addr.contact_id)
    if contact is not None:
        contact.needs_new_address = False
    return {"address": addr.address, "status": addr.status}
