"""Shared pieces of the faces protocol: judge predictions, the identity threshold, FID/KID per domain."""

from __future__ import annotations

import torch
import torch_fidelity

from harness.core.task import Task
from harness.data.face_labels import Group, task_groups
from harness.protocols.base import EvalContext
from harness.protocols.face_judges import judge_outputs
from harness.protocols.face_targets import domain_rows
from metrics.face_scores import cosine_similarity, eer_threshold, verification_pairs
from metrics.fidelity import fidelity_metrics, warn_small_sample
from metrics.judges.base import Judge
from metrics.judges.faces import WIDTH, decode_marginals

FEATURE_DIM = 4 * WIDTH  # FaceNet.features

THRESHOLD_IMAGES = 1000  # real training faces embedded to place the verification threshold
THRESHOLD_PAIRS = 2000  # same-person and different-person pairs among them
THRESHOLD_SEED = 7  # fixed: every job of a task uses the same threshold


def predict_groups(judge: Judge, images: torch.Tensor, task: Task, ctx: EvalContext) -> dict[str, torch.Tensor]:
    """CelebA group name -> judged value int64 (N,) from the attribute judge's joint softmax."""
    logits = judge_outputs(judge, images, ctx.config.batch_size, ctx.device)
    values = decode_marginals(logits, tuple(task.meta["attribute_names"]))
    groups = [g for g in task_groups(task) if g.dataset == "celeba"]
    return {g.name: v for g, v in zip(groups, values, strict=True)}


def predict_expressions(judge: Judge, images: torch.Tensor, ctx: EvalContext) -> torch.Tensor:
    """Judged expression index int64 (N,)."""
    return judge_outputs(judge, images, ctx.config.batch_size, ctx.device).argmax(1)


def embed(judge: Judge, images: torch.Tensor, ctx: EvalContext) -> torch.Tensor:
    """Identity embeddings (N, F) (cosine similarity normalises them)."""
    return judge_outputs(judge, images, ctx.config.batch_size, ctx.device, what="features")


def verification_threshold(judge: Judge, task: Task, ctx: EvalContext) -> float:
    """The equal-error-rate threshold on pairs of real training faces (fixed seed, every dataset of the task)."""
    gen = torch.Generator().manual_seed(THRESHOLD_SEED)
    images, people = [], []
    for dataset in task.domains:
        data = task.data("train", dataset)
        index = torch.randperm(len(data), generator=gen)[:THRESHOLD_IMAGES // len(task.domains)]
        images.append(data.get(index))
        people.append(data.labels["identity"][index])
    emb, who = embed(judge, torch.cat(images), ctx), torch.cat(people)
    same, diff = verification_pairs(who, THRESHOLD_PAIRS, gen)
    return eer_threshold(cosine_similarity(emb[same[:, 0]], emb[same[:, 1]]),
                         cosine_similarity(emb[diff[:, 0]], emb[diff[:, 1]]))


def domain_reference(task: Task, dataset: str, domain: str, limit: int) -> torch.Tensor:
    """Real training faces of ``domain`` (at most ``limit``): the FID/KID reference set."""
    rows = domain_rows(task, "train", dataset, domain)[:limit]
    return task.data("train", dataset).get(rows)


def domain_fidelity(images: torch.Tensor, real: torch.Tensor, judge: Judge, ctx: EvalContext
                    ) -> tuple[dict[str, float], dict[str, object]]:
    """FID and KID of ``images`` against ``real`` in the ``domains`` judge's features; values and provenance."""
    subset = min(ctx.config.kid_subset_size, len(images), len(real))
    values = fidelity_metrics(images, real, feature_extractor=judge.spec.name, weights_path=judge.path, prc=False,
                              kid_subset_size=subset, kid_subsets=ctx.config.kid_subsets,
                              batch_size=ctx.config.batch_size, seed=ctx.seed, device=ctx.device)
    provenance = {"fid": f"torch-fidelity {torch_fidelity.__version__}, harness face-domain judge features "
                         f"({FEATURE_DIM}-d) vs real training faces of the domain",
                  "kid_subset": subset, "small_sample_warning": warn_small_sample(len(images), FEATURE_DIM)
                  or "none"}
    return {"fid": values["fid"], "kid": values["kid"]}, provenance


def group_by_name(task: Task) -> dict[str, Group]:
    """Group name -> group, over every dataset of ``task``."""
    return {g.name: g for g in task_groups(task)}
