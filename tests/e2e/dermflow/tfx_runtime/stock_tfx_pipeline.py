"""A small real TFX pipeline of stock components, to test the orchestration on its own.

ImportExampleGen (tf.Examples from ``cfg.data.data_root``) -> StatisticsGen -> SchemaGen
-> ExampleValidator. Tests import it as ``stock_tfx_pipeline:create_pipeline``.
"""
from __future__ import annotations

from pathlib import Path

from dermflow.config import DermflowConfig

FACTORY = "stock_tfx_pipeline:create_pipeline"


def write_examples(folder: Path, n: int = 24) -> Path:
    """Writes ``n`` tf.Examples with a float and a string feature to ``folder/data.tfrecord``."""
    import tensorflow as tf

    folder.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(folder / "data.tfrecord")) as writer:
        for i in range(n):
            example = tf.train.Example(features=tf.train.Features(feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)])),
                "kind": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a" if i % 2 else b"b"])),
            }))
            writer.write(example.SerializeToString())
    return folder


def create_pipeline(cfg: DermflowConfig):
    from tfx import v1 as tfx

    example_gen = tfx.components.ImportExampleGen(input_base=str(cfg.data.data_root))
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"])
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    return tfx.dsl.Pipeline(
        pipeline_name=cfg.pipeline_name,
        pipeline_root=str(cfg.paths.resolved_pipeline_root()),
        components=[example_gen, statistics_gen, schema_gen, example_validator],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(cfg.paths.resolved_metadata_path())
        ),
        enable_cache=False,
        beam_pipeline_args=[*cfg.beam.pipeline_args(), "--direct_running_mode=in_memory", "--direct_num_workers=1"],
    )
