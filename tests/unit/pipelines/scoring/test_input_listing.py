import pytest

from dermflow.pipelines.scoring.input_listing import InputError, list_input_files


@pytest.fixture()
def tree(tmp_path):
    for relative in ["a.jpg", "sub/b.png", "sub/deep er/ç d.jpg", "other/c.jpg"]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"x")
    return tmp_path


def test_folders_are_listed_recursively_relative_to_their_root(tree):
    files = list_input_files([str(tree / "sub")])
    assert [f.relative_path for f in files] == ["b.png", "deep er/ç d.jpg"]
    assert files[0].path == str(tree / "sub" / "b.png")


def test_globs_are_relative_to_their_directory_part_and_duplicates_count_once(tree):
    files = list_input_files([str(tree / "sub" / "*.png"), str(tree / "sub"), str(tree / "a.jpg")])
    assert sorted(f.relative_path for f in files) == ["a.jpg", "b.png", "deep er/ç d.jpg"]
    assert len({f.path for f in files}) == 3


def test_the_output_folder_is_never_an_input(tree):
    files = list_input_files([str(tree)], exclude_under=str(tree / "other"))
    assert "other/c.jpg" not in [f.relative_path for f in files]
    assert len(files) == 3


def test_an_input_matching_nothing_fails_loudly(tree):
    with pytest.raises(InputError, match="matches no file"):
        list_input_files([str(tree / "nope")])
    with pytest.raises(InputError):
        list_input_files([str(tree / "*.tiff")])


def test_entries_that_are_no_readable_file_are_listed_with_their_problem(tree):
    (tree / "sub" / "loop").symlink_to(tree / "sub")  # a symlink loop
    (tree / "sub" / "self").symlink_to(tree / "sub" / "self")  # a link to itself
    (tree / "sub" / "dangling.jpg").symlink_to(tree / "gone.jpg")
    (tree / "linked").symlink_to(tree / "other")  # a symlinked folder is walked once
    files = {f.relative_path: f.problem for f in list_input_files([str(tree)])}
    assert files["sub/b.png"] == "" and files["linked/c.jpg"] == "" and files["other/c.jpg"] == ""
    assert files["sub/loop"].startswith("symlink loop")
    assert "symbolic links" in files["sub/self"]
    assert files["sub/dangling.jpg"].startswith("dangling symlink")
    assert len(files) == 8
