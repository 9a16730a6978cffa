"""forms and leads: HTTP intake forms (token) and one row per form submission

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 02:40:00

``forms`` holds the intake tokens made by `mailcrm form add`; ``leads`` one row per
submission (unique per form and submission key, so a resubmission is stored once) with
its contact, deal and whether the "new lead" notification went out.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'forms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('token', sa.String(length=100), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('rotated_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_forms_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_forms')),
        sa.UniqueConstraint('name', name=op.f('uq_forms_name')),
        sa.UniqueConstraint('token', name=op.f('uq_forms_token')),
    )
    op.create_table(
        'leads',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('form', sa.String(length=100), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('contact_id', sa.Integer(), nullable=True),
        sa.Column('deal_id', sa.Integer(), nullable=True),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('client', sa.String(length=100), nullable=True),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('notified_at', sa.DateTime(), nullable=True),
        sa.Column('notify_error', sa.Text(), nullable=True),
        sa.Column('notify_attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_leads_user_id_users')),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_leads_contact_id_contacts')),
        sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_leads_deal_id_deals')),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_leads_message_id_messages')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_leads')),
        sa.UniqueConstraint('form', 'key', name='uq_lead_form_key'),
    )
    with op.batch_alter_table('deals') as batch:
        batch.add_column(sa.Column('source', sa.String(length=100), nullable=True))
    op.create_index(op.f('ix_leads_contact_id'), 'leads', ['contact_id'], unique=False)
    op.create_index(op.f('ix_leads_notified_at'), 'leads', ['notified_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_leads_notified_at'), table_name='leads')
    op.drop_index(op.f('ix_leads_contact_id'), table_name='leads')
    op.drop_table('leads')
    op.drop_table('forms')
    with op.batch_alter_table('deals') as batch:
        batch.drop_column('source')
