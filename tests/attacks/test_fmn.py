"""FMN (fast minimum-norm attack), L2 and L∞: closed form on linear models, digits, contract, checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from art.attacks.evasion import ProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.attacks import FMN, FMNL2, DeepFool, FMNLinf

NORMS = [(2, 2.0, 2.0), (np.inf, np.inf, 1.0)]  # (norm, primal ord, dual ord)


@pytest.fixture(scope="module")
def linear() -> tuple[Any, np.ndarray, np.ndarray]:
    """A random 20 -> 6 linear classifier with a box far away (inactive), weights and bias (float64)."""
    torch.manual_seed(0)
    model = nn.Linear(20, 6)
    clf = PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=(20,),
        nb_classes=6,
        clip_values=(-1e3, 1e3),
        device_type="cpu",
    )
    return clf, model.weight.detach().double().numpy(), model.bias.detach().double().numpy()


def _boundaries(w: np.ndarray, b: np.ndarray, x: np.ndarray, dual_ord: float) -> tuple[np.ndarray, ...]:
    """Closed form: per sample, the distance |f_k − f_y| / ||w_k − w_y||_q to each class k's boundary
    (q the dual norm, y = argmax f), its minimum, the class reaching it and the runner-up class."""
    f = x.astype(np.float64) @ w.T + b
    rows = np.arange(len(x))
    y = f.argmax(1)
    with np.errstate(invalid="ignore"):  # 0 / 0 in the column of y itself
        dist = np.abs(f - f[rows, y][:, None]) / np.linalg.norm(w[None] - w[y][:, None], ord=dual_ord, axis=2)
    dist[rows, y] = np.inf
    runner = np.where(np.arange(f.shape[1])[None] == y[:, None], -np.inf, f).argmax(1)
    return dist.min(1), dist.argmin(1), runner


@pytest.mark.parametrize(("norm", "primal", "dual"), NORMS)
def test_linear_model_closed_form(
    linear: tuple[Any, np.ndarray, np.ndarray], norm: float, primal: float, dual: float
) -> None:
    """FMN reaches the exact minimal distance |f_k − f_y| / ||w_k − w_y||_q on a linear model.

    FMN descends the logit margin, which follows the runner-up class: the closed form is its
    result wherever the nearest boundary is the runner-up's (the check below asserts that holds
    for most points); everywhere it must be adversarial and never closer than the minimum.
    """
    clf, w, b = linear
    x = np.random.default_rng(0).normal(size=(64, 20)).astype(np.float32)
    attack = FMN(clf, norm=norm, verbose=False)
    x_adv = attack.generate(x)
    assert np.all(attack.found_) and np.all(attack.iterations_ == 100)
    assert np.all(clf.predict(x_adv).argmax(1) != clf.predict(x).argmax(1))
    got = np.linalg.norm((x_adv - x).astype(np.float64), ord=primal, axis=1)
    expected, nearest, runner = _boundaries(w, b, x, dual)
    sel = nearest == runner
    assert sel.sum() >= 50
    # measured: relative error <= 1e-4 (L2 and L∞) after 100 steps and 10 bisections
    np.testing.assert_allclose(got[sel], expected[sel], rtol=1e-3)
    assert np.all(got >= expected * (1 - 1e-4))


@pytest.mark.parametrize("norm", [2, np.inf])
def test_fools_trained_digits_model(
    norm: float, classifier: Any, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    """≥ 99% of 100 held-out digits fooled, at the boundary; ART's PGD (50 steps, independent) at the
    median FMN distance ``r`` fools almost no sample whose FMN distance exceeds ``r``."""
    x = digits[0][1500:1600]
    pred = classifier.predict(x).argmax(1)
    x_adv = FMN(classifier, norm=norm, verbose=False).generate(x, pred)
    fooled = classifier.predict(x_adv).argmax(1) != pred
    assert fooled.mean() >= 0.99
    # on the boundary along its ray: 0.995 δ is no longer adversarial (measured: 0 of 100;
    # without the final bisection 24 of 100 for L∞)
    x_in = (x + 0.995 * (x_adv - x)).astype(np.float32)
    assert np.sum(classifier.predict(x_in).argmax(1) != pred) <= 2
    dist = np.linalg.norm((x_adv - x).reshape(len(x), -1), ord=norm, axis=1)
    r = float(np.median(dist))
    pgd = ProjectedGradientDescent(
        classifier, norm=norm, eps=r, eps_step=r / 8, max_iter=50, batch_size=100, verbose=False
    )
    pgd_fooled = classifier.predict(pgd.generate(x, np.eye(10)[pred])).argmax(1) != pred
    # measured: 0 of 100 (L2 and L∞); FMN with 3 steps and no final bisection: 5 (L2), 6 (L∞)
    assert np.sum(pgd_fooled & (dist > r * (1 + 1e-4))) <= 2


def test_contract_input_unchanged_dtype_shape_mode(
    classifier: Any, test_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = test_batch
    x64 = x.astype(np.float64)
    before = x64.copy()
    model = classifier.model
    model.train()
    attack = FMNLinf(classifier, steps=20, verbose=False)
    x_adv = attack.generate(x64, np.eye(10)[y])
    assert model.training
    model.eval()
    np.testing.assert_array_equal(x64, before)
    assert x_adv.dtype == np.float32 and x_adv.shape == x.shape
    assert 0.0 <= x_adv.min() and x_adv.max() <= 1.0
    assert attack.iterations_.shape == (len(x),) and attack.found_.shape == (len(x),)


def test_misclassified_samples_are_returned_unchanged(
    classifier: Any, test_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = test_batch
    pred = classifier.predict(x).argmax(1)
    wrong = pred.copy()
    wrong[:5] = (pred[:5] + 1) % 10  # labels the model already disagrees with
    attack = FMNL2(classifier, steps=10, verbose=False)
    x_adv = attack.generate(x, wrong)
    np.testing.assert_array_equal(x_adv[:5], x[:5])
    assert np.all(attack.iterations_[:5] == 0) and np.all(attack.iterations_[5:] == 10)
    assert np.all(attack.found_[:5])


def test_targeted(classifier: Any, test_batch: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = test_batch
    target = (y + 1) % 10
    attack = FMN(classifier, norm=2, steps=50, targeted=True, verbose=False)
    x_adv = attack.generate(x, target)
    assert np.mean(classifier.predict(x_adv).argmax(1) == target) >= 0.95
    with pytest.raises(ValueError, match="target labels"):
        attack.generate(x)


def test_init_from_deepfool_never_ends_farther(
    classifier: Any, test_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    """Started from DeepFool's points (all adversarial), FMN returns points at most as far."""
    x, _ = test_batch
    pred = classifier.predict(x).argmax(1)
    x_df = DeepFool(classifier, norm=2, refine_steps=0, projection_steps=0, verbose=False).generate(x, pred)
    assert np.all(classifier.predict(x_df).argmax(1) != pred)
    x_adv = FMN(classifier, norm=2, steps=10, init=x_df, verbose=False).generate(x, pred)
    assert np.all(classifier.predict(x_adv).argmax(1) != pred)
    d_df = np.linalg.norm((x_df - x).reshape(len(x), -1), axis=1)
    d_fmn = np.linalg.norm((x_adv - x).reshape(len(x), -1), axis=1)
    assert np.all(d_fmn <= d_df + 1e-6) and d_fmn.mean() < 0.95 * d_df.mean()


def _saturated_classifier(make_classifier: Any) -> Any:
    """A capped-ReLU net whose hidden units all sit on their cap at the data: zero input gradients."""
    torch.manual_seed(0)
    hidden = nn.Linear(64, 16)
    with torch.no_grad():
        hidden.weight.mul_(0.1)
        hidden.bias.fill_(0.6)
    return make_classifier(
        nn.Sequential(nn.Flatten(), hidden, nn.Hardtanh(0.0, 0.05), nn.Linear(16, 10)).eval()
    )


def _numpy_global_state() -> np.ndarray:
    state = np.random.get_state(legacy=True)  # noqa: NPY002 (reading it is the point)
    assert isinstance(state, tuple)
    return np.asarray(state[1]).copy()


def test_seeded_and_global_rng_untouched(
    make_classifier: Any, test_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    """Random directions at zero gradients come from the private generator only."""
    clf = _saturated_classifier(make_classifier)
    x, _ = test_batch
    x = x[:8]
    torch_state, np_state = torch.get_rng_state(), _numpy_global_state()
    runs = [FMN(clf, norm=2, steps=5, seed=s, verbose=False).generate(x) for s in (3, 3, 4)]
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(_numpy_global_state(), np_state)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    assert not np.array_equal(runs[0], x)


@pytest.mark.parametrize("gradient", ["exact", "bpda"])
def test_runs_on_retrofit_classifier(
    gradient: str, trained_model: nn.Module, test_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    module = pytest.importorskip("art_activation_defenses.estimators.retrofit_classifier")
    clf = module.RetrofitClassifier(
        trained_model,
        nn.CrossEntropyLoss(),
        (1, 8, 8),
        10,
        clip_values=(0.0, 1.0),
        activation="jumprelu",
        kappa=0.1,
        gradient=gradient,
    )
    x, _ = test_batch
    x = x[:16]
    pred = clf.predict(x).argmax(1)
    x_adv = FMN(clf, norm=2, steps=30, verbose=False).generate(x, pred)
    assert np.mean(clf.predict(x_adv).argmax(1) != pred) >= 0.9


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"norm": 1}, "norm"),
        ({"steps": 0}, "steps"),
        ({"alpha_init": -1.0}, "alpha_init"),
        ({"alpha_final": 0.0}, "alpha_final"),
        ({"gamma_init": 1.0}, "gamma_init"),
        ({"gamma_final": -0.1}, "gamma_final"),
        ({"init": "random"}, "init"),
        ({"init": [0.0]}, "init"),
        ({"binary_search_steps": -1}, "binary_search_steps"),
        ({"seed": -1}, "seed"),
        ({"batch_size": 0}, "batch_size"),
        ({"targeted": "yes"}, "targeted"),
    ],
)
def test_bad_parameters(kwargs: dict[str, Any], name: str, classifier: Any) -> None:
    with pytest.raises(ValueError, match=name):
        FMN(classifier, **kwargs)


def test_bad_generate_arguments(classifier: Any, test_batch: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = test_batch
    with pytest.raises(ValueError, match="init"):
        FMN(classifier, init=x[:3].copy(), verbose=False).generate(x)
    with pytest.raises(ValueError, match="norm"):
        FMNL2(classifier, norm=np.inf)
    with pytest.raises(ValueError, match="norm"):
        FMNLinf(classifier, norm=2)
    with pytest.raises(ValueError, match="unexpected keyword"):
        FMN(classifier, verbose=False).generate(x, eps=0.1)
