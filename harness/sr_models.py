"""How the harness builds SRResNet / SRGAN: the content network of the VGG losses and the calibration of its scale.

The content network is VGG19 from ``srgan.vgg19_weights`` when the user gives that file (torchvision's or Caffe's
preprocessing, ``srgan.vgg19_preprocess``), else the harness's SR feature network trained on the task's HR
training tiles (``sr_content`` judge; committed for the smoke and standard profiles). Its feature scale s is then
calibrated on the task (``srgan.content_scale="calibrated"``, ``reference_models/sr_content.py``): the bicubic
upsampling of ``CALIBRATION_CROPS`` LR training crops (MATLAB ``imresize``, the protocol's ``bicubic`` baseline)
against their HR crops.
"""

from __future__ import annotations

import dataclasses

import torch

from harness.core.task import Task
from harness.data.imresize import imresize
from metrics.judges.resolve import judge_for_task
from metrics.judges.sr_features import SR_CONTENT
from reference_models import srgan
from reference_models.sr_content import CALIBRATION_CROPS, CALIBRATION_SEED, ContentNetwork, calibrated_scale
from reference_models.sr_networks import load_vgg19


def bicubic_pairs(task: Task, config: srgan.SRGANConfig, seed: int = CALIBRATION_SEED,
                  count: int = CALIBRATION_CROPS) -> tuple[torch.Tensor, torch.Tensor]:
    """``(bicubic upsampling of LR crops, HR crops)``, float ``(count, C, S, S)`` in [0, 1], from ``sr_batch``.

    The crops are the model's own training crops (``srgan.sr_batch`` with ``count`` crops and a generator seeded
    with ``seed``); the upsampling is MATLAB's bicubic ``imresize`` of the 8-bit LR crop, rounded to 8 bits.
    """
    batch = srgan.sr_batch(task, dataclasses.replace(config, batch_size=count), torch.Generator().manual_seed(seed))
    lr = (batch["LR"] * 255).round().to(torch.uint8)
    return imresize(lr, int(task.meta["scale"])).float().div_(255), batch["HR"]


def _calibrate(content: ContentNetwork, config: srgan.SRGANConfig, task: Task, device: torch.device
               ) -> ContentNetwork:
    """``content`` with s set as ``config.content_scale`` says (unchanged on the meta device's dry build)."""
    if config.content_scale == "fixed":
        return dataclasses.replace(content, scale=config.feature_rescale,
                                   scale_note=f"fixed srgan.feature_rescale {config.feature_rescale:.6g} (paper 3.2: "
                                              "1/12.75 for Caffe VGG19 features)")
    if device.type == "meta":
        return dataclasses.replace(content, scale_note="dry build (not calibrated)")
    upsampled, hr = bicubic_pairs(task, config)
    content.module.to(device).eval()
    scale = calibrated_scale(content.features, config.content.removeprefix("vgg"), upsampled.to(device),
                             hr.to(device))
    note = (f"calibrated so that l_X equals the pixel MSE of bicubic vs HR on {CALIBRATION_CROPS} training crops "
            f"(seed {CALIBRATION_SEED}), paper 3.2's aim for its 1/12.75")
    return dataclasses.replace(content, scale=scale, scale_note=note)


def sr_content_network(config: srgan.SRGANConfig, task: Task, device: torch.device) -> ContentNetwork | None:
    """The calibrated feature network of SRGAN's VGG content losses; None for pixel MSE."""
    if config.content == "mse":
        return None
    if config.vgg19_weights:
        network, sha = load_vgg19(config.vgg19_weights, config.vgg19_preprocess)
        content = ContentNetwork(network, network, f"VGG19 (torchvision layout, {config.vgg19_preprocess} "
                                                   f"preprocessing) from {config.vgg19_weights}, file sha256 {sha}")
    elif device.type == "meta":  # the suite's dry build: the network's shape only, never trained there
        untrained = SR_CONTENT.build(SR_CONTENT.data(task).params).to(device)
        content = ContentNetwork(untrained, untrained.features, "dry build (untrained)")
    else:
        judge = judge_for_task(SR_CONTENT, task, steps=config.judge_steps, batch_size=config.batch_size,
                               device=device, progress=False)
        content = ContentNetwork(judge.model, judge.model.features, f"{SR_CONTENT.description}, weights sha256 "
                                                                    f"{judge.sha256[:12]} ({judge.source})")
    return _calibrate(content, config, task, device)


def build_sr_model(config: srgan.SRGANConfig, task: Task, device: torch.device) -> srgan.SRGAN:
    """SRResNet / SRGAN with the content network this harness supplies (``sr_content_network``)."""
    srgan.validate_config(config, task.image_size)
    return srgan.build_srgan(config, task, device, sr_content_network(config, task, device))
