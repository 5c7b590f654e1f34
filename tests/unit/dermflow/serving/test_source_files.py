"""Source files under the configured roots only: traversal and symlink escapes are refused."""
from __future__ import annotations

import pytest

from dermflow.serving.source_files import SourceRoots, UnsafePath


@pytest.fixture()
def roots(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "x.jpg").write_bytes(b"inside")
    (tmp_path / "secret.txt").write_text("outside")
    (root / "escape.jpg").symlink_to(tmp_path / "secret.txt")
    (root / "linked_dir").symlink_to(tmp_path)
    (root / "a" / "inner_link.jpg").symlink_to(root / "a" / "b" / "x.jpg")
    return SourceRoots([root]), root


def test_a_file_under_the_root_is_found(roots):
    sources, root = roots
    assert sources.find("a/b/x.jpg") == (root / "a" / "b" / "x.jpg").resolve()
    assert sources.find("a/inner_link.jpg") == (root / "a" / "b" / "x.jpg").resolve()  # a link that stays inside
    assert sources.find("a/b/missing.jpg") is None


@pytest.mark.parametrize("path", ["../secret.txt", "a/../../secret.txt", "/etc/passwd", "a\\..\\..\\secret.txt", "", "./a/b/x.jpg", "a//b/x.jpg", "a/b/x.jpg\x00"])
def test_traversal_is_refused(roots, path):
    sources, _ = roots
    with pytest.raises(UnsafePath):
        sources.find(path)


def test_symlinks_out_of_the_root_are_not_followed(roots):
    sources, _ = roots
    assert sources.find("escape.jpg") is None
    assert sources.find("linked_dir/secret.txt") is None
