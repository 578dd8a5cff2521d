"""Shared building blocks of the image-to-image reference models.

The architectures follow ``junyanz/pytorch-CycleGAN-and-pix2pix`` ``models/networks.py`` layer for layer, so the
parameter counts at paper width equal the official ones (U-Net-256: 54,414,080; ResNet-9: 11,378,179; ResNet-6:
7,837,699; 70x70 PatchGAN: 2,769,601 with batch norm on 6 channels, 2,764,737 with instance norm on 3 channels).
Conventions kept from the official code: convolutions carry a bias only when the norm is instance/none (batch norm
has its own shift), instance norm has no affine parameters and no running statistics, and weights start from
N(0, 0.02) (batch-norm scales from N(1, 0.02)). The encoder-decoder generator is the pix2pix paper's ablation (the
U-Net with its skip connections severed); it is not in the official code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from harness.core.errors import HarnessError

NormFactory = Callable[[int], nn.Module]
NORMS = ("batch", "instance", "none")
RECEPTIVE_FIELDS = {16: 1, 70: 3, 286: 5}  # PatchGAN receptive field (px) -> n_layers; 1 = PixelDiscriminator


def norm_factory(norm: str) -> tuple[NormFactory, bool]:
    """The normalisation layer factory and whether convolutions before it need a bias.

    Args:
        norm: ``"batch"`` (affine, running statistics), ``"instance"`` (no affine, no running statistics, as the
            official code) or ``"none"``.

    Returns:
        ``(factory, use_bias)``: ``factory(channels)`` builds the layer; ``use_bias`` is False only for batch norm.
    """
    if norm == "batch":
        return (lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)), False
    if norm == "instance":
        return (lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)), True
    if norm == "none":
        return (lambda c: nn.Identity()), True
    raise HarnessError(f"norm={norm!r} is not one of {', '.join(NORMS)}")


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """Official "normal" init in place: conv/linear weights N(0, gain), biases 0, batch-norm scale N(1, gain).

    Uses the global torch RNG (the harness seeds it). Returns ``net`` for chaining.
    """
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


class UnetBlock(nn.Module):
    """One level of the U-Net: down-sample, the inner levels, up-sample, then (except outermost) concat the input.

    With ``skip=False`` the level does not concatenate, giving the encoder-decoder of the pix2pix ablation.
    """

    def __init__(self, outer_nc: int, inner_nc: int, *, input_nc: int | None, submodule: nn.Module | None,
                 outermost: bool, norm: str, dropout: bool, skip: bool) -> None:
        super().__init__()
        self.outermost = outermost
        self.skip = skip
        make_norm, use_bias = norm_factory(norm)
        innermost = submodule is None
        down_conv = nn.Conv2d(input_nc or outer_nc, inner_nc, 4, stride=2, padding=1, bias=use_bias)
        # The inner levels return [x, y] concatenated when they have skips, so the up-conv sees twice the channels.
        up_in = inner_nc if innermost or not skip else inner_nc * 2
        if outermost:
            down = [down_conv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1), nn.Tanh()]
        elif innermost:
            down = [nn.LeakyReLU(0.2, True), down_conv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1, bias=use_bias),
                  make_norm(outer_nc)]
        else:
            down = [nn.LeakyReLU(0.2, True), down_conv, make_norm(inner_nc)]
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1, bias=use_bias),
                  make_norm(outer_nc)]
            if dropout:
                up.append(nn.Dropout(0.5))
        middle = [] if submodule is None else [submodule]
        self.model = nn.Sequential(*down, *middle, *up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` -> ``(N, C_out [+ C_in], H, W)``."""
        y = self.model(x)
        if self.outermost or not self.skip:
            return y
        return torch.cat([x, y], 1)


class UnetGenerator(nn.Module):
    """The pix2pix U-Net (``skip=True``) or its encoder-decoder ablation (``skip=False``).

    ``num_downs`` halvings take an image of side ``2**num_downs`` to 1x1 (8 for 256 px). Levels between the three
    outermost and the innermost use width ``8 * ngf`` and dropout; as in the official code the innermost up-conv
    has no dropout, so with ``num_downs=8`` the decoder reads C512-CD512-CD512-CD512-C256-C128-C64 (the paper's
    appendix lists the dropout on the first three decoder layers; the parameter count is the same).

    Input ``(N, in_channels, H, W)`` in [-1, 1] with H, W divisible by ``2**num_downs``; output in [-1, 1] (tanh).
    """

    def __init__(self, in_channels: int, out_channels: int, *, num_downs: int, ngf: int, norm: str, dropout: bool,
                 skip: bool = True) -> None:
        super().__init__()
        if num_downs < 5:
            raise HarnessError(f"num_downs={num_downs} must be at least 5 (the U-Net has 5 fixed levels)")

        def level(outer: int, inner: int, sub: nn.Module | None, drop: bool = False) -> UnetBlock:
            return UnetBlock(outer, inner, input_nc=None, submodule=sub, outermost=False, norm=norm, dropout=drop,
                             skip=skip)

        block = level(ngf * 8, ngf * 8, None)
        for _ in range(num_downs - 5):
            block = level(ngf * 8, ngf * 8, block, dropout)
        block = level(ngf * 4, ngf * 8, block)
        block = level(ngf * 2, ngf * 4, block)
        block = level(ngf, ngf * 2, block)
        self.model = UnetBlock(out_channels, ngf, input_nc=in_channels, submodule=block, outermost=True, norm=norm,
                               dropout=False, skip=skip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, H, W)`` in [-1, 1] -> ``(N, out_channels, H, W)`` in [-1, 1]."""
        return self.model(x)


class ResnetBlock(nn.Module):
    """Residual block: reflect-pad, 3x3 conv, norm, ReLU, [dropout], reflect-pad, 3x3 conv, norm; plus identity."""

    def __init__(self, dim: int, *, norm: str, dropout: bool) -> None:
        super().__init__()
        make_norm, use_bias = norm_factory(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), make_norm(dim),
                                   nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), make_norm(dim)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, dim, H, W)`` -> same shape."""
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """The CycleGAN generator (Johnson et al. style): c7s1-ngf, d2ngf, d4ngf, ``n_blocks`` x R4ngf, u2ngf, ungf, c7s1.

    Input ``(N, in_channels, H, W)`` in [-1, 1] with H, W divisible by 4; output in [-1, 1] (tanh).
    """

    def __init__(self, in_channels: int, out_channels: int, *, ngf: int, norm: str, n_blocks: int,
                 dropout: bool = False) -> None:
        super().__init__()
        make_norm, use_bias = norm_factory(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=use_bias),
                                   make_norm(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                       make_norm(ngf * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm=norm, dropout=dropout) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=use_bias),
                       make_norm(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, H, W)`` in [-1, 1] -> ``(N, out_channels, H, W)`` in [-1, 1]."""
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: ``n_layers`` stride-2 4x4 convs, one stride-1 conv, then a 1-channel map of real/fake logits.

    Receptive field: n_layers 1 -> 16x16, 3 -> 70x70, 5 -> 286x286. Input ``(N, C, H, W)`` in [-1, 1]; output
    ``(N, 1, H / 2**n_layers - 2, W / 2**n_layers - 2)`` unbounded logits.
    """

    def __init__(self, in_channels: int, *, ndf: int, n_layers: int, norm: str) -> None:
        super().__init__()
        make_norm, use_bias = norm_factory(norm)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=use_bias),
                       make_norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` -> ``(N, 1, h, w)`` logits."""
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """PixelGAN (1x1 receptive field): three 1x1 convs. Output ``(N, 1, H, W)`` logits."""

    def __init__(self, in_channels: int, *, ndf: int, norm: str) -> None:
        super().__init__()
        make_norm, use_bias = norm_factory(norm)
        self.model = nn.Sequential(
            nn.Conv2d(in_channels, ndf, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=use_bias), make_norm(ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, bias=use_bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` -> ``(N, 1, H, W)`` logits."""
        return self.model(x)


def patch_discriminator(in_channels: int, *, ndf: int, receptive_field: int, norm: str) -> nn.Module:
    """The discriminator with the given receptive field: 1 (PixelGAN), 16, 70 or 286 (PatchGAN)."""
    if receptive_field == 1:
        return PixelDiscriminator(in_channels, ndf=ndf, norm=norm)
    if receptive_field not in RECEPTIVE_FIELDS:
        raise HarnessError(f"d_receptive_field={receptive_field} is not one of 1, 16, 70, 286")
    return NLayerDiscriminator(in_channels, ndf=ndf, n_layers=RECEPTIVE_FIELDS[receptive_field], norm=norm)


def min_image_size(receptive_field: int) -> int:
    """Smallest image side for which a PatchGAN's last normalised map has at least 2x2 values (norm needs > 1)."""
    if receptive_field == 1:
        return 1
    return 3 * 2 ** RECEPTIVE_FIELDS[receptive_field]


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
            raise HarnessError(f"gan_mode={mode!r} is not one of 'vanilla', 'lsgan'")
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
