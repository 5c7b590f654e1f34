from dermflow.pipelines.training.trainer_calibration import held_out_test_patterns as split_patterns


def test_the_test_split_is_found_beside_the_eval_split(tmp_path):
    (tmp_path / "Split-eval").mkdir()
    (tmp_path / "Split-eval" / "data.gz").write_bytes(b"")
    assert split_patterns([str(tmp_path / "Split-eval" / "*")]) == []
    (tmp_path / "Split-test").mkdir()
    (tmp_path / "Split-test" / "data.gz").write_bytes(b"")
    assert split_patterns([str(tmp_path / "Split-eval" / "*")]) == [str(tmp_path / "Split-test" / "*")]


def test_the_out_of_scope_examples_are_found_beside_the_split(tmp_path):
    from dermflow.pipelines.training.trainer_calibration import existing_out_of_scope_patterns

    (tmp_path / "Split-test").mkdir()
    assert existing_out_of_scope_patterns([str(tmp_path / "Split-test" / "*")]) == []
    (tmp_path / "OutOfScope" / "Split-test").mkdir(parents=True)
    (tmp_path / "OutOfScope" / "Split-test" / "data.gz").write_bytes(b"")
    assert existing_out_of_scope_patterns([str(tmp_path / "Split-test" / "*")]) == [
        str(tmp_path / "OutOfScope" / "Split-test" / "*")]


def _tiny_model():
    from dermflow.config import ModelConfig
    from dermflow.models import build_classifier

    return build_classifier(ModelConfig(backbone="small_cnn", weights="none", image_size=32), num_classes=3)


def test_out_of_scope_files_without_a_record_are_no_other_diagnoses(tmp_path):
    """ClassFilter writes empty OutOfScope/Split-* files when every diagnosis is a target (labels.preset=all8)."""
    import tensorflow as tf

    from dermflow.pipelines.training.trainer_calibration import out_of_scope_outputs, read_head_outputs

    empty = tmp_path / "OutOfScope" / "Split-test" / "data_tfrecord-00000-of-00001.gz"
    empty.parent.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(empty), options="GZIP"):
        pass
    built = _tiny_model()
    outputs = read_head_outputs(built.model, [str(empty.parent / "*")], batch_size=4)
    assert len(outputs) == 0 and outputs.logits.shape == (0, 3) and outputs.features.shape[0] == 0
    assert out_of_scope_outputs(built, [str(tmp_path / "Split-test" / "*")], batch_size=4) is None
    assert len(read_head_outputs(built.model, [str(tmp_path / "nothing" / "*")], batch_size=4)) == 0
