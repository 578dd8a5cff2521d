"""What StarGAN Table 3's expression error needs around it: the judge's floor, a CI per input face, every face.

- **Floor**: the expression judge is wrong on some *real* faces too (3.6 % on the standard profile's test faces;
  the paper's judge 0.45 %), so a translator whose outputs were real faces of the target expression would still
  score that. ``floor`` is the judge's error on real test faces of each target expression, weighted as the outputs
  are; every method's ``expression_error`` has its ``expression_error_floor`` row beside it.
- **CI clustered by input face**: one input face is translated to 7 targets, and its outputs fail or pass
  together, so the 7·N outcomes are not 7·N independent draws (``metrics.face_scores.clustered_rate``).
- **Every face as input** (``all_faces_expression_error``): the neutral-input set is a choice (``face_targets``),
  so the pooled error over every test face to each other expression is scored too, for models that can translate
  it (``can_translate``).
"""

from __future__ import annotations

import torch

from harness.core.results import Row
from harness.protocols.base import EvalContext
from harness.protocols.face_judges import judge_outputs
from harness.protocols.face_targets import Target, rafd_all_targets
from harness.protocols.rows import make_rows
from metrics.face_scores import clustered_rate
from metrics.judges.base import Judge
from metrics.judges.faces import expression_data

CI_NOTE = "95% normal, clustered by input face (cluster-robust, G/(G-1))"


def real_errors(judge: Judge, ctx: EvalContext) -> torch.Tensor:
    """Percent of the real RaFD test faces of each expression the judge misreads, float64 ``(K,)`` (NaN: none)."""
    images, truth, params = expression_data(ctx.task, "test")
    predicted = judge_outputs(judge, images.float().div(255), ctx.config.batch_size, ctx.device).argmax(1)
    wrong = (predicted != truth).double()
    count = torch.zeros(params["num_classes"], dtype=torch.float64).index_add_(0, truth, torch.ones_like(wrong))
    errors = torch.zeros_like(count).index_add_(0, truth, wrong)
    return errors / count * 100  # 0/0 = NaN for an expression without test faces


def floor(errors: torch.Tensor, targets: list[Target]) -> float:
    """The judge's real-face error at each output's target expression, averaged over the outputs (percent)."""
    wanted = torch.cat([t.target.argmax(1) for t in targets])
    return float(errors[wanted].mean())


def pooled_ci(outcomes: list[torch.Tensor], targets: list[Target], scale: float) -> tuple[float, float]:
    """The 95% CI of a pooled rate, clustered by input face (the test row each output came from), times ``scale``."""
    out = clustered_rate(torch.cat(outcomes), torch.cat([t.rows for t in targets]))
    return out["ci_low"] * scale, out["ci_high"] * scale


def all_faces_rows(model: object, ctx: EvalContext, judge: Judge, protocol: dict[str, object],
                   errors: torch.Tensor) -> list[Row]:
    """``all_faces_expression_error`` and its floor: every test face to each other expression.

    Returns [] when the model cannot translate that set (DIAT's one-way neutral -> X models).
    """
    targets = [t for t in rafd_all_targets(ctx.task, ctx.config.n_samples) if len(t.rows)]
    if not targets or not all(model.can_translate(dataset="rafd", source=t.source, target=t.target) for t in targets):
        return []
    test, outcomes = ctx.task.data("test", "rafd"), []
    for target in targets:
        inputs, outputs = test.get(target.rows), []
        for start in range(0, len(inputs), ctx.config.batch_size):
            part = slice(start, start + ctx.config.batch_size)
            outputs.append(model.translate(inputs[part], dataset="rafd", source=target.source[part],
                                           target=target.target[part]).cpu())
        predicted = judge_outputs(judge, torch.cat(outputs), ctx.config.batch_size, ctx.device).argmax(1)
        outcomes.append(predicted != target.target.argmax(1))
    n = sum(len(o) for o in outcomes)
    values = {"all_faces_expression_error": float(torch.cat(outcomes).double().mean() * 100),
              "all_faces_expression_error_floor": floor(errors, targets)}
    full = protocol | {"dataset": "rafd", "inputs": "every test face to each other expression", "ci": CI_NOTE}
    return make_rows(ctx, values, n=n, protocol=full,
                     ci={"all_faces_expression_error": pooled_ci(outcomes, targets, 100.0)})
