"""The versions of the served model that results were scored by: their facts and their reports.

    versions = ModelVersions(holder)
    versions.facts("20261201T000000Z", labels=["MEL", "NV", "BCC"], has_trust=True)   # ModelFacts
    versions.report_html("20261201T000000Z")     # the version's report.html, written once if missing; None if unknown
    facts, reading = versions.reading(row, labels)   # a results row said for people

A version is looked up beside the served one (``<registry>/<name>/<version>``), and only when its
name is a plain folder name there. Results of a version the registry does not hold still get the
class names (ISIC's table), without a coverage rate.
"""
from __future__ import annotations

import re
import tempfile
import threading
from pathlib import Path

from dermflow.inference.prediction_reading import ModelFacts, PredictionReading, facts_of_export, read_row
from dermflow.isic.class_names import label_names
from dermflow.registry import SAVED_MODEL_DIR, RegisteredModel
from dermflow.serving.served_model import ServedModelHolder

_VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
REPORT_FOLDER, REPORT_FILE = "report", "report.html"


class ModelVersions:
    def __init__(self, holder: ServedModelHolder):
        self.holder = holder
        self._facts: dict[str, ModelFacts] = {}
        self._reports: dict[str, str] = {}
        self._lock = threading.Lock()
        self._report_lock = threading.Lock()

    def registered(self, version: str) -> RegisteredModel | None:
        served = self.holder.served.registered
        if version == served.version:
            return served
        if not _VERSION_NAME.fullmatch(version or ""):
            return None
        folder = served.path.parent / version
        if not (folder / SAVED_MODEL_DIR).is_dir():
            return None
        return RegisteredModel(served.name, version, folder)

    def facts(self, version: str, labels: list[str], has_trust: bool) -> ModelFacts:
        served = self.holder.served
        if version == served.version:
            return served.facts
        with self._lock:
            if version not in self._facts:
                found = self.registered(version)
                self._facts[version] = facts_of_export(found.saved_model_dir) if found else None
            known = self._facts[version]
        return known or ModelFacts(labels, label_names(labels), coverage=None, trust_fitted=has_trust)

    def report_html(self, version: str) -> str | None:
        """The version's report (written by the registry push; made here once when it is missing)."""
        found = self.registered(version)
        if found is None:
            return None
        stored = found.path / REPORT_FOLDER / REPORT_FILE
        if stored.is_file():
            return stored.read_text(encoding="utf-8")
        with self._report_lock:
            if version not in self._reports:
                from dermflow.evaluation.model_report import write_run_report

                with tempfile.TemporaryDirectory() as scratch:
                    self._reports[version] = write_run_report(found.path, Path(scratch)).read_text(encoding="utf-8")
            return self._reports[version]

    def reading(self, row: dict, labels: list[str]) -> tuple[ModelFacts, PredictionReading]:
        """A results row said for people, with the facts (names, coverage) of the version that scored it."""
        facts = self.facts(row["model_version"], labels, row.get("out_of_scope") is not None)
        reading = read_row(facts, row)
        return facts, reading
