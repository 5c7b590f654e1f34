"""ClassFilter's executor on hand-written Examples (Beam in-memory)."""
from pathlib import Path

import pytest
import tensorflow as tf
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import artifact_utils, standard_artifacts

from dermflow.components.artifact_types import LabelVocabulary
from dermflow.components.class_filter.executor import Executor
from dermflow.config import load_config
from dermflow.isic.label_vocabulary import read_label_names, read_label_vocabulary
from dermflow.isic.out_of_scope_examples import OUT_OF_SCOPE_DIR, out_of_scope_split_uri

IN_MEMORY = BaseBeamExecutor.Context(
    beam_pipeline_args=load_config(overrides=["beam.direct_running_mode=in_memory"]).beam.pipeline_args())
SPLITS = {"train": ["MEL", "NV", "NV", "BCC", "BKL", "SCC", "DF", "UNK"], "eval": ["MEL", "AK", "VASC"]}


def make_example(image_id, code):
    def b(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    return tf.train.Example(features=tf.train.Features(feature={
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"\xff\xd8\xff"])),
        "image_id": b(image_id), "diagnosis": b(code),
        "age_approx": tf.train.Feature(int64_list=tf.train.Int64List(value=[40])),
    }))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path_factory.mktemp("ingested"))
    examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
    for split, codes in SPLITS.items():
        uri = artifact_utils.get_split_uri([examples], split)
        tf.io.gfile.makedirs(uri)
        with tf.io.TFRecordWriter(f"{uri}/data_tfrecord-00000-of-00001.gz", "GZIP") as writer:
            for i, code in enumerate(codes):
                writer.write(make_example(f"ISIC_{split}_{i}", code).SerializeToString())
    return examples


def run_filter(tmp_path, source, *overrides):
    cfg = load_config(overrides=list(overrides))
    target, vocabulary = standard_artifacts.Examples(), LabelVocabulary()
    target.uri, vocabulary.uri = str(tmp_path / "filtered"), str(tmp_path / "vocabulary")
    Executor(IN_MEMORY).Do({"examples": [source]}, {"filtered_examples": [target], "label_vocabulary": [vocabulary]},
                           {"config_json": cfg.to_json()})
    return target, vocabulary.uri


def read_labels(target, split, out_of_scope=False):
    uri = out_of_scope_split_uri(target.uri, split) if out_of_scope else artifact_utils.get_split_uri([target], split)
    pattern = uri + "/*.gz"
    records = tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type="GZIP")
    out = []
    for record in records:
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        out.append((feature["diagnosis"].bytes_list.value[0].decode(), feature["label"].int64_list.value[0],
                    feature["label_name"].bytes_list.value[0].decode(), feature["image"].bytes_list.value[0]))
    return sorted(out)


def test_default_keeps_mel_nv_bcc_with_contiguous_indices(tmp_path, source):
    target, vocabulary_uri = run_filter(tmp_path, source)
    assert artifact_utils.decode_split_names(target.split_names) == ["train", "eval"]
    train = read_labels(target, "train")
    assert [(code, label, name) for code, label, name, _ in train] == [
        ("BCC", 2, "BCC"), ("MEL", 0, "MEL"), ("NV", 1, "NV"), ("NV", 1, "NV")]
    assert all(image == b"\xff\xd8\xff" for *_, image in train)
    assert [(c, l) for c, l, *_ in read_labels(target, "eval")] == [("MEL", 0)]
    assert read_label_names(vocabulary_uri) == ["MEL", "NV", "BCC"]
    document = read_label_vocabulary(vocabulary_uri)
    assert document["counts"] == {"train": {"BCC": 1, "MEL": 1, "NV": 2}, "eval": {"MEL": 1}}
    assert document["out_of_scope"] == {"train": {"BKL": 1, "DF": 1, "SCC": 1}, "eval": {"AK": 1, "VASC": 1}}
    assert document["dropped"] == {"train": {"UNK": 1}, "eval": {}}


def test_other_diagnoses_are_kept_out_of_scope_beside_the_declared_splits(tmp_path, source):
    target, _ = run_filter(tmp_path, source)
    train = read_labels(target, "train", out_of_scope=True)
    assert [(code, label, name) for code, label, name, _ in train] == [
        ("BKL", -1, "BKL"), ("DF", -1, "DF"), ("SCC", -1, "SCC")]  # UNK is none of the eight: dropped
    assert all(image == b"\xff\xd8\xff" for *_, image in train)
    assert [(c, l, n) for c, l, n, _ in read_labels(target, "eval", out_of_scope=True)] == [
        ("AK", -1, "AK"), ("VASC", -1, "VASC")]
    # Not a split of the artifact: the declared split folders hold the targets only.
    assert artifact_utils.decode_split_names(target.split_names) == ["train", "eval"]
    assert sorted(p.name for p in Path(target.uri).iterdir()) == [OUT_OF_SCOPE_DIR, "Split-eval", "Split-train"]


def test_binary_groups_map_codes_onto_malignant_and_benign(tmp_path, source):
    target, vocabulary_uri = run_filter(tmp_path, source, "labels.preset=binary")
    assert [(c, l, n) for c, l, n, _ in read_labels(target, "eval")] == [
        ("AK", 0, "malignant"), ("MEL", 0, "malignant"), ("VASC", 1, "benign")]
    assert read_label_names(vocabulary_uri) == ["malignant", "benign"]
    assert read_label_vocabulary(vocabulary_uri)["code_to_label"]["SCC"] == "malignant"
    assert len(read_labels(target, "train")) == 7
    assert read_labels(target, "train", out_of_scope=True) == []  # every diagnosis is a target


def test_all8_keeps_every_diagnosis(tmp_path, source):
    target, vocabulary_uri = run_filter(tmp_path, source, "labels.preset=all8")
    assert sorted(l for _, l, *_ in read_labels(target, "train")) == [0, 1, 1, 2, 4, 5, 7]
    assert read_label_names(vocabulary_uri) == ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC"]
