"""The model's result for one image as FHIR R4B resources, validated by fhir.resources' R4B models.

    identity = ImageIdentity.from_dicom_header(header)   # or ImageIdentity.from_sha256(sha256) for JPEG / PNG
    lines = image_resources(finding, identity, sr_uid)    # JSON lines: 4 Observations, then the DiagnosticReport
    line = device_resource(model_name, model_version)     # the model, once per run

fhir.resources 8 ships R5, R4B and STU3 but no R4; R4B's DiagnosticReport, Observation and Device
match R4 for every field used here. Per image: one ``DiagnosticReport`` whose ``result`` lists four
``Observation``s (predicted class in SNOMED CT; class probabilities as components; out-of-scope with
the in-scope score; the conformal prediction set), each with ``device`` -> the model's ``Device``.
The image is the Observations' ``derivedFrom``: by DICOM SOP Instance UID (``urn:dicom:uid``), or by
the file's sha256 for JPEG and PNG. docs/scoring.md#fhir says which field a hospital maps where.

For a DICOM image ``identity`` carries the Patient ID, Study Instance UID, accession number and study
date, read from the source when the resources are written (never carried through the pipeline).
Resource ids derive from (image, model version): a re-run writes the same ids.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from dermflow.clinical import clinical_uids, snomed_codes as codes
from dermflow.clinical.model_finding import ModelFinding
from dermflow.clinical.sr_writer import RESEARCH_USE_ONLY

DICOM_UID_SYSTEM = "urn:dicom:uid"
SHA256_SYSTEM = "urn:dermflow:file-sha256"
OBSERVATION_CATEGORY = {"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "imaging", "display": "Imaging",
}]}
ACCESSION_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN",
                              "display": "Accession ID"}]}
REPORT_CODE = {"coding": [{"system": codes.FHIR_SYSTEMS[codes.DCM], "code": "126000",
                           "display": "Imaging Measurement Report"}],
               "text": "dermflow skin lesion classification (research use only)"}
NOT_PERFORMED = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                             "code": "not-performed", "display": "Not Performed"}]}


@dataclass(frozen=True)
class ImageIdentity:
    """Who and what an image is, as the hospital's record knows it (DICOM) or by content (JPEG, PNG)."""

    key: str  # SOP Instance UID, or the file's sha256
    system: str  # DICOM_UID_SYSTEM or SHA256_SYSTEM
    study_uid: str = ""
    patient_id: str = ""
    patient_id_issuer: str = ""
    accession_number: str = ""
    study_date: str = ""  # YYYY-MM-DD

    @classmethod
    def from_sha256(cls, sha256: str) -> "ImageIdentity":
        return cls(sha256, SHA256_SYSTEM)

    @classmethod
    def from_dicom_header(cls, header: Any) -> "ImageIdentity":
        date = str(header.get("StudyDate", "") or "")
        return cls(
            key=str(header.SOPInstanceUID), system=DICOM_UID_SYSTEM, study_uid=str(header.get("StudyInstanceUID", "")),
            patient_id=str(header.get("PatientID", "") or ""), patient_id_issuer=str(header.get("IssuerOfPatientID", "") or ""),
            accession_number=str(header.get("AccessionNumber", "") or ""),
            study_date=f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 and date.isdigit() else "",
        )

    def value(self, key: str) -> str:
        return f"urn:oid:{key}" if self.system == DICOM_UID_SYSTEM else key


def resource_id(kind: str, identity: ImageIdentity, model_version: str) -> str:
    digest = hashlib.sha256(f"{identity.system}|{identity.key}|{model_version}|{kind}".encode("utf-8")).hexdigest()
    return f"dermflow-{kind}-{digest[:40]}"


def device_id(model_name: str, model_version: str) -> str:
    return "dermflow-device-" + hashlib.sha256(f"{model_name}|{model_version}".encode("utf-8")).hexdigest()[:40]


def device_resource(model_name: str, model_version: str, dermflow_version: str) -> str:
    """The model version as a ``Device`` (JSON line)."""
    return _validated({
        "resourceType": "Device", "id": device_id(model_name, model_version), "status": "active",
        "identifier": [{"system": DICOM_UID_SYSTEM,
                        "value": f"urn:oid:{clinical_uids.device_uid(model_name, model_version)}"}],
        "manufacturer": "dermflow", "deviceName": [{"name": model_name, "type": "model-name"}],
        "type": {"coding": [codes.ARTIFICIAL_INTELLIGENCE.fhir_coding()], "text": "skin lesion classifier"},
        "version": [{"value": model_version}, {"type": {"text": "dermflow"}, "value": dermflow_version}],
        "note": [{"text": RESEARCH_USE_ONLY}],
    })


def image_resources(finding: ModelFinding, identity: ImageIdentity, sr_uid: str = "") -> list[str]:
    """The four Observations and the DiagnosticReport of one image, as validated JSON lines."""
    base = _observation_base(finding, identity)
    observations = [
        _predicted_class(finding, identity, base), _probabilities(finding, identity, base),
        _out_of_scope(finding, identity, base), _prediction_set(finding, identity, base),
    ]
    report = _report(finding, identity, [o["id"] for o in observations], sr_uid)
    return [_validated(resource) for resource in (*observations, report)]


def _subject(identity: ImageIdentity) -> dict | None:
    if not identity.patient_id:
        return None
    identifier: dict = {"value": identity.patient_id}
    if identity.patient_id_issuer:
        identifier["assigner"] = {"display": identity.patient_id_issuer}
    return {"type": "Patient", "identifier": identifier}


def _observation_base(finding: ModelFinding, identity: ImageIdentity) -> dict:
    base: dict = {
        "resourceType": "Observation", "status": "preliminary", "category": [OBSERVATION_CATEGORY],
        "issued": finding.scored_at.isoformat(), "device": {"reference": f"Device/{device_id(finding.model_name, finding.model_version)}"},
        "derivedFrom": [{"type": "Media", "identifier": {"system": identity.system, "value": identity.value(identity.key)},
                         "display": "the scored image"}],
        "note": [{"text": RESEARCH_USE_ONLY}],
    }
    subject = _subject(identity)
    if subject:
        base["subject"] = subject
    if identity.study_date:
        base["effectiveDateTime"] = identity.study_date
    return base


def _code(concept: codes.Concept, text: str) -> dict:
    return {"coding": [concept.fhir_coding()], "text": text}


def _probability(value: float) -> dict:
    return {"value": round(float(value), 7), "unit": "1", "system": codes.FHIR_SYSTEMS[codes.UCUM], "code": "1"}


def _predicted_class(finding: ModelFinding, identity: ImageIdentity, base: dict) -> dict:
    label = finding.predicted_label
    return {**base, "id": resource_id("class", identity, finding.model_version),
            "code": _code(codes.IMPRESSION, "dermflow predicted class"),
            "valueCodeableConcept": _code(codes.finding_concept(label), label)}


def _probabilities(finding: ModelFinding, identity: ImageIdentity, base: dict) -> dict:
    components = [{"code": _code(codes.finding_concept(label), f"probability of {label}"), "valueQuantity": _probability(p)}
                  for label, p in zip(finding.labels, finding.probabilities)]
    return {**base, "id": resource_id("probabilities", identity, finding.model_version),
            "code": _code(codes.PROBABILITY, "dermflow class probabilities (calibrated)"), "component": components}


def _out_of_scope(finding: ModelFinding, identity: ImageIdentity, base: dict) -> dict:
    resource = {**base, "id": resource_id("scope", identity, finding.model_version),
                "code": _code(codes.OUT_OF_SCOPE, "dermflow out-of-scope")}
    if finding.out_of_scope is None:
        resource["dataAbsentReason"] = NOT_PERFORMED
    else:
        resource["valueBoolean"] = bool(finding.out_of_scope)
    if finding.in_scope_score is not None:
        resource["component"] = [{"code": _code(codes.IN_SCOPE_SCORE, "in-scope score"),
                                  "valueQuantity": _probability(finding.in_scope_score)}]
    return resource


def _prediction_set(finding: ModelFinding, identity: ImageIdentity, base: dict) -> dict:
    resource = {**base, "id": resource_id("prediction-set", identity, finding.model_version),
                "code": _code(codes.PREDICTION_SET_MEMBER, "dermflow conformal prediction set")}
    if finding.prediction_set is None:
        resource["dataAbsentReason"] = NOT_PERFORMED
        return resource
    resource["valueInteger"] = len(finding.prediction_set)
    if finding.prediction_set:
        resource["component"] = [{"code": _code(codes.PREDICTION_SET_MEMBER, "member"),
                                  "valueCodeableConcept": _code(codes.finding_concept(label), label)}
                                 for label in finding.prediction_set]
    return resource


def _report(finding: ModelFinding, identity: ImageIdentity, observation_ids: list[str], sr_uid: str) -> dict:
    label = finding.predicted_label
    report: dict = {
        "resourceType": "DiagnosticReport", "id": resource_id("report", identity, finding.model_version),
        "status": "preliminary", "category": [_code(codes.DERMOSCOPIC_PHOTOGRAPHY, "dermoscopy")], "code": REPORT_CODE,
        "issued": finding.scored_at.isoformat(), "result": [{"reference": f"Observation/{oid}"} for oid in observation_ids],
        "conclusion": f"Model {finding.model_name} {finding.model_version} predicts {label} "
                      f"(probability {finding.predicted_probability:.3f}). {RESEARCH_USE_ONLY}",
        "conclusionCode": [_code(codes.finding_concept(label), label)],
    }
    if sr_uid:
        report["identifier"] = [{"system": DICOM_UID_SYSTEM, "value": f"urn:oid:{sr_uid}"}]
    subject = _subject(identity)
    if subject:
        report["subject"] = subject
    if identity.study_date:
        report["effectiveDateTime"] = identity.study_date
    if identity.study_uid:
        report["imagingStudy"] = [{"type": "ImagingStudy", "identifier": {
            "system": DICOM_UID_SYSTEM, "value": f"urn:oid:{identity.study_uid}"}}]
    if identity.accession_number:
        report["basedOn"] = [{"type": "ServiceRequest", "identifier": {"type": ACCESSION_TYPE,
                                                                      "value": identity.accession_number}}]
    return report


def _validated(resource: dict) -> str:
    """The resource through its R4B model (raises pydantic's ValidationError), as one JSON line."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return model.model_dump_json(exclude_none=True)
