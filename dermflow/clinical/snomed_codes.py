"""The codes dermflow's clinical results use: the SNOMED CT mapping of its labels, and the DICOM concepts.

    concept = finding_concept("MEL")          # Concept("372130007", "SCT", "Malignant melanoma of skin")
    concept.fhir_coding()                      # {"system": "http://snomed.info/sct", "code": ..., "display": ...}

One table, :data:`ISIC_FINDINGS`, maps each ISIC 2019 diagnosis to a SNOMED CT concept; docs/scoring.md
(#snomed-ct-mapping) prints it. ``source`` says where each code was checked: ``DICOM PS3.16`` codes are in
DICOM's own context groups (as pydicom ships them); the others are SNOMED CT International concepts that
DICOM's tables do not list, and a hospital should check them against its SNOMED CT release. Labels of a
grouped model (``malignant`` / ``benign``) use DICOM's qualifiers; any other label gets a code of the private
scheme :data:`DERMFLOW_SCHEME`, named in the SR's Coding Scheme Identification Sequence.
"""
from __future__ import annotations

from dataclasses import dataclass

SCT, DCM, UCUM = "SCT", "DCM", "UCUM"
DERMFLOW_SCHEME = "99DERMFLOW"  # private coding scheme (DICOM PS3.3 8.1: private schemes start with 99)
DERMFLOW_SCHEME_NAME = "dermflow result concepts"
FHIR_SYSTEMS = {
    SCT: "http://snomed.info/sct",
    DCM: "http://dicom.nema.org/resources/ontology/DCM",
    UCUM: "http://unitsofmeasure.org",
    DERMFLOW_SCHEME: "https://github.com/dermflow/dermflow/blob/main/docs/scoring.md#snomed-ct-mapping",
}


@dataclass(frozen=True)
class Concept:
    """A coded concept: code value, coding scheme designator (DICOM's name for the system), meaning."""

    value: str
    scheme: str
    meaning: str
    source: str = ""

    def fhir_coding(self) -> dict:
        return {"system": FHIR_SYSTEMS[self.scheme], "code": self.value, "display": self.meaning}

    def highdicom(self):
        from highdicom.sr import CodedConcept

        return CodedConcept(value=self.value, scheme_designator=self.scheme, meaning=self.meaning)


_DICOM = "DICOM PS3.16"
_SCT_ONLY = "SNOMED CT International (not in DICOM's tables; check against your release)"

# ISIC 2019 diagnosis code -> the SNOMED CT concept of the predicted class.
ISIC_FINDINGS: dict[str, Concept] = {
    "MEL": Concept("372130007", SCT, "Malignant melanoma of skin", _SCT_ONLY),
    "NV": Concept("400010006", SCT, "Melanocytic nevus", _SCT_ONLY),
    "BCC": Concept("254701007", SCT, "Basal cell carcinoma of skin", _SCT_ONLY),
    "AK": Concept("201101007", SCT, "Actinic keratosis", f"{_DICOM} CID 4405 Skin Disorder"),
    "BKL": Concept("69640009", SCT, "Seborrheic keratosis", _SCT_ONLY),
    "DF": Concept("72464004", SCT, "Dermatofibroma", _SCT_ONLY),
    "VASC": Concept("400210000", SCT, "Hemangioma", f"{_DICOM} CID 6030 / CID 3810"),
    "SCC": Concept("254651007", SCT, "Squamous cell carcinoma of skin", f"{_DICOM} CID 638 / 639 Neoplasm Morphology"),
}
# Labels of the ``binary`` preset (labels.mode: groups).
GROUP_FINDINGS: dict[str, Concept] = {
    "malignant": Concept("21594007", SCT, "Malignant", f"{_DICOM} CID 6063"),
    "benign": Concept("30807003", SCT, "Benign", f"{_DICOM} CID 6063"),
}

# DICOM concepts of the SR's structure (all in PS3.16).
# The predicted class is the value of an "Impression" (CID 7002); DCM "Finding" (121071) names the group's finding type.
IMPRESSION = Concept("121073", DCM, "Impression")
PROBABILITY = Concept("122157", DCM, "Probability")
SKIN_LESION = Concept("95324001", SCT, "Skin lesion")
DERMOSCOPIC_PHOTOGRAPHY = Concept("446078004", SCT, "Dermoscopic photography")
ARTIFICIAL_INTELLIGENCE = Concept("123110", DCM, "Artificial Intelligence")
COMMENT = Concept("121106", DCM, "Comment")
NO_UNITS = Concept("1", UCUM, "no units")
YES = Concept("373066001", SCT, "Yes")
NO = Concept("373067005", SCT, "No")
MORPHOLOGICALLY_ABNORMAL_STRUCTURE = Concept("49755003", SCT, "Morphologically abnormal structure")

# dermflow's own concepts (docs/trust.md explains them); code values fit DICOM's Code Value (SH, 16 characters).
OUT_OF_SCOPE = Concept("out-of-scope", DERMFLOW_SCHEME, "Looks like none of the model's classes")
IN_SCOPE_SCORE = Concept("in-scope-score", DERMFLOW_SCHEME, "In-scope score")
PREDICTION_SET_MEMBER = Concept("pred-set-member", DERMFLOW_SCHEME, "Conformal prediction set member")
GRADCAM = Concept("gradcam", DERMFLOW_SCHEME, "Grad-CAM heatmap of the predicted class")
CLINICIAN_VERDICT = Concept("verdict", DERMFLOW_SCHEME, "Clinician's verdict on the model's finding")


def finding_concept(label: str) -> Concept:
    """The coded concept of a model label: its SNOMED CT code, or a private dermflow code."""
    if label in ISIC_FINDINGS:
        return ISIC_FINDINGS[label]
    if label.lower() in GROUP_FINDINGS:
        return GROUP_FINDINGS[label.lower()]
    return Concept(f"label-{label}"[:16], DERMFLOW_SCHEME, f"dermflow label {label}")

