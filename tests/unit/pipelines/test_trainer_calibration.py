from dermflow.pipelines.trainer_calibration import held_out_test_patterns as split_patterns


def test_the_test_split_is_found_beside_the_eval_split(tmp_path):
    (tmp_path / "Split-eval").mkdir()
    (tmp_path / "Split-eval" / "data.gz").write_bytes(b"")
    assert split_patterns([str(tmp_path / "Split-eval" / "*")]) == []
    (tmp_path / "Split-test").mkdir()
    (tmp_path / "Split-test" / "data.gz").write_bytes(b"")
    assert split_patterns([str(tmp_path / "Split-eval" / "*")]) == [str(tmp_path / "Split-test" / "*")]


def test_the_out_of_scope_examples_are_found_beside_the_split(tmp_path):
    from dermflow.pipelines.trainer_calibration import existing_out_of_scope_patterns

    (tmp_path / "Split-test").mkdir()
    assert existing_out_of_scope_patterns([str(tmp_path / "Split-test" / "*")]) == []
    (tmp_path / "OutOfScope" / "Split-test").mkdir(parents=True)
    (tmp_path / "OutOfScope" / "Split-test" / "data.gz").write_bytes(b"")
    assert existing_out_of_scope_patterns([str(tmp_path / "Split-test" / "*")]) == [
        str(tmp_path / "OutOfScope" / "Split-test" / "*")]
