"""The installed ImageNet weights really are ImageNet weights: real photos get the right classes."""
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import skimage.data
from PIL import Image

from dermflow.weights import ImageNetPreprocessing, install_imagenet_weights, resolve_mobilenet_v2_weights
from dermflow.weights.imagenet_weights_installer import TORCHVISION_CHECKPOINT_SHA256, fetch_torchvision_checkpoint
from dermflow.weights.keras_weights_cache import default_keras_home, file_sha256, provenance_path

pytestmark = pytest.mark.e2e

SIZE = 225  # 32k+1: Keras's and torch's stride-2 padding agree
CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {967, 968, 504}  # espresso, cup, coffee mug


@pytest.fixture(scope="module")
def project_keras_home():
    """The project's KERAS_HOME (the Makefile's var/keras), installed into if needed: idempotent."""
    install_imagenet_weights(rows=[224])
    return default_keras_home()


@pytest.fixture(scope="module")
def classifier(project_keras_home):
    weights = resolve_mobilenet_v2_weights("imagenet", alpha=1.0, rows=SIZE, include_top=True)
    inputs = keras.Input((SIZE, SIZE, 3))
    backbone = keras.applications.MobileNetV2(
        input_shape=(SIZE, SIZE, 3), alpha=1.0, include_top=True, weights=str(weights.path)
    )
    return keras.Model(inputs, backbone(ImageNetPreprocessing(weights.preprocessing)(inputs)))


def _top5(model, photo):
    pixels = np.asarray(Image.fromarray(photo).resize((SIZE, SIZE), Image.BILINEAR), np.float32)[None]
    probabilities = keras.ops.convert_to_numpy(model(pixels))[0]
    return [int(i) for i in np.argsort(-probabilities)[:5]]


def test_chelsea_is_a_cat_at_top1(classifier):
    assert _top5(classifier, skimage.data.chelsea())[0] in CATS


def test_coffee_is_espresso_cup_or_mug_in_top5(classifier):
    assert COFFEE & set(_top5(classifier, skimage.data.coffee()))


@pytest.fixture(scope="module")
def torchvision_checkpoint(project_keras_home):
    return fetch_torchvision_checkpoint(project_keras_home / "cache" / "dermflow")


def test_offline_conversion_writes_provenance_and_keras_finds_the_files(tmp_path, torchvision_checkpoint):
    paths = install_imagenet_weights(rows=[160], source="torchvision", checkpoint=torchvision_checkpoint, keras_home=tmp_path)
    for path in paths:
        provenance = json.loads(provenance_path(path).read_text())
        assert provenance["source"] == "torchvision"
        assert provenance["preprocessing"] == "torch"
        assert provenance["source_sha256"] == TORCHVISION_CHECKPOINT_SHA256
        assert provenance["sha256"] == file_sha256(path)
        assert provenance["date"]
    # Keras's own weights="imagenet" loads them from $KERAS_HOME/models without any network.
    script = (
        "import keras; m = keras.applications.MobileNetV2(input_shape=(160, 160, 3), weights='imagenet'); "
        "print(float(m.get_layer('predictions').get_weights()[1][0]))"
    )
    env = {**os.environ, "KERAS_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.split()[-1]) != 0.0
