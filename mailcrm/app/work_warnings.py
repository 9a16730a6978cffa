"""The "already sent" warning mail: pending ``work_warnings`` rows go out at once through the digest's relay.

The ingest stage only records the warning (inside the message's transaction); ``deliver_pending``
sends what is pending after the commit, one mail per repeat, in the user's language, and marks
each row sent or failed (a failed one is retried on the next kick, the digest lists it anyway).
``WarningMailer.kick`` is what the daemon calls from the worker thread after a commit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcrm import log
from mailcrm.config import Config
from mailcrm.digest.send import RelayError, deliver
from mailcrm.domain.outreach import warning_text
from mailcrm.store.db import transaction
from mailcrm.store.models import User, WorkWarning, utcnow


def build_warning(cfg: Config, to: str, lang: str, data: dict[str, object]) -> EmailMessage:
    """The warning mail for one repeat (plain text, auto-generated)."""
    subject, body = warning_text(lang, str(data.get("title") or ""), str(data.get("to") or ""),
                                 list(data.get("priors") or []))  # type: ignore[call-overload]
    msg = EmailMessage()
    msg["From"] = formataddr(("mailcrm", cfg.digest.from_address))
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid("repeat", domain=cfg.digest.from_address.rpartition("@")[2] or "localhost")
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834
    msg["X-Mailcrm-Warning"] = "repeat"
    msg.set_content(body)
    return msg


async def deliver_pending(factory: sessionmaker[Session], cfg: Config, *, base_delay: float = 2.0) -> int:
    """Send every pending warning; returns how many went out."""
    logger = log.get("mailcrm.works")
    with transaction(factory) as s:
        rows = s.execute(select(WorkWarning.id, WorkWarning.data, User.email, User.language)
                         .outerjoin(User, User.id == WorkWarning.user_id)
                         .where(WorkWarning.status == "pending").order_by(WorkWarning.id)).all()
    fallback = cfg.users[0] if cfg.users else None
    sent = 0
    for wid, data, email, lang in rows:
        to = email or (fallback.email if fallback else None)
        if not to:
            continue
        msg = build_warning(cfg, to, lang or (fallback.language if fallback else "ru"), dict(data or {}))
        try:
            await deliver(cfg.digest, msg, base_delay=base_delay)
            status, error = "sent", None
            sent += 1
        except RelayError as exc:
            status, error = "failed", str(exc)
            logger.warning("repeat warning not sent", warning=wid, error=error)
        with transaction(factory) as s:
            row = s.get(WorkWarning, wid)
            if row is not None:
                row.status, row.error = status, error
                row.sent_at = utcnow() if status == "sent" else None
    return sent


class WarningMailer:
    """Runs ``deliver_pending`` on the daemon's loop whenever the worker commits (coalesced)."""

    def __init__(self, cfg: Config, factory: sessionmaker[Session], loop: asyncio.AbstractEventLoop) -> None:
        self.cfg, self.factory, self.loop = cfg, factory, loop
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self.tasks: set[asyncio.Task[None]] = set()

    def kick(self) -> None:
        """Thread-safe: make sure a delivery round runs soon."""
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        self.loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        task = self.loop.create_task(self._run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self) -> None:
        while True:
            try:
                await deliver_pending(self.factory, self.cfg)
            except Exception as exc:  # noqa: BLE001 - a store hiccup must not kill the loop; next kick retries
                log.get("mailcrm.works").warning("repeat warnings failed", error=str(exc))
            with self._lock:
                if not self._again:
                    self._running = False
                    return
                self._again = False
