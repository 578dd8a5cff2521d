"""The resolved configuration of a run: runner options, evaluation settings, and one section per task and model.

Defaults are the papers' settings (the ``paper`` profile); ``harness/profiles/*.json`` shrink them. A new task or
model adds its config section here, explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from harness.config import apply_overrides, load_profile_file
from harness.core.errors import HarnessError
from harness.data.digits import DigitsConfig
from harness.data.maps import MapsConfig
from harness.data.probe import ProbeConfig
from harness.data.real_configs import AlignedFolderConfig, CityscapesConfig
from harness.data.scenes import ScenesConfig
from harness.data.sr import SRConfig
from harness.data.sr_folders import SRFoldersConfig
from harness.protocols.base import EvalConfig
from reference_models.cyclegan import CycleGANConfig
from reference_models.gan import GANConfig
from reference_models.pix2pix import Pix2PixConfig
from reference_models.srgan import SRGANConfig

PROFILES = ("smoke", "standard", "paper")
# SRResNet-MSE (SRGAN §3.2): G alone, pixel MSE, lr 1e-4 for 10^6 steps, no adversarial phase
SRRESNET_DEFAULTS = SRGANConfig(adversarial=False, content="mse", pretrain_steps=0, steps=1_000_000)


@dataclass(frozen=True)
class RunConfig:
    """Everything a run depends on; saved as ``config.json`` in the run directory."""

    profile: str = "smoke"  # the profile these values were resolved from (smoke | standard | paper)
    device: str = "auto"  # auto (cuda if available, else cpu) | cpu | cuda | cuda:N
    seeds: tuple[int, ...] = (0,)  # one job per (model, task, seed); CIs across seeds in reports
    models: tuple[str, ...] = ()  # models to run; empty = every registered model
    tasks: tuple[str, ...] = ()  # tasks to run; empty = every task each selected model supports
    checkpoint_every: int = 500  # training steps between resumable checkpoints
    log_every: int = 10  # training steps between recorded loss rows (losses.csv, progress bar)
    progress: bool = True  # show tqdm progress bars
    eval: EvalConfig = field(default_factory=EvalConfig)
    digits: DigitsConfig = field(default_factory=DigitsConfig)
    scenes: ScenesConfig = field(default_factory=ScenesConfig)
    maps: MapsConfig = field(default_factory=MapsConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    cityscapes: CityscapesConfig = field(default_factory=CityscapesConfig)
    aligned: AlignedFolderConfig = field(default_factory=AlignedFolderConfig)
    sr: SRConfig = field(default_factory=SRConfig)  # the embedded sr and sr_gray tasks
    sr_folders: SRFoldersConfig = field(default_factory=SRFoldersConfig)
    gan: GANConfig = field(default_factory=GANConfig)
    pix2pix: Pix2PixConfig = field(default_factory=Pix2PixConfig)
    cyclegan: CycleGANConfig = field(default_factory=CycleGANConfig)
    srresnet: SRGANConfig = field(default_factory=lambda: SRRESNET_DEFAULTS)  # SRResNet and SRResNet-VGG22
    srgan: SRGANConfig = field(default_factory=SRGANConfig)  # SRGAN (VGG54) and its SRGAN-MSE / -VGG22 variants


def profile_path(name: str) -> Path:
    """The JSON override file of profile ``name``; an unknown name is a ``HarnessError`` listing the profiles."""
    if name not in PROFILES:
        raise HarnessError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    return Path(str(resources.files("harness") / "profiles" / f"{name}.json"))


def resolve_config(profile: str, overrides: dict[str, object]) -> RunConfig:
    """Defaults → profile file → ``overrides`` (from CLI flags and ``--set``), each validated."""
    path = profile_path(profile)
    config = apply_overrides(RunConfig(profile=profile), load_profile_file(path), source=f"profile {path.name}")
    return apply_overrides(config, overrides, source="--set")
