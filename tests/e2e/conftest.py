"""A tiny classifier trained here on a synthetic archive and pushed to a temp registry, shared by the scoring tests."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dermflow.config import DataConfig
from support.artefact_reports import ARTEFACT_SUMMARY
from dermflow.imaging.model_input import ImagePathSettings, decode_and_resize, prepare_image

IMAGE_PATH = ImagePathSettings.from_config(DataConfig())

SCORING_LABELS = ["MEL", "NV", "BCC"]
SCORING_IMAGE_SIZE = 48
BASELINE_IMAGES = 400  # held-out synthetic images (another seed) in the model's drift baseline


@dataclass(frozen=True)
class ScoringModel:
    registry: Path
    spec: str  # what --model takes
    version: str
    labels: list[str]
    archive: Path  # the synthetic archive the model was trained on
    images_dir: Path
    masks_dir: Path
    baseline_images: int  # in its drift baseline: a held-out synthetic archive through scoring's path


def model_input(data: bytes) -> np.ndarray:
    """A file's model input by the one image path: prepared as ingest does, then the in-graph decode + resize."""
    return decode_and_resize(prepare_image(data, IMAGE_PATH).data, SCORING_IMAGE_SIZE).numpy()


def _training_set(archive: Path, images_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    pixels, targets = [], []
    with open(archive / "ISIC_2019_Training_GroundTruth.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            found = [label for label in SCORING_LABELS if float(row[label]) == 1.0]
            if found:
                pixels.append(model_input((images_dir / f"{row['image']}.jpg").read_bytes()))
                targets.append(SCORING_LABELS.index(found[0]))
    return np.stack(pixels).astype("float32"), np.array(targets)


@pytest.fixture(name="model_input", scope="session")
def model_input_fixture():
    """:func:`model_input`, for tests that compare with what the model saw."""
    return model_input


@pytest.fixture(scope="session")
def scoring_model(tmp_path_factory) -> ScoringModel:
    import keras

    from dermflow.config import DataConfig, load_config
    from dermflow.models import build_classifier, export_model
    from dermflow.models.model_exporter import EXTRAS_DIR, KERAS_FILE
    from dermflow.registry import publish_version
    from dermflow.synthetic.archive_writer import LESION_MASKS_DIR, write_archive

    root = tmp_path_factory.mktemp("scoring_model")
    archive = root / "archive"
    write_archive(archive, n=160, seed=0, image_size=SCORING_IMAGE_SIZE)
    images_dir = archive / DataConfig().images_dir
    x, y = _training_set(archive, images_dir)

    cfg = load_config(None, ["model.backbone=small_cnn", "model.weights=none", f"model.image_size={SCORING_IMAGE_SIZE}"])
    keras.utils.set_random_seed(0)
    built = build_classifier(cfg.model, num_classes=len(SCORING_LABELS))
    for layer in built.model.layers:
        layer.trainable = True
    built.model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    built.model.fit(x, y, epochs=8, batch_size=32, verbose=0)

    export_dir = root / "export"
    export_model(built, SCORING_LABELS, export_dir, IMAGE_PATH)
    baseline = _record_drift_baseline(export_dir, root / "held_out")
    registered = publish_version(
        root / "registry", cfg.model_name, export_dir, export_dir / EXTRAS_DIR / KERAS_FILE, SCORING_LABELS,
        metrics={"artefacts": ARTEFACT_SUMMARY}, provenance={"test": "tests/e2e/conftest.py"}, config_json=cfg.to_json(),
    )
    return ScoringModel(
        registry=root / "registry", spec=str(root / "registry"), version=registered.version, labels=SCORING_LABELS,
        archive=archive, images_dir=images_dir, masks_dir=archive / LESION_MASKS_DIR, baseline_images=baseline.images,
    )


TRUSTED_IMAGE_SIZE = 65


@pytest.fixture(scope="session")
def trusted_model(scoring_model, imagenet_weights, tmp_path_factory) -> ScoringModel:
    """A model with trust outputs fitted (temperature, out-of-scope detector, prediction sets), in its own
    registry: what the clinician's pages are tested with.

    An ImageNet MobileNetV2 at 65 px, frozen, whose output layer is fitted on its features of half of
    :func:`scoring_model`'s archive's target images (small_cnn's features are too poor for a photo of
    coffee to look out of scope); the trust outputs are fitted on the other half, the other
    diagnoses giving the detector its other means. The synthetic classes are so easy that every
    held-out image would be right and the fitted temperature would make every probability 0 or 1:
    a tenth of the fitting labels are shifted, so that the model is about as unsure as a real one.
    """
    import keras

    from dermflow.config import TrustConfig, load_config
    from dermflow.models import build_classifier, export_model
    from dermflow.models.model_exporter import EXTRAS_DIR, KERAS_FILE, head_model, logits_of
    from dermflow.models.skin_lesion_classifier import OUTPUT_LAYER
    from dermflow.registry import publish_version
    from dermflow.trust import OtherDiagnoses, fit_trust

    cfg = load_config(None, ["model.weights=imagenet", f"model.image_size={TRUSTED_IMAGE_SIZE}"])
    keras.utils.set_random_seed(0)
    built = build_classifier(cfg.model, num_classes=len(SCORING_LABELS))
    images, codes = [], []
    with open(scoring_model.archive / "ISIC_2019_Training_GroundTruth.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            images.append(row["image"])
            codes.append(next(c for c in row if c != "image" and float(row[c]) == 1.0))
    pixels = np.stack([decode_and_resize(prepare_image((scoring_model.images_dir / f"{image}.jpg").read_bytes(),
                                                       IMAGE_PATH).data, TRUSTED_IMAGE_SIZE).numpy() for image in images])
    features = head_model(built)(pixels, training=False).numpy()
    codes = np.array(codes)
    is_target = np.isin(codes, SCORING_LABELS)
    labels = np.array([SCORING_LABELS.index(code) for code in codes[is_target]])
    output = built.model.get_layer(OUTPUT_LAYER)
    head = keras.Sequential([keras.Input((features.shape[1],)), keras.layers.Dense(len(SCORING_LABELS), activation="softmax")])
    head.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    target_features = features[is_target]
    head.fit(target_features[0::2], labels[0::2], epochs=30, batch_size=16, verbose=0)  # half: the other half fits trust
    output.set_weights(head.layers[-1].get_weights())
    logits = logits_of(output, features).numpy()
    fit_labels = labels[1::2].copy()
    fit_labels[::10] = (fit_labels[::10] + 1) % len(SCORING_LABELS)  # synthetic classes are too easy: a tenth relabelled
    trust = fit_trust(logits[is_target][1::2], target_features[1::2], fit_labels, TrustConfig(),
                      others=OtherDiagnoses(logits[~is_target], features[~is_target], codes[~is_target]))
    root = tmp_path_factory.mktemp("trusted_model")
    export_dir = root / "export"
    export_model(built, SCORING_LABELS, export_dir, IMAGE_PATH, trust=trust)
    registered = publish_version(
        root / "registry", cfg.model_name, export_dir, export_dir / EXTRAS_DIR / KERAS_FILE, SCORING_LABELS,
        metrics={"artefacts": ARTEFACT_SUMMARY}, provenance={"test": "tests/e2e/conftest.py trusted_model"}, config_json=cfg.to_json(),
    )
    return ScoringModel(
        registry=root / "registry", spec=str(root / "registry"), version=registered.version, labels=SCORING_LABELS,
        archive=scoring_model.archive, images_dir=scoring_model.images_dir, masks_dir=scoring_model.masks_dir,
        baseline_images=0,  # exported without a drift baseline: its runs are not judged
    )


def _record_drift_baseline(export_dir: Path, held_out: Path):
    """As the Trainer records it from its test split: other images of the same kind, prepared as ingest does."""
    from dermflow.monitoring.drift_baseline import HeldOutImage, record_drift_baseline
    from dermflow.synthetic.archive_writer import write_archive

    write_archive(held_out, n=BASELINE_IMAGES, seed=1, image_size=SCORING_IMAGE_SIZE)
    prepared = (prepare_image(path.read_bytes(), IMAGE_PATH) for path in sorted((held_out / DataConfig().images_dir).glob("*.jpg")))
    images = (HeldOutImage(p.data, p.width, p.height, p.format) for p in prepared)
    return record_drift_baseline(export_dir, images, split="test")
