"""End-to-end: `mailcrm serve` as a subprocess, fed by smtplib and swaks (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port, make_config_text, require_tool, wait_for
from daemon_proc import DROPBOX, USER, DaemonProcess
from sqlalchemy import create_engine, func, select

from mailcrm.store.db import normalize_url
from mailcrm.store.models import Contact, EmailAddress, Message, Participant


def _msg(subject: str, to: str = "Ivan Petrov <ivan@theatre.ru>", mid: str | None = None, body: str = "Hello",
         sender: str = "Me <me@example.org>") -> bytes:
    headers = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", "Date: Mon, 02 Nov 2026 10:00:00 +0300"]
    if mid:
        headers.append(f"Message-ID: <{mid}>")
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()



@pytest.fixture
def daemon(tmp_path: Path, db_url: str):  # type: ignore[no-untyped-def]
    """A running daemon on a free port; stopped (SIGTERM) at the end."""
    port = free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(make_config_text(tmp_path, db_url, port))
    d = DaemonProcess(cfg, port, tmp_path / "serve.log").start()
    d.db_url = db_url  # type: ignore[attr-defined]
    yield d
    d.stop()


def _count(db_url: str, stmt) -> int:  # type: ignore[no-untyped-def]
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as c:
            return int(c.execute(stmt).scalar() or 0)
    finally:
        engine.dispose()


def test_bcc_copy_creates_contacts_and_timeline(daemon: DaemonProcess) -> None:
    with daemon.smtp() as s:
        s.sendmail(USER, [DROPBOX], _msg("Pitch: a play", to="Ivan Petrov <ivan@theatre.ru>, anna@gmail.com",
                                         mid="pitch-1@example.org"))
    assert wait_for(lambda: _count(daemon.db_url, select(func.count()).select_from(Message)) == 1)
    card = json.loads(daemon.cli("show", "ivan@theatre.ru", "--json").stdout)
    assert card["name"] == "Ivan Petrov"
    assert card["company"] == "theatre.ru"  # corporate domain groups into a company
    assert card["timeline"][0]["kind"] == "sent" and card["timeline"][0]["subject"] == "Pitch: a play"
    anna = json.loads(daemon.cli("show", "anna@gmail.com", "--json").stdout)
    assert anna["company"] is None  # free mail is never grouped by domain
    listed = json.loads(daemon.cli("contacts", "--json", "--search", "ivan").stdout)
    assert [c["name"] for c in listed] == ["Ivan Petrov"]


def test_swaks_delivery(daemon: DaemonProcess) -> None:
    swaks = require_tool("swaks")
    res = subprocess.run([swaks, "--server", f"127.0.0.1:{daemon.port}", "--from", USER, "--to", DROPBOX,
                          "--header", "From: Me <me@example.org>", "--header", "To: Olga <olga@film.example.com>",
                          "--header", "Subject: swaks test", "--body", "Hi Olga", "--silent", "2"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert wait_for(lambda: daemon.cli("show", "olga@film.example.com", check=False).returncode == 0)


def test_no_open_relay_and_unknown_author(daemon: DaemonProcess) -> None:
    with daemon.smtp() as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            s.sendmail(USER, ["someone@elsewhere.example"], _msg("relay"))
        assert exc.value.recipients["someone@elsewhere.example"][0] == 550
    with daemon.smtp() as s:
        with pytest.raises(smtplib.SMTPDataError) as exc2:
            s.sendmail("spammer@bad.example", [DROPBOX], _msg("spam", sender="spammer@bad.example"))
        assert exc2.value.smtp_code == 550
    time.sleep(0.5)
    assert _count(daemon.db_url, select(func.count()).select_from(Message)) == 0


def test_oversized_message_gets_552(daemon: DaemonProcess) -> None:
    big = _msg("big", body="x" * (1024 * 1024 + 10))
    with daemon.smtp() as s:
        with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as exc:
            s.sendmail(USER, [DROPBOX], big)
        assert exc.value.smtp_code == 552
    with daemon.smtp() as s:  # still serving
        assert s.noop()[0] == 250


BROKEN = [
    # broken MIME: boundary never closed, bad base64
    b"From: me@example.org\r\nTo: a@b.example\r\nSubject: broken\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64***\r\n",
    # windows-1251 body without charset, RFC 2047 koi8-r subject
    b"From: me@example.org\r\nTo: =?koi8-r?B?8MXU0s/X?= <petrov@teatr.example>\r\nSubject: =?koi8-r?B?8NLJ18XU?=\r\n\r\n"
    + "Здравствуйте, Иван!".encode("cp1251") + b"\r\n",
    # koi8-r body declared, unknown charset in a part, NUL bytes
    b"From: me@example.org\r\nTo: x@nul.example\r\nSubject: nul\x00bytes\r\nContent-Type: text/plain; charset=x-no-such\r\n\r\n"
    b"a\x00b\x00c \xff\xfe\r\n",
    # no headers at all
    b"\r\njust a body\r\n",
    # deeply nested multiparts
    b"From: me@example.org\r\nTo: deep@nest.example\r\nSubject: deep\r\n"
    + b"".join(f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n".encode() for i in range(300))
    + b"Content-Type: text/plain\r\n\r\ninner\r\n",
]


def test_bad_input_is_kept_and_daemon_keeps_serving(daemon: DaemonProcess) -> None:
    for i, raw in enumerate(BROKEN):
        with daemon.smtp() as s:
            s.ehlo()
            code, _ = s.mail(USER)
            assert code == 250
            s.rcpt(DROPBOX)
            code, msg = s.data(raw)
            assert code == 250, (i, msg)

    def settled() -> bool:
        st = json.loads(daemon.cli("status", "--json").stdout)
        return st["spool_depth"] == 0

    assert wait_for(settled, 30)
    st = json.loads(daemon.cli("status", "--json").stdout)
    stored = st["counts"]["messages"]
    assert stored + st["quarantine"] == len(BROKEN)
    q = json.loads(daemon.cli("quarantine", "list", "--json").stdout)
    assert all(item["reason"] for item in q)  # every quarantined message says why
    petrov = json.loads(daemon.cli("show", "petrov@teatr.example", "--json").stdout)
    assert petrov["name"] == "Петров"
    assert petrov["timeline"][0]["subject"] == "Привет"
    with daemon.smtp() as s:
        s.sendmail(USER, [DROPBOX], _msg("after the junk", mid="after@example.org"))
    assert wait_for(lambda: daemon.cli("show", "ivan@theatre.ru", check=False).returncode == 0)


def test_duplicate_delivery_and_restart_keep_one_copy(daemon: DaemonProcess) -> None:
    raw = _msg("twice", mid="dup-1@example.org")
    for _ in range(2):
        with daemon.smtp() as s:
            s.sendmail(USER, [DROPBOX], raw)
    no_mid = _msg("no message id", body="same body")
    for _ in range(2):
        with daemon.smtp() as s:
            s.sendmail(USER, [DROPBOX], no_mid)
    assert wait_for(lambda: json.loads(daemon.cli("status", "--json").stdout)["spool_depth"] == 0)
    assert _count(daemon.db_url, select(func.count()).select_from(Message)) == 2
    daemon.stop()
    daemon.start()
    with daemon.smtp() as s:
        s.sendmail(USER, [DROPBOX], raw)
    time.sleep(1.0)
    assert wait_for(lambda: json.loads(daemon.cli("status", "--json").stdout)["spool_depth"] == 0)
    assert _count(daemon.db_url, select(func.count()).select_from(Message)) == 2
    assert _count(daemon.db_url, select(func.count()).select_from(Contact)) == 1
    assert _count(daemon.db_url, select(func.count()).select_from(EmailAddress)) == 1
    assert _count(daemon.db_url, select(func.count()).select_from(Participant)) == 2


def test_quarantine_mode_keeps_unknown_author(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "config.toml"
    text = make_config_text(tmp_path, f"sqlite:///{tmp_path / 'q.sqlite3'}", port)
    cfg.write_text(text.replace('max_message_size = 1048576', 'max_message_size = 1048576\nunknown_sender = "quarantine"'))
    d = DaemonProcess(cfg, port, tmp_path / "serve.log").start()
    try:
        with d.smtp() as s:
            s.sendmail("stranger@else.example", [DROPBOX], _msg("who am i", sender="stranger@else.example"))
        assert wait_for(lambda: json.loads(d.cli("status", "--json").stdout)["quarantine"] == 1)
        q = json.loads(d.cli("quarantine", "list", "--json").stdout)
        assert "not a registered user" in q[0]["reason"]
        shown = json.loads(d.cli("quarantine", "show", q[0]["id"], "--json").stdout)
        assert shown["parsed"]["from"]["address"] == "stranger@else.example"
        retry = json.loads(d.cli("quarantine", "retry", q[0]["id"], "--json").stdout)
        assert list(retry["outcomes"].values()) == ["quarantined"]  # policy still says no
    finally:
        d.stop()


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    openssl = require_tool("openssl")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True)
    return cert, key


def test_starttls_and_auth_required(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    (tmp_path / "pw").write_text("s3cret\n")
    port = free_port()
    users = ('[[users]]\nemail = "me@example.org"\ndropbox = "crm+secret@example.org"\n'
             f'password_file = "{tmp_path / "pw"}"\n')
    text = make_config_text(tmp_path, f"sqlite:///{tmp_path / 'a.sqlite3'}", port, users=users)
    text = text.replace("max_message_size = 1048576",
                        f'max_message_size = 1048576\nrequire_auth = true\nrequire_tls = true\n'
                        f'tls_cert = "{cert}"\ntls_key = "{key}"')
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    d = DaemonProcess(cfg, port, tmp_path / "serve.log").start()
    try:
        with d.smtp() as s:  # no TLS: refused before MAIL
            s.ehlo()
            code, _ = s.mail(USER)
            assert code == 530
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with d.smtp() as s:
            s.starttls(context=ctx)
            s.ehlo()
            with pytest.raises(smtplib.SMTPAuthenticationError):
                s.login(USER, "wrong")
        with d.smtp() as s:
            s.starttls(context=ctx)
            s.ehlo()
            code, _ = s.mail(USER)
            assert code == 530  # TLS but no AUTH
        with d.smtp() as s:
            s.starttls(context=ctx)
            s.ehlo()
            s.login(USER, "s3cret")
            s.sendmail(USER, [DROPBOX], _msg("over tls", mid="tls@example.org"))
        assert wait_for(lambda: d.cli("show", "ivan@theatre.ru", check=False).returncode == 0)
    finally:
        d.stop()


def test_sigterm_drains_open_transaction(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(make_config_text(tmp_path, f"sqlite:///{tmp_path / 'd.sqlite3'}", port))
    d = DaemonProcess(cfg, port, tmp_path / "serve.log").start()
    try:
        s = d.smtp()
        s.ehlo()
        assert s.mail(USER)[0] == 250 and s.rcpt(DROPBOX)[0] == 250
        assert s.putcmd("data") is None and s.getreply()[0] == 354
        s.send(_msg("in flight", mid="inflight@example.org")[:60])
        assert d.proc is not None
        d.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(OSError):  # the listener no longer accepts
            socket.create_connection(("127.0.0.1", port), timeout=2).recv(10)
        s.send(_msg("in flight", mid="inflight@example.org")[60:] + b".\r\n")
        code, _ = s.getreply()
        assert code == 250  # the open transaction finished
        s.close()
        assert d.proc.wait(30) == 0
    finally:
        d.stop()
    d.start()
    try:
        assert wait_for(lambda: d.cli("show", "ivan@theatre.ru", check=False).returncode == 0)
    finally:
        d.stop()


def test_second_daemon_on_the_same_spool_refuses_to_start(daemon: DaemonProcess) -> None:
    res = daemon.cli("serve", "--listen", f"127.0.0.1:{free_port()}", check=False)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "already running" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_status_reports_the_sockets_the_running_daemon_has(tmp_path: Path) -> None:
    # Issue 19 item 6: status printed the config's port while the daemon listened on --listen's.
    configured, real = free_port(), free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(make_config_text(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", configured))
    d = DaemonProcess(cfg, real, tmp_path / "serve.log")
    log = open(d.log_path, "ab")
    d.proc = subprocess.Popen([sys.executable, "-m", "mailcrm", "serve", "--listen", f"127.0.0.1:{real}"], env=d.env(),
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert wait_for(lambda: json.loads(d.cli("status", "--json").stdout)["daemon"]["running"], 30)
        st = json.loads(d.cli("status", "--json").stdout)
        assert st["daemon"]["pid"] == d.proc.pid
        assert [(s["name"], s["listen"]) for s in st["sources"] if s["name"] == "smtp"] == [("smtp", f"127.0.0.1:{real}")]
        assert oct((tmp_path / "data" / "daemon.json").stat().st_mode & 0o777) == "0o600"
    finally:
        assert d.stop() == 0
    st = json.loads(d.cli("status", "--json").stdout)
    assert st["daemon"]["running"] is False
    assert [s.get("error") for s in st["sources"] if s["name"] == "smtp"] == ["not running"]


@pytest.mark.parametrize("url, said", [
    ("postgresql+psycopg://nobody@127.0.0.1:1/none", "database unavailable"),  # nothing listens on port 1
    ("mysql://root@127.0.0.1/test", "database.url"),  # a driver mailcrm does not take
])
def test_a_database_that_cannot_be_opened_stops_serve_with_one_line_before_it_listens(
        tmp_path: Path, url: str, said: str) -> None:
    # The worker process opens (and migrates) the store; the front end waits for it and says its one line.
    port = free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(make_config_text(tmp_path, url, port))
    res = subprocess.run([sys.executable, "-m", "mailcrm", "--config", str(cfg), "serve"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2, res.stderr[-2000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("mailcrm: ") and said in last and "Traceback" not in res.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
