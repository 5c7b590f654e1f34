"""review store: users, api_tokens, sessions, login_failures, verdicts, kept_images

Revision ID: 0001
Revises: (none: the first)

Times are UTC (SQLite stores them naive, PostgreSQL as timestamptz). ``verdicts`` is append-only;
``verdicts.comment`` may hold patient data and never leaves the database.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    _create_accounts()
    _create_verdicts()


def _create_accounts() -> None:
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_name', sa.String(length=64), nullable=False),
    sa.Column('client', sa.String(length=100), nullable=False),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures'))
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failures_failed_at'), ['failed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_failures_user_name'), ['user_name'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('viewer', 'reviewer', 'admin')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_api_tokens_token_sha256'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions')),
    sa.UniqueConstraint('session_sha256', name=op.f('uq_sessions_session_sha256'))
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sessions_user_id'), ['user_id'], unique=False)


def _create_verdicts() -> None:
    op.create_table('verdicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('image_path', sa.String(length=1024), nullable=True),
    sa.Column('diagnosis', sa.String(length=8), nullable=False),
    sa.Column('other_text', sa.String(length=200), nullable=True),
    sa.Column('basis', sa.String(length=16), nullable=False),
    sa.Column('lesion_id', sa.String(length=64), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('model_name', sa.String(length=200), nullable=True),
    sa.Column('model_version', sa.String(length=64), nullable=True),
    sa.Column('predicted_label', sa.String(length=64), nullable=True),
    sa.Column('probabilities', sa.JSON(), nullable=True),
    sa.Column('out_of_scope', sa.Boolean(), nullable=True),
    sa.Column('run_id', sa.String(length=200), nullable=True),
    sa.Column('queue_reason', sa.String(length=16), nullable=False),
    sa.Column('supersedes', sa.Integer(), nullable=True),
    sa.CheckConstraint("(diagnosis = 'OTHER') = (other_text IS NOT NULL)", name=op.f('ck_verdicts_other_text')),
    sa.CheckConstraint("basis IN ('histopathology', 'consensus', 'follow_up', 'single_expert')", name=op.f('ck_verdicts_basis')),
    sa.CheckConstraint("diagnosis IN ('MEL', 'NV', 'BCC', 'AK', 'BKL', 'DF', 'VASC', 'SCC', 'OTHER')", name=op.f('ck_verdicts_diagnosis')),
    sa.CheckConstraint("queue_reason IN ('out_of_scope', 'prediction_set', 'melanoma_band', 'random_audit', 'upload', 'direct')", name=op.f('ck_verdicts_queue_reason')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_verdicts_reviewer_id_users')),
    sa.ForeignKeyConstraint(['supersedes'], ['verdicts.id'], name=op.f('fk_verdicts_supersedes_verdicts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verdicts')),
    sa.UniqueConstraint('supersedes', name=op.f('uq_verdicts_supersedes'))
    )
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verdicts_model_version'), ['model_version'], unique=False)
        batch_op.create_index(batch_op.f('ix_verdicts_recorded_at'), ['recorded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_verdicts_reviewer_id'), ['reviewer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_verdicts_sha256'), ['sha256'], unique=False)

    op.create_table('kept_images',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('jpeg', sa.LargeBinary(), nullable=False),
    sa.Column('verdict_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_kept_images_recorded_by_users')),
    sa.ForeignKeyConstraint(['verdict_id'], ['verdicts.id'], name=op.f('fk_kept_images_verdict_id_verdicts')),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_kept_images'))
    )


def downgrade() -> None:
    op.drop_table('kept_images')
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verdicts_sha256'))
        batch_op.drop_index(batch_op.f('ix_verdicts_reviewer_id'))
        batch_op.drop_index(batch_op.f('ix_verdicts_recorded_at'))
        batch_op.drop_index(batch_op.f('ix_verdicts_model_version'))

    op.drop_table('verdicts')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_sessions_expires_at'))

    op.drop_table('sessions')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_failures_user_name'))
        batch_op.drop_index(batch_op.f('ix_login_failures_failed_at'))

    op.drop_table('login_failures')
