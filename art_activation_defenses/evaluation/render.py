"""The audit's verdict and its Markdown: the headline robust accuracy (per-sample worst case) with
its interval, one line per attack column, the legacy white-box-beside-adaptive table, the
indicators of attack failure and the minimal-perturbation audit."""

from __future__ import annotations

import math
from typing import Any

from art_activation_defenses.evaluation.ensemble import COLUMNS
from art_activation_defenses.evaluation.indicators import INDICATORS

__all__ = ["render_audit_markdown", "verdict"]


def _pct(v: float | None) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}%"


def _ci(ci: Any) -> str:
    if not ci or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in ci):
        return "n/a"
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def _title(result: dict[str, Any], key: str | None) -> str:
    for e in result.get("ensemble") or []:
        if e["key"] == key:
            return str(e["title"])
    return str(key)


def verdict(result: dict[str, Any]) -> str:
    """One paragraph: masking or not (McNemar, margin), the headline to quote, the indicators that
    fired with what to run next, and the sanity checks' warnings."""
    margin = result["settings"]["margin"]
    m = result.get("masking") or {}
    robust = result.get("robust_accuracy")
    ci = _ci(result.get("robust_interval"))
    if m.get("flag"):
        refs = " / ".join(_title(result, k) for k in m["reference"])
        text = (
            f"GRADIENT MASKING SUSPECTED. The per-sample worst case ({_pct(robust)} {ci}) is "
            f"{_pct(m['gap'])} below the white-box cross-entropy attacks ({refs}: "
            f"{_pct(m['reference_accuracy'])}), more than the margin "
            f"{_pct(margin)} (exact McNemar p = {m['p_value']:.2g}); strongest single attack: "
            f"{_title(result, m.get('strongest'))}. Report the robust accuracy, not the white-box number."
        )
    else:
        text = (
            f"No sign of gradient masking: the per-sample worst case ({_pct(robust)} {ci}) is not "
            f"significantly more than {_pct(margin)} below the white-box cross-entropy attacks."
        )
    rows = [r for r in result.get("rows") or [] if r.get("flag")]
    for r in rows:
        text += (
            f" {r['attack'].upper()}: {COLUMNS[r['strongest']][3]} {_pct(r[r['strongest']])} against "
            f"{_pct(r['white_box'])} white-box (gap {_pct(r['gap'])} > margin {_pct(margin)})."
        )
    fired = [(k, v) for k, v in (result.get("indicators") or {}).items() if v.get("flag")]
    if fired:
        text += " Indicators of attack failure fired: " + "; ".join(
            f"{INDICATORS[k][0]} ({v['count']} samples): {INDICATORS[k][1]}" for k, v in fired
        )
        text += "."
    checks = result.get("checks")
    if checks and checks.get("warnings"):
        text += f" Sanity checks: zero-gradient share {_pct(checks['zero_gradient_share'])}; " + " ".join(
            checks["warnings"]
        )
    return text


def _header(result: dict[str, Any]) -> str:
    s = result["settings"]
    norm = "L∞" if str(s.get("norm", "inf")) == "inf" else "L2"
    parts = [
        f"{norm} eps={s['eps']:g}, budget {s.get('budget', 'standard')}: PGD {s['max_iter']} steps of "
        f"{s['eps_step']:.4g} × {s.get('restarts', 1)} restart(s)"
    ]
    if any(e["family"] == "apgd" for e in result.get("ensemble") or []):
        parts.append(f"APGD {s['apgd_iter']} it × {s['apgd_restarts']}, DLR-T {s['dlr_targets']} target(s)")
    if any(e["family"] == "square" for e in result.get("ensemble") or []):
        parts.append(f"Square {s['square_queries']} queries")
    text = (
        ", ".join(parts) + f"; n={result.get('n_samples')}, clean accuracy {_pct(result['clean_accuracy'])}"
    )
    if result.get("original_clean_accuracy") is not None:
        text += f" (original {_pct(result['original_clean_accuracy'])})"
    if result.get("surrogate_agreement") is not None:
        text += f", surrogate agreement {_pct(result['surrogate_agreement'])}"
    return text + "."


def render_audit_markdown(result: dict[str, Any], *, title: str | None = None) -> str:
    """
    Render an :func:`~art_activation_defenses.evaluation.audit` result (or its JSON) as Markdown.

    :param result: The dict returned by the audit.
    :param title: Optional heading.
    :return: Markdown text.
    """
    missing = [k for k in ("rows", "columns", "settings", "verdict") if k not in result]
    if missing:
        raise ValueError(f"`result` is not an audit result: missing keys {missing}.")
    lines = [f"### {title}", ""] if title else []
    lines += [_header(result), ""]
    if "robust_accuracy" in result:
        n_cols = len(result.get("ensemble") or [])
        lines += [
            f"**Robust accuracy (per-sample worst case over {n_cols} attack columns): "
            f"{_pct(result['robust_accuracy'])}** "
            f"(95% Wilson interval {_ci(result.get('robust_interval'))}).",
            "",
            "| attack | loss | gradient | source | accuracy | 95% CI | broke alone |",
            "|---|---|---|---|---|---|---|",
        ]
        for e in result.get("ensemble") or []:
            acc = _pct(e["accuracy"]) if e["accuracy"] is not None else f"on the {e['evaluated']} left"
            lines.append(
                f"| {e['title']} | {e['loss']} | {e['mode']} | {e['source']} | {acc} | "
                f"{_ci(e['interval'])} | {e['broke_alone']} |"
            )
        lines.append("")
    cols = list(result["columns"])
    if result["rows"]:
        header = ["attack"] + [COLUMNS[c][3] for c in cols] + ["worst", "flag"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in result["rows"]:
            flag = f"**MASKING** ({COLUMNS[r['strongest']][3]}, −{_pct(r['gap'])})" if r["flag"] else "ok"
            cells = [r["attack"].upper()] + [_pct(r.get(c)) for c in cols] + [_pct(r.get("worst")), flag]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if result.get("indicators"):
        lines += ["Indicators of attack failure (Pintor et al. 2022):", "", "| indicator | samples | fired |"]
        lines.append("|---|---|---|")
        for k, v in result["indicators"].items():
            count = "not measured" if v.get("count") is None else str(v["count"])
            lines.append(f"| {INDICATORS[k][0]} | {count} | {'**yes**' if v.get('flag') else 'no'} |")
        lines.append("")
    mini = result.get("minimal")
    if mini:
        norm = "L∞" if str(mini["norm"]) == "inf" else "L2"
        lines += [
            f"Minimal perturbation ρ = ‖δ‖/‖x‖ ({norm}, {mini['n']} clean-correct samples; "
            "means over the samples found):",
            "",
            "| attack | found | mean ρ | median ρ |",
            "|---|---|---|---|",
        ]
        for k, v in [*mini["attacks"].items(), ("per-sample minimum", mini["min"])]:
            rho = "n/a" if math.isnan(v["rho_mean"]) else f"{v['rho_mean']:.4f}"
            med = "n/a" if math.isnan(v["rho_median"]) else f"{v['rho_median']:.4f}"
            lines.append(f"| {k} | {_pct(v['fool_rate'])} | {rho} | {med} |")
        lines.append("")
    lines.append(f"Verdict: {result['verdict']}")
    for note in result.get("notes") or []:
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"
