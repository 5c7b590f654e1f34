"""The model's result for one DICOM image as a Comprehensive SR (TID 1500 Measurement Report), by highdicom.

    sr = build_sr(source_header, finding)                        # a highdicom ComprehensiveSR (a pydicom Dataset)
    amended = build_sr(source_header, finding, verdict=verdict, previous=sr)   # docs/scoring.md#verdicts

The SR sits in the source's study (its Patient and Study modules are copied from ``source_header``,
which the caller reads from the source when it writes: docs/scoring.md#phi), in a series of its own,
and references the source image by its SOP Instance UID. Its content (IHE AI Results):

* observer: the model as a device (TID 1004), named by model name and version;
* one measurement group (TID 1501) on the skin lesion: the predicted class as a qualitative evaluation
  "Impression" coded in SNOMED CT (``snomed_codes``), out-of-scope (Yes/No), each prediction-set member,
  the in-scope score, the algorithm (TID 4019: model name, version, dermflow's version as a parameter),
  the source image, and the research-use-only comment;
* one group per class: that class's finding type and its calibrated "Probability" (DCM 122157).

Its SOP Instance UID derives from (source SOP Instance UID, model version) (``clinical_uids``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dermflow.clinical import clinical_uids, snomed_codes as codes
from dermflow.clinical.model_finding import ModelFinding

RESEARCH_USE_ONLY = (
    "Research use only: produced by a machine-learning model (dermflow), not verified by a clinician; "
    "not for diagnostic use."
)
SR_SERIES_NUMBER = 9901
SR_SERIES_DESCRIPTION = "dermflow AI result (research use only)"
MANUFACTURER = "dermflow"
# Patient and Study attributes highdicom copies from the evidence; Type 2, so empty when the source lacks them.
_TYPE2_HEADER = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "AccessionNumber", "StudyID", "ReferringPhysicianName",
)


@dataclass(frozen=True)
class Verdict:
    """A clinician's verdict on a finding, for an amended SR (no name: the reviewer is a role, not a person here)."""

    label: str  # the class the clinician says it is
    agrees: bool
    recorded_at: datetime
    comment: str = ""


def evidence_header(source: Any) -> Any:
    """A copy of the source's header with the Type 2 Patient and Study attributes highdicom needs present."""
    header = copy.deepcopy(source)
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword in header:
            delattr(header, keyword)
    for keyword in _TYPE2_HEADER:
        if keyword not in header:
            setattr(header, keyword, "")
    return header


def build_sr(source: Any, finding: ModelFinding, verdict: Verdict | None = None, previous: Any = None):
    """``source``: the source image's header (pydicom Dataset). ``previous``: the SR this one amends."""
    import highdicom as hd

    header = evidence_header(source)
    role = clinical_uids.SR if previous is None else f"{clinical_uids.SR}-amended-{verdict.recorded_at.isoformat()}"
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(finding),
        procedure_reported=codes.DERMOSCOPIC_PHOTOGRAPHY.highdicom(),
        imaging_measurements=[_lesion_group(header, finding, verdict), *_probability_groups(header, finding)],
        referenced_images=[header],
    )
    sr = hd.sr.ComprehensiveSR(
        evidence=[header], content=report[0],
        series_instance_uid=clinical_uids.result_series_uid(header.StudyInstanceUID, finding.model_version,
                                                            clinical_uids.SR_SERIES),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=clinical_uids.result_uid(header.SOPInstanceUID, finding.model_version, role),
        instance_number=1 if previous is None else 2,
        manufacturer=MANUFACTURER, is_complete=True, is_final=False, is_verified=False,
        previous_versions=[previous] if previous is not None else None,
        series_description=SR_SERIES_DESCRIPTION, coding_schemes=[private_coding_scheme()],
        content_qualification="RESEARCH",
    )
    return sr


def _observation_context(finding: ModelFinding):
    import highdicom as hd
    from pydicom.sr.codedict import codes as dicom_codes

    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=clinical_uids.device_uid(finding.model_name, finding.model_version), name=finding.model_name,
        manufacturer_name=MANUFACTURER, model_name=f"{finding.model_name} {finding.model_version}",
    )
    return hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
        observer_type=dicom_codes.cid270.Device, observer_identifying_attributes=device,
    ))


def algorithm_identification(finding: ModelFinding):
    import highdicom as hd

    return hd.sr.AlgorithmIdentification(
        name=finding.model_name, version=finding.model_version,
        parameters=[f"dermflow {finding.dermflow_version}"], family=codes.ARTIFICIAL_INTELLIGENCE.highdicom(),
        manufacturer=MANUFACTURER,
    )


def _group(header: Any, finding: ModelFinding, name: str, finding_type, measurements, evaluations, full: bool):
    """A TID 1501 group; ``full`` adds the algorithm and the source image (the class groups inherit both)."""
    import highdicom as hd

    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=clinical_uids.derived_uid("tracking", name, finding.model_version, header.SOPInstanceUID),
            identifier=f"dermflow {name}",
        ),
        finding_type=finding_type.highdicom(), algorithm_id=algorithm_identification(finding) if full else None,
        measurements=measurements or None, qualitative_evaluations=evaluations or None,
        source_images=[hd.sr.SourceImageForMeasurementGroup(header.SOPClassUID, header.SOPInstanceUID)] if full else None,
    )


def _lesion_group(header: Any, finding: ModelFinding, verdict: Verdict | None):
    import highdicom as hd

    evaluations = [hd.sr.QualitativeEvaluation(codes.IMPRESSION.highdicom(),
                                               codes.finding_concept(finding.predicted_label).highdicom())]
    if finding.out_of_scope is not None:
        answer = codes.YES if finding.out_of_scope else codes.NO
        evaluations.append(hd.sr.QualitativeEvaluation(codes.OUT_OF_SCOPE.highdicom(), answer.highdicom()))
    for member in finding.prediction_set or ():
        evaluations.append(hd.sr.QualitativeEvaluation(codes.PREDICTION_SET_MEMBER.highdicom(),
                                                       codes.finding_concept(member).highdicom()))
    if verdict is not None:
        evaluations.append(hd.sr.QualitativeEvaluation(codes.CLINICIAN_VERDICT.highdicom(),
                                                       codes.finding_concept(verdict.label).highdicom()))
    measurements = []
    if finding.in_scope_score is not None:
        measurements.append(hd.sr.Measurement(codes.IN_SCOPE_SCORE.highdicom(), float(finding.in_scope_score),
                                              codes.NO_UNITS.highdicom()))
    group = _group(header, finding, "lesion", codes.SKIN_LESION, measurements, evaluations, full=True)
    group[0].ContentSequence.append(_comment(_comment_text(verdict)))
    return group


def _comment_text(verdict: Verdict | None) -> str:
    if verdict is None:
        return RESEARCH_USE_ONLY
    said = "agrees with" if verdict.agrees else "disagrees with"
    extra = f" {verdict.comment}" if verdict.comment else ""
    return f"Amended: a clinician {said} the model's finding (verdict: {verdict.label}).{extra} {RESEARCH_USE_ONLY}"


def _comment(text: str):
    import highdicom as hd

    return hd.sr.TextContentItem(
        name=codes.COMMENT.highdicom(), value=text, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
    )


def _probability_groups(header: Any, finding: ModelFinding) -> list:
    import highdicom as hd

    groups = []
    for label, probability in zip(finding.labels, finding.probabilities):
        measurement = hd.sr.Measurement(codes.PROBABILITY.highdicom(), float(probability), codes.NO_UNITS.highdicom())
        groups.append(_group(header, finding, f"probability {label}", codes.finding_concept(label), [measurement], [],
                             full=False))
    return groups


def private_coding_scheme():
    """The Coding Scheme Identification item of dermflow's private concepts (SR and segmentation)."""
    from highdicom.coding_schemes import CodingSchemeIdentificationItem

    return CodingSchemeIdentificationItem(
        designator=codes.DERMFLOW_SCHEME, name=codes.DERMFLOW_SCHEME_NAME, responsible_organization="dermflow",
    )
