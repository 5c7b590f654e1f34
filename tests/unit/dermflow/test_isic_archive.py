import pytest

from dermflow.isic_archive import (
    DUPLICATE_FILE, MISSING_IMAGE, NOT_IN_CSV, ArchiveError, check_missing, list_image_files, plan_archive)
from dermflow.isic_csv import DUPLICATE_ID, INVALID_LABEL, CsvReject, IsicRecord, IsicTable


def test_files_and_rows_are_paired_or_rejected(tmp_path):
    for name in ("ISIC_1_downsampled.jpg", "ISIC_2.jpg", "ISIC_2.png", "ISIC_9.jpg", "LICENSE.txt", "ISIC_5.jpg"):
        (tmp_path / name).write_bytes(b"x")
    table = IsicTable(
        records=[IsicRecord("ISIC_1", "NV"), IsicRecord("ISIC_2", "MEL"), IsicRecord("ISIC_3", "BCC")],
        rejects=[CsvReject("ISIC_2", DUPLICATE_ID, "dup"), CsvReject("ISIC_5", INVALID_LABEL, "bad")],
    )
    plan = plan_archive(table, list_image_files(tmp_path))
    assert [(p.rsplit("/", 1)[1], r.image_id) for p, r in plan.pairs] == [("ISIC_1_downsampled.jpg", "ISIC_1"), ("ISIC_2.jpg", "ISIC_2")]
    got = {(r.file.rsplit("/", 1)[1] if r.file else None, r.reason) for r in plan.rejects}
    assert got == {("ISIC_2.png", DUPLICATE_FILE), (None, MISSING_IMAGE), (None, DUPLICATE_ID),
                   ("ISIC_5.jpg", INVALID_LABEL), ("ISIC_9.jpg", NOT_IN_CSV), ("LICENSE.txt", NOT_IN_CSV)}
    assert plan.files == len(plan.pairs) + sum(r.file is not None for r in plan.rejects)
    assert plan.missing_images == 1 and plan.csv_rows == 5


def test_missing_fraction_gate():
    table = IsicTable(records=[IsicRecord(f"ISIC_{i}", "NV") for i in range(10)])
    plan = plan_archive(table, [])
    check_missing(plan, 1.0)
    with pytest.raises(ArchiveError, match=r"10 of 10 CSV rows.*max_missing_fraction"):
        check_missing(plan, 0.5)


def test_missing_image_folder(tmp_path):
    with pytest.raises(ArchiveError, match="image folder not found"):
        list_image_files(tmp_path / "nope")
