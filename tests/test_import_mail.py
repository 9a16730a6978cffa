"""`mailcrm import mbox|maildir|imap` (real CLI subprocesses, real Dovecot) and `serve` with an IMAP source."""

from __future__ import annotations

import json
import mailbox
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, make_config_text, require_tool
from daemon_proc import DaemonProcess
from dovecot import DOVECOT, PASSWORD, USER, Dovecot, imap_block, make_message
from sqlalchemy import create_engine, func, select

from mailcrm.store.db import normalize_url
from mailcrm.store.models import EmailAddress, Message, SourceState


@pytest.fixture
def server() -> Iterator[Dovecot]:
    """A plain-auth loopback Dovecot, removed afterwards."""
    require_tool("dovecot", DOVECOT)
    d = Dovecot()
    try:
        d.start()
        yield d
    finally:
        d.cleanup()


def _config(tmp_path: Path, extra: str = "") -> tuple[Path, str]:
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    path = tmp_path / "config.toml"
    path.write_text(make_config_text(tmp_path, url, free_port(), extra=extra))
    return path, url


def _cli(config: Path, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MAILCRM_CONFIG=str(config))
    res = subprocess.run([sys.executable, "-m", "mailcrm", *args], env=env, capture_output=True, text=True,
                         timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"mailcrm {' '.join(args)} -> {res.returncode}: {res.stderr[-2000:]}")
    return res


def _count(url: str, stmt) -> int:  # type: ignore[no-untyped-def]
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as c:
            return int(c.execute(stmt).scalar() or 0)
    finally:
        engine.dispose()


def test_mbox_import_is_idempotent_and_resumable(tmp_path: Path) -> None:
    config, url = _config(tmp_path)
    box_path = tmp_path / "sent.mbox"
    box = mailbox.mbox(str(box_path))
    for i in range(300):
        box.add(make_message(i))
    box.flush()
    box.close()
    first = json.loads(_cli(config, "import", "mbox", str(box_path), "--json").stdout)
    assert first["found"] == 300 and first["stored"] == 300
    assert _count(url, select(func.count()).select_from(Message)) == 300
    assert _count(url, select(func.count()).select_from(EmailAddress)) == 300
    again = json.loads(_cli(config, "import", "mbox", str(box_path), "--json").stdout)
    assert again["found"] == 0 and again["resumed_from"] == 300  # checkpoint: nothing re-read
    # New mail appended to the file: only that is read.
    box = mailbox.mbox(str(box_path))
    for i in range(300, 310):
        box.add(make_message(i))
    box.flush()
    box.close()
    more = json.loads(_cli(config, "import", "mbox", str(box_path), "--json").stdout)
    assert more["found"] == 10 and more["stored"] == 10
    assert _count(url, select(func.count()).select_from(Message)) == 310


def test_mbox_interrupted_run_continues(tmp_path: Path) -> None:
    config, url = _config(tmp_path)
    box_path = tmp_path / "big.mbox"
    box = mailbox.mbox(str(box_path))
    for i in range(1200):
        box.add(make_message(i))
    box.flush()
    box.close()
    env = dict(os.environ, MAILCRM_CONFIG=str(config))
    proc = subprocess.Popen([sys.executable, "-m", "mailcrm", "import", "mbox", str(box_path), "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (tmp_path / "crm.sqlite3").exists() and _count(url, select(func.count()).select_from(Message)) >= 200:
            break
        time.sleep(0.1)
    proc.kill()  # as hard as it gets: no chance to clean up
    proc.wait(10)
    rerun = json.loads(_cli(config, "import", "mbox", str(box_path), "--json").stdout)
    assert _count(url, select(func.count()).select_from(Message)) == 1200
    assert rerun["found"] <= 1000  # continued after the checkpoint, did not start over


def test_maildir_import(tmp_path: Path) -> None:
    config, url = _config(tmp_path)
    md = mailbox.Maildir(str(tmp_path / "Maildir"))
    for i in range(50):
        md.add(make_message(i))
    bad = _cli(config, "import", "maildir", str(tmp_path / "nope"), check=False)
    assert bad.returncode == 2 and "not a Maildir" in bad.stderr and "Traceback" not in bad.stderr
    res = json.loads(_cli(config, "import", "maildir", str(tmp_path / "Maildir"), "--json").stdout)
    assert res["stored"] == 50
    again = json.loads(_cli(config, "import", "maildir", str(tmp_path / "Maildir"), "--json").stdout)
    assert again["found"] == 0
    assert _count(url, select(func.count()).select_from(Message)) == 50


def test_imap_import_by_url_and_bad_input(server: Dovecot, tmp_path: Path) -> None:
    config, url = _config(tmp_path)
    server.append("Sent", [make_message(i) for i in range(30)])
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    target = f"imap+plain://{USER}@127.0.0.1:{server.port}/Sent"
    res = json.loads(_cli(config, "import", "imap", target, "--password-file", str(pw), "--json").stdout)
    assert res["found"] == 30 and res["stored"] == 30
    assert _count(url, select(func.count()).select_from(Message)) == 30
    # EXAMINE + BODY.PEEK: nothing was marked \Seen on the server.
    c = server.client()
    c.select_folder("Sent", readonly=True)
    assert c.search(["SEEN"]) == []
    c.logout()
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    fail = _cli(config, "import", "imap", target, "--password-file", str(wrong), check=False)
    assert fail.returncode == 2 and "cannot log in" in fail.stderr and "nope" not in fail.stderr
    remote = _cli(config, "import", "imap", "imap+plain://u@192.0.2.1/Sent", "--password-file", str(pw), check=False)
    assert remote.returncode == 2 and "loopback" in remote.stderr
    since = _cli(config, "import", "imap", target, "--password-file", str(pw), "--since", "yesterday", check=False)
    assert since.returncode == 2 and "--since" in since.stderr


@pytest.mark.slow
def test_imap_backfill_10000_messages(server: Dovecot, tmp_path: Path) -> None:
    n = 10_000
    server.write_maildir("Sent", [make_message(i) for i in range(n)])
    config, url = _config(tmp_path, imap_block(server, folders='{ "Sent" = "sent" }', extra="create_contacts = true\n"))
    res = json.loads(_cli(config, "import", "imap", "crm-box", "--folder", "Sent", "--json").stdout)
    assert res["found"] == n and res["stored"] == n
    assert _count(url, select(func.count()).select_from(Message)) == n
    assert _count(url, select(SourceState.last_uid).where(SourceState.name == "import:imap:crm-box:Sent")) == n
    again = json.loads(_cli(config, "import", "imap", "crm-box", "--folder", "Sent", "--json").stdout)
    assert again["found"] == 0 and _count(url, select(func.count()).select_from(Message)) == n


def test_serve_subprocess_ingests_from_imap(server: Dovecot, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    bad_pw = tmp_path / "bad"
    bad_pw.write_text("wrong")
    blocks = imap_block(server) + imap_block(server, name="broken", password_file=bad_pw)
    config.write_text(make_config_text(tmp_path, url, port, extra=blocks))
    d = DaemonProcess(config, port, tmp_path / "serve.log").start()
    try:
        server.append("INBOX", [make_message(i) for i in range(5)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _count(url, select(func.count()).select_from(Message)) < 5:
            time.sleep(0.2)
        assert _count(url, select(func.count()).select_from(Message)) == 5
        status = json.loads(d.cli("status", "--json").stdout)
        names = {s["name"]: s for s in status["sources"]}
        assert names["imap:crm-box:INBOX"]["last_uid"] == 5
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not names.get("imap:broken", {}).get("error"):
            time.sleep(0.3)
            names = {s["name"]: s for s in json.loads(d.cli("status", "--json").stdout)["sources"]}
        assert names["imap:broken"]["error"]
        # SMTP keeps working while an IMAP account is failing.
        with d.smtp() as s:
            s.sendmail("me@example.org", ["crm+secret@example.org"], make_message(99))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _count(url, select(func.count()).select_from(Message)) < 6:
            time.sleep(0.2)
        assert _count(url, select(func.count()).select_from(Message)) == 6
    finally:
        assert d.stop() == 0
    log = (tmp_path / "serve.log").read_text()
    assert "wrong" not in log.replace("wrong password", "")  # the password itself never appears
