"""benchmarks/gpu_check.py in its CPU mode at tiny sizes, and its refusals when a GPU is required or visible but unused."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "gpu_check.py"
TINY = ["--image-size", "32", "--alpha", "0.35", "--batch-size", "4", "--train-images", "8",
        "--decode-images", "8", "--decode-source-size", "64", "--workers", "2"]


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args, env=None):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": "", **(env or {})})


def test_cpu_mode_times_training_decoding_and_gradcam_and_writes_json(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = _run(*TINY, "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["backend"] == "tensorflow" and report["on_gpu"] is False and report["precision"] == "float32"
    assert report["versions"]["keras"].startswith("3.")
    assert report["training"]["images"] == 8 and report["training"]["images_per_second"] > 0
    assert report["jpeg_decoding"]["images"] == 8 and report["jpeg_decoding"]["workers"] == 2
    assert report["gradcam_inference"]["images"] == 8 and report["gradcam_inference"]["heatmap_shape"] == [1, 1]
    assert "CPU" in done.stdout


def test_require_gpu_without_one_exits_non_zero_with_one_line(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = _run(*TINY, "--require-gpu", "--out", str(out))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--require-gpu, but no GPU is visible" in done.stderr
    assert not out.exists()


def test_a_visible_gpu_the_backend_does_not_use_is_refused():
    gpu_check = _load()
    with pytest.raises(gpu_check.GpuCheckError, match="visible .* but the jax backend sees none") as refused:
        gpu_check.check_placement(["GPU 0: NVIDIA H200"], [], "cpu", "jax", require_gpu=False)
    assert refused.value.code == gpu_check.EXIT_GPU_UNUSED
    with pytest.raises(gpu_check.GpuCheckError, match="placed the model on TFRT_CPU_0"):
        gpu_check.check_placement(["GPU 0: NVIDIA H200"], ["cuda:0"], "TFRT_CPU_0", "jax", require_gpu=False)
    assert gpu_check.check_placement(["GPU 0: NVIDIA H200"], ["cuda:0"], "cuda:0", "jax", require_gpu=True) is True
    assert gpu_check.check_placement([], [], "cpu", "tensorflow", require_gpu=False) is False
