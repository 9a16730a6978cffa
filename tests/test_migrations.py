"""Alembic migrations build exactly the schema the models describe (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailcrm.store import migrate
from mailcrm.store.models import Base


def test_migrations_match_models(store) -> None:  # type: ignore[no-untyped-def]
    engine, _ = store
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], diff


def test_upgrade_is_idempotent(store) -> None:  # type: ignore[no-untyped-def]
    engine, _ = store
    migrate.upgrade(engine)  # a second `serve` start: nothing to do, nothing breaks
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is not None
