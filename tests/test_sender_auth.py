"""Sender authentication end to end: a real daemon, smtplib from a non-trusted situation
(trusted_networks excludes 127.0.0.1), DKIM keys and SPF/DMARC records served by a DNS stub
on loopback, mail signed with dkimpy (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, make_config_text
from daemon_proc import DROPBOX, USER, DaemonProcess
from dkim_keys import keypair, sign
from dns_stub import DnsStub, dns_stub  # noqa: F401 - the fixture
from sqlalchemy import func, select
from test_smtp_daemon import _count, wait_for

from mailcrm import config
from mailcrm.cli.core import new_dropbox
from mailcrm.daemon import exposure_warnings
from mailcrm.errors import ConfigError
from mailcrm.store.models import Contact, EmailAddress, Message

ATTACKER = "evil@attacker.example"


def _msg(subject: str, mid: str, sender: str = "Me <me@example.org>", to: str = "Ivan Petrov <ivan@theatre.example>",
         body: str = "Hello, about the play.") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Mon, 02 Nov 2026 10:00:00 +0300\r\n"
            f"Message-ID: <{mid}>\r\n\r\n{body}\r\n").encode()


def zones(stub: DnsStub) -> None:
    """example.org: DKIM key s1, SPF allowing 127.0.0.1, DMARC p=reject; s9's key never answers."""
    stub.add_txt("s1._domainkey.example.org", keypair()[1])
    stub.add_txt("example.org", "v=spf1 ip4:127.0.0.1 -all")
    stub.add_txt("_dmarc.example.org", "v=DMARC1; p=reject")
    stub.add_txt("attacker.example", "v=spf1 ip4:127.0.0.1 -all")  # the attacker's own domain passes SPF
    stub.silent.add("s9._domainkey.example.org")


def start(tmp_path: Path, db_url: str, stub: DnsStub, policy: str = "require") -> DaemonProcess:
    port = free_port()
    cfg = tmp_path / "config.toml"
    extra = (f'[security]\nauthor_auth = "{policy}"\ntrusted_networks = ["192.0.2.0/24"]\n'
             f'dns_server = "{stub.address}"\ndns_timeout = 0.5\nmax_unknown_recipients = 3\n')
    cfg.write_text(make_config_text(tmp_path, db_url, port, extra=extra))
    d = DaemonProcess(cfg, port, tmp_path / "serve.log").start()
    d.db_url = db_url  # type: ignore[attr-defined]
    return d


@pytest.fixture
def require_daemon(tmp_path: Path, db_url: str, dns_stub: DnsStub) -> Iterator[DaemonProcess]:  # noqa: F811
    zones(dns_stub)
    d = start(tmp_path, db_url, dns_stub)
    yield d
    d.stop()


def _messages(d: DaemonProcess) -> int:
    return _count(d.db_url, select(func.count()).select_from(Message))  # type: ignore[attr-defined]


def _contacts(d: DaemonProcess, address: str) -> int:
    return _count(d.db_url, select(func.count()).select_from(EmailAddress)  # type: ignore[attr-defined]
                  .where(EmailAddress.address == address))


def _quarantine(d: DaemonProcess) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(d.cli("quarantine", "list", "--json").stdout)


def test_dkim_spf_forged_and_forward_under_require(require_daemon: DaemonProcess) -> None:
    d = require_daemon
    with d.smtp() as s:
        # 1. Aligned DKIM pass: signed by example.org, sent through an ESP whose envelope has no SPF.
        s.sendmail("bounces@esp.example.net", [DROPBOX],
                   sign(_msg("Pitch", "dkim-1@example.org"), "example.org"))
        # 2. SPF-only pass: unsigned, envelope me@example.org from an address example.org's SPF lists.
        s.sendmail(USER, [DROPBOX], _msg("Second", "spf-1@example.org", to="Olga <olga@film.example>"))
        # 3. Forged From: the attacker's envelope passes SPF for *its* domain, which is not aligned.
        s.sendmail(ATTACKER, [DROPBOX], _msg("Forged", "forged-1@attacker.example", to="mark@victim.example"))
        # 4. A forward by the user (signed by the user's domain): the original's author becomes a contact.
        fwd_body = ("FYI\r\n\r\n---------- Forwarded message ---------\r\nFrom: Anna Lee <anna@agency.example>\r\n"
                    "Date: Sun, 1 Nov 2026 at 09:00\r\nSubject: Casting\r\nTo: Me <me@example.org>\r\n\r\n"
                    "Can we meet on Tuesday?\r\n")
        s.sendmail("bounces@esp.example.net", [DROPBOX],
                   sign(_msg("Fwd: Casting", "fwd-1@example.org", body=fwd_body), "example.org"))
    assert wait_for(lambda: _messages(d) == 3 and len(_quarantine(d)) == 1)
    q = _quarantine(d)
    assert "unauthenticated_author" in q[0]["reason"] and q[0]["mail_from"] == ATTACKER
    assert _contacts(d, "mark@victim.example") == 0  # the forged mail created nothing
    ivan = json.loads(d.cli("show", "ivan@theatre.example", "--json").stdout)
    auth = ivan["timeline"][0]["auth"]
    assert auth["dkim"] == "pass" and auth["aligned"] is True and auth["dmarc"] == "pass"
    assert auth["spf"] == "none" and auth["proof"] == "dkim" and auth["flagged"] is False
    olga = json.loads(d.cli("show", "olga@film.example", "--json").stdout)
    auth = olga["timeline"][0]["auth"]
    assert (auth["dkim"], auth["spf"], auth["aligned"], auth["proof"]) == ("none", "pass", True, "spf")
    anna = json.loads(d.cli("show", "anna@agency.example", "--json").stdout)
    assert anna["timeline"][0]["auth"]["proof"] == "dkim"


def test_dns_timeout_is_temperror_and_daemon_goes_on(require_daemon: DaemonProcess) -> None:
    d = require_daemon
    with d.smtp() as s:
        # The key of selector s9 never answers: DKIM temperror, no other proof -> quarantined.
        s.sendmail("bounces@esp.example.net", [DROPBOX], sign(_msg("Slow", "slow-1@example.org"), "example.org", "s9"))
    assert wait_for(lambda: len(_quarantine(d)) == 1)
    reason = _quarantine(d)[0]["reason"]
    assert "unauthenticated_author" in reason and "temperror" in reason
    with d.smtp() as s:  # the daemon is fine and the next message goes through
        s.sendmail(USER, [DROPBOX], _msg("After", "after-1@example.org"))
    assert wait_for(lambda: _messages(d) == 1)
    shown = json.loads(d.cli("quarantine", "show", _quarantine(d)[0]["id"], "--json").stdout)
    assert shown["meta"]["auth"]["dkim"] == "temperror"
    assert shown["meta"]["evidence"] == {"client_ip": "127.0.0.1", "helo": shown["meta"]["evidence"]["helo"],
                                         "authenticated": False, "trusted_network": False}
    assert shown["meta"]["evidence"]["helo"]  # smtplib says EHLO with its host name
    # The test dropbox "crm+secret" is guessable: the daemon said so when it started.
    log = d.log_path.read_text()
    assert "insecure setting" in log and "crm+secret@example.org" in log and "64" in log


def test_session_dropped_after_unknown_recipients(require_daemon: DaemonProcess) -> None:
    d = require_daemon
    s = d.smtp()
    s.ehlo()
    s.mail(USER)
    codes = [s.rcpt(f"guess{i}@example.org")[0] for i in range(3)]
    assert codes == [550, 550, 421]
    with pytest.raises(smtplib.SMTPServerDisconnected):
        s.rcpt(DROPBOX)
        s.noop()
    s.close()
    with d.smtp() as s2:  # a new session starts afresh
        assert s2.noop()[0] == 250


def test_forged_from_is_flagged_under_mark(tmp_path: Path, db_url: str, dns_stub: DnsStub) -> None:  # noqa: F811
    zones(dns_stub)
    d = start(tmp_path, db_url, dns_stub, policy="mark")
    try:
        with d.smtp() as s:
            s.sendmail(ATTACKER, [DROPBOX], _msg("Forged", "forged-2@attacker.example", to="mark@victim.example"))
        assert wait_for(lambda: _messages(d) == 1)
        assert _quarantine(d) == []
        assert _contacts(d, "mark@victim.example") == 0  # stored, flagged, but it creates no contact
        with d.smtp() as s:  # a proven message to the same person does create the contact
            s.sendmail(USER, [DROPBOX], _msg("Real", "real-2@example.org", to="mark@victim.example"))
        assert wait_for(lambda: _contacts(d, "mark@victim.example") == 1)
        mark = json.loads(d.cli("show", "mark@victim.example", "--json").stdout)
        proofs = sorted(i["auth"]["proof"] for i in mark["timeline"] if i["type"] == "message")
        assert proofs == ["spf"]  # the flagged message is not on the card: it linked no contact
        assert _count(d.db_url, select(func.count()).select_from(Message)  # type: ignore[attr-defined]
                      .where(Message.author_proof == "none")) == 1
        assert _count(d.db_url, select(func.count()).select_from(Contact)) == 1  # type: ignore[attr-defined]
    finally:
        d.stop()


def _cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "mailcrm", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_inspect_shows_auth(tmp_path: Path, dns_stub: DnsStub) -> None:  # noqa: F811
    zones(dns_stub)
    eml = tmp_path / "m.eml"
    eml.write_bytes(sign(_msg("Pitch", "insp-1@example.org"), "example.org"))
    res = _cli("--config", str(tmp_path / "none.toml"), "inspect", str(eml), "--json", "--client-ip", "127.0.0.1",
               "--helo", "mx.example.org", "--mail-from", "me@example.org",
               env_extra={"MAILCRM_DNS_SERVER": dns_stub.address})
    assert res.returncode == 0, res.stderr
    auth = json.loads(res.stdout)["auth"]
    assert {k: auth[k] for k in ("dkim", "spf", "dmarc", "arc", "aligned")} == \
        {"dkim": "pass", "spf": "pass", "dmarc": "pass", "arc": "none", "aligned": True}
    eml.write_bytes(_msg("Forged", "insp-2@attacker.example"))
    res = _cli("--config", str(tmp_path / "none.toml"), "inspect", str(eml), "--json", "--client-ip", "127.0.0.1",
               "--mail-from", ATTACKER, env_extra={"MAILCRM_DNS_SERVER": dns_stub.address})
    auth = json.loads(res.stdout)["auth"]
    assert (auth["spf"], auth["dmarc"], auth["aligned"]) == ("pass", "fail", False)


def test_guessable_dropbox_warns_at_init_and_on_load(tmp_path: Path) -> None:
    assert config.secret_bits("crm-x@example.org") < 64
    assert config.secret_bits("crm+theatre2026@example.org") < 64
    for _ in range(200):  # what init draws is never warned about
        assert config.secret_bits(new_dropbox("me@example.org")) >= 64
    path = tmp_path / "c.toml"
    res = _cli("--config", str(path), "init", "--email", "me@example.org", "--dropbox", "crm-x@example.org",
               "--data-dir", str(tmp_path / "d"), "--json")
    assert res.returncode == 0, res.stderr
    [warning] = json.loads(res.stdout)["warnings"]
    assert "crm-x@example.org" in warning and "64" in warning and "dropbox rotate" in warning
    res = _cli("--config", str(path), "status", "--json")
    assert res.returncode == 0 and "crm-x@example.org" in json.loads(res.stdout)["warnings"][0]
    res = _cli("--config", str(path), "status")
    assert res.returncode == 0 and "warning:" in res.stderr and "crm-x@example.org" in res.stderr
    assert _cli("--config", str(path), "contacts", "--json").stderr == ""  # other commands stay quiet
    quiet = tmp_path / "q.toml"
    res = _cli("--config", str(quiet), "init", "--email", "me@example.org", "--data-dir", str(tmp_path / "e"), "--json")
    assert json.loads(res.stdout)["warnings"] == []


@pytest.mark.parametrize("text, expect", [
    ('[security]\ntrusted_networks = ["10.0.0.0/33"]\n', "security.trusted_networks: not a CIDR network"),
    ('[security]\nauthor_auth = "maybe"\n', "security.author_auth"),
    ('[security]\ndns_server = "localhost"\n', "security.dns_server: expected IP:PORT"),
])
def test_bad_security_settings_are_one_line(text: str, expect: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config.parse(text, "c.toml")
    assert expect in str(exc.value) and "\n" not in str(exc.value)


def test_exposure_warning() -> None:
    base = '[[users]]\nemail = "me@example.org"\ndropbox = "crm+0123456789abcdef0123@example.org"\n'
    mark = config.parse('[security]\nauthor_auth = "mark"\n' + base, "c.toml")
    assert exposure_warnings(mark, "127.0.0.1") == []
    [w] = exposure_warnings(mark, "0.0.0.0")
    assert "beyond loopback" in w and "require_auth" in w
    assert exposure_warnings(config.parse(base, "c.toml"), "0.0.0.0") == []  # require is the default
    auth = config.parse('[smtp]\nrequire_auth = true\n[security]\nauthor_auth = "off"\n' + base, "c.toml")
    assert exposure_warnings(auth, "192.0.2.1") == []
    assert config.parse(base, "c.toml").security.is_trusted_peer("::ffff:127.0.0.1")
    assert not config.parse('[security]\ntrusted_networks = []\n' + base, "c.toml").security.is_trusted_peer("127.0.0.1")
