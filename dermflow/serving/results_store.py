"""`dermflow score` output folders, read in place with DuckDB: no copy into another store.

    store = ResultsStore(["var/scores"])
    page = store.predictions(ResultsQuery(label="MEL", scope="out", sort="p:MEL", page=0), page_size=50)
    page.rows, page.total, page.counts, page.labels, page.has_trust
    store.errors(ResultsQuery()); store.csv_rows(query); store.heatmap_png(path, model_version, run_id)
    store.rows_for_sha256(digest)          # every scoring of one image, newest first

Every call lists the folders' files again, so a run published while the server is up shows at
once. Values from the request only ever reach SQL as bound parameters, in the order their ``?``
appear in the statement; a sort key is one of the known columns or ``p:<label>`` for a label that
the data holds. The trust columns (``out_of_scope``, ``in_scope_score``, ``prediction_set``,
``prediction_set_size``: docs/trust.md) are listed, filtered and sorted when the files hold them.
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
TRUST_COLUMNS = ("out_of_scope", "in_scope_score", "prediction_set", "prediction_set_size")
# What the pages also say of a row when its file has them (schema 3): the flag's reason, where the Grad-CAM lies.
READING_COLUMNS = ("out_of_scope_reason", "gradcam_in_lesion", "attention_off_lesion")
SORTABLE = {"path", "scored_at", "predicted_probability", "predicted_label", "model_version", "run_id", "scored_date",
            "in_scope_score", "prediction_set_size", "out_of_scope"}
SCOPE_FILTERS = {"out": "out_of_scope", "in": "NOT out_of_scope"}
SET_FILTERS = {"empty": "prediction_set_size = 0", "one": "prediction_set_size = 1", "several": "prediction_set_size > 1"}
# Big columns never listed; anything else the files hold beyond the schema is shown as is.
_NOT_LISTED = {"gradcam", "gradcam_png", "gradcam_shape", "probabilities", "dicom_uid_sha256"}
_KNOWN = {f.name for f in PREDICTIONS_SCHEMA} | set(PREDICTION_PARTITIONS)


@dataclass(frozen=True)
class ResultsQuery:
    label: str | None = None
    model_version: str | None = None
    run_id: str | None = None
    scored_date: str | None = None
    scope: str | None = None  # "out": out of scope only; "in": in scope only
    prediction_set: str | None = None  # "empty", "one" or "several" labels
    sort: str = "predicted_probability"
    descending: bool = True
    page: int = 0


@dataclass
class PredictionsPage:
    rows: list[dict]
    total: int
    counts: dict[str, int]  # predicted label -> rows, under the other filters
    labels: list[str]  # every label some row has a probability for
    extra_columns: list[str]  # columns beyond the schema, listed as they are
    model_versions: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    scored_dates: list[str] = field(default_factory=list)
    has_trust: bool = False  # the files hold the trust columns
    out_of_scope_count: int | None = None  # of the rows the filters keep
    uncertain_count: int | None = None  # of those: prediction set not of exactly one label


class ResultsStore:
    def __init__(self, roots: Iterable[str | Path]):
        self.roots = [Path(root) for root in roots]

    def _files(self, table: str, pattern: str) -> list[str]:
        files: list[str] = []
        for root in self.roots:
            files.extend(sorted(glob.glob(str(root / table / "**" / pattern), recursive=True)))
        return files

    def connect(self, table: str) -> duckdb.DuckDBPyConnection | None:
        """A connection with a view ``predictions`` or ``errors`` over the files now there; None when there are none."""
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
    def _where(query: ResultsQuery, columns: list[str], with_label: bool = True) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for column, value in (
            ("predicted_label", query.label if with_label else None), ("model_version", query.model_version),
            ("run_id", query.run_id), ("scored_date", query.scored_date),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        for value, known, column in ((query.scope, SCOPE_FILTERS, "out_of_scope"),
                                     (query.prediction_set, SET_FILTERS, "prediction_set_size")):
            if not value:
                continue
            if value not in known:
                raise ValueError(f"{value!r} is not a filter here; use one of {sorted(known)}")
            if column not in columns:
                raise ValueError("these results have no trust columns (scored by a model without them)")
            clauses.append(f"coalesce({known[value]}, false)")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    @staticmethod
    def _labels(connection) -> list[str]:
        labels: list[str] = []
        for (keys,) in connection.execute("SELECT DISTINCT map_keys(probabilities) FROM predictions").fetchall():
            labels.extend(key for key in keys if key not in labels)
        return labels

    @staticmethod
    def _columns(connection) -> list[str]:
        return [row[0] for row in connection.execute("DESCRIBE predictions").fetchall()]

    def predictions(self, query: ResultsQuery, page_size: int) -> PredictionsPage:
        connection = self.connect("predictions")
        if connection is None:
            return PredictionsPage([], 0, {}, [], [])
        with connection:
            columns = self._columns(connection)
            extras = [c for c in columns if c not in _KNOWN and c not in _NOT_LISTED]
            labels = self._labels(connection)
            order, order_params = self._order(query, labels, columns)
            where, params = self._where(query, columns)
            trust = [c for c in TRUST_COLUMNS if c in columns]
            read = [c for c in READING_COLUMNS if c in columns]
            selected = ", ".join([*(c for c in LISTED_COLUMNS if c in columns), "probabilities", *trust, *read,
                                  *(f'"{c}"' for c in extras)])
            cursor = connection.execute(
                f"SELECT {selected} FROM predictions{where} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, *order_params, page_size, max(0, query.page) * page_size],
            )
            rows = _dicts(cursor)
            has_trust = len(trust) == len(TRUST_COLUMNS)
            total, out_of_scope, uncertain = connection.execute(
                "SELECT count(*), " + ("count(*) FILTER (WHERE out_of_scope), count(*) FILTER (WHERE prediction_set_size <> 1)"
                                       if has_trust else "NULL, NULL") + f" FROM predictions{where}", params).fetchone()
            label_where, label_params = self._where(query, columns, with_label=False)
            counts = dict(connection.execute(
                f"SELECT predicted_label, count(*) FROM predictions{label_where} GROUP BY 1 ORDER BY 2 DESC, 1", label_params
            ).fetchall())
            distinct = {
                column: [v for (v,) in connection.execute(f"SELECT DISTINCT {column} FROM predictions ORDER BY 1").fetchall()]
                for column in ("model_version", "run_id", "scored_date")
            }
        return PredictionsPage(rows, int(total), counts, labels, extras, distinct["model_version"], distinct["run_id"],
                               distinct["scored_date"], has_trust, out_of_scope, uncertain)

    @staticmethod
    def _order(query: ResultsQuery, labels: list[str], columns: list[str]) -> tuple[str, list[Any]]:
        direction = "DESC" if query.descending else "ASC"
        if query.sort.startswith("p:"):
            label = query.sort[2:]
            if label not in labels:
                raise ValueError(f"no probabilities for label {label!r}; the results hold {labels}")
            return f"probabilities[?] {direction} NULLS LAST, path", [label]
        if query.sort not in SORTABLE or query.sort not in columns:
            raise ValueError(f"cannot sort by {query.sort!r}; sort by one of {sorted(SORTABLE & set(columns))} or p:<label>")
        return f"{query.sort} {direction} NULLS LAST, path", []

    def csv_rows(self, query: ResultsQuery) -> tuple[list[str], list[list[Any]]]:
        """Header and rows of every prediction the filters keep (trust columns, then one probability column per label)."""
        connection = self.connect("predictions")
        if connection is None:
            return list(LISTED_COLUMNS), []
        with connection:
            columns = self._columns(connection)
            labels = self._labels(connection)
            order, order_params = self._order(query, labels, columns)
            where, params = self._where(query, columns)
            trust = [c for c in TRUST_COLUMNS if c in columns]
            selected = [*LISTED_COLUMNS, *(f"array_to_string({c}, ' ')" if c == "prediction_set" else c for c in trust),
                        *("probabilities[?]" for _ in labels)]
            cursor = connection.execute(
                f"SELECT {', '.join(selected)} FROM predictions{where} ORDER BY {order}", [*labels, *params, *order_params],
            )
            rows = [list(values) for values in cursor.fetchall()]
        return [*LISTED_COLUMNS, *trust, *(f"p_{label}" for label in labels)], rows

    def errors(self, query: ResultsQuery, limit: int = 500) -> list[dict]:
        connection = self.connect("errors")
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
        connection = self.connect("predictions")
        if connection is None:
            return None
        with connection:
            found = connection.execute(
                "SELECT gradcam_png FROM predictions WHERE path = ? AND model_version = ? AND run_id = ? LIMIT 1",
                [path, model_version, run_id],
            ).fetchone()
        return bytes(found[0]) if found else None

    def rows_for_sha256(self, sha256: str) -> list[dict]:
        """Every scoring of the image with this digest (any path, version, run), newest first."""
        connection = self.connect("predictions")
        if connection is None:
            return []
        with connection:
            columns = self._columns(connection)
            shown = [c for c in (*TRUST_COLUMNS, *READING_COLUMNS) if c in columns]
            selected = ", ".join([*(c for c in LISTED_COLUMNS if c in columns), "probabilities", *shown])
            cursor = connection.execute(
                f"SELECT {selected} FROM predictions WHERE sha256 = ? ORDER BY scored_at DESC, model_version DESC, path",
                [sha256])
            return _dicts(cursor)


def _dicts(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, values)) for values in cursor.fetchall()]
    for row in rows:
        row["probabilities"] = {str(k): float(v) for k, v in dict(row["probabilities"]).items()}
    return rows
