"""Reproduction of the sloped-ReLU paper (Borji 2020) with the attacks that could refute it.

A small CNN is trained with ReLU (the full run: the paper's Fig. 10 network on MNIST); at test time
every ReLU becomes ``alpha * max(0, x)`` for alpha in {0.5, 1, 2, 5, 10, 100}. Figures 2-3 (FGSM, BIM,
R+FGSM, StepLL, PGD, DeepFool over ε; other activations swapped in), 4 (the Foolbox study, with ART's
equivalents), 5-6 (targeted FGSM), 7 (pixel scaling), 8 (surrogate transfer), 9 (t-SNE) and the
"train and test with the same slope" experiment are computed cell by cell (resumable), beside the
adaptive attacks: logit-margin PGD, PGD through BPDA gradients, PGD transferred from the ReLU model,
and the surrogate. A large slope multiplies the logits by about ``alpha ** depth``, which saturates
the softmax: the cross-entropy gradient underflows to zero and cross-entropy attacks stall; the
margin loss and the transfer attacks do not.

| Paper link: https://arxiv.org/abs/2006.05594
"""

from __future__ import annotations

from typing import Any

from torch import nn

from art_activation_defenses.activations import SlopedReLU
from art_activation_defenses.experiments.protocol import ModelRecipe, Paper, Run, Step
from art_activation_defenses.experiments.srelu import cells as c
from art_activation_defenses.experiments.srelu.cells import CURVE_ATTACKS, SETTINGS
from art_activation_defenses.experiments.srelu.figures import render
from art_activation_defenses.experiments.srelu.tables import assemble, claims, notes, summary, tables
from art_activation_defenses.models import build_model
from art_activation_defenses.training import evaluate, fit, set_seed

__all__ = ["SPEC", "SETTINGS", "CURVE_ATTACKS", "render"]


def _recipe(run: Run, train_alpha: float) -> ModelRecipe:
    """The ReLU model (``train_alpha`` = 1) or one trained with a sloped ReLU of that slope."""
    cfg, info = run.cfg, run.d.info
    act = None if train_alpha == 1.0 else (lambda: SlopedReLU(alpha=train_alpha))
    epochs = cfg["epochs"] if train_alpha == 1.0 else cfg["same_epochs"]

    def build(run: Run) -> nn.Module:
        set_seed(run.seed)  # the initialisation is part of the seeded run
        return build_model(cfg["model"], info["input_shape"], info["nb_classes"], activation=act)

    def train(run: Run, model: nn.Module) -> dict[str, Any]:
        hist = fit(model, run.d.x_train, run.d.y_train, epochs=epochs, lr=cfg["lr"], device=run.device,
                   batch_size=cfg["batch_size"], seed=run.seed, verbose=run.verbose)  # fmt: skip
        return {"epochs": epochs, "final_train_accuracy": hist["accuracy"][-1],
                "test_accuracy_full_split": evaluate(model, run.d.x_test, run.d.y_test,
                                                     device=run.device)}  # fmt: skip

    keys = ("dataset", "model", "n_train", "lr", "batch_size")
    settings = {**{k: cfg[k] for k in keys}, "epochs": epochs}
    if train_alpha != 1.0:
        settings["train_alpha"] = train_alpha
    tag = f"srelu-cnn-{cfg['dataset']}" + ("" if train_alpha == 1.0 else f"-slope{train_alpha:g}")
    return ModelRecipe(build=build, train=train, settings=settings, tag=tag)


def _models(run: Run) -> dict[str, ModelRecipe]:
    return {"relu": _recipe(run, 1.0), **{f"same-{a:g}": _recipe(run, a) for a in run.cfg["same_slopes"]}}


def _grid(part: str, *fixed: str, **axes: Any) -> Any:
    """``run -> cells``: every combination of the named axes (values: ``cfg -> list``), keyed by the
    evaluation set, the ε grid, ``part`` and the ``fixed`` settings."""

    def cells(run: Run) -> list[dict[str, Any]]:
        g = run.cfg
        out = [{"dataset": g["dataset"], "n": g["n_eval"], "eps": list(g["eps"]), "part": part,
                **{k: list(g[k]) if isinstance(g[k], tuple) else g[k] for k in fixed}}]  # fmt: skip
        for name, values in axes.items():
            out = [{**o, name: v} for o in out for v in values(g)]
        return out

    return cells


def _alphas(g: dict[str, Any]) -> list[float]:
    return list(g["alphas"])


SPEC = Paper(
    name="srelu",
    description="Sloped ReLU (Borji 2020), with BPDA/surrogate transfer",
    settings={None: SETTINGS},
    models=_models,
    prepare=c.prepare,
    steps=[
        Step("curves", "attacks over eps",
             _grid("curve", alpha=_alphas, attack=lambda g: list(CURVE_ATTACKS)), c.curve_cell),  # fmt: skip
        Step("transfer", "transfer", _grid("transfer", "alphas"), c.transfer_cell),
        Step("audits", "margin+BPDA", _grid("audit", "headline_eps", alpha=_alphas), c.audit_step),
        Step("surrogate", "surrogate", _grid("surrogate", "surrogate_n", "surrogate_epochs", alpha=_alphas),
             c.surrogate_cell),  # fmt: skip
        Step("targeted", "targeted FGSM", _grid("targeted", "target_eps", alpha=_alphas), c.targeted_cell),
        Step("scaling", "pixel scaling", _grid("scaling", scale=lambda g: list(g["scales"]),
                                               clip=lambda g: [False, True]), c.scaling_cell),  # fmt: skip
        Step("tsne", "t-SNE", _grid("tsne", "tsne_n", alpha=_alphas), c.tsne_cell),
        Step("same_slope", "same slope", _grid("same-slope", train_alpha=lambda g: [1.0, *g["same_slopes"]]),
             c.same_slope_cell),  # fmt: skip
        Step("activations", "other activations",
             _grid("activation", activation=lambda g: list(g["activations"])),
             c.activation_cell),  # fmt: skip
        Step("fig4", "Fig. 4 attacks",
             _grid("fig4", alpha=lambda g: list(g["fig4_alphas"]), attack=lambda g: list(g["fig4_attacks"])),
             c.fig4_cell),  # fmt: skip
    ],
    assemble=assemble,
    tables=tables,
    summary=summary,
    notes=notes,
    claims=claims,
    title=lambda run: "Sloped ReLU (Borji 2020) on "
    + ("scikit-learn digits (quick)" if run.quick else "MNIST"),
    figures=render,
)
