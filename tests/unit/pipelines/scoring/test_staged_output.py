"""Staging folders: heartbeats, removal of dead runs' staging (never a live one), zero-row files."""
from __future__ import annotations

import os
import time

import duckdb

from dermflow.pipelines.scoring.staged_output import (
    HEARTBEAT, STAGING, Heartbeat, OutputLayout, publish_empty_if_none, remove_dead_staging, remove_staging,
)
from dermflow.schemas.scores_schema import ERRORS_SCHEMA


def _age(folder, seconds):
    old = time.time() - seconds
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (old, old))


def test_dead_runs_staging_is_removed_and_a_live_runs_is_kept(tmp_path):
    dead = OutputLayout(str(tmp_path), "dead", "v1", "2026-12-02")
    live = OutputLayout(str(tmp_path), "live", "v1", "2026-12-02", shard="shard-00000-of-00002")
    with Heartbeat(dead, interval_s=60):
        (tmp_path / STAGING / "dead" / "predictions-00000-of-00001.staged").write_bytes(b"x")
    _age(tmp_path / STAGING / "dead", 3600)
    (tmp_path / STAGING / "emptied").mkdir()
    _age(tmp_path / STAGING / "emptied", 3600)
    with Heartbeat(live, interval_s=0.05):
        _age(tmp_path / STAGING / "live", 3600)
        time.sleep(0.3)  # the live run beats again meanwhile
        removed = remove_dead_staging(str(tmp_path), dead_after_s=600)
        assert removed == ["dead", "emptied"]
        assert (tmp_path / STAGING / "live" / live.shard / HEARTBEAT).is_file()
    remove_staging(live)
    assert not (tmp_path / STAGING).exists(), "an emptied _staging/<run_id>/ and _staging/ are removed too"


def test_the_run_being_started_is_never_removed(tmp_path):
    layout = OutputLayout(str(tmp_path), "again", "v1", "2026-12-02")
    Heartbeat(layout, 60).beat()
    _age(tmp_path / STAGING, 3600)
    assert remove_dead_staging(str(tmp_path), 600, keep_run="again") == []


def test_a_table_with_no_file_gets_a_zero_row_file_duckdb_reads(tmp_path):
    partition = str(tmp_path / "errors" / "run_id=r1")
    [path] = publish_empty_if_none([], partition, "errors-r1-empty.pq", ERRORS_SCHEMA)
    [(count,)] = duckdb.sql(f"SELECT count(*) FROM read_parquet('{tmp_path}/errors/**/*.pq', hive_partitioning=1)").fetchall()
    assert count == 0
    assert publish_empty_if_none(["already.pq"], partition, "x.pq", ERRORS_SCHEMA) == ["already.pq"]
    assert os.listdir(partition) == [os.path.basename(path)]
