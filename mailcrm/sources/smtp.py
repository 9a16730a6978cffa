"""The SMTP dropbox: aiosmtpd handler with the policy in MAIL/RCPT/DATA hooks.

- RCPT only to configured dropbox addresses (and their +sub-addresses): no open relay (550 5.1.1).
- DATA: the author (header From or envelope sender) must be a registered user, except
  delivery reports (null sender <>, MAILER-DAEMON) and RFC 3834 auto-replies, which go
  to the bounce/auto-reply rules; others are refused (550 5.7.1) or quarantined (config).
- 250 only after the bytes received (``envelope.original_content``) are fsync'd in the spool
  (group commit: one fsync for the messages of a millisecond or two, ``spool_commit.py``).
- Surprises answer 451 4.3.0 without internal text (house rule 2).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import email.utils
import hmac
import ssl
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from mailcrm import log
from mailcrm.config import Config, dropbox_matches
from mailcrm.domain.leads import sender_matches
from mailcrm.parse.addresses import is_mail_system
from mailcrm.sources import smtp_data
from mailcrm.sources.smtp_guard import STATS_FILE, GuardedSMTP, SmtpGuard, connection_budget
from mailcrm.spool import Spool, SpoolMeta
from mailcrm.spool_commit import GroupCommit

_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def _author_addresses(raw: bytes) -> tuple[list[str], bool]:
    """Header From/Sender addresses and whether the message declares itself automatic."""
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw[:262144] else raw.split(b"\n\n", 1)[0]
    try:
        msg = _HEADER_PARSER.parsebytes(head[:262144])
        values = [str(v) for v in (msg.get_all("From") or []) + (msg.get_all("Sender") or [])]
        addrs = [a.lower() for _, a in email.utils.getaddresses(values) if a]
        auto = str(msg.get("Auto-Submitted", "no")).strip().lower() not in ("", "no")
        ctype = str(msg.get("Content-Type", "")).lower()
        report = "multipart/report" in ctype
    except Exception:  # noqa: BLE001 - unparseable headers: no known author
        return [], False
    return addrs, auto or report


class DropboxHandler:
    """aiosmtpd handler: policy checks and durable spooling."""

    def __init__(self, cfg: Config, spool: Spool) -> None:
        self.cfg = cfg
        self.spool = spool
        self.log = log.get("mailcrm.smtp")
        self.users = cfg.user_addresses()
        # Form builders' robots ([[forms]] from = ...): their notification mail is a lead.
        self.form_senders = [a for f in cfg.forms for a in f.senders]
        self.in_flight = 0
        self.committer = GroupCommit(spool, cfg.ingest.group_commit_ms / 1000)

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        """Accept the envelope sender; SIZE is checked against the limit up front."""
        for opt in mail_options:
            if opt.upper().startswith("SIZE="):
                try:
                    if int(opt[5:]) > self.cfg.smtp.max_message_size:
                        return "552 5.3.4 Message size exceeds fixed limit"
                except ValueError:
                    return "501 5.5.4 Bad SIZE parameter"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        """Only dropbox addresses are local; everything else is relaying and refused."""
        a = address.lower().strip("<>")
        if not any(dropbox_matches(u.dropbox, a) for u in self.cfg.users):
            self.log.info("rcpt refused", peer=_peer(session), rcpt=a)
            if _count_unknown_recipient(session) >= self.cfg.security.max_unknown_recipients:
                return _drop_session(server, self.log, session)
            return "550 5.1.1 No such mailbox here (relaying denied)"
        envelope.rcpt_tos.append(a)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Check the author, spool durably, then (and only then) answer 250."""
        raw: bytes = envelope.original_content or b""
        if len(raw) > self.cfg.smtp.max_message_size:
            return "552 5.3.4 Message size exceeds fixed limit"
        mail_from = (envelope.mail_from or "").strip("<>").lower()
        authors, automatic = _author_addresses(raw)
        is_report = mail_from == "" or is_mail_system(mail_from)
        known = mail_from in self.users or any(a in self.users for a in authors)
        if self.form_senders and not known:
            known = any(sender_matches(self.form_senders, a) for a in [*authors, mail_from] if a)
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            known = known or session.auth_data.login.decode("utf-8", "replace").lower() in self.users
        reason = None
        if not (known or is_report or automatic):
            if self.cfg.smtp.unknown_sender == "reject":
                self.log.info("author refused", peer=_peer(session), mail_from=mail_from)
                return "550 5.7.1 Sender is not a registered user of this CRM"
            reason = "unknown sender"
        meta = SpoolMeta(
            source="smtp",
            mail_from=mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            peer=_peer(session),
            auth_user=(session.auth_data.login.decode("utf-8", "replace")
                       if isinstance(session.auth_data, LoginPassword) else None),
            evidence=sender_evidence(self.cfg, session),
        )
        self.in_flight += 1
        try:
            item_id = await self.committer.put(raw, meta)  # returns after the fsync covering it
        finally:
            self.in_flight -= 1
        # An unknown author under unknown_sender="quarantine" is quarantined by the worker's
        # policy stage; the bytes are kept for review.
        self.log.info("spooled", spool_id=item_id, size=len(raw), rcpts=len(envelope.rcpt_tos), note=reason)
        return f"250 2.0.0 OK queued as {item_id}"

    async def handle_exception(self, error: Exception) -> str:
        """Log and answer 451: the default 5xx would leak the exception text."""
        self.log.error("smtp internal error", error=f"{type(error).__name__}: {error}")
        return "451 4.3.0 Internal error, please try again later"


class Authenticator:
    """AUTH PLAIN/LOGIN against the users' configured passwords (login = user email)."""

    def __init__(self, cfg: Config) -> None:
        self.passwords: dict[str, str] = {}
        for u in cfg.users:
            pw = u.password()
            if pw:
                self.passwords[u.email] = pw

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        """Return success, or handled=False so aiosmtpd answers 535 (success=False alone hangs)."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace").lower()
        password = auth_data.password.decode("utf-8", "replace")
        expected = self.passwords.get(login)
        if expected is not None and hmac.compare_digest(expected.encode(), password.encode()):
            return AuthResult(success=True, auth_data=auth_data)
        # Throttled and logged by the session (smtp_guard.py): 421 instead of 535 when it closes.
        reply = server.note_auth_failure(login) if isinstance(server, GuardedSMTP) else None
        return AuthResult(success=False, handled=False, message=reply)


# -- sender evidence and recipient guessing (issue 20) -------------------------------------------
def sender_evidence(cfg: Config, session: Session) -> dict[str, Any]:
    """What only the SMTP session knows, for the worker's author check (kept in the sidecar)."""
    ip = session.peer[0] if isinstance(session.peer, tuple) and session.peer else None
    return {
        "client_ip": ip,
        "helo": session.host_name,
        "authenticated": bool(session.authenticated),
        "trusted_network": cfg.security.is_trusted_peer(ip),
    }


def _count_unknown_recipient(session: Session) -> int:
    """Count a refused recipient on the session; returns how many it has tried."""
    n = int(getattr(session, "mailcrm_unknown_rcpts", 0)) + 1
    session.mailcrm_unknown_rcpts = n  # type: ignore[attr-defined]
    return n


def _drop_session(server: SMTP, logger: Any, session: Session) -> str:
    """Answer 421 and close: a client guessing the dropbox gets a few tries per connection (RFC 5321 4.2.2)."""
    logger.warning("smtp session dropped", peer=_peer(session), reason="too many unknown recipients")
    transport = server.transport
    if transport is not None:
        # Closed after the reply is written (asyncio flushes the buffer before closing).
        asyncio.get_running_loop().call_soon(transport.close)
    return "421 4.7.0 Too many unknown recipients, closing connection"


def _peer(session: Session) -> str | None:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return f"{peer[0]}:{peer[1]}" if len(peer) > 1 else str(peer[0])
    return str(peer) if peer else None


def tls_context(cfg: Config) -> ssl.SSLContext | None:
    """Server TLS context for STARTTLS when a certificate is configured."""
    if not cfg.smtp.tls_cert or not cfg.smtp.tls_key:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cfg.smtp.tls_cert, cfg.smtp.tls_key)
    return ctx


def make_protocol_factory(cfg: Config, handler: DropboxHandler, sessions: set[SMTP],  # type: ignore[no-untyped-def]
                          guard: SmtpGuard | None = None):
    """A factory of SMTP protocol objects sharing one handler (tracked for draining) and one guard."""
    if guard is None:
        budget = connection_budget(cfg.smtp.max_connections)
        if budget < cfg.smtp.max_connections:
            log.get("mailcrm.smtp").warning("max_connections lowered to fit the open-file limit",
                                            configured=cfg.smtp.max_connections, effective=budget)
        guard = SmtpGuard(cfg.smtp, cfg.data_path() / STATS_FILE, max_total=budget)
    tls = tls_context(cfg)
    authenticator = Authenticator(cfg)
    auth_enabled = bool(authenticator.passwords)

    def factory() -> SMTP:
        smtp = _TrackedSMTP(
            handler,
            sessions=sessions,
            guard=guard,
            data_size_limit=cfg.smtp.max_message_size,
            enable_SMTPUTF8=True,
            hostname=cfg.smtp.hostname,
            ident="mailcrm ESMTP",
            tls_context=tls,
            require_starttls=cfg.smtp.require_tls,
            auth_required=cfg.smtp.require_auth,
            auth_require_tls=not cfg.smtp.auth_allow_plaintext,
            authenticator=authenticator if auth_enabled or cfg.smtp.require_auth else None,
            timeout=300,
        )
        return smtp

    factory.guard = guard  # type: ignore[attr-defined]
    return factory


class _TrackedSMTP(GuardedSMTP):
    """An SMTP session registered in a set while connected (so SIGTERM can wait for it)."""

    def __init__(self, handler: Any, *, sessions: set[SMTP], **kw: Any) -> None:
        super().__init__(handler, **kw)
        self._sessions = sessions

    def connection_made(self, transport: Any) -> None:
        """Register the session."""
        self._sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        """Unregister the session."""
        self._sessions.discard(self)
        super().connection_lost(exc)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA with the message read in bulk (``smtp_data.py``); the same replies."""
        if not smtp_data.supported(self._reader) or self._decode_data:
            await super().smtp_DATA(arg)
            return
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content, error = await smtp_data.read_data(self._reader, self.data_size_limit, self.line_length_limit)
        except asyncio.CancelledError:
            self._writer.close()  # the connection went away during DATA (as aiosmtpd does)
            raise
        except asyncio.IncompleteReadError:
            self._writer.close()
            return
        if content is None:
            await self.push(error or smtp_data.TOO_MUCH)
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            return
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)
