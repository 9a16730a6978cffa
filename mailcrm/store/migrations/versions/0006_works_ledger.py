"""works, the outreach ledger, repeat warnings; raw mail content-addressed by sha256

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 02:40:00

``message_blobs`` (one row per message id) becomes ``raw_messages`` (one row per sha256 of the
bytes, which ``messages.sha256`` already names): the bytes of every message on a timeline are
kept once, byte for byte, and a proof export finds them by hash.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('raw_messages',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_raw_messages'))
    )
    # One row per distinct sha256 (the lowest message id's copy; equal hashes are equal bytes).
    op.execute(
        "INSERT INTO raw_messages (sha256, data, size) "
        "SELECT m.sha256, b.data, length(b.data) FROM message_blobs b JOIN messages m ON m.id = b.message_id "
        "WHERE b.message_id IN (SELECT min(m2.id) FROM messages m2 JOIN message_blobs b2 ON b2.message_id = m2.id "
        "GROUP BY m2.sha256)")
    op.drop_table('message_blobs')
    op.create_table('works',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merged_into_id'], ['works.id'], name=op.f('fk_works_merged_into_id_works')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_works'))
    )
    op.create_table('work_aliases',
    sa.Column('key', sa.String(length=500), nullable=False),
    sa.Column('work_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['work_id'], ['works.id'], name=op.f('fk_work_aliases_work_id_works')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_work_aliases'))
    )
    op.create_index(op.f('ix_work_aliases_work_id'), 'work_aliases', ['work_id'], unique=False)
    op.create_table('work_files',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('work_id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=500), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('doc_title', sa.String(length=500), nullable=True),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['work_id'], ['works.id'], name=op.f('fk_work_files_work_id_works')),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_work_files'))
    )
    op.create_index(op.f('ix_work_files_work_id'), 'work_files', ['work_id'], unique=False)
    op.create_table('work_sends',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('work_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('via', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=500), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_work_sends_company_id_companies')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_work_sends_contact_id_contacts')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_work_sends_message_id_messages')),
    sa.ForeignKeyConstraint(['work_id'], ['works.id'], name=op.f('fk_work_sends_work_id_works')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_sends')),
    sa.UniqueConstraint('work_id', 'message_id', 'address', name='uq_work_send')
    )
    op.create_index(op.f('ix_work_sends_contact_id'), 'work_sends', ['contact_id'], unique=False)
    op.create_index(op.f('ix_work_sends_message_id'), 'work_sends', ['message_id'], unique=False)
    op.create_index('ix_work_send_work_contact', 'work_sends', ['work_id', 'contact_id'], unique=False)
    op.create_index('ix_work_send_work_company', 'work_sends', ['work_id', 'company_id'], unique=False)
    op.create_table('work_recipients',
    sa.Column('work_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('first_sent', sa.DateTime(), nullable=False),
    sa.Column('last_sent', sa.DateTime(), nullable=False),
    sa.Column('times', sa.Integer(), nullable=False),
    sa.Column('answer', sa.String(length=20), nullable=False),
    sa.Column('answer_at', sa.DateTime(), nullable=True),
    sa.Column('answer_text', sa.Text(), nullable=True),
    sa.Column('answer_by_user', sa.Boolean(), nullable=False),
    sa.Column('bounced', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_work_recipients_company_id_companies')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_work_recipients_contact_id_contacts')),
    sa.ForeignKeyConstraint(['work_id'], ['works.id'], name=op.f('fk_work_recipients_work_id_works')),
    sa.PrimaryKeyConstraint('work_id', 'contact_id', name=op.f('pk_work_recipients'))
    )
    op.create_index(op.f('ix_work_recipients_contact_id'), 'work_recipients', ['contact_id'], unique=False)
    op.create_index('ix_work_recipient_company', 'work_recipients', ['work_id', 'company_id'], unique=False)
    op.create_table('ledger_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('work_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_ledger_entries_company_id_companies')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_ledger_entries_contact_id_contacts')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_ledger_entries_message_id_messages')),
    sa.ForeignKeyConstraint(['work_id'], ['works.id'], name=op.f('fk_ledger_entries_work_id_works')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('hash', name=op.f('uq_ledger_entries_hash')),
    sa.UniqueConstraint('seq', name=op.f('uq_ledger_entries_seq'))
    )
    op.create_index(op.f('ix_ledger_entries_contact_id'), 'ledger_entries', ['contact_id'], unique=False)
    op.create_index(op.f('ix_ledger_entries_message_id'), 'ledger_entries', ['message_id'], unique=False)
    op.create_index('ix_ledger_work_contact', 'ledger_entries', ['work_id', 'contact_id'], unique=False)
    op.create_table('work_warnings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('work_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_work_warnings_message_id_messages')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_work_warnings_user_id_users')),
    sa.ForeignKeyConstraint(['work_id'], ['works.id'], name=op.f('fk_work_warnings_work_id_works')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_warnings'))
    )
    op.create_index(op.f('ix_work_warnings_user_id'), 'work_warnings', ['user_id'], unique=False)
    op.create_index(op.f('ix_work_warnings_status'), 'work_warnings', ['status'], unique=False)
    op.create_index(op.f('ix_work_warnings_created_at'), 'work_warnings', ['created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    for table in ('work_warnings', 'ledger_entries', 'work_recipients', 'work_sends', 'work_files', 'work_aliases',
                  'works'):
        op.drop_table(table)
    op.create_table('message_blobs',
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_message_blobs_message_id_messages')),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_message_blobs'))
    )
    op.execute("INSERT INTO message_blobs (message_id, data) "
               "SELECT m.id, r.data FROM messages m JOIN raw_messages r ON r.sha256 = m.sha256")
    op.drop_table('raw_messages')
