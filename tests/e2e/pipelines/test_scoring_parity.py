"""Scoring feeds the model what training and TFMA saw: one image path, checked file by file.

For each file, ingest's own Beam DoFn (``EncodeIsicExampleFn``) makes the tf.Example that training
and the Evaluator read, and ``dermflow score`` scores the original file. The test asserts that:
- the bytes scoring hands the model are the tf.Example's ``image`` bytes, so the decoded model input
  is bit-identical;
- the Parquet probabilities equal ``serving_default`` on the tf.Example (TFMA's signature) within
  1e-5, with no predicted label differing.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest
import tensorflow as tf
from PIL import Image

from dermflow.components.isic_example_gen.example_encoder import (
    EncodeIsicExampleFn, EncodeSettings, IngestItem, output_tag, write_work_list,
)
from dermflow.config import DataConfig, load_config
from dermflow.imaging.dicom_reader import encode_dicom
from dermflow.imaging.model_input import ImagePathSettings, decode_and_resize, prepare_image
from dermflow.isic.csv_reader import IsicRecord
from dermflow.synthetic.archive_writer import render_image

pytestmark = pytest.mark.e2e

IMAGE_PATH = ImagePathSettings.from_config(DataConfig())
REAL_IMAGES = 40


def _jpeg(image: Image.Image, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, **save)
    return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _odd_files() -> dict[str, bytes]:
    """Files that ingest shrinks or re-encodes: large, non-square, EXIF-rotated, CMYK, 16-bit, grey, DICOM."""
    lesion = Image.fromarray(render_image("MEL", image_size=1024, seed=5, index=1)[0])
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    grey16 = Image.fromarray((np.asarray(lesion.convert("L"), np.uint16) * 257)[:300, :400], mode="I;16")
    return {
        "large_1024.jpg": _jpeg(lesion),
        "wide_1024x768.jpg": _jpeg(lesion.resize((1024, 768))),
        "small_fitting.jpg": _jpeg(lesion.resize((240, 180))),
        "exif_rotated.jpg": _jpeg(lesion.resize((320, 200)), exif=exif),
        "cmyk.jpg": _jpeg(lesion.resize((300, 300)).convert("CMYK")),
        "grey16.png": _png(grey16),
        "grey.png": _png(lesion.resize((200, 150)).convert("L")),
        "rgb_fitting.png": _png(lesion.resize((256, 256))),
        "slide.dcm": encode_dicom(np.asarray(lesion.resize((400, 300))), "1.2.826.0.1.3680043.8.498.1"),
    }


def _ingested_images(files: list[Path], work_dir: Path) -> dict[str, bytes]:
    """file name -> the ``image`` feature of the tf.Example that ingest writes for it."""
    items = [IngestItem(str(path), IsicRecord(f"ISIC_{i:07d}", "NV"), "train") for i, path in enumerate(files)]
    spans = write_work_list(items, str(work_dir / "work_list.jsonl"))
    encoder = EncodeIsicExampleFn(EncodeSettings(IMAGE_PATH, tuple(load_config().eval.age_buckets)), str(work_dir / "work_list.jsonl"))
    encoder.setup()
    examples = []
    try:
        for span in spans:
            examples += [out.value for out in encoder.process(span) if out.tag == output_tag("train", items[0].span)]
    finally:
        encoder.teardown()
    assert len(examples) == len(files), "ingest rejected a file the parity test expects it to keep"
    images = {}
    for path, serialized in zip(files, examples):
        example = tf.train.Example.FromString(serialized)
        images[path.name] = example.features.feature["image"].bytes_list.value[0]
    return images


def _serving_default(saved_model_dir: Path, images: dict[str, bytes]) -> dict[str, np.ndarray]:
    loaded = tf.saved_model.load(str(saved_model_dir))
    names = sorted(images)
    examples = [
        tf.train.Example(features=tf.train.Features(feature={
            "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[images[name]])),
        })).SerializeToString()
        for name in names
    ]
    probabilities = loaded.signatures["serving_default"](examples=tf.constant(examples))["probabilities"].numpy()
    return dict(zip(names, probabilities))


def _scored(scoring_model, inputs: Path, output: Path) -> dict[str, np.ndarray]:
    from dermflow.pipelines.scoring_pipeline import run_scoring

    cfg = load_config(None, ["beam.direct_running_mode=in_memory", "score.min_batch_size=4", "score.max_batch_size=8",
                             "score.gallery_size=0"])
    summary = run_scoring(cfg, [str(inputs)], scoring_model.spec, output, run_id="parity")
    assert summary["rejected"] == 0 and summary["scored"] == summary["files_given"]
    rows = ds.dataset(output / "predictions", format="parquet", partitioning="hive").to_table().to_pylist()
    labels = scoring_model.labels
    return {Path(row["path"]).name: np.array([dict(row["probabilities"])[label] for label in labels]) for row in rows}


def _check_parity(scoring_model, files: list[Path], tmp_path: Path) -> None:
    ingested = _ingested_images(files, tmp_path)
    for path in files:
        prepared = prepare_image(path.read_bytes(), IMAGE_PATH).data
        assert prepared == ingested[path.name], f"{path.name}: scoring prepares other bytes than ingest stored"
        np.testing.assert_array_equal(
            decode_and_resize(tf.constant(prepared), 48).numpy(), decode_and_resize(tf.constant(ingested[path.name]), 48).numpy()
        )
    evaluated = _serving_default(_saved_model_dir(scoring_model), ingested)
    scored = _scored(scoring_model, files[0].parent, tmp_path / "scores")
    assert sorted(scored) == sorted(evaluated)
    for name in evaluated:
        np.testing.assert_allclose(scored[name], evaluated[name], atol=1e-5, err_msg=name)
        assert scored[name].argmax() == evaluated[name].argmax(), name


def _saved_model_dir(scoring_model) -> Path:
    from dermflow.registry import resolve_model

    return resolve_model(scoring_model.spec).saved_model_dir


def test_odd_and_large_files_reach_the_model_as_ingest_stored_them(scoring_model, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name, data in _odd_files().items():
        (inputs / name).write_bytes(data)
    _check_parity(scoring_model, sorted(inputs.iterdir()), tmp_path)


def test_real_isic_images_reach_the_model_as_ingest_stored_them(scoring_model, isic_dev_root, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for source in sorted((isic_dev_root / "ISIC_2019_Training_Input").glob("*.jpg"))[:REAL_IMAGES]:
        (inputs / source.name).write_bytes(source.read_bytes())
    _check_parity(scoring_model, sorted(inputs.iterdir()), tmp_path)


def test_predict_images_answers_as_scoring_does_for_files_within_max_side(scoring_model):
    loaded = tf.saved_model.load(str(_saved_model_dir(scoring_model)))
    lesion = Image.fromarray(render_image("BCC", image_size=256, seed=3, index=2)[0])
    jpeg, png = _jpeg(lesion), _png(lesion)
    direct = loaded.signatures["predict_images"](images=tf.constant([jpeg, png]))["probabilities"].numpy()
    prepared = [prepare_image(data, IMAGE_PATH).data for data in (jpeg, png)]
    scoring = loaded.signatures["gradcam_images"](images=tf.constant(prepared))["probabilities"].numpy()
    np.testing.assert_array_equal(direct[0], scoring[0])  # a fitting upright JPEG: the same bytes reach the model
    assert direct[1].argmax() == scoring[1].argmax()  # a PNG is re-encoded as JPEG first: only JPEG loss apart
    np.testing.assert_allclose(direct[1], scoring[1], atol=0.05)
