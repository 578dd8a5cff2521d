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
from harness.models import MODELS
from harness.protocols.base import EvalConfig
from harness.study.config import StudyConfig
from harness.tasks import TASKS
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
    task_overrides: tuple[str, ...] = ()  # "<model section>@<task>.<key>=<value>": a model setting on one task only
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
    study: StudyConfig = field(default_factory=StudyConfig)  # human-study protocols, simulation and export


def profile_path(name: str) -> Path:
    """The JSON override file of profile ``name``; an unknown name is a ``HarnessError`` listing the profiles."""
    if name not in PROFILES:
        raise HarnessError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    return Path(str(resources.files("harness") / "profiles" / f"{name}.json"))


def resolve_config(profile: str, overrides: dict[str, object]) -> RunConfig:
    """Defaults → profile file → ``overrides`` (from CLI flags and ``--set``), each validated."""
    path = profile_path(profile)
    config = apply_overrides(RunConfig(profile=profile), load_profile_file(path), source=f"profile {path.name}")
    config = apply_overrides(config, overrides, source="--set")
    for entry in config.task_overrides:  # each one parsed and type-checked now, before anything runs
        section, task, key, value = parse_task_override(entry)
        apply_overrides(getattr(config, section), {key: value}, source=f"task_overrides {entry!r}")
    return config


def parse_task_override(entry: str) -> tuple[str, str, str, str]:
    """Splits ``"cyclegan@cityscapes.n_blocks=6"`` into ``("cyclegan", "cityscapes", "n_blocks", "6")``.

    The section must be a model section of ``RunConfig`` and the task a registered task; the key and value are
    checked against the section's types by ``apply_overrides`` (``resolve_config`` does it for every entry).
    """
    target, sep, value = entry.partition("=")
    section, at, rest = target.strip().partition("@")
    task, dot, key = rest.partition(".")
    if not (sep and at and dot and key):
        raise HarnessError(f"task_overrides: {entry!r} is not <model section>@<task>.<key>=<value>, "
                           "e.g. cyclegan@cityscapes.n_blocks=6")
    sections = sorted({spec.config_section for _, spec in MODELS.items()})
    if section not in sections:
        raise HarnessError(f"task_overrides {entry!r}: {section!r} is not a model section; "
                           f"expected one of {', '.join(sections)}")
    TASKS.get(task)
    return section, task, key, value.strip()


def model_section(config: RunConfig, section: str, task: str) -> object:
    """The config section ``section`` as a model runs with it on ``task``: ``task_overrides`` for it applied."""
    current = getattr(config, section)
    for entry in config.task_overrides:
        entry_section, entry_task, key, value = parse_task_override(entry)
        if (entry_section, entry_task) == (section, task):
            current = apply_overrides(current, {key: value}, source=f"task_overrides {entry!r}")
    return current


def model_config(config: RunConfig, model: str, task: str) -> object:
    """The config ``model`` (a model or variant name) runs with on ``task``.

    Its section, then the section's ``task_overrides`` for ``task``, then the variant's overrides.
    """
    spec = MODELS.get(model)
    section = model_section(config, spec.config_section, task)
    return apply_overrides(section, dict(spec.config_overrides or {}), source=f"model variant {model}")
