"""GPU check: MobileNetV2 training, JPEG decoding and Grad-CAM inference rates, on whatever Keras 3 backend is here.

    python benchmarks/gpu_check.py --require-gpu --weights mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5 --out gpu_check.json
    python benchmarks/gpu_check.py --image-size 32 --alpha 0.35 --batch-size 4 --train-images 8 --decode-images 8  # CPU smoke run

Standalone on purpose: it needs only the ``keras`` wheel, its small dependencies (numpy, h5py,
ml-dtypes, namex, optree, rich, absl-py), Pillow (or OpenCV) and, for the ImageNet weights, the
converted Keras ``.h5`` file (``dermflow weights install`` writes it under ``$KERAS_HOME/models``).
No dermflow, no TensorFlow required: the backend is TensorFlow where it is installed and JAX where
it is not (``--backend`` or ``KERAS_BACKEND`` choose another).

It reports the GPU (``nvidia-smi``), the backend and the versions, then times:

1. training MobileNetV2 (alpha ``--alpha``, ``--image-size`` px, batch ``--batch-size``) with mixed
   precision (``--precision``: ``auto`` is ``mixed_bfloat16`` on a GPU, ``float32`` on CPU) from
   uint8 images already decoded in memory, in images/s (after a warm-up step that compiles);
2. JPEG decoding + resizing to the model input with ``--workers`` processes (default: every core),
   Pillow or OpenCV (``--decoder``), images/s, so the input rate stands beside the model rate;
3. batched inference with Grad-CAM on the last convolutional activation (``out_relu``), images/s.

It writes the figures to ``--out`` (JSON). It exits 3, writing no figures, when a GPU is visible
(``nvidia-smi`` lists one) but the backend sees none or the model's weights are not on it: a
silent CPU fallback must not produce a figure. ``--require-gpu`` exits 2 with one line when no
GPU is visible.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

EXIT_NO_GPU = 2
EXIT_GPU_UNUSED = 3
GRADCAM_LAYER = "out_relu"


class GpuCheckError(RuntimeError):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def choose_backend(requested: str | None) -> str:
    """``--backend``, else ``KERAS_BACKEND``, else TensorFlow where installed, else JAX."""
    if requested:
        return requested
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    return "tensorflow" if importlib.util.find_spec("tensorflow") else "jax"


def visible_gpus() -> list[str]:
    """The GPUs ``nvidia-smi -L`` lists (none when it is absent or fails)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return []
    tool = shutil.which("nvidia-smi")
    if not tool:
        return []
    try:
        listed = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in listed.splitlines() if line.strip().startswith("GPU")]


def backend_gpus(backend: str) -> list[str]:
    if backend == "tensorflow":
        import tensorflow as tf

        return [device.name for device in tf.config.list_logical_devices("GPU")]
    if backend == "jax":
        import jax

        return [str(device) for device in jax.devices() if device.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def check_placement(visible: list[str], seen_by_backend: list[str], weight_device: str, backend: str, require_gpu: bool) -> bool:
    """True when the run is on a GPU; raises when a GPU is required or visible and not used."""
    on_gpu = bool(seen_by_backend) and ("gpu" in weight_device.lower() or "cuda" in weight_device.lower())
    if require_gpu and not visible and not seen_by_backend:
        raise GpuCheckError("gpu_check: --require-gpu, but no GPU is visible here (nvidia-smi lists none and the "
                            f"{backend} backend sees none)", EXIT_NO_GPU)
    if (visible or require_gpu) and not on_gpu:
        raise GpuCheckError(
            f"gpu_check: a GPU is visible ({'; '.join(visible) or 'required'}) but the {backend} backend "
            f"{'sees none' if not seen_by_backend else 'placed the model on ' + weight_device}: refusing to report CPU "
            "figures as GPU figures (install the backend's CUDA build, e.g. jax[cuda12], or check CUDA_VISIBLE_DEVICES)",
            EXIT_GPU_UNUSED,
        )
    return on_gpu


def synthetic_images(count: int, size: int, seed: int = 0):
    """uint8 [count, size, size, 3]: smooth colour blobs (compress like photos, not like noise)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / max(1, size - 1)
    images = np.empty((count, size, size, 3), dtype=np.uint8)
    for index in range(count):
        cy, cx, radius = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.35)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
        base, spot = rng.uniform(150, 230, 3), rng.uniform(40, 120, 3)
        image = base * (1 - blob[..., None]) + spot * blob[..., None] + rng.normal(0, 6, (size, size, 3))
        images[index] = np.clip(image, 0, 255).astype(np.uint8)
    return images


def _encode_jpegs(images, quality: int = 90) -> list[bytes]:
    from PIL import Image

    encoded = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        encoded.append(buffer.getvalue())
    return encoded


def _decode_chunk(args) -> int:
    """Decodes and resizes a list of JPEGs (in a worker process); returns how many."""
    blobs, size, decoder = args
    if decoder == "opencv":
        import cv2
        import numpy as np

        for blob in blobs:
            image = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
            cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    else:
        from PIL import Image

        for blob in blobs:
            with Image.open(io.BytesIO(blob)) as image:
                image.convert("RGB").resize((size, size), Image.BILINEAR)
    return len(blobs)


def time_jpeg_decoding(count: int, source_size: int, size: int, workers: int, decoder: str) -> dict:
    """Decode + resize ``count`` JPEGs of ``source_size`` px with ``workers`` processes."""
    blobs = _encode_jpegs(synthetic_images(min(count, 64), source_size, seed=1))
    blobs = [blobs[i % len(blobs)] for i in range(count)]
    chunks = [blobs[i::workers * 4] for i in range(workers * 4)]
    # spawn: forking a process that runs JAX's or TensorFlow's threads can deadlock.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_decode_chunk, [(chunk[:1], size, decoder) for chunk in chunks[:workers]]))  # start the workers
        start = time.perf_counter()
        done = sum(pool.map(_decode_chunk, [(chunk, size, decoder) for chunk in chunks if chunk]))
        seconds = time.perf_counter() - start
    return {"images": done, "seconds": seconds, "images_per_second": done / seconds, "workers": workers,
            "decoder": decoder, "source_size": source_size, "output_size": size,
            "mean_jpeg_bytes": sum(len(b) for b in blobs) / len(blobs)}


def build_model(keras, size: int, alpha: float, weights: str | None, num_classes: int):
    """uint8 pixels -> [-1, 1] -> MobileNetV2 trunk (``out_relu``) -> pooled softmax head; returns (model, trunk, head)."""
    trunk = keras.applications.MobileNetV2(input_shape=(size, size, 3), include_top=False, weights=weights, alpha=alpha)
    features = keras.Input(trunk.output.shape[1:], name="features")
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    head = keras.Model(features, keras.layers.Dense(num_classes, activation="softmax", dtype="float32")(pooled), name="head")
    pixels = keras.Input((size, size, 3), dtype="uint8", name="pixels")
    scaled = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(pixels)
    model = keras.Model(pixels, head(trunk(scaled)), name="gpu_check_mobilenet_v2")
    return model, trunk, head


def gradcam_fn(keras, backend: str, trunk, head):
    """A compiled batched function uint8 pixels -> (probabilities, heatmaps [N, h, w] in 0..1)."""
    ops = keras.ops

    def finish(conv, grads, probabilities):
        weights = ops.mean(ops.cast(grads, "float32"), axis=(1, 2), keepdims=True)
        cam = ops.relu(ops.sum(weights * ops.cast(conv, "float32"), axis=-1))
        cam = cam / (ops.max(cam, axis=(1, 2), keepdims=True) + 1e-8)
        return probabilities, cam

    def scaled(pixels):
        return ops.cast(pixels, "float32") / 127.5 - 1.0

    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=False)
        def run(pixels):
            conv = trunk(scaled(pixels), training=False)
            with tf.GradientTape() as tape:
                tape.watch(conv)
                probabilities = head(conv, training=False)
                score = tf.reduce_sum(tf.reduce_max(probabilities, axis=-1))
            return finish(conv, tape.gradient(score, conv), probabilities)

        return run
    if backend == "jax":
        import jax

        trunk_state = ([v.value for v in trunk.trainable_variables], [v.value for v in trunk.non_trainable_variables])
        head_state = ([v.value for v in head.trainable_variables], [v.value for v in head.non_trainable_variables])

        @jax.jit
        def run(pixels):
            conv, _ = trunk.stateless_call(*trunk_state, scaled(pixels), training=False)

            def top_score(c):
                probabilities, _ = head.stateless_call(*head_state, c, training=False)
                return jax.numpy.sum(jax.numpy.max(probabilities, axis=-1)), probabilities

            grads, probabilities = jax.grad(top_score, has_aux=True)(conv)
            return finish(conv, grads, probabilities)

        return run
    raise GpuCheckError(f"gpu_check: Grad-CAM is implemented for the tensorflow and jax backends, not {backend}", 4)


def _block(value):
    import numpy as np

    return np.asarray(value[0] if isinstance(value, (tuple, list)) else value)


def time_training(keras, model, images, labels, batch_size: int) -> dict:
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
    model.fit(images[:batch_size], labels[:batch_size], batch_size=batch_size, epochs=1, verbose=0)  # compiles
    start = time.perf_counter()
    model.fit(images, labels, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    return {"images": int(len(images)), "seconds": seconds, "images_per_second": len(images) / seconds,
            "batch_size": batch_size}


def time_gradcam(run, images, batch_size: int) -> dict:
    _block(run(images[:batch_size]))  # compiles
    start = time.perf_counter()
    done = 0
    for first in range(0, len(images) - batch_size + 1, batch_size):
        probabilities, cam = run(images[first:first + batch_size])
        done += batch_size
    _block(cam)
    seconds = time.perf_counter() - start
    return {"images": done, "seconds": seconds, "images_per_second": done / seconds, "batch_size": batch_size,
            "heatmap_shape": list(_block(cam).shape[1:])}


def weight_device(model) -> str:
    value = model.trainable_variables[0].value
    if hasattr(value, "devices"):  # jax
        return ",".join(str(device) for device in value.devices())
    return str(getattr(value, "device", "unknown"))


def versions(backend: str) -> dict:
    import keras
    import numpy

    found = {"python": platform.python_version(), "keras": keras.__version__, "numpy": numpy.__version__}
    for name in ("tensorflow", "jax", "jaxlib", "torch", "PIL", "cv2", "h5py"):
        if importlib.util.find_spec(name):
            module = __import__(name)
            found[name] = getattr(module, "__version__", "?")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"], help="Default: tensorflow if installed, else jax.")
    parser.add_argument("--require-gpu", action="store_true", help="Exit 2 when no GPU is visible.")
    parser.add_argument("--weights", help="Keras .h5 MobileNetV2 weights (no top); default: random (the rates do not depend on them).")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--train-images", type=int, default=8192, help="Decoded images trained on per timed epoch.")
    parser.add_argument("--gradcam-images", type=int, default=0, help="Default: as --train-images.")
    parser.add_argument("--precision", choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"], default="auto")
    parser.add_argument("--decode-images", type=int, default=4096)
    parser.add_argument("--decode-source-size", type=int, default=512, help="Side of the JPEGs decoded (ingest stores at most 512).")
    parser.add_argument("--decoder", choices=["pillow", "opencv"], default="pillow")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="gpu_check.json")
    args = parser.parse_args(argv)

    backend = choose_backend(args.backend)
    os.environ["KERAS_BACKEND"] = backend
    visible = visible_gpus()
    try:
        if args.require_gpu and not visible:
            # Before importing a backend: one clear line, fast.
            raise GpuCheckError("gpu_check: --require-gpu, but no GPU is visible here (nvidia-smi lists none)", EXIT_NO_GPU)
        import keras
        import numpy as np

        seen = backend_gpus(backend)
        precision = args.precision
        if precision == "auto":
            precision = "mixed_bfloat16" if (visible or seen) else "float32"
        keras.config.set_dtype_policy(precision)
        report = {"backend": backend, "visible_gpus": visible, "backend_gpus": seen, "versions": versions(backend),
                  "precision": precision, "alpha": args.alpha, "image_size": args.image_size,
                  "weights": args.weights or "random", "cpu_count": os.cpu_count(), "platform": platform.platform()}
        check_placement(visible, seen, "gpu" if seen else "cpu", backend, args.require_gpu)  # early, before the work

        model, trunk, head = build_model(keras, args.image_size, args.alpha, args.weights, num_classes=8)
        images = synthetic_images(min(args.train_images, 512), args.image_size)
        images = images[np.arange(args.train_images) % len(images)]
        labels = np.arange(args.train_images) % 8
        report["training"] = time_training(keras, model, images, labels, args.batch_size)
        report["model_device"] = weight_device(model)
        report["on_gpu"] = check_placement(visible, seen, report["model_device"], backend, args.require_gpu)
        count = args.gradcam_images or args.train_images
        report["gradcam_inference"] = time_gradcam(gradcam_fn(keras, backend, trunk, head), images[:count], args.batch_size)
        report["jpeg_decoding"] = time_jpeg_decoding(args.decode_images, args.decode_source_size, args.image_size,
                                                     args.workers, args.decoder)
    except GpuCheckError as error:
        print(str(error), file=sys.stderr)
        return error.code
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    train, decode, cam = report["training"], report["jpeg_decoding"], report["gradcam_inference"]
    print(f"gpu_check: {backend} on {'GPU ' + '; '.join(visible or seen) if report['on_gpu'] else 'CPU'} ({precision}): "
          f"training {train['images_per_second']:.0f} img/s at {args.image_size} px, JPEG decoding "
          f"{decode['images_per_second']:.0f} img/s with {decode['workers']} {decode['decoder']} workers, Grad-CAM inference "
          f"{cam['images_per_second']:.0f} img/s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
