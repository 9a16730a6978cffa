"""Alembic environment: uses the connection handed in by mailcrm.store.migrate, else the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from mailcrm.store.models import Base
from mailcrm.store.search import outside_models

config = context.config
target_metadata = Base.metadata


def run() -> None:
    """Run migrations online (we never generate offline SQL)."""
    conn = config.attributes.get("connection")
    if conn is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
        with engine.begin() as c:
            context.configure(connection=c, target_metadata=target_metadata, render_as_batch=True, include_name=outside_models)
            context.run_migrations()
        return
    context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True, include_name=outside_models)
    context.run_migrations()


run()
