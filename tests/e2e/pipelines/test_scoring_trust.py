"""Out-of-scope flag, calibration and conformal sets end to end, on a synthetic archive.

An ImageNet MobileNetV2 at 65 px (frozen backbone; small_cnn learns too little here to have features
worth measuring) learns MEL, NV and BCC and, as ``trust.abstention: hod`` trains it, one abstention
output per other diagnosis (the HOD loss), from half of the other diagnoses' images. Trust values are
fitted on held-out target images (as the Trainer does), then the Beam scoring job scores fresh
target images, the other half of the other diagnoses (images the model never saw, of diagnoses it
knows) and two photographs with no dermoscopy at all: skimage's cup of coffee and astronaut.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest
from scipy.stats import betabinom, binom
from sklearn.metrics import roc_auc_score

from dermflow.config import DataConfig, TrustConfig, load_config
from dermflow.imaging.model_input import ImagePathSettings, decode_and_resize, prepare_image

pytestmark = pytest.mark.e2e

IMAGE_PATH = ImagePathSettings.from_config(DataConfig())
TARGETS = ["MEL", "NV", "BCC"]
CODES = ("AK", "BKL", "DF", "VASC", "SCC")  # the abstention outputs, in ISIC order
SIZE = 65
ARCHIVE_IMAGES = 480


def _pixels(data: bytes) -> np.ndarray:
    return decode_and_resize(prepare_image(data, IMAGE_PATH).data, SIZE).numpy()


@pytest.fixture(scope="module")
def trusted(tmp_path_factory, imagenet_weights):
    import keras
    import skimage.data
    from PIL import Image

    from dermflow.models import build_classifier, export_model
    from dermflow.models.model_exporter import EXTRAS_DIR, KERAS_FILE
    from dermflow.models.model_exporter import head_model, logits_of
    from dermflow.models.skin_lesion_classifier import OUTPUT_LAYER
    from dermflow.pipelines.training.trainer_abstention import HierarchicalOutlierLoss
    from dermflow.pipelines.training.trainer_input import balanced_class_weights
    from dermflow.registry import publish_version
    from dermflow.synthetic.archive_writer import write_archive
    from dermflow.trust import OtherDiagnoses, fit_trust

    root = tmp_path_factory.mktemp("trust")
    archive = root / "archive"
    write_archive(archive, n=ARCHIVE_IMAGES, seed=1, image_size=SIZE)
    images_dir = archive / DataConfig().images_dir
    with open(archive / "ISIC_2019_Training_GroundTruth.csv", newline="") as handle:
        rows = [(row["image"], next(code for code in row if code != "image" and float(row[code]) == 1.0))
                for row in csv.DictReader(handle)]
    targets = [(image, TARGETS.index(code)) for image, code in rows if code in TARGETS]
    others = [(image, code) for image, code in rows if code not in TARGETS]
    train, fit, fresh = targets[0::2], targets[1::4], targets[3::4]
    others_train, others_fresh = others[0::2], others[1::2]

    cfg = load_config(None, ["model.weights=imagenet", f"model.image_size={SIZE}"])
    keras.utils.set_random_seed(0)
    built = build_classifier(cfg.model, num_classes=len(TARGETS), abstention_codes=CODES)  # backbone frozen
    training = train + [(image, len(TARGETS) + CODES.index(code)) for image, code in others_train]
    x = np.stack([_pixels((images_dir / f"{image}.jpg").read_bytes()) for image, _ in training])
    y = np.array([label for _, label in training])
    built.model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=HierarchicalOutlierLoss(len(TARGETS), 1.0))
    weights = balanced_class_weights(np.bincount(y, minlength=len(TARGETS) + len(CODES)).tolist())
    built.model.fit(x, y, epochs=15, batch_size=32, verbose=0, class_weight=weights)

    def head(items):
        pixels = np.stack([_pixels((images_dir / f"{image}.jpg").read_bytes()) for image, _ in items])
        dense_input = head_model(built)(pixels, training=False)
        return logits_of(built.model.get_layer(OUTPUT_LAYER), dense_input).numpy(), dense_input.numpy()

    trust = fit_trust(*head(fit), np.array([label for _, label in fit]), TrustConfig(), num_targets=len(TARGETS),
                      others=OtherDiagnoses(*head(others_fresh), np.array([code for _, code in others_fresh])))
    export_dir = root / "export"
    export_model(built, TARGETS, export_dir, IMAGE_PATH, trust=trust)
    registered = publish_version(
        root / "registry", cfg.model_name, export_dir, export_dir / EXTRAS_DIR / KERAS_FILE, TARGETS,
        metrics={}, provenance={"test": __file__}, config_json=cfg.to_json(),
    )

    inputs = root / "inputs"
    for folder, items in (("fresh", fresh), ("other", others_fresh)):
        (inputs / folder).mkdir(parents=True)
        for image, _ in items:
            (inputs / folder / f"{image}.jpg").write_bytes((images_dir / f"{image}.jpg").read_bytes())
    Image.fromarray(skimage.data.coffee()).save(inputs / "coffee.jpg", quality=90)
    Image.fromarray(skimage.data.astronaut()).save(inputs / "astronaut.jpg", quality=90)

    from dermflow.pipelines.scoring_pipeline import run_scoring

    score_cfg = load_config(None, ["beam.direct_running_mode=in_memory", "score.min_batch_size=16",
                                   "score.max_batch_size=32", "score.heatmap_png_size=16"])
    summary = run_scoring(score_cfg, [str(inputs)], str(root / "registry"), root / "out", run_id="trust")
    table = ds.dataset(root / "out" / "predictions", format="parquet", partitioning="hive").to_table()
    by_path = {row["path"]: row for row in table.to_pylist()}
    labels = {f"fresh/{image}.jpg": label for image, label in fresh}
    return trust, summary, by_path, labels, table.schema


def test_known_other_diagnoses_score_clearly_lower_than_fresh_targets(trusted):
    trust, _, rows, _, _ = trusted
    assert trust.decision.summary()["signals"] == ["novelty", "memory"]
    fresh = [row["in_scope_score"] for path, row in rows.items() if path.startswith("fresh/")]
    other = [row["in_scope_score"] for path, row in rows.items() if path.startswith("other/")]
    auroc = roc_auc_score(np.r_[np.zeros(len(fresh)), np.ones(len(other))], -np.r_[fresh, other])
    flagged = np.mean([row["out_of_scope"] for path, row in rows.items() if path.startswith("other/")])
    print(f"decision AUROC {auroc:.3f}, {len(fresh)} targets vs {len(other)} others; medians "
          f"{np.median(fresh):.2f} vs {np.median(other):.2f}; others flagged {flagged:.2f}")
    assert auroc >= 0.85  # chance is 0.5
    assert np.median(other) < np.median(fresh) - 0.25
    assert flagged >= 0.3


def test_the_memory_signal_says_another_diagnosis(trusted):
    _, _, rows, _, _ = trusted
    other = [row for path, row in rows.items() if path.startswith("other/")]
    fresh = [row for path, row in rows.items() if path.startswith("fresh/")]
    flagged = [row for row in other if row["out_of_scope"]]
    by_memory = [row for row in flagged if row["out_of_scope_reason"] in ("other_diagnosis", "other_diagnosis_and_novel")]
    assert len(by_memory) >= 0.5 * len(flagged)  # the abstention outputs recognise most of them
    assert np.median([row["other_diagnosis_probability"] for row in other]) > np.median(
        [row["other_diagnosis_probability"] for row in fresh])
    assert all((row["out_of_scope_reason"] is None) == (not row["out_of_scope"]) for row in rows.values())


def test_the_decision_beats_max_softmax_on_the_other_diagnoses(trusted):
    _, _, rows, _, _ = trusted
    paths = [p for p in rows if p.startswith(("fresh/", "other/"))]
    is_other = np.array([p.startswith("other/") for p in paths], float)
    decision = roc_auc_score(is_other, [-rows[p]["in_scope_score"] for p in paths])
    softmax = roc_auc_score(is_other, [-rows[p]["predicted_probability"] for p in paths])
    print(f"AUROC: decision {decision:.3f}, max softmax {softmax:.3f}")
    assert decision > softmax + 0.05


@pytest.mark.parametrize("photo", ["coffee", "astronaut"])
def test_a_photo_is_flagged_as_unlike_anything_and_unk_is_filled(trusted, photo):
    _, summary, rows, _, _ = trusted
    row = rows[f"{photo}.jpg"]
    assert row["out_of_scope"] is True
    assert row["out_of_scope_reason"] in ("novel", "other_diagnosis_and_novel")  # the feature distance catches it
    assert row["in_scope_score"] < 0.05
    lines = Path(summary["isic_csv"]).read_text().splitlines()
    assert lines[0].endswith(",UNK")
    unk = {line.split(",")[0]: float(line.split(",")[-1]) for line in lines[1:]}
    assert unk[photo] == pytest.approx(1.0 - row["in_scope_score"], abs=1e-5)
    assert unk[photo] > 0.9


def test_fresh_targets_are_mostly_kept_in_scope(trusted):
    trust, _, rows, labels, _ = trusted
    flagged = [rows[path]["out_of_scope"] for path in labels]
    low, high = binom.interval(0.99, len(flagged), 1 - trust.in_scope_retention)
    assert sum(flagged) <= high


def test_conformal_coverage_on_the_fresh_split_is_inside_its_95_percent_interval(trusted):
    """With a small calibration part (n images), the coverage of a fresh split of m images is not
    Binomial(m, 0.9) but Beta-Binomial(m, k, n + 1 - k), k = ceil((n + 1) 0.9): the quantile itself is
    random (Angelopoulos & Bates 2021, sec. 3.2). The binomial interval of nominal, with a calibration
    set large enough for that spread to vanish, is tested in tests/unit/dermflow/trust/test_conformal_sets.py."""
    trust, _, rows, labels, _ = trusted
    covered = sum(TARGETS[label] in rows[path]["prediction_set"] for path, label in labels.items())
    m, n = len(labels), trust.fit["sizes"]["part_b"]
    k = math.ceil((n + 1) * trust.conformal_coverage)
    low, high = betabinom.interval(0.95, m, k, n + 1 - k)
    print(f"coverage {covered}/{m}, 95% interval [{low}, {high}] (calibration part {n}), mean set size "
          f"{np.mean([rows[p]['prediction_set_size'] for p in labels]):.2f}")
    assert low <= covered <= high
    assert all(rows[p]["prediction_set_size"] == len(rows[p]["prediction_set"]) for p in labels)


def test_the_new_columns_are_described_in_the_schema(trusted):
    from dermflow.schemas.scores_schema import PREDICTIONS_SCHEMA, SCHEMA_VERSION, descriptions

    _, _, _, _, schema = trusted
    assert SCHEMA_VERSION == "3"
    for column in ("in_scope_score", "out_of_scope", "out_of_scope_reason", "other_diagnosis_probability",
                   "prediction_set", "prediction_set_size"):
        assert column in schema.names
        assert len(descriptions(PREDICTIONS_SCHEMA)[column]) > 40
