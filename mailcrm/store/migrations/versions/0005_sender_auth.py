"""sender authentication: the verdicts and the author's proof on each message

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 03:00:00

``auth`` keeps what DKIM, SPF, DMARC alignment and ARC said (JSON, NULL for mail stored before
this revision or read from the user's own folders); ``author_proof`` how an author claiming a
user's address was proven, "none" for mail stored flagged under author_auth = "mark".
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('auth', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('author_proof', sa.String(length=30), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('author_proof')
        batch.drop_column('auth')
