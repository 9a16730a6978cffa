"""read paths at scale: digest indexes on activities (calls per contact, snoozes and "back on"
dates by kind and day) and on email address status

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 05:00:00

At 1M messages / 50k contacts the digest scanned every activity twice (snoozes, auto-replies due
today) and every address (suspect, "no live address"), and read each deal member's activities
from the table to find the latest call.  Issue 26.
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0015'
down_revision: Union[str, Sequence[str], None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index('ix_activity_contact_kind_at', 'activities', ['contact_id', 'kind', 'at'], unique=False)
    op.create_index('ix_activity_due_kind', 'activities', ['due', 'kind'], unique=False)
    op.create_index('ix_email_address_status', 'email_addresses', ['status', 'contact_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_email_address_status', table_name='email_addresses')
    op.drop_index('ix_activity_due_kind', table_name='activities')
    op.drop_index('ix_activity_contact_kind_at', table_name='activities')
