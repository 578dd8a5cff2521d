"""The reference-model contract, shared by every model file.

Every model file defines a frozen config dataclass (``Literal[...]`` for every choice), a class satisfying
``ReferenceModel``, a builder ``(config, task, device) -> model``, a batch sampler ``(task, config, generator) ->
batch`` (all randomness, data jitter included, from that generator) and, where a config can be wrong for a task, a
check ``(config, image_size) -> None``. Which models run on which tasks, with which protocol, is the harness's
decision (``harness/models.py``). The harness never reads attributes back by reflection: losses are returned by
``train_step`` (as device tensors, read by the loop at log time), networks by ``networks()`` and the settings a row
must name by ``provenance()``.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn


class ReferenceModel(Protocol):
    """What the harness needs from a model."""

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimisation step (all of the model's networks) on a batch; returns the losses by name.

        The batch's tensors are on the model's device already (the training loop checked their values on the host
        and copied them without blocking). The step never reads a value back to the host: no ``.item()``, ``float()``,
        ``bool()``, ``.tolist()``, ``.cpu()`` or data-dependent shape (``nonzero``, boolean indexing) on a device
        tensor, and no blocking copy to the device; image batches are checked with ``check_image_layout``
        (metadata only). The losses come back as detached 0-dim tensors on the device; the loop sums them there and
        reads them every ``log_every`` steps. ``tests/harness/test_no_sync.py`` holds every registered model to this.
        """
        ...

    def translate(self, images: torch.Tensor, **conditions: Any) -> torch.Tensor:
        """Eval-mode, no-grad mapping of float ``(N, C, H, W)`` in [0, 1] to images in [0, 1].

        Translation models take ``direction="AtoB"`` or ``"BtoA"``; conditional models take their target labels.
        """
        ...

    def directions(self) -> tuple[str, ...]:
        """The ``direction`` values ``translate`` accepts; protocols score exactly these.

        ``("AtoB", "BtoA")`` for a two-way model, ``("AtoB",)`` for one trained one way, ``()`` for a model that
        only samples (the GAN).
        """
        ...

    def provenance(self) -> dict[str, str]:
        """Settings that change how the numbers were made (update rule, train batch, jitter, test mode, size).

        Protocols add these ``key -> value`` pairs to every row's protocol string; values hold no ``;`` or ``=``.
        """
        ...

    def networks(self) -> dict[str, nn.Module]:
        """Named networks (paper names in comments of the model file), for parameter counting and devices."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: networks, optimisers, schedulers, history pools (tensors and numbers)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores ``state_dict()`` output (loaded with ``weights_only=True``)."""
        ...


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not) of ``module``."""
    return sum(p.numel() for p in module.parameters())


def sample_indices(n: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """``batch_size`` indices drawn uniformly with replacement from ``range(n)`` using ``generator``."""
    return torch.randint(0, n, (batch_size,), generator=generator)
