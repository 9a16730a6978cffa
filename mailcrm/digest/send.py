"""Deliver a rendered digest through the configured relay (aiosmtplib), with retries.

One ``ssl.SSLContext`` for the whole process: aiosmtplib builds a new one per connection
when given ``cert_bundle=``, which makes every retry pay for loading the CA store again.
Relay health goes to ``SourceState(name="relay")`` so `mailcrm status` shows it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

import aiosmtplib
from sqlalchemy.orm import Session

from mailcrm import log
from mailcrm.config import DigestConfig
from mailcrm.digest.render import Rendered
from mailcrm.store.models import SourceState, utcnow

RELAY_SOURCE = "relay"
MAX_DELAY = 300.0
_TLS: list[ssl.SSLContext] = []


class RelayError(Exception):
    """The relay refused or could not be reached (after retries); the message is one line."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def tls_context() -> ssl.SSLContext:
    """The process-wide client TLS context (system CA store, hostname checks on)."""
    if not _TLS:
        _TLS.append(ssl.create_default_context())
    return _TLS[0]


def build_message(rendered: Rendered, *, from_address: str, to: str, to_name: str | None,
                  local_date: dt.date, reply_to: str | None = None) -> EmailMessage:
    """A multipart/alternative mail (text first, HTML preferred by clients) for one digest."""
    msg = EmailMessage()
    msg["From"] = formataddr(("mailcrm", from_address))
    msg["To"] = formataddr((to_name or "", to))
    msg["Subject"] = rendered.subject
    if reply_to:
        msg["Reply-To"] = reply_to  # the dropbox's +digest sub-address: an answer carries commands
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid("digest", domain=from_address.rpartition("@")[2] or "localhost")
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: vacation responders must not answer it
    msg["X-Mailcrm-Digest"] = local_date.isoformat()
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return msg


async def send_once(dcfg: DigestConfig, message: EmailMessage, *, context: ssl.SSLContext | None = None,
                    timeout: float = 30.0) -> None:
    """One delivery attempt through the relay (STARTTLS / implicit TLS / none, AUTH when configured)."""
    context = context or tls_context()
    kwargs: dict[str, object] = {"hostname": dcfg.relay_host, "port": dcfg.relay_port, "timeout": timeout}
    if dcfg.relay_security == "tls":
        kwargs.update(use_tls=True, start_tls=False, tls_context=context)
    elif dcfg.relay_security == "starttls":
        kwargs.update(use_tls=False, start_tls=True, tls_context=context)
    else:
        kwargs.update(use_tls=False, start_tls=False)  # aiosmtplib would otherwise upgrade opportunistically
    if dcfg.relay_username:
        kwargs.update(username=dcfg.relay_username, password=dcfg.relay_password() or "")
    try:
        await aiosmtplib.send(message, **kwargs)  # type: ignore[arg-type]
    except aiosmtplib.SMTPResponseException as exc:
        raise RelayError(f"relay answered {exc.code} {exc.message}".strip(), permanent=exc.code >= 500) from None
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        raise RelayError(f"relay refused the recipient: {exc.recipients[0]}", permanent=min(codes) >= 500) from None
    except aiosmtplib.SMTPNotSupported as exc:
        raise RelayError(f"relay {dcfg.relay_host}:{dcfg.relay_port}: {exc}", permanent=True) from None
    except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
        # The bare SMTPException is aiosmtplib's "AUTH not offered": a config mismatch, not an outage.
        permanent = type(exc) is aiosmtplib.SMTPException
        raise RelayError(f"relay {dcfg.relay_host}:{dcfg.relay_port}: {type(exc).__name__}: {exc}",
                         permanent=permanent) from None


async def deliver(dcfg: DigestConfig, message: EmailMessage, *, context: ssl.SSLContext | None = None,
                  base_delay: float = 2.0, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                  before_attempt: Callable[[int], Awaitable[None]] | None = None,
                  after_failure: Callable[[int, RelayError], Awaitable[None]] | None = None) -> int:
    """Send with exponential backoff (2, 4, 8 … s, capped); returns attempts; RelayError when all fail.

    ``before_attempt`` runs right before each SMTP transaction (the scheduler marks the run as
    "handing to the relay" there), ``after_failure`` after each failed one (relay health for
    `mailcrm status`, shown while the retries are still going on).
    """
    logger = log.get("mailcrm.digest")
    attempt = 0
    while True:
        attempt += 1
        if before_attempt is not None:
            await before_attempt(attempt)
        try:
            await send_once(dcfg, message, context=context)
            return attempt
        except RelayError as exc:
            if after_failure is not None:
                await after_failure(attempt, exc)
            # A 5xx (bad AUTH, refused recipient) will not get better by waiting.
            if exc.permanent or attempt > dcfg.max_retries:
                raise
            delay = min(MAX_DELAY, base_delay * 2 ** (attempt - 1))
            logger.warning("relay failed, retrying", attempt=attempt, delay=delay, error=str(exc))
            await sleep(delay)


def record_relay(session: Session, ok: bool, error: str | None = None, *, user: str | None = None,
                 local_date: dt.date | None = None, attempt: int | None = None) -> None:
    """Remember the relay's health (and which digest it concerned) for `mailcrm status`."""
    row = session.get(SourceState, RELAY_SOURCE)
    if row is None:
        row = SourceState(name=RELAY_SOURCE, state={})
        session.add(row)
    now = utcnow()
    if ok:
        row.ok_at, row.error = now, None
    else:
        row.error, row.error_at = (error or "failed")[:2000], now
    if user is not None:
        # A new dict: the JSON column is not mutation-tracked.
        state = {**(row.state or {}), ("last_sent" if ok else "last_failure"): {
            "user": user, "date": local_date.isoformat() if local_date else None, "at": now.isoformat(),
            "attempt": attempt}}
        uncertain = state.get("uncertain")
        if ok and local_date and isinstance(uncertain, dict) and str(uncertain.get("date")) < local_date.isoformat():
            del state["uncertain"]  # a later day went out fine: yesterday's doubt is old news
        row.state = state
    row.updated_at = now


def record_uncertain(session: Session, local_date: dt.date, note: str) -> None:
    """Note on the relay's status row a digest whose delivery is unknown (its sender died mid-SMTP)."""
    row = session.get(SourceState, RELAY_SOURCE)
    if row is None:
        row = SourceState(name=RELAY_SOURCE, state={})
        session.add(row)
    row.state = {**(row.state or {}), "uncertain": {"date": local_date.isoformat(), "note": note[:500]}}
    row.updated_at = utcnow()


def plus_address(dropbox: str, word: str) -> str:
    """``crm+k3f9@example.org`` + ``digest`` -> ``crm+k3f9+digest@example.org``."""
    local, _, domain = dropbox.rpartition("@")
    return f"{local}+{word}@{domain}"
