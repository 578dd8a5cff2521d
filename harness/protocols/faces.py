"""The ``faces`` protocol: expression error, attribute transfer accuracy, identity preservation, FID/KID.

StarGAN's Table 3 expression-classifier error, attribute transfer accuracy, identity preservation and FID/KID per
target domain, for StarGAN, DIAT, DIAT-A and CycleGAN (and any faces model).

A faces model translates ``translate(images, dataset=, source=, target=)`` with label vectors of the dataset
(CelebA attributes, RaFD one-hot expressions), lists its datasets in ``directions()`` and the networks serving a
dataset in ``networks_for(dataset)``, and says with ``can_translate(dataset=, source=, target=)`` whether it can
reach those targets from those inputs (DIAT's one-way pairs cannot leave a non-neutral face); its ``provenance()``
reaches every row through ``ctx.model_provenance``. Targets: ``face_targets``.

Rows per dataset the model translates (pooled rows carry a 95% CI clustered by input face, ``face_expression``):
- RaFD: ``expression_error`` (percent of outputs the expression judge does not read as the target; StarGAN
  Table 3) and ``expression_error[<target>]``; ``expression_error_floor``, the judge's own error on real test faces
  of the target expressions (informational: the best any method can score); ``all_faces_expression_error`` and its
  floor, every test face to each other expression, for models that can translate it.
- CelebA: ``<group>_transfer_accuracy`` (hair, Male, Young; the fraction of outputs whose changed groups the
  attribute judge reads as the target) with ``[<target>]`` per value, and ``HG``/``HA``/``GA``/``HGA``.
- ``<dataset>_identity_verification`` / ``_identity_distance``: input vs output under the identity judge, the
  threshold at the equal error rate of real training pairs.
- ``<dataset>_fid[<domain>]`` / ``_kid[<domain>]`` per target domain against real training faces of it, and their
  means ``<dataset>_fid`` / ``_kid``.
- ``parameters`` and ``<dataset>_parameters``: the whole system's parameter count (StarGAN Table 3 counts DIAT
  and CycleGAN as one model per pair); ``comparable_to_paper`` says whether the counted layers are the paper's
  (the model's ``model_architecture`` provenance: official code, or the harness's design where a paper is silent).
Outputs are rounded to 8-bit levels before they are judged (``rows.as_saved``); ``suite --save-outputs`` writes them
as ``<dataset>/<target>/<test index>.png`` (a folder per target) and the test faces as ``inputs/<dataset>/``, which
``evaluate --metric expression_error`` / ``transfer_accuracy`` / ``identity`` score the same way.
Reference rows (``real_data``): each judge's accuracy on real test faces (``expression_error`` is the table's
"Real images" row), real same-person verification and false accepts, and the FID/KID of real test faces.
"""

from __future__ import annotations

from collections import defaultdict

import torch

from harness import published
from harness.core.results import Row
from harness.protocols.base import EvalContext, ProtocolSpec
from harness.protocols.face_checks import check_faces
from harness.protocols.face_expression import CI_NOTE, all_faces_rows, floor, pooled_ci, real_errors
from harness.protocols.face_judges import judge_for, judge_outputs, judge_provenance
from harness.protocols.face_scoring import (
    domain_fidelity,
    domain_reference,
    embed,
    predict_expressions,
    predict_groups,
    verification_threshold,
)
from harness.protocols.face_targets import Target, domain_rows, targets_for
from harness.protocols.rows import as_saved, make_rows, save_outputs, save_strip
from metrics.face_scores import expression_error, identity_scores, transfer_hits, verification_reference
from metrics.judges.base import Judge
from metrics.judges.faces import attribute_data, decode_codes, domain_data, expression_data, identity_data

DATASET_ORDER = ("celeba", "rafd")
OFFICIAL_SIZES = "official code at the paper's sizes"  # a model_architecture starting so has the paper's count
TEST_DATA = {"expression": expression_data, "attributes": attribute_data, "identity": identity_data,
             "domains": domain_data}  # judge kind -> its data source, read on the test split


def _judges(ctx: EvalContext) -> dict[str, Judge]:
    kinds = ["identity", "domains"] + (["attributes"] if "celeba" in ctx.task.domains else []) + (
        ["expression"] if "rafd" in ctx.task.domains else [])
    return {kind: judge_for(ctx, kind) for kind in kinds}


def _base_protocol(ctx: EvalContext, judges: dict[str, Judge], threshold: float) -> dict[str, object]:
    out: dict[str, object] = {"protocol": "faces", "setting": ctx.setting, "variant": ctx.variant}
    for kind, judge in judges.items():
        out |= judge_provenance(kind, judge)
    return out | {"identity_threshold": f"{threshold:.4f} (EER of real training pairs)",
                  "comparable_to_paper": "no (harness-trained judges)"}


def _published(ctx: EvalContext):
    return lambda metric: published.lookup(model=ctx.model_name, task_family="rafd", metric=metric)


def _translate(model: object, ctx: EvalContext, target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    test = ctx.task.data("test", target.dataset)
    inputs, outputs = test.get(target.rows), []
    for start in range(0, len(inputs), ctx.config.batch_size):
        part = slice(start, start + ctx.config.batch_size)
        outputs.append(model.translate(inputs[part], dataset=target.dataset, source=target.source[part],
                                       target=target.target[part]).cpu())
    out = as_saved(torch.cat(outputs))  # what an image file holds; --save-outputs writes exactly these
    save_outputs(ctx, f"{target.dataset}/{target.name}", out, row_names(target.rows))
    return inputs, out


def _judge_target(ctx: EvalContext, target: Target, outputs: torch.Tensor, judges: dict[str, Judge]
                  ) -> tuple[str, torch.Tensor]:
    """``(row key, per-output outcome)``: expression mistakes (RaFD) or transfer hits (CelebA)."""
    if target.dataset == "rafd":
        return f"expression_error[{target.name}]", predict_expressions(judges["expression"], outputs,
                                                                        ctx) != target.target.argmax(1)
    judged = predict_groups(judges["attributes"], outputs, ctx.task, ctx)
    wanted = {g.name: g.values(target.target) for g in target.groups}
    return f"{target.metric}_transfer_accuracy[{target.name}]", transfer_hits(judged, wanted)


def _rate(outcome: torch.Tensor, dataset: str) -> float:
    """Expression error in percent (RaFD), transfer accuracy as a fraction (CelebA)."""
    return float(outcome.double().mean() * (100 if dataset == "rafd" else 1))


def _score_dataset(model: object, ctx: EvalContext, dataset: str, judges: dict[str, Judge],
                   protocol: dict[str, object], threshold: float) -> list[Row]:
    values: dict[str, tuple[float, int]] = {}  # row key -> (value, n)
    pooled: dict[str, list[torch.Tensor]] = defaultdict(list)
    pooled_targets: dict[str, list[Target]] = defaultdict(list)
    identity_in, identity_out, fid, fid_protocol = [], [], defaultdict(list), {}
    targets = [t for t in targets_for(ctx.task, dataset, ctx.config.n_samples) if len(t.rows)]
    for target in targets:
        inputs, outputs = _translate(model, ctx, target)
        save_strip(ctx, f"{dataset}_{target.name}", outputs[: ctx.config.n_sample_images])
        key, outcome = _judge_target(ctx, target, outputs, judges)
        values[key] = (_rate(outcome, dataset), len(outcome))
        pooled[key.split("[")[0]].append(outcome)
        pooled_targets[key.split("[")[0]].append(target)
        if target.domain is not None:
            identity_in.append(embed(judges["identity"], inputs, ctx))
            identity_out.append(embed(judges["identity"], outputs, ctx))
            real = domain_reference(ctx.task, dataset, target.domain, ctx.config.n_samples)
            scores, fid_protocol = domain_fidelity(outputs, real, judges["domains"], ctx)
            for name, value in scores.items():
                fid[name].append(value)
                values[f"{dataset}_{name}[{target.domain}]"] = (value, len(outputs))
    for key, parts in pooled.items():
        if len(parts) == 1:  # one target (H+G...): the pooled row is that row
            values.pop(next(k for k in values if k.startswith(key + "[")))
        values[key] = (_rate(torch.cat(parts), dataset), sum(len(p) for p in parts))
    n_fid = sum(len(p) for p in identity_in)
    values |= {f"{dataset}_{name}": (sum(v) / len(v), n_fid) for name, v in fid.items()}
    if identity_in:
        ident = identity_scores(torch.cat(identity_in), torch.cat(identity_out), threshold)
        values |= {f"{dataset}_{name}": (value, n_fid) for name, value in ident.items()}
    scale = 100.0 if dataset == "rafd" else 1.0
    ci = {key: pooled_ci(pooled[key], pooled_targets[key], scale) for key in pooled}
    extra: list[Row] = []
    if dataset == "rafd":
        errors = real_errors(judges["expression"], ctx)
        values["expression_error_floor"] = (floor(errors, targets), sum(len(t.rows) for t in targets))
        extra = all_faces_rows(model, ctx, judges["expression"], protocol, errors)
    inputs = "neutral test faces to each other expression" if dataset == "rafd" else "test faces, official targets"
    full = protocol | {"dataset": dataset, "inputs": inputs, "ci": f"pooled rows {CI_NOTE}"} | fid_protocol
    return [row for key, (value, n) in values.items()  # make_rows adds the model's provenance
            for row in make_rows(ctx, {key: value}, n=n, protocol=full, published=_published(ctx), ci=ci)] + extra


def _parameter_rows(model: object, ctx: EvalContext) -> list[Row]:
    values = {"parameters": float(sum(p.numel() for net in model.networks().values() for p in net.parameters()))}
    for dataset in model.directions():
        nets = model.networks_for(dataset)
        values[f"{dataset}_parameters"] = float(sum(p.numel() for net in nets.values() for p in net.parameters()))
    architecture = ctx.model_provenance.get("model_architecture", "the model does not say which layers it has")
    comparable = "yes (" + architecture + ")" if architecture.startswith(OFFICIAL_SIZES) else f"no ({architecture})"
    protocol = {"protocol": "faces", "count": "every trained network (G and D), StarGAN Table 3 convention",
                "setting": ctx.setting, "variant": ctx.variant, "comparable_to_paper": comparable}
    return make_rows(ctx, values, n=1, protocol=protocol, published=_published(ctx))


def evaluate_faces(model: object, ctx: EvalContext) -> list[Row]:
    """Every faces row of ``model`` (see the module docstring)."""
    judges = _judges(ctx)
    threshold = verification_threshold(judges["identity"], ctx.task, ctx)
    protocol = _base_protocol(ctx, judges, threshold)
    rows: list[Row] = []
    for dataset in (d for d in DATASET_ORDER if d in ctx.task.domains and d in model.directions()):
        rows += _score_dataset(model, ctx, dataset, judges, protocol, threshold)
    return rows + _parameter_rows(model, ctx)


def _judge_accuracy(ctx: EvalContext, judges: dict[str, Judge], protocol: dict[str, object]) -> list[Row]:
    """Each judge's accuracy on the real test faces it can label (n = those faces)."""
    rows = []
    for kind, judge in judges.items():
        images, targets, _ = TEST_DATA[kind](ctx.task, "test")
        logits = judge_outputs(judge, images.float().div(255), ctx.config.batch_size, ctx.device)
        values = {f"{kind}_accuracy": float((logits.argmax(1) == targets).double().mean())}
        if kind == "expression":
            values |= expression_error(logits.argmax(1), targets)
        elif kind == "attributes":
            truth = decode_codes(targets, tuple(ctx.task.meta["attribute_names"]))
            judged = predict_groups(judge, images.float().div(255), ctx.task, ctx)
            for (name, predicted), wanted in zip(judged.items(), truth, strict=True):
                values[f"{name}_accuracy"] = float((predicted == wanted).double().mean())
        rows += make_rows(ctx, values, n=len(targets), protocol=protocol | {"inputs": "real test faces"},
                          published=_published(ctx))
    return rows


def _reference_dataset(ctx: EvalContext, dataset: str, judges: dict[str, Judge], threshold: float
                       ) -> tuple[dict[str, float], dict[str, object]]:
    test = ctx.task.data("test", dataset)
    gen = torch.Generator().manual_seed(ctx.seed)
    values = {f"{dataset}_{k}": v for k, v in verification_reference(
        embed(judges["identity"], test.get(), ctx), test.labels["identity"], threshold, len(test), gen).items()}
    fid, provenance = defaultdict(list), {}
    for target in targets_for(ctx.task, dataset, ctx.config.n_samples):
        save_strip(ctx, f"{dataset}_{target.name}", test.get(target.rows[: ctx.config.n_sample_images]), "_input")
        if target.domain is None:
            continue
        rows = domain_rows(ctx.task, "test", dataset, target.domain)[: ctx.config.n_samples]
        if len(rows) < 2:
            continue
        real = domain_reference(ctx.task, dataset, target.domain, ctx.config.n_samples)
        scores, provenance = domain_fidelity(test.get(rows), real, judges["domains"], ctx)
        for key, value in scores.items():
            fid[key].append(value)
            values[f"{dataset}_{key}[{target.domain}]"] = value
    return values | {f"{dataset}_{key}": sum(v) / len(v) for key, v in fid.items()}, provenance


def row_names(rows: torch.Tensor) -> list[str]:
    """File names of test faces: their index in the dataset's test split (an input and its outputs share it)."""
    return [f"{int(r):05d}" for r in rows]


def _save_reference(ctx: EvalContext) -> None:
    """With ``--save-outputs``: the test faces each dataset translates (``inputs/<dataset>/``), named as the outputs."""
    for dataset in (d for d in DATASET_ORDER if d in ctx.task.domains and ctx.outputs_dir is not None):
        rows = torch.cat([t.rows for t in targets_for(ctx.task, dataset, ctx.config.n_samples)]).unique()
        save_outputs(ctx, f"inputs/{dataset}", ctx.task.data("test", dataset).get(rows), row_names(rows))


def reference_faces(ctx: EvalContext) -> list[Row]:
    """Judge accuracies, real-pair verification and the FID/KID of real test faces; writes the input strips."""
    _save_reference(ctx)
    judges = _judges(ctx)
    threshold = verification_threshold(judges["identity"], ctx.task, ctx)
    protocol = _base_protocol(ctx, judges, threshold)
    rows = _judge_accuracy(ctx, judges, protocol)
    for dataset in (d for d in DATASET_ORDER if d in ctx.task.domains):
        values, fid_protocol = _reference_dataset(ctx, dataset, judges, threshold)
        rows += make_rows(ctx, values, n=len(ctx.task.data("test", dataset)),
                          protocol=protocol | {"dataset": dataset, "inputs": "real test faces"} | fid_protocol)
    return rows


FACES = ProtocolSpec(name="faces", evaluate=evaluate_faces, reference=reference_faces, reference_name="real_data",
                     headline=("expression_error", "expression_error_floor"),  # StarGAN Table 3, the judge's floor
                     check=check_faces)
