"""Alembic's entry point for the review store: runs in the connection and transaction that
``dermflow.review.review_database`` opened (and locked), never from an alembic.ini."""
from __future__ import annotations

from alembic import context

from dermflow.review.review_tables import ReviewBase, UtcDateTime


def _render_item(kind: str, item, autogen_context):
    """A new revision spells UtcDateTime as the plain type it stores, so revisions never import live code."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=ReviewBase.metadata, render_as_batch=True,
                  compare_type=True, render_item=_render_item)
with context.begin_transaction():
    context.run_migrations()
