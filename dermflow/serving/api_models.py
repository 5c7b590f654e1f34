"""The JSON answers of the API as pydantic models: what /openapi.json (and /docs) describes.

The routes build plain dicts (``prediction_body``); these models document them for clients.
"""
from __future__ import annotations

from pydantic import BaseModel, Field

from dermflow.review.review_enums import QueueReason


class ModelRef(BaseModel):
    name: str
    version: str = Field(description="Registry version (UTC timestamp) that answered; also the X-Model-Version header.")


class Heatmap(BaseModel):
    shape: list[int] = Field(description="[h, w] of the Grad-CAM grid.")
    values: list[list[float]] = Field(description="Grad-CAM of the predicted class, each in [0, 1].")


class ImageInfo(BaseModel):
    format: str = Field(description="jpeg, png or dicom: what the file was, by content.")
    width: int
    height: int


class ProbabilityLine(BaseModel):
    label: str
    name: str = Field(description="The class's full name with its ISIC code, e.g. 'melanoma (MEL)'.")
    value: float
    text: str = Field(description="Rounded for people: whole percents, '>99 %' and '<1 %' at the ends.")


class Reading(BaseModel):
    """The answer said for people, as the web page shows it."""

    kind: str = Field(description="out_of_scope | one_label | several_labels | no_label | no_trust")
    headline: str = Field(description="e.g. 'Outside what this model knows', 'Most likely melanoma (MEL), 87 %'.")
    detail: str
    answer: str | None = Field(description="The label named as the answer; null when the model names none "
                                           "(out of scope, or an empty or several-label prediction set).")
    prediction_set: str | None = Field(description="The prediction set in words, with its coverage rate.")
    in_scope: str | None = Field(description="The in-scope score as a share of the images the model knows.")
    probabilities: list[ProbabilityLine]
    probabilities_secondary: bool = Field(description="True when the probabilities are no answer (out of scope).")
    attention: str | None = Field(None, description="The Grad-CAM's share on the lesion in words, or that no lesion outline was found.")
    attention_warning: str | None = Field(None, description="Said when the Grad-CAM's peak lies off the lesion: check the "
                                                            "image for rulers, ink or stickers.")


class PredictResponse(BaseModel):
    """One image's answer. Research use only: not a diagnosis."""

    model: ModelRef
    labels: list[str] = Field(description="The model's classes, in index order (ISIC codes, or group names).")
    probabilities: dict[str, float] = Field(description="Calibrated probability per label; they sum to 1 over the model's own classes.")
    predicted_label: str = Field(description="The most probable label. Not an answer when out_of_scope is true.")
    predicted_index: int
    predicted_probability: float
    gradcam: Heatmap
    overlay_png_base64: str = Field(description="The heatmap as a transparent 128 px RGBA PNG (jet colours) to lay over the image.")
    image_jpeg_base64: str = Field(description="The prepared JPEG the model read: no metadata, DICOM pixels only.")
    image: ImageInfo
    sha256: str = Field(description="Hex SHA-256 of the uploaded file's bytes: the key verdicts are recorded under.")
    notice: str
    in_scope_score: float | None = Field(None, description="In (0, 1]: the share of held-out images of the model's classes that "
                                                           "were at least this unusual. Low: unlike what the model knows.")
    out_of_scope: bool | None = Field(None, description="The image looks like none of the model's classes: no label is an answer.")
    prediction_set: list[str] | None = Field(None, description="Labels that together hold the true one at the configured "
                                                              "coverage (calibration.json conformal.coverage); empty or several: uncertain.")
    out_of_scope_reason: str | None = Field(None, description="Which signal raised out_of_scope: other_diagnosis, novel or "
                                                             "other_diagnosis_and_novel (docs/trust.md); null in scope.")
    out_of_scope_message: str | None = Field(None, description="out_of_scope_reason in words.")
    other_diagnosis_probability: float | None = Field(None, description="Summed probability of the abstention outputs (the "
                                                                        "other diagnoses the model learned but does not report).")
    gradcam_in_lesion: float | None = Field(None, description="Share of the Grad-CAM's mass inside the lesion mask; null without a mask.")
    attention_off_lesion: bool | None = Field(None, description="The Grad-CAM's peak lies off the lesion mask.")
    lesion_area: float | None = Field(None, description="Share of the image the lesion mask covers.")
    class_names: dict[str, str] = Field(description="label -> full name with the ISIC code, e.g. 'melanoma (MEL)'.")
    reading: Reading


class ShownIn(BaseModel):
    """What the reviewer was shown, when it is not a results row of this server (e.g. an upload)."""

    model_name: str
    model_version: str
    predicted_label: str
    probabilities: dict[str, float]
    out_of_scope: bool | None = None
    run_id: str | None = None


class VerdictIn(BaseModel):
    """A verdict to record. With ``model_version`` (and ``run_id``), the prediction shown is the results row
    of that scoring of the image; else ``shown`` says it."""

    model_config = {"extra": "forbid"}

    sha256: str = Field(description="The image file's SHA-256 (hex), as in the predictions.")
    diagnosis: str = Field(description="MEL, NV, BCC, AK, BKL, DF, VASC, SCC, or OTHER with other_text.")
    basis: str = Field(description="histopathology, consensus, follow_up or single_expert.")
    other_text: str | None = None
    lesion_id: str | None = Field(None, description="Pseudonymous lesion id (no spaces), so images of one lesion stay together.")
    comment: str | None = Field(None, description="Free text: stays in the database, never exported.")
    queue_reason: str = Field(QueueReason.DIRECT.value, description="One of: " + ", ".join(QueueReason) + ".")
    supersedes: int | None = Field(None, description="The id of the verdict this one corrects.")
    model_version: str | None = None
    run_id: str | None = None
    shown: ShownIn | None = None
    keep_image_jpeg_base64: str | None = Field(None, description="An upload's prepared JPEG (predict's image_jpeg_base64), "
                                                                 "kept with the verdict in the review database.")


class VerdictOut(BaseModel):
    id: int
    sha256: str
    diagnosis: str
    basis: str
    lesion_id: str | None
    reviewer: str
    recorded_at: str
    shown: ShownIn | None
    queue_reason: str
    image_path: str | None
    supersedes: int | None
    current: bool
    other_text: str | None = Field(None, description="Only with free_text=true: may hold patient data.")
    comment: str | None = Field(None, description="Only with free_text=true: may hold patient data.")


class VerdictRecorded(BaseModel):
    verdict: VerdictOut
    image_kept: bool = Field(description="True when the upload's prepared image was kept with the verdict.")
