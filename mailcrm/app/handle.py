"""The opened store a use case works on: an engine and its session factory (built once per process)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailcrm.config import Config
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
    """Open the configured database and apply migrations."""
    private_dir(cfg.data_path())  # 0700: the spool and the SQLite database live here
    engine = db.make_engine(cfg.database_url())
    if migrate_schema:
        migrate.upgrade(engine)
    return Store(engine, db.session_factory(engine))
