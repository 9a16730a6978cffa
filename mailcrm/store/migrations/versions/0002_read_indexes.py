"""read indexes: a covering (contact, date, role, message) participant index; contacts.merged_into_id

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 14:45:00

The digest asks, per contact, for the latest participant row in some roles, and ``show``
reads a contact's timeline newest first.  With (contact_id, date) alone every candidate row
had to be fetched from the table to test its role; the wider index answers both from the
index.  It starts with the old index's columns, so the old one goes.  ``show`` also looks up
the contacts merged into one (``merged_into_id``), which scanned the contacts table.
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index('ix_participant_contact_timeline', 'message_participants',
                    ['contact_id', 'date', 'role', 'message_id'], unique=False)
    op.drop_index('ix_participant_contact_date', table_name='message_participants')
    op.create_index('ix_contacts_merged_into_id', 'contacts', ['merged_into_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_contacts_merged_into_id', table_name='contacts')
    op.create_index('ix_participant_contact_date', 'message_participants', ['contact_id', 'date'], unique=False)
    op.drop_index('ix_participant_contact_timeline', table_name='message_participants')
