"""The opened store a use case works on: an engine and its session factory (built once per process)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailcrm.config import Config
from mailcrm.errors import ConfigError, StoreUnavailable
from mailcrm.private_files import private_dir
from mailcrm.store import db, migrate


@dataclass
class Store:
    """An opened, migrated store."""

    engine: Engine
    factory: sessionmaker[Session]

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()


def open_store(cfg: Config, migrate_schema: bool = True) -> Store:
    """Open the configured database and apply migrations.

    A URL that is not one, names another database or a driver that is not installed is a
    ConfigError; a database that cannot be reached (refused, missing, wrong password) is
    StoreUnavailable; each is one line naming the database (never its password) and the fix.
    """
    private_dir(cfg.data_path())  # 0700: the spool and the SQLite database live here
    raw = cfg.database_url()
    url = _checked_url(raw)
    shown = url.render_as_string(hide_password=True)
    try:
        engine = db.make_engine(raw)
    except OSError as exc:  # the SQLite file's directory cannot be made
        raise ConfigError(f"database.url {shown}: {exc.strerror or exc}: {exc.filename or ''} "
                          "(choose a directory you can write, or fix data_dir)") from None
    except (NoSuchModuleError, ImportError) as exc:
        name = getattr(exc, "name", None) or url.drivername
        raise ConfigError(f"database.url {shown}: the driver {url.drivername!r} is not installed ({name}); "
                          "use postgresql://USER@HOST:PORT/DB (psycopg 3: pip install 'mailcrm[postgres]')") from None
    if migrate_schema:
        try:
            migrate.upgrade(engine)
        except OperationalError as exc:
            engine.dispose()
            raise StoreUnavailable(_connect_problem(exc, url)) from None
    return Store(engine, db.session_factory(engine))


def shown_url(cfg: Config) -> str:
    """The database URL as it may be printed: the password masked."""
    try:
        return make_url(cfg.database_url()).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def _checked_url(raw: str) -> URL:
    """``raw`` parsed, and of a database mailcrm supports (ConfigError otherwise)."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"database.url {raw!r} is not a database URL: use sqlite:///PATH or "
                          "postgresql://USER@HOST:PORT/DB") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"database.url: unsupported database {url.get_backend_name()!r}: use sqlite:///PATH or "
                          "postgresql://USER@HOST:PORT/DB")
    return url


def _connect_problem(exc: OperationalError, url: URL) -> str:
    """One line: what the database said, for which database, and what to do."""
    said = " ".join(str(exc.orig or exc).split())
    said = said.split("(Background on this error")[0].strip()
    where = url.render_as_string(hide_password=True)
    low = said.lower()
    if url.get_backend_name() == "postgresql":
        if "does not exist" in low and "database" in low:
            hint = f"create it (createdb -h {url.host or 'localhost'} {url.database}) or fix database.url"
        elif "password" in low or "authentication" in low:
            hint = "check the user and password in database.url"
        elif "refused" in low or "could not connect" in low or "server running" in low or "timeout" in low:
            hint = f"is PostgreSQL running and listening at {url.host or 'localhost'}:{url.port or 5432}?"
        else:
            hint = "check database.url"
    else:
        hint = "check that the directory of the database file exists and is writable"
    return f"{where}: {said[:300]} ({hint})"
