"""Seeded fuzz sweep of the public API with bad inputs (issue 11).

Every case calls one public entry point with one argument replaced by a generated bad value
(NaN/inf, shapes, dtypes, ranges, empty, labels, hyper-parameters) and classifies the outcome:

* ``clear``: a ``ValueError``/``TypeError`` raised by our package (innermost frame in
  ``art_activation_defenses``) whose message names the argument;
* ``valid``: a result without NaN (the inputs are finite) and within the per-case time limit;
* ``other``: any other exception, a message that does not name the argument, a NaN output, or
  a hang (``signal.alarm`` per case).

The default sweep takes a seeded sample of the cases (well under a minute on one core); the
``slow`` sweep runs every case plus seeded random variants and prints the counts.
"""

from __future__ import annotations

import math
import signal
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import art_activation_defenses
from art_activation_defenses.activations import retrofit
from art_activation_defenses.activations.modules import (
    BoundedReLU,
    CappedReLU,
    JumpReLU,
    RandomizedJumpReLU,
    SlopedReLU,
)
from art_activation_defenses.attacks import (
    FMNL2,
    RFGSM,
    DeepFoolL2,
    DeepFoolLinf,
    FMNLinf,
    StepLL,
    TrustRegion,
    ZeroGradientPGD,
)
from art_activation_defenses.data import load_dataset
from art_activation_defenses.defences import (
    GaussianAugmentationTrainer,
    LabelSmoothingTrainer,
    VirtualAdversarialTrainer,
)
from art_activation_defenses.detectors import LIDDetector, lid_auc
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.evaluation import audit, pgd
from art_activation_defenses.metrics import (
    accuracy_vs_iterations,
    fool_rate,
    gradient_masking_checks,
    layer_perturbation_growth,
    masking_gap,
    minimal_fgsm_robustness,
    nearest_training_distances,
    relative_perturbation,
    robust_accuracy,
    sensitivity_map,
    training_set_distance,
)

PACKAGE_DIR = str(Path(art_activation_defenses.__file__).parent)
TIMEOUT_S = 20
N = 12  # samples per call
SHAPE = (1, 4, 4)


# --------------------------------------------------------------------------- fixtures (seeded)


def _model(dtype: torch.dtype = torch.float32) -> nn.Module:
    gen = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 3))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return model.to(dtype).eval()


def _clf(**kw: Any) -> RetrofitClassifier:
    params: dict[str, Any] = {"kappa": 0.0, "clip_values": (0.0, 1.0), "device_type": "cpu"}
    params.update(kw)
    return RetrofitClassifier(_model(), None, SHAPE, 3, **params)


RNG = np.random.default_rng(0)
X = RNG.random((N, *SHAPE), dtype=np.float32)
Y = RNG.integers(0, 3, N)
X_ADV = np.clip(X + RNG.uniform(-0.1, 0.1, X.shape), 0.0, 1.0).astype(np.float32)
CLF = _clf()


def _bad_arrays(x: np.ndarray) -> list[tuple[str, Any]]:
    nan, inf = x.copy(), x.copy()
    nan[0, 0, 0, 0] = np.nan
    inf[-1, 0, 1, 1] = np.inf
    return [
        ("nan", nan),
        ("inf", inf),
        ("int64", (x * 255).astype(np.int64)),
        ("uint8", (x * 255).astype(np.uint8)),
        ("bool", x > 0.5),
        ("float64", x.astype(np.float64)),
        ("float16", x.astype(np.float16)),
        ("scale255", x * 255),
        ("minus1to1", x * 2 - 1),
        ("empty", x[:0]),
        ("flat", x.reshape(len(x), -1)),
        ("extra-dim", x[None]),
        ("sample-shape", np.zeros((len(x), 1, 5, 5), np.float32)),
        ("scalar", 0.5),
        ("none", None),
        ("string", "abc"),
        ("list", x.tolist()),
        ("object", np.array([object()] * len(x), dtype=object)),
    ]


def _bad_labels(n: int, nb_classes: int = 3) -> list[tuple[str, Any]]:
    y = np.arange(n) % nb_classes
    y_nan = np.eye(nb_classes, dtype=np.float32)[y]
    y_nan[0, 0] = np.nan
    return [
        ("none", None),
        ("out-of-range", np.full(n, nb_classes)),
        ("negative", -np.ones(n, dtype=np.int64)),
        ("float", y + 0.5),
        ("nan-onehot", y_nan),
        ("onehot-width", np.eye(nb_classes + 2, dtype=np.float32)[y]),
        ("length", y[: n // 2]),
        ("string", np.array(["a"] * n)),
        ("3d", y.reshape(n, 1, 1)),
    ]


BAD_REAL = [
    ("neg", -1.0),
    ("zero", 0.0),
    ("nan", math.nan),
    ("inf", math.inf),
    ("str", "a"),
    ("none", None),
    ("bool", True),
]
BAD_INT = [("zero", 0), ("neg", -1), ("frac", 2.5), ("str", "a"), ("none", None), ("bool", True)]
BAD_X = _bad_arrays(X)
BAD_X_ADV = _bad_arrays(X_ADV)
BAD_Y = _bad_labels(N)


# --------------------------------------------------------------------------- entry points


@dataclass
class Entry:
    """One public entry point: ``call(**kwargs)`` with valid defaults and bad values per argument."""

    name: str
    call: Callable[..., Any]
    defaults: dict[str, Any]
    bad: dict[str, list[tuple[str, Any]]]
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    nan_ok: bool = False  # the function documents NaN for "undefined" (no flipped sample, ...)


def _attack_entry(
    name: str, cls: Callable[..., Any], hyper: dict[str, list[tuple[str, Any]]], **fixed: Any
) -> Entry:
    def call(x: Any, y: Any, **kw: Any) -> Any:
        return cls(CLF, verbose=False, **{**fixed, **kw}).generate(x, y=y)

    return Entry(
        name, call, {"x": X, "y": Y}, {"x": BAD_X, "y": [c for c in BAD_Y if c[0] != "none"], **hyper}
    )


def _trainer_entry(
    name: str, cls: Callable[..., Any], hyper: dict[str, list[tuple[str, Any]]], **fixed: Any
) -> Entry:
    def call(x: Any, y: Any, **kw: Any) -> Any:
        trainer = cls(_clf(), verbose=False, nb_epochs=1, batch_size=6, **{**fixed, **kw})
        trainer.fit(x, y)
        return trainer.get_classifier().predict(X)

    return Entry(name, call, {"x": X, "y": Y}, {"x": BAD_X, "y": BAD_Y, **hyper})


def _retrofit_classifier(**kw: Any) -> RetrofitClassifier:
    model = kw.pop("model")
    shape, nb = kw.pop("input_shape"), kw.pop("nb_classes")
    return RetrofitClassifier(model, None, shape, nb, device_type="cpu", **kw)


def _set_params(**kw: Any) -> Any:
    clf = _clf()
    clf.set_params(**kw)
    return clf.predict(X)


def _activation(cls: type[nn.Module]) -> Callable[..., Any]:
    def call(x: Any = None, **kw: Any) -> Any:
        return cls(**kw)(torch.from_numpy(X * 4 - 2))

    return call


def _lid_fit(x: Any, y: Any, **kw: Any) -> Any:
    det = LIDDetector(CLF, **{"k": 3, "batch_size": 6, **kw})
    det.fit(x, y)
    return det.detect(X_ADV)[0]["scores"]


_FITTED: list[LIDDetector] = []


def _lid_detect(x: Any) -> Any:
    if not _FITTED:
        det = LIDDetector(CLF, k=3, batch_size=6)
        det.fit(np.concatenate([X, X_ADV]), np.r_[np.zeros(N, int), np.ones(N, int)])
        _FITTED.append(det)
    return _FITTED[0].detect(x)[0]["scores"]


LID_Y = np.r_[np.zeros(N, int), np.ones(N, int)]
PGD_DEFAULTS: dict[str, Any] = {
    "x": X,
    "y": Y,
    "loss": "ce",
    "eps": 0.1,
    "eps_step": 0.05,
    "max_iter": 2,
    "random_init": False,
    "seed": 0,
    "batch_size": 8,
}

ENTRIES: list[Entry] = [
    Entry(
        "RetrofitClassifier",
        _retrofit_classifier,
        {"model": _model(), "input_shape": SHAPE, "nb_classes": 3, "clip_values": (0.0, 1.0), "kappa": 0.0},
        {
            "model": [
                ("none", None),
                ("str", "m"),
                ("float64", _model(torch.float64)),
                ("float16", _model(torch.float16)),
                ("no-relu", nn.Linear(16, 3)),
            ],
            "input_shape": [("none", None), ("wrong", (1, 5, 5)), ("flat", (16,)), ("str", "abc")],
            "nb_classes": [
                ("too-many", 5),
                ("frac", 2.7),
                ("one", 1),
                ("bool", True),
                ("none", None),
                ("str", "3"),
            ],
            "clip_values": [
                ("nan", (0.0, math.nan)),
                ("order", (1.0, 0.0)),
                ("short", (0.0,)),
                ("str", "01"),
                ("inf", (-math.inf, 1.0)),
                ("equal", (0.5, 0.5)),
            ],
            "layers": [("empty", []), ("index", [99]), ("name", ["nope"]), ("float", 3.5)],
            "activation": [("unknown", "nope"), ("none", None), ("int", 3)],
            "kappa": BAD_REAL,
            "gradient": [("unknown", "foo"), ("none", None)],
            "eot_samples": BAD_INT,
        },
        aliases={"model": ("model", "input_shape"), "input_shape": ("input_shape",)},
    ),
    Entry(
        "predict",
        lambda x, batch_size: CLF.predict(x, batch_size=batch_size),
        {"x": X, "batch_size": 8},
        {"x": BAD_X, "batch_size": BAD_INT},
    ),
    Entry("loss_gradient", lambda x, y: CLF.loss_gradient(x, y), {"x": X, "y": Y}, {"x": BAD_X, "y": BAD_Y}),
    Entry(
        "set_params",
        _set_params,
        {},
        {
            "kappa": BAD_REAL,
            "gradient": [("unknown", "foo")],
            "eot_samples": BAD_INT,
            "nb_classes": [("wrong", 5), ("frac", 2.7), ("str", "3")],
            "clip_values": [("nan", (0.0, math.nan)), ("order", (1.0, 0.0)), ("str", "01")],
            "grad_params": [("unknown", {"nope": 1.0}), ("nan", {"kappa": math.nan}), ("str", "kappa")],
        },
    ),
    Entry(
        "retrofit",
        lambda model, activation, layers, **kw: retrofit(model, activation, layers=layers, **kw),
        {"model": _model(), "activation": "jumprelu", "layers": None},
        {
            "model": [("none", None), ("str", "m"), ("no-relu", nn.Linear(16, 3))],
            "activation": [("unknown", "nope"), ("int", 3)],
            "layers": [("empty", []), ("index", [99]), ("name", ["nope"]), ("float", 3.5)],
            "kappa": BAD_REAL,
        },
    ),
    Entry("JumpReLU", _activation(JumpReLU), {}, {"kappa": BAD_REAL}),
    Entry(
        "RandomizedJumpReLU",
        _activation(RandomizedJumpReLU),
        {"kappa": 0.5},
        {"kappa": BAD_REAL, "low": BAD_REAL + [("big", 1.5)], "generator": [("int", 3), ("str", "g")]},
    ),
    Entry("BoundedReLU", _activation(BoundedReLU), {}, {"t": BAD_REAL}),
    Entry("CappedReLU", _activation(CappedReLU), {}, {"beta": BAD_REAL}),
    Entry("SlopedReLU", _activation(SlopedReLU), {}, {"alpha": BAD_REAL}),
    _attack_entry(
        "DeepFoolL2",
        DeepFoolL2,
        {"max_iter": BAD_INT, "overshoot": BAD_REAL, "batch_size": BAD_INT},
        max_iter=5,
    ),
    _attack_entry("DeepFoolLinf", DeepFoolLinf, {"nb_candidates": BAD_INT}, max_iter=5),
    _attack_entry("FMNL2", FMNL2, {"steps": BAD_INT, "gamma_init": BAD_REAL, "seed": BAD_INT}, steps=5),
    _attack_entry("FMNLinf", FMNLinf, {"steps": BAD_INT, "alpha_init": BAD_REAL}, steps=5),
    _attack_entry("RFGSM", RFGSM, {"eps": BAD_REAL, "alpha": BAD_REAL, "seed": BAD_INT}),
    _attack_entry("StepLL", StepLL, {"eps": BAD_REAL}),
    _attack_entry("TrustRegion", TrustRegion, {"max_iter": BAD_INT, "initial_radius": BAD_REAL}, max_iter=5),
    _attack_entry(
        "ZeroGradientPGD",
        ZeroGradientPGD,
        {"eps": BAD_REAL, "eps_step": BAD_REAL, "max_iter": BAD_INT, "norm": [("3", 3), ("str", "l7")]},
        eps=0.1,
        max_iter=5,
    ),
    Entry(
        "LIDDetector.fit",
        _lid_fit,
        {"x": np.concatenate([X, X_ADV]), "y": LID_Y},
        {
            "x": _bad_arrays(np.concatenate([X, X_ADV])),
            "y": _bad_labels(2 * N, 2),
            "k": BAD_INT,
            "batch_size": BAD_INT,
            "threshold": BAD_REAL,
            "cv": BAD_INT,
        },
    ),
    Entry("LIDDetector.detect", _lid_detect, {"x": X_ADV}, {"x": BAD_X_ADV}),
    Entry(
        "lid_auc",
        lambda x_clean, x_adv, **kw: lid_auc(CLF, x_clean, x_adv, **{"k": 3, "batch_size": 6, "cv": 2, **kw})[
            "auc"
        ],
        {"x_clean": np.concatenate([X, X]), "x_adv": np.concatenate([X_ADV, X_ADV]), "y": None},
        {
            "x_clean": _bad_arrays(np.concatenate([X, X])),
            "x_adv": _bad_arrays(np.concatenate([X_ADV, X_ADV])),
            "y": [c for c in _bad_labels(2 * N) if c[0] != "none"],
            "k": BAD_INT,
            "test_size": BAD_REAL,
        },
    ),
    Entry(
        "evaluation.pgd",
        lambda **kw: pgd(CLF, **kw),
        PGD_DEFAULTS,
        {
            "x": BAD_X,
            "y": BAD_Y,
            "loss": [("unknown", "foo"), ("none", None)],
            "eps": BAD_REAL,
            "eps_step": BAD_REAL,
            "max_iter": BAD_INT,
            "batch_size": BAD_INT,
            "seed": BAD_INT,
            "random_init": [("str", "yes")],
        },
    ),
    Entry(
        "audit",
        lambda x, y, **kw: audit(
            CLF,
            None,
            x,
            y,
            **{"budget": "quick", "attacks": ["fgsm"], "checks": False, "verbose": False, **kw},
        )["robust_accuracy"],
        {"x": X[:6], "y": Y[:6]},
        {
            "x": _bad_arrays(X[:6]),
            "y": _bad_labels(6),
            "eps": BAD_REAL,
            "budget": [("unknown", "huge")],
            "attacks": [("unknown", ["nope"]), ("empty", [])],
            "norm": [("3", 3)],
        },
    ),
    Entry(
        "fool_rate",
        lambda x, x_adv, **kw: fool_rate(CLF, x, x_adv, **kw),
        {"x": X, "x_adv": X_ADV},
        {"x": BAD_X, "x_adv": BAD_X_ADV, "y": [c for c in BAD_Y if c[0] != "none"], "batch_size": BAD_INT},
    ),
    Entry(
        "relative_perturbation",
        lambda x, x_adv, **kw: relative_perturbation(x, x_adv, successful_only=False, **kw),
        {"x": X, "x_adv": X_ADV},
        {"x": BAD_X, "x_adv": BAD_X_ADV, "norm": [("3", 3), ("str", "l7")]},
    ),
    Entry(
        "robust_accuracy",
        lambda x_adv, y: robust_accuracy(CLF, x_adv, y),
        {"x_adv": X_ADV, "y": Y},
        {"x_adv": BAD_X_ADV, "y": BAD_Y},
    ),
    Entry(
        "nearest_training_distances",
        nearest_training_distances,
        {"x": X, "x_train": X_ADV},
        {"x": BAD_X, "x_train": BAD_X_ADV, "max_memory_mb": BAD_REAL, "query_batch": BAD_INT},
    ),
    Entry(
        "training_set_distance",
        training_set_distance,
        {"x_adv": X_ADV, "x_train": X},
        {"x_adv": BAD_X_ADV, "x_train": BAD_X},
    ),
    Entry(
        "gradient_masking_checks",
        lambda x, y, **kw: gradient_masking_checks(CLF, x, y, warn=False, **kw),
        {"x": X, "y": Y},
        {"x": BAD_X, "y": [c for c in BAD_Y if c[0] != "none"], "zero_atol": BAD_REAL},
    ),
    Entry(
        "sensitivity_map", lambda x, y: sensitivity_map(CLF, x, y), {"x": X, "y": Y}, {"x": BAD_X, "y": BAD_Y}
    ),
    Entry(
        "accuracy_vs_iterations",
        lambda x, y, **kw: accuracy_vs_iterations(
            CLF, x, y, **{"iterations": [1, 2], "eps": 0.1, "eps_step": 0.05, **kw}
        ),
        {"x": X, "y": Y},
        {
            "x": BAD_X,
            "y": BAD_Y,
            "iterations": [("empty", []), ("neg", [-1]), ("str", "12")],
            "eps": BAD_REAL,
            "eps_step": BAD_REAL,
        },
    ),
    Entry(
        "layer_perturbation_growth",
        lambda x, x_adv: layer_perturbation_growth(CLF, x, x_adv),
        {"x": X, "x_adv": X_ADV},
        {"x": BAD_X, "x_adv": BAD_X_ADV},
    ),
    Entry(
        "masking_gap",
        masking_gap,
        {"white_box": 0.5, "adaptive": {"bpda": 0.2}, "margin": 0.05},
        {
            "white_box": BAD_REAL,
            "adaptive": [("empty", {}), ("nan", {"bpda": math.nan}), ("list", [0.1])],
            "margin": BAD_REAL,
        },
    ),
    Entry(
        "minimal_fgsm_robustness",
        lambda x, y, **kw: minimal_fgsm_robustness(CLF, x, y, **{"eps_max": 1.0, "eps_step": 0.1, **kw}),
        {"x": X, "y": Y},
        {
            "x": BAD_X,
            "y": [c for c in BAD_Y if c[0] != "none"],
            "eps_max": BAD_REAL,
            "eps_step": BAD_REAL + [("tiny", 1e-9)],
            "norm": [("3", 3)],
        },
        nan_ok=True,
    ),
    Entry(
        "load_dataset",
        lambda **kw: load_dataset(**{"name": "digits", "split": "test", **kw})[0],
        {},
        {
            "name": [("unknown", "imagenet"), ("none", None), ("int", 3)],
            "split": [("val", "val"), ("none", None)],
            "limit": BAD_INT,
            "root": [("missing", "does/not/exist")],
        },
        aliases={"root": ("root", "name")},
    ),
    _trainer_entry(
        "GaussianAugmentationTrainer",
        GaussianAugmentationTrainer,
        {"sigma": BAD_REAL, "nb_copies": BAD_INT},
        nb_copies=1,
    ),
    _trainer_entry("VirtualAdversarialTrainer", VirtualAdversarialTrainer, {"eps": BAD_REAL, "xi": BAD_REAL}),
    _trainer_entry("LabelSmoothingTrainer", LabelSmoothingTrainer, {"max_value": BAD_REAL}),
]


# --------------------------------------------------------------------------- the sweep


@dataclass
class Case:
    entry: Entry
    arg: str
    label: str
    value: Any

    @property
    def id(self) -> str:
        return f"{self.entry.name}:{self.arg}={self.label}"


def _cases() -> list[Case]:
    return [
        Case(e, arg, label, value) for e in ENTRIES for arg, vals in e.bad.items() for label, value in vals
    ]


def _random_variants(seed: int, count: int) -> list[Case]:
    """Seeded random array corruptions (NaN at random places, random scales, shapes) per array argument."""
    rng = np.random.default_rng(seed)
    out: list[Case] = []
    array_args = [
        (e, a)
        for e in ENTRIES
        for a, v in e.defaults.items()
        if isinstance(v, np.ndarray) and v.dtype.kind == "f"
    ]
    for i in range(count):
        e, a = array_args[i % len(array_args)]
        base = e.defaults[a].copy()
        kind = rng.integers(4)
        if kind == 0:
            base.reshape(-1)[rng.integers(base.size)] = rng.choice([np.nan, np.inf, -np.inf])
            label = "random-nonfinite"
        elif kind == 1:
            base = base * float(rng.choice([-3.0, 2.0, 10.0, 255.0]))
            label = "random-scale"
        elif kind == 2:
            base = base.reshape(base.shape[0], *rng.permutation(base.shape[1:]).tolist()[::-1], 1)
            label = "random-shape"
        else:
            base = base[: int(rng.integers(0, 2))]
            label = "random-len"
        out.append(Case(e, a, f"{label}{i}", base))
    return out


class _Hang(BaseException):
    """Raised by the alarm: not an ``Exception``, so library code cannot swallow it."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Hang


def _has_nan(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_nan(v) for v in value)
    if isinstance(value, torch.Tensor):
        return bool(value.is_floating_point() and torch.isnan(value).any())
    if isinstance(value, np.ndarray):
        return bool(value.dtype.kind == "f" and np.isnan(value).any())
    if isinstance(value, float):
        return math.isnan(value)
    return False


def _from_our_code(err: BaseException) -> bool:
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(PACKAGE_DIR)


def run_case(case: Case) -> tuple[str, str]:
    """Run one case; return (outcome, detail)."""
    kwargs = {**case.entry.defaults, case.arg: case.value}
    names = case.entry.aliases.get(case.arg, (case.arg,))
    if case.label.startswith("random-len") and "y" in case.entry.defaults:
        names = (*names, "y")  # a batch of another length than its labels: naming either is clear
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = case.entry.call(**kwargs)
    except _Hang:
        return "other", f"hang (> {TIMEOUT_S} s)"
    except (ValueError, TypeError) as err:
        message = str(err)
        if not _from_our_code(err):
            where = traceback.extract_tb(err.__traceback__)[-1]
            return "other", f"{type(err).__name__} from {where.filename}:{where.lineno}: {message[:200]}"
        if not any(name in message for name in names):
            return "other", f"message does not name {names}: {message[:200]}"
        return "clear", message[:120]
    except Exception as err:  # noqa: BLE001 - classifying every failure is the point
        return "other", f"{type(err).__name__}: {str(err)[:200]}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    if _has_nan(result) and not case.entry.nan_ok:
        return "other", "NaN in the output"
    return "valid", ""


def _sample(cases: list[Case], per_arg: int, seed: int) -> list[Case]:
    """Up to ``per_arg`` cases per (entry, argument), chosen with a seeded generator."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple[str, str], list[Case]] = {}
    for c in cases:
        groups.setdefault((c.entry.name, c.arg), []).append(c)
    chosen: list[Case] = []
    for group in groups.values():
        idx = rng.permutation(len(group))[:per_arg]
        chosen.extend(group[i] for i in sorted(idx))
    return chosen


def _sweep(cases: list[Case]) -> Iterator[tuple[Case, str, str]]:
    for case in cases:
        outcome, detail = run_case(case)
        yield case, outcome, detail


def _report(cases: list[Case]) -> tuple[Counter[str], list[str]]:
    counts: Counter[str] = Counter()
    failures: list[str] = []
    for case, outcome, detail in _sweep(cases):
        counts[outcome] += 1
        if outcome == "other":
            failures.append(f"{case.id}: {detail}")
    return counts, failures


def test_fuzz_sample() -> None:
    """Fast sweep: 2 seeded cases per (entry point, argument)."""
    counts, failures = _report(_sample(_cases(), per_arg=2, seed=0))
    assert not failures, f"{counts}\n" + "\n".join(failures)
    assert counts["clear"] > 0 and counts["valid"] >= 0


@pytest.mark.slow
def test_fuzz_full_sweep(capsys: pytest.CaptureFixture[str]) -> None:
    """Every case plus 1000 seeded random array corruptions; prints the counts."""
    cases = _cases() + _random_variants(seed=1, count=1000)
    counts, failures = _report(cases)
    with capsys.disabled():
        print(
            f"\nfuzz sweep: {len(cases)} cases, {counts['clear']} clear error, "
            f"{counts['valid']} valid result, {counts['other']} other"
        )
        for line in failures:
            print("  OTHER", line)
    assert not failures, "\n".join(failures)
