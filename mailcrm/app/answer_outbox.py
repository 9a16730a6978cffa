"""Answers owed by mail (issue 27): kept in ``answer_outbox`` until the relay took them.

The answer to a digest reply or to a ``+find``/``+pending``/``+cancel``/``+outreach`` mail (and
the help for an unknown sub-address) is written, as the whole message, in the transaction that
handled the command (``enqueue``, from ``apply.stage_digest_reply``): a crash or a dead relay
loses nothing.  The daemon sends what is due after each commit (``deliver_due``); a refusal or a
relay that is down puts the row back with a delay that doubles per attempt (from ``[digest]
answer_retry_seconds`` up to an hour).  A row is claimed (``sending``) before the attempt, by a
conditional UPDATE, so two daemons never send it both; a daemon killed during the attempt leaves
a claim that is released after ``STALE_CLAIM`` (the relay may then get it twice, with the same
Message-ID, which is the most a crash there can cost).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from mailcrm import log
from mailcrm.app.digest_replies import ReplyOutcome
from mailcrm.config import Config
from mailcrm.parse.facts import MessageFacts
from mailcrm.store.db import transaction
from mailcrm.store.models import AnswerOutbox, User, utcnow

MAX_DELAY = 3600.0  # seconds: the longest wait between two attempts
STALE_CLAIM = dt.timedelta(minutes=10)  # a claim older than this was a daemon that died mid-attempt


def enqueue(session: Session, cfg: Config, outcome: ReplyOutcome, facts: MessageFacts, now: dt.datetime) -> AnswerOutbox:
    """Keep the answer to ``facts`` in the caller's transaction; it is sent after the commit."""
    assert outcome.answer_to is not None
    from mailcrm.digest.answers import build_answer  # the digest's templates: loaded when an answer is owed

    msg = build_answer(cfg, outcome, facts)
    uid = session.scalar(select(User.id).where(User.email == outcome.answer_to.lower()))
    row = AnswerOutbox(user_id=uid, to_address=outcome.answer_to, message_id=str(msg["Message-ID"]).strip("<> ")[:1000],
                       data=msg.as_bytes(), status="pending", attempts=0, next_attempt_at=now, created_at=now)
    session.add(row)
    return row


def retry_delay(attempts: int, base: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: base, 2 x base, 4 x base ... up to an hour."""
    return float(min(base * 2.0 ** max(0, attempts - 1), MAX_DELAY))


def claim_due(factory: sessionmaker[Session], now: dt.datetime, limit: int = 20) -> list[tuple[int, bytes]]:
    """Claim the answers due by ``now`` (oldest first): (id, message bytes) each."""
    with transaction(factory) as s:
        s.connection(execution_options={"immediate": True})  # SQLite: the write lock up front
        s.execute(update(AnswerOutbox).where(AnswerOutbox.status == "sending",
                                             AnswerOutbox.claimed_at < now - STALE_CLAIM).values(status="pending"))
        rows = s.execute(select(AnswerOutbox.id, AnswerOutbox.data).where(
            AnswerOutbox.status == "pending", AnswerOutbox.next_attempt_at <= now)
            .order_by(AnswerOutbox.id).limit(limit)).all()
        claimed = []
        for row_id, data in rows:
            # Conditional: another daemon (PostgreSQL) that claimed it first leaves nothing to update.
            res = s.execute(update(AnswerOutbox).where(AnswerOutbox.id == row_id, AnswerOutbox.status == "pending")
                            .values(status="sending", claimed_at=now))
            if getattr(res, "rowcount", 0) == 1:
                claimed.append((row_id, bytes(data)))
        return claimed


def mark(factory: sessionmaker[Session], row_id: int, error: str | None, now: dt.datetime, base: float) -> None:
    """Record one attempt: sent (``error`` None), or back to pending with the next attempt's time."""
    with transaction(factory) as s:
        s.connection(execution_options={"immediate": True})
        row = s.get(AnswerOutbox, row_id)
        if row is None:
            return
        row.attempts = (row.attempts or 0) + 1
        row.claimed_at = None
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", now, None
        else:
            row.status, row.last_error = "pending", error[:2000]
            row.next_attempt_at = now + dt.timedelta(seconds=retry_delay(row.attempts, base))


def next_due(factory: sessionmaker[Session]) -> dt.datetime | None:
    """When the earliest pending answer is due (None: nothing pending)."""
    with transaction(factory) as s:
        return s.scalar(select(func.min(AnswerOutbox.next_attempt_at)).where(AnswerOutbox.status == "pending"))


def waiting(session: Session) -> int:
    """Answers not sent yet (for `status`)."""
    return int(session.scalar(select(func.count()).select_from(AnswerOutbox)
                              .where(AnswerOutbox.status != "sent")) or 0)


async def deliver_due(factory: sessionmaker[Session], cfg: Config) -> tuple[int, int]:
    """Send every answer due now, one attempt each; (sent, failed).  Stops at the first failure:
    the relay is down or refusing, the others wait for the next round."""
    import asyncio

    from mailcrm.digest.send import RelayError, send_once

    logger = log.get("mailcrm.answers")
    base = cfg.digest.answer_retry_seconds
    sent = failed = 0
    claimed = await asyncio.to_thread(claim_due, factory, utcnow())
    for i, (row_id, data) in enumerate(claimed):
        msg = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        try:
            await send_once(cfg.digest, msg)
            error = None
            sent += 1
            logger.info("answer sent", answer=row_id, to=str(msg["To"]))
        except RelayError as exc:
            error = str(exc)
            failed += 1
            logger.warning("answer not sent, kept for a retry", answer=row_id, error=error)
        await asyncio.to_thread(mark, factory, row_id, error, utcnow(), base)
        if error is not None:
            # Release the rest unattempted (no attempt counted): they go with the next round.
            rest = [r for r, _ in claimed[i + 1:]]
            if rest:
                await asyncio.to_thread(_release, factory, rest)
            break
    return sent, failed


def _release(factory: sessionmaker[Session], ids: list[int]) -> None:
    with transaction(factory) as s:
        s.execute(update(AnswerOutbox).where(AnswerOutbox.id.in_(ids), AnswerOutbox.status == "sending")
                  .values(status="pending", claimed_at=None))
