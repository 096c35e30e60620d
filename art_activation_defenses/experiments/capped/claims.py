"""The capped-ReLU paper's quantitative claims, judged from the cells of a run.

Each claim reads its evidence from the assembled data (the paper's protocol beside our strongest
adaptive attack or per-sample worst case), so changing a cell changes the verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from statistics import fmean
from typing import Any

from art_activation_defenses.evaluation import MASKING_MARGIN
from art_activation_defenses.experiments import papers
from art_activation_defenses.experiments.protocol import Claim

__all__ = ["claims"]

Evidence = Mapping[str, float]


def _smallest(data: dict[str, Any], key: str = "betas") -> str:
    """The smallest numeric β of the grid ``key``, as the rows spell it."""
    return str(min((float(b) for b in data["config"][key] if b not in ("relu", "max")), default=""))


def _row(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), {})


def _gain(margin: float) -> Callable[[Evidence], str]:
    """Capped beats ReLU by more than ``margin`` under the paper's attack: reproduced when it still
    does under the adaptive / worst case, else reversed; not reproduced when it does not even then."""

    def judge(e: Evidence) -> str:
        if e["capped_paper"] - e["relu_paper"] <= margin:
            return "not reproduced"
        return (
            "reproduced"
            if e["capped_adaptive"] - e["relu_adaptive"] > margin
            else "reversed under adaptive attacks"
        )

    return judge


def _order(*pairs: tuple[str, str]) -> Callable[[Evidence], str]:
    """Each (better, worse) placement pair must hold under white-box PGD (the paper's attack)
    and under the per-sample worst case."""

    def judge(e: Evidence) -> str:
        if not all(e[f"{a}_white"] > e[f"{b}_white"] for a, b in pairs):
            return "not reproduced"
        ok = all(e[f"{a}_worst"] > e[f"{b}_worst"] for a, b in pairs)
        return "reproduced" if ok else "reversed under adaptive attacks"

    return judge


def _placements(data: dict[str, Any], arch: str) -> dict[str, float | None]:
    """Figs 4-6, paper's protocol: mean PGD white-box and worst-case accuracy per placement, at the
    smallest initial β, over the evaluated max values."""
    init = min((float(b) for b in data["config"]["init_betas"]), default=None)
    out: dict[str, float | None] = {}
    for place in ("hl1", "hl2", "both"):
        rows = [
            r
            for r in data["protocol"]
            if (r["arch"], r["place"], float(r["init_beta"])) == (arch, place, init)
        ]
        out[f"{place}_white"] = fmean(r["white_acc"] for r in rows) if rows else None
        out[f"{place}_worst"] = fmean(r["robust_acc"] for r in rows) if rows else None
    return out


def _t1(data: dict[str, Any], training: str, paper: str, adaptive: str) -> dict[str, float | None]:
    rows, small = data["advtrain"], _smallest(data, "adv_betas")
    relu, capped = _row(rows, training=training, beta="relu"), _row(rows, training=training, beta=small)
    return {
        "relu_paper": relu.get(paper),
        "capped_paper": capped.get(paper),
        "relu_adaptive": relu.get(adaptive),
        "capped_adaptive": capped.get(adaptive),
    }


def _cw_l2(data: dict[str, Any]) -> float | None:
    """The larger mean L2 of C&W (exact, BPDA) on the smallest-β model without adversarial training."""
    row = _row(data["advtrain"], training="none", beta=_smallest(data, "adv_betas"))
    values = [v for v in (row.get("cw_l2"), row.get("cw_bpda_l2")) if v is not None]
    return max(values) if values else None


def _cw_gain(e: Evidence) -> str:
    """:func:`_gain` (margin 0), except that a C&W which found no perturbation on the capped model
    (ART returns the input when it fails) is no evidence of robustness: ``"not run"``."""
    verdict = _gain(0.0)(e)
    return "not run" if verdict != "not reproduced" and e["capped_cw_l2"] == 0.0 else verdict


def _paper(training: str, column: str) -> str:
    """The paper's Table 1 values for ReLU -> β = 0.01 (read from ``tables.json``)."""
    v = [papers.paper_value("capped", "Table 1", f"Max Val. {b} / Adv. training {training}", f"{column} %")
         for b in ("-", "0.01")]  # fmt: skip
    return f"{v[0]:g}% -> {v[1]:g}%"


def _fig1(data: dict[str, Any]) -> dict[str, float | None]:
    """Last hidden layer's L2 distance: uncapped vs every layer capped at the smallest β (paper's
    protocol), and the same for the adaptive growth table (margin+BPDA step on each model)."""
    small, fig1 = _smallest(data, "fig1_betas"), data["fig1"]
    relu, capped = _row(fig1, place="relu"), _row(fig1, place="all", beta=small)
    g_relu = _row(data["models"], arch="general", place="relu").get("growth", {}).get("l2_growth", [None])
    g_cap = _row(data["models"], arch="general", place="both", beta=_smallest(data)).get("growth", {})
    return {
        "relu_paper": relu.get("l2", [None, None])[-2],
        "capped_paper": capped.get("l2", [None, None])[-2],
        "relu_adaptive": g_relu[-1],
        "capped_adaptive": g_cap.get("l2_growth", [None])[-1],
    }


def _general(data: dict[str, Any], place: str, beta: str) -> dict[str, Any]:
    return _row(data["models"], arch="general", place=place, beta=beta)


def _relu_vs_capped(data: dict[str, Any], key: str, suffix: str = "") -> dict[str, float | None]:
    """``key`` of the general MLP: ReLU vs both hidden layers capped at the smallest β, as
    ``relu<suffix>`` and ``capped<suffix>``."""
    return {
        f"relu{suffix}": _general(data, "relu", "relu").get(key),
        f"capped{suffix}": _general(data, "both", _smallest(data)).get(key),
    }


def _shrinks(e: Evidence) -> str:
    if e["capped_paper"] >= 0.5 * e["relu_paper"]:
        return "direction reproduced" if e["capped_paper"] < e["relu_paper"] else "not reproduced"
    return (
        "reproduced" if e["capped_adaptive"] < 0.5 * e["relu_adaptive"] else "reversed under adaptive attacks"
    )


def claims(data: dict[str, Any]) -> Sequence[Claim]:
    """The paper's quantitative claims (Secs. 3-8), each with its evidence and judge."""
    small, m = _smallest(data), MASKING_MARGIN
    gain = f"capped - ReLU > {m:.2f} under the paper's attack, and again under the adaptive one"
    order = "strict order of the means, under white-box PGD and under the per-sample worst case"
    return [
        Claim(
            "fig1-growth",
            "Sec. 3.1, Fig. 1: capping with low max values stops perturbations from growing "
            "over the layers; uncapped ReLU lets them grow",
            _fig1,
            _shrinks,
            "capped < half of uncapped (last hidden layer L2 distance; adaptive: final-layer growth of a "
            "margin+BPDA step)",
            "fig1_paper_protocol, fig1_growth",
        ),
        Claim(
            "fig2-underfit",
            "Sec. 3.1, Fig. 2: a very low max value underfits (lower clean accuracy)",
            lambda d: _relu_vs_capped(d, "clean"),
            lambda e: "reproduced" if e["relu"] - e["capped"] > 0.02 else "not reproduced",
            "clean accuracy drop > 0.02 (general MLP, both layers at the smallest β)",
            "fig2_accuracy",
        ),
        Claim(
            "fig2-all-below-single",
            "Sec. 3.1, Fig. 2: capping all hidden layers is slightly below capping one layer (β = 0.1)",
            lambda d: {
                p: _general(d, p, "0.1" if _general(d, "both", "0.1") else small).get("clean")
                for p in ("hl1", "hl2", "both")
            },
            lambda e: (
                "reproduced"
                if e["both"] < min(e["hl1"], e["hl2"])
                else ("direction reproduced" if e["both"] < max(e["hl1"], e["hl2"]) else "not reproduced")
            ),
            "both < each single layer (direction: < the better one); β = 0.1 where run, else the smallest",
            "fig2_accuracy",
        ),
        Claim(
            "fig4-general-hl2",
            "Sec. 4.2, Fig. 4: in the general net capping HL2 is more robust than HL1 or "
            "both (small initial max value)",
            lambda d: _placements(d, "general"),
            _order(("hl2", "hl1"), ("hl2", "both")),
            order,
            "fig4_6_paper_protocol (general)",
        ),
        Claim(
            "fig5-reversed-bottleneck",
            "Sec. 4.2, Fig. 5: in the reversed net capping both layers is best and "
            "HL1 beats HL2 (cap the bottleneck)",
            lambda d: _placements(d, "reversed"),
            _order(("both", "hl1"), ("both", "hl2"), ("hl1", "hl2")),
            order,
            "fig4_6_paper_protocol (reversed)",
        ),
        Claim(
            "fig6-equal-deep",
            "Sec. 5, Fig. 6: with a very low initial max value capping the deep layer (HL2) "
            "beats the early one (HL1)",
            lambda d: _placements(d, "equal"),
            _order(("hl2", "hl1")),
            order,
            "fig4_6_paper_protocol (equal)",
        ),
        Claim(
            "table1-cap-pgd",
            "Sec. 8, Table 1: a lower max value improves PGD robustness (no adversarial "
            f"training; paper {_paper('none', 'PGD')})",
            lambda d: _t1(d, "none", "pgd_white_box", "pgd_worst"),
            _gain(m),
            gain,
            "table1_advtrain (none; PGD white-box vs PGD worst)",
        ),
        Claim(
            "table1-advtrain-cap",
            "Sec. 8, Table 1: capping adds robustness on top of PGD adversarial "
            f"training (paper {_paper('PGD', 'PGD')})",
            lambda d: _t1(d, "pgd", "pgd_white_box", "pgd_worst"),
            _gain(m),
            gain,
            "table1_advtrain (pgd; PGD white-box vs PGD worst)",
        ),
        Claim(
            "table1-cw",
            "Sec. 8, Table 1: against C&W a lower max value is still more robust "
            f"(paper {_paper('none', 'CW(L_2)')})",
            lambda d: {**_t1(d, "none", "cw_acc", "cw_bpda_acc"), "capped_cw_l2": _cw_l2(d)},
            _cw_gain,
            "capped - ReLU > 0 with exact gradients, and again with BPDA gradients; 'not run' when C&W "
            "moved no capped-model input at all (mean L2 0: the unbounded attack stalled, no evidence)",
            "table1_advtrain (none; C&W-L2 vs C&W-L2 BPDA)",
        ),
        Claim(
            "fig11-sensitivity",
            "Sec. 7, Fig. 11: the summed sensitivity map decreases when the max value is reduced",
            lambda d: {
                **_relu_vs_capped(d, "sens", "_paper"),
                **_relu_vs_capped(d, "sens_bpda", "_adaptive"),
            },
            _shrinks,
            "capped < half of ReLU with exact gradients, and again with BPDA gradients",
            "fig11_sensitivity (general, both layers)",
        ),
    ]
