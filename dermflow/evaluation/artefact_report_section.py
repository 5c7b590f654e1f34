"""The model report's "Artefacts" section: what the ArtefactCheck measured, as a table and before/after pictures.

    html = artefact_section(report, read_picture)   # report: artefact_check.json; read_picture(relative path) -> bytes | None
"""
from __future__ import annotations

import base64
import html

MASS_NOTE = ("Grad-CAM mass in lesion: the share of the heatmap inside the lesion mask (the archive's own mask, else "
             "Otsu on the smoothed, colour-normalised image); median over the images, before (re-encoded, nothing "
             "pasted) and after.")


def artefact_section(report: dict | None, read_picture) -> str:
    """The section's HTML: a one-line verdict, the full reason folded, two tables, the example pictures."""
    if not report:
        return "<h2>Artefacts</h2><p><em>no artefact check for this version</em></p>"
    artefacts = _ordered(report.get("artefacts") or {}, report.get("kinds") or [])
    parts = ["<h2>Artefacts: does the answer change when a ruler, ink or a patch is pasted beside the lesion?</h2>",
             f"<p class='verdict {'pass' if report.get('passed') else 'fail'}'>{html.escape(headline(report, artefacts))}</p>",
             f"<details><summary>The gate's full reason</summary><p>{html.escape(report.get('reason', ''))}</p></details>"]
    if not artefacts:
        return "".join(parts)
    images = ", ".join(f"{name} {count}" for name, count in (report.get("images") or {}).items())
    parts.append(f"<p>Eval-split images per class: {html.escape(images)}. Each artefact is pasted once on every image "
                 f"(seed {report.get('seed')}); a label <em>changes</em> when the predicted class differs from the same "
                 f"image re-encoded without it (re-encoding alone changed {_pct(report.get('reencoded_flip_rate'))}). "
                 f"Median Grad-CAM mass in the lesion on the clean images: {_num(report.get('lesion_mass_clean'))}.</p>")
    parts.append(_summary_table(artefacts, report.get("max_flip_rate")))
    parts.append(_class_table(artefacts, report.get("labels") or []))
    parts.append(f"<p class='note'>{html.escape(MASS_NOTE)}</p>")
    parts.append(_examples(report.get("examples") or {}, read_picture))
    return "".join(parts)


def headline(report: dict, artefacts: dict) -> str:
    """One line a clinician reads first: the verdict and the worst artefacts."""
    if not artefacts:
        return report.get("reason", "")
    rates = sorted(((figures.get("flip_rate") or 0.0, kind) for kind, figures in artefacts.items()), reverse=True)
    worst = ", ".join(f"{kind} {_pct(rate)}" for rate, kind in rates[:3])
    limit = report.get("max_flip_rate")
    if limit is None:
        return f"Measured, not gated: pasted artefacts change up to {_pct(rates[0][0])} of the labels ({worst})."
    failed = [kind for kind, figures in artefacts.items() if not figures.get("passed", True)]
    gated = [kind for kind, figures in artefacts.items() if figures.get("gated", True)]
    if failed:
        failing = ", ".join(f"{kind} {_pct(artefacts[kind].get('flip_rate'))}" for kind in failed)
        return f"Not blessed: {len(failed)} of the {len(gated)} gated artefacts change more than {_pct(limit)} of the labels ({failing})."
    return f"Passed: {', '.join(gated)} each change at most {_pct(limit)} of the labels (largest of all: {worst})."


def _ordered(artefacts: dict, kinds: list[str]) -> dict:
    """The artefacts in the config's order (the JSON file sorts its keys)."""
    return {kind: artefacts[kind] for kind in [*kinds, *sorted(set(artefacts) - set(kinds))] if kind in artefacts}


def _summary_table(artefacts: dict, limit: float | None) -> str:
    rows = []
    for kind, figures in artefacts.items():
        verdict = ("—" if limit is None else "not gated" if not figures.get("gated", True)
                   else "pass" if figures.get("passed") else "FAIL")
        rows.append(f"<tr class='{'' if figures.get('passed', True) else 'failed'}'><td>{html.escape(kind)}</td>"
                    f"<td>{_pct(figures.get('flip_rate'))}</td><td>{_pct(figures.get('max_class_flip_rate'))}</td>"
                    f"<td>{_num(figures.get('lesion_mass_before'))} → {_num(figures.get('lesion_mass_after'))}</td>"
                    f"<td>{verdict}</td></tr>")
    gate = "not gated" if limit is None else f"gate: at most {_pct(limit)}"
    return ("<table class='artefacts'><tr><th>artefact</th><th>labels changed (mean of classes)</th>"
            f"<th>worst class</th><th>Grad-CAM mass in lesion</th><th>{gate}</th></tr>{''.join(rows)}</table>")


def _class_table(artefacts: dict, labels: list[str]) -> str:
    head = "".join(f"<th>Δ p({html.escape(label)})</th>" for label in labels)
    rows = []
    for kind, figures in artefacts.items():
        per_class = figures.get("per_class") or {}
        for name in [*[label for label in labels if label in per_class], *sorted(set(per_class) - set(labels))]:
            c = per_class[name]
            low, high = c.get("flip_rate_interval") or (None, None)
            moved = ", ".join(f"{to} {k}" for to, k in (c.get("flipped_to") or {}).items()) or "—"
            change = c.get("mean_probability_change") or {}
            cells = "".join(f"<td>{_signed(change.get(label))}</td>" for label in labels)
            rows.append(f"<tr><td>{html.escape(kind)}</td><td>{html.escape(name)}</td><td>{c.get('n')}</td>"
                        f"<td>{c.get('flips')} ({_pct(c.get('flip_rate'))}, {_pct(low)}–{_pct(high)})</td>"
                        f"<td>{html.escape(moved)}</td>{cells}"
                        f"<td>{_num(c.get('lesion_mass_before'))} → {_num(c.get('lesion_mass_after'))}</td></tr>")
    return ("<h3>Per artefact and true class</h3><table class='artefacts'><tr><th>artefact</th><th>class</th><th>n</th>"
            f"<th>labels changed (95% interval)</th><th>changed to</th>{head}<th>Grad-CAM mass in lesion</th></tr>"
            f"{''.join(rows)}</table>")


def _examples(examples: dict, read_picture) -> str:
    parts = ["<h3>Examples: the image whose answer moved most, per artefact</h3>"]
    for kind, example in examples.items():
        picture = read_picture(example.get("file", ""))
        if picture is None:
            continue
        before, after = example.get("before", {}), example.get("after", {})
        caption = (f"{kind}: {example.get('image_id')} (true {example.get('true_label')}). "
                   f"Before: {before.get('label')} {_pct(before.get('probability'))}, mass in lesion {_num(before.get('lesion_mass'))}. "
                   f"After: {after.get('label')} {_pct(after.get('probability'))}, mass in lesion {_num(after.get('lesion_mass'))}.")
        encoded = base64.b64encode(picture).decode("ascii")
        heads = "".join(f"<span>{html.escape(text)}</span>" for text in
                        ("image", "its Grad-CAM", f"with {kind.replace('_', ' ')}", "its Grad-CAM"))
        parts.append(f"<figure><div class='tiles'>{heads}</div>"
                     f"<img alt='{html.escape(kind)} before and after' src='data:image/png;base64,{encoded}'>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    return "".join(parts)


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _signed(value) -> str:
    return "n/a" if value is None else f"{value:+.3f}"
