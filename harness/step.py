"""One train step as the training loop runs it, without a host synchronisation.

A GPU runs a step's kernels while the host queues the next ones; reading a value back (``.item()``, ``float()``,
``bool()``, a blocking copy) stalls the host until the device has caught up, and small networks then run at the
speed of the host. So the loop, not the model, owns everything a step used to read back:

- the batch is sampled on the host (the job's ``torch.Generator``: the same batches on every device), its values
  checked there (``check_batch``: a host tensor costs no device synchronisation), pinned and copied without
  blocking (``to_device``), so the host samples batch i+1 while the device still runs step i;
- ``train_step`` returns detached device tensors, which ``LossWindow`` sums on the device; the sums are read once
  every ``log_every`` steps, where the loop also checks that no loss went non-finite in between;
- ``bf16`` precision wraps the step in ``torch.autocast`` (on CUDA the networks also go channels-last, where
  tensor-core convolutions want it) and ``compile`` compiles every network with ``torch.compile``.

``tests/harness/test_no_sync.py`` runs every registered model's step through ``run_step`` on the ``meta`` device
(where any read-back fails) and, with CUDA, under ``torch.cuda.set_sync_debug_mode("error")``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Literal, get_args

import torch

from harness.core.errors import HarnessError

Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
Losses = Mapping[str, torch.Tensor | float]


def check_batch(batch: Mapping[str, torch.Tensor], source: str) -> None:
    """Checks a host batch before it is copied: CPU tensors, floating ones float32 in [0, 1] (no NaN).

    Args:
        batch: What a model's batch sampler returned.
        source: The sampler, for the error (``"model pix2pix's batch sampler"``).

    Raises:
        HarnessError: Naming the key and what was expected.
    """
    for key, value in batch.items():
        if not isinstance(value, torch.Tensor) or value.device.type != "cpu":
            where = type(value).__name__ if not isinstance(value, torch.Tensor) else f"a tensor on {value.device}"
            raise HarnessError(f"{source}: batch[{key!r}] must be a CPU tensor, got {where}")
        if not value.is_floating_point() or not value.numel():
            continue
        if value.dtype != torch.float32:
            raise HarnessError(f"{source}: batch[{key!r}] must be float32 in [0, 1], got dtype {value.dtype}")
        lo, hi = (float(v) for v in torch.aminmax(value))  # a host tensor: no device synchronisation
        if not (lo >= 0 and hi <= 1):
            raise HarnessError(f"{source}: batch[{key!r}] expected values in [0, 1], got range [{lo:.4g}, {hi:.4g}]")


def to_device(batch: Mapping[str, torch.Tensor], device: torch.device, *, channels_last: bool = False
              ) -> dict[str, torch.Tensor]:
    """Copies a host batch to ``device`` without blocking the host (pinned first on CUDA).

    A pinned buffer is reused only after its copy has finished (torch's caching host allocator records the copy),
    so the host may go on to sample the next batch at once. ``channels_last`` lays 4-D tensors out NHWC.
    """
    out = {}
    for key, value in batch.items():
        if channels_last and value.dim() == 4:
            value = value.contiguous(memory_format=torch.channels_last)
        if device.type == "cuda":
            value = value.pin_memory()
        out[key] = value.to(device, non_blocking=True)
    return out


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` to bfloat16 for ``"bf16"``, nothing for ``"fp32"``.

    Losses and normalisations stay float32 under autocast (torch's per-op lists); bf16 has float32's range, so no
    loss scaling is needed.
    """
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def channels_last(device: torch.device, precision: Precision) -> bool:
    """Whether networks and batches go channels-last: bf16 on CUDA, where tensor-core convolutions want NHWC.

    On a CPU (oneDNN) and in fp32 the default layout is kept: there it measured no faster (issue 23).
    """
    return device.type == "cuda" and precision == "bf16"


COMPILE_BACKEND = "inductor"  # torch.compile's backend; tests may set "eager" to check the path quickly


def prepare_model(model: Any, device: torch.device, precision: Precision, compile_networks: bool) -> None:
    """Readies a freshly built model's networks for the step: channels-last (see ``channels_last``), compiled.

    ``nn.Module.compile`` compiles in place, so parameter names, optimisers and checkpoints are unchanged.
    """
    nets = model.networks().values()
    if channels_last(device, precision):
        for net in nets:
            net.to(memory_format=torch.channels_last)
    if compile_networks:
        for net in nets:
            net.compile(backend=COMPILE_BACKEND)


def check_precision(precision: str, device: torch.device) -> None:
    """Refuses a precision the device cannot train in (naming ``--precision``)."""
    if precision not in PRECISIONS:
        raise HarnessError(f"--precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise HarnessError("--precision bf16: this GPU has no bfloat16 support; use --precision fp32")


class LossWindow:
    """Sums of each loss over the steps since the last log row, kept on the device.

    Each step adds one stacked vector per set of loss names (one ``stack`` and one ``add_``: two small kernels and
    no synchronisation); ``read`` copies the sums to the host once and starts a new window.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._groups: dict[tuple[str, ...], list[Any]] = {}  # loss names -> [device sum vector, steps]
        self.first_step: int | None = None

    def add(self, losses: Losses, step: int) -> None:
        """Adds one step's losses (device tensors; plain numbers are accepted and put on the device)."""
        if self.first_step is None:
            self.first_step = step
        keys = tuple(losses)
        if not keys:
            return
        with torch.no_grad():
            values = torch.stack([v.detach().reshape(()).float() if isinstance(v, torch.Tensor)
                                  else torch.full((), float(v), device=self.device) for v in losses.values()])
        group = self._groups.get(keys)
        if group is None:
            self._groups[keys] = [values.clone(), 1]
        else:
            group[0].add_(values)
            group[1] += 1

    def __bool__(self) -> bool:
        return self.first_step is not None

    def means(self) -> dict[str, float]:
        """Each loss's mean over the window (one device-to-host copy per set of loss names); the window stays."""
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for keys, (total, n) in self._groups.items():
            for key, value in zip(keys, total.tolist(), strict=True):
                sums[key] = sums.get(key, 0.0) + value
                counts[key] = counts.get(key, 0) + n
        return {key: sums[key] / counts[key] for key in sums}

    def reset(self) -> None:
        """Starts a new window."""
        self._groups.clear()
        self.first_step = None

    def state_dict(self) -> dict[str, Any]:
        """The open window (for a checkpoint taken between log rows); host numbers only."""
        return {"first_step": self.first_step,
                "groups": [{"keys": list(keys), "sum": total.tolist(), "count": n}
                           for keys, (total, n) in self._groups.items()]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores ``state_dict()`` output (float32 sums, so resumed sums continue bit-identically)."""
        self.reset()
        self.first_step = state.get("first_step")
        for group in state.get("groups", []):
            total = torch.tensor(group["sum"], dtype=torch.float32, device=self.device)
            self._groups[tuple(group["keys"])] = [total, int(group["count"])]


def run_step(model: Any, batch: Mapping[str, torch.Tensor], *, device: torch.device, precision: Precision,
             window: LossWindow, step: int, source: str) -> None:
    """One train step as the loop runs it: host check, non-blocking copy, ``train_step`` (autocast), loss sums.

    Args:
        model: The model (``train_step`` returns detached device tensors).
        batch: The host batch from the model's batch sampler.
        device: The model's device.
        precision: ``"fp32"`` or ``"bf16"``.
        window: Where the losses are summed.
        step: The 1-based number of this step.
        source: The batch sampler, for errors.
    """
    check_batch(batch, source)
    on_device = to_device(batch, device, channels_last=channels_last(device, precision))
    with autocast(device, precision):
        losses = model.train_step(on_device)
    window.add(losses, step)

