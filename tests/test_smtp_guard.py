"""Issue 21 item 2: AUTH guessing is throttled per connection and per client address (growing
delay, 421 and close, a temporary lockout), failures are logged without the password and counted
in `status`; and the two AUTH config mistakes are config errors."""

from __future__ import annotations

import base64
import smtplib
import time
from pathlib import Path

import pytest
from smtp_live import config_text, live_listener
from structlog.testing import capture_logs

from mailcrm import config
from mailcrm.errors import ConfigError
from mailcrm.sources.smtp_guard import read_stats

GUARD = ("auth_allow_plaintext = true\nauth_failure_delay = 0.2\nauth_failures_per_connection = 3\n"
         "auth_failures_per_address = 5\nauth_lockout_seconds = 60\n")


def plain(login: str, password: str) -> str:
    """An AUTH PLAIN initial response."""
    return "PLAIN " + base64.b64encode(f"\0{login}\0{password}".encode()).decode()


def test_auth_guessing_is_throttled_logged_and_counted(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("right\n")
    text = config_text(tmp_path, GUARD, f'password_file = "{tmp_path / "pw"}"')
    with live_listener(tmp_path, text) as live, capture_logs() as logs:
        s = smtplib.SMTP("127.0.0.1", live.port, timeout=30)
        s.ehlo()
        t0 = time.monotonic()
        codes = [s.docmd("AUTH", plain("me@example.org", f"guess-{n}"))[0] for n in range(2)]
        assert codes == [535, 535]
        # The third failure on this connection: 421 and the server closes it.
        assert s.docmd("AUTH", plain("me@example.org", "guess-2"))[0] == 421
        elapsed = time.monotonic() - t0
        assert elapsed >= 0.2 + 0.4 * 0.9  # delays 0.2 then 0.4 s (doubling) before the next commands
        with pytest.raises(smtplib.SMTPServerDisconnected):
            s.docmd("NOOP")
        # A new connection from the same address continues the address's count: two more
        # failures make five, and the address is locked out.
        s = smtplib.SMTP("127.0.0.1", live.port, timeout=30)
        s.ehlo()
        assert s.docmd("AUTH", plain("me@example.org", "guess-3"))[0] == 535
        assert s.docmd("AUTH", plain("me@example.org", "guess-4"))[0] == 421
        s.close()
        # Locked out: refused at connect, even with the right password.
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP("127.0.0.1", live.port, timeout=30)
        assert refused.value.smtp_code == 421
        assert live.guard.locked_for("127.0.0.1") > 50
        live.guard.write_stats()
        stats = read_stats(tmp_path / "data")
    failures = [e for e in logs if e["event"] == "auth failed"]
    assert len(failures) == 5 and all(e["login"] == "me@example.org" for e in failures)
    assert not any("guess-" in repr(e) for e in logs)  # never the password
    assert stats is not None and stats["auth_failures"] == 5 and stats["auth_lockouts"] == 1
    assert stats["locked_addresses"] == ["127.0.0.1"] and stats["connections_refused_locked"] == 1
    # `mailcrm status --json` shows them on the smtp source.
    from mailcrm.cli.core import status_data

    shown = status_data(config.parse(text, "t"))["sources"][0]
    assert shown["name"] == "smtp" and shown["guard"]["auth_failures"] == 5 and shown["guard"]["auth_lockouts"] == 1


def test_right_password_still_works_and_rate_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("right\n")
    text = config_text(tmp_path, GUARD.replace("auth_failures_per_address = 5", "auth_failures_per_address = 50"),
                       f'password_file = "{tmp_path / "pw"}"')
    with live_listener(tmp_path, text) as live:
        s = smtplib.SMTP("127.0.0.1", live.port, timeout=30)
        s.ehlo()
        assert s.docmd("AUTH", plain("me@example.org", "wrong"))[0] == 535
        assert s.docmd("AUTH", plain("me@example.org", "right"))[0] == 235
        s.quit()
        # Guessing over fresh connections is paced by the doubling delay of the address.
        t0 = time.monotonic()
        tries = 0
        while time.monotonic() - t0 < 2.0:
            s = smtplib.SMTP("127.0.0.1", live.port, timeout=30)
            s.ehlo()
            s.docmd("AUTH", plain("me@example.org", "wrong"))
            s.docmd("NOOP")  # waits out the delay
            s.close()
            tries += 1
        assert tries <= 5  # 0.4 + 0.8 + 1.6 ... s; without the guard this ran at thousands a second
        assert live.guard.counters["auth_failures"] == tries + 1


@pytest.mark.parametrize("smtp, expect", [
    ('host = "0.0.0.0"\nauth_allow_plaintext = true\n', "smtp: auth_allow_plaintext = true would send passwords"),
    ('host = "192.0.2.1"\nauth_allow_plaintext = true\n', "allowed only with a loopback host"),
    ("require_auth = true\n", "smtp: require_auth = true without tls_cert/tls_key refuses all mail"),
])
def test_auth_config_mistakes_are_config_errors(smtp: str, expect: str) -> None:
    text = f"[smtp]\n{smtp}[[users]]\nemail = \"me@example.org\"\ndropbox = \"crm+x@example.org\"\n"
    with pytest.raises(ConfigError) as exc:
        config.parse(text, "/etc/mailcrm/config.toml")
    assert str(exc.value).startswith("/etc/mailcrm/config.toml: ") and expect in str(exc.value)
    assert "\n" not in str(exc.value)


def test_plaintext_on_loopback_and_auth_with_tls_are_fine() -> None:
    users = '[[users]]\nemail = "me@example.org"\ndropbox = "crm+x@example.org"\n'
    assert config.parse(f"[smtp]\nauth_allow_plaintext = true\nrequire_auth = true\n{users}").smtp.require_auth
    assert config.parse(f'[smtp]\nhost = "::1"\nauth_allow_plaintext = true\n{users}').smtp.auth_allow_plaintext


def test_listen_override_cannot_expose_plaintext_auth(tmp_path: Path) -> None:
    from mailcrm.daemon import Daemon

    cfg = config.parse(config_text(tmp_path, "auth_allow_plaintext = true\n"), "/etc/mailcrm/config.toml")
    with pytest.raises(ConfigError) as exc:
        Daemon(cfg, listen=("0.0.0.0", 2525)).build()
    assert "auth_allow_plaintext" in str(exc.value) and "--listen" in str(exc.value)
