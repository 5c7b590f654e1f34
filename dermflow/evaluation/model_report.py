"""The report of a pushed model version: PNG pictures and one self-contained ``report.html``.

    write_run_report("var/registry")                     # LATEST of the only model
    write_run_report("var/registry/NAME/VERSION", out)   # -> out/report.html (+ the PNGs)

It opens with the headline figures (balanced accuracy, each class's sensitivity and AUC, the ECE),
each with the split it was measured on, its n, a 95% interval and one sentence on what it means
(:mod:`dermflow.evaluation.headline_figures`). They come from the judged split's predictions
(``eval_predictions.npz``: the fixed test split when the model was judged on one, ``metrics.json``'s
``split``; else the eval split, which also chose the epoch and so flatters a little).

Pictures: the confusion matrix, one-vs-rest ROC curves per class, the reliability diagram of those
(calibrated) probabilities, the training curves (``history.json``) and every version's judged balanced
accuracy over time; a "Trust" table reads ``calibration.json`` (temperature, out-of-scope threshold,
conformal quantile, ECE before/after: docs/trust.md). These files travel inside the version's
``saved_model/assets.extra/``; a picture whose data is missing is left out and the HTML says so; a
figure that is n/a is left out. An "Artefacts" section reads the ArtefactCheck's ``artefact_check/``
(a table per artefact and class, and before/after pictures with their Grad-CAMs).
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

from dermflow.evaluation.headline_figures import Figure, headline_figures  # noqa: E402
from dermflow.isic.class_names import label_names, shown  # noqa: E402
from dermflow.evaluation.artefact_report_section import artefact_section  # noqa: E402
from dermflow.evaluation.artefact_summary import REPORT_FILE as ARTEFACT_REPORT_FILE  # noqa: E402
from dermflow.evaluation.artefact_summary import VERSION_FOLDER as ARTEFACT_CHECK_DIR  # noqa: E402
from dermflow.registry import RegisteredModel, resolve_model  # noqa: E402
from dermflow.trust import expected_calibration_error, reliability_bins  # noqa: E402
from dermflow.evaluation.version_history import plot_version_history, version_history  # noqa: E402
from dermflow.trust.plain_words import TRUST_MEANINGS  # noqa: E402

REPORT_DIR = "report"
REPORT_HTML = "report.html"
CONFUSION_PNG = "confusion_matrix.png"
ROC_PNG = "roc_curves.png"
CURVES_PNG = "training_curves.png"
RELIABILITY_PNG = "reliability_diagram.png"
CALIBRATION_FILE = "calibration.json"
HISTORY_FILE = "history.json"
EVAL_PREDICTIONS_FILE = "eval_predictions.npz"
VERSIONS_PNG = "versions_balanced_accuracy.png"


def write_run_report(model_spec: str | Path, out: str | Path | None = None) -> Path:
    """Writes the pictures and ``report.html`` of a model version; returns the HTML's path."""
    version = resolve_model(model_spec)
    out = Path(out) if out is not None else version.path / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    labels = version.labels
    metrics = version.read_json("metrics.json")
    split, predictions = load_headline_predictions(version, metrics)
    history = load_history(version)
    where = f"{split} split" if split else "eval split"
    pictures: dict[str, Path | None] = {f"Confusion matrix ({where})": None, f"ROC curves, one vs rest ({where})": None,
                                        f"Reliability diagram ({where}, calibrated)": None, "Training curves": None}
    confusion = confusion_from(predictions, metrics, len(labels))
    if confusion is not None:
        pictures[f"Confusion matrix ({where})"] = plot_confusion_matrix(confusion, labels, out / CONFUSION_PNG)
    if predictions is not None and len(predictions["labels"]):
        pictures[f"ROC curves, one vs rest ({where})"] = plot_roc_curves(
            predictions["labels"], predictions["probabilities"], labels, out / ROC_PNG)
        pictures[f"Reliability diagram ({where}, calibrated)"] = plot_reliability(
            predictions["labels"], predictions["probabilities"], out / RELIABILITY_PNG
        )
    if history:
        pictures["Training curves"] = plot_training_curves(history, out / CURVES_PNG)
    pictures["Balanced accuracy per version, over time"] = plot_version_history(version_history(version), out / VERSIONS_PNG)
    figures = [] if predictions is None else headline_figures(
        predictions["labels"], predictions["probabilities"], labels, split, label_names(labels))
    report = out / REPORT_HTML
    report.write_text(render_html(version, metrics, pictures, figures), encoding="utf-8")
    return report


def load_headline_predictions(version: RegisteredModel, metrics: dict) -> tuple[str | None, dict[str, np.ndarray] | None]:
    """(the judged split, its predictions) from ``eval_predictions.npz``; (None, None) without them."""
    predictions = load_eval_predictions(version)
    return (None, None) if predictions is None else (metrics.get("split", "eval"), predictions)


def load_eval_predictions(version: RegisteredModel) -> dict[str, np.ndarray] | None:
    path = _find(version, EVAL_PREDICTIONS_FILE)
    if path is None:
        return None
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def load_artefact_report(version: RegisteredModel) -> dict | None:
    path = _find(version, f"{ARTEFACT_CHECK_DIR}/{ARTEFACT_REPORT_FILE}")
    return json.loads(path.read_text(encoding="utf-8")) if path else None


def _read_artefact_file(version: RegisteredModel, name: str) -> bytes | None:
    path = _find(version, f"{ARTEFACT_CHECK_DIR}/{name}") if name and ".." not in name else None
    return path.read_bytes() if path else None


def load_history(version: RegisteredModel) -> list[dict]:
    path = _find(version, HISTORY_FILE)
    return json.loads(path.read_text(encoding="utf-8")) if path else []


def _find(version: RegisteredModel, name: str) -> Path | None:
    for candidate in (version.path / name, version.saved_model_dir / "assets.extra" / name):
        if candidate.is_file():
            return candidate
    return None


def confusion_from(predictions: dict | None, metrics: dict, num_classes: int) -> np.ndarray | None:
    """From the predictions when there are any, else from the Evaluator's confusion matrix."""
    if predictions is not None and len(predictions["labels"]):
        matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
        np.add.at(matrix, (predictions["labels"], predictions["probabilities"].argmax(axis=1)), 1)
        return matrix
    stored = (metrics.get("confusion_matrix") or {}).get("rows_true_columns_predicted")
    return np.asarray(stored, dtype=np.float64) if stored else None


def plot_confusion_matrix(matrix: np.ndarray, labels: list[str], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2.5, 1.2 * len(labels) + 2))
    row_totals = matrix.sum(axis=1, keepdims=True)
    recall = np.divide(matrix, row_totals, out=np.zeros_like(matrix, dtype=float), where=row_totals > 0)
    ax.imshow(recall, cmap="Blues", vmin=0.0, vmax=1.0)
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(col, row, f"{count:g}\n{recall[row, col]:.0%}", ha="center", va="center",
                color="white" if recall[row, col] > 0.6 else "black", fontsize=9)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted (argmax)")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (row %: recall)")
    return _save(fig, path)


def plot_roc_curves(labels: np.ndarray, probabilities: np.ndarray, names: list[str], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for class_id, name in enumerate(names):
        positives = labels == class_id
        if positives.all() or not positives.any():
            continue  # ROC needs both positives and negatives
        fpr, tpr, _ = roc_curve(positives, probabilities[:, class_id])
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(positives, probabilities[:, class_id]):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("false positive rate (1 - specificity)")
    ax.set_ylabel("true positive rate (sensitivity)")
    ax.set_title("ROC, one class vs the rest")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_reliability(labels: np.ndarray, probabilities: np.ndarray, path: Path, bins: int = 15) -> Path:
    """Accuracy against mean confidence per confidence bin (bar width: the bin); the diagonal is perfect."""
    rows = reliability_bins(probabilities, labels, bins)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.bar([r["lower"] for r in rows], [r["accuracy"] for r in rows], width=1 / bins, align="edge",
           edgecolor="black", alpha=0.7, label="accuracy")
    ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o", color="black", label="mean confidence")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ece = expected_calibration_error(probabilities, labels, bins)
    ax.set_title(f"Reliability, top label (ECE {ece:.3f}, {len(labels)} images)")
    ax.set_xlabel("confidence (max probability)")
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left")
    return _save(fig, path)


def plot_training_curves(history: list[dict], path: Path) -> Path:
    epochs = np.arange(1, len(history) + 1)
    fig, (loss_ax, score_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax in (("loss", loss_ax), ("val_loss", loss_ax), ("accuracy", score_ax),
                    ("val_accuracy", score_ax), ("val_balanced_accuracy", score_ax)):
        values = [row.get(key) for row in history]
        if any(value is not None for value in values):
            ax.plot(epochs, [np.nan if value is None else value for value in values], marker="o", label=key)
    phases = [row.get("phase") for row in history]
    for index in range(1, len(phases)):
        if phases[index] != phases[index - 1]:
            for ax in (loss_ax, score_ax):
                ax.axvline(index + 0.5, color="grey", linestyle="--", linewidth=1)
    loss_ax.set_title("loss")
    score_ax.set_title("accuracy and ISIC balanced accuracy")
    score_ax.set_ylim(0, 1)
    for ax in (loss_ax, score_ax):
        ax.set_xlabel("epoch (dashed: fine-tuning starts)")
        ax.legend()
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def render_html(version: RegisteredModel, metrics: dict, pictures: dict[str, Path | None], figures: list[Figure] = ()) -> str:
    overall = metrics.get("overall", {})
    provenance = version.read_json("provenance.json")
    names = label_names(version.labels)
    sections = [
        f"<h1>{html.escape(version.name)} &middot; version {html.escape(version.version)}</h1>",
        "<p>Research use only: not a diagnosis. Each figure below was measured on images the model did not train on; "
        "the interval is where the figure would likely fall on another sample of such images.</p>",
        "<h2>How well it does</h2>", _figures_table(figures),
    ]
    reviewed = (metrics.get("reviewed_slice") or {}).get("overall")
    if reviewed:  # the held-out reviewed cases, beside the judged split (docs/training.md#continuous-training)
        sections += ["<h2>Reviewed slice (the hospital's held-out reviewed cases; not gated)</h2>",
                     _table(["metric", "value"], [[k, _fmt(v)] for k, v in reviewed.items() if k != "per_class"])]
    calibration = version.read_json(CALIBRATION_FILE)
    if calibration:
        sections += ["<h2>Trust: calibration, out of scope, prediction sets</h2>", *_flag_warning(calibration),
                     _trust_table(calibration)]
    sections.append(artefact_section(load_artefact_report(version), lambda name: _read_artefact_file(version, name)))
    for title, picture in pictures.items():
        sections.append(f"<h2>{html.escape(title)}</h2>")
        sections.append(_image(picture) if picture else "<p><em>not available for this version</em></p>")
    evaluator_rows = [[name, _fmt(value)] for name, value in overall.items() if name != "per_class" and value is not None]
    if evaluator_rows:
        sections += ["<h2>All Evaluator metrics (eval split)</h2>", _table(["metric", "value"], evaluator_rows)]
    if overall.get("per_class"):
        sections += ["<h2>Per class (eval split, Evaluator)</h2>", _per_class_table(overall["per_class"], names)]
    slices = metrics.get("slices", {})
    if slices:
        keys = ["example_count", "accuracy", "isic_balanced_accuracy"]
        sections += ["<h2>Slices (eval split)</h2>", _table(["slice"] + keys, [[name] + [_fmt(values.get(k)) for k in keys] for name, values in slices.items()])]
    sections += ["<h2>Provenance</h2>", f"<pre>{html.escape(json.dumps(provenance, indent=2, sort_keys=True))}</pre>"]
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;line-height:1.4}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top}th{background:#f3f3f3}"
             "td.words,th.words,td:first-child{text-align:left}img{max-width:100%}"
             ".verdict{font-weight:bold;padding:6px}.verdict.pass{background:#e6f4e6}.verdict.fail{background:#fbe3e3}"
             "tr.failed td{background:#fbe3e3}figure{margin:1em 0}figcaption{font-size:90%;color:#333}"
             ".tiles{display:flex;width:800px}.tiles span{width:200px;text-align:center;font-size:85%;color:#555}"
             "table.artefacts td:nth-child(-n+2){text-align:left}")
    title = html.escape(f"{version.name} {version.version}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head><body>{''.join(sections)}</body></html>\n"


def _flag_warning(calibration: dict) -> list[str]:
    """A warning paragraph when the out-of-scope flag cannot keep its retention (too few held-out images)."""
    scope = calibration.get("out_of_scope") or {}
    flag = scope.get("flag") or {}
    if not (calibration.get("fit") or {}).get("fitted") or flag.get("status", "retention") == "retention":
        return []
    return [f"<p class='warning'><b>The out-of-scope flag cannot keep {_fmt(scope.get('in_scope_retention'))} of "
            f"in-scope images</b>: {html.escape(str(flag.get('promise', '')))}.</p>"]


def _figures_table(figures: list[Figure]) -> str:
    if not figures:
        return "<p><em>not available for this version: it carries no predictions of a held-out split</em></p>"
    split = figures[0].split
    note = (" The eval split also chose the training epoch, so these figures flatter the model a little; "
            "a model trained with a test split is measured on that." if split == "eval" else "")
    rows = [[figure.name, f"{figure.value:.3f}", f"{figure.low:.3f} to {figure.high:.3f}", figure.split, str(figure.n),
             figure.method, figure.meaning] for figure in figures]
    head = "".join(f"<th class='words'>{html.escape(c)}</th>" if c in ("figure", "what it means") else f"<th>{html.escape(c)}</th>"
                   for c in ["figure", "value", "95% interval", "split", "n", "interval", "what it means"])
    body = "".join("<tr>" + "".join(f"<td class='words'>{html.escape(c)}</td>" if i in (0, 6) else f"<td>{html.escape(c)}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return (f"<p>Measured on the {html.escape(split)} split ({figures[0].n} images).{note}</p>"
            f"<table id='headline-figures'><tr>{head}</tr>{body}</table>")


def _trust_table(calibration: dict) -> str:
    fit = calibration.get("fit", {})
    evaluation = calibration.get("evaluation", {})
    scope = calibration.get("out_of_scope", {})
    conformal = calibration.get("conformal", {})
    others = evaluation.get("out_of_scope", {})  # the eval split's other diagnoses against its targets
    abstention = calibration.get("abstention") or {}
    flag = scope.get("flag") or {}
    flagged_by = others.get("other_flagged_by") or {}
    rows = [
        ["temperature", _fmt(calibration.get("temperature"))],
        ["fitted on", (f"{fit['split']} split" + (f", sizes {fit['sizes']}" if fit.get("sizes") else "")) if fit.get("split") else "n/a"],
        ["top-label ECE before / after (fit part B)", f"{_fmt(fit.get('ece_before'))} / {_fmt(fit.get('ece_after'))}"],
        ["top-label ECE before / after (evaluation)", f"{_fmt(evaluation.get('ece_before'))} / {_fmt(evaluation.get('ece_after'))}"],
        ["class-wise ECE after (evaluation)", _fmt(evaluation.get("classwise_ece_after"))],
        ["abstention outputs (trained on)", f"{abstention.get('method', 'n/a')}: {', '.join(abstention.get('codes') or []) or 'none'}"
                                            + (f" ({abstention['note']})" if abstention.get("note") else "")],
        ["out-of-scope signals", ", ".join(scope.get("signals") or []) or "n/a"],
        ["in-scope retention / decision threshold", f"{_fmt(scope.get('in_scope_retention'))} / {_fmt(scope.get('decision_threshold'))}"],
        ["out-of-scope flag", f"{flag.get('status', 'n/a')}: {flag.get('promise', '')}"],
        ["in-scope images flagged (evaluation)", _fmt(evaluation.get("in_scope_flag_rate"))],
        ["out-of-scope AUROC, decision / max softmax (evaluation)",
         f"{_fmt(others.get('auroc'))} / {_fmt(others.get('auroc_max_softmax'))}"],
        ["out-of-scope AUROC, novelty / memory alone (evaluation)",
         f"{_fmt(others.get('auroc_novelty'))} / {_fmt(others.get('auroc_memory'))}"],
        ["other diagnoses flagged (evaluation): all / by memory / by novelty",
         f"{_fmt(others.get('other_flag_rate'))} / {_fmt(flagged_by.get('memory'))} / {_fmt(flagged_by.get('novelty'))}"],
        ["conformal coverage target / quantile", f"{_fmt(conformal.get('coverage'))} / {_fmt(conformal.get('quantile'))}"],
        ["coverage / mean set size / committed (evaluation)",
         f"{_fmt(evaluation.get('coverage'))} / {_fmt(evaluation.get('mean_set_size'))} / {_fmt(evaluation.get('committed_share'))}"],
        ["shared split", str(calibration.get("shared_split", MISSING))],
    ]
    meanings = {
        "temperature": "Probabilities are divided by it before the softmax: above 1, the model was over-confident.",
        "top-label ECE before / after (evaluation)": TRUST_MEANINGS["ece"],
        "in-scope images flagged (evaluation)": TRUST_MEANINGS["in_scope_flag_rate"],
        "out-of-scope AUROC, detector / max softmax (evaluation)": TRUST_MEANINGS["out_of_scope_auroc"],
        "other diagnoses flagged (evaluation)": TRUST_MEANINGS["other_flag_rate"],
        "conformal coverage target / quantile": "The prediction set is built to hold the true diagnosis this often.",
        "coverage / mean set size / committed (evaluation)": TRUST_MEANINGS["coverage"]
        + " Committed: the share of images whose set is exactly one class.",
    }
    kept = [[name, value, meanings.get(name, "")] for name, value in rows if not _only_missing(value)]
    return _table(["", "value", "what it means"], kept, words=(2,))


def _only_missing(value: str) -> bool:
    """``–``, ``– / –``, ``None``: nothing to show."""
    return not value.replace(MISSING, "").replace("n/a", "").replace("None", "").replace("/", "").replace(",", "").strip()


def _per_class_table(per_class: dict, names: dict[str, str]) -> str:
    columns = sorted({key for values in per_class.values() for key in values if values.get(key) is not None})
    return _table(["class"] + columns,
                  [[shown(name, names)] + [_fmt(values.get(c)) for c in columns] for name, values in per_class.items()])


def _table(header: list[str], rows: list[list[str]], words: tuple[int, ...] = ()) -> str:
    """An HTML table; the columns in ``words`` are text (left-aligned), the others figures."""
    def cell(tag: str, index: int, value) -> str:
        return f"<{tag}{' class=words' if index in words else ''}>{html.escape(str(value))}</{tag}>"

    head = "".join(cell("th", i, value) for i, value in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, value) for i, value in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(path: Path) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img alt='{html.escape(path.stem)}' src='data:image/png;base64,{encoded}'>"


MISSING = "–"  # a value not measured for this version (a row of nothing but these is left out)


def _fmt(value) -> str:
    if value is None:
        return MISSING
    return f"{value:.4f}" if isinstance(value, float) else str(value)
