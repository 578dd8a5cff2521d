"""The judge machinery: one description, one training loop, one cache key, one provenance hash, one loader.

A judge is an evaluation network the harness trains itself on a task's real training data (a digit classifier, a
segmenter, later an expression classifier or an identity embedder). Each is a ``JudgeSpec``: a network factory, a
data source (task → ``JudgeData``), a target kind (which loss), an augmentation and its fixed training
hyper-parameters; the profile supplies steps and batch size (``Recipe``). Everything else lives here, once:

- ``train_judge``: Adam on the target kind's loss, batches drawn with replacement from an explicit generator,
  initialisation under a forked RNG (the global RNG is left alone); deterministic for a seed on CPU. The trained
  weights are rounded to float16 (stored at half the size; the stored and the in-memory judge are the same).
- ``judge_key``: ``stable_hash`` of the spec's name and architecture version, the network parameters, the recipe and
  what defines the training data: for an embedded task its origin (task name and generator cache key: generator
  version and config), else the sha256 of the exact training tensors. So a committed judge is found by its
  definition on every machine, and ``data_sha256`` is then *checked* against its pin (``metrics.judges.resolve``):
  a machine that generates other bytes gets a warning naming both hashes, not a silent retrain.
- ``save_judge`` / ``load_judge_file``: one file format (float16 state dict plus name, version and parameters), read
  with ``weights_only=True``.
- ``Judge.provenance``: the judge's description, the first 12 hex digits of ``weights_sha256`` of its loaded state
  dict and its source (``pinned`` / ``local``), as every row records them.

``metrics.judges.resolve`` picks the committed judge or trains and caches one; ``metrics.feature_extractor_judge``
turns any judge's ``features`` into a torch-fidelity extractor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from harness.core.atomic import torch_load, torch_save
from harness.core.cache import cache_location, stable_hash, tensors_sha256
from harness.core.errors import HarnessError
from harness.core.task import Task

TargetKind = Literal["class", "segmentation"]  # class: int64 (N,) → cross-entropy; segmentation: int64 (N, H, W)
Augment = Literal["none", "shift", "hflip"]  # shift: one random ≤ MAX_SHIFT px translation per batch; hflip: per image
Source = Literal["pinned", "local"]  # committed in the repository (same everywhere) or trained on this machine
MAX_SHIFT = 2  # pixels of the "shift" augmentation
IGNORE_NONE = -100  # torch's default ignore index: no label is ignored


@dataclass(frozen=True)
class JudgeData:
    """What a judge trains on.

    Attributes:
        images: uint8 ``(N, C, H, W)`` real training images (converted to float in [0, 1] per batch).
        targets: int64 ``(N,)`` class ids for ``"class"`` judges, int64 ``(N, H, W)`` for ``"segmentation"``.
        params: Network factory arguments fixed by the data; must hold ``num_classes`` (targets are checked
            against it); stored with the weights.
        ignore_index: Target value left out of the loss (255 for Cityscapes trainIds), ``IGNORE_NONE`` for none.
        origin: What defines the data when it is generated (``"<task>:<generator cache key>"``, set by
            ``with_origin``); empty for real datasets, whose judges are keyed by the data's sha256.
    """

    images: torch.Tensor
    targets: torch.Tensor
    params: Mapping[str, int]
    ignore_index: int = IGNORE_NONE
    origin: str = ""


@dataclass(frozen=True)
class Recipe:
    """Training hyper-parameters of one judge (part of its key)."""

    steps: int  # optimisation steps (the profile's eval.judge_steps)
    batch_size: int  # images per step, drawn with replacement (eval.judge_batch_size)
    lr: float  # Adam learning rate (the spec's)
    seed: int  # seeds initialisation, batch draws and augmentation (the spec's)


FeaturesFn = Callable[[nn.Module, torch.Tensor], Mapping[str, torch.Tensor]]


@dataclass(frozen=True)
class JudgeSpec:
    """A judge: a network and a data source, plus how to train it and which features it offers.

    Attributes:
        name: Registry name; also the file prefix and the feature-extractor name (``"harness-<name>"``).
        arch: Architecture and recipe version; bump it when either changes (it is part of the key).
        description: How rows name the judge (``"harness digit classifier"``).
        build: Network factory ``params → module`` (params from ``JudgeData.params``).
        data: Data source ``task → JudgeData`` (the real training data of the task's scored domain).
        target: Which loss: ``"class"`` or ``"segmentation"`` (cross-entropy, ``ignore_index`` skipped).
        augment: Training augmentation applied to each batch.
        lr: Adam learning rate.
        seed: Training seed (one judge per task for every model and job seed).
        features: ``(model, float (N, 3, H, W) in [0, 1]) → {layer: float (N, F)}`` for FID/KID.
        feature_layers: Layer names ``features`` returns; the first is the default for every metric.
        recipe_keys: The ``EvalConfig`` fields holding its steps and batch size (the face judges have their own).
    """

    name: str
    arch: str
    description: str
    build: Callable[[Mapping[str, int]], nn.Module]
    data: Callable[[Task], JudgeData]
    target: TargetKind
    augment: Augment
    lr: float
    seed: int
    features: FeaturesFn
    feature_layers: tuple[str, ...]
    recipe_keys: tuple[str, str] = ("judge_steps", "judge_batch_size")

    def __post_init__(self) -> None:
        if self.augment == "shift" and self.target != "class":
            raise ValueError(f"judge {self.name!r}: the 'shift' augmentation does not move {self.target} targets")
        if not self.feature_layers:
            raise ValueError(f"judge {self.name!r}: feature_layers must name at least one layer")

    def recipe(self, steps: int, batch_size: int) -> Recipe:
        """The recipe at a profile's steps and batch size."""
        if steps < 1 or batch_size < 1:
            raise HarnessError(f"judge {self.name!r}: eval.{self.recipe_keys[0]}={steps} and "
                               f"eval.{self.recipe_keys[1]}={batch_size} must both be >= 1")
        return Recipe(steps=steps, batch_size=batch_size, lr=self.lr, seed=self.seed)


@dataclass(frozen=True)
class Judge:
    """A loaded judge and where it came from.

    Attributes:
        spec: Its description. model: The network, in eval mode, on the requested device.
        path: Its weights file (committed or cached); the feature extractor loads it from there.
        sha256: ``weights_sha256`` of its state dict (full hex). source: ``"pinned"`` or ``"local"``.
    """

    spec: JudgeSpec
    model: nn.Module
    path: Path
    sha256: str
    source: Source

    def provenance(self) -> dict[str, str]:
        """The protocol-string keys that identify this judge in a row."""
        return {"judge": self.spec.description, "judge_sha256": self.sha256[:12], "judge_source": self.source}


def check_judge_data(spec: JudgeSpec, data: JudgeData) -> None:
    """Raises ``HarnessError`` naming the judge when ``data`` does not fit its target kind."""
    images, targets = data.images, data.targets
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[0] == 0:
        raise HarnessError(f"judge {spec.name!r}: training images must be non-empty uint8 (N, C, H, W), got "
                           f"{images.dtype} {tuple(images.shape)}")
    expected = (images.shape[0],) if spec.target == "class" else (images.shape[0], *images.shape[2:])
    if targets.dtype != torch.int64 or tuple(targets.shape) != expected:
        raise HarnessError(f"judge {spec.name!r}: {spec.target} targets must be int64 {expected}, got "
                           f"{targets.dtype} {tuple(targets.shape)}")
    classes = int(data.params["num_classes"])
    valid = (targets >= 0) & (targets < classes) | (targets == data.ignore_index)
    if not bool(valid.all()):
        raise HarnessError(f"judge {spec.name!r}: {spec.target} targets must be in [0, {classes - 1}]"
                           + (f" or {data.ignore_index}" if data.ignore_index != IGNORE_NONE else ""))


def _augment(kind: Augment, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """The spec's augmentation of one batch ``x`` float (B, C, H, W), ``y`` its targets."""
    if kind == "shift":  # translation by up to MAX_SHIFT px, zero fill, one offset per batch (class targets only)
        dy, dx = (int(v) for v in torch.randint(-MAX_SHIFT, MAX_SHIFT + 1, (2,), generator=generator))
        padded = F.pad(x, (MAX_SHIFT, MAX_SHIFT, MAX_SHIFT, MAX_SHIFT))
        height, width = x.shape[2], x.shape[3]
        return padded[:, :, MAX_SHIFT + dy : MAX_SHIFT + dy + height, MAX_SHIFT + dx : MAX_SHIFT + dx + width], y
    if kind == "hflip":  # a horizontal flip of half the images; a segmentation target flips with its image
        flip = torch.rand(x.shape[0], generator=generator) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        return x, (torch.where(flip[:, None, None], y.flip(2), y) if y.dim() == 3 else y)
    return x, y


def train_judge(spec: JudgeSpec, data: JudgeData, recipe: Recipe, *, device: torch.device,
                progress: bool) -> nn.Module:
    """The one judge training loop (Adam, cross-entropy on the target kind, the spec's augmentation).

    Args:
        spec: The judge.
        data: Its training data (checked with ``check_judge_data``).
        recipe: Steps, batch size, learning rate and seed.
        device: Where to train.
        progress: Whether to show a progress bar.

    Returns:
        The trained network in eval mode on ``device``, weights rounded to float16 precision (kept float32).
    """
    check_judge_data(spec, data)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = spec.build(data.params).to(device)
    generator = torch.Generator().manual_seed(recipe.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    model.train()
    for _ in tqdm(range(recipe.steps), desc=f"training judge {spec.name}", disable=not progress, leave=False):
        index = torch.randint(0, data.images.shape[0], (recipe.batch_size,), generator=generator)
        x, y = _augment(spec.augment, data.images[index].float().div_(255.0), data.targets[index], generator)
        loss = F.cross_entropy(model(x.to(device)), y.to(device), ignore_index=data.ignore_index)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    return model.eval()


def with_origin(data: JudgeData, task: Task) -> JudgeData:
    """``data`` marked with its task's generator identity (embedded tasks have ``meta["cache_key"]``, real ones not)."""
    key = task.meta.get("cache_key")
    return replace(data, origin=f"{task.name}:{key}") if key else data


def data_sha256(data: JudgeData) -> str:
    """Full sha256 of a judge's exact training tensors (images, then targets)."""
    return tensors_sha256(data.images, data.targets)


def judge_key(spec: JudgeSpec, data: JudgeData, recipe: Recipe) -> str:
    """The one key of a judge: spec name and version, network params, recipe, and what defines the data.

    That is the data's origin for a generated task (its bytes are checked against the pin separately), else the
    sha256 of the training tensors; plus the ignore index.
    """
    defines = f"origin:{data.origin}" if data.origin else data_sha256(data)
    return stable_hash(spec.name, spec.arch, dict(sorted(data.params.items())), asdict(recipe), defines,
                       data.ignore_index)


def save_judge(spec: JudgeSpec, model: nn.Module, params: Mapping[str, int], path: str | Path) -> None:
    """Atomically writes ``{"judge", "arch", "params", "state_dict"}``, floating tensors as float16."""
    state = {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu())
             for k, v in model.state_dict().items()}
    torch_save({"judge": spec.name, "arch": spec.arch, "params": dict(params), "state_dict": state}, path)


COMMITTED_DIR = Path(__file__).resolve().parent / "weights"  # the committed judges (package data; resolve.WEIGHTS_DIR)


def judge_file_hint(path: str | Path) -> str:
    """What to do about an unusable judge file, true for where it lies.

    A committed judge is package data: restoring it is the fix (deleting it only gives a "missing" error). A judge in
    the cache is retrained when deleted. Any other file is one the user named (``evaluate --weights``).
    """
    path = Path(path).resolve()
    if path.is_relative_to(COMMITTED_DIR):
        return ("it is a committed judge: restore it (git checkout -- metrics/judges/weights, or reinstall the "
                "package)")
    if path.is_relative_to(cache_location().resolve()):
        return "delete it and the harness retrains it"
    return "give the judge file the harness wrote (its cache under HARNESS_CACHE_DIR/judges, or a committed judge)"


def load_judge_file(spec: JudgeSpec, path: str | Path, device: torch.device | None = None) -> nn.Module:
    """Loads a file written by ``save_judge`` (``weights_only=True``: no code in it can run).

    Raises:
        HarnessError: Missing, unreadable, another judge's or another version's file, naming it and what to do
            (``judge_file_hint``).
    """
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"judge {spec.name!r}: weights file {str(path)!r} does not exist")
    hint = judge_file_hint(path)
    try:
        payload = torch_load(path, hint=hint)
        if not isinstance(payload, dict) or (payload.get("judge"), payload.get("arch")) != (spec.name, spec.arch):
            found = (payload.get("judge"), payload.get("arch")) if isinstance(payload, dict) else type(payload)
            raise HarnessError(f"judge {spec.name!r}: {str(path)!r} holds {found}, expected ({spec.name!r}, "
                               f"{spec.arch!r}); {hint}")
        model = spec.build({str(k): int(v) for k, v in payload["params"].items()})
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()})
    except HarnessError:
        raise
    except Exception as exc:  # an unpickling, key or shape error: not a judge file of this architecture
        raise HarnessError(f"judge {spec.name!r}: weights file {str(path)!r} cannot be loaded ({exc}); "
                           f"{hint}") from exc
    return model.to(device or torch.device("cpu")).eval()
