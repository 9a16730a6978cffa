"""web accounts: a password hash per user, server-side login sessions, API tokens

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 02:50:00

``web_credentials`` holds each user's argon2 hash (`mailcrm web password`); ``web_sessions``
one row per login, keyed by the SHA-256 of the cookie's random token (the token itself is
never stored), so logging out or changing the password ends a session at once; ``web_tokens``
the SHA-256 of each API bearer token (`mailcrm web token`), revoking is a status.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'web_credentials',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('password_hash', sa.String(length=200), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_credentials_user_id_users')),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_web_credentials')),
    )
    op.create_table(
        'web_sessions',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_sessions_user_id_users')),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_web_sessions')),
    )
    op.create_index('ix_web_sessions_user_id', 'web_sessions', ['user_id'])
    op.create_table(
        'web_tokens',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_tokens_user_id_users')),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_web_tokens')),
    )
    op.create_index('ix_web_tokens_user_id', 'web_tokens', ['user_id'])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_web_tokens_user_id', table_name='web_tokens')
    op.drop_table('web_tokens')
    op.drop_index('ix_web_sessions_user_id', table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_table('web_credentials')
