"""contact search: a folded search column per contact (Unicode case, ё = е, accents), filled here

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 02:40:00

SQLite's lower()/LIKE fold ASCII only; the store now keeps contacts.search_text (see
mailcrm/store/search.py) and searches it with one LIKE on both backends, through a trigram index
where the backend has one: on SQLite an FTS5 table with the trigram tokenizer (``contact_search``,
rowid = contact id, kept by the store beside the column; SQLite >= 3.34), on PostgreSQL a GIN
``pg_trgm`` index (when the extension can be created). Without either, the LIKE scans the column.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('search_text', sa.Text(), nullable=False, server_default=''))
    from mailcrm.store.search import rows_for

    conn = op.get_bind()
    ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM contacts ORDER BY id"))]
    stmt = sa.text("UPDATE contacts SET search_text = :text WHERE id = :cid")
    rows = []
    for i in range(0, len(ids), 500):
        chunk = rows_for(conn, ids[i:i + 500])
        if chunk:
            conn.execute(stmt, chunk)
            rows += chunk
    if conn.dialect.name == "sqlite":
        try:
            with conn.begin_nested():
                conn.execute(sa.text("CREATE VIRTUAL TABLE contact_search USING fts5(search_text, tokenize='trigram')"))
        except sa.exc.OperationalError:  # no FTS5 or no trigram tokenizer (SQLite < 3.34): LIKE scans
            return
        if rows:
            conn.execute(sa.text("INSERT INTO contact_search(rowid, search_text) VALUES (:cid, :text)"), rows)
    elif conn.dialect.name == "postgresql":
        try:
            with conn.begin_nested():
                schema = conn.execute(sa.text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                                              "WHERE e.extname = 'pg_trgm'")).scalar()
                if schema is None:
                    conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
                    schema = "public"
                conn.execute(sa.text(f'CREATE INDEX ix_contacts_search_trgm ON contacts USING gin (search_text "{schema}".gin_trgm_ops)'))
        except sa.exc.DBAPIError:  # not allowed to create the extension: LIKE scans the column
            pass


def downgrade() -> None:
    """Downgrade schema."""
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.execute(sa.text("DROP TABLE IF EXISTS contact_search"))
    else:
        conn.execute(sa.text("DROP INDEX IF EXISTS ix_contacts_search_trgm"))
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('search_text')
