"""Current verdicts on DICOM inputs, sent back as amended SRs that reference the model's first SR.

    sent = send_verdicts_as_sr(db, cfg, Path("var/scores"))   # `dermflow verdicts send-sr --output var/scores`
    sent.stored, sent.written, sent.failed, sent.skipped      # one line each for the skipped ones

A verdict is sent when the scoring output holds a DICOM prediction of the model version the reviewer was
shown, and that run wrote its first SR into ``score.clinical_results_dir`` (``score.dicom_results: sr``).
The amended SR carries the verdict's class and whether it agrees with the model, never the comment (free
text stays in the review database). Its UID derives from the verdict's time, so sending again replaces it
in the PACS rather than adding one. OTHER has no SNOMED CT finding of its own here: it is skipped, and said.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dermflow.config import DermflowConfig
from dermflow.review.review_database import ReviewDatabase
from dermflow.review.review_enums import VerdictDiagnosis
from dermflow.review.verdict_store import current_verdicts


@dataclass
class SentVerdicts:
    stored: int = 0  # stored in the PACS (score.dicomweb_url)
    written: int = 0  # written to score.clinical_results_dir only (no PACS configured)
    failed: list[str] = field(default_factory=list)  # one line each: the store failed
    skipped: list[str] = field(default_factory=list)  # one line each: why the verdict was not sent


def send_verdicts_as_sr(db: ReviewDatabase, cfg: DermflowConfig, output: Path) -> SentVerdicts:
    from dermflow.clinical.result_export import ExportSettings
    from dermflow.clinical.sr_writer import Verdict
    from dermflow.clinical.verdict_amendment import AmendmentError, amend_with_verdict

    if not cfg.score.clinical_results_dir:
        raise ValueError("score.clinical_results_dir is not set: it holds the first SRs that verdicts amend")
    if not (Path(output) / "predictions").is_dir():
        raise ValueError(f"{output} holds no predictions/: --output is the scoring output folder the images were "
                         "scored into")
    settings = ExportSettings.from_config(cfg.score, str(cfg.score.clinical_results_dir), "verdicts")
    predictions = str(Path(output) / "predictions")
    sent = SentVerdicts()
    for sha256, record in sorted(current_verdicts(db).items()):
        where = f"verdict {record.id} on {sha256[:12]}"
        if record.shown is None:
            sent.skipped.append(f"{where}: it records no model version shown")
            continue
        if record.diagnosis == VerdictDiagnosis.OTHER:
            sent.skipped.append(f"{where}: OTHER has no coded finding for an SR")
            continue
        verdict = Verdict(label=record.diagnosis.value, agrees=record.diagnosis.value == record.shown.predicted_label,
                          recorded_at=record.recorded_at, comment=f"Basis: {record.basis.value.replace('_', ' ')}.")
        try:
            amended = amend_with_verdict(settings, predictions, record.shown.model_version, sha256, verdict)
        except AmendmentError as exc:
            sent.skipped.append(f"{where}: {exc}")
            continue
        status = str(amended.outcome.status)
        if status == "stored":
            sent.stored += 1
        elif status == "written":
            sent.written += 1
        else:
            sent.failed.append(f"{where}: {amended.outcome.reason} ({amended.outcome.message or 'no message'})")
    return sent
