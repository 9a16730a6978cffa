"""bounce decision: each bounce event keeps what the kill/suspect rule needs later

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 12:00:00

A report that quotes no original only makes an address suspect; a second independent report
24 h or more apart kills it.  So each event keeps whether the failure was permanent, how the
report was tied to mail sent there (message_id / unquoted / unrelated) and the report's own
Message-ID (two copies of one report are not independent).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('bounce_events') as batch:
        batch.add_column(sa.Column('permanent', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('tie', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('report_id', sa.String(length=998), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('bounce_events') as batch:
        batch.drop_column('report_id')
        batch.drop_column('tie')
        batch.drop_column('permanent')
