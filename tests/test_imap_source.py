"""IMAP sources against a real Dovecot on loopback: IDLE, privacy, restarts, UIDVALIDITY, bad passwords."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, make_config_text, require_tool
from dovecot import DOVECOT, USER, Dovecot, Harness, imap_block, make_message
from structlog.testing import capture_logs

from mailcrm.app import checkpoints as imap_state
from mailcrm.sources.imap_fetch import connect, edge_decision
from mailcrm.store.models import Contact, EmailAddress, Message, SourceState


@pytest.fixture
def server() -> Iterator[Dovecot]:
    """A plain-auth Dovecot (loopback only), stopped and removed afterwards."""
    require_tool("dovecot", DOVECOT)
    d = Dovecot()
    try:
        d.start()
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def tls_server() -> Iterator[Dovecot]:
    """A Dovecot that requires STARTTLS with a self-signed certificate."""
    require_tool("dovecot", DOVECOT)
    require_tool("openssl")
    d = Dovecot(tls=True)
    try:
        d.start()
        yield d
    finally:
        d.cleanup()


def _harness(tmp_path: Path, imap: str, start_imap: bool = True, start_worker: bool = True) -> Harness:
    text = make_config_text(tmp_path, f"sqlite:///{tmp_path / 'crm.sqlite3'}", free_port(), extra=imap)
    return Harness(text, tmp_path, start_imap=start_imap, start_worker=start_worker)


@pytest.fixture
def harness_factory(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """Build in-process harnesses; every one is closed at the end."""
    made: list[Harness] = []

    def make(imap: str, start_imap: bool = True, start_worker: bool = True) -> Harness:
        h = _harness(tmp_path, imap, start_imap, start_worker)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def test_append_is_ingested_via_idle_and_flagged(server: Dovecot, harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = harness_factory(imap_block(server))
    h.wait_connected()
    assert h.sources[0].connected.is_set()
    server.append("INBOX", [make_message(1, to="Ivan Petrov <ivan@theatre.ru>")])
    took = h.wait_for(lambda: h.count(Message) == 1, timeout=10)
    # poll_interval is 300 s: only an IDLE notification (RFC 2177) can be this fast.
    assert took < 2.0, f"ingested after {took:.2f}s"
    assert h.count(EmailAddress, EmailAddress.address == "ivan@theatre.ru") == 1
    # The ack runs after the commit, in the account thread: flagged, and never \Seen by us.
    c = server.client()
    try:
        c.select_folder("INBOX", readonly=True)

        def flagged() -> bool:
            flags = c.get_flags([1]).get(1, ())
            return b"$MailcrmIngested" in flags

        h.wait_for(lambda: (c.noop(), flagged())[1], timeout=5)
        assert b"\\Seen" not in c.get_flags([1])[1]
    finally:
        c.logout()
    ck = imap_state.load(h.factory, "imap:crm-box:INBOX")
    assert ck.last_uid == 1 and ck.uidvalidity


def test_mail_arriving_between_sync_and_idle_is_not_missed(server: Dovecot, harness_factory) -> None:  # type: ignore[no-untyped-def]
    # IDLE reports only changes after it began (RFC 2177); mail appended between the sync's
    # SEARCH and the SELECT before IDLE is in that SELECT's EXISTS, so the source must look.
    h = harness_factory(imap_block(server), start_imap=False)
    src = h.sources[0]
    client = connect(src.account)
    try:
        src._sync_all(client)
        assert not src._arrived_since_sync(client, "INBOX")
        server.append("INBOX", [make_message(1)])
        assert src._arrived_since_sync(client, "INBOX")
        src._sync_all(client)
        assert not src._arrived_since_sync(client, "INBOX")
    finally:
        client.logout()
    h.wait_for(lambda: h.count(Message) == 1)


def test_move_after_ingest_over_starttls(tls_server: Dovecot, harness_factory) -> None:  # type: ignore[no-untyped-def]
    tls_server.append("INBOX", [make_message(i) for i in range(3)])
    h = harness_factory(imap_block(tls_server, extra='after_ingest = "move"\nmove_to = "CRM/Done"\n'))
    h.wait_for(lambda: h.count(Message) == 3, timeout=15)
    c = tls_server.client()
    try:
        def moved() -> bool:
            return c.folder_exists("CRM/Done") and c.folder_status("CRM/Done", [b"MESSAGES"])[b"MESSAGES"] == 3

        h.wait_for(moved, timeout=10)
        assert c.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"] == 0  # MOVE, nothing deleted
        c.select_folder("CRM/Done", readonly=True)
        assert c.search(["DELETED"]) == [] and len(c.search(["ALL"])) == 3
    finally:
        c.logout()
    assert h.count(Message) == 3


def test_implicit_tls_and_bad_certificate(tls_server: Dovecot, harness_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tls_server.append("INBOX", [make_message(1)])
    good = imap_block(tls_server, name="tls", implicit_tls=True, extra='after_ingest = "none"\n')
    # Without our CA the self-signed certificate must be refused (no silent downgrade).
    untrusted = imap_block(tls_server, name="untrusted").replace(f'ca_file = "{tls_server.cert}"\n', "")
    h = harness_factory(good + untrusted)
    h.wait_for(lambda: h.count(Message) == 1, timeout=15)
    h.wait_for(lambda: h.count(SourceState, SourceState.name == "imap:untrusted", SourceState.error.is_not(None)) == 1)
    rows = {r["name"]: r for r in imap_state.imap_status(h.factory)}
    assert "CERTIFICATE_VERIFY_FAILED" in rows["imap:untrusted"]["error"]
    assert rows["imap:tls"]["error"] is None


def test_ack_only_after_commit_and_nothing_deleted(server: Dovecot, harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = harness_factory(imap_block(server), start_worker=False)
    server.append("INBOX", [make_message(i) for i in range(2)])
    h.wait_for(lambda: h.spool.depth() == 2, timeout=15)  # fetched and fsync'd, not yet committed
    time.sleep(1.5)  # give a premature ack every chance to happen
    c = server.client()
    try:
        c.select_folder("INBOX", readonly=True)
        assert c.search(["KEYWORD", "$MailcrmIngested"]) == []
        h.start_worker()
        h.wait_for(lambda: h.count(Message) == 2, timeout=10)
        h.wait_for(lambda: (c.noop(), len(c.search(["KEYWORD", "$MailcrmIngested"])) == 2)[1], timeout=10)
        assert len(c.search(["ALL"])) == 2 and c.search(["DELETED"]) == [] and c.search(["SEEN"]) == []
    finally:
        c.logout()


def test_inbox_role_keeps_strangers_private(server: Dovecot, harness_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = harness_factory(imap_block(server, folders='{ "INBOX" = "inbox" }'), start_imap=False)
    # A known correspondent: in the CRM from an earlier sent copy.
    from mailcrm.store import db, repository

    with db.transaction(h.factory) as s:
        repository.find_or_create_contact(s, "ivan@theatre.ru", "Ivan")
    personal = make_message(10, from_="friend@private.example", to="me@example.org", subject="Dinner tonight?",
                            body="SECRET-PERSONAL-TEXT\r\n")
    reply = make_message(11, from_="ivan@theatre.ru", to="me@example.org", subject="Re: Proposal")
    server.append("INBOX", [personal, reply])
    src = h.sources[0]
    from mailcrm.sources.imap import run_source

    spooled: list[bytes] = []
    real_put = h.spool.put

    def spy(raw: bytes, meta):  # type: ignore[no-untyped-def]
        spooled.append(raw)
        return real_put(raw, meta)

    h.spool.put = spy  # type: ignore[method-assign]  # observe the real spool, not a mock
    h.threads.append(run_source(src))
    h.wait_for(lambda: h.count(Message) == 1, timeout=10)
    h.wait_for(lambda: imap_state.load(h.factory, "imap:crm-box:INBOX").last_uid == 2, timeout=10)
    assert len(spooled) == 1 and b"SECRET-PERSONAL-TEXT" not in spooled[0]
    assert h.count(EmailAddress, EmailAddress.address == "friend@private.example") == 0
    with h.factory() as s:
        from sqlalchemy import select

        from mailcrm.store.models import MessageBlob, Participant

        assert not list(s.scalars(select(Participant).where(Participant.address == "friend@private.example")))
        assert all(b"SECRET-PERSONAL-TEXT" not in b for b in s.scalars(select(MessageBlob.data)))
    for p in (h.spool.root / "incoming").iterdir():
        assert b"SECRET-PERSONAL-TEXT" not in p.read_bytes()


def test_edge_decision_headers_only() -> None:
    def nobody(addrs: list[str]) -> set[str]:
        return set()

    assert edge_decision(b"From: MAILER-DAEMON@mx.example\r\nSubject: x\r\n\r\n", nobody) == "bounce"
    assert edge_decision(b"From: a@b.example\r\nContent-Type: multipart/report; report-type=delivery-status\r\n\r\n",
                         nobody) == "bounce"
    assert edge_decision(b"From: a@b.example\r\nAuto-Submitted: auto-replied\r\n\r\n", nobody) == "autoreply"
    assert edge_decision(b"From: a@b.example\r\nAuto-Submitted: no\r\nSubject: hi\r\n\r\n", nobody) is None
    subj = "=?utf-8?b?0JDQstGC0L7QvtGC0LLQtdGCOiDQsiDQvtGC0L/Rg9GB0LrQtQ==?="  # "Автоответ: в отпуске"
    assert edge_decision(f"From: a@b.example\r\nSubject: {subj}\r\n\r\n".encode(), nobody) == "autoreply"
    assert edge_decision(b"From: Friend <f@x.example>\r\n\r\n", lambda a: {"f@x.example"}) == "known"


def test_restart_mid_stream_loses_nothing(server: Dovecot, harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = harness_factory(imap_block(server))
    h.wait_connected()
    server.append("INBOX", [make_message(i) for i in range(20)])
    server.restart()  # the IDLE connection sees BYE; the source reconnects with backoff
    server.append("INBOX", [make_message(i) for i in range(20, 40)])
    h.wait_for(lambda: h.count(Message) == 40, timeout=30)
    server.restart()
    server.append("INBOX", [make_message(i) for i in range(40, 45)])
    h.wait_for(lambda: h.count(Message) == 45, timeout=30)
    assert h.count(Message) == 45


def test_uidvalidity_change_resyncs_without_duplicates(server: Dovecot, harness_factory) -> None:  # type: ignore[no-untyped-def]
    server.append("CRM", [make_message(i) for i in range(5)])
    h = harness_factory(imap_block(server, folders='{ "CRM" = "dropbox" }', extra='after_ingest = "none"\n'))
    h.wait_for(lambda: h.count(Message) == 5, timeout=15)
    before = imap_state.load(h.factory, "imap:crm-box:CRM")
    h.stop_event.set()  # stop the source, recreate the mailbox (new UIDVALIDITY), start again
    for t in h.threads:
        t.join(15)
    c = server.client()
    c.delete_folder("CRM")
    c.logout()
    server.append("CRM", [make_message(i) for i in range(7)])  # 5 old (same Message-IDs) + 2 new
    h2 = harness_factory(imap_block(server, folders='{ "CRM" = "dropbox" }', extra='after_ingest = "none"\n'))
    h2.wait_for(lambda: h2.count(Message) == 7, timeout=15)
    h2.wait_for(lambda: imap_state.load(h2.factory, "imap:crm-box:CRM").last_uid == 7, timeout=10)
    after = imap_state.load(h2.factory, "imap:crm-box:CRM")
    assert after.uidvalidity != before.uidvalidity
    h2.wait_for(lambda: h2.spool.depth() == 0, timeout=10)
    assert h2.count(Message) == 7
    assert sorted(o for _, o in h2.outcomes).count("duplicate") == 5


def test_wrong_password_is_reported_and_others_keep_working(server: Dovecot, harness_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.pass"
    bad.write_text("not-the-password\n")
    blocks = imap_block(server, name="broken", password_file=bad) + imap_block(server, name="good")
    h = harness_factory(blocks)
    server.append("INBOX", [make_message(1)])
    h.wait_for(lambda: h.count(Message) == 1, timeout=15)
    h.wait_for(lambda: h.count(SourceState, SourceState.name == "imap:broken", SourceState.error.is_not(None)) == 1)
    rows = {r["name"]: r for r in imap_state.imap_status(h.factory)}
    assert "AUTHENTICATIONFAILED" in rows["imap:broken"]["error"] or "LoginError" in rows["imap:broken"]["error"]
    assert "not-the-password" not in rows["imap:broken"]["error"]
    assert rows["imap:good"]["error"] is None and rows["imap:good"]["ok_at"] is not None
    assert h.count(Contact) >= 1
    assert any(t.name == "mailcrm-imap-broken" and t.is_alive() for t in h.threads)


def test_passwords_never_logged(server: Dovecot, harness_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.pass"
    bad.write_text("Wr0ng-Secret-Value\n")
    with capture_logs() as logs:
        h = harness_factory(imap_block(server, name="broken", password_file=bad) + imap_block(server, name="good"))
        server.append("INBOX", [make_message(1)])
        h.wait_for(lambda: h.count(Message) == 1, timeout=15)
        h.wait_for(lambda: any(e.get("event") == "imap account failed" for e in logs), timeout=15)
        h.close()
    text = repr(logs) + repr(imap_state.imap_status(h.factory))
    assert any(e.get("event") == "imap connected" for e in logs)
    assert "Wr0ng-Secret-Value" not in text and server.users[USER] not in text


def test_server_down_is_reported(harness_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require_tool("dovecot", DOVECOT)
    pw = tmp_path / "p"
    pw.write_text("x")
    block = (f'[[imap]]\nname = "down"\nhost = "127.0.0.1"\nport = {free_port()}\nsecurity = "plain"\n'
             f'username = "{USER}"\npassword_file = "{pw}"\n')
    h = harness_factory(block)
    h.wait_for(lambda: h.count(SourceState, SourceState.name == "imap:down", SourceState.error.is_not(None)) == 1)
    row = imap_state.imap_status(h.factory)[0]
    assert "Connection refused" in row["error"] or "ConnectionRefused" in row["error"]
