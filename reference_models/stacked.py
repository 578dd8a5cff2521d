"""Several models of one architecture trained as one: stacked parameters, vmapped networks, stacked optimisers.

StarGAN's baselines train one small two-domain model per attribute-value pair (12 CycleGANs on the faces task).
Stepped one by one, each pair's step is hundreds of tiny kernels, so a GPU waits on the host (launch-bound). Stacked,
every parameter of the M pair models becomes one ``(M, ...)`` tensor (``torch.func.stack_module_state``), each network
runs once for all models as ``torch.func.vmap`` over ``functional_call`` (convolutions become one grouped
convolution), and each optimiser group is one optimiser over the stacked tensors.

The recipe is the models' own: each model's losses are computed on its own slice exactly as its step computes them
and summed over models only for the backward pass, so every model's gradient is its own; Adam is elementwise, so one
Adam over stacked tensors with the models' hyper-parameters is each model's Adam; the LR schedule is the models'
(``LambdaLR`` with their factor function). Results equal the one-by-one step's up to rounding (a grouped convolution
sums in another order).

The models stay the source of truth outside the step: their parameters are re-pointed to views of the stacked
tensors (so ``translate`` and ``networks()`` always see the trained values), and ``write_back`` copies the stacked
optimiser and scheduler state into each model's own before a checkpoint, so checkpoints have the one-by-one format.
A stack is built from the models' current state (fresh, or just loaded from a checkpoint of either kind).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, get_args

import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from harness.core.errors import HarnessError

PairTraining = Literal["serial", "stacked"]
PAIR_TRAININGS: tuple[str, ...] = get_args(PairTraining)
Params = dict[str, dict[str, torch.Tensor]]  # network name -> parameter name -> tensor


class Trainable(Protocol):
    """What a stacked model exposes: its networks, optimisers (group -> optimiser) and their LR schedulers.

    A group without a scheduler keeps a constant learning rate.
    """

    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler]


def _signature(net: nn.Module) -> tuple[str, list[tuple[str, tuple[int, ...], torch.dtype]]]:
    """The layers (their repr holds every layer's settings) and the parameters' names, shapes and types."""
    return repr(net), [(name, tuple(p.shape), p.dtype) for name, p in net.named_parameters()]


class StackedModels:
    """M models' networks, optimisers and schedulers as one; the models' parameters become views of the stack.

    Args:
        models: M >= 1 models of one architecture, in a fixed order (slice m of every stacked tensor is model m).
        option: The config option that chose stacking, named in errors (``"cyclegan.pair_training"``).

    Raises:
        HarnessError: Naming ``option``, when the models' networks differ in architecture, hold buffers (batch
            norm's running statistics cannot be updated under ``vmap``), are compiled, or use a schedule other than
            ``LambdaLR``.
    """

    def __init__(self, models: Sequence[Trainable], option: str) -> None:
        first = models[0]
        for model in models[1:]:
            if set(model.nets) != set(first.nets) or any(
                    _signature(model.nets[k]) != _signature(first.nets[k]) for k in first.nets):
                raise HarnessError(f"{option}='stacked' needs models of one architecture; they differ (networks "
                                   f"{sorted(first.nets)} vs {sorted(model.nets)} or their layers): use 'serial'")
        for name, net in first.nets.items():
            if any(True for _ in net.buffers()):
                raise HarnessError(f"{option}='stacked': network {name} holds buffers (batch norm?), which cannot be "
                                   "stacked; use norm 'instance' or 'none', or 'serial'")
        if any(getattr(net, "_compiled_call_impl", None) is not None for m in models for net in m.nets.values()):
            raise HarnessError(f"{option}='stacked' does not combine with --compile; drop one of them")
        self.models = list(models)
        self.params: Params = {}
        self.bases: dict[str, nn.Module] = {}
        for name in first.nets:
            self.params[name] = stack_module_state([m.nets[name] for m in models])[0]
            self.bases[name] = copy.deepcopy(first.nets[name]).to("meta")
            for index, model in enumerate(models):
                for key, param in model.nets[name].named_parameters():
                    param.data = self.params[name][key].detach()[index]
        where = {id(p): (net, key) for net, module in first.nets.items() for key, p in module.named_parameters()}
        self._slots = {group: [where[id(p)] for g in opt.param_groups for p in g["params"]]
                       for group, opt in first.optimizers.items()}
        self.optimizers = {group: type(opt)([self.params[n][k] for n, k in self._slots[group]], **opt.defaults)
                           for group, opt in first.optimizers.items()}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        for group, scheduler in first.schedulers.items():
            if not isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR):
                raise HarnessError(f"{option}='stacked' needs LambdaLR schedules, got {type(scheduler).__name__}")
            self.schedulers[group] = torch.optim.lr_scheduler.LambdaLR(self.optimizers[group],
                                                                       list(scheduler.lr_lambdas))
        self._read_optimizer_state()

    def networks(self, params: Params) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
        """Each network as a function of one model's input, with ``params`` (one model's slice, inside ``vmap``)."""
        return {name: (lambda x, n=name: functional_call(self.bases[n], params[n], (x,))) for name in self.bases}

    def detached(self, names: Sequence[str]) -> Params:
        """The stacked parameters, those of networks ``names`` detached (no gradient flows into them)."""
        return {n: {k: v.detach() for k, v in p.items()} if n in names else p for n, p in self.params.items()}

    def _read_optimizer_state(self) -> None:
        """Stacks the models' optimiser state (Adam's moments; the step count is the models' common one)."""
        for group, stacked in self.optimizers.items():
            own = [m.optimizers[group] for m in self.models]
            params = [[p for g in opt.param_groups for p in g["params"]] for opt in own]
            for slot, target in enumerate(p for g in stacked.param_groups for p in g["params"]):
                states = [opt.state.get(ps[slot], {}) for opt, ps in zip(own, params, strict=True)]
                if states[0]:
                    stacked.state[target] = {
                        key: torch.stack([s[key] for s in states]) if _per_parameter(value, params[0][slot])
                        else value.clone() if isinstance(value, torch.Tensor) else value
                        for key, value in states[0].items()}
            for mine, theirs in zip(stacked.param_groups, own[0].param_groups, strict=True):
                mine.update({k: v for k, v in theirs.items() if k != "params"})
            if group in self.schedulers:
                self.schedulers[group].load_state_dict(self.models[0].schedulers[group].state_dict())

    def write_back(self) -> None:
        """Copies the stacked optimiser and scheduler state into every model's own (parameters are views already)."""
        for group, stacked in self.optimizers.items():
            targets = [p for g in stacked.param_groups for p in g["params"]]
            for index, model in enumerate(self.models):
                opt = model.optimizers[group]
                own = [p for g in opt.param_groups for p in g["params"]]
                for param, target in zip(own, targets, strict=True):
                    state = stacked.state.get(target)
                    if state:
                        opt.state[param] = {k: v[index].clone() if _per_parameter(v, target) else
                                            v.clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()}
                for theirs, mine in zip(opt.param_groups, stacked.param_groups, strict=True):
                    theirs.update({k: v for k, v in mine.items() if k != "params"})
                if group in self.schedulers:
                    model.schedulers[group].load_state_dict(self.schedulers[group].state_dict())


def require_alike(models: Sequence[Any], key: Callable[[Any], tuple], option: str, what: str) -> None:
    """Raises a ``HarnessError`` naming ``option`` unless ``key(model)`` is the same for every model.

    Args:
        models: The models to stack.
        key: What must agree between them (configuration, device, ...).
        option: The config option that chose stacking.
        what: Those things in words, for the message.
    """
    first = key(models[0])
    if any(key(model) != first for model in models[1:]):
        raise HarnessError(f"{option}='stacked' needs pair models of one {what}; they differ: use 'serial'")


def _per_parameter(value: Any, param: torch.Tensor) -> bool:
    """Whether an optimiser state entry holds one value per element of ``param`` (Adam's moments, not its step)."""
    return isinstance(value, torch.Tensor) and param.dim() > 0 and value.shape == param.shape


def own_storage(state: Any) -> Any:
    """``state`` with every tensor cloned into its own storage (a view of a stacked tensor would save the stack)."""
    if isinstance(state, torch.Tensor):
        return state.clone()
    if isinstance(state, dict):
        return {k: own_storage(v) for k, v in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(own_storage(v) for v in state)
    return state
