"""Alembic migrations build exactly the schema the models describe (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailcrm.store import migrate
from mailcrm.store.models import Base
from mailcrm.store.search import outside_models


def test_migrations_match_models(store) -> None:  # type: ignore[no-untyped-def]
    engine, _ = store
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": outside_models}), Base.metadata)
    assert diff == [], diff


def test_upgrade_is_idempotent(store) -> None:  # type: ignore[no-untyped-def]
    engine, _ = store
    migrate.upgrade(engine)  # a second `serve` start: nothing to do, nothing breaks
    with engine.connect() as conn:
        assert MigrationContext.configure(conn, opts={"include_name": outside_models}).get_current_revision() is not None


def test_head_constant_is_alembics_head(store) -> None:  # type: ignore[no-untyped-def]
    # upgrade() skips Alembic when the store is at migrate.HEAD: a new migration must move it.
    from alembic.script import ScriptDirectory

    engine, _ = store
    script = ScriptDirectory.from_config(migrate.alembic_config(str(engine.url)))
    assert script.get_heads() == [migrate.HEAD]
    assert migrate.current_revision(engine) == migrate.HEAD


def test_an_older_store_is_still_upgraded(store) -> None:  # type: ignore[no-untyped-def]
    # The fast path must not hide a store one revision behind: Alembic runs and brings it to HEAD.
    from alembic import command

    engine, _ = store
    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert migrate.current_revision(engine) == "0001"
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.HEAD
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"include_name": outside_models}), Base.metadata) == []
