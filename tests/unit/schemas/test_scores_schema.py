from datetime import datetime, timezone

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dermflow.schemas import scores_schema
from dermflow.schemas.scores_schema import ERRORS_SCHEMA, PREDICTIONS_SCHEMA


@pytest.mark.parametrize("schema", [PREDICTIONS_SCHEMA, ERRORS_SCHEMA])
def test_every_column_is_described(schema):
    described = scores_schema.descriptions(schema)
    for field in schema:
        assert field.metadata[b"description"].decode().strip()
        assert described[field.name] == field.metadata[b"description"].decode()
    for name in scores_schema.partition_columns(schema):
        assert described[name].strip()


@pytest.mark.parametrize("schema", [PREDICTIONS_SCHEMA, ERRORS_SCHEMA])
def test_partition_columns_are_not_stored_in_the_files(schema):
    partitions = scores_schema.partition_columns(schema)
    assert partitions
    assert not set(partitions) & set(schema.names)


def _row(**overrides):
    row = {
        "path": "a b/é.jpg", "sha256": "0" * 64, "format": "jpeg", "width": 10, "height": 8, "dicom_uid_sha256": None,
        "model_name": "m", "predicted_label": "NV", "predicted_index": 1, "predicted_probability": 0.75,
        "probabilities": [("MEL", 0.25), ("NV", 0.75)], "gradcam": [0.0, 0.5, 1.0, 0.25], "gradcam_shape": [2, 2],
        "gradcam_png": b"\x89PNG", "scored_at": datetime(2026, 1, 2, tzinfo=timezone.utc), "run_id": "r1",
    }
    row.update(overrides)
    return row


def test_hive_dataset_round_trips_through_duckdb_with_metadata(tmp_path):
    part = tmp_path / "predictions" / "model_version=v1" / "scored_date=2026-01-02"
    part.mkdir(parents=True)
    table = pa.Table.from_pylist([_row(), _row(path="x.png", predicted_label="MEL", predicted_index=0)], schema=PREDICTIONS_SCHEMA)
    pq.write_table(table, part / "part-r1-00000.parquet")

    assert pq.read_schema(part / "part-r1-00000.parquet").field("sha256").metadata[b"description"]
    rows = duckdb.sql(
        f"SELECT model_version, scored_date, predicted_label, probabilities['MEL'] AS mel "
        f"FROM read_parquet('{tmp_path}/predictions/**/*.parquet', hive_partitioning=1) ORDER BY path"
    ).fetchall()
    assert [(r[0], str(r[1]), r[2]) for r in rows] == [("v1", "2026-01-02", "NV"), ("v1", "2026-01-02", "MEL")]
    assert rows[0][3] == pytest.approx(0.25)

