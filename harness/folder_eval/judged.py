"""Judge-scored protocols on folders, each with the judges of a run's task (``--into`` / ``--context RUN``).

DTN's classifier accuracy, StarGAN's expression error, attribute transfer accuracy and identity preservation.

Each reads the images in file-name order and hands them to the same functions the suite's protocols call
(``digit_transfer``, ``faces``), so a model's saved outputs score its job's numbers:

- ``classifier_accuracy``: the run's digit judge (``--judge digits``, trained on the target digits) reads every
  image; accuracy against the targets (a folder per class, or ``--targets`` CSV ``file,target``). Rows
  ``test_mnist_accuracy``, as DTN's protocol.
- ``expression_error``: the run's expression judge; a folder per target expression (``happy/``…) or a CSV. Rows
  ``expression_error`` (percent, pooled) and ``expression_error[<target>]``.
- ``transfer_accuracy``: the run's attribute judge; a folder per target value (``blond``, ``Male``, ``not_Young``…).
  Rows ``<group>_transfer_accuracy`` and ``[<target>]``. The multi-attribute targets (H+G…) run in the suite only.
- ``identity``: ``--pred`` outputs (flat, or a folder per target) matched by name to ``--target`` inputs; the run's
  identity judge embeds both; verification at the run's real-pair EER threshold. Rows
  ``<dataset>_identity_verification`` / ``_identity_distance``.

Face images must have the task's size and be RGB; a mismatch is an error naming the folder.
"""

from __future__ import annotations

import logging

import torch

from harness.core.errors import HarnessError
from harness.core.image_folder import ImageFolder, open_image_folder
from harness.data.face_labels import task_groups
from harness.folder_eval.context import FolderRequest, Scored, run_context
from harness.folder_eval.inputs import match, read_targets
from harness.protocols.base import EvalContext
from harness.protocols.digit_transfer import target_judge
from harness.protocols.face_judges import judge_for, judge_provenance
from harness.protocols.face_scoring import embed, predict_expressions, predict_groups, verification_threshold
from metrics.classifier_accuracy import classification_accuracy
from metrics.face_scores import identity_scores, transfer_hits
from metrics.judges.digit_classifier import predict_digits

log = logging.getLogger(__name__)


def _need_run(request: FolderRequest, what: str) -> None:
    if request.run is None:
        raise HarnessError(f"--metric {request.metric}: scored by {what}; give --into RUN or --context RUN (a run "
                           "with that task)")


def _judge(request: FolderRequest, allowed: str) -> None:
    if request.judge not in (None, allowed):
        raise HarnessError(f"--judge {request.judge}: --metric {request.metric} takes --judge {allowed}")


def _faces_images(folder: ImageFolder, ctx: EvalContext) -> torch.Tensor:
    side = ctx.task.image_size
    if folder.channels != 3 or folder.size != (side, side):
        height, width = folder.size
        raise HarnessError(f"{folder.option} ({folder.root}): images are {width}x{height} with {folder.channels} "
                           f"channel(s); task {ctx.task.name!r} scores {side}x{side} RGB faces")
    return folder.load()


def classifier_accuracy_on_folders(request: FolderRequest) -> list[Scored]:
    """DTN's accuracy: the run's target-domain digit judge on the images, against the targets."""
    _need_run(request, "the run's digit judge (the classifier of its target-domain digits)")
    _judge(request, "digits")
    ctx = run_context(request, ("digit_transfer",))
    groups = read_targets(request.pred, request.targets)
    images, labels = [], []
    for target, folder in sorted(groups.items(), key=lambda kv: str(kv[0])):
        if not target.isdigit() or not 0 <= int(target) <= 9:
            raise HarnessError(f"target {target!r}: expected a digit class 0..9 (a folder or CSV target per class)")
        images.append(folder)
        labels += [int(target)] * len(folder)
    names = [h.path.name for f in images for h in f.headers]
    order = sorted(range(len(labels)), key=names.__getitem__)  # file-name order, as the images were made
    loaded = torch.cat([f.load() for f in images])[order]
    truth = torch.tensor(labels)[order]
    judge = target_judge(ctx)
    predicted = predict_digits(judge.model, loaded, batch_size=ctx.config.batch_size)
    accuracy = classification_accuracy(predicted, truth)["accuracy"]
    protocol = dict(protocol="classifier_accuracy", **judge.provenance(), data=f"folder images[{len(truth)}]",
                    labels="the targets given", variant="external")
    return [Scored({"test_mnist_accuracy": accuracy}, len(truth), protocol)]


def expression_error_on_folders(request: FolderRequest) -> list[Scored]:
    """StarGAN's expression error per target and pooled, in percent."""
    _need_run(request, "the run's expression judge")
    _judge(request, "face_expression")
    ctx = run_context(request, ("faces",))
    group = next((g for g in task_groups(ctx.task) if g.dataset == "rafd"), None)
    if group is None:
        raise HarnessError(f"task {ctx.task.name!r} has no expressions (RaFD); expression_error needs one")
    judge = judge_for(ctx, "expression")
    outcomes, scored = [], []
    for target, folder in read_targets(request.pred, request.targets).items():
        if target not in group.value_names:
            raise HarnessError(f"target {target!r}: not an expression of task {ctx.task.name!r} "
                               f"({', '.join(group.value_names)})")
        wrong = predict_expressions(judge, _faces_images(folder, ctx), ctx) != group.value_names.index(target)
        outcomes.append(wrong)
        scored.append(Scored({f"expression_error[{target}]": float(wrong.double().mean() * 100)}, len(wrong), {}))
    pooled = torch.cat(outcomes)
    protocol = {"protocol": "faces", **judge_provenance("expression", judge), "dataset": "rafd",
                "inputs": "folder per target", "comparable_to_paper": "no (harness-trained judges)"}
    return [Scored({"expression_error": float(pooled.double().mean() * 100)}, len(pooled), protocol),
            *(Scored(s.values, s.n, protocol) for s in scored)]


def transfer_accuracy_on_folders(request: FolderRequest) -> list[Scored]:
    """Attribute transfer accuracy per single-attribute target value, pooled per group."""
    _need_run(request, "the run's attribute judge")
    _judge(request, "face_attributes")
    ctx = run_context(request, ("faces",))
    values = {}
    for group in (g for g in task_groups(ctx.task) if g.dataset == "celeba"):
        for value in range(len(group.value_names)) if group.kind == "onehot" else (1, 0):
            name = group.value_names[value] if group.kind == "onehot" else (
                group.name if value else f"not_{group.name}")
            values[name] = (group, value)
    if not values:
        raise HarnessError(f"task {ctx.task.name!r} has no CelebA attributes; transfer_accuracy needs them")
    judge = judge_for(ctx, "attributes")
    protocol = {"protocol": "faces", **judge_provenance("attributes", judge), "dataset": "celeba",
                "inputs": "folder per target", "comparable_to_paper": "no (harness-trained judges)"}
    hits, out = {}, []
    for target, folder in read_targets(request.pred, request.targets).items():
        if "+" in target:
            log.warning("%s: skipped: multi-attribute targets (H+G…) are scored in the suite only", target)
            continue
        if target not in values:
            raise HarnessError(f"target {target!r}: not a single attribute value of task {ctx.task.name!r} "
                               f"({', '.join(values)}); multi-attribute targets (H+G…) run in the suite only")
        group, value = values[target]
        judged = predict_groups(judge, _faces_images(folder, ctx), ctx.task, ctx)
        hit = transfer_hits(judged, {group.name: torch.full((len(folder),), value, dtype=torch.long)})
        hits.setdefault(group.name, []).append(hit)
        out.append(Scored({f"{group.name}_transfer_accuracy[{target}]": float(hit.double().mean())}, len(hit),
                          protocol))
    for name, parts in hits.items():
        pooled = torch.cat(parts)
        out.insert(0, Scored({f"{name}_transfer_accuracy": float(pooled.double().mean())}, len(pooled), protocol))
    return out


def identity_on_folders(request: FolderRequest) -> list[Scored]:
    """Identity preservation between ``--target`` inputs and ``--pred`` outputs matched by name."""
    _need_run(request, "the run's identity judge")
    _judge(request, "face_identity")
    if request.target is None:
        raise HarnessError("--metric identity: needs --target DIR with the input faces (matched by name to --pred)")
    ctx = run_context(request, ("faces",))
    datasets = [d for d in ("celeba", "rafd") if d in ctx.task.domains]
    dataset = request.dataset or (datasets[0] if len(datasets) == 1 else None)
    if dataset not in datasets:
        raise HarnessError(f"--dataset {request.dataset}: task {ctx.task.name!r} has {', '.join(datasets)}; name the "
                           "one the faces come from")
    inputs = open_image_folder(request.target, "--target")
    subfolders = sorted(p for p in request.pred.iterdir() if p.is_dir()) if request.pred.is_dir() else []
    outputs = [open_image_folder(p, f"--pred {p.name}/") for p in subfolders] or [open_image_folder(request.pred,
                                                                                                    "--pred")]
    judge = judge_for(ctx, "identity")
    threshold = verification_threshold(judge, ctx.task, ctx)
    embedded_in, embedded_out, used = [], [], set()
    for folder in outputs:
        folder, source = _inputs_for(folder, inputs)
        used |= {h.path.name for h in source.headers}
        embedded_in.append(embed(judge, _faces_images(source, ctx), ctx))
        embedded_out.append(embed(judge, _faces_images(folder, ctx), ctx))
    unused = sorted({h.path.name for h in inputs.headers} - used)
    if unused:
        raise HarnessError(f"--target: {len(unused)} input(s) have no output in --pred: {', '.join(unused[:5])}")
    values = identity_scores(torch.cat(embedded_in), torch.cat(embedded_out), threshold)
    protocol = {"protocol": "faces", **judge_provenance("identity", judge),
                "identity_threshold": f"{threshold:.4f} (EER of real training pairs)", "dataset": dataset,
                "comparable_to_paper": "no (harness-trained judges)"}
    n = sum(len(e) for e in embedded_in)
    return [Scored({f"{dataset}_{k}": v for k, v in values.items()}, n, protocol)]


def _inputs_for(outputs: ImageFolder, inputs: ImageFolder) -> tuple[ImageFolder, ImageFolder]:
    """``(outputs, the inputs of the same names in the same order)``; an output without its input is an error."""
    names = {h.path.stem for h in outputs.headers}
    subset = ImageFolder(inputs.option, inputs.root, tuple(h for h in inputs.headers if h.path.stem in names),
                         inputs.channels)
    return match(outputs, subset) if subset.headers else match(outputs, inputs)
