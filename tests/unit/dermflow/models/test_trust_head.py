"""The exported signatures apply the fitted trust values, as numpy computes them: the numpy <-> SavedModel parity.

A small_cnn with two abstention outputs (BKL, DF) after its three targets, made over-confident: every
signature returns the target probabilities renormalised and calibrated, the other-diagnosis
probability, the in-scope score, the flag and which signal raised it, as TrustParameters does.
"""
import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf
from model_test_utils import encode

from dermflow.config import DataConfig, ModelConfig, TrustConfig
from dermflow.imaging.model_input import ImagePathSettings, decode_and_resize
from dermflow.models import SIGNATURES, build_classifier, export_model, load_exported
from dermflow.models.export_layout import read_export_calibration, read_export_provenance
from dermflow.models.model_exporter import head_model, logits_of
from dermflow.models.skin_lesion_classifier import OUTPUT_LAYER
from dermflow.models.trust_head import TrustHead
from dermflow.trust import (OtherDiagnoses, expected_calibration_error, fit_out_of_scope_decision, fit_trust,
                            memory_score, other_diagnosis_probability, prediction_sets, softmax)

IMAGE_PATH = ImagePathSettings.from_config(DataConfig())
LABELS = ["MEL", "NV", "BCC"]
CODES = ("BKL", "DF")
SIZE = 32
OVERCONFIDENCE = 5.0


def _head(built, images):
    pixels = np.stack([decode_and_resize(tf.constant(data), SIZE).numpy() for data in images])
    dense_input = head_model(built)(pixels, training=False)
    return logits_of(built.model.get_layer(OUTPUT_LAYER), dense_input).numpy(), dense_input.numpy()


@pytest.fixture(scope="module")
def overconfident(tmp_path_factory):
    """A random small_cnn (3 targets + 2 abstention outputs) whose labels are drawn from the softmax of its target
    logits z; its Dense layer then scaled to output 5 z."""
    import keras

    keras.utils.set_random_seed(0)
    built = build_classifier(ModelConfig(backbone="small_cnn", weights="none", image_size=SIZE), len(LABELS),
                             abstention_codes=CODES)
    rng = np.random.default_rng(0)
    images = [encode(rng.integers(0, 256, (SIZE, SIZE, 3)) * rng.uniform(0.2, 1.0), "PNG") for _ in range(600)]
    logits, _ = _head(built, images)
    dense = built.model.get_layer(OUTPUT_LAYER)
    spread = 1.5 / max(float(logits.std()), 1e-6)  # the "true" logits: spread * z
    true_probabilities = softmax(logits[:, :3] * spread)
    labels = np.array([rng.choice(len(LABELS), p=p) for p in true_probabilities])
    extra = [encode(rng.integers(0, 256, (SIZE, SIZE, 3)) * rng.uniform(0.2, 1.0), "PNG") for _ in range(100)]
    kernel, bias = dense.get_weights()
    kernel, bias = kernel * spread * OVERCONFIDENCE, bias * spread * OVERCONFIDENCE
    dense.set_weights([kernel, bias])
    bias[3:] -= np.median(memory_score(_head(built, images)[0], 3))  # the abstention outputs win for half the images
    dense.set_weights([kernel, bias])
    logits, features = _head(built, images)
    fit, held = slice(0, 400), slice(400, 600)
    others = OtherDiagnoses(*_head(built, extra), np.array(list(CODES) * 50))
    trust = fit_trust(logits[fit], features[fit], labels[fit], TrustConfig(), others=others, num_targets=3)
    export_dir = tmp_path_factory.mktemp("trust") / "serving_model"
    export_model(built, LABELS, export_dir, IMAGE_PATH, trust=trust, calibration={"note": "test"})
    return built, trust, export_dir, load_exported(export_dir), images[held], logits[held], features[held], labels[held]


def test_fitting_lowers_the_ece_of_the_overconfident_model(overconfident):
    _, trust, _, _, _, logits, _, labels = overconfident
    before = expected_calibration_error(softmax(logits[:, :3]), labels)
    after = expected_calibration_error(trust.calibrated(logits), labels)
    assert trust.temperature > 2.0
    assert before > 0.1
    assert after < before / 2


def _outputs(loaded, signature, images):
    if signature == "serving_default":
        examples = [tf.train.Example(features=tf.train.Features(feature={
            "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))})).SerializeToString()
            for image in images]
        return loaded.signatures[signature](examples=tf.constant(examples))
    return loaded.signatures[signature](images=tf.constant(images))


@pytest.mark.parametrize("signature", ["predict_images", "gradcam_images", "serving_default"])
def test_every_signature_returns_the_calibrated_target_probabilities_and_the_other_diagnosis_probability(
        overconfident, signature):
    _, trust, _, loaded, images, logits, features, _ = overconfident
    outputs = _outputs(loaded, signature, images)
    expected = trust.calibrated(logits)
    assert outputs["probabilities"].shape == (len(images), 3)  # the targets only
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=2e-4)
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(1), 1.0, atol=1e-5)
    assert np.abs(outputs["probabilities"].numpy() - softmax(logits[:, :3])).max() > 0.05  # not the raw softmax
    np.testing.assert_allclose(outputs["other_diagnosis_probability"], other_diagnosis_probability(logits, 3), atol=1e-4)
    other = outputs["other_diagnosis_probability"].numpy()
    assert (other > 0.5).any() and (other < 0.5).any()  # some images the abstention outputs claim, some not
    np.testing.assert_allclose(outputs["in_scope_score"], trust.in_scope_score(logits, features), atol=1e-2)
    np.testing.assert_array_equal(outputs["prediction_set"], prediction_sets(expected, trust.conformal_quantile))
    np.testing.assert_array_equal(outputs["prediction_set_size"], outputs["prediction_set"].numpy().sum(1))
    assert outputs["out_of_scope"].dtype == tf.bool
    if "predicted_index" in outputs:
        np.testing.assert_array_equal(outputs["predicted_index"], expected.argmax(1))  # a target, never an abstention


def test_the_exported_decision_is_the_numpy_decision(overconfident):
    """Both signals matter here, and the SavedModel ranks them as numpy does: score, flag and which signal fired."""
    _, trust, _, loaded, images, logits, features, _ = overconfident
    novelty, memory = trust.signals(logits, features)
    novelty_rank, memory_rank = trust.decision.ranks(novelty, memory)
    assert (memory_rank > novelty_rank).mean() > 0.2 and (novelty_rank > memory_rank).mean() > 0.2
    score = trust.out_of_scope_score(logits, features)
    exported = loaded.trust.out_of_scope_score(tf.constant(logits, tf.float32), tf.constant(features, tf.float32)).numpy()
    assert (np.abs(exported - score) < 0.5).mean() >= 0.99  # integer ranks; at most a float32 tie differs
    outputs = loaded.signatures["gradcam_images"](images=tf.constant(images))
    flags = trust.out_of_scope(logits, features)
    assert (outputs["out_of_scope"].numpy() == flags).mean() >= 0.99
    other_diagnosis, novel = trust.decision.fired(novelty, memory)
    assert (outputs["out_of_scope_other_diagnosis"].numpy() == other_diagnosis).mean() >= 0.99
    assert (outputs["out_of_scope_novel"].numpy() == novel).mean() >= 0.99
    np.testing.assert_array_equal(outputs["out_of_scope"].numpy(),
                                  outputs["out_of_scope_other_diagnosis"].numpy() | outputs["out_of_scope_novel"].numpy())


@pytest.mark.parametrize("with_memory", [True, False])
def test_the_trust_head_computes_what_numpy_computes(overconfident, with_memory):
    """The decision refitted on half the held images at 80% retention (so it flags some), checked on the rest."""
    built, trust, _, _, _, logits, features, _ = overconfident
    part_b, fresh = slice(0, 100), slice(100, 200)
    head_logits = logits if with_memory else logits[:, :3]
    decision = fit_out_of_scope_decision(trust.distance.distance(features[part_b]),
                                         memory_score(head_logits[part_b], 3) if with_memory else None, 0.8)
    params = dataclasses.replace(trust, decision=decision)
    outputs = TrustHead(params, head_logits.shape[1])(tf.constant(head_logits[fresh], tf.float32),
                                                      tf.constant(features[fresh], tf.float32))
    np.testing.assert_allclose(outputs["in_scope_score"], params.in_scope_score(head_logits[fresh], features[fresh]),
                               atol=1e-2)
    flags = params.out_of_scope(head_logits[fresh], features[fresh])
    assert 0 < flags.sum() < flags.size  # the threshold splits them, so the agreement below can fail
    assert (outputs["out_of_scope"].numpy() == flags).mean() >= 0.99
    assert ("other_diagnosis_probability" in outputs) == with_memory
    if not with_memory:
        assert not outputs["out_of_scope_other_diagnosis"].numpy().any()


def test_gradcam_pixels_carries_the_trust_outputs(overconfident):
    _, _, _, loaded, _, _, _, _ = overconfident
    outputs = loaded.signatures["gradcam_pixels"](pixels=tf.zeros([2, SIZE, SIZE, 3], tf.uint8))
    assert {"probabilities", "other_diagnosis_probability", "in_scope_score", "out_of_scope",
            "out_of_scope_other_diagnosis", "out_of_scope_novel", "prediction_set", "prediction_set_size",
            "gradcam"} <= set(outputs)
    assert outputs["probabilities"].shape == (2, 3)
    assert set(loaded.signatures) == set(SIGNATURES)


def test_calibration_json_and_provenance_are_written_beside_the_model(overconfident):
    _, trust, export_dir, _, _, _, _, _ = overconfident
    calibration = read_export_calibration(export_dir)
    assert calibration["temperature"] == pytest.approx(trust.temperature)
    assert calibration["conformal"]["quantile"] == pytest.approx(trust.conformal_quantile)
    assert calibration["fit"]["ece_after"] < calibration["fit"]["ece_before"]
    assert calibration["out_of_scope"]["signals"] == ["novelty", "memory"]
    assert calibration["out_of_scope"]["flag"]["status"] == "retention"
    assert calibration["fit"]["out_of_scope"]["others"] == 100
    assert calibration["note"] == "test"
    assert read_export_provenance(export_dir)["abstention_codes"] == list(CODES)
    json.dumps(calibration)
