"""Alembic migrations of the review store, run by ``open_review_database`` at every open (docs/review.md)."""
