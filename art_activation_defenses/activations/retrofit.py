"""Swap the ReLUs of a trained model for an activation defence.

Two mechanisms, chosen per call:

* **module swap** (the model keeps its class): every selected site is an ``nn.ReLU``
  module whose every call site is selected. Replaces the module with
  ``setattr`` on its parent.
* **torch.fx rewrite** (returns a ``torch.fx.GraphModule``): needed for functional
  ``F.relu`` / ``torch.relu`` / ``Tensor.relu`` calls, and for one ``nn.ReLU`` instance
  reused at several call sites when only some of them are selected. Each rewritten call
  site gets its own activation module under ``retrofit_activations``.

Sites are found by tracing the model with torch.fx. A model that torch.fx cannot trace
(data-dependent control flow) falls back to listing ``nn.ReLU`` modules, with a warning
that functional ReLU calls cannot be seen in it.
"""

from __future__ import annotations

import copy as _copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as TF
from torch import fx, nn

from art_activation_defenses.activations.modules import RetrofitActivation
from art_activation_defenses.activations.registry import activation_factory

__all__ = ["Site", "Retrofit", "relu_sites", "retrofit", "adopt"]

_RELU_FUNCTIONS: dict[Any, str] = {TF.relu: "relu", torch.relu: "relu", torch.relu_: "relu", TF.relu_: "relu"}
_RELU6_FUNCTIONS: dict[Any, str] = {TF.relu6: "relu6"}
_RELU_METHODS = {"relu": "relu", "relu_": "relu"}

ActivationSpec = str | RetrofitActivation | Callable[[], RetrofitActivation]
Original = Literal["relu", "relu6"]


@dataclass(frozen=True)
class Site:
    """One place where the model applies a ReLU.

    :param name: Unique, stable name: the module's qualified name (``"features.1"``), with
        ``"#k"`` appended when one module instance is called at several sites, or the
        torch.fx node name for functional calls (``"relu_1"``).
    :param kind: ``"module"``, ``"function"`` (``F.relu``/``torch.relu``) or ``"method"``
        (``Tensor.relu``).
    :param target: The module's qualified name, or the function/method name.
    :param index: Position in the order of execution.
    :param original: ``"relu"`` or ``"relu6"``.
    :param inplace: Whether the original call was in place.
    """

    name: str
    kind: Literal["module", "function", "method"]
    target: str
    index: int
    original: Literal["relu", "relu6"] = "relu"
    inplace: bool = False
    node: str | None = field(default=None, compare=False, repr=False)


@dataclass
class Retrofit:
    """Result of :func:`retrofit`: the new model, the replaced sites, the installed modules."""

    model: nn.Module
    sites: list[Site]
    modules: dict[str, RetrofitActivation]
    mechanism: Literal["module-swap", "torch.fx", "adopted"]

    def activations(self) -> list[RetrofitActivation]:
        """The distinct installed activation modules."""
        seen: dict[int, RetrofitActivation] = {}
        for module in self.modules.values():
            seen.setdefault(id(module), module)
        return list(seen.values())

    def set_params(self, **params: float) -> None:
        """Set activation parameters (e.g. ``kappa=1.0``) on every installed module."""
        for module in self.activations():
            module.set_params(**params)


class _Tracer(fx.Tracer):
    """Keeps our activations and ART-foreign leaf modules opaque."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if isinstance(m, (RetrofitActivation, nn.ReLU, nn.ReLU6)):
            return True
        return super().is_leaf_module(m, module_qualified_name)


def _trace(model: nn.Module) -> fx.Graph | None:
    try:
        return _Tracer().trace(model)
    except Exception as err:  # noqa: BLE001 - any tracing failure means "not traceable"
        warnings.warn(
            f"torch.fx could not trace {type(model).__name__} ({type(err).__name__}: {err}); only nn.ReLU "
            "modules are listed and functional F.relu/torch.relu/Tensor.relu calls, if any, "
            "are NOT replaced.",
            stacklevel=3,
        )
        return None


def _classify(node: fx.Node, model: nn.Module, include_relu6: bool) -> tuple[str, str, bool] | None:
    """(kind, original, inplace) when ``node`` applies a ReLU, else None."""
    if node.op == "call_module":
        module = model.get_submodule(str(node.target))
        if isinstance(module, nn.ReLU):
            return "module", "relu", bool(module.inplace)
        if include_relu6 and isinstance(module, nn.ReLU6):
            return "module", "relu6", bool(module.inplace)
    elif node.op == "call_function":
        if node.target in _RELU_FUNCTIONS:
            inplace = node.target in (torch.relu_, TF.relu_) or bool(node.kwargs.get("inplace", False))
            if len(node.args) > 1:
                inplace = inplace or bool(node.args[1])
            return "function", "relu", inplace
        if include_relu6 and node.target in _RELU6_FUNCTIONS:
            return "function", "relu6", bool(node.kwargs.get("inplace", False))
    elif node.op == "call_method" and node.target in _RELU_METHODS:
        return "method", "relu", str(node.target).endswith("_")
    return None


def _sites_from_graph(graph: fx.Graph, model: nn.Module, include_relu6: bool) -> list[Site]:
    found: list[tuple[fx.Node, str, str, bool]] = []
    for node in graph.nodes:
        hit = _classify(node, model, include_relu6)
        if hit is not None:
            found.append((node, *hit))
    module_uses: dict[str, int] = {}
    for node, kind, _, _ in found:
        if kind == "module":
            module_uses[str(node.target)] = module_uses.get(str(node.target), 0) + 1
    seen: dict[str, int] = {}
    sites = []
    for index, (node, kind, original, inplace) in enumerate(found):
        if kind == "module":
            target = str(node.target)
            k = seen.get(target, 0)
            seen[target] = k + 1
            name = target if module_uses[target] == 1 else f"{target}#{k}"
        else:
            target = getattr(node.target, "__name__", str(node.target))
            name = node.name
        sites.append(Site(name, kind, target, index, original, inplace, node.name))  # type: ignore[arg-type]
    return sites


def _sites_from_modules(model: nn.Module, include_relu6: bool) -> list[Site]:
    sites: list[Site] = []
    kinds = (nn.ReLU, nn.ReLU6) if include_relu6 else (nn.ReLU,)
    for name, module in model.named_modules():
        if isinstance(module, kinds):
            original = "relu6" if isinstance(module, nn.ReLU6) else "relu"
            sites.append(Site(name, "module", name, len(sites), original, bool(module.inplace)))  # type: ignore[arg-type]
    return sites


def relu_sites(model: nn.Module, *, include_relu6: bool = False) -> list[Site]:
    """List every place where ``model`` applies a ReLU, in execution order.

    Finds ``nn.ReLU`` modules (in-place or shared between call sites, at any depth) and
    functional ``F.relu`` / ``torch.relu`` / ``Tensor.relu`` calls (via torch.fx).
    ``LeakyReLU``, ``GELU`` etc. are never listed; ``ReLU6`` only with ``include_relu6``.

    :param model: The model to inspect (not modified).
    :param include_relu6: Also list ``nn.ReLU6`` / ``F.relu6`` sites.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"`model` must be a torch.nn.Module, got {type(model).__name__}.")
    graph = _trace(model)
    if graph is None:
        return _sites_from_modules(model, include_relu6)
    return _sites_from_graph(graph, model, include_relu6)


def _make_factory(
    activation: ActivationSpec, params: dict[str, Any]
) -> Callable[..., RetrofitActivation]:
    if isinstance(activation, str):
        # a partial of the class itself: the parameters reach the module's constructor directly
        return activation_factory(activation, **params)
    if params:
        raise ValueError(
            f"Activation parameters {sorted(params)} are only accepted with an activation name, "
            f"got an activation of type {type(activation).__name__}."
        )
    if isinstance(activation, RetrofitActivation):

        def from_template(*, original: Original) -> RetrofitActivation:
            module = _copy.deepcopy(activation)
            module.original = original
            return module

        return from_template
    if callable(activation):

        def from_factory(*, original: Original) -> RetrofitActivation:
            module = activation()
            if not isinstance(module, RetrofitActivation):
                raise ValueError(
                    f"`activation` factory must return a RetrofitActivation, got {type(module).__name__}."
                )
            module.original = original
            return module

        return from_factory
    raise ValueError(f"`activation` must be a name, a RetrofitActivation or a factory, got {activation!r}.")


def _select(sites: list[Site], layers: Sequence[str | int] | str | int | None) -> list[Site]:
    if layers is None:
        return list(sites)
    if isinstance(layers, (str, int)):
        layers = [layers]
    if not isinstance(layers, (list, tuple, range)) or len(layers) == 0:
        raise ValueError(
            f"`layers` == {layers!r}, must be None (all sites) or a non-empty list of site names or "
            f"indices; available: {[s.name for s in sites]}."
        )
    by_name = {s.name: s for s in sites}
    by_target: dict[str, list[Site]] = {}
    for s in sites:
        by_target.setdefault(s.target, []).append(s)
    chosen: dict[int, Site] = {}
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (str, int)):
            raise ValueError(f"`layers` entries must be site names or indices, got {layer!r}.")
        if isinstance(layer, int):
            if not -len(sites) <= layer < len(sites):
                raise ValueError(f"`layers` index {layer} is out of range for {len(sites)} ReLU sites.")
            site = sites[layer]
            chosen[site.index] = site
        elif layer in by_name:
            chosen[by_name[layer].index] = by_name[layer]
        elif layer in by_target and by_target[layer][0].kind == "module":
            for site in by_target[layer]:
                chosen[site.index] = site
        else:
            raise ValueError(
                f"`layers` entry {layer!r} is not a ReLU site; available: {[s.name for s in sites]}."
            )
    return [chosen[i] for i in sorted(chosen)]


def _module_swap(
    model: nn.Module, selected: list[Site], make: Callable[..., RetrofitActivation]
) -> dict[str, RetrofitActivation]:
    installed: dict[str, RetrofitActivation] = {}
    new_by_target: dict[str, RetrofitActivation] = {}
    for site in selected:
        if site.target not in new_by_target:
            new_by_target[site.target] = make(original=site.original)
        installed[site.name] = new_by_target[site.target]
    # Replace every attribute that refers to a replaced module instance (covers aliases too).
    old_to_new = {id(model.get_submodule(t)): m for t, m in new_by_target.items()}
    for parent in model.modules():
        for child_name, child in list(parent.named_children()):
            if id(child) in old_to_new:
                setattr(parent, child_name, old_to_new[id(child)])
    return installed


def _fx_rewrite(
    model: nn.Module, graph: fx.Graph, selected: list[Site], make: Callable[..., RetrofitActivation]
) -> tuple[fx.GraphModule, dict[str, RetrofitActivation]]:
    gm = fx.GraphModule(model, graph, class_name=type(model).__name__ + "Retrofit")
    order = {node: i for i, node in enumerate(gm.graph.nodes)}
    nodes = {node.name: node for node in gm.graph.nodes}
    container = nn.Module()
    gm.add_module("retrofit_activations", container)
    installed: dict[str, RetrofitActivation] = {}
    for i, site in enumerate(selected):
        node = nodes[str(site.node)]
        module = make(original=site.original)
        container.add_module(f"site{i}", module)
        installed[site.name] = module
        source = node.args[0] if node.args else node.kwargs.get("input")
        if not isinstance(source, fx.Node):
            raise ValueError(f"Cannot rewrite ReLU site {site.name!r}: its input is not a traced tensor.")
        with gm.graph.inserting_after(node):
            new = gm.graph.call_module(f"retrofit_activations.site{i}", args=(source,))
        node.replace_all_uses_with(new)
        if site.inplace:
            # Later readers of the mutated tensor must see the activation's output.
            position = order[node]

            def later_reader(user: fx.Node, p: int = position, n: fx.Node = new) -> bool:
                return user is not n and order.get(user, -1) > p

            source.replace_all_uses_with(new, delete_user_cb=later_reader)
        gm.graph.erase_node(node)
    gm.graph.lint()
    gm.recompile()
    return gm, installed


def retrofit(
    model: nn.Module,
    activation: ActivationSpec,
    *,
    layers: Sequence[str | int] | str | int | None = None,
    copy: bool = True,
    include_relu6: bool = False,
    **params: Any,
) -> Retrofit:
    """Replace the ReLUs of a trained ``model`` by an activation defence, without retraining.

    >>> fitted = retrofit(model, "jumprelu", kappa=1.0)
    >>> fitted.model, [s.name for s in fitted.sites]

    :param model: A trained ``nn.Module``; untouched unless ``copy=False``.
    :param activation: A registry name (``"jumprelu"``, ``"randomized-jumprelu"``,
        ``"brelu"``, ``"capped"``, ``"srelu"``), a template module (deep-copied per site)
        or a factory returning a fresh module.
    :param layers: Sites to replace, by name (see :func:`relu_sites`) or index; ``None``
        replaces all. A module name selects all call sites of that module.
    :param copy: Work on a deep copy (default). ``copy=False`` edits ``model`` itself
        where a module swap suffices.
    :param include_relu6: Treat ``ReLU6`` as a ReLU site too.
    :param params: Activation parameters for a registry name, e.g. ``kappa=1.0``.
    :return: :class:`Retrofit` with ``.model``, ``.sites`` and ``.modules``.
    :raises ValueError: no ReLU site, unknown activation, parameter or layer.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"`model` must be a torch.nn.Module, got {type(model).__name__}.")
    make = _make_factory(activation, params)
    if isinstance(activation, str):
        make(original="relu")  # check the parameter values once, eagerly, before any copy
    work = _copy.deepcopy(model) if copy else model
    graph = _trace(work)
    sites = (
        _sites_from_modules(work, include_relu6)
        if graph is None
        else _sites_from_graph(graph, work, include_relu6)
    )
    if not sites:
        hint = ""
        if not include_relu6 and any(isinstance(m, nn.ReLU6) for m in work.modules()):
            hint = " It has ReLU6 modules: pass include_relu6=True to replace them."
        raise ValueError(f"`model` ({type(model).__name__}) has no ReLU site to retrofit.{hint}")
    selected = _select(sites, layers)
    all_by_target: dict[str, int] = {}
    for s in sites:
        all_by_target[s.target] = all_by_target.get(s.target, 0) + 1
    sel_by_target: dict[str, int] = {}
    for s in selected:
        sel_by_target[s.target] = sel_by_target.get(s.target, 0) + 1
    swap_ok = all(s.kind == "module" and sel_by_target[s.target] == all_by_target[s.target] for s in selected)
    if swap_ok:
        installed = _module_swap(work, selected, make)
        return Retrofit(work, selected, installed, "module-swap")
    if graph is None:  # pragma: no cover - functional sites only exist in traced graphs
        raise RuntimeError("internal error: torch.fx rewrite requested without a traced graph")
    gm, installed = _fx_rewrite(work, graph, selected, make)
    gm.train(work.training)
    return Retrofit(gm, selected, installed, "torch.fx")


def adopt(
    model: nn.Module, activation_cls: type[RetrofitActivation], *, copy: bool = True, **params: Any
) -> Retrofit:
    """Wrap a model that already uses ``activation_cls`` modules (e.g. trained with bounded ReLU
    from the start, or retrofitted earlier) as a :class:`Retrofit`, without replacing anything.

    :param model: The model; deep-copied unless ``copy=False``.
    :param activation_cls: The activation class to look for (exact type, not subclasses).
    :param params: Activation parameters to set on the adopted modules (e.g. ``t=1.0``).
    :raises ValueError: no module of that class in the model.
    """
    work = _copy.deepcopy(model) if copy else model
    found = [(name, m) for name, m in work.named_modules() if type(m) is activation_cls]
    if not found:
        raise ValueError(
            f"`model` ({type(model).__name__}) has no {activation_cls.__name__} module to adopt."
        )
    sites = [Site(name, "module", name, i, m.original) for i, (name, m) in enumerate(found)]  # type: ignore[arg-type]
    fitted = Retrofit(work, sites, {name: m for name, m in found}, "adopted")
    if params:
        fitted.set_params(**params)
    return fitted
