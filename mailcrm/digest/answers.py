"""Answers to replies to the digest (issue 27): what mailcrm did, mailed back at once through the digest's relay.

Written to ``answer_outbox`` in the reply's own transaction and sent by the daemon after the commit,
retried while the relay refuses or is down (app/answer_outbox.py): never lost, commands never repeated.  Every answer carries
``Auto-Submitted: auto-replied`` (RFC 3834 section 5) and references the reply, so a vacation
responder does not answer it and mailcrm's reply handling ignores anything that comes back.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from mailcrm.app.digest_replies import ReplyOutcome, answer_text
from mailcrm.config import Config
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
