"""The abstention outputs' training: which diagnoses get one, and the HOD loss (fine + coarse term)."""
from __future__ import annotations

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from dermflow.config import TrustConfig
from dermflow.pipelines.training.trainer_abstention import (
    HierarchicalOutlierLoss, abstention_codes, out_of_scope_counts, training_loss)
from support.synthetic_training_examples import write_synthetic_out_of_scope


def _loss(loss, labels, probabilities) -> np.ndarray:
    return loss.call(tf.constant(labels), tf.constant(probabilities, tf.float32)).numpy()


def test_the_loss_is_the_fine_cross_entropy_plus_the_weighted_coarse_term():
    probabilities = np.array([[0.5, 0.2, 0.1, 0.15, 0.05], [0.1, 0.1, 0.1, 0.6, 0.1], [0.3, 0.3, 0.2, 0.1, 0.1]])
    labels = np.array([0, 4, 3])
    expected_fine = -np.log([0.5, 0.1, 0.1])
    expected_coarse = -np.log([0.8, 0.7, 0.2])  # the true group's summed probability: targets, others, others
    np.testing.assert_allclose(_loss(HierarchicalOutlierLoss(3, 0.0), labels, probabilities), expected_fine, rtol=1e-5)
    np.testing.assert_allclose(_loss(HierarchicalOutlierLoss(3, 2.0), labels, probabilities),
                               expected_fine + 2.0 * expected_coarse, rtol=1e-5)


def _gradient(weight: float, label: int) -> np.ndarray:
    logits = tf.Variable([[2.0, 2.0, 2.0, 3.0, -1.0]])
    with tf.GradientTape() as tape:
        loss = HierarchicalOutlierLoss(3, weight)(tf.constant([label]), tf.nn.softmax(logits))
    return tape.gradient(loss, logits).numpy()[0]


def test_the_coarse_term_moves_probability_from_the_targets_to_every_abstention_output():
    """Label 4 (an other diagnosis): beside the fine term, the coarse term lowers every target logit and raises
    both abstention logits, the other one (3) too: "another diagnosis" is learnt as a group."""
    coarse = _gradient(1.0, 4) - _gradient(0.0, 4)
    assert (coarse[:3] > 0).all() and (coarse[3:] < 0).all()
    coarse_for_a_target = _gradient(1.0, 0) - _gradient(0.0, 0)
    assert (coarse_for_a_target[:3] < 0).all() and (coarse_for_a_target[3:] > 0).all()


def test_without_abstention_outputs_the_loss_is_the_plain_cross_entropy():
    assert isinstance(training_loss(3, 3, TrustConfig()), keras.losses.SparseCategoricalCrossentropy)
    loss = training_loss(3, 5, TrustConfig(abstention_coarse_weight=0.5))
    assert isinstance(loss, HierarchicalOutlierLoss) and loss.coarse_weight == 0.5
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert (restored.num_targets, restored.coarse_weight) == (3, 0.5)


def test_the_codes_are_those_beside_the_train_split_in_isic_order_less_the_excluded(tmp_path, caplog):
    write_synthetic_out_of_scope(tmp_path, {"train": {"VASC": 2, "BKL": 3, "DF": 1}}, 32)
    train = [str(tmp_path / "Split-train" / "*")]
    assert out_of_scope_counts(train) == {"BKL": 3, "DF": 1, "VASC": 2}
    assert abstention_codes(TrustConfig(abstention="hod"), train) == ("BKL", "DF", "VASC")
    with caplog.at_level(logging.INFO):
        assert abstention_codes(TrustConfig(abstention="hod", abstention_exclude=["DF"]), train) == ("BKL", "VASC")
    assert "['DF'] kept out of training" in caplog.text
    assert abstention_codes(TrustConfig(), train) == ()  # the default, none


def test_an_archive_without_other_diagnoses_trains_the_targets_alone_with_a_note(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        assert abstention_codes(TrustConfig(abstention="hod"), [str(tmp_path / "Split-train" / "*")]) == ()
    assert "no other diagnosis lies beside the train split" in caplog.text


@pytest.mark.parametrize("bad", [["UNK"], ["XYZ"]])
def test_only_isic_diagnoses_can_be_excluded(bad):
    with pytest.raises(ValueError, match="unknown ISIC diagnoses"):
        TrustConfig(abstention_exclude=bad)
