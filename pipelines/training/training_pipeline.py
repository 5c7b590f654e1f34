"""The retraining pipeline: ingest -> class filter -> validate -> train -> evaluate -> push to the registry.

    pipeline = create_pipeline(cfg)           # a tfx.dsl.Pipeline; Airflow runs one task per node
    result = run_training(cfg)                # runs it here with LocalDagRunner, then reads ML Metadata
    result["pushed"], result["version"], result["reason"], result["metrics"]["isic_balanced_accuracy"]

Node ids are stable (Airflow task ids are made from them): IsicExampleGen, ClassFilter,
StatisticsGen, ImportSchemaGen, ExampleValidator, Trainer, LatestBlessedModelResolver, Evaluator,
ArtefactCheck, RegistryPusher. The RegistryPusher pushes a model that the Evaluator blessed and that
passed the ArtefactCheck (rulers, ink, patches... pasted onto the eval split: docs/trust.md, "Artefacts").
The pipeline root and ML Metadata live where ``cfg.paths`` says; Beam options come from ``cfg.beam``.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from urllib.parse import unquote, urlparse

from tfx import v1 as tfx
from tfx.proto import trainer_pb2

from dermflow.components.artefact_check.component import ArtefactCheck
from dermflow.components.class_filter.component import ClassFilter
from dermflow.components.isic_example_gen.component import IsicExampleGen
from dermflow.components.registry_pusher.component import RegistryPusher
from dermflow.config import DermflowConfig
from dermflow.evaluation.eval_config_builder import build_eval_config
from dermflow.schemas import TRAINING_EXAMPLES_SCHEMA

log = logging.getLogger(__name__)

RUN_FN = "dermflow.pipelines.training.trainer_module.run_fn"
TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"
NODE_IDS = (
    "IsicExampleGen", "ClassFilter", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
    "Trainer", "LatestBlessedModelResolver", "Evaluator", "ArtefactCheck", "RegistryPusher",
)


def _in_process_on_direct_runner(cfg: DermflowConfig) -> list[str]:
    """Beam options for stock components whose DoFns import TFDV when a worker unpickles them.

    TFDV 1.16 imports only after ``tfx`` (which patches ``tfx_bsl.arrow.sql_util``), and a fresh
    multi-process DirectRunner worker unpickles TFDV first, so those stages run in-process there.
    """
    return ["--direct_running_mode=in_memory", "--direct_num_workers=1"] if cfg.beam.runner == "DirectRunner" else []


def create_pipeline(cfg: DermflowConfig) -> tfx.dsl.Pipeline:
    config_json = cfg.to_json()
    example_gen = IsicExampleGen(config_json=config_json).with_id("IsicExampleGen")
    class_filter = ClassFilter(examples=example_gen.outputs["examples"], config_json=config_json).with_id("ClassFilter")
    examples = class_filter.outputs["filtered_examples"]
    statistics_gen = (
        tfx.components.StatisticsGen(examples=examples)
        .with_id("StatisticsGen")
        .with_beam_pipeline_args(_in_process_on_direct_runner(cfg))
    )
    schema_gen = tfx.components.ImportSchemaGen(schema_file=str(TRAINING_EXAMPLES_SCHEMA)).with_id("ImportSchemaGen")
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    ).with_id("ExampleValidator")
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=examples,
        schema=schema_gen.outputs["schema"],
        train_args=trainer_pb2.TrainArgs(splits=[TRAIN_SPLIT]),
        eval_args=trainer_pb2.EvalArgs(splits=[EVAL_SPLIT]),
        custom_config={"config_json": config_json},
    ).with_id("Trainer")
    trainer.add_upstream_node(example_validator)  # train only on data that was validated first
    baseline = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("LatestBlessedModelResolver")
    evaluator = tfx.components.Evaluator(
        examples=examples,
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"],
        schema=schema_gen.outputs["schema"],
        eval_config=build_eval_config(cfg, cfg.labels.label_names()),
        example_splits=[EVAL_SPLIT],
    ).with_id("Evaluator").with_beam_pipeline_args(_in_process_on_direct_runner(cfg))
    artefact_check = ArtefactCheck(
        model=trainer.outputs["model"], examples=examples,
        label_vocabulary=class_filter.outputs["label_vocabulary"], config_json=config_json,
    ).with_id("ArtefactCheck")
    pusher = RegistryPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        evaluation=evaluator.outputs["evaluation"],
        label_vocabulary=class_filter.outputs["label_vocabulary"],
        artefact_report=artefact_check.outputs["artefact_report"],
        model_run=trainer.outputs["model_run"],
        examples=examples,
        config_json=config_json,
    ).with_id("RegistryPusher")
    return tfx.dsl.Pipeline(
        pipeline_name=cfg.pipeline_name,
        pipeline_root=str(cfg.paths.resolved_pipeline_root()),
        metadata_connection_config=metadata_connection_config(cfg),
        components=[
            example_gen, class_filter, statistics_gen, schema_gen, example_validator,
            trainer, baseline, evaluator, artefact_check, pusher,
        ],
        enable_cache=False,
        beam_pipeline_args=cfg.beam.pipeline_args(),
    )


def metadata_connection_config(cfg: DermflowConfig):
    """SQLite at ``paths.metadata_path`` by default; ``paths.metadata_connection`` names a shared MySQL store."""
    connection = cfg.paths.metadata_connection
    if not connection:
        path = cfg.paths.resolved_metadata_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return tfx.orchestration.metadata.sqlite_metadata_connection_config(str(path))
    url = urlparse(connection)
    if url.scheme == "sqlite":
        return tfx.orchestration.metadata.sqlite_metadata_connection_config(unquote(url.path))
    if url.scheme == "mysql":  # no password here: it is read when a connection opens (metadata_password.py)
        return tfx.orchestration.metadata.mysql_metadata_connection_config(
            host=url.hostname or "localhost",
            port=url.port or 3306,
            database=url.path.lstrip("/") or "mlmd",
            username=unquote(url.username or ""),
            password="",
        )
    if url.scheme in ("postgresql", "postgres"):
        raise ValueError(
            f"paths.metadata_connection {connection!r}: ML Metadata 1.17.1's PostgreSQL backend breaks on any string "
            "holding a backslash (it double-quotes PQescapeLiteral's E'...'), which TFX's JSON properties do; "
            "use mysql://USER@HOST:PORT/DB (MariaDB or MySQL) or SQLite on one machine (docs/deployment.md#ml-metadata)"
        )
    raise ValueError(
        f"paths.metadata_connection {connection!r}: ML Metadata supports sqlite:///FILE and mysql://USER@HOST:PORT/DB"
    )


def new_run_id(now: datetime | None = None) -> str:
    return "train-" + (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")


def run_training(cfg: DermflowConfig, run_id: str | None = None) -> dict:
    """Runs the whole pipeline with LocalDagRunner and returns what happened.

    ``{"pushed", "blessed", "version", "model_dir", "metrics", "reason", "report", "run_id", "states"}``.
    A failing component raises; a model that is not blessed is a normal outcome, logged with the
    failed thresholds and their values.
    """
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from dermflow.tfx_runtime.node_runner import build_pipeline_ir
    from dermflow.pipelines.training.training_run_summary import log_outcome, node_summaries, summarize_training
    from dermflow.evaluation.model_report import write_run_report

    if cfg.paths.metadata_connection and urlparse(cfg.paths.metadata_connection).scheme == "mysql":
        # LocalDagRunner opens the store from the compiled pipeline and logs that connection config,
        # so the password would have to sit in both; the Airflow tasks open it themselves (node_runner).
        raise ValueError(
            "dermflow train runs ML Metadata on SQLite; a mysql:// store is used by the Airflow DAGs "
            "(`make cluster-up`, docs/deployment.md#ml-metadata)"
        )
    run_id = run_id or new_run_id()
    cfg.paths.resolved_pipeline_root().mkdir(parents=True, exist_ok=True)
    pipeline_ir = build_pipeline_ir(cfg, run_id, f"{__name__}:create_pipeline")
    LocalDagRunner().run_with_ir(pipeline_ir)
    result = summarize_training(
        node_summaries(pipeline_ir, cfg.paths), pipeline_ir.runtime_spec.pipeline_run_id.field_value.string_value
    )
    if result["pushed"]:
        result["report"] = str(write_run_report(result["model_dir"]))
    log_outcome(result)
    return result
