"""The one typed configuration of dermflow.

Every setting lives in this package, with its default and description (docs/config.md is generated from
it), one module per group of sections. A YAML file (``--config FILE``) overrides the defaults, and
``key.path=value`` overrides (CLI ``--set``, specific CLI flags, DAG params) override the file. Unknown
keys are errors, so a typo never silently falls back to a default.

    cfg = load_config("configs/demo.yaml", ["model.image_size=96", "train.epochs=2"])
"""
from __future__ import annotations

from dermflow.config.config_base import (  # noqa: F401
    ARTEFACT_KIND_NAMES,
    ArtefactKindName,
    BENIGN,
    BESIDE_THE_LESION,
    DEFAULT_MAX_IMAGE_PIXELS,
    ISIC_CLASSES,
    ISIC_DIAGNOSES,
    MALIGNANT,
    Section,
)
from dermflow.config.data_settings import (  # noqa: F401
    DataConfig,
    LabelsConfig,
)
from dermflow.config.training_settings import (  # noqa: F401
    DEFAULT_TRAIN_PRESET,
    EvalConfig,
    ModelConfig,
    TRAIN_PRESETS,
    TrainConfig,
    TrustConfig,
)
from dermflow.config.scoring_settings import (  # noqa: F401
    BeamConfig,
    REFUSED_BEAM_RUNNERS,
    ScoreConfig,
)
from dermflow.config.service_settings import (  # noqa: F401
    AirflowConfig,
    ClusterConfig,
    PathsConfig,
    REVIEW_DATABASE_SCHEMES,
    RetrainConfig,
    ReviewConfig,
    ServeConfig,
    VERDICT_BASES,
    refuse_password_in_url,
)
from dermflow.config.config_loading import (  # noqa: F401
    ConfigError,
    ConfigYamlLoader,
    DermflowConfig,
    apply_overrides,
    load_config,
    parse_override,
    read_config_yaml,
    validation_summary,
)
from dermflow.config.drift_settings import (  # noqa: F401
    CATEGORICAL_FEATURES,
    DriftConfig,
    IMAGE_FEATURES,
    NUMERIC_FEATURES,
)
