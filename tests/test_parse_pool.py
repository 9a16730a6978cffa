"""Parser processes: same facts as in-thread parsing; a message that kills its parser is quarantined
alone; the worker's read-ahead gives unprocessed items back; the daemon's parser processes end with it."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from conftest import free_port, make_config_text, wait_for
from daemon_proc import DROPBOX, USER, DaemonProcess
from test_store_pipeline import CFG, mail

from mailcrm.ingest import worker as worker_mod
from mailcrm.ingest.parse_pool import ParseFailed, ParsePool, ParserDied
from mailcrm.ingest.parse_settings import ParseSettings
from mailcrm.ingest.worker import QUARANTINED, Worker
from mailcrm.spool import Spool, SpoolMeta
from mailcrm.store import db

DATA = Path(__file__).parent / "data"
SETTINGS = ParseSettings(frozenset({USER}), frozenset({DROPBOX}), "RU")


@dataclass(frozen=True)
class FaultySettings(ParseSettings):
    """Fault injection: a message carrying a marker kills (or breaks) the parser process."""

    def parse(self, meta: SpoolMeta, raw: bytes):  # type: ignore[no-untyped-def]
        if b"X-Test-Kill-Parser: yes" in raw:
            os._exit(13)  # what a C-level crash or the OOM killer looks like from outside
        if b"X-Test-Hang-Parser: yes" in raw:
            time.sleep(3600)  # a pathological input that keeps a parser busy "forever"
        if b"X-Test-Parser-Bug: yes" in raw:
            raise ValueError("parser bug on this message")
        return super().parse(meta, raw)


def _faulty() -> FaultySettings:
    return FaultySettings(SETTINGS.user_addresses, SETTINGS.dropbox_addresses, SETTINGS.region)


def test_process_pool_gives_the_same_facts_as_parsing_in_thread() -> None:
    files = sorted(DATA.rglob("*.eml"))
    assert len(files) >= 10
    jobs = [(SpoolMeta(source="smtp", rcpt_tos=[DROPBOX]), f.read_bytes()) for f in files]
    pool = ParsePool(1)
    try:
        remote = pool.submit(SETTINGS, jobs).result()
    finally:
        pool.close()
    local = ParsePool(0).submit(SETTINGS, jobs).result()
    assert remote == local
    assert all(not isinstance(r, BaseException) for r in remote)


def test_a_message_that_kills_the_parser_is_reported_alone_and_the_pool_recovers() -> None:
    ok = mail("fine", "Ivan Petrov <ivan@theatre.ru>", mid="fine@example.org")
    killer = ok.replace(b"Subject:", b"X-Test-Kill-Parser: yes\r\nSubject:", 1)
    buggy = ok.replace(b"Subject:", b"X-Test-Parser-Bug: yes\r\nSubject:", 1)
    meta = SpoolMeta(source="smtp", rcpt_tos=[DROPBOX])
    pool = ParsePool(1)
    try:
        out = pool.submit(_faulty(), [(meta, ok), (meta, killer), (meta, buggy), (meta, ok)]).result()
        assert isinstance(out[1], ParserDied)
        assert isinstance(out[2], ParseFailed) and "ValueError: parser bug on this message" in str(out[2])
        assert not isinstance(out[0], BaseException) and out[0] == out[3]
        assert out[0].subject == "fine"
        again = pool.submit(_faulty(), [(meta, ok)]).result()  # a fresh pool serves the next batch
        assert again == [out[0]] and pool.processes == 1
    finally:
        pool.close()


def test_a_message_that_hangs_the_parser_is_reported_alone_after_the_timeout() -> None:
    ok = mail("fine", "Ivan Petrov <ivan@theatre.ru>", mid="fine@example.org")
    hang = ok.replace(b"Subject:", b"X-Test-Hang-Parser: yes\r\nSubject:", 1)
    meta = SpoolMeta(source="smtp", rcpt_tos=[DROPBOX])
    pool = ParsePool(1, timeout=3)
    try:
        pool.submit(_faulty(), [(meta, ok)]).result()  # the process is up: the timeout measures parsing only
        t0 = time.monotonic()
        out = pool.submit(_faulty(), [(meta, ok), (meta, hang), (meta, ok)]).result()
        took = time.monotonic() - t0
        assert isinstance(out[1], ParserDied) and "longer than 3 s" in str(out[1])
        assert out[0] == out[2] and not isinstance(out[0], BaseException)
        assert took < 30
        assert pool.submit(_faulty(), [(meta, ok)]).result() == [out[0]]
    finally:
        pool.close()


def test_worker_quarantines_what_the_parser_could_not_parse(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 's.sqlite3'}")
    from mailcrm.store import migrate, repository

    migrate.upgrade(engine)
    factory = db.session_factory(engine)
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
    spool = Spool(tmp_path / "spool")
    ok = mail("fine", "Ivan Petrov <ivan@theatre.ru>", mid="fine@example.org")
    ids = [spool.put(m, SpoolMeta(source="smtp", mail_from=USER, rcpt_tos=[DROPBOX])) for m in (
        ok, ok.replace(b"Subject:", b"X-Test-Kill-Parser: yes\r\nSubject:", 1).replace(b"fine@", b"kill@"),
        ok.replace(b"Subject:", b"X-Test-Parser-Bug: yes\r\nSubject:", 1).replace(b"fine@", b"bug@"))]
    pool = ParsePool(1)
    w = Worker(CFG, factory, spool, pool)
    w.settings = _faulty()
    try:
        results = w.process_batch(spool.claim(limit=10))
    finally:
        pool.close()
        engine.dispose()
    assert results[ids[0]] == "stored"
    assert results[ids[1]] == results[ids[2]] == QUARANTINED
    reasons = {q.id: q.meta.reason or "" for q in spool.quarantined()}
    assert "parser process died" in reasons[ids[1]]
    assert "ValueError: parser bug on this message" in reasons[ids[2]]


def test_read_ahead_gives_back_what_it_did_not_apply(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    engine = db.make_engine(f"sqlite:///{tmp_path / 's.sqlite3'}")
    from mailcrm.store import migrate, repository

    migrate.upgrade(engine)
    factory = db.session_factory(engine)
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
    spool = Spool(tmp_path / "spool")
    for i in range(7):
        spool.put(mail(f"m{i}", "Ivan Petrov <ivan@theatre.ru>", mid=f"m{i}@example.org"), SpoolMeta(source="smtp", mail_from=USER, rcpt_tos=[DROPBOX]))
    monkeypatch.setattr(worker_mod, "BATCH", 3)  # batches of 3: the read-ahead claims the next 3
    pool = ParsePool(1)
    w = Worker(CFG, factory, spool, pool)
    try:
        assert w.process_available(limit=3) == 3
        assert spool.depth() == 4 and len(spool.claim(limit=10)) == 4  # the read-ahead batch is claimable again
    finally:
        pool.close()
        engine.dispose()


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        out.update(int(c) for c in (task / "children").read_text().split())
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"



def _daemon_with_parser(tmp_path: Path) -> tuple[DaemonProcess, set[int]]:
    port = free_port()
    cfg = tmp_path / "config.toml"
    tmp_path.mkdir()
    cfg.write_text(make_config_text(tmp_path, f"sqlite:///{tmp_path / 'd.sqlite3'}", port,
                                    extra="[ingest]\nparse_processes = 1\n"))
    d = DaemonProcess(cfg, port, tmp_path / "serve.log").start()
    with d.smtp() as s:
        s.sendmail(USER, [DROPBOX], mail("wake the parser", "Ivan Petrov <ivan@theatre.ru>", mid="wake@example.org"))
    assert d.proc is not None
    assert wait_for(lambda: d.cli("show", "ivan@theatre.ru", check=False).returncode == 0)
    kids = _children(d.proc.pid)
    assert kids, "the daemon runs a parser process"
    return d, kids


def test_daemon_parser_processes_end_with_sigterm_and_with_a_crash(tmp_path: Path) -> None:
    d, kids = _daemon_with_parser(tmp_path / "a")
    assert d.stop() == 0
    assert wait_for(lambda: not any(_alive(k) for k in kids)), "parser processes outlived a SIGTERM'd daemon"

    d, kids = _daemon_with_parser(tmp_path / "b")
    assert d.proc is not None
    os.kill(d.proc.pid, signal.SIGKILL)  # only the daemon, not its process group
    d.proc.wait(10)
    try:
        assert wait_for(lambda: not any(_alive(k) for k in kids)), "parser processes outlived a killed daemon"
    finally:
        for k in kids:
            if _alive(k):
                os.kill(k, signal.SIGKILL)


def test_two_copies_in_one_batch_are_stored_once(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 's.sqlite3'}")
    from sqlalchemy import func, select

    from mailcrm.store import migrate, repository
    from mailcrm.store.models import Message

    migrate.upgrade(engine)
    factory = db.session_factory(engine)
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
    spool = Spool(tmp_path / "spool")
    raw = mail("twice", "Ivan Petrov <ivan@theatre.ru>", mid="twice@example.org")
    meta = SpoolMeta(source="smtp", mail_from=USER, rcpt_tos=[DROPBOX])
    first, second = spool.put(raw, meta), spool.put(raw, meta)
    w = Worker(CFG, factory, spool, ParsePool(0))
    results = w.process_batch(spool.claim(limit=10))
    with db.transaction(factory) as s:
        count = s.scalar(select(func.count()).select_from(Message))
    engine.dispose()
    assert (results[first], results[second]) == ("stored", "duplicate")
    assert count == 1 and spool.depth() == 0


PROBE = """
from mailcrm.ingest.parse_pool import ParsePool
from mailcrm.ingest.parse_settings import ParseSettings
from mailcrm.spool import SpoolMeta
raw = (b"To: me@example.org\\r\\nSubject: Undelivered Mail Returned to Sender\\r\\nContent-Type: text/plain\\r\\n\\r\\n"
       b"I'm sorry to have to inform you that your message could not\\r\\nbe delivered to one or more recipients.\\r\\n")
pool = ParsePool(1)
try:
    facts = pool.submit(ParseSettings(frozenset({"me@example.org"}), frozenset(), "RU"), [(SpoolMeta(source="t"), raw)]).result()
    print(type(facts[0]).__name__)
finally:
    pool.close()
"""


def test_parser_processes_keep_library_tracebacks_out_of_the_daemon_log() -> None:
    # flufl.bounce's Yale detector raises on a bounce without From and logs the traceback; the
    # parser turns it into a defect, and the daemon's stderr (the journal) must not fill with it.
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "MessageFacts"
    assert "Traceback" not in res.stderr, res.stderr
