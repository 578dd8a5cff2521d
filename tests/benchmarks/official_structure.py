"""pix2pix and CycleGAN train steps in the structure of the official PyTorch code, for the step benchmark.

The structure of ``junyanz/pytorch-CycleGAN-and-pix2pix`` ``models/pix2pix_model.py`` and
``models/cycle_gan_model.py`` (``set_input`` → ``optimize_parameters``: ``forward``, ``set_requires_grad``,
``zero_grad``, ``backward_D`` / ``backward_G``, ``step``), written here from that structure (no code copied), around
the very networks of a harness model (deep copies, so both start from the same weights):

- ``set_input`` copies the batch with a plain (blocking) ``.to(device)``;
- ``GANLoss`` expands registered 0-dim label buffers to the prediction's shape (``networks.GANLoss``);
- the image pool draws with Python's ``random`` (``util/image_pool.py``); pix2pix uses none (``pool_size=0``);
- plain ``torch.optim.Adam(params, lr, betas)``, torch's default implementation for the device;
- no loss is read in the step (the official ``train.py`` reads losses only every ``print_freq`` steps).

The harness's steps differ where issue 23 asks: the batch checked on the host and copied without blocking, losses
summed on the device, fused Adam on CUDA, and (optionally) bf16 autocast with channels-last networks.
"""

from __future__ import annotations

import copy
import itertools
import random

import torch
from torch import nn


class OfficialGANLoss(nn.Module):
    """Targets are the registered 0-dim labels expanded to the prediction (no allocation per call)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.register_buffer("real_label", torch.tensor(1.0))
        self.register_buffer("fake_label", torch.tensor(0.0))
        self.loss = nn.MSELoss() if mode == "lsgan" else nn.BCEWithLogitsLoss()

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = self.real_label if target_is_real else self.fake_label
        return self.loss(prediction, target.expand_as(prediction))


class OfficialPool:
    """The history pool with Python's ``random`` (the official draws)."""

    def __init__(self, size: int) -> None:
        self.size, self.images = size, []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        images, out = images.detach(), []  # the official stores ``image.data``
        for image in images:
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                k = random.randint(0, self.size - 1)
                out.append(self.images[k].clone())
                self.images[k] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


def _set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad = flag


class OfficialPix2Pix:
    """One direction (AtoB) of a harness ``Pix2Pix``, stepped as ``Pix2PixModel.optimize_parameters``."""

    def __init__(self, harness_model, lr: float, beta1: float, lambda_l1: float, device: torch.device) -> None:
        self.netG = copy.deepcopy(harness_model.nets["G_AtoB"])
        self.netD = copy.deepcopy(harness_model.nets["D_AtoB"])
        self.device, self.lambda_l1 = device, lambda_l1
        self.criterionGAN = OfficialGANLoss("vanilla").to(device)
        self.criterionL1 = nn.L1Loss()
        self.pool = OfficialPool(0)
        self.optimizer_G = torch.optim.Adam(self.netG.parameters(), lr=lr, betas=(beta1, 0.999))
        self.optimizer_D = torch.optim.Adam(self.netD.parameters(), lr=lr, betas=(beta1, 0.999))

    def set_input(self, batch: dict[str, torch.Tensor]) -> None:
        self.real_A = batch["A"].to(self.device) * 2 - 1  # the official loader hands out [-1, 1]; here [0, 1] in
        self.real_B = batch["B"].to(self.device) * 2 - 1

    def optimize_parameters(self) -> None:
        self.fake_B = self.netG(self.real_A)
        _set_requires_grad([self.netD], True)
        self.optimizer_D.zero_grad()
        fake_AB = self.pool.query(torch.cat((self.real_A, self.fake_B), 1))
        loss_D_fake = self.criterionGAN(self.netD(fake_AB.detach()), False)
        loss_D_real = self.criterionGAN(self.netD(torch.cat((self.real_A, self.real_B), 1)), True)
        ((loss_D_fake + loss_D_real) * 0.5).backward()
        self.optimizer_D.step()
        _set_requires_grad([self.netD], False)
        self.optimizer_G.zero_grad()
        loss_G_GAN = self.criterionGAN(self.netD(torch.cat((self.real_A, self.fake_B), 1)), True)
        loss_G_L1 = self.criterionL1(self.fake_B, self.real_B) * self.lambda_l1
        (loss_G_GAN + loss_G_L1).backward()
        self.optimizer_G.step()


class OfficialCycleGAN:
    """A harness ``CycleGAN``'s networks, stepped as ``CycleGANModel.optimize_parameters``."""

    def __init__(self, harness_model, lr: float, beta1: float, lambda_cycle: float, lambda_identity: float,
                 pool_size: int, device: torch.device) -> None:
        nets = {k: copy.deepcopy(v) for k, v in harness_model.nets.items()}
        self.netG_A, self.netG_B, self.netD_A, self.netD_B = nets["G_A"], nets["G_B"], nets["D_A"], nets["D_B"]
        self.device, self.lambda_cycle, self.lambda_identity = device, lambda_cycle, lambda_identity
        self.fake_A_pool, self.fake_B_pool = OfficialPool(pool_size), OfficialPool(pool_size)
        self.criterionGAN = OfficialGANLoss("lsgan").to(device)
        self.criterionCycle, self.criterionIdt = nn.L1Loss(), nn.L1Loss()
        self.optimizer_G = torch.optim.Adam(itertools.chain(self.netG_A.parameters(), self.netG_B.parameters()),
                                            lr=lr, betas=(beta1, 0.999))
        self.optimizer_D = torch.optim.Adam(itertools.chain(self.netD_A.parameters(), self.netD_B.parameters()),
                                            lr=lr, betas=(beta1, 0.999))

    def set_input(self, batch: dict[str, torch.Tensor]) -> None:
        self.real_A = batch["A"].to(self.device) * 2 - 1
        self.real_B = batch["B"].to(self.device) * 2 - 1

    def backward_D_basic(self, netD: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        loss_D = (self.criterionGAN(netD(real), True) + self.criterionGAN(netD(fake.detach()), False)) * 0.5
        loss_D.backward()
        return loss_D

    def backward_G(self) -> None:
        lam, idt = self.lambda_cycle, self.lambda_identity
        loss_idt_A = self.criterionIdt(self.netG_A(self.real_B), self.real_B) * lam * idt
        loss_idt_B = self.criterionIdt(self.netG_B(self.real_A), self.real_A) * lam * idt
        loss_G_A = self.criterionGAN(self.netD_A(self.fake_B), True)
        loss_G_B = self.criterionGAN(self.netD_B(self.fake_A), True)
        loss_cycle_A = self.criterionCycle(self.rec_A, self.real_A) * lam
        loss_cycle_B = self.criterionCycle(self.rec_B, self.real_B) * lam
        (loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B).backward()

    def optimize_parameters(self) -> None:
        self.fake_B = self.netG_A(self.real_A)
        self.rec_A = self.netG_B(self.fake_B)
        self.fake_A = self.netG_B(self.real_B)
        self.rec_B = self.netG_A(self.fake_A)
        _set_requires_grad([self.netD_A, self.netD_B], False)
        self.optimizer_G.zero_grad()
        self.backward_G()
        self.optimizer_G.step()
        _set_requires_grad([self.netD_A, self.netD_B], True)
        self.optimizer_D.zero_grad()
        self.backward_D_basic(self.netD_A, self.real_B, self.fake_B_pool.query(self.fake_B))
        self.backward_D_basic(self.netD_B, self.real_A, self.fake_A_pool.query(self.fake_A))
        self.optimizer_D.step()
