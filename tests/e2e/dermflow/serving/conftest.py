"""A small scoring run of the shared tiny model, and the app over it, for the serving tests."""
from __future__ import annotations

import pytest

from dermflow.config import load_config
from serving_inputs import LOOPBACK_URL, ScoredRun, make_inputs, serve_config


@pytest.fixture(scope="session")
def scored_run(trusted_model, tmp_path_factory) -> ScoredRun:
    """`dermflow score`'s own job over a folder of good and bad files."""
    from dermflow.pipelines.scoring_pipeline import run_scoring

    root = tmp_path_factory.mktemp("serving_scored")
    inputs = root / "inputs"
    good, bad = make_inputs(trusted_model, inputs)
    cfg = load_config(None, ["beam.direct_running_mode=in_memory", "score.min_batch_size=8", "score.max_batch_size=8",
                             "score.gallery_size=0", "score.heatmap_png_size=32"])
    run_scoring(cfg, [str(inputs)], trusted_model.spec, root / "out", run_id="serve-test")
    return ScoredRun(inputs, root / "out", good, bad)


@pytest.fixture(scope="session")
def served_holder(trusted_model):
    """One loaded model shared by the in-process apps (loading it once keeps the tests quick)."""
    from dermflow.serving.served_model import ServedModelHolder

    return ServedModelHolder.start(trusted_model.spec, max_pixels=load_config().score.max_image_pixels)


@pytest.fixture(scope="session")
def client(trusted_model, scored_run, served_holder, tmp_path_factory):
    from fastapi.testclient import TestClient

    from dermflow.serving.app_factory import create_app

    cfg = serve_config(tmp_path_factory.mktemp("serve_client"))
    app = create_app(cfg, trusted_model.spec, [scored_run.output], [scored_run.inputs], holder=served_holder)
    with TestClient(app, base_url=LOOPBACK_URL) as test_client:
        yield test_client
