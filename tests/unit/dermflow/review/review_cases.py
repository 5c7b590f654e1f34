"""A small, known set of reviewed cases: two model versions, every queue group, a correction, OTHER, a
diagnosis outside the model's classes, a verdict with no model shown. Used by the performance and export tests."""
from __future__ import annotations

from review_workload import image_sha256, shown

from dermflow.review import correct_verdict, record_verdict

V1, V2 = "20260101T000000Z", "20260201T000000Z"
COMMENT, OTHER_TEXT = "patient Jane Roe, born 1950", "wart of Mr Doe"
# image: (model version, label shown, queue reason, diagnosis recorded)
CASES = {
    "img1": (V1, "MEL", "melanoma_band", "MEL"),
    "img2": (V1, "MEL", "prediction_set", "NV"),
    "img3": (V1, "NV", "random_audit", "NV"),
    "img4": (V1, "NV", "random_audit", "NV"),  # corrected to MEL below
    "img5": (V1, "BCC", "upload", "OTHER"),
    "img6": (V1, "BCC", "direct", "AK"),
    "img7": (V1, "BCC", "out_of_scope", "BCC"),
}


def record_cases(db, reviewer: str) -> None:
    for image, (version, label, reason, diagnosis) in CASES.items():
        verdict = record_verdict(db, reviewer=reviewer, sha256=image_sha256(image), diagnosis=diagnosis,
                                 other_text=OTHER_TEXT if diagnosis == "OTHER" else None, basis="histopathology",
                                 comment=COMMENT, shown=shown(version, label), queue_reason=reason,
                                 image_path=f"clinic/{image}.jpg", lesion_id=f"IL_{image}")
        if image == "img4":
            correct_verdict(db, verdict.id, reviewer=reviewer, diagnosis="MEL", basis="consensus", comment=COMMENT)
    # img1 again with the next version, which said NV: the current verdict stays MEL
    record_verdict(db, reviewer=reviewer, sha256=image_sha256("img1"), diagnosis="MEL", basis="histopathology",
                   shown=shown(V2, "NV"), queue_reason="prediction_set")
    record_verdict(db, reviewer=reviewer, sha256=image_sha256("img8"), diagnosis="NV", basis="follow_up")
