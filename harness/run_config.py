"""The resolved configuration of a run: runner options, evaluation settings, and one section per task and model.

Defaults are the papers' settings (the ``paper`` profile); ``harness/profiles/*.json`` shrink them. A new task or
model adds its config section here, explicitly. Every resolved config is checked by ``harness.config.check_config``
(choices, ranges, paths) before a run directory is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from harness.cityscapes_task import CityscapesRunConfig
from harness.config import PROFILES, apply_overrides, check_config, flatten_dict, load_profile_file
from harness.core.bounds import AdamBeta, BatchSize, LearningRate, NonNegative, Probability, Range, Seed, Steps
from harness.core.errors import HarnessError
from harness.data.digits import DigitsConfig
from harness.data.faces import FacesConfig
from harness.data.maps import MapsConfig
from harness.data.probe import ProbeConfig
from harness.data.real_configs import AlignedFolderConfig
from harness.data.real_faces import RealFacesConfig
from harness.data.scenes import ScenesConfig
from harness.data.sr import SRConfig
from harness.data.sr_folders import SRFoldersConfig
from harness.data.svhn_mnist import SVHNMNISTConfig
from harness.models import MODELS
from harness.protocols.base import EvalConfig
from harness.sections import SectionSpec, apply_follow, apply_profile, followed_keys, run_config_class
from harness.study.config import StudyConfig
from harness.tasks import TASKS
from reference_models.cyclegan import CycleGANConfig
from reference_models.diat import DIATConfig
from reference_models.dtn import DTNConfig
from reference_models.gan import GANConfig
from reference_models.pix2pix import Pix2PixConfig
from reference_models.srgan import SRGANConfig
from reference_models.stargan import StarGANConfig

# SRResNet-MSE (SRGAN §3.2): G alone, pixel MSE, lr 1e-4 for 10^6 steps, no adversarial phase
SRRESNET_DEFAULTS = SRGANConfig(adversarial=False, content="mse", pretrain_steps=0, steps=1_000_000)


@dataclass(frozen=True)
class RunConfig:
    """Everything a run depends on; saved as ``config.json`` in the run directory."""

    profile: Literal["smoke", "standard", "paper"] = "smoke"  # the profile these values were resolved from
    device: str = "auto"  # auto (cuda if available, else cpu) | cpu | cuda | cuda:N
    seeds: tuple[Seed, ...] = (0,)  # one job per (model, task, seed); CIs across seeds in reports
    models: tuple[str, ...] = ()  # models to run; empty = every registered model
    tasks: tuple[str, ...] = ()  # tasks to run; empty = every task each selected model supports
    checkpoint_every: Steps = 500  # training steps between resumable checkpoints
    log_every: Steps = 10  # steps between loss rows (means over those steps: losses.csv, progress bar, NaN check)
    precision: Literal["fp32", "bf16"] = "fp32"  # training arithmetic: fp32, or bf16 autocast (channels-last on CUDA)
    compile: bool = False  # torch.compile every network before training (opt-in: pays off on a GPU, not on a CPU)
    progress: bool = True  # show tqdm progress bars
    task_overrides: tuple[str, ...] = ()  # "<model section>@<task>.<key>=<value>": a model setting on one task only
    plugins: tuple[str, ...] = ()  # plugin models loaded (--plugin, entry points): file paths or module:attribute
    references: str = ""  # reference rows shown beside the run's: "" none, "committed", or a folder of sets
    eval: EvalConfig = field(default_factory=EvalConfig)
    digits: DigitsConfig = field(default_factory=DigitsConfig)
    scenes: ScenesConfig = field(default_factory=ScenesConfig)
    maps: MapsConfig = field(default_factory=MapsConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    cityscapes: CityscapesRunConfig = field(default_factory=CityscapesRunConfig)
    aligned: AlignedFolderConfig = field(default_factory=AlignedFolderConfig)
    sr: SRConfig = field(default_factory=SRConfig)  # the embedded sr and sr_gray tasks
    sr_folders: SRFoldersConfig = field(default_factory=SRFoldersConfig)
    svhn_mnist: SVHNMNISTConfig = field(default_factory=SVHNMNISTConfig)
    gan: GANConfig = field(default_factory=GANConfig)
    pix2pix: Pix2PixConfig = field(default_factory=Pix2PixConfig)
    cyclegan: CycleGANConfig = field(default_factory=CycleGANConfig)
    srresnet: SRGANConfig = field(default_factory=lambda: SRRESNET_DEFAULTS)  # SRResNet and SRResNet-VGG22
    srgan: SRGANConfig = field(default_factory=SRGANConfig)  # SRGAN (VGG54) and its SRGAN-MSE / -VGG22 variants
    study: StudyConfig = field(default_factory=StudyConfig)  # human-study protocols, simulation and export
    dtn: DTNConfig = field(default_factory=DTNConfig)
    faces: FacesConfig = field(default_factory=FacesConfig)
    faces_real: RealFacesConfig = field(default_factory=RealFacesConfig)
    stargan: StarGANConfig = field(default_factory=StarGANConfig)
    diat: DIATConfig = field(default_factory=DIATConfig)  # DIAT and DIAT-A


def _r(annotated: object) -> Range:
    return next(m for m in getattr(annotated, "__metadata__", ()) if isinstance(m, Range))


_WIDTH, _STEPS, _BATCH = Range(1, 4096), _r(Steps), _r(BatchSize)
_COUNT, _SOME, _MS, _PX = Range(1, 1_000_000), Range(0, 1_000_000), Range(0, 600_000), Range(16, 4096)
_PEOPLE = Range(2, 1_000_000)  # a t-test between participants (AMT) or raters (MOS) needs two of them
_LR, _BETA, _PROB, _WEIGHT = _r(LearningRate), _r(AdamBeta), _r(Probability), _r(NonNegative)

# Ranges of the numeric fields of sections whose classes live outside the runner (reference_models/, the study's
# metrics/human_study/) and do not yet declare them in their annotations (``Annotated[int, Range(...)]``,
# harness.core.bounds); an annotation, where present, wins. Cross-field and task-dependent limits (U-Net depth vs
# image size) stay in each model's ``check``.
def _study_bounds() -> dict[str, Range]:
    observer = {"noise": Range(0.0, 100.0), "noise_spread": Range(0.0, 10.0), "bias_sd": Range(0.0, 100.0),
                "lapse": _PROB, "careless_fraction": _PROB, "w_realism": _WEIGHT, "w_reference": _WEIGHT}
    counts = {"seed": _r(Seed), "max_images": _COUNT, "n_reference": _COUNT,
              "amt.n_participants": _PEOPLE, "amt.n_practice": _SOME, "amt.n_trials": _COUNT, "amt.exposure_ms": _MS,
              "amt.display_px": _PX, "best_of.n_participants": _COUNT, "best_of.n_questions": _COUNT,
              "best_of.n_validation": _SOME, "best_of.max_validation_errors": _SOME, "best_of.exposure_ms": _MS,
              "best_of.display_px": _PX, "mos.n_raters": _PEOPLE, "mos.n_calibration": _SOME, "mos.n_images": _COUNT,
              "mos.exposure_ms": _MS, "mos.display_px": _PX, "stats.alpha": Range(0.0, 1.0, True, True),
              "stats.confidence": Range(0.0, 1.0, True, True), "stats.n_resamples": Range(1, 10_000_000)}
    who = ("amt_observer", "best_of_observer", "mos_observer")
    return {**{f"study.{k}": r for k, r in counts.items()},
            **{f"study.{o}.{k}": r for o in who for k, r in observer.items()}}


def _face_model_bounds() -> dict[str, Range]:
    """StarGAN's and DIAT's numeric options (their cross-field limits stay in each model's ``check``)."""
    stargan = {"g_conv_dim": _WIDTH, "d_conv_dim": _WIDTH, "g_repeat_num": Range(0, 64), "d_repeat_num": Range(1, 10),
               "lambda_cls": _WEIGHT, "lambda_rec": _WEIGHT, "lambda_gp": _WEIGHT, "g_lr": _LR, "d_lr": _LR,
               "beta1": _BETA, "beta2": _BETA, "n_critic": Range(1, 100), "batch_size": _BATCH, "steps": _STEPS,
               "decay_steps": Range(-1, _STEPS.hi), "lr_update_step": _STEPS, "rafd_steps": Range(-1, _STEPS.hi)}
    diat = {"ngf": _WIDTH, "n_blocks": Range(0, 64), "enhance_blocks": Range(0, 64), "ndf": _WIDTH,
            "denoise_channels": _WIDTH, "noise_sigma": Range(0.0, 10.0), "lambda_att": _WEIGHT, "lambda_id": _WEIGHT,
            "lambda_reg": _WEIGHT, "lambda_pix": _WEIGHT, "lr": _LR, "beta1": _BETA, "beta2": _BETA,
            "batch_size": _BATCH, "steps": _STEPS, "denoise_steps": Range(0, _STEPS.hi),
            "enhance_steps": Range(0, _STEPS.hi), "identity_net_steps": _STEPS, "identity_net_batch": _BATCH}
    return {**{f"stargan.{k}": r for k, r in stargan.items()}, **{f"diat.{k}": r for k, r in diat.items()}}


def _srgan_bounds(section: str) -> dict[str, Range]:
    ranges = {"n_blocks": Range(0, 256), "width": _WIDTH, "d_width": _WIDTH, "d_dense": Range(1, 65536),
              "feature_rescale": Range(0.0, 1e6, open_lo=True), "adv_weight": _WEIGHT, "tv_weight": _WEIGHT,
              "lr": _LR, "adversarial_lr": Range(0.0, _LR.hi), "beta1": _BETA, "batch_size": _BATCH,
              "pretrain_steps": Range(0, _STEPS.hi), "steps": _STEPS, "decay_after": Range(0, _STEPS.hi),
              "judge_steps": _STEPS}
    return {f"{section}.{k}": r for k, r in ranges.items()}


SECTION_BOUNDS: Mapping[str, Range] = {
    "gan.noise_dim": _WIDTH, "gan.g_hidden": Range(1, 65536), "gan.d_units": Range(1, 65536),
    "gan.d_pieces": Range(1, 64), "gan.g_irange": _WEIGHT, "gan.d_irange": _WEIGHT, "gan.max_col_norm": _WEIGHT,
    "gan.d_input_keep": Range(0.0, 1.0, open_lo=True), "gan.d_hidden_keep": Range(0.0, 1.0, open_lo=True),
    "gan.lr": _LR, "gan.lr_decay": Range(1.0, 2.0), "gan.min_lr": Range(0.0, 10.0), "gan.momentum_start": _BETA,
    "gan.momentum_end": _BETA, "gan.momentum_saturate_steps": Range(0, _STEPS.hi), "gan.d_steps": Range(1, 100),
    "gan.batch_size": _BATCH, "gan.steps": _STEPS,
    "pix2pix.ngf": _WIDTH, "pix2pix.ndf": _WIDTH, "pix2pix.num_downs": Range(1, 12),
    "pix2pix.d_receptive_field": Range(1, 4096), "pix2pix.lambda_l1": _WEIGHT, "pix2pix.lr": _LR,
    "pix2pix.beta1": _BETA, "pix2pix.beta2": _BETA, "pix2pix.batch_size": _BATCH, "pix2pix.steps": _STEPS,
    "pix2pix.decay_steps": Range(-1, _STEPS.hi),  # -1 = the second half of the schedule
    "cyclegan.ngf": _WIDTH, "cyclegan.ndf": _WIDTH, "cyclegan.n_blocks": Range(0, 64),
    "cyclegan.lambda_cycle": _WEIGHT, "cyclegan.lambda_identity": _WEIGHT, "cyclegan.pool_size": Range(0, 10000),
    "cyclegan.lr": _LR, "cyclegan.beta1": _BETA, "cyclegan.beta2": _BETA, "cyclegan.batch_size": _BATCH,
    "cyclegan.steps": _STEPS, "cyclegan.decay_steps": Range(-1, _STEPS.hi), "cyclegan.image_size": Range(0, 2048),
    **_srgan_bounds("srresnet"), **_srgan_bounds("srgan"),
    "dtn.alpha": _WEIGHT, "dtn.beta": _WEIGHT, "dtn.gamma": _WEIGHT, "dtn.ngf": _WIDTH, "dtn.ndf": _WIDTH,
    "dtn.lr": _LR, "dtn.beta1": _BETA, "dtn.beta2": _BETA, "dtn.batch_size": _BATCH, "dtn.steps": _STEPS,
    **_face_model_bounds(),
    **_study_bounds(),
}


def profile_path(name: str) -> Path:
    """The JSON override file of profile ``name``; an unknown name is a ``HarnessError`` listing the profiles."""
    if name not in PROFILES:
        raise HarnessError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    return Path(str(resources.files("harness") / "profiles" / f"{name}.json"))


def plugin_sections() -> dict[str, SectionSpec]:
    """Config section name → ``SectionSpec`` of every registered plugin model (variants share their section)."""
    return {spec.config_section: spec.section for _, spec in MODELS.items() if spec.section is not None}


def config_class() -> type[RunConfig]:
    """``RunConfig`` with a field per loaded plugin's section (``harness.sections.run_config_class``)."""
    return run_config_class(RunConfig, plugin_sections())


def resolve_config(profile: str, overrides: Mapping[str, object], flags: Mapping[str, str] | None = None) -> RunConfig:
    """Defaults → profile file → plugin sections' profile values → ``overrides`` → followed keys, then checked whole.

    Args:
        profile: Profile name.
        overrides: Dotted key → value (``plugins``: the sources of the loaded plugins, ``harness.plugins``).
        flags: Dotted key → the flag that set it (``"seeds": "--seeds"``), for messages; others say ``--set``.
    """
    path = profile_path(profile)
    from_profile = load_profile_file(path)
    config = apply_overrides(config_class()(profile=profile), from_profile, source=f"profile {path.name}")
    config, named = apply_profile(config, plugin_sections(), profile)
    config = _apply_cli(config, overrides, flags or {})
    config = apply_follow(config, plugin_sections(), named | set(overrides))
    sources = {**{k: f"profile {path.name}" for k in from_profile}, **_sources(overrides, flags or {})}
    check_config(config, sources=sources, bounds=SECTION_BOUNDS)
    _check_task_overrides(config)
    return config


def _sources(overrides: Mapping[str, object], flags: Mapping[str, str]) -> dict[str, str]:
    return {k: flags.get(k, "--set") for k in overrides}


def _apply_cli(config: RunConfig, overrides: Mapping[str, object], flags: Mapping[str, str]) -> RunConfig:
    for key, value in overrides.items():
        try:
            config = apply_overrides(config, {key: value}, source=flags.get(key, "--set"))
        except HarnessError as exc:  # a wrong type: say the accepted range too, as annotated fields do
            if key not in SECTION_BOUNDS or "; expected" in str(exc):
                raise
            raise HarnessError(f"{exc}; expected {SECTION_BOUNDS[key].describe()}") from None
    return config


def config_from_saved(path: Path, overrides: Mapping[str, object] | None = None,
                      flags: Mapping[str, str] | None = None) -> RunConfig:
    """The config saved in a run's ``config.json``, with ``overrides`` on top, checked like ``resolve_config``.

    Raises:
        HarnessError: The file is missing or unreadable, or a value in it (or in ``overrides``) is not accepted.
    """
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read the run's saved config ({type(exc).__name__}); expected the "
                           "config.json a run writes") from None
    if not isinstance(saved, dict):
        raise HarnessError(f"{path}: expected a JSON object (the config.json a run writes)")
    flat, overrides = flatten_dict(saved), overrides or {}
    config = _apply_cli(config_from_dict(saved, source=str(path)), overrides, flags or {})
    check_config(config, sources={**{k: str(path) for k in flat}, **_sources(overrides, flags or {})},
                 bounds=SECTION_BOUNDS)
    _check_task_overrides(config)
    return config


def config_from_dict(data: Mapping[str, object], source: str) -> RunConfig:
    """A config from its ``config_to_dict`` form (``config.json``); its plugins must already be loaded."""
    return apply_overrides(config_class()(), flatten_dict(data), source=source)


def _check_task_overrides(config: RunConfig) -> None:
    """Parses, type-checks and range-checks every ``task_overrides`` entry, before anything runs."""
    for entry in config.task_overrides:
        section, task, key, value = parse_task_override(entry)
        source = f"task_overrides {entry!r}"
        changed = apply_overrides(getattr(config, section), {key: value}, source=source)
        check_config(changed, sources={f"{section}.{key}": source}, bounds=SECTION_BOUNDS, prefix=f"{section}.")


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
    """The config section ``section`` as a model runs with it on ``task``: ``task_overrides`` for it applied.

    A plugin section that follows a built-in one also takes that section's ``task_overrides`` of its followed keys
    (``cyclegan@digits.jitter=false``), unless it has its own entry for the key on ``task``.
    """
    entries = _task_entries(config, section, task)
    spec = plugin_sections().get(section)
    if spec is not None and spec.follows:
        keys, own = followed_keys(spec, getattr(config, spec.follows)), {key for key, _ in entries}
        entries = [e for e in _task_entries(config, spec.follows, task) if e[0] in keys and e[0] not in own] + entries
    current = getattr(config, section)
    for key, entry in entries:
        current = apply_overrides(current, {key: parse_task_override(entry)[3]}, source=f"task_overrides {entry!r}")
    return current


def _task_entries(config: RunConfig, section: str, task: str) -> list[tuple[str, str]]:
    """``(key, entry)`` of every ``task_overrides`` entry for ``section`` on ``task``, in order."""
    found = []
    for entry in config.task_overrides:
        entry_section, entry_task, key, _ = parse_task_override(entry)
        if (entry_section, entry_task) == (section, task):
            found.append((key, entry))
    return found


def model_config(config: RunConfig, model: str, task: str) -> object:
    """The config ``model`` (a model or variant name) runs with on ``task``.

    Its section, then the section's ``task_overrides`` for ``task``, then the variant's overrides.
    """
    spec = MODELS.get(model)
    section = model_section(config, spec.config_section, task)
    return apply_overrides(section, dict(spec.config_overrides or {}), source=f"model variant {model}")

