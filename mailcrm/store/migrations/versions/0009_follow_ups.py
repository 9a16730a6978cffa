"""follow-ups: a reminder row per mail BCC'd to a dated dropbox sub-address (crm+<secret>+3d@);
digest runs keep their Message-ID and what each numbered line meant (replies act on them);
replies handled once (digest_replies); keep-in-touch rules (touch_rules)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 02:50:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'follow_ups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('due', sa.Date(), nullable=False),
        sa.Column('always', sa.Boolean(), nullable=False),
        sa.Column('word', sa.String(length=100), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('cancelled_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_follow_ups_message_id_messages')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_follow_ups_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups')),
        sa.UniqueConstraint('message_id', name=op.f('uq_follow_ups_message_id')),
    )
    op.create_index(op.f('ix_follow_ups_due'), 'follow_ups', ['due'], unique=False)
    op.create_index(op.f('ix_follow_ups_user_id'), 'follow_ups', ['user_id'], unique=False)
    op.create_table(
        'digest_replies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=1000), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('results', sa.JSON(), nullable=False),
        sa.Column('answered', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['digest_runs.id'], name=op.f('fk_digest_replies_run_id_digest_runs')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_digest_replies_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_replies')),
        sa.UniqueConstraint('key', name=op.f('uq_digest_replies_key')),
    )
    op.create_index(op.f('ix_digest_replies_user_id'), 'digest_replies', ['user_id'], unique=False)
    op.create_index(op.f('ix_digest_replies_created_at'), 'digest_replies', ['created_at'], unique=False)
    op.create_table(
        'touch_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=True),
        sa.Column('tag_id', sa.Integer(), nullable=True),
        sa.Column('every_days', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_touch_rules_contact_id_contacts')),
        sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_touch_rules_tag_id_tags')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_touch_rules')),
    )
    op.create_index(op.f('ix_touch_rules_contact_id'), 'touch_rules', ['contact_id'], unique=False)
    op.create_index(op.f('ix_touch_rules_tag_id'), 'touch_rules', ['tag_id'], unique=False)
    with op.batch_alter_table('digest_runs') as batch:
        batch.add_column(sa.Column('message_id', sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column('lines', sa.JSON(), nullable=False, server_default='[]'))
        batch.create_index(batch.f('ix_digest_runs_message_id'), ['message_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('digest_runs') as batch:
        batch.drop_index(batch.f('ix_digest_runs_message_id'))
        batch.drop_column('lines')
        batch.drop_column('message_id')
    op.drop_index(op.f('ix_touch_rules_tag_id'), table_name='touch_rules')
    op.drop_index(op.f('ix_touch_rules_contact_id'), table_name='touch_rules')
    op.drop_table('touch_rules')
    op.drop_index(op.f('ix_digest_replies_created_at'), table_name='digest_replies')
    op.drop_index(op.f('ix_digest_replies_user_id'), table_name='digest_replies')
    op.drop_table('digest_replies')
    op.drop_index(op.f('ix_follow_ups_user_id'), table_name='follow_ups')
    op.drop_index(op.f('ix_follow_ups_due'), table_name='follow_ups')
    op.drop_table('follow_ups')
