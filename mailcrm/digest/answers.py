"""Answers to replies to the digest (issue 27): what mailcrm did, mailed back at once through the digest's relay.

Sent by the ingest worker after the reply's transaction committed (at most once: a crash in
between loses the answer, never repeats the commands).  Every answer carries
``Auto-Submitted: auto-replied`` (RFC 3834 section 5) and references the reply, so a vacation
responder does not answer it and mailcrm's reply handling ignores anything that comes back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from mailcrm import log
from mailcrm.app.digest_replies import ReplyOutcome, answer_text
from mailcrm.config import Config
from mailcrm.digest import send as send_mod
from mailcrm.parse.facts import MessageFacts


def build_answer(cfg: Config, outcome: ReplyOutcome, facts: MessageFacts) -> EmailMessage:
    """The confirmation mail for one applied reply."""
    assert outcome.answer_to is not None
    msg = EmailMessage()
    msg["From"] = formataddr(("mailcrm", cfg.digest.from_address))
    msg["To"] = outcome.answer_to
    subject = facts.subject or "mailcrm"
    msg["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid("answer", domain=cfg.digest.from_address.rpartition("@")[2] or "localhost")
    if facts.message_id:
        msg["In-Reply-To"] = f"<{facts.message_id}>"
        msg["References"] = " ".join(f"<{r}>" for r in (*facts.references, facts.message_id))
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content(answer_text(outcome))
    return msg


def send_answer(cfg: Config, outcome: ReplyOutcome, facts: MessageFacts, timeout: float = 30.0) -> bool:
    """One attempt through the relay from the worker thread; False (logged) when it failed."""
    logger = log.get("mailcrm.answers")
    try:
        asyncio.run(send_mod.send_once(cfg.digest, build_answer(cfg, outcome, facts), timeout=timeout))
    except send_mod.RelayError as exc:
        logger.warning("answer not sent", error=str(exc), to=outcome.answer_to)
        return False
    logger.info("answer sent", to=outcome.answer_to, commands=len(outcome.results))
    return True
