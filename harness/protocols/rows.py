"""Helpers every protocol shares: turning a metric dict into rows, and writing sample strips."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from PIL import Image

from harness.core import atomic
from harness.core.images import make_grid, save_image, to_uint8
from harness.core.results import Row, protocol_string
from harness.protocols.base import EvalContext
from metrics.registry import higher_is_better


def make_rows(ctx: EvalContext, values: Mapping[str, float], *, n: int, protocol: Mapping[str, object],
              ci: Mapping[str, tuple[float, float]] | None = None,
              published: Callable[[str], tuple[float, str]] | None = None, split: str = "test") -> list[Row]:
    """One ``Row`` per value; directions from the metric registry, setting from ``ctx``, provenance from ``protocol``.

    Args:
        ctx: Evaluation context (model, task, seed, setting).
        values: Metric key → value; every key resolves in ``metrics.registry.higher_is_better``.
        n: Sample count behind the values.
        protocol: Provenance details, formatted with ``protocol_string`` and followed by ``ctx.model_provenance``.
        ci: Metric key → (low, high) where the protocol gives an interval.
        published: Metric key → (published value, source), or None.
        split: Split evaluated.
    """
    rows = []
    provenance = protocol_string(**protocol, **ctx.model_provenance)
    for metric, value in values.items():
        low, high = (ci or {}).get(metric, (math.nan, math.nan))
        pub_value, pub_source = published(metric) if published else (math.nan, "")
        rows.append(Row(model=ctx.model_name, task=ctx.task.name, metric=metric, value=float(value), ci_low=low,
                        ci_high=high, n=n, seed=ctx.seed, split=split, setting=ctx.setting,
                        higher_is_better=higher_is_better(metric),
                        protocol=provenance, published_value=pub_value, published_source=pub_source))
    return rows


def save_strip(ctx: EvalContext, direction: str, images: torch.Tensor, name: str | None = None) -> None:
    """Writes a one-row strip of ``images`` (N, C, H, W) in [0, 1] to ``sample_dir/direction/<name>.png``.

    ``name`` defaults to ``<model>__s<seed>``; reports put strips of the same direction side by side.
    """
    path = ctx.sample_dir / direction / f"{name or f'{ctx.model_name}__s{ctx.seed}'}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as tmp:
        save_image(make_grid([images]), tmp)


def as_saved(images: torch.Tensor) -> torch.Tensor:
    """Float ``(N, C, H, W)`` in [0, 1] rounded to 8-bit levels, as an image file stores them.

    Protocols score a model's outputs through this, so that the outputs written by ``suite --save-outputs`` and
    scored again with ``evaluate`` give the same numbers: one protocol, one number (the papers score saved PNGs too).
    """
    return to_uint8(images).float().div_(255.0)


def save_outputs(ctx: EvalContext, folder: str, images: torch.Tensor, names: list[str]) -> None:
    """With ``suite --save-outputs``: each image as ``<outputs_dir>/<folder>/<name>.png`` (8-bit, atomic); else nothing.

    Args:
        ctx: The evaluation context (``outputs_dir`` None means nothing is saved).
        folder: Sub-folder (a direction, a target).
        images: Float ``(N, C, H, W)`` in [0, 1] (already ``as_saved``: the file holds exactly what was scored).
        names: N file names without suffix.
    """
    if ctx.outputs_dir is None:
        return
    target = ctx.outputs_dir / folder
    target.mkdir(parents=True, exist_ok=True)
    for image, name in zip(images, names, strict=True):
        with atomic.atomic_path(target / f"{name}.png") as tmp:
            save_image(image, tmp)


def frame_names(start: int, count: int) -> list[str]:
    """Names of test images ``start .. start + count - 1``: their index in the test split, zero-padded."""
    return [f"{index:05d}" for index in range(start, start + count)]


def save_label_maps(ctx: EvalContext, folder: str, maps: torch.Tensor, names: list[str]) -> None:
    """With ``--save-outputs``: integer ``(N, H, W)`` maps in 0..255 as 8-bit grey PNGs (trainIds, 255 = ignore)."""
    if ctx.outputs_dir is None:
        return
    target = ctx.outputs_dir / folder
    target.mkdir(parents=True, exist_ok=True)
    for array, name in zip(maps.to(torch.uint8).numpy(), names, strict=True):
        with atomic.atomic_path(target / f"{name}.png") as tmp:
            Image.fromarray(array).save(tmp, format="PNG")
