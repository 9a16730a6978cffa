"""Shared fixtures: strict skips, corpora location, databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile mailcrm's bytecode once, as ``pip install`` does for an installed package.

    The tests start hundreds of ``mailcrm`` processes; with PYTHONDONTWRITEBYTECODE set (it is on
    these machines) each of them would compile the whole package from source again (~0.2 s CPU).
    """
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "mailcrm"), quiet=1)


# CI sets MAILCRM_NO_SKIP=1: a test that would skip for a missing tool or corpus fails instead.
NO_SKIP = os.environ.get("MAILCRM_NO_SKIP", "") not in ("", "0", "false")


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when a needed tool or data set is missing."""
    if condition:
        return
    if NO_SKIP:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def require_tool(name: str, *paths: str) -> str:
    """Path of an executable, or skip/fail with the reason."""
    found = shutil.which(name) or next((p for p in paths if os.path.exists(p)), None)
    require(found is not None, f"{name} not installed")
    return str(found)


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The shared corpora directory (MAILCRM_CORPORA), or skip/fail."""
    path = os.environ.get("MAILCRM_CORPORA")
    require(bool(path) and Path(path or "").is_dir(), "MAILCRM_CORPORA is not set to the corpora directory")
    return Path(path or "")


# -- databases: every store test runs on SQLite and on PostgreSQL ------------------------------
import contextlib  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402
from collections.abc import Iterator  # noqa: E402

PG_URL = os.environ.get("MAILCRM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_available() -> bool:
    """True when the test PostgreSQL answers."""
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001
        return False


@contextlib.contextmanager
def pg_schema_url() -> Iterator[str]:
    """A fresh PostgreSQL schema in database `test`; yields a URL whose search_path is that schema."""
    import psycopg

    name = "mailcrm_t_" + secrets.token_hex(5)
    plain = PG_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    require(pg_available(), f"PostgreSQL not reachable at {PG_URL}")
    with pg_schema_url() as url:
        yield url


@pytest.fixture
def store(db_url: str):  # type: ignore[no-untyped-def]
    """A migrated store: (engine, session factory)."""
    from mailcrm.store import db, migrate

    engine = db.make_engine(db_url)
    migrate.upgrade(engine)
    yield engine, db.session_factory(engine)
    engine.dispose()


def wait_for(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it is truthy or ``timeout`` seconds pass; a last look at the end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def free_port() -> int:
    """An ephemeral loopback port that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_config_text(tmp: Path, db_url: str, port: int, extra: str = "", users: str | None = None) -> str:
    """A config for tests: one user me@example.org with dropbox crm+secret@example.org.

    Unless ``extra`` has its own [security], the Authentication-Results of the test IMAP
    provider (dovecot.make_message) are trusted, as a user would trust their own provider's.
    """
    if "[security]" not in extra:
        extra = '[security]\ntrusted_authserv_ids = ["imap.test.example"]\n' + extra
    user_block = users if users is not None else (
        '[[users]]\nemail = "me@example.org"\nname = "Me"\naddresses = ["me@alias.example.org"]\n'
        'dropbox = "crm+secret@example.org"\ntimezone = "Europe/Moscow"\n'
    )
    return (
        f'data_dir = "{tmp / "data"}"\n[database]\nurl = "{db_url}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nmax_message_size = 1048576\n'
        '[digest]\nenabled = false\n[log]\nformat = "json"\n'
        f"{extra}\n{user_block}"
    )


@pytest.fixture(scope="session", autouse=True)
def _loopback_dns():  # type: ignore[no-untyped-def]
    """Sender checks (worker, inspect) of every test ask a DNS stub on loopback, never the network.

    A config's own [security] dns_server (the sender-authentication tests) still wins.
    """
    from dns_stub import DnsStub

    stub = DnsStub().start()
    old = os.environ.get("MAILCRM_DNS_SERVER")
    os.environ["MAILCRM_DNS_SERVER"] = stub.address
    yield stub
    if old is None:
        os.environ.pop("MAILCRM_DNS_SERVER", None)
    else:
        os.environ["MAILCRM_DNS_SERVER"] = old
    stub.stop()
