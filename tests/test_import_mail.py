"""`mailcrm import mbox|maildir|imap` (real CLI subprocesses, real Dovecot) and `serve` with an IMAP source."""

from __future__ import annotations

import datetime as dt
import json
import mailbox
import os
import re
import signal
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
from sqlalchemy.exc import OperationalError

from mailcrm.store import db
from mailcrm.store.db import normalize_url
from mailcrm.store.models import Contact, EmailAddress, Message, SignatureSeen, SourceState


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


def _cli(config: Path, *args: str, check: bool = True, timeout: float = 300,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(env or os.environ, MAILCRM_CONFIG=str(config))
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
    # Without --json on a terminal: a rich progress bar on stderr, the summary on stdout.
    env = dict(os.environ, MAILCRM_CONFIG=str(config), TTY_COMPATIBLE="1", COLUMNS="100")
    shown = subprocess.run([sys.executable, "-m", "mailcrm", "import", "mbox", str(box_path)], env=env,
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.stderr + shown.stdout)  # drop the terminal's colours
    assert "mbox" in plain and "10/10" in plain and "━" in plain
    assert "read 10  stored 10" in plain
    assert _count(url, select(func.count()).select_from(Message)) == 310


def _count_while_running(url: str, stmt) -> int:  # type: ignore[no-untyped-def]
    """Like _count, for a store another process may still be creating (0 until the schema exists).

    The import migrates a fresh database in one transaction: the SQLite file appears at
    once, its tables only at that commit.
    """
    try:
        return _count(url, stmt)
    except OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise


def _stopped(proc: subprocess.Popen[bytes]) -> bool:
    """Wait until a SIGSTOP has landed: True once the process is stopped, False once it has exited."""
    while proc.poll() is None:
        try:
            stat = Path(f"/proc/{proc.pid}/stat").read_text()
        except OSError:
            return False
        if stat[stat.rindex(")") + 2] in "Tt":  # proc(5): the state field follows the command name
            return True
        time.sleep(0.001)
    return False


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
    # Interrupt once a checkpoint covers some committed messages (not merely once rows appear: a
    # batch commits before its checkpoint moves, and a Ctrl-C between the two rightly starts over).
    def position() -> object:
        engine = db.make_engine(url)
        try:
            with db.transaction(db.session_factory(engine)) as s:
                state = s.scalar(select(SourceState.state).where(SourceState.name.like("import:mbox%")))
        except Exception:  # noqa: BLE001 - the schema may not exist yet
            return None
        finally:
            engine.dispose()
        return (state or {}).get("position")

    # The import runs in short slices between SIGSTOP and SIGCONT and is looked at only while stopped,
    # so the Ctrl-C is sent to a run that is provably mid-import (a checkpoint is there, not yet
    # "complete", the process alive): it cannot finish between the look and the signal.
    # A slice is far shorter than the 1,000 messages after the first checkpoint take to import.
    proc.send_signal(signal.SIGSTOP)
    ran, run_slice, caught = 0.0, 0.02, False
    while ran < 120 and not caught:
        proc.send_signal(signal.SIGCONT)
        time.sleep(run_slice)
        proc.send_signal(signal.SIGSTOP)
        ran, run_slice = ran + run_slice, min(run_slice * 1.5, 0.2)
        caught = _stopped(proc) and position() is not None
    assert caught, "the import finished (or never checkpointed) before it could be interrupted"
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the open transaction rolls back, the checkpoint stays put
    proc.send_signal(signal.SIGCONT)  # the pending SIGINT is delivered as the process resumes
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"Traceback" not in err  # typer turns KeyboardInterrupt into exit 130
    rerun = json.loads(_cli(config, "import", "mbox", str(box_path), "--json").stdout)
    assert _count(url, select(func.count()).select_from(Message)) == 1200
    assert rerun["found"] <= 1000  # continued after the checkpoint, did not start over


def test_refused_import_message_is_quarantined_where_the_cli_sees_it(tmp_path: Path) -> None:
    config, url = _config(tmp_path)
    box_path = tmp_path / "drop.mbox"
    box = mailbox.mbox(str(box_path))
    box.add(make_message(1))  # from the user: accepted
    box.add(make_message(2, from_="stranger@elsewhere.example", msgid="<stranger.2@elsewhere.example>"))
    box.flush()
    box.close()
    res = json.loads(_cli(config, "import", "mbox", str(box_path), "--role", "dropbox", "--json").stdout)
    assert (res["found"], res["stored"], res["quarantined"]) == (2, 1, 1)
    listed = json.loads(_cli(config, "quarantine", "list", "--json").stdout)
    assert [(q["source"], "not a registered user" in q["reason"]) for q in listed] == [("import:mbox", True)]
    raw = _cli(config, "quarantine", "show", listed[0]["id"], "--raw").stdout
    assert "stranger.2@elsewhere.example" in raw  # the bytes are kept, not dropped
    assert not list((tmp_path / "data" / "import-spool" / "quarantine").iterdir())


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


def test_imap_import_since_then_everything(server: Dovecot, tmp_path: Path) -> None:
    config, url = _config(tmp_path, imap_block(server, folders='{ "Archive" = "sent" }', extra="create_contacts = true\n"))
    old = dt.datetime(2020, 3, 1, 12, 0)
    server.append("Archive", [make_message(i) for i in range(3)], when=old)
    server.append("Archive", [make_message(i) for i in range(3, 5)], when=dt.datetime(2024, 5, 1, 12, 0))
    recent = json.loads(_cli(config, "import", "imap", "crm-box", "--folder", "Archive", "--since", "2023-01-01",
                             "--json").stdout)
    assert (recent["found"], recent["stored"]) == (2, 2)
    # Reaching further back starts the folder over: the old mail is read, the rest is a duplicate.
    full = json.loads(_cli(config, "import", "imap", "crm-box", "--folder", "Archive", "--json").stdout)
    assert (full["found"], full["stored"], full["duplicate"]) == (5, 3, 2)
    assert _count(url, select(func.count()).select_from(Message)) == 5
    later = json.loads(_cli(config, "import", "imap", "crm-box", "--folder", "Archive", "--since", "2024-01-01",
                            "--json").stdout)
    assert later["found"] == 0  # a full checkpoint already covers any --since


def test_imap_import_imaps_url(tmp_path: Path) -> None:
    require_tool("dovecot", DOVECOT)
    require_tool("openssl")
    server = Dovecot(tls=True)
    try:
        server.start()
        server.append("Sent", [make_message(i) for i in range(4)])
        config, url = _config(tmp_path)
        pw = tmp_path / "pw"
        pw.write_text(PASSWORD + "\n")
        target = f"imaps://{USER}@127.0.0.1:{server.imaps_port}/Sent"
        trusted = dict(os.environ, SSL_CERT_FILE=str(server.cert))  # the system trust store, as a user's CA
        res = json.loads(_cli(config, "import", "imap", target, "--password-file", str(pw), "--json",
                              env=trusted).stdout)
        assert (res["found"], res["stored"]) == (4, 4)
        untrusted = _cli(config, "import", "imap", target, "--password-file", str(pw), check=False)
        assert untrusted.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        assert PASSWORD not in untrusted.stderr + untrusted.stdout
    finally:
        server.cleanup()


def test_imap_read_ahead_fetches_the_next_batch_while_one_is_stored_and_stops_on_error(
        server: Dovecot, tmp_path: Path) -> None:
    import threading

    from mailcrm import config as config_mod
    from mailcrm.app import checkpoints as imap_state
    from mailcrm.sources.imap_fetch import FolderSync, connect
    from mailcrm.spool import Spool
    from mailcrm.store import migrate

    server.append("Sent", [make_message(i) for i in range(50)])
    path, url = _config(tmp_path, imap_block(server, folders='{ "Sent" = "sent" }'))
    cfg = config_mod.load(path)
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    factory = db.session_factory(engine)
    client = connect(cfg.imap[0])
    fetched: list[int] = []  # the first UID of each FETCH, in order
    real_fetch = client.fetch

    def fetch(uids, items):  # type: ignore[no-untyped-def]
        fetched.append(min(uids))
        return real_fetch(uids, items)

    client.fetch = fetch
    stored: list[int] = []

    def on_batch() -> None:  # the import's commit of one batch
        stored.append(len(fetched))
        if len(stored) == 1:
            # While batch 1 is being stored, batch 2 is FETCHed (one after the other, this waits in vain).
            deadline = time.monotonic() + 10
            while len(fetched) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(fetched) == 2
            time.sleep(0.3)
            assert len(fetched) == 2  # one batch ahead, no more
        if len(stored) == 3:
            raise RuntimeError("store went away")

    sync = FolderSync(client, cfg.imap[0], "Sent", "sent", Spool(tmp_path / "spool"), factory, "import:imap:t", "ck",
                      batch=10, on_batch=on_batch, read_ahead=True)
    try:
        with pytest.raises(RuntimeError, match="store went away"):
            sync.run()
        assert not [t for t in threading.enumerate() if t.name.startswith("imap-read-ahead")]
        # The checkpoint covers the two committed batches only; the connection is in a clean state.
        client.select_folder("Sent", readonly=True)
        uids = sorted(client.search(["ALL"]))
        assert imap_state.load(factory, "ck").last_uid == uids[19]
        assert fetched[:3] == [uids[0], uids[10], uids[20]]
        assert client.noop()
    finally:
        client.logout()
        engine.dispose()


@pytest.mark.slow
def test_imap_backfill_10000_messages(server: Dovecot, tmp_path: Path) -> None:
    n = 10_000
    server.write_maildir("Sent", [make_message(i) for i in range(n)])
    config, url = _config(tmp_path, imap_block(server, folders='{ "Sent" = "sent" }', extra="create_contacts = true\n"))
    # Ctrl-C (here: SIGKILL, harsher) part-way, then run again: it continues after the checkpoint.
    env = dict(os.environ, MAILCRM_CONFIG=str(config))
    proc = subprocess.Popen([sys.executable, "-m", "mailcrm", "import", "imap", "crm-box", "--folder", "Sent"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if _count_while_running(url, select(func.count()).select_from(Message)) >= 1000:
            break
        time.sleep(0.2)
    proc.kill()
    proc.wait(10)
    before = _count(url, select(func.count()).select_from(Message))
    assert 1000 <= before < n
    res = json.loads(_cli(config, "import", "imap", "crm-box", "--folder", "Sent", "--json", timeout=900).stdout)
    assert res["resumed_from"] and res["found"] <= n - before + 200  # at most one batch read again
    assert res["stored"] == n - before and res["stored"] + res["duplicate"] == res["found"]
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
        # The same mail arriving over IMAP too is stored once (identity key).
        server.append("INBOX", [make_message(99)])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status = json.loads(d.cli("status", "--json").stdout)
            names = {s["name"]: s for s in status["sources"]}
            if names["imap:crm-box:INBOX"]["last_uid"] == 6 and status["spool_depth"] == 0:
                break
            time.sleep(0.3)
        assert names["imap:crm-box:INBOX"]["last_uid"] == 6 and status["spool_depth"] == 0
        assert _count(url, select(func.count()).select_from(Message)) == 6
        assert PASSWORD not in json.dumps(status) and "wrong" not in json.dumps(status)
    finally:
        assert d.stop() == 0
    log = (tmp_path / "serve.log").read_text()
    assert "wrong" not in log.replace("wrong password", "")  # the password itself never appears


def _forward_with_signature(i: int, who: int) -> bytes:
    return f"""From: Me <me@example.org>
To: crm+secret@example.org
Subject: Fwd: Предложение {i}
Date: Mon, 2 Mar 2026 14:{i % 60:02d}:00 +0300
Message-ID: <fwd{i}@example.org>
Content-Type: text/plain; charset=utf-8

---------- Forwarded message ---------
From: Иван Петров{who} <ivan{who}@teatr{who % 3}.example>
Date: Mon, 2 Mar 2026 at 12:00
Subject: Предложение {i}
To: Me <me@example.org>

Добрый день! Спасибо за пьесу, прочитаем.

--
Иван Петров{who}
Заведующий литературной частью
Театр Номер {who % 3}
+7 921 555-{who:02d}-{i % 100:02d}
""".encode()


def test_forwards_whose_signed_senders_are_new_in_the_batch(tmp_path: Path) -> None:
    # Issue 19 item 16: the forward's original sender, first seen in this batch, got its contact after the
    # batch's first flush; its signature row then had no contact id (NOT NULL), and the import stopped.
    config, url = _config(tmp_path)
    md = mailbox.Maildir(str(tmp_path / "Maildir"))
    for i in range(40):
        md.add(_forward_with_signature(i, i % 12))
    res = json.loads(_cli(config, "import", "maildir", str(tmp_path / "Maildir"), "--json").stdout)
    assert (res["stored"], res["quarantined"]) == (40, 0)
    assert _count(url, select(func.count()).select_from(SignatureSeen)) == 40
    assert _count(url, select(func.count()).select_from(Contact).where(Contact.title.is_not(None))) == 12
