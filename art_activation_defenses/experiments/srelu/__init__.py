"""Reproduction of the sloped-ReLU paper (Borji 2020) with the attacks that could refute it.

A simple MNIST CNN is trained with ReLU; at test time every ReLU becomes ``alpha * max(0, x)``
for alpha in {0.5, 1, 2, 5, 10, 100}. Figures 2-3 (FGSM, BIM, R+FGSM, StepLL, PGD-40, DeepFool
over ε), 5-6 (targeted FGSM, overall and per target class), 7 (pixel scaling with and without
clipping), 8 (surrogate transfer) and 9 (t-SNE of the last hidden layer) are computed cell by
cell (resumable), beside the adaptive attacks: logit-margin PGD, PGD through BPDA gradients,
PGD transferred from the ReLU model, and the surrogate. A large slope multiplies the logits by
about ``alpha ** depth``, which saturates the softmax: the cross-entropy gradient underflows to
zero and cross-entropy attacks stall; the margin loss and the transfer attacks do not.

| Paper link: https://arxiv.org/abs/2006.05594 (not verified here; see the notes)
"""

from __future__ import annotations

import logging
from typing import Any

from torch import nn

from art_activation_defenses.data import dataset_info, load_dataset
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.experiments.runner import ExperimentContext, cached_model
from art_activation_defenses.experiments.srelu._compute import (
    CURVE_ATTACKS,
    SETTINGS,
    Setup,
    audit_cell,
    curve_cell,
    scaling_cell,
    surrogate_cell,
    targeted_cell,
    transfer_cell,
    tsne_cell,
)
from art_activation_defenses.experiments.srelu._render import render
from art_activation_defenses.experiments.srelu._report import headline_rows, notes, summary, tables
from art_activation_defenses.models import build_model
from art_activation_defenses.training import evaluate, fit, set_seed

__all__ = ["run", "render", "SETTINGS"]

logger = logging.getLogger(__name__)


def _setup(ctx: ExperimentContext, cfg: dict[str, Any]) -> tuple[Setup, dict[str, Any]]:
    info = dataset_info(cfg["dataset"])
    data_dir = None if cfg["dataset"] == "digits" else ctx.data_dir
    x_train, y_train = load_dataset(cfg["dataset"], data_dir, "train", limit=cfg["n_train"])
    x_test, y_test = load_dataset(cfg["dataset"], data_dir, "test")

    def build() -> nn.Module:
        return build_model("srelu-mnist-cnn", info["input_shape"], info["nb_classes"])

    def train(model: nn.Module) -> dict[str, Any]:
        hist = fit(
            model,
            x_train,
            y_train,
            epochs=cfg["epochs"],
            lr=cfg["lr"],
            batch_size=cfg["batch_size"],
            seed=ctx.seed,
            verbose=ctx.verbose,
        )
        return {"epochs": cfg["epochs"], "final_train_accuracy": hist["accuracy"][-1]}

    set_seed(ctx.seed)
    train_keys = ("dataset", "n_train", "epochs", "lr", "batch_size")
    settings = {k: cfg[k] for k in train_keys if k in cfg}
    model, meta = cached_model(ctx.model_path(f"srelu-cnn-{cfg['dataset']}"), build, train, settings=settings)
    relu = RetrofitClassifier(
        model,
        nn.CrossEntropyLoss(),
        info["input_shape"],
        info["nb_classes"],
        activation="srelu",
        alpha=1.0,
        clip_values=info["clip_values"],
        device_type="cpu",
    )
    # the transfer source is the ReLU model itself (a sloped ReLU with alpha = 1 computes ReLU)
    defended = RetrofitClassifier(
        model,
        nn.CrossEntropyLoss(),
        info["input_shape"],
        info["nb_classes"],
        activation="srelu",
        alpha=1.0,
        clip_values=info["clip_values"],
        device_type="cpu",
    )
    setup = Setup(
        relu=relu,
        defended=defended,
        build=build,
        x=x_test[: cfg["n_eval"]],
        y=y_test[: cfg["n_eval"]],
        x_queries=x_train[: cfg["surrogate_n"]],
        cfg=cfg,
        seed=ctx.seed,
    )
    model_info = {
        "architecture": "srelu-mnist-cnn",
        **meta,
        "test_accuracy_full_split": evaluate(model, x_test, y_test),
    }
    return setup, model_info


def run(ctx: ExperimentContext) -> dict[str, Any]:
    """Compute every cell (resumable) and assemble the results dict."""
    cfg = dict(SETTINGS[ctx.quick])
    setup, model_info = _setup(ctx, cfg)
    alphas, eps = list(cfg["alphas"]), list(cfg["eps"])
    base = {"dataset": cfg["dataset"], "n": cfg["n_eval"], "eps": eps}

    curves = ctx.grid(
        [{**base, "part": "curve", "alpha": a, "attack": k} for a in alphas for k in CURVE_ATTACKS],
        lambda c: curve_cell(setup, c["alpha"], c["attack"]),
        "attacks over eps",
    )
    transfer = ctx.grid(
        [{**base, "part": "transfer", "alphas": alphas}], lambda c: transfer_cell(setup), "transfer"
    )
    audits = ctx.grid(
        [{**base, "part": "audit", "alpha": a, "headline_eps": cfg["headline_eps"]} for a in alphas],
        lambda c: audit_cell(setup, c["alpha"]),
        "margin+BPDA",
    )
    surrogates = ctx.grid(
        [
            {
                **base,
                "part": "surrogate",
                "alpha": a,
                "queries": cfg["surrogate_n"],
                "epochs": cfg["surrogate_epochs"],
            }
            for a in alphas
        ],
        lambda c: surrogate_cell(setup, c["alpha"]),
        "surrogate",
    )
    targeted = ctx.grid(
        [{**base, "part": "targeted", "alpha": a, "target_eps": cfg["target_eps"]} for a in alphas],
        lambda c: targeted_cell(setup, c["alpha"]),
        "targeted FGSM",
    )
    scaling = ctx.grid(
        [{**base, "part": "scaling", "scale": s, "clip": cl} for s in cfg["scales"] for cl in (False, True)],
        lambda c: scaling_cell(setup, c["scale"], c["clip"]),
        "pixel scaling",
    )
    tsne = ctx.grid(
        [{"dataset": cfg["dataset"], "part": "tsne", "alpha": a, "n": cfg["tsne_n"]} for a in alphas],
        lambda c: tsne_cell(setup, c["alpha"]),
        "t-SNE",
    )

    curve = {(r["cell"]["alpha"], r["cell"]["attack"]): r["result"]["accuracy"] for r in curves}
    for a in alphas:
        curve[(a, "transfer")] = transfer[0]["result"]["accuracy"][str(a)]
    data = {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
        "model": model_info,
        "curves": [
            {"alpha": a, "attack": k, "accuracy": curve[(a, k)]}
            for a in alphas
            for k in [*CURVE_ATTACKS, "transfer"]
        ],
        "surrogate": [{"alpha": r["cell"]["alpha"], **r["result"]} for r in surrogates],
        "targeted": [{"alpha": r["cell"]["alpha"], **r["result"]} for r in targeted],
        "scaling": [{"scale": r["cell"]["scale"], "clip": r["cell"]["clip"], **r["result"]} for r in scaling],
        "tsne": [{"alpha": r["cell"]["alpha"], **r["result"]} for r in tsne],
    }
    headline = headline_rows(cfg, alphas, curve, audits, surrogates)
    table_list = tables(cfg, headline, data)
    return {
        "title": "Sloped ReLU (Borji 2020) on " + ("scikit-learn digits (quick)" if ctx.quick else "MNIST"),
        "summary": summary(cfg, headline, model_info),
        "tables": table_list,
        "notes": notes(cfg),
        **data,
    }
