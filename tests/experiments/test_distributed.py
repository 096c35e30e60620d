"""Cells on a local 2-worker Ray: the same store and tables as serially, failures named and resumable.

One Ray session serves the whole module (start-up takes 5-20 s on 2 shared cores); every test
that needs it takes the ``ray_executor`` fixture.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from art_activation_defenses.experiments.distributed import (
    CellFailedError,
    RayExecutor,
    dumps_compute,
    loads_compute,
)
from art_activation_defenses.experiments.protocol import ModelRecipe, Paper, Run, Step
from art_activation_defenses.experiments.runner import CellStore, ExperimentContext, run_grid, run_paper

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_executor() -> Iterator[RayExecutor]:
    # the cells below are this module's functions: workers cannot import a test module, so send them by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    executor = RayExecutor(workers=2)
    try:
        yield executor
    finally:
        executor.close()
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


# -- a tiny paper: an MLP on digits, a noise step and an FGSM step that reads the first step's records


def _build(run: Run) -> nn.Module:
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 24), nn.ReLU(), nn.Linear(24, 10))
    gen = torch.Generator().manual_seed(run.seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=gen))
    return model


def _train(run: Run, model: nn.Module) -> dict[str, Any]:
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    x, y = torch.from_numpy(run.d.x_train), torch.from_numpy(run.d.y_train)
    for _ in range(40):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return {"steps": 40}


def _prepare(run: Run) -> None:
    from art.estimators.classification import PyTorchClassifier

    run.state["clf"] = PyTorchClassifier(
        run.models["mlp"], nn.CrossEntropyLoss(), (1, 8, 8), 10, clip_values=(0.0, 1.0), device_type="cpu"
    )


def _noise_cells(run: Run) -> list[dict[str, Any]]:
    return [{"sigma": s, "draw": d} for s in (0.1, 0.3) for d in (0, 1)]


def _noise_cell(run: Run, cell: Mapping[str, Any]) -> dict[str, Any]:
    rng = np.random.default_rng([run.seed, cell["draw"]])
    x = np.clip(run.d.x + rng.normal(0.0, cell["sigma"], run.d.x.shape), 0.0, 1.0).astype(np.float32)
    pred = run.state["clf"].predict(x).argmax(1)
    return {"acc": float((pred == run.d.y).mean()), "logit_sum": float(run.state["clf"].predict(x).sum())}


def _fgsm_cells(run: Run) -> list[dict[str, Any]]:
    worst = min(r["acc"] for r in run.results("noise"))  # a later step reads an earlier one's records
    return [{"eps": eps, "noise_floor": round(worst, 4)} for eps in (0.05, 0.1, 0.2)]


def _fgsm_cell(run: Run, cell: Mapping[str, Any]) -> dict[str, Any]:
    from art.attacks.evasion import FastGradientMethod

    attack = FastGradientMethod(run.state["clf"], eps=cell["eps"], batch_size=64)
    x_adv = attack.generate(run.d.x, y=np.eye(10, dtype=np.float32)[run.d.y])
    return {"acc": float((run.state["clf"].predict(x_adv).argmax(1) == run.d.y).mean())}


def _rows(run: Run) -> dict[str, Any]:
    return {"rows": [{**r["cell"], **r["result"]} for step in ("noise", "fgsm") for r in run.records[step]]}


SPEC = Paper(
    name="synthetic",
    description="a tiny spec for the executor tests",
    settings={None: {True: {"dataset": "digits", "n_train": 300, "n_val": 0, "n_eval": 60}}},
    models=lambda run: {"mlp": ModelRecipe(_build, _train, {"hidden": 24, "steps": 40}, "mlp")},
    prepare=_prepare,
    steps=[
        Step("noise", "noise", _noise_cells, _noise_cell),
        Step("fgsm", "fgsm", _fgsm_cells, _fgsm_cell),
    ],
    assemble=_rows,
    tables=lambda data: [{"name": "t", "title": "all", "columns": [["acc", "acc"]], "rows": data["rows"]}],
    summary=lambda data: f"{len(data['rows'])} rows",
    notes=lambda data: [],
    title=lambda run: "synthetic",
)


def _cells(store: CellStore) -> dict[str, Any]:
    """The store's contents that must not depend on how it was run: cell -> result."""
    return {str(r["cell"]): r["result"] for r in store.records()}


def test_paper_on_ray_matches_serial(ray_executor: RayExecutor, tmp_path: Path) -> None:
    results = {}
    stores = {}
    for mode, executor in (("serial", None), ("ray", ray_executor)):
        ctx = ExperimentContext(
            "synthetic", tmp_path / mode, quick=True, verbose=False, device="cpu", executor=executor
        )
        results[mode] = run_paper(SPEC, ctx)
        stores[mode] = ctx.store
    assert len(stores["ray"]) == 7
    assert _cells(stores["ray"]) == _cells(stores["serial"])
    assert results["ray"]["tables"] == results["serial"]["tables"]
    accs = [r["acc"] for r in results["serial"]["tables"][0]["rows"]]
    assert len(set(accs)) > 2 and max(accs) > 0.5  # a real computation, not constants
    # a second executor in the same process uses the running Ray and leaves it running on close
    with RayExecutor(workers=1) as guest:
        assert guest.slots == 1
    assert ray.is_initialized()


def _logged(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def test_failed_cell_keeps_the_others_and_a_rerun_resumes(ray_executor: RayExecutor, tmp_path: Path) -> None:
    log, store_path = tmp_path / "computed.txt", tmp_path / "cells.json"
    cells = [{"i": i} for i in range(12)]

    def compute(cell: Mapping[str, Any], fail: bool = True) -> dict[str, int]:
        if fail and cell["i"] == 2:
            raise RuntimeError("cell two is broken")
        time.sleep(0.2)
        with open(log, "a") as f:  # the workers share this machine's disk
            f.write(f"{cell['i']}\n")
        return {"square": cell["i"] ** 2}

    expected = r'Cell \{"i":2\} failed on a Ray worker: RuntimeError: cell two is broken'
    with pytest.raises(CellFailedError, match=expected) as info:
        run_grid(cells, compute, CellStore(store_path), verbose=False, executor=ray_executor)
    assert info.value.cell == {"i": 2} and isinstance(info.value.cause, RuntimeError)
    first = _logged(log)
    stored = sorted(r["cell"]["i"] for r in CellStore(store_path).records())
    assert stored == sorted(first) and 2 not in stored
    assert {0, 1} <= set(stored)  # those before it were kept (and any in flight beside it) ...
    assert len(stored) < 11  # ... but no new cell was submitted once the failure was seen

    records = run_grid(
        cells, lambda c: compute(c, fail=False), CellStore(store_path), verbose=False, executor=ray_executor
    )
    assert [r["result"]["square"] for r in records] == [i * i for i in range(12)]
    again = _logged(log)[len(first) :]
    assert sorted(again) == sorted(set(range(12)) - set(first))  # only the missing cells were computed


def test_a_killed_worker_is_retried(ray_executor: RayExecutor, tmp_path: Path) -> None:
    marker = tmp_path / "killed-once"

    def compute(cell: Mapping[str, Any]) -> dict[str, int]:
        if cell["i"] == 1 and not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies mid-cell, like a kill -9
        return {"i": cell["i"]}

    store = CellStore(tmp_path / "cells.json")
    records = run_grid([{"i": i} for i in range(3)], compute, store, verbose=False, executor=ray_executor)
    assert marker.exists() and [r["result"]["i"] for r in records] == [0, 1, 2]


def test_classifiers_travel_by_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from art import config
    from art.estimators.classification import PyTorchClassifier

    monkeypatch.setattr(config, "ART_DATA_PATH", str(tmp_path))  # where ART's own pickling writes files
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    clf = PyTorchClassifier(model, nn.CrossEntropyLoss(), (4,), 3, optimizer=opt, device_type="cpu")
    x = np.random.default_rng(0).random((20_000, 4), dtype=np.float32)
    stream, buffers = dumps_compute(lambda: (clf, x))
    assert [b.nbytes for b in buffers] == [x.nbytes]  # the array travels out of band
    copy = loads_compute(stream, buffers)()
    assert list(tmp_path.iterdir()) == []  # no model files written
    clf2, x2 = copy
    assert type(clf2) is PyTorchClassifier and clf2.model is not model
    np.testing.assert_array_equal(clf2.predict(x2), clf.predict(x))
    assert clf2.optimizer.param_groups[0]["params"][0] is next(clf2.model.parameters())  # still bound


def test_errors_name_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="workers"):
        RayExecutor(workers=0)
    with pytest.raises(ValueError, match="gpus_per_task"):
        RayExecutor(workers=1, gpus_per_task=2.0)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(ImportError, match=r'pip install -e "\.\[ray\]"'):
        RayExecutor(workers=2)


@pytest.mark.slow
def test_quick_reproduction_on_ray_matches_serial(ray_executor: RayExecutor, tmp_path: Path) -> None:
    from art_activation_defenses.experiments import reproduce

    serial = reproduce("capped", quick=True, out=tmp_path / "serial", verbose=False)
    ray_run = reproduce("capped", quick=True, out=tmp_path / "ray", verbose=False, workers=2)
    assert ray_run["tables"] == serial["tables"]
    stores = [CellStore(tmp_path / mode / "cells.json") for mode in ("serial", "ray")]
    assert _cells(stores[1]) == _cells(stores[0])
    assert ray.is_initialized()  # reproduce's executor used this module's Ray and left it running
