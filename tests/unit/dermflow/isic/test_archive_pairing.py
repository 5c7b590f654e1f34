import pytest

from dermflow.imaging import Rejection, RejectReason
from dermflow.isic.archive_pairing import ArchiveError, check_missing, list_image_files, plan_archive
from dermflow.isic.csv_reader import IsicRecord, IsicTable


def test_files_and_rows_are_paired_or_rejected(tmp_path):
    for name in ("ISIC_1_downsampled.jpg", "ISIC_2.jpg", "ISIC_2.png", "ISIC_9.jpg", "LICENSE.txt", "ISIC_5.jpg"):
        (tmp_path / name).write_bytes(b"x")
    table = IsicTable(
        records=[IsicRecord("ISIC_1", "NV"), IsicRecord("ISIC_2", "MEL"), IsicRecord("ISIC_3", "BCC")],
        rejects=[Rejection(RejectReason.DUPLICATE_ID, "dup", image_id="ISIC_2"), Rejection(RejectReason.INVALID_LABEL, "bad", image_id="ISIC_5")],
    )
    plan = plan_archive(table, list_image_files(tmp_path))
    assert [(p.rsplit("/", 1)[1], r.image_id) for p, r in plan.pairs] == [("ISIC_1_downsampled.jpg", "ISIC_1"), ("ISIC_2.jpg", "ISIC_2")]
    got = {(r.file.rsplit("/", 1)[1] if r.file else None, r.reason) for r in plan.rejects}
    assert got == {("ISIC_2.png", RejectReason.DUPLICATE_FILE), (None, RejectReason.MISSING_IMAGE), (None, RejectReason.DUPLICATE_ID),
                   ("ISIC_5.jpg", RejectReason.INVALID_LABEL), ("ISIC_9.jpg", RejectReason.NOT_IN_CSV), ("LICENSE.txt", RejectReason.NOT_IN_CSV)}
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
