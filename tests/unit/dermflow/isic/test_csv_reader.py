import pytest

from dermflow.config import ISIC_CLASSES
from dermflow.imaging import RejectReason
from dermflow.isic.csv_reader import IsicCsvError, canonical_id, read_isic_csvs

GT_HEADER = ",".join(["image", *ISIC_CLASSES])
MD_HEADER = "image,age_approx,anatom_site_general,lesion_id,sex"


def one_hot(image_id, code):
    return ",".join([image_id] + ["1.0" if c == code else "0.0" for c in ISIC_CLASSES])


def write(tmp_path, gt_lines, md_lines, prefix="", newline="\r\n"):
    gt, md = tmp_path / "gt.csv", tmp_path / "md.csv"
    gt.write_text(prefix + newline.join(gt_lines) + newline, encoding="utf-8", newline="")
    md.write_text(prefix + newline.join(md_lines) + newline, encoding="utf-8", newline="")
    return gt, md


def test_bom_crlf_and_downsampled_ids_are_read(tmp_path):
    gt, md = write(tmp_path, [GT_HEADER, one_hot("ISIC_0000017_downsampled", "NV"), one_hot("ISIC_0000018", "MEL")],
                   [MD_HEADER, "ISIC_0000017_downsampled,55.0,anterior torso,HAM_1,female", "ISIC_0000018,,,,"],
                   prefix="\ufeff")
    table = read_isic_csvs(gt, md)
    first, second = table.records
    assert (first.image_id, first.diagnosis, first.lesion_id, first.age_approx, first.sex, first.anatom_site_general) == (
        "ISIC_0000017_downsampled", "NV", "HAM_1", 55, "female", "anterior torso")
    assert first.key == "ISIC_0000017"
    assert (second.age_approx, second.sex, second.anatom_site_general, second.lesion_id) == (-1, "unknown", "unknown", "")
    assert table.rejects == []


def test_missing_columns_are_named_with_the_file(tmp_path):
    gt, md = write(tmp_path, ["image,MEL,NV,BCC,AK,BKL,DF,SCC,UNK", one_hot("ISIC_1", "NV")], [MD_HEADER])
    with pytest.raises(IsicCsvError, match=r"gt\.csv.*missing column\(s\) \['VASC'\]"):
        read_isic_csvs(gt, md)
    gt, md = write(tmp_path, [GT_HEADER], ["image,age_approx,lesion_id,sex"])
    with pytest.raises(IsicCsvError, match=r"md\.csv.*\['anatom_site_general'\]"):
        read_isic_csvs(gt, md)


def test_missing_csv_file_is_a_clear_error(tmp_path):
    with pytest.raises(IsicCsvError, match="not found"):
        read_isic_csvs(tmp_path / "nope.csv", tmp_path / "md.csv")


def test_duplicate_ids_keep_the_first_row(tmp_path):
    gt, md = write(tmp_path, [GT_HEADER, one_hot("ISIC_1", "NV"), one_hot("ISIC_1", "MEL"), one_hot("ISIC_1_downsampled", "BCC")],
                   [MD_HEADER])
    table = read_isic_csvs(gt, md)
    assert [(r.image_id, r.diagnosis) for r in table.records] == [("ISIC_1", "NV")]
    assert [(r.image_id, r.reason) for r in table.rejects] == [("ISIC_1", RejectReason.DUPLICATE_ID), ("ISIC_1_downsampled", RejectReason.DUPLICATE_ID)]
    assert table.without_metadata == 1


def test_rows_that_are_not_one_hot_are_rejected(tmp_path):
    two = ",".join(["ISIC_2"] + ["1.0" if c in ("MEL", "NV") else "0.0" for c in ISIC_CLASSES])
    none = ",".join(["ISIC_3"] + ["0.0"] * len(ISIC_CLASSES))
    gt, md = write(tmp_path, [GT_HEADER, two, none, one_hot("ISIC_4", "UNK")], [MD_HEADER])
    table = read_isic_csvs(gt, md)
    assert [r.reason for r in table.rejects] == [RejectReason.INVALID_LABEL, RejectReason.INVALID_LABEL]
    assert [r.diagnosis for r in table.records] == ["UNK"]


def test_canonical_id():
    assert canonical_id("ISIC_0000017_downsampled") == canonical_id(" ISIC_0000017") == "ISIC_0000017"
