"""Tables and plots rendered from result dicts (the JSON), never computed here."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from art_activation_defenses._plotting import finish_figure, legend_entries

__all__ = [
    "figure_folder",
    "save_figure",
    "figure_entry",
    "finish_axes",
    "format_value",
    "markdown_table",
    "write_csv",
    "render_demo_markdown",
    "plot_kappa_tradeoff",
    "render_results_markdown",
    "write_tables_csv",
    "render_claims_markdown",
]


def format_value(value: Any, *, warn: bool = False) -> str:
    """Format one cell: floats with 3 decimals, None/NaN as a dash, booleans as yes/no
    (``warn=True``: a true value is a warning, "⚠ yes")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return ("⚠ yes" if warn else "yes") if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` with ``(key, header)`` columns; boolean
    columns whose key ends in ``flag`` are warnings."""
    lines = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append(
            "| " + " | ".join(format_value(row.get(k), warn=k.endswith("flag")) for k, _ in columns) + " |"
        )
    return "\n".join(lines) + "\n"


def write_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str], path: str | os.PathLike[str]) -> Path:
    """Write ``rows`` (the given columns) as CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c) for c in columns})
    return path


def render_demo_markdown(results: dict[str, Any], columns: Sequence[tuple[str, str]]) -> str:
    """The demo's report: settings, the table, and what the masking flag means."""
    cfg = results["config"]
    flagged = [r for r in results["rows"] if r.get("masking_flag")]
    parts = [
        "# JumpReLU retrofit demo\n",
        f"Data: {results['dataset_note']} Model: {results['model']}, trained {cfg['epochs']} epochs "
        f"(test accuracy on the full split {results['test_accuracy_full_split']:.3f}). "
        f"Attacked: the first {cfg['n_eval']} test images.\n",
        f"PGD: L∞ ε={cfg['eps']}, {cfg['pgd_steps']} steps of ε/4 (the audit's seeded PGD, "
        "`evaluation.audit_cell`). DeepFool: ours (batched, 10 candidate classes), L2, overshoot 0.02, "
        f"{cfg['deepfool_max_iter']} iterations (`evaluation.tune_kappa`); the fool rate is the share of "
        "the correctly classified images it fools and ρ the mean of ‖δ‖₂/‖x‖₂ over those.\n",
        "Adaptive checks beside the white-box number: *BPDA* takes gradients through plain ReLU "
        "while predicting with JumpReLU; *gray-box* evaluates on JumpReLU the examples crafted on "
        "the ReLU model. A row is flagged when one of them beats white-box PGD by more than "
        f"{cfg['masking_margin']:.2f} accuracy and an exact McNemar test on the paired per-image "
        "outcomes gives p < 0.05: its white-box number overstates robustness.\n",
        _column_notes(results.get("columns") or {}, columns),
        markdown_table(results["rows"], columns),
    ]
    if flagged:
        parts.append(
            "\n**Gradient masking suspected** for κ ∈ {"
            + ", ".join(format_value(r["kappa"]) for r in flagged)
            + "}: report the adaptive accuracy, not the white-box one.\n"
        )
    tuning = results.get("tuning") or {}
    if tuning:
        chosen = tuning.get("chosen")
        rules = {"min": "worst case of the white-box and BPDA", "bpda": "BPDA"}
        rule = rules.get(str(tuning.get("select_by")), "")
        parts.append(
            "\n`tune_kappa`'s choice: "
            + ("none" if chosen is None else f"κ = {format_value(float(chosen))}")
            + f" (the largest {rule or 'white-box'} DeepFool-L2 ρ among the κ within "
            f"{float(tuning.get('max_accuracy_drop', 0.0)):g} of the ReLU accuracy).\n"
        )
    env = results.get("environment") or {}
    threads = cfg.get("threads", env.get("torch_threads"))
    parts.append(
        f"\nWall time {results['wall_seconds']:.1f} s, {threads} torch thread(s), seed {cfg.get('seed')}. "
        "Reproducible means: the same seed, thread count and library versions give identical numbers; "
        "another thread count changes the floating-point summation order and can move them slightly.\n"
    )
    return "\n".join(parts)


def _column_notes(notes: dict[str, str], columns: Sequence[tuple[str, str]]) -> str:
    """A bullet list ``header (csv key): meaning`` for every documented column."""
    headers = dict(columns)
    lines = [f"- **{headers.get(key, key)}** (`{key}`): {text}" for key, text in notes.items() if text]
    return ("Columns (results.md and results.csv):\n\n" + "\n".join(lines) + "\n") if lines else ""


def plot_kappa_tradeoff(results: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Accuracy (clean, white-box, adaptive) and relative DeepFool perturbation against kappa.

    Both axes start at 0 (accuracy runs to 1); the title states the attacks, ε and n; flagged κ
    (an adaptive attack beat white-box PGD) carry a red ⚠ and a shaded band; the legend sits
    below the panels, off the data.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    cfg = results["config"]
    rows = sorted(results["rows"], key=lambda r: r["kappa"])
    kappas = [r["kappa"] for r in rows]
    width = 0.03 * ((max(kappas) - min(kappas)) or 1.0)
    flagged = [r["kappa"] for r in rows if r.get("masking_flag")]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.6))
    series = [
        ("clean_accuracy", "clean", "o-"),
        ("pgd_accuracy", "PGD white-box", "s-"),
        ("pgd_bpda_accuracy", "PGD BPDA (adaptive)", "v--"),
        ("pgd_transfer_accuracy", "PGD gray-box (from ReLU)", "^--"),
        ("robust_accuracy", "per-image worst case of the PGD columns", "k:"),
    ]
    for key, label, style in series:
        pts = [(r["kappa"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            ax1.plot(*zip(*pts, strict=True), style, label=label)
    ax1.set(xlabel="κ (0 = ReLU)", ylabel="accuracy", ylim=(0, 1.02), title="Accuracy vs κ")
    rhos: list[float] = []
    for key, label, style in (
        ("deepfool_rho", "DeepFool-L2 ρ white-box", "o-"),
        ("deepfool_bpda_rho", "DeepFool-L2 ρ BPDA (adaptive)", "v--"),
    ):
        values = [float("nan") if r.get(key) is None else float(r[key]) for r in rows]
        rhos += [v for v in values if not math.isnan(v)]
        ax2.plot(kappas, values, style, label=label, color="tab:purple" if "BPDA" in label else "tab:brown")
    ax2.set(
        xlabel="κ (0 = ReLU)",
        ylabel="mean ρ = ‖δ‖₂/‖x‖₂ (fooled images)",
        ylim=(0, 1.15 * max(rhos or [1.0])),
        title="Minimal perturbation vs κ",
    )
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        for k in flagged:
            ax.axvspan(k - width, k + width, color="red", alpha=0.12, lw=0)
    for r in rows:
        if r.get("masking_flag") and r.get("pgd_accuracy") is not None:
            ax1.annotate(
                "⚠",
                (r["kappa"], r["pgd_accuracy"]),
                xytext=(0, 6),
                textcoords="offset points",
                color="red",
                ha="center",
                va="bottom",
                fontsize=13,
            )
    handles, labels = legend_entries((ax1, ax2))
    if flagged:
        handles += [Patch(color="red", alpha=0.12), Line2D([], [], color="red", marker="$⚠$", linestyle="")]
        labels += ["flagged κ: adaptive attacks beat white-box PGD", "white-box PGD value it overstates"]
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize="small", frameon=False)
    fig.suptitle(
        f"JumpReLU trade-off on {cfg['dataset']}: PGD L∞ ε = {cfg['eps']:g} ({cfg['pgd_steps']} steps), "
        f"DeepFool-L2 ({cfg['deepfool_max_iter']} iterations), n = {cfg['n_eval']} test images",
        fontsize=10,
    )
    return finish_figure(fig, path, rect=(0, 0.13, 1, 1))


def render_results_markdown(results: dict[str, Any]) -> str:
    """Markdown report of a reproduction from its results dict.

    Expected keys: ``title``, optional ``summary`` (str), ``tables`` (list of
    ``{"name", "title", "columns": [[key, header], ...], "rows": [...], "note"?}``),
    optional ``figures`` (list of ``{"file", "caption"}``), optional ``notes`` (str).
    """
    parts = [f"# {results.get('title', results.get('name', 'results'))}\n"]
    if results.get("quick"):
        parts.append("> **Quick run** (small data and grids: a smoke test, not the paper's settings).\n")
    if results.get("summary"):
        parts.append(str(results["summary"]) + "\n")
    for table in results.get("tables", []):
        parts.append(f"## {table['title']}\n")
        if table.get("note"):
            parts.append(str(table["note"]) + "\n")
        parts.append(markdown_table(table["rows"], [tuple(c) for c in table["columns"]]))
    for figure in results.get("figures", []):
        parts.append(f"![{figure['caption']}]({figure['file']})\n\n*{figure['caption']}*\n")
    notes = results.get("notes")
    if notes:
        text = "\n".join(f"- {n}" for n in notes) if isinstance(notes, (list, tuple)) else str(notes)
        parts.append("## Notes\n\n" + text + "\n")
    wall = results.get("wall_seconds_this_run")
    if wall is not None:
        cells = results.get("cell_seconds_all_runs")
        total = (
            f"; the cells of these results took {cells:.0f} s of compute over all runs (model training "
            "not included)"
            if cells is not None
            else ""
        )
        parts.append(
            f"\nWall time of this run: {wall:.0f} s (cells finished in earlier runs are not "
            f"recomputed){total}.\n"
        )
    return "\n".join(parts)


def write_tables_csv(results: dict[str, Any], out: str | os.PathLike[str]) -> list[Path]:
    """One CSV per table of a reproduction's results, named ``<table name>.csv``."""
    paths = []
    for table in results.get("tables", []):
        columns = [c[0] for c in table["columns"]]
        paths.append(write_csv(table["rows"], columns, Path(out) / f"{table['name']}.csv"))
    return paths


def figure_folder(out_dir: str | os.PathLike[str]) -> Path:
    """The start of a figure module's ``render``: select matplotlib's file-only Agg backend and create
    ``out_dir``.

    :return: ``out_dir`` as a ``Path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_figure(fig: Any, out: str | os.PathLike[str], name: str, *, dpi: int = 110) -> str:
    """Lay out, save as ``out/name`` and close a matplotlib figure; returns ``name`` (for captions)."""
    finish_figure(fig, Path(out) / name, dpi=dpi)
    return name


def figure_entry(
    fig: Any, out: str | os.PathLike[str], name: str, caption: str, *, dpi: int = 110
) -> dict[str, str]:
    """Save a figure as ``out/name`` (:func:`save_figure`) and return its ``{"file", "caption"}`` entry,
    as ``render_results_markdown`` reads ``results["figures"]``."""
    return {"file": save_figure(fig, out, name, dpi=dpi), "caption": caption}


def finish_axes(ax: Any, *, legend_size: float | None = 7, **props: Any) -> None:
    """The usual last touches of one panel: ``ax.set(**props)`` (title, labels, limits...), a light grid
    and, unless ``legend_size`` is None, the panel's legend in that font size."""
    ax.set(**props)
    ax.grid(alpha=0.3)
    if legend_size is not None:
        ax.legend(fontsize=legend_size)


def render_claims_markdown(results: dict[str, Any]) -> str:
    """The claims ledger of a reproduction: each claim of the paper, its verdict, the tolerance
    and the numbers it rests on."""
    claims = results.get("claims") or []
    counts: dict[str, int] = {}
    for c in claims:
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
    parts = [
        f"# Claims ledger: {results.get('title', results.get('name', ''))}\n",
        "> **Quick run**: small data and grids; verdicts here test the mechanism, not the paper.\n"
        if results.get("quick")
        else "",
        "Verdicts: " + ", ".join(f"{v} {n}" for v, n in counts.items()) + "\n" if claims else "No claims.\n",
        "| claim | verdict | tolerance | evidence | cells |",
        "|---|---|---|---|---|",
    ]
    for c in claims:
        evidence = ", ".join(f"{k} = {format_value(v)}" for k, v in c["evidence"].items())
        parts.append(
            f"| {c['claim']} | **{c['verdict']}** | {c['tolerance']} | {evidence} | {c.get('cells', '')} |"
        )
    return "\n".join(p for p in parts if p) + "\n"
