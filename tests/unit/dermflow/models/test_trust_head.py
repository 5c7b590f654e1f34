"""The exported signatures apply the fitted trust values: calibrated probabilities, in-scope score, sets."""
import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf
from model_test_utils import encode

from dermflow.config import DataConfig, ModelConfig, TrustConfig
from dermflow.imaging.model_input import ImagePathSettings, decode_and_resize
from dermflow.models import SIGNATURES, build_classifier, export_model, load_exported
from dermflow.models.export_layout import read_export_calibration
from dermflow.models.model_exporter import head_model, logits_of
from dermflow.models.trust_head import TrustHead
from dermflow.models.skin_lesion_classifier import OUTPUT_LAYER
from dermflow.trust import OtherDiagnoses, expected_calibration_error, fit_trust, prediction_sets, softmax
from dermflow.trust.feature_distance import in_scope_pvalue
from dermflow.trust.score_combination import fit_score_combination
from dermflow.trust.trust_fitter import _quantile_rank

IMAGE_PATH = ImagePathSettings.from_config(DataConfig())
LABELS = ["MEL", "NV", "BCC"]
SIZE = 32
OVERCONFIDENCE = 5.0


def _head(built, images):
    pixels = np.stack([decode_and_resize(tf.constant(data), SIZE).numpy() for data in images])
    dense_input = head_model(built)(pixels, training=False)
    return logits_of(built.model.get_layer(OUTPUT_LAYER), dense_input).numpy(), dense_input.numpy()


@pytest.fixture(scope="module")
def overconfident(tmp_path_factory):
    """A random small_cnn whose labels are drawn from softmax(z); its Dense layer then scaled to output 5 z."""
    import keras

    keras.utils.set_random_seed(0)
    built = build_classifier(ModelConfig(backbone="small_cnn", weights="none", image_size=SIZE), len(LABELS))
    rng = np.random.default_rng(0)
    images = [encode(rng.integers(0, 256, (SIZE, SIZE, 3)) * rng.uniform(0.2, 1.0), "PNG") for _ in range(600)]
    logits, _ = _head(built, images)
    dense = built.model.get_layer(OUTPUT_LAYER)
    spread = 1.5 / max(float(logits.std()), 1e-6)  # the "true" logits: spread * z
    true_probabilities = softmax(logits * spread)
    labels = np.array([rng.choice(len(LABELS), p=p) for p in true_probabilities])
    extra = [encode(rng.integers(0, 256, (SIZE, SIZE, 3)) * rng.uniform(0.2, 1.0), "PNG") for _ in range(100)]
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * spread * OVERCONFIDENCE, bias * spread * OVERCONFIDENCE])
    logits, features = _head(built, images)
    fit, held = slice(0, 400), slice(400, 600)
    # 100 more images stand for the archive's other diagnoses (two codes): their means enter the score.
    others = OtherDiagnoses(*_head(built, extra), np.array(["BKL", "DF"] * 50))
    trust = fit_trust(logits[fit], features[fit], labels[fit], TrustConfig(other_classifier="either_pvalue"), others=others)
    export_dir = tmp_path_factory.mktemp("trust") / "serving_model"
    export_model(built, LABELS, export_dir, IMAGE_PATH, trust=trust, calibration={"note": "test"})
    return built, trust, export_dir, load_exported(export_dir), images[held], logits[held], features[held], labels[held]


def test_fitting_lowers_the_ece_of_the_overconfident_model(overconfident):
    _, trust, _, _, _, logits, _, labels = overconfident
    before = expected_calibration_error(softmax(logits), labels)
    after = expected_calibration_error(trust.calibrated(logits), labels)
    assert trust.temperature > 2.0
    assert before > 0.1
    assert after < before / 2


@pytest.mark.parametrize("signature", ["predict_images", "gradcam_images", "serving_default"])
def test_every_signature_returns_the_calibrated_outputs(overconfident, signature):
    _, trust, _, loaded, images, logits, features, _ = overconfident
    if signature == "serving_default":
        examples = [tf.train.Example(features=tf.train.Features(feature={
            "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))})).SerializeToString()
            for image in images]
        outputs = loaded.signatures[signature](examples=tf.constant(examples))
    else:
        outputs = loaded.signatures[signature](images=tf.constant(images))
    expected = trust.calibrated(logits)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=2e-4)
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(1), 1.0, atol=1e-5)
    assert np.abs(outputs["probabilities"].numpy() - softmax(logits)).max() > 0.05  # not the raw softmax
    np.testing.assert_allclose(outputs["in_scope_score"], trust.in_scope_score(features), atol=1e-2)
    np.testing.assert_array_equal(outputs["prediction_set"], prediction_sets(expected, trust.conformal_quantile))
    np.testing.assert_array_equal(outputs["prediction_set_size"], outputs["prediction_set"].numpy().sum(1))
    assert outputs["out_of_scope"].dtype == tf.bool


def test_the_exported_score_uses_the_other_diagnoses_means(overconfident):
    """The SavedModel computes d_in + beta (d_in - d_other) as numpy does, not d_in alone."""
    _, trust, _, loaded, images, _, features, _ = overconfident
    assert trust.distance.other_codes == ("BKL", "DF") and trust.distance.other_weight > 0
    np.testing.assert_allclose(loaded.trust.other_means.numpy(), trust.distance.others)
    assert float(loaded.trust.other_class_weight.numpy()) == pytest.approx(trust.distance.other_weight)
    score = trust.out_of_scope_score(features)
    novelty_only = trust.distance.without_others().distance(features)
    tolerance = 1e-3 * np.abs(score).max()
    assert np.abs(score - novelty_only).mean() > 10 * tolerance  # d_in alone would fail the parity below
    np.testing.assert_allclose(loaded.trust.out_of_scope_score(tf.constant(features, tf.float32)), score,
                               rtol=1e-3, atol=tolerance)
    exported = loaded.signatures["predict_images"](images=tf.constant(images))
    np.testing.assert_allclose(exported["in_scope_score"], trust.in_scope_score(features), atol=1e-2)
    agree = exported["out_of_scope"].numpy() == trust.out_of_scope(features)
    assert agree.mean() >= 0.99  # at most a float32 tie at the threshold


def test_the_exported_score_combines_the_distance_and_the_other_diagnosis_classifier(overconfident):
    """The fixture's combination (either_pvalue) of TrustParameters, computed by the SavedModel."""
    _, trust, _, loaded, images, logits, features, _ = overconfident
    assert trust.other_classifier is not None and trust.combination.method == "either_pvalue"
    np.testing.assert_allclose(loaded.trust.classifier_weights.numpy(), trust.other_classifier.weights)
    assert float(loaded.trust.classifier_bias.numpy()) == pytest.approx(trust.other_classifier.bias, abs=1e-5)
    score = trust.out_of_scope_score(features)
    exported = loaded.trust.out_of_scope_score(tf.constant(features, tf.float32)).numpy()
    assert (np.abs(exported - score) < 0.5).mean() >= 0.99  # integer counts; at most a float32 tie differs
    distance_only = in_scope_pvalue(trust.distance.distance(features), trust.combination.distance_reference)
    assert np.abs(trust.in_scope_score(features) - distance_only).mean() > 0.05  # the classifier changes it
    outputs = loaded.signatures["gradcam_images"](images=tf.constant(images))
    np.testing.assert_allclose(outputs["in_scope_score"], trust.in_scope_score(features), atol=1e-2)
    assert (outputs["out_of_scope"].numpy() == trust.out_of_scope(features)).mean() >= 0.99


@pytest.mark.parametrize("combination", ["weighted_sum", "either_pvalue", None])
def test_the_trust_head_computes_what_numpy_computes(overconfident, combination):
    """Each combination (None: the distance alone), its constants from half the held images, checked on the rest."""
    _, trust, _, _, _, logits, features, _ = overconfident
    part_b, fresh = slice(0, 100), slice(100, 200)
    if combination is None:
        params = dataclasses.replace(trust, other_classifier=None, combination=None)
    else:
        params = dataclasses.replace(trust, combination=fit_score_combination(
            combination, trust.distance.distance(features[part_b]), trust.other_classifier.logit(features[part_b]),
            logit_weight=2.0))
    reference = np.sort(params.out_of_scope_score(features[part_b])).astype(np.float32)
    params = dataclasses.replace(params, reference_distances=reference,
                                 distance_threshold=_quantile_rank(reference, 0.8))
    outputs = TrustHead(params)(tf.constant(logits[fresh], tf.float32), tf.constant(features[fresh], tf.float32))
    score = params.out_of_scope_score(features[fresh])
    tolerance = 1e-3 * np.abs(score).max()
    np.testing.assert_allclose(TrustHead(params)._score(tf.constant(features[fresh], tf.float32)), score,
                               rtol=1e-3, atol=tolerance)
    np.testing.assert_allclose(outputs["in_scope_score"], params.in_scope_score(features[fresh]), atol=1e-2)
    flags = params.out_of_scope(features[fresh])
    assert 0 < flags.sum() < flags.size  # the threshold splits them, so the agreement below can fail
    assert (outputs["out_of_scope"].numpy() == flags).mean() >= 0.99


def test_gradcam_pixels_carries_the_trust_outputs(overconfident):
    _, _, _, loaded, _, _, _, _ = overconfident
    outputs = loaded.signatures["gradcam_pixels"](pixels=tf.zeros([2, SIZE, SIZE, 3], tf.uint8))
    assert {"probabilities", "in_scope_score", "out_of_scope", "prediction_set", "prediction_set_size", "gradcam"} <= set(outputs)
    assert set(loaded.signatures) == set(SIGNATURES)


def test_calibration_json_is_written_beside_the_model(overconfident):
    _, trust, export_dir, _, _, _, _, _ = overconfident
    calibration = read_export_calibration(export_dir)
    assert calibration["temperature"] == pytest.approx(trust.temperature)
    assert calibration["conformal"]["quantile"] == pytest.approx(trust.conformal_quantile)
    assert calibration["fit"]["ece_after"] < calibration["fit"]["ece_before"]
    assert calibration["note"] == "test"
    json.dumps(calibration)
