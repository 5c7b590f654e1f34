import pytest

from dermflow.schemas import monitoring_schema
from dermflow.schemas.monitoring_schema import MONITORING_FEATURES_SCHEMA, MONITORING_RUNS_SCHEMA


@pytest.mark.parametrize("schema", [MONITORING_RUNS_SCHEMA, MONITORING_FEATURES_SCHEMA])
def test_every_column_is_described_and_the_run_id_is_a_partition(schema):
    described = monitoring_schema.descriptions(schema)
    for field in schema:
        assert described[field.name] == field.metadata[b"description"].decode() and described[field.name].strip()
    assert monitoring_schema.partition_columns(schema) == ["run_id"] and "run_id" not in schema.names
    assert described["run_id"].strip()


def test_the_runs_table_has_what_the_page_plots_and_the_review_queue_reads():
    assert {"checked_at", "drift_detected", "out_of_scope_rate", "audit_share", "drifted_features", "note"} <= set(
        MONITORING_RUNS_SCHEMA.names)
    assert {"feature", "comparator", "distance", "threshold", "drifted"} <= set(MONITORING_FEATURES_SCHEMA.names)
