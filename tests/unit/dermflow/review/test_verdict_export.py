from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from review_cases import CASES, COMMENT, OTHER_TEXT, V1, V2, record_cases
from review_workload import PASSWORD, image_sha256

from dermflow.review import ReviewStoreError, add_user, export_verdicts, reviewed_performance
from dermflow.schemas.scores_schema import PREDICTIONS_SCHEMA
from dermflow.schemas.verdicts_schema import NEVER_EXPORTED, VERDICTS_SCHEMA, descriptions

REVIEW_DOC = Path(__file__).resolve().parents[4] / "docs" / "review.md"


def doc_queries() -> dict[str, str]:
    """The DuckDB queries of docs/review.md, by their first comment line."""
    blocks = re.findall(r"```sql\n(.*?)```", REVIEW_DOC.read_text(encoding="utf-8"), flags=re.S)
    return {block.splitlines()[0].removeprefix("-- ").split(" (docs/review.md)")[0]: block
            for block in blocks if "(docs/review.md)" in block.splitlines()[0]}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from dermflow.review import open_review_database

    root = tmp_path_factory.mktemp("export")
    db = open_review_database(f"sqlite:///{root}/review.sqlite")
    add_user(db, "rev", "reviewer", PASSWORD)
    record_cases(db, "rev")
    summary = export_verdicts(db, root / "export")
    yield db, root, summary
    db.close()


def _rows(path: Path) -> list[dict]:
    return ds.dataset(path, format="parquet", partitioning="hive").to_table().to_pylist()


def test_the_export_is_hive_partitioned_by_model_version_with_every_verdict(exported):
    _, root, summary = exported
    assert summary.rows == len(CASES) + 3 and summary.current == len(CASES) + 1
    assert summary.by_model_version == {V1: len(CASES) + 1, V2: 1, None: 1}
    folders = sorted(p.name for p in (root / "export" / "verdicts").iterdir())
    assert folders == ["model_version=20260101T000000Z", "model_version=20260201T000000Z",
                       "model_version=__HIVE_DEFAULT_PARTITION__"]
    rows = duckdb.sql(f"SELECT * FROM read_parquet('{root}/export/verdicts/**/*.parquet', hive_partitioning = true)").df()
    assert len(rows) == summary.rows and rows["model_version"].isna().sum() == 1
    corrected = rows[rows["sha256"] == image_sha256("img4")].sort_values("verdict_id")
    assert list(corrected["diagnosis"]) == ["NV", "MEL"] and list(corrected["is_current"]) == [False, True]
    assert corrected["supersedes"].iloc[1] == corrected["verdict_id"].iloc[0]
    assert set(rows["queue_group"]) == {"queue", "random_audit", "other"}


def test_no_comment_free_text_or_path_is_exported(exported):
    _, root, _ = exported
    files = list((root / "export").rglob("*.parquet"))
    for path in files:
        schema = pq.read_schema(path)
        assert schema.names == VERDICTS_SCHEMA.names
        assert not set(schema.names) & set(NEVER_EXPORTED)
    values = json.dumps(_rows(root / "export" / "verdicts"), default=str)
    assert "IL_img1" in values  # the values are read, so a leak would show
    for secret in (COMMENT, OTHER_TEXT, "clinic/img1.jpg"):
        assert secret not in values
        assert not any(secret.encode() in path.read_bytes() for path in files)


def test_every_column_is_described_in_the_files():
    described = descriptions()
    assert set(described) == set(VERDICTS_SCHEMA.names) | {"model_version"}
    assert all(len(text) > 20 for text in described.values())


def test_a_re_export_replaces_the_previous_one(exported, tmp_path):
    db, _, _ = exported
    first = export_verdicts(db, tmp_path)
    again = export_verdicts(db, tmp_path)
    assert len(_rows(again.path)) == first.rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["verdicts"]


def test_a_scoring_output_folder_is_refused(exported, tmp_path):
    db, _, _ = exported
    (tmp_path / "predictions").mkdir()
    with pytest.raises(ReviewStoreError, match="scoring output folder"):
        export_verdicts(db, tmp_path)
    assert not (tmp_path / "verdicts").exists()


def _duckdb_with_cases(root: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(doc_queries()["reviewed cases"].replace("EXPORT", str(root / "export")))
    return connection


def test_the_documented_duckdb_queries_give_the_stores_own_figures(exported):
    db, root, _ = exported
    queries, connection = doc_queries(), _duckdb_with_cases(root)
    figures = {(f.model_version, f.group): f for f in reviewed_performance(db)}
    confusion = connection.execute(queries["confusion matrix"]).fetchall()
    expected = sorted((version, truth, predicted, count) for (version, group), f in figures.items() if group == "all"
                      for truth, row in f.confusion.items() for predicted, count in row.items())
    assert confusion == expected and len(confusion) == 8
    sensitivity = connection.execute(queries["sensitivity per class with its Wilson 95 % interval"]).fetchall()
    assert len(sensitivity) == 4
    for version, label, hits, n, value, low, high in sensitivity:
        share = figures[(version, "all")].sensitivity[label]
        assert (hits, n) == (share.successes, share.n)
        assert (value, low, high) == pytest.approx((share.value, share.low, share.high))
    balanced = connection.execute(queries["balanced accuracy per model version: all cases, then the queue and the "
                                          "random audit apart"]).fetchall()
    assert [(v, g) for v, g, _, _ in balanced] == [(V1, "all"), (V1, "queue"), (V1, "random_audit"), (V2, "all"),
                                                   (V2, "queue")]
    for version, group, images, value in balanced:
        assert value == pytest.approx(figures[(version, group)].balanced_accuracy)
        assert images == figures[(version, group)].n_scored


def _predictions(folder: Path) -> None:
    """Two scoring runs of img1 (the newer wins) and one of img2, as `dermflow score` writes them."""
    rows = []
    for image, run, when in (("img1", "old", 1), ("img1", "new", 2), ("img2", "new", 2)):
        rows.append({
            "path": f"{image}.jpg", "sha256": image_sha256(image), "format": "jpeg", "width": 8, "height": 8,
            "dicom_uid_sha256": None, "model_name": "dermflow_mobilenet_v2", "predicted_label": "MEL",
            "predicted_index": 0, "predicted_probability": 0.7, "probabilities": [("MEL", 0.7), ("NV", 0.15), ("BCC", 0.15)],
            "in_scope_score": 0.5 if run == "new" else 0.1, "out_of_scope": False, "prediction_set": ["MEL"],
            "prediction_set_size": 1, "gradcam": [0.0], "gradcam_shape": [1, 1], "gradcam_png": b"",
            "scored_at": datetime(2026, 1, when, tzinfo=timezone.utc), "run_id": run,
        })
    table = pa.Table.from_pylist(rows, schema=PREDICTIONS_SCHEMA)
    target = folder / "predictions" / f"model_version={V1}" / "scored_date=2026-01-01"
    target.mkdir(parents=True)
    pq.write_table(table, target / "part-test-0.parquet")


def test_the_export_joins_the_predictions_on_sha256_and_model_version(exported, tmp_path):
    _, root, _ = exported
    _predictions(tmp_path / "scores")
    connection = _duckdb_with_cases(root)
    query = doc_queries()["reviewed cases with their predictions"].replace("SCORES", str(tmp_path / "scores"))
    joined = connection.execute(query.strip().rstrip(";") + " ORDER BY path").fetchall()
    columns = [d[0] for d in connection.description]
    rows = [dict(zip(columns, row)) for row in joined]
    assert [(r["path"], r["model_version"], r["diagnosis"], r["in_scope_score"]) for r in rows] == [
        ("img1.jpg", V1, "MEL", 0.5), ("img2.jpg", V1, "NV", 0.5)]
