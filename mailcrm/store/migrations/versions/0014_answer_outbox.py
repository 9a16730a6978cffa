"""answer_outbox: answers owed by mail (digest replies, +find/+pending/+outreach, help), kept until
the relay took them and retried with backoff (issue 27)

Revision ID: 0014
Revises: 0009
Create Date: 2026-12-06 05:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'answer_outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('to_address', sa.String(length=320), nullable=False),
        sa.Column('message_id', sa.String(length=1000), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('claimed_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_answer_outbox_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_answer_outbox')),
        sa.UniqueConstraint('message_id', name=op.f('uq_answer_outbox_message_id')),
    )
    op.create_index(op.f('ix_answer_outbox_user_id'), 'answer_outbox', ['user_id'], unique=False)
    op.create_index(op.f('ix_answer_outbox_status'), 'answer_outbox', ['status'], unique=False)
    op.create_index(op.f('ix_answer_outbox_next_attempt_at'), 'answer_outbox', ['next_attempt_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_answer_outbox_next_attempt_at'), table_name='answer_outbox')
    op.drop_index(op.f('ix_answer_outbox_status'), table_name='answer_outbox')
    op.drop_index(op.f('ix_answer_outbox_user_id'), table_name='answer_outbox')
    op.drop_table('answer_outbox')
