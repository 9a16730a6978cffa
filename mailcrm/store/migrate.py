"""Apply Alembic migrations programmatically (``init`` and ``serve`` call this, and every command
that opens the store).

A store already at ``HEAD`` is recognised by one read of ``alembic_version``, without importing
Alembic or reading the migration scripts (a third of a short command's start-up time).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from mailcrm.store.db import LOCK_MIGRATE, normalize_url, serialize

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions; tests/test_migrations.py checks it is Alembic's head.
HEAD = "0017"


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic config pointing at our migrations and ``url``."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The schema revision the store records (None: not created yet)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    if current_revision(engine) == HEAD:
        return
    from alembic import command

    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    # Two daemons starting on one empty database: the second waits, then finds the schema at head.
    with engine.connect() as conn:
        conn = conn.execution_options(immediate=True)  # SQLite: BEGIN IMMEDIATE
        with conn.begin():
            serialize(conn, LOCK_MIGRATE)  # PostgreSQL: advisory lock until commit
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
