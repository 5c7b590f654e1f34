"""`dermflow score` output folders, read in place with DuckDB: no copy into another store.

    store = ResultsStore(["var/scores"])
    page = store.predictions(ResultsQuery(label="MEL", sort="p:MEL", page=0), page_size=50)
    page.rows, page.total, page.counts, page.labels
    store.errors(ResultsQuery()); store.csv_rows(query); store.heatmap_png(path, model_version, run_id)

Every call lists the folders' files again, so a run published while the server is up shows at
once. Values from the request only ever reach SQL as bound parameters; a sort key is one of the
known columns or ``p:<label>`` for a label that the data holds.
"""
from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import duckdb

from dermflow.schemas.scores_schema import ERRORS_SCHEMA, PREDICTION_PARTITIONS, PREDICTIONS_SCHEMA

LISTED_COLUMNS = (
    "path", "model_name", "model_version", "run_id", "scored_date", "scored_at", "format", "width", "height",
    "sha256", "predicted_label", "predicted_probability",
)
SORTABLE = {"path", "scored_at", "predicted_probability", "predicted_label", "model_version", "run_id", "scored_date"}
# Big columns never listed; anything else the files hold beyond the schema (e.g. trust outputs) is shown as is.
_NOT_LISTED = {"gradcam", "gradcam_png", "gradcam_shape", "probabilities", "dicom_uid_sha256"}
_KNOWN = {f.name for f in PREDICTIONS_SCHEMA} | set(PREDICTION_PARTITIONS)


@dataclass(frozen=True)
class ResultsQuery:
    label: str | None = None
    model_version: str | None = None
    run_id: str | None = None
    scored_date: str | None = None
    sort: str = "predicted_probability"
    descending: bool = True
    page: int = 0


@dataclass
class PredictionsPage:
    rows: list[dict]
    total: int
    counts: dict[str, int]  # predicted label -> rows, under the other filters
    labels: list[str]  # every label some row has a probability for
    extra_columns: list[str]  # columns beyond the schema (e.g. trust outputs), listed as they are
    model_versions: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    scored_dates: list[str] = field(default_factory=list)


class ResultsStore:
    def __init__(self, roots: Iterable[str | Path]):
        self.roots = [Path(root) for root in roots]

    def _files(self, table: str, pattern: str) -> list[str]:
        files: list[str] = []
        for root in self.roots:
            files.extend(sorted(glob.glob(str(root / table / "**" / pattern), recursive=True)))
        return files

    def _connect(self, table: str) -> duckdb.DuckDBPyConnection | None:
        files = self._files(*(("predictions", "*.parquet") if table == "predictions" else ("errors", "*.pq")))
        if not files:
            return None
        connection = duckdb.connect()
        # A view cannot take a bound parameter; the names come from listing the configured folders, quoted here.
        listed = ", ".join("'" + name.replace("'", "''") + "'" for name in files)
        connection.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}], hive_partitioning = true,"
            " hive_types_autocast = false, union_by_name = true)"
        )
        return connection

    @staticmethod
    def _where(query: ResultsQuery, with_label: bool = True) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for column, value in (
            ("predicted_label", query.label if with_label else None), ("model_version", query.model_version),
            ("run_id", query.run_id), ("scored_date", query.scored_date),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _labels(self, connection) -> list[str]:
        labels: list[str] = []
        for (keys,) in connection.execute("SELECT DISTINCT map_keys(probabilities) FROM predictions").fetchall():
            labels.extend(key for key in keys if key not in labels)
        return labels

    def predictions(self, query: ResultsQuery, page_size: int) -> PredictionsPage:
        connection = self._connect("predictions")
        if connection is None:
            return PredictionsPage([], 0, {}, [], [])
        with connection:
            columns = [row[0] for row in connection.execute("DESCRIBE predictions").fetchall()]
            extras = [c for c in columns if c not in _KNOWN and c not in _NOT_LISTED]
            labels = self._labels(connection)
            order, order_params = self._order(query, labels)
            where, params = self._where(query)
            selected = ", ".join([*(c for c in LISTED_COLUMNS if c in columns), "probabilities", *(f'"{c}"' for c in extras)])
            cursor = connection.execute(
                f"SELECT {selected} FROM predictions{where} ORDER BY {order} LIMIT ? OFFSET ?",
                [*order_params, *params, page_size, max(0, query.page) * page_size],
            )
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, values)) for values in cursor.fetchall()]
            total = connection.execute(f"SELECT count(*) FROM predictions{where}", params).fetchone()[0]
            label_where, label_params = self._where(query, with_label=False)
            counts = dict(connection.execute(
                f"SELECT predicted_label, count(*) FROM predictions{label_where} GROUP BY 1 ORDER BY 2 DESC, 1", label_params
            ).fetchall())
            distinct = {
                column: [v for (v,) in connection.execute(f"SELECT DISTINCT {column} FROM predictions ORDER BY 1").fetchall()]
                for column in ("model_version", "run_id", "scored_date")
            }
        for row in rows:
            row["probabilities"] = {str(k): float(v) for k, v in dict(row["probabilities"]).items()}
        return PredictionsPage(rows, int(total), counts, labels, extras, distinct["model_version"], distinct["run_id"], distinct["scored_date"])

    @staticmethod
    def _order(query: ResultsQuery, labels: list[str]) -> tuple[str, list[Any]]:
        direction = "DESC" if query.descending else "ASC"
        if query.sort.startswith("p:"):
            label = query.sort[2:]
            if label not in labels:
                raise ValueError(f"no probabilities for label {label!r}; the results hold {labels}")
            return f"probabilities[?] {direction} NULLS LAST, path", [label]
        if query.sort not in SORTABLE:
            raise ValueError(f"cannot sort by {query.sort!r}; sort by one of {sorted(SORTABLE)} or p:<label>")
        return f"{query.sort} {direction}, path", []

    def csv_rows(self, query: ResultsQuery) -> tuple[list[str], list[list[Any]]]:
        """Header and rows of every prediction the filters keep (one probability column per label)."""
        connection = self._connect("predictions")
        if connection is None:
            return list(LISTED_COLUMNS), []
        with connection:
            labels = self._labels(connection)
            order, order_params = self._order(query, labels)
            where, params = self._where(query)
            probability_columns = ", ".join("probabilities[?]" for _ in labels)
            cursor = connection.execute(
                f"SELECT {', '.join(LISTED_COLUMNS)}{', ' if labels else ''}{probability_columns} FROM predictions{where} ORDER BY {order}",
                [*labels, *order_params, *params],
            )
            rows = [list(values) for values in cursor.fetchall()]
        return [*LISTED_COLUMNS, *(f"p_{label}" for label in labels)], rows

    def errors(self, query: ResultsQuery, limit: int = 500) -> list[dict]:
        connection = self._connect("errors")
        if connection is None:
            return []
        clauses, params = [], []
        for column, value in (("model_version", query.model_version), ("run_id", query.run_id)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        names = [f.name for f in ERRORS_SCHEMA] + ["run_id"]
        with connection:
            cursor = connection.execute(
                f"SELECT {', '.join(names)} FROM errors{where} ORDER BY rejected_at DESC, path LIMIT ?", [*params, limit]
            )
            return [dict(zip(names, values)) for values in cursor.fetchall()]

    def heatmap_png(self, path: str, model_version: str, run_id: str) -> bytes | None:
        """The stored Grad-CAM PNG of one row; None when no such row exists."""
        connection = self._connect("predictions")
        if connection is None:
            return None
        with connection:
            found = connection.execute(
                "SELECT gradcam_png FROM predictions WHERE path = ? AND model_version = ? AND run_id = ? LIMIT 1",
                [path, model_version, run_id],
            ).fetchone()
        return bytes(found[0]) if found else None
