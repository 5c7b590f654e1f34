"""IsicExampleGen -> ClassFilter -> StatisticsGen -> ImportSchemaGen -> ExampleValidator through LocalDagRunner."""
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx import v1 as tfx

from dermflow.components.class_filter.component import ClassFilter
from dermflow.components.isic_example_gen.component import IsicExampleGen
from dermflow.config import DataConfig, load_config
from dermflow.isic.ingest_report import read_report
from dermflow.isic.csv_reader import read_isic_csvs
from dermflow.isic.label_vocabulary import read_label_vocabulary
from dermflow.isic.out_of_scope_examples import OUT_OF_SCOPE_DIR
from dermflow.schemas import INGESTED_EXAMPLES_SCHEMA, TRAINING_EXAMPLES_SCHEMA
from dermflow.synthetic.archive_writer import write_archive

pytestmark = pytest.mark.e2e
# StatisticsGen's Beam workers import TFDV before TFX, which fails on this stack (STACK.md), so it
# runs in-process even when our components use the multi-processing DirectRunner.
IN_PROCESS = ["--direct_running_mode=in_memory"]


def validated(statistics_gen, schema_file: Path, name: str) -> list:
    schema = tfx.components.ImportSchemaGen(schema_file=str(schema_file)).with_id(f"schema_{name}")
    validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema.outputs["schema"]).with_id(f"validate_{name}")
    return [schema, validator]


def run_pipeline(tmp_path: Path, data_root: Path, *overrides: str, with_ingest_checks: bool = True) -> Path:
    cfg = load_config(overrides=[f"data.data_root={data_root}", *overrides])
    example_gen = IsicExampleGen(config_json=cfg.to_json())
    class_filter = ClassFilter(examples=example_gen.outputs["examples"], config_json=cfg.to_json())
    train_stats = tfx.components.StatisticsGen(
        examples=class_filter.outputs["filtered_examples"]).with_id("stats_train").with_beam_pipeline_args(IN_PROCESS)
    components = [example_gen, class_filter, train_stats, *validated(train_stats, TRAINING_EXAMPLES_SCHEMA, "train")]
    if with_ingest_checks:
        ingest_stats = tfx.components.StatisticsGen(
            examples=example_gen.outputs["examples"]).with_id("stats_ingest").with_beam_pipeline_args(IN_PROCESS)
        components += [ingest_stats, *validated(ingest_stats, INGESTED_EXAMPLES_SCHEMA, "ingest"),
                       *validated(ingest_stats, TRAINING_EXAMPLES_SCHEMA, "ingest_as_train")]
    root = tmp_path / "pipeline_root"
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="ingest_e2e", pipeline_root=str(root), components=components,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(str(tmp_path / "mlmd.db")),
        beam_pipeline_args=cfg.beam.pipeline_args())
    tfx.orchestration.LocalDagRunner().run(pipeline)
    return root


def only_dir(pattern_root: Path, *parts: str) -> Path:
    matches = sorted(pattern_root.glob("/".join(parts)))
    assert len(matches) == 1, matches
    return matches[0]


def anomalies(root: Path, validator_id: str) -> dict[str, list[str]]:
    found = {}
    for path in sorted(root.glob(f"{validator_id}/anomalies/*/Split-*/SchemaDiff.pb")):
        proto = anomalies_pb2.Anomalies.FromString(path.read_bytes())
        found[path.parent.name] = sorted(proto.anomaly_info)
    assert found, f"no anomalies output under {root / validator_id}"
    return found


def read_split(examples_dir: Path, split: str) -> list[dict]:
    rows = []
    files = [str(p) for p in sorted((examples_dir / f"Split-{split}").glob("*.gz"))]
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        rows.append({name: feature[name].bytes_list.value[0].decode() for name in ("image_id", "diagnosis", "lesion_id")})
    return rows


def check_ingest(root: Path, data_root: Path) -> dict:
    """Counts match the CSV, lesions never straddle splits, every file is an example or a reject."""
    report = read_report(only_dir(root, "IsicExampleGen", "ingest_report", "*"))
    examples_dir = only_dir(root, "IsicExampleGen", "examples", "*")
    layout = DataConfig()
    table = read_isic_csvs(data_root / layout.ground_truth_csv, data_root / layout.metadata_csv)
    assert report["class_totals"] == dict(sorted(Counter(r.diagnosis for r in table.records).items()))
    split_of_lesion = defaultdict(set)
    for split in report["split_names"]:
        rows = read_split(examples_dir, split)
        assert dict(Counter(r["diagnosis"] for r in rows)) == report["counts"][split]
        for row in rows:
            if row["lesion_id"]:
                split_of_lesion[row["lesion_id"]].add(split)
    assert split_of_lesion and all(len(splits) == 1 for splits in split_of_lesion.values())
    files = len(list((data_root / layout.images_dir).iterdir()))
    assert files == report["totals"]["examples"] + sum(r["file"] is not None for r in report["rejects"])
    return report


def test_synthetic_archive(tmp_path):
    data_root = tmp_path / "archive"
    write_archive(data_root, n=100, seed=3, image_size=64)
    root = run_pipeline(tmp_path, data_root, "data.max_side=48", "beam.direct_running_mode=in_memory")
    report = check_ingest(root, data_root)
    assert report["rejects"] == [] and report["totals"]["examples"] == 100
    no_anomaly = {"Split-train": [], "Split-eval": [], "Split-test": []}  # the default split has a test split
    assert anomalies(root, "validate_ingest") == no_anomaly
    assert anomalies(root, "validate_train") == no_anomaly
    # The validator does flag data that breaks a schema: ingested examples have no label yet.
    assert all("label" in names for names in anomalies(root, "validate_ingest_as_train").values())
    vocabulary = read_label_vocabulary(only_dir(root, "ClassFilter", "label_vocabulary", "*"))
    kept = sum(n for split in vocabulary["counts"].values() for n in split.values())
    assert kept == sum(report["class_totals"].get(code, 0) for code in ("MEL", "NV", "BCC"))
    check_out_of_scope_beside_the_splits(root, report, vocabulary)


def check_out_of_scope_beside_the_splits(root: Path, report: dict, vocabulary: dict) -> None:
    """The other diagnoses are in OutOfScope/Split-<s> of the filtered artifact; StatisticsGen saw the targets only."""
    filtered = only_dir(root, "ClassFilter", "filtered_examples", "*")
    others = {code: n for code, n in report["class_totals"].items() if code not in ("MEL", "NV", "BCC", "UNK")}
    assert others, "the synthetic archive should hold other diagnoses"
    written = Counter()
    for split in report["split_names"]:
        rows = read_split(filtered / OUT_OF_SCOPE_DIR, split)
        assert dict(Counter(r["diagnosis"] for r in rows)) == vocabulary["out_of_scope"][split]
        written.update(r["diagnosis"] for r in rows)
        statistics = statistics_pb2.DatasetFeatureStatisticsList.FromString(
            only_dir(root, "stats_train", "statistics", "*", f"Split-{split}", "FeatureStats.pb").read_bytes())
        assert statistics.datasets[0].num_examples == sum(vocabulary["counts"][split].values())
    assert dict(written) == others
    assert sorted(p.name for p in (only_dir(root, "stats_train", "statistics", "*")).iterdir() if p.is_dir()) == [
        f"Split-{split}" for split in sorted(report["split_names"])]


@pytest.mark.shared_data
def test_real_isic_sample(tmp_path, isic_dev_root):
    root = run_pipeline(tmp_path, isic_dev_root, "data.max_side=64", with_ingest_checks=False)
    report = check_ingest(root, isic_dev_root)
    assert report["totals"]["examples"] == 5164 and report["rejects"] == []
    fractions = DataConfig()
    for code, total in report["class_totals"].items():
        for split, fraction in (("eval", fractions.eval_fraction), ("test", fractions.test_fraction)):
            share = report["counts"][split].get(code, 0) / total
            assert abs(share - fraction) < 0.05, (code, split, share)
    assert anomalies(root, "validate_train") == {"Split-train": [], "Split-eval": [], "Split-test": []}
