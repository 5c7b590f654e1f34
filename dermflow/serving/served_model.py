"""The model that answers: the version the server started with, or the registry's LATEST as it moves.

    served = ServedModelHolder.start("var/registry", max_pixels=cfg.score.max_image_pixels,
                                     follow_latest=False, follow_interval_s=5.0)
    current = served.current()        # ServedModel: name, version, labels, predictor
    served.reload()                   # look at LATEST now (the token-protected reload call)

Pinned (the default) never looks at LATEST again. With ``follow_latest`` a request looks at
``<registry>/<name>/LATEST`` at most every ``follow_interval_s``; when it names another version,
that request loads it and answers with it, and every later request too. Requests in flight keep
the model they started with, so every response names the version that really answered.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dermflow.inference.lesion_predictor import LesionPredictor
from dermflow.inference.prediction_reading import ModelFacts, facts_of_export
from dermflow.registry import LATEST, RegisteredModel, resolve_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    registered: RegisteredModel
    predictor: LesionPredictor
    facts: ModelFacts  # class names and trust settings, for the words on the pages

    @property
    def name(self) -> str:
        return self.registered.name

    @property
    def version(self) -> str:
        return self.registered.version

    @property
    def labels(self) -> list[str]:
        return list(self.predictor.labels)

    def image_size(self) -> int | None:
        config = self.registered.read_json("config.json")
        size = (config.get("model") or {}).get("image_size")
        return int(size) if size else None


class ServedModelHolder:
    def __init__(self, first: ServedModel, max_pixels: int, follow_latest: bool, follow_interval_s: float):
        self._current = first
        self._max_pixels = max_pixels
        self._follow = follow_latest
        self._interval = follow_interval_s
        self._checked_at = time.monotonic()
        self._lock = threading.Lock()

    @classmethod
    def start(cls, spec: str | Path, max_pixels: int, follow_latest: bool = False, follow_interval_s: float = 5.0) -> "ServedModelHolder":
        registered = resolve_model(spec)
        return cls(_load(registered, max_pixels), max_pixels, follow_latest, follow_interval_s)

    @property
    def follow_latest(self) -> bool:
        return self._follow

    @property
    def served(self) -> ServedModel:
        """The model now served, without looking at LATEST."""
        return self._current

    def current(self) -> ServedModel:
        """The model for a new request (following LATEST when asked to)."""
        if self._follow and time.monotonic() - self._checked_at >= self._interval:
            self.reload()
        return self._current

    def latest_version(self) -> str | None:
        pointer = self._current.registered.path.parent / LATEST
        try:
            return pointer.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def reload(self) -> ServedModel:
        """Loads the version LATEST names if it is not the one served; returns the model now served."""
        with self._lock:
            self._checked_at = time.monotonic()
            latest = self.latest_version()
            if latest and latest != self._current.version:
                registered = resolve_model(self._current.registered.path.parent / latest)
                log.warning("serving model %s version %s (was %s)", registered.name, registered.version, self._current.version)
                self._current = _load(registered, self._max_pixels)
            return self._current


def _load(registered: RegisteredModel, max_pixels: int) -> ServedModel:
    predictor = LesionPredictor.load(registered.saved_model_dir, max_pixels=max_pixels)
    return ServedModel(registered, predictor, facts_of_export(registered.saved_model_dir))
