import json

import pytest

from dermflow.weights import WeightsNotFoundError, resolve_backbone_weights, resolve_mobilenet_v2_weights
from dermflow.weights.keras_weights_cache import mobilenet_v2_filename, provenance_path


def _install_fake(keras_home, name, provenance=None):
    models = keras_home / "models"
    models.mkdir(parents=True, exist_ok=True)
    path = models / name
    path.write_bytes(b"weights")
    if provenance is not None:
        provenance_path(path).write_text(json.dumps(provenance))
    return path


def test_imagenet_missing_raises_with_install_instructions(tmp_path):
    with pytest.raises(WeightsNotFoundError) as excinfo:
        resolve_mobilenet_v2_weights("imagenet", alpha=1.0, rows=225, keras_home=tmp_path)
    message = str(excinfo.value)
    assert "dermflow weights install" in message
    assert "make install" in message
    assert "offline" in message
    assert str(tmp_path / "models") in message


def test_imagenet_uses_224_file_for_sizes_keras_does_not_publish(tmp_path):
    installed = _install_fake(tmp_path, mobilenet_v2_filename(1.0, 224, include_top=False), {"preprocessing": "torch"})
    weights = resolve_mobilenet_v2_weights("imagenet", alpha=1.0, rows=225, keras_home=tmp_path)
    assert weights.path == installed
    assert weights.preprocessing == "torch"


def test_imagenet_uses_the_file_of_a_published_size(tmp_path):
    _install_fake(tmp_path, mobilenet_v2_filename(1.0, 224, include_top=False), {"preprocessing": "torch"})
    own = _install_fake(tmp_path, mobilenet_v2_filename(1.0, 160, include_top=False), {"preprocessing": "tf"})
    weights = resolve_mobilenet_v2_weights("imagenet", alpha=1.0, rows=160, keras_home=tmp_path)
    assert weights.path == own
    assert weights.preprocessing == "tf"


def test_include_top_picks_the_with_top_file(tmp_path):
    _install_fake(tmp_path, mobilenet_v2_filename(1.0, 224, include_top=False), {"preprocessing": "torch"})
    with pytest.raises(WeightsNotFoundError):
        resolve_mobilenet_v2_weights("imagenet", alpha=1.0, rows=224, include_top=True, keras_home=tmp_path)


def test_keras_home_defaults_to_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    installed = _install_fake(tmp_path, mobilenet_v2_filename(0.35, 96, include_top=False), {"preprocessing": "torch"})
    assert resolve_mobilenet_v2_weights("imagenet", alpha=0.35, rows=96).path == installed


def test_file_without_provenance_is_keras_own_and_expects_tf_preprocessing(tmp_path):
    _install_fake(tmp_path, mobilenet_v2_filename(1.0, 224, include_top=False))
    assert resolve_mobilenet_v2_weights("imagenet", 1.0, 224, keras_home=tmp_path).preprocessing == "tf"


def test_none_means_random_init_with_torch_preprocessing():
    weights = resolve_mobilenet_v2_weights("none", alpha=1.0, rows=225)
    assert weights.path is None
    assert weights.preprocessing == "torch"


def test_path_setting_reads_provenance_beside_the_file(tmp_path):
    path = _install_fake(tmp_path, "mine.h5", {"preprocessing": "torch", "source": "torchvision"})
    weights = resolve_mobilenet_v2_weights(str(path), alpha=1.0, rows=225)
    assert weights.path == path
    assert weights.preprocessing == "torch"
    assert weights.provenance["source"] == "torchvision"


def test_path_setting_without_provenance_expects_tf_preprocessing(tmp_path):
    path = _install_fake(tmp_path, "mine.h5")
    assert resolve_mobilenet_v2_weights(str(path), alpha=1.0, rows=225).preprocessing == "tf"


def test_missing_path_setting_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="not a file"):
        resolve_mobilenet_v2_weights(str(tmp_path / "absent.h5"), alpha=1.0, rows=225)


def test_missing_other_width_says_offline_install_is_alpha_one_only(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="only alpha 1.0"):
        resolve_mobilenet_v2_weights("imagenet", alpha=0.35, rows=96, keras_home=tmp_path)


@pytest.mark.parametrize("backbone, file_name, preprocessing", [
    ("inception_v3", "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5", "tf"),
    ("vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", "caffe"),
])
def test_keras_application_imagenet_weights_are_keras_own_file(tmp_path, backbone, file_name, preprocessing):
    with pytest.raises(WeightsNotFoundError) as excinfo:
        resolve_backbone_weights(backbone, "imagenet", 1.0, 299, keras_home=tmp_path)
    message = str(excinfo.value)
    assert f"{tmp_path / 'models' / file_name} does not exist" in message
    assert f"keras-applications/{backbone}/{file_name}" in message and "installs MobileNetV2's only" in message
    installed = _install_fake(tmp_path, file_name)
    weights = resolve_backbone_weights(backbone, "imagenet", 1.0, 299, keras_home=tmp_path)
    assert (weights.path, weights.preprocessing) == (installed, preprocessing)


def test_a_keras_application_weights_file_with_provenance_keeps_its_preprocessing(tmp_path):
    path = _install_fake(tmp_path, "vgg19_mine.h5", {"preprocessing": "torch"})
    assert resolve_backbone_weights("vgg19", str(path), 1.0, 224).preprocessing == "torch"
    with pytest.raises(WeightsNotFoundError, match="not a file"):
        resolve_backbone_weights("inception_v3", str(tmp_path / "absent.h5"), 1.0, 299)


def test_every_backbone_resolves_none_and_small_cnn_nothing_else():
    from typing import get_args

    from dermflow.config import ModelConfig

    for backbone in get_args(ModelConfig.model_fields["backbone"].annotation):
        assert resolve_backbone_weights(backbone, "none", 1.0, 224).path is None
    with pytest.raises(WeightsNotFoundError, match="small_cnn"):
        resolve_backbone_weights("small_cnn", "imagenet", 1.0, 224)
