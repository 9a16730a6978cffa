"""Issue 21 item 7: two daemons on one PostgreSQL, with overlapping duplicates met in opposite
orders, lose nothing, double nothing, and need no retry (no deadlock, no unique-key conflict)."""

from __future__ import annotations

import datetime as dt
import threading
from email.utils import format_datetime
from pathlib import Path

from conftest import pg_available, pg_schema_url, require
from sqlalchemy import func, select

from mailcrm import config
from mailcrm.ingest.parse_pool import ParsePool
from mailcrm.ingest.worker import Worker
from mailcrm.spool import Spool, SpoolMeta
from mailcrm.store import db, migrate, repository
from mailcrm.store.models import Company, Contact, EmailAddress, Message

CFG = config.parse('[[users]]\nemail = "me@example.org"\ndropbox = "crm+secret@example.org"\n'
                   '[ingest]\nparse_processes = 0\n', "test")
META = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret@example.org"])
WHEN = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.timezone.utc)


def message(n: int) -> bytes:
    """Mail to/from people shared by many messages (so contacts and companies race too)."""
    a, b = n % 37, (n * 7) % 41
    to = f"P{a} <p{a}@corp{a % 9}.example>, Q{b} <q{b}@firm{b % 5}.example>"
    head = f"From: Me <me@example.org>\r\nTo: {to}\r\n"
    return (head + f"Subject: hello {n}\r\nMessage-ID: <two-{n}@example.org>\r\n"
            f"Date: {format_datetime(WHEN + dt.timedelta(minutes=n))}\r\n\r\nHello {n}\r\n").encode()


def run_two(url: str, tmp: Path, count: int) -> tuple[int, list[str], int]:
    """Two workers, each with its own spool and engine; returns (stored messages, retry errors, handled)."""
    engines = [db.make_engine(url) for _ in range(2)]
    migrate.upgrade(engines[0])
    with db.transaction(db.session_factory(engines[0])) as s:
        repository.sync_users(s, CFG)
    half = count // 2
    orders = [list(range(0, count)), list(reversed(range(half, count + half)))]  # overlap met in opposite orders
    retries: list[str] = []
    handled = [0, 0]
    workers = []
    for i, (engine, order) in enumerate(zip(engines, orders)):
        spool = Spool(tmp / f"spool{i}")
        for n in order:
            spool.put(message(n), META)
        w = Worker(CFG, db.session_factory(engine), spool, ParsePool(0))
        inner = w._retry

        def counting(item, error, _inner=inner):  # type: ignore[no-untyped-def]
            retries.append(error)
            return _inner(item, error)

        w._retry = counting  # type: ignore[method-assign]
        workers.append(w)
    start = threading.Barrier(2)

    def drain(i: int) -> None:
        start.wait()
        while workers[i].spool.depth():
            handled[i] += workers[i].process_available()

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    with db.session_factory(engines[0])() as s:
        stored = s.scalar(select(func.count()).select_from(Message)) or 0
        distinct = s.scalar(select(func.count(func.distinct(Message.identity)))) or 0
        assert stored == distinct
        addresses = s.scalar(select(func.count()).select_from(EmailAddress)) or 0
        assert addresses == s.scalar(select(func.count(func.distinct(EmailAddress.address))))
        assert s.scalar(select(func.count()).select_from(Contact)) == addresses
        companies = s.scalar(select(func.count()).select_from(Company)) or 0
        assert companies == s.scalar(select(func.count(func.distinct(Company.domain))))
    for e in engines:
        e.dispose()
    return stored, retries, sum(handled)


def test_two_workers_on_postgresql_need_no_retry(tmp_path: Path) -> None:
    require(pg_available(), "PostgreSQL not reachable")
    count = 400
    with pg_schema_url() as url:
        stored, retries, handled = run_two(url, tmp_path, count)
    assert stored == count + count // 2  # every distinct message once: none lost, none doubled
    assert handled >= 2 * count
    assert retries == [], f"{len(retries)} retries, e.g. {retries[:3]}"
