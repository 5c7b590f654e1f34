import stat

import pytest

from dermflow.clinical.clinical_files import ClinicalDirError, prepare_clinical_dir, sr_path, write_private


@pytest.mark.parametrize("inside", ["out", "out/clinical", "out/a/b"])
def test_a_folder_inside_the_output_is_refused(tmp_path, inside):
    with pytest.raises(ClinicalDirError, match="lies inside --output"):
        prepare_clinical_dir(tmp_path / inside, tmp_path / "out")
    assert not (tmp_path / inside).exists() or inside == "out"


def test_a_symlink_into_the_output_is_refused_too(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "out")
    with pytest.raises(ClinicalDirError):
        prepare_clinical_dir(tmp_path / "link" / "clinical", tmp_path / "out")


def test_the_folder_and_its_files_are_owner_only_and_named_by_hashes(tmp_path):
    root = prepare_clinical_dir(tmp_path / "clinical", tmp_path / "out")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    path = sr_path(root, "v1", "1.2.840.99.1")
    write_private(path, b"x")
    assert "1.2.840.99.1" not in str(path) and stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ClinicalDirError, match="local folder"):
        prepare_clinical_dir("gs://bucket/clinical", tmp_path / "out")
