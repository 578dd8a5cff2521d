"""Training machinery shared by pix2pix and CycleGAN (the Adam factory by every model).

The GAN loss, the image history pool, the LR schedule, test-time translation as the official script runs it, the
resumable state of networks and optimisers, and ``adam``: the papers' Adam, fused into one kernel per step on a GPU.

Follows ``junyanz/pytorch-CycleGAN-and-pix2pix``: ``models/networks.py`` (``GANLoss``, ``get_scheduler`` with
``lr_policy="linear"``), ``util/image_pool.py`` (``ImagePool``) and ``test.py`` (batch 1, train mode).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, get_args

import torch
from torch import nn

from harness.core.errors import HarnessError

GanMode = Literal["vanilla", "lsgan"]
GAN_MODES: tuple[str, ...] = get_args(GanMode)


class GANLoss(nn.Module):
    """The adversarial loss on discriminator logits, with targets shaped like the prediction.

    ``"vanilla"``: ``BCEWithLogits`` (pix2pix); ``"lsgan"``: mean squared error to 1/0 on the raw outputs
    (CycleGAN). Real label 1.0, fake label 0.0 (no label smoothing, as the official code).
    """

    def __init__(self, mode: str) -> None:
        super().__init__()
        if mode == "vanilla":
            self.loss: nn.Module = nn.BCEWithLogitsLoss()
        elif mode == "lsgan":
            self.loss = nn.MSELoss()
        else:
            raise HarnessError(f"gan_mode={mode!r} is not one of {', '.join(GAN_MODES)}")
        self.mode = mode

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        """Scalar loss of ``prediction`` (any shape) against an all-real or all-fake target."""
        target = torch.full_like(prediction, 1.0 if target_is_real else 0.0)
        return self.loss(prediction, target)


class ImagePool:
    """History of generated images (Shrivastava et al.): D sees a mix of current and past fakes.

    Until ``pool_size`` images are stored each new image is stored and returned; afterwards, with probability 1/2
    an image is swapped with a random stored one (the stored one is returned), otherwise it is returned as is.
    Randomness comes from an explicit ``torch.Generator`` whose state is part of ``state_dict()``.
    """

    def __init__(self, pool_size: int, seed: int) -> None:
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` fakes (detached here) -> ``(N, C, H, W)`` fakes drawn through the history."""
        images = images.detach()
        if self.pool_size == 0:
            return images
        out = []
        for image in images:
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator).item() > 0.5:
                k = int(torch.randint(0, self.pool_size, (), generator=self.generator).item())
                out.append(self.images[k].clone())
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        """Stored images (CPU tensors) and the generator state; loadable with ``weights_only=True``."""
        return {"images": [im.cpu() for im in self.images], "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        """Restores ``state_dict()`` output, moving the images to ``device``."""
        self.images = [im.to(device) for im in state["images"]]
        self.generator.set_state(state["rng"])


def adam(params: Iterable[nn.Parameter], *, lr: float, betas: tuple[float, float],
         device: torch.device) -> torch.optim.Adam:
    """``torch.optim.Adam(params, lr, betas)``, the papers' optimiser (no weight decay, no amsgrad), fused on CUDA.

    The fused kernel updates every parameter in one launch instead of one small kernel per tensor per operation (a
    launch-bound cost on small networks); it is the same algorithm in other rounding. Elsewhere torch's default
    implementation runs, so CPU results stay bit-identical to plain ``Adam``.
    """
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True if device.type == "cuda" else None)


SECOND_HALF = -1  # decay_steps value meaning "the second half of the steps"


def resolve_decay_steps(steps: int, decay_steps: int) -> int:
    """``decay_steps``, or ``steps // 2`` for ``SECOND_HALF`` (PyTorch ``linear`` with n_epochs = n_epochs_decay)."""
    return steps // 2 if decay_steps == SECOND_HALF else decay_steps


def check_decay_steps(section: str, steps: int, decay_steps: int) -> None:
    """Raises ``HarnessError`` naming ``<section>.decay_steps`` unless it is -1 or between 0 and ``steps``."""
    if decay_steps != SECOND_HALF and not 0 <= decay_steps <= steps:
        raise HarnessError(f"{section}.decay_steps={decay_steps} must be -1 (the second half) or between 0 and "
                           f"{section}.steps={steps}")


def schedule_text(steps: int, decay_steps: int) -> str:
    """``"<steps> steps, lr constant then linear to 0 over the last 50%"`` for a row's protocol string."""
    decay = resolve_decay_steps(steps, decay_steps)
    return f"{steps} steps, lr constant then " + (f"linear to 0 over the last {decay / steps:.0%}" if decay else
                                                  "no decay")


def linear_decay_lambda(steps: int, decay_steps: int) -> Callable[[int], float]:
    """Multiplicative LR factor per step for ``LambdaLR``: 1 for ``steps - decay_steps`` steps, then linear decay.

    The official ``lambda_rule`` counted in epochs, ``1 - max(0, epoch + 1 - n_epochs) / (n_epochs_decay + 1)``;
    here the same rule counts optimisation steps, so the last step runs at ``1 / (decay_steps + 1)`` of the base LR
    and the factor would reach 0 one step after the schedule ends.
    """
    if decay_steps < 0 or decay_steps > steps:
        raise HarnessError(f"decay_steps={decay_steps} must be between 0 and steps={steps}")
    constant = steps - decay_steps

    def factor(step: int) -> float:
        return 1.0 - max(0, step + 1 - constant) / float(decay_steps + 1)

    return factor


@contextlib.contextmanager
def batch_statistics(net: nn.Module) -> Iterator[nn.Module]:
    """Runs ``net`` in train mode (batch norm on the batch's own statistics, dropout on) without side effects.

    The pix2pix paper (and the official test script, which never calls ``eval()``) translates with dropout active
    and batch norm using test-batch statistics. The running statistics this would update are restored on exit, so
    translating never changes the model's state; the previous train/eval mode is restored as well.
    """
    was_training = net.training
    saved = {name: buf.clone() for name, buf in net.named_buffers()}
    net.train()
    try:
        yield net
    finally:
        with torch.no_grad():
            for name, buf in net.named_buffers():
                buf.copy_(saved[name])
        net.train(was_training)


def translate_official(net: nn.Module, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Test-time translation as the official ``test.py`` runs it: batch 1, train mode, no gradients.

    Args:
        net: A generator mapping [-1, 1] to [-1, 1].
        images: Float32 ``(N, C, H, W)`` in [0, 1].
        device: Where ``net`` lives.

    Returns:
        Float32 ``(N, C_out, H, W)`` in [0, 1] on ``images.device``; independent of N by construction.
    """
    outputs = []
    with torch.no_grad(), batch_statistics(net):
        for image in images:
            outputs.append(net(image.unsqueeze(0).to(device) * 2 - 1))
    return ((torch.cat(outputs, 0) + 1) / 2).clamp_(0, 1).to(images.device)


def training_state(nets: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                   schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler]) -> dict[str, dict[str, Any]]:
    """Networks, optimisers and schedulers by name: the resumable state, loadable with ``weights_only=True``."""
    return {
        "networks": {k: v.state_dict() for k, v in nets.items()},
        "optimizers": {k: v.state_dict() for k, v in optimizers.items()},
        "schedulers": {k: v.state_dict() for k, v in schedulers.items()},
    }


def load_training_state(model_name: str, state: dict[str, Any], nets: dict[str, nn.Module],
                        optimizers: dict[str, torch.optim.Optimizer],
                        schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler]) -> None:
    """Restores ``training_state`` output; a checkpoint of another configuration is a ``HarnessError``."""
    if set(state.get("networks", {})) != set(nets):
        raise HarnessError(f"{model_name} checkpoint holds networks {sorted(state.get('networks', {}))}, "
                           f"this configuration has {sorted(nets)}")
    for name, net in nets.items():
        net.load_state_dict(state["networks"][name])
    for name, optimizer in optimizers.items():
        optimizer.load_state_dict(state["optimizers"][name])
        schedulers[name].load_state_dict(state["schedulers"][name])
