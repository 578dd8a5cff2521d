"""Registry entries of the faces models: StarGAN, DIAT, DIAT-A, and CycleGAN per attribute-value pair.

StarGAN is one model over every domain. DIAT and CycleGAN are StarGAN's baselines, one model per attribute-value
pair (``harness.pairwise``); CycleGAN keeps its one registry entry and builds per pair only on faces tasks, where
the profiles size it with ``task_overrides`` (``cyclegan@faces.<key>``). DIAT's identity loss needs a frozen
identity network: VGG-Face from ``diat.identity_weights`` when given (file sha256 in provenance), else the harness
identity network trained on the task's training faces with its own seed (``identity_loss`` judge), never the
judge that scores identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from harness.core.task import Task
from harness.pairwise import build_pairwise, is_faces_task, pairwise_batch
from metrics.judges.faces import FACE_IDENTITY_LOSS
from metrics.judges.resolve import judge_for_task
from metrics.judges.vgg_face import load_vgg_face
from reference_models import cyclegan, diat
from reference_models.cyclegan_stacked import StackedCycleGANs
from reference_models.diat_stacked import StackedDIATs

FACE_TASKS = ("faces", "celeba", "rafd", "celeba_rafd")
JOINT_FACE_TASKS = ("faces", "celeba_rafd")  # faces tasks with both datasets (where StarGAN-JNT differs from SNG)
FACE_PROTOCOLS: Mapping[str, str] = dict.fromkeys(FACE_TASKS, "faces")


class _FeatureMaps(nn.Module):
    """A face judge seen as DIAT's identity network: images in [0, 1] -> its last three stages' feature maps.

    The first stage is nearly pixel-level; like VGG-Face's conv2-conv4 features, the deeper stages carry identity.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        return self.net.feature_maps(images)[1:]


def diat_identity(config: diat.DIATConfig, task: Task, device: torch.device) -> diat.IdentityFeatures | None:
    """DIAT's identity network for ``task`` (None for DIAT-A, which uses its discriminator)."""
    if config.identity_features == "discriminator":
        return None
    if config.identity_weights:
        net, sha = load_vgg_face(config.identity_weights)
        return diat.IdentityFeatures(net, f"VGG-Face weights file sha256 {sha}")
    if device.type == "meta":  # the suite's dry build: the network's shape only, never trained there
        untrained = FACE_IDENTITY_LOSS.build(FACE_IDENTITY_LOSS.data(task).params).to(device)
        return diat.IdentityFeatures(_FeatureMaps(untrained), "dry build (untrained)")
    judge = judge_for_task(FACE_IDENTITY_LOSS, task, steps=config.identity_net_steps,
                           batch_size=config.identity_net_batch, device=device, progress=False)
    return diat.IdentityFeatures(_FeatureMaps(judge.model),
                                 f"harness identity network (VGG-Face stand-in, own seed) sha256 "
                                 f"{judge.sha256[:12]} {judge.source}")


def build_diat_pairs(config: diat.DIATConfig, task: Task, device: torch.device) -> Any:
    """One DIAT per attribute-value pair of a faces task, all sharing the frozen identity network."""
    identity = diat_identity(config, task, device)
    stack_of = StackedDIATs if config.pair_training == "stacked" else None
    return build_pairwise(config, task, False, lambda cfg, sub: diat.build_diat(cfg, sub, device, identity), stack_of)


def diat_pairs_batch(task: Task, config: diat.DIATConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Every DIAT pair's batch."""
    return pairwise_batch(task, config, generator, False, diat.diat_batch)


def build_cyclegan_any(config: cyclegan.CycleGANConfig, task: Task, device: torch.device) -> Any:
    """CycleGAN: one per attribute-value pair on faces tasks, the plain two-domain model elsewhere."""
    if not is_faces_task(task):
        return cyclegan.build_cyclegan(config, task, device)
    stack_of = StackedCycleGANs if config.pair_training == "stacked" else None
    return build_pairwise(config, task, True, lambda cfg, sub: cyclegan.build_cyclegan(cfg, sub, device), stack_of)


def cyclegan_any_batch(task: Task, config: cyclegan.CycleGANConfig, generator: torch.Generator
                       ) -> dict[str, torch.Tensor]:
    """CycleGAN batches: every pair's on faces tasks, the plain A/B batch elsewhere."""
    if not is_faces_task(task):
        return cyclegan.cyclegan_batch(task, config, generator)
    return pairwise_batch(task, config, generator, True, cyclegan.cyclegan_batch)
