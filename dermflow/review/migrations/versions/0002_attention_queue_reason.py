"""verdicts.queue_reason: the queue's attention_off_lesion reason (the Grad-CAM's peak off the lesion), and room for it

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_BEFORE = ('out_of_scope', 'prediction_set', 'melanoma_band', 'random_audit', 'upload', 'direct')
_AFTER = ('out_of_scope', 'prediction_set', 'melanoma_band', 'attention_off_lesion', 'random_audit', 'upload', 'direct')


def _one_of(values: tuple[str, ...]) -> str:
    return "queue_reason IN (" + ", ".join(repr(v) for v in values) + ")"


def _queue_reason_column(length: int, new_length: int, allowed: tuple[str, ...]) -> None:
    with op.batch_alter_table('verdicts') as batch:
        batch.drop_constraint(op.f('ck_verdicts_queue_reason'), type_='check')
        batch.alter_column('queue_reason', existing_type=sa.String(length=length), type_=sa.String(length=new_length),
                           existing_nullable=False)
        batch.create_check_constraint('queue_reason', _one_of(allowed))


def upgrade() -> None:
    _queue_reason_column(16, 32, _AFTER)


def downgrade() -> None:
    _queue_reason_column(32, 16, _BEFORE)
