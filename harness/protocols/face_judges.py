"""The faces protocol's judges, resolved once per evaluation through the judge machinery.

``metrics.judges.resolve`` gives the committed (pinned) judge when one exists for this data and recipe, else one
trained and cached locally; every row names each judge, its weights sha256 and its source.
"""

from __future__ import annotations

import torch

from harness.protocols.base import EvalContext
from metrics.judges.base import Judge, JudgeSpec
from metrics.judges.faces import FACE_ATTRIBUTES, FACE_DOMAINS, FACE_EXPRESSION, FACE_IDENTITY
from metrics.judges.resolve import judge_for_task

KINDS: dict[str, JudgeSpec] = {"expression": FACE_EXPRESSION, "attributes": FACE_ATTRIBUTES,
                               "identity": FACE_IDENTITY, "domains": FACE_DOMAINS}  # protocol name -> judge


def judge_for(ctx: EvalContext, kind: str) -> Judge:
    """The ``kind`` judge of ``ctx.task`` at the profile's faces-judge steps and batch size."""
    spec = KINDS[kind]
    steps_key, batch_key = spec.recipe_keys
    return judge_for_task(spec, ctx.task, steps=getattr(ctx.config, steps_key),
                          batch_size=getattr(ctx.config, batch_key), device=ctx.device, progress=ctx.progress)


def judge_provenance(kind: str, judge: Judge) -> dict[str, str]:
    """``<kind>_judge``, ``<kind>_judge_sha256`` and ``<kind>_judge_source`` (several judges share a row)."""
    return {f"{kind}_{key}": value for key, value in judge.provenance().items()}


@torch.no_grad()
def judge_outputs(judge: Judge, images: torch.Tensor, batch_size: int, device: torch.device,
                  what: str = "logits") -> torch.Tensor:
    """``what`` = ``"logits"`` (N, K) or ``"features"`` (N, F) of float images (N, 3, H, W) in [0, 1], on CPU."""
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start: start + batch_size].to(device)
        out.append((judge.model(x) if what == "logits" else judge.model.features(x)).cpu())
    return torch.cat(out) if out else torch.zeros(0)
