"""Engine and sessions: SQLite in WAL mode with foreign keys on; PostgreSQL via psycopg 3."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailcrm.errors import StoreUnavailable
from mailcrm.private_files import private_dir, tighten_file, touch_private


def normalize_url(url: str) -> str:
    """Map plain postgres URLs to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def is_sqlite(engine: Engine) -> bool:
    """True for the embedded backend."""
    return engine.dialect.name == "sqlite"


def _wal(cur: sqlite3.Cursor) -> None:
    """Switch to WAL (persistent, so usually a no-op read). Switching takes an exclusive lock and
    SQLite answers SQLITE_BUSY at once, without the busy handler, when another process is opening the
    same new file; so retry for a while instead of failing a daemon that starts beside another."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and synchronous=FULL."""
    url = normalize_url(url)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path and path != ":memory:" and not path.startswith("file:"):
            # 0600 before SQLite opens it: SQLite gives the -wal and -shm it creates the same mode
            # as the database file, so they are private too whatever the umask.
            private_dir(Path(path).parent, tighten=False)
            touch_private(path)
            for suffix in ("-wal", "-shm", "-journal"):
                tighten_file(path + suffix)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # pysqlite's own transaction handling never emits BEGIN before a SAVEPOINT, so a
            # RELEASE would commit; we take over (SQLAlchemy's documented SQLite recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            _wal(cur)
            cur.execute("PRAGMA foreign_keys=ON")
            # FULL, not NORMAL: the worker deletes the spooled copy right after commit, so the commit
            # itself must survive a power loss (WAL + NORMAL may lose the last transactions).
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


# Keys of the PostgreSQL advisory locks that serialise start-up work of several daemons.
LOCK_MIGRATE = 0x6D61696C01  # "mail" + 1
LOCK_USERS = 0x6D61696C02


def serialize(conn: Connection | Session, key: int) -> None:
    """Serialise start-up writers: a PostgreSQL advisory lock, or SQLite's write lock taken up front."""
    dialect = conn.get_bind().dialect if isinstance(conn, Session) else conn.dialect
    if dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    elif isinstance(conn, Session) and not conn.in_transaction():
        # SQLite: take the write lock up front (BEGIN IMMEDIATE waits on busy_timeout); a deferred
        # transaction that reads and then writes fails at once with "database is locked".
        conn.connection(execution_options={"immediate": True})


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A sessionmaker whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, rollback on error; DB outages become StoreUnavailable."""
    session = factory()
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise StoreUnavailable(str(exc.orig).splitlines()[0] if exc.orig else str(exc)) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
