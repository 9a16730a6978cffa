"""PostgreSQL: the raw bytes and the parsed facts of a message compressed with lz4 instead of pglz

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 08:00:00

Both are the only values of the import that PostgreSQL compresses out of line (TOAST: ~15 KB raw
bytes and ~17 KB of facts JSON per message), and pglz compressing them was about a third of the
server's CPU in an import (bench/import.py, 2,000 messages: 2.2 s of server CPU with pglz,
1.45 s with lz4), time the single writer waits for.  Metadata only: values already stored keep
their compression (PostgreSQL reads both), new ones are written with lz4.  Skipped on SQLite
(nothing compressed) and on a server built without lz4.  Issue 26.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: Union[str, Sequence[str], None] = '0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = (("raw_messages", "data"), ("messages", "facts"))


def _lz4(bind: sa.Connection) -> bool:
    """PostgreSQL 14+ built with lz4 (the setting lists the methods the server knows)."""
    if bind.dialect.name != "postgresql":
        return False
    return bool(bind.execute(sa.text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                                     "WHERE name = 'default_toast_compression'")).scalar())


def upgrade() -> None:
    """Upgrade schema."""
    if _lz4(op.get_bind()):
        for table, column in COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    """Downgrade schema."""
    if _lz4(op.get_bind()):
        for table, column in COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION default")
