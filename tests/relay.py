"""A capturing SMTP relay for digest tests: aiosmtpd on an ephemeral loopback port (test helper).

Optionally STARTTLS-only with a self-signed certificate and AUTH required; every accepted
message is kept (envelope, parsed message, whether TLS and AUTH were used).
"""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Captured:
    """One message the relay accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None


def self_signed(openssl: str, tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (SAN IP) and its key, made with the openssl CLI."""
    cert, key = tmp / "relay-cert.pem", tmp / "relay-key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class _Handler:
    def __init__(self, relay: "Relay") -> None:
        self.relay = relay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        tls = session.ssl is not None or self.relay.implicit_tls
        login = session.auth_data if session.authenticated else None
        with self.relay.lock:
            self.relay.messages.append(Captured(envelope.mail_from, list(envelope.rcpt_tos), msg,  # type: ignore[arg-type]
                                                tls, login))
        return "250 2.0.0 queued"


class Relay:
    """Start/stop-able capturing relay; ``messages`` survives restarts (same port)."""

    def __init__(self, port: int, *, cert: tuple[Path, Path] | None = None,
                 credentials: tuple[str, str] | None = None, implicit_tls: bool = False) -> None:
        self.port = port
        self.cert = cert
        self.implicit_tls = implicit_tls
        self.credentials = credentials
        self.messages: list[Captured] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    def _auth(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (isinstance(data, LoginPassword) and self.credentials is not None
              and (data.login.decode(), data.password.decode()) == self.credentials)
        # handled=False: aiosmtpd answers 535 itself (success=False alone leaves the client hanging).
        return AuthResult(success=True, auth_data=data.login.decode()) if ok else AuthResult(success=False, handled=False)

    def start(self) -> "Relay":
        """Listen on 127.0.0.1:port."""
        kwargs: dict[str, Any] = {}
        if self.cert is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(self.cert[0]), str(self.cert[1]))
            if self.implicit_tls:
                kwargs.update(ssl_context=ctx)  # TLS from the first byte (port 465 style)
            else:
                kwargs.update(tls_context=ctx, require_starttls=True)
        if self.credentials is not None:
            # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; implicit TLS is TLS too.
            kwargs.update(authenticator=self._auth, auth_required=True,
                          auth_require_tls=self.cert is not None and not self.implicit_tls)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening (connections are refused until start())."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def count(self) -> int:
        """How many messages were accepted so far."""
        with self.lock:
            return len(self.messages)

    def wait_for(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` messages arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= n:
                return True
            time.sleep(0.1)
        return self.count() >= n
