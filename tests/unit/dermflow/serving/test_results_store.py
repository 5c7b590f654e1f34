"""The results store reads `dermflow score` output folders in place: filters, sorting, counts, CSV, errors."""
from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dermflow.schemas.scores_schema import ERRORS_SCHEMA, PREDICTIONS_SCHEMA
from dermflow.serving.results_store import ResultsQuery, ResultsStore

LABELS = ["MEL", "NV", "BCC"]
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _row(path: str, probabilities: list[float], run_id: str) -> dict:
    index = max(range(3), key=lambda i: probabilities[i])
    return {
        "path": path, "sha256": path, "format": "jpeg", "width": 8, "height": 8, "dicom_uid_sha256": None,
        "model_name": "m", "predicted_label": LABELS[index], "predicted_index": index,
        "predicted_probability": probabilities[index], "probabilities": list(zip(LABELS, probabilities)),
        "gradcam": [0.5], "gradcam_shape": [1, 1], "gradcam_png": b"png-" + path.encode(), "scored_at": NOW, "run_id": run_id,
    }


def _write(root, version: str, date: str, run_id: str, rows: list[dict]) -> None:
    folder = root / "predictions" / f"model_version={version}" / f"scored_date={date}"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=PREDICTIONS_SCHEMA), folder / f"part-{run_id}-00000-of-00001.parquet")


@pytest.fixture()
def store(tmp_path):
    first, second = tmp_path / "out1", tmp_path / "out2"
    _write(first, "v1", "2026-12-01", "r1", [
        _row("a.jpg", [0.7, 0.2, 0.1], "r1"), _row("b.jpg", [0.1, 0.8, 0.1], "r1"), _row("c.jpg", [0.2, 0.3, 0.5], "r1"),
    ])
    _write(second, "v2", "2026-12-02", "r2", [_row("d.jpg", [0.9, 0.05, 0.05], "r2"), _row("e.jpg", [0.3, 0.6, 0.1], "r2")])
    errors = first / "errors" / "run_id=r1"
    errors.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([{
        "path": "bad.txt", "reason": "not_an_image", "message": "text", "model_version": "v1", "rejected_at": NOW,
    }], schema=ERRORS_SCHEMA), errors / "errors-r1-00000-of-00001.pq")
    return ResultsStore([first, second])


def test_every_folder_is_listed_with_counts(store):
    page = store.predictions(ResultsQuery(), page_size=10)
    assert page.total == 5 and page.labels == LABELS
    assert page.counts == {"MEL": 2, "NV": 2, "BCC": 1}
    assert page.model_versions == ["v1", "v2"] and page.run_ids == ["r1", "r2"] and page.scored_dates == ["2026-12-01", "2026-12-02"]
    assert page.rows[0]["path"] == "d.jpg"  # highest predicted probability first
    assert page.rows[0]["probabilities"] == pytest.approx({"MEL": 0.9, "NV": 0.05, "BCC": 0.05})


def test_filters_change_the_rows_not_the_label_counts(store):
    page = store.predictions(ResultsQuery(label="NV"), page_size=10)
    assert sorted(r["path"] for r in page.rows) == ["b.jpg", "e.jpg"] and page.total == 2
    assert page.counts == {"MEL": 2, "NV": 2, "BCC": 1}
    assert store.predictions(ResultsQuery(run_id="r2"), page_size=10).total == 2
    assert store.predictions(ResultsQuery(model_version="v1", label="MEL"), page_size=10).total == 1
    assert store.predictions(ResultsQuery(scored_date="2026-12-02"), page_size=10).counts == {"MEL": 1, "NV": 1}


def test_sorting_by_a_class_probability_and_paging(store):
    by_bcc = store.predictions(ResultsQuery(sort="p:BCC"), page_size=2)
    assert [r["path"] for r in by_bcc.rows] == ["c.jpg", "a.jpg"]
    second = store.predictions(ResultsQuery(sort="p:MEL", descending=False, page=1), page_size=2)
    assert [r["path"] for r in second.rows] == ["e.jpg", "a.jpg"]  # b 0.1, c 0.2 | e 0.3, a 0.7 | d 0.9
    with pytest.raises(ValueError):
        store.predictions(ResultsQuery(sort="p:XYZ"), page_size=2)
    with pytest.raises(ValueError):
        store.predictions(ResultsQuery(sort="path; DROP TABLE x"), page_size=2)


def test_csv_rows_and_errors(store):
    header, rows = store.csv_rows(ResultsQuery(label="MEL"))
    assert header[-3:] == ["p_MEL", "p_NV", "p_BCC"]
    assert sorted(row[0] for row in rows) == ["a.jpg", "d.jpg"]
    errors = store.errors(ResultsQuery())
    assert [(e["path"], e["reason"], e["run_id"]) for e in errors] == [("bad.txt", "not_an_image", "r1")]
    assert store.errors(ResultsQuery(run_id="r2")) == []
    assert store.heatmap_png("a.jpg", "v1", "r1") == b"png-a.jpg"
    assert store.heatmap_png("a.jpg", "v2", "r1") is None


def test_an_empty_folder_is_an_empty_table(tmp_path):
    page = ResultsStore([tmp_path]).predictions(ResultsQuery(), page_size=5)
    assert (page.rows, page.total, page.counts) == ([], 0, {})


def _trusted(path: str, probabilities: list[float], out_of_scope: bool, in_scope: float, prediction_set: list[str]) -> dict:
    return {**_row(path, probabilities, "r3"), "out_of_scope": out_of_scope, "in_scope_score": in_scope,
            "prediction_set": prediction_set, "prediction_set_size": len(prediction_set)}


@pytest.fixture()
def trusted_store(tmp_path):
    _write(tmp_path, "v3", "2026-12-03", "r3", [
        _trusted("oos.jpg", [0.8, 0.1, 0.1], True, 0.02, ["MEL"]), _trusted("one.jpg", [0.1, 0.8, 0.1], False, 0.7, ["NV"]),
        _trusted("two.jpg", [0.5, 0.4, 0.1], False, 0.4, ["MEL", "NV"]), _trusted("none.jpg", [0.4, 0.3, 0.3], False, 0.3, []),
    ])
    return ResultsStore([tmp_path])


def test_a_label_filter_and_a_probability_sort_bind_their_own_values(store):
    """The WHERE's value and the ORDER BY's label are bound in the statement's order."""
    page = store.predictions(ResultsQuery(label="NV", sort="p:MEL"), page_size=10)
    assert [r["path"] for r in page.rows] == ["e.jpg", "b.jpg"]
    header, rows = store.csv_rows(ResultsQuery(label="NV", sort="p:MEL"))
    assert [row[0] for row in rows] == ["e.jpg", "b.jpg"] and all(row[header.index("predicted_label")] == "NV" for row in rows)


def test_trust_columns_are_listed_filtered_and_sorted(trusted_store):
    page = trusted_store.predictions(ResultsQuery(), page_size=10)
    assert page.has_trust and {"out_of_scope", "in_scope_score", "prediction_set"} <= set(page.rows[0])
    assert [r["path"] for r in trusted_store.predictions(ResultsQuery(scope="out"), 10).rows] == ["oos.jpg"]
    assert trusted_store.predictions(ResultsQuery(scope="in"), 10).total == 3
    assert [r["path"] for r in trusted_store.predictions(ResultsQuery(prediction_set="several"), 10).rows] == ["two.jpg"]
    assert [r["path"] for r in trusted_store.predictions(ResultsQuery(prediction_set="empty"), 10).rows] == ["none.jpg"]
    by_score = trusted_store.predictions(ResultsQuery(sort="in_scope_score", descending=False), 10)
    assert [r["path"] for r in by_score.rows] == ["oos.jpg", "none.jpg", "two.jpg", "one.jpg"]
    header, rows = trusted_store.csv_rows(ResultsQuery(prediction_set="several"))
    assert rows[0][header.index("prediction_set")] == "MEL NV" and header[-3:] == ["p_MEL", "p_NV", "p_BCC"]
    with pytest.raises(ValueError):
        trusted_store.predictions(ResultsQuery(scope="sideways"), 10)


def test_files_without_trust_columns_refuse_a_trust_filter(tmp_path):
    folder = tmp_path / "predictions" / "model_version=v0" / "scored_date=2026-12-01"
    folder.mkdir(parents=True)
    row = {k: v for k, v in _row("old.jpg", [0.6, 0.3, 0.1], "r0").items()}
    schema = pa.schema([f for f in PREDICTIONS_SCHEMA if f.name not in ("out_of_scope", "in_scope_score", "prediction_set",
                                                                         "prediction_set_size")])
    pq.write_table(pa.Table.from_pylist([row], schema=schema), folder / "part-r0-00000-of-00001.parquet")
    store = ResultsStore([tmp_path])
    assert not store.predictions(ResultsQuery(), 10).has_trust
    with pytest.raises(ValueError, match="no trust columns"):
        store.predictions(ResultsQuery(scope="out"), 10)


def test_every_scoring_of_one_image_newest_first(store):
    assert [r["path"] for r in store.rows_for_sha256("d.jpg")] == ["d.jpg"]
    assert store.rows_for_sha256("nope") == []
