"""Where ClassFilter keeps the archive's non-target diagnoses: beside, not inside, the declared splits.

    out_of_scope_split_uri(artifact_uri, "test")             # <artifact uri>/OutOfScope/Split-test
    out_of_scope_patterns(["<uri>/Split-eval/*"])            # ["<uri>/OutOfScope/Split-eval/*"]
    is_out_of_scope_diagnosis("BKL", {"MEL": "MEL", ...})    # True: a real diagnosis, not a target

An out-of-scope example is the ingested tf.Example plus ``label`` = :data:`OUT_OF_SCOPE_LABEL` (-1)
and ``label_name`` = its ISIC code. They live inside the ``filtered_examples`` artifact, under
:data:`OUT_OF_SCOPE_DIR`, outside every ``Split-<name>`` folder the artifact declares, so StatisticsGen,
ExampleValidator, the Trainer's train/eval files and the Evaluator never read them
(docs/ingest.md). The Trainer's calibration reads them to fit and measure the out-of-scope detector
(docs/trust.md). ``UNK`` and empty diagnoses are none of the eight diagnoses and are dropped; ``OTHER``
(a reviewed case whose diagnosis is outside the eight: docs/review.md) is out of scope.
"""
from __future__ import annotations

from dermflow.config import ISIC_DIAGNOSES
from dermflow.isic.csv_reader import OTHER_DIAGNOSIS

OUT_OF_SCOPE_DIR = "OutOfScope"
OUT_OF_SCOPE_LABEL = -1
SPLIT_PREFIX = "Split-"  # TFX's split folder prefix (tfx.types.artifact_utils.get_split_uri)


def is_out_of_scope_diagnosis(code: str, code_to_label: dict[str, str]) -> bool:
    """One of the eight ISIC diagnoses that is not a target, or OTHER (never UNK, empty or unknown)."""
    return (code in ISIC_DIAGNOSES or code == OTHER_DIAGNOSIS) and code not in code_to_label


def out_of_scope_split_uri(artifact_uri: str, split: str) -> str:
    return f"{artifact_uri.rstrip('/')}/{OUT_OF_SCOPE_DIR}/{SPLIT_PREFIX}{split}"


def out_of_scope_patterns(split_patterns: list[str] | tuple[str, ...]) -> list[str]:
    """``<uri>/Split-<s>/<glob>`` -> ``<uri>/OutOfScope/Split-<s>/<glob>`` (patterns as TFX gives the Trainer)."""
    out = []
    for pattern in split_patterns:
        head, sep, tail = pattern.rpartition(f"/{SPLIT_PREFIX}")
        if not sep:
            raise ValueError(f"not a split pattern (no /{SPLIT_PREFIX}<name>): {pattern}")
        out.append(f"{head}/{OUT_OF_SCOPE_DIR}/{SPLIT_PREFIX}{tail}")
    return out
