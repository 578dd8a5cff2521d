"""How the harness builds SRResNet / SRGAN: the content network of the VGG losses and the calibration of its scale.

The content network is VGG19 from ``srgan.vgg19_weights`` when the user gives that file (torchvision's or Caffe's
preprocessing, ``srgan.vgg19_preprocess``), else the harness's SR feature network trained on the task's HR
training tiles (``sr_content`` judge; committed for the smoke and standard profiles). Its feature scale s is then
calibrated on the task (``srgan.content_scale="calibrated"``, ``reference_models/sr_content.py``): the bicubic
upsampling of ``CALIBRATION_CROPS`` LR training crops (MATLAB ``imresize``, the protocol's ``bicubic`` baseline)
against their HR crops.

SRGAN starts from the trained SRResNet (§3.2): a SRGAN job whose pretraining is step for step the run's SRResNet job
of the same task and seed (same generator, optimiser settings, batch size and steps; ``adopt_srresnet``) takes that
job's final state instead of training it again when it is finished, which on CPU gives the same bytes as training it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from harness.core import atomic
from harness.core.errors import HarnessError
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
    # The content network is built (and may be trained and calibrated) on a fork of torch's RNG, so G is initialised
    # from the same RNG state with or without one: SRGAN-VGG's pretraining is then SRResNet's, step for step.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        content = sr_content_network(config, task, device)
    return srgan.build_srgan(config, task, device, content)


PRETRAINING_FIELDS = ("n_blocks", "width", "lr", "beta1", "batch_size")  # what SRGAN's MSE pretraining reads


def adopt_srresnet(model: srgan.SRGAN, config: srgan.SRGANConfig, donor: srgan.SRGANConfig, donor_final: Path,
                   checkpoint: Path, log_every: int) -> str | None:
    """Writes SRGAN's checkpoint at the end of its pretraining from a finished SRResNet job; None if they differ.

    SRGAN's first ``pretrain_steps`` steps train G alone with the pixel MSE, seeded and batched like the SRResNet job
    of the same task and seed (``reference_models/srgan.py``): when the SRResNet is pixel-MSE, without TV, trained
    for exactly ``pretrain_steps`` steps with the same ``PRETRAINING_FIELDS``, and ``log_every`` divides the steps
    (so its loss history and window are SRGAN's at that step), its ``model.pt`` holds SRGAN's state after pretraining
    but for D, which pretraining never touches. The checkpoint is SRGAN's fresh D and optimiser, its own content
    scale, and the SRResNet's G, G optimiser, step, RNG states and loss history.

    Args:
        model: The freshly built SRGAN (its D, D optimiser and content scale are kept).
        config: Its config.
        donor: The SRResNet job's config.
        donor_final: The finished SRResNet job's ``model.pt``.
        checkpoint: This job's checkpoint path (written).
        log_every: The run's steps per loss row.

    Raises:
        HarnessError: ``donor_final`` cannot be read or is not a SRResNet's state (named, with the fix).
    """
    steps = config.pretrain_steps
    same = (config.adversarial and steps > 0 and not donor.adversarial and donor.content == "mse"
            and not donor.tv_weight and donor.steps == steps and steps % log_every == 0
            and all(getattr(config, name) == getattr(donor, name) for name in PRETRAINING_FIELDS))
    if not same:
        return None
    hint = f"run the SRResNet job of {donor_final.parent} again (delete that folder and --resume)"
    state = atomic.torch_load(donor_final, hint=hint)
    try:
        trained = state["model"]
        if set(trained["networks"]) != {"G"} or int(trained["step"]) != steps:
            raise ValueError("not a SRResNet of this length")
        own = model.state_dict()
        merged = {"networks": own["networks"] | {"G": trained["networks"]["G"]},
                  "optimizers": own["optimizers"] | {"G": trained["optimizers"]["G"]},
                  "step": steps, "content_scale": own["content_scale"]}
        start = {"model": merged, "step": int(state["step"]), "batch_rng": state["batch_rng"],
                 "torch_rng": state["torch_rng"], "history": list(state["history"]), "window": state["window"]}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise HarnessError(f"{donor_final}: does not hold a trained SRResNet ({type(exc).__name__}); {hint}") from None
    atomic.torch_save(start, checkpoint)
    return f"its {steps} pretraining steps taken from {donor_final.parent.name} (the same steps, trained there)"
