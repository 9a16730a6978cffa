"""Apply Alembic migrations programmatically (``init`` and ``serve`` call this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine

from mailcrm.store.db import LOCK_MIGRATE, normalize_url, serialize

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic config pointing at our migrations and ``url``."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    # Two daemons starting on one empty database: the second waits, then finds the schema at head.
    with engine.connect() as conn:
        conn = conn.execution_options(immediate=True)  # SQLite: BEGIN IMMEDIATE
        with conn.begin():
            serialize(conn, LOCK_MIGRATE)  # PostgreSQL: advisory lock until commit
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
