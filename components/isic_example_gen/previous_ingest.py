"""The resolver strategy that hands IsicExampleGen its previous output: the newest Examples, or none at all.

    Resolver(strategy_class=LatestIngestStrategy,
             examples=Channel(type=Examples, producer_component_id="IsicExampleGen", output_key="examples"))

TFX's ``LatestArtifactStrategy`` fails its node when there is no artifact yet (a pipeline's first
run); this one resolves to an empty list then, so the ingest simply starts from nothing.
"""
from __future__ import annotations

from tfx import types
from tfx.dsl.components.common import resolver


class LatestIngestStrategy(resolver.ResolverStrategy):
    """The newest artifact (highest id) of each channel, or none."""

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]) -> dict[str, list[types.Artifact]]:
        return {key: sorted(artifacts, key=lambda a: a.id)[-1:] for key, artifacts in input_dict.items()}
