"""Helpers every protocol shares: turning a metric dict into rows, and writing sample strips."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch

from harness.core import atomic
from harness.core.images import make_grid, save_image
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
