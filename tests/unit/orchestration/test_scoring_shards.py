import json

import pytest

from dermflow.orchestration.scoring_shards import ShardManifest, read_manifest, shard_of, write_manifests
from dermflow.pipelines.scoring.input_listing import InputFile


def _files(n):
    return [InputFile(f"/data/in/dir{i % 7}/img_{i}.jpg", f"dir{i % 7}/img_{i}.jpg") for i in range(n)]


def test_shard_is_a_stable_function_of_the_relative_path():
    # Fixed values: a salted hash (Python's hash()) would change them between processes.
    assert [shard_of(f"img_{i}.jpg", 4) for i in range(8)] == [shard_of(f"img_{i}.jpg", 4) for i in range(8)]
    assert shard_of("ISIC_0000000.jpg", 2) == int.from_bytes(
        __import__("hashlib").sha1(b"ISIC_0000000.jpg").digest()[:8], "big") % 2
    assert {shard_of(f"img_{i}.jpg", 3) for i in range(100)} == {0, 1, 2}


def test_manifests_partition_the_files(tmp_path):
    files = _files(200)
    manifests = write_manifests(files, 3, tmp_path / "run")
    assert [(m.index, m.count) for m in manifests] == [(0, 3), (1, 3), (2, 3)]
    shards = [read_manifest(m.path) for m in manifests]
    together = [item for shard in shards for item in shard]
    assert sorted(together) == sorted(files)  # no loss, no duplicate
    assert all(len(shard) > 30 for shard in shards)
    for manifest, shard in zip(manifests, shards):
        assert {shard_of(item.relative_path, 3) for item in shard} == {manifest.index}


def test_rewriting_gives_the_same_manifests_and_empty_shards_exist(tmp_path):
    first = write_manifests(_files(3), 8, tmp_path / "a")
    second = write_manifests(list(reversed(_files(3))), 8, tmp_path / "b")
    assert len(first) == 8
    assert sum(len(json.loads(open(m.path).read())) for m in first) == 3
    assert [sorted(read_manifest(a.path)) for a in first] == [sorted(read_manifest(b.path)) for b in second]
    assert not list((tmp_path / "a").glob("*.tmp"))


def test_shard_label_names_index_and_count():
    assert ShardManifest(1, 12, "x").label == "shard-00001-of-00012"


def test_zero_shards_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        write_manifests(_files(1), 0, tmp_path)
