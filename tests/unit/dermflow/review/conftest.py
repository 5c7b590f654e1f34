from __future__ import annotations

import pytest
from review_workload import PASSWORD

from dermflow.review import add_user, open_review_database


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """One SQLite store per test module, with alice (reviewer), ada (admin) and vic (viewer)."""
    db = open_review_database(f"sqlite:///{tmp_path_factory.mktemp('review')}/review.sqlite")
    for name, role in (("alice", "reviewer"), ("ada", "admin"), ("vic", "viewer")):
        add_user(db, name, role, PASSWORD)
    yield db
    db.close()


@pytest.fixture
def fresh_db(tmp_path):
    db = open_review_database(f"sqlite:///{tmp_path}/review.sqlite")
    yield db
    db.close()
