"""Run the cells of an evaluation grid on Ray: a local pool of worker processes or a cluster.

:class:`RayExecutor` is an :class:`~art_activation_defenses.experiments.runner.Executor`: the
runner hands it the cells not yet in the store and a ``done`` callback, and every finished cell
is stored by the driver (atomically) the moment it arrives. Killing a worker or the driver
therefore loses only the cells in progress, and running the same command again resumes.

>>> from art_activation_defenses.experiments import reproduce
>>> results = reproduce("capped", quick=True, workers=2)  # same results.json as workers=None

How it runs: ``compute`` (it closes over the run: data, trained models, shared state) is
serialised once per grid and put in Ray's object store; one task per cell computes it with one
torch thread and returns ``(result, seconds)``. Each worker process deserialises ``compute`` once
per grid, so the cells a worker computes share one copy of the run (models and classifiers; the
numpy arrays are shared read-only between the workers of a node), just as serial cells share the
driver's. Models are trained once, in the driver, before any step. A worker that dies mid-cell
is replaced and its cell retried (3 times); a cell that raises stops the grid (see :meth:`map`).
Models on CUDA stay there: each task requests a share of the GPUs (``gpus_per_task``).

Determinism: a cell's result must depend only on the cell and the run (its own seeds), not on
global RNG state or run state left by earlier cells (workers' copies of the run do not see each
other's changes, nor the driver's). Then serial and distributed runs give the same results, bit
for bit, when the driver also uses one torch thread (as the tests do).

Needs the ``ray`` extra: ``pip install -e ".[ray]"``. On a cluster every node needs this package
installed (same versions); the data and models travel in the serialised ``compute``.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from art.estimators.classification import PyTorchClassifier

from art_activation_defenses.experiments.runner import Compute, Done, cell_key

__all__ = ["RayExecutor", "CellFailedError", "dumps_compute", "loads_compute"]

logger = logging.getLogger(__name__)

_INSTALL_HINT = 'Running cells on Ray needs the `ray` extra: pip install -e ".[ray]" (or pip install ray).'

#: Per worker process: the ``compute`` of the current grid, deserialised once (object id -> function).
_WORKER_COMPUTE: dict[str, Callable[[Mapping[str, Any]], Mapping[str, Any]]] = {}


class CellFailedError(RuntimeError):
    """A cell's ``compute`` raised on a Ray worker; ``cell`` names it, ``__cause__`` holds the
    worker's error (with its remote traceback). Every other finished cell was stored first."""

    def __init__(self, cell: Mapping[str, Any], cause: BaseException) -> None:
        self.cell = dict(cell)
        inner = getattr(cause, "cause", None) or cause  # RayTaskError -> the exception compute raised
        self.cause = inner
        super().__init__(f"Cell {cell_key(cell)} failed on a Ray worker: {type(inner).__name__}: {inner}")


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    return ray


class RayExecutor:
    """Computes cells as Ray tasks; the driver stores each finished cell at once.

    :param workers: Local mode: start a Ray with this many CPUs (one cell each at a time;
        default: all cores). With ``address``: at most this many cells in flight (default: the
        cluster's CPUs).
    :param address: Connect to an existing Ray cluster (``"auto"``, ``"host:port"``,
        ``"ray://host:10001"``) instead of starting a local one.
    :param gpus_per_task: GPUs each cell requests. ``None``: an equal share of the cluster's
        GPUs per worker slot (0 without GPUs), so workers see the GPU when models live on CUDA.
    :param init_kwargs: Further ``ray.init`` keywords (they override the defaults below).

    The local Ray is quiet and private: no dashboard, workers' output not forwarded to the
    driver (a failing cell's traceback is, in the error), Ray's own messages from level
    ``ERROR``, usage statistics off (nothing is sent anywhere). A Ray already running in this
    process (``ray.is_initialized()``) is used as it is. Only an executor that started Ray
    shuts it down, in :meth:`close` (also on ``with`` exit).
    :raises ImportError: Ray is not installed (the message names the extra to install).
    :raises ValueError: ``workers`` or ``gpus_per_task`` is not valid.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        address: str | None = None,
        gpus_per_task: float | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"`workers` must be a positive integer or None, got {workers!r}.")
        if gpus_per_task is not None and not 0.0 <= float(gpus_per_task) <= 1.0:
            raise ValueError(f"`gpus_per_task` must be in [0, 1] or None, got {gpus_per_task!r}.")
        ray = _import_ray()
        self.workers, self.address = workers, address
        self._owns_ray = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "logging_level": logging.ERROR,
                "log_to_driver": False,
                "ignore_reinit_error": True,
            }
            if address is None:
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
                kwargs.update(address="local", num_cpus=workers)  # a new Ray, even if one runs here
            else:
                kwargs["address"] = address
            kwargs.update(init_kwargs or {})
            start = time.perf_counter()
            ray.init(**kwargs)
            self._owns_ray = True
            logger.info("Ray started in %.1f s: %s", time.perf_counter() - start, ray.cluster_resources())
        resources = ray.cluster_resources()
        self.slots = int(workers or max(1, int(resources.get("CPU", 1))))
        gpus = float(resources.get("GPU", 0.0))
        share = min(1.0, gpus / self.slots) if gpus else 0.0
        self.gpus_per_task = float(gpus_per_task) if gpus_per_task is not None else share

    def map(self, cells: list[dict[str, Any]], compute: Compute, done: Done) -> None:
        """Compute ``cells`` on the workers (at most :attr:`slots` in flight, submitted in order) and
        call ``done(cell, result, seconds)`` here as each finishes.

        :raises CellFailedError: a cell raised; no further cells are submitted, the ones in flight
            are finished and stored first.
        """
        if not cells:
            return
        ray = _import_ray()
        # a worker that dies mid-cell (killed, out of memory) is replaced and its cell retried
        task = ray.remote(_compute_cell).options(num_cpus=1, num_gpus=self.gpus_per_task, max_retries=3)
        blob = ray.put(dumps_compute(compute))
        pending: dict[Any, dict[str, Any]] = {}
        queue = iter(cells)
        failure: CellFailedError | None = None
        try:
            while True:
                while failure is None and len(pending) < self.slots:
                    cell = next(queue, None)
                    if cell is None:
                        break
                    pending[task.remote([blob], cell)] = cell
                if not pending:
                    break
                ready, _ = ray.wait(list(pending), num_returns=1)
                cell = pending.pop(ready[0])
                try:
                    result, seconds = ray.get(ready[0])
                except ray.exceptions.RayError as err:  # compute raised, or its worker died for good
                    logger.error("Cell %s failed: %s", cell_key(cell), err)
                    if failure is None:
                        failure = CellFailedError(cell, err)
                        failure.__cause__ = err
                    continue
                done(cell, result, seconds)
        except BaseException:  # interrupted (or `done` failed): the stored cells stay stored
            for ref in pending:
                ray.cancel(ref)
            raise
        finally:
            del blob
        if failure is not None:
            raise failure

    def close(self) -> None:
        """Shut Ray down if this executor started it (otherwise leave it running)."""
        if self._owns_ray:
            ray = _import_ray()
            if ray.is_initialized():
                ray.shutdown()
            self._owns_ray = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        """A copy (in a pickled ``compute``, via the run's context) never shuts Ray down."""
        return {**self.__dict__, "_owns_ray": False}


def _compute_cell(
    holder: list[Any], cell: Mapping[str, Any]
) -> tuple[Mapping[str, Any], float]:  # runs in a Ray worker
    """One task: ``compute(cell)`` with one torch thread; ``compute`` is deserialised once per grid."""
    import ray
    import torch

    torch.set_num_threads(1)  # a worker process per core: one intra-op thread each
    ref = holder[0]  # wrapped in a list so that Ray passes the reference, not the bytes
    key = ref.hex()
    compute = _WORKER_COMPUTE.get(key)
    if compute is None:
        _WORKER_COMPUTE.clear()  # an earlier grid's run
        compute = loads_compute(*ray.get(ref))
        _WORKER_COMPUTE[key] = compute
    start = time.perf_counter()
    result = compute(cell)
    return dict(result), time.perf_counter() - start


def dumps_compute(compute: Callable[..., Any]) -> tuple[bytes, list[np.ndarray]]:
    """``compute`` and everything it closes over (cloudpickle: lambdas and closures too), as the
    pickle stream and its large contiguous buffers (numpy data, out of band: Ray's object store
    shares them, read-only, between the workers of a node instead of copying them into each).

    ART's ``PyTorchClassifier`` (and subclasses) pickle themselves by saving the model to a file
    in ``ART_DATA_PATH`` and reloading it on the default device; here they travel by value
    instead, on the device they live on, with their model and optimiser.
    """
    stream = io.BytesIO()
    buffers: list[pickle.PickleBuffer] = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:  # False: out of band
        if buffer.raw().nbytes < _OUT_OF_BAND_BYTES:
            return True
        buffers.append(buffer)
        return False

    _pickler_class()(stream, protocol=5, buffer_callback=out_of_band).dump(compute)
    return stream.getvalue(), [np.frombuffer(b.raw(), dtype=np.uint8) for b in buffers]


def loads_compute(stream: bytes, buffers: list[np.ndarray]) -> Any:
    """Inverse of :func:`dumps_compute`."""
    return pickle.loads(stream, buffers=buffers)


_PICKLER: list[type] = []
_OUT_OF_BAND_BYTES = 1 << 16  # smaller arrays stay in the pickle stream


def _pickler_class() -> type:
    """Ray's cloudpickle ``Pickler`` that sends ART PyTorch classifiers by value (made once)."""
    if not _PICKLER:
        from ray import cloudpickle

        class _Pickler(cloudpickle.Pickler):  # type: ignore[misc, name-defined]
            def reducer_override(self, obj: Any) -> Any:
                if isinstance(obj, PyTorchClassifier):
                    return _reduce_classifier(obj)
                return super().reducer_override(obj)

        _PICKLER.append(_Pickler)
    return _PICKLER[0]


def _rebuild_classifier(cls: type[PyTorchClassifier], state: dict[str, Any], model: Any) -> PyTorchClassifier:
    """Inverse of the reduction in :func:`_reduce_classifier`: a new wrapper around ``model``."""
    obj: Any = object.__new__(cls)
    obj.__dict__.update(state)
    obj._model = obj._make_model_wrapper(model)
    return obj


def _reduce_classifier(obj: PyTorchClassifier) -> tuple[Any, ...]:
    state = dict(obj.__dict__)
    state.pop("_model_wrapper", None)  # a class defined inside ART's method: rebuilt on load
    wrapper = state.pop("_model")
    return _rebuild_classifier, (type(obj), state, wrapper._model)
