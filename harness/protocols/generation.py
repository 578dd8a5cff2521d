"""The unconditional-generation protocol of the vanilla GAN on the embedded digits task.

Rows: Parzen-window log-likelihood (Goodfellow et al. 2014 protocol: sigma chosen on validation data, mean test
log-likelihood ± SE), FID / KID / precision / recall through torch-fidelity with the harness's digit classifier as
feature extractor (and Inception when the user supplies its weights), and mode coverage by the digit classifier.
The reference job ("real_data") scores held-out real digits the same way, so a reader can see the scale.
"""

from __future__ import annotations

import logging

import torch
import torch_fidelity

from harness.core.results import Row
from harness.protocols.base import EvalContext, ProtocolSpec
from harness.protocols.rows import make_rows, save_strip
from harness.published import lookup
from metrics.classifier_accuracy import classification_accuracy
from metrics.fidelity import effective_kid_subset_size, fidelity_metrics, verify_inception_weights, warn_small_sample
from metrics.judges.base import Judge
from metrics.judges.digit_classifier import DIGITS, FEATURE_DIM, predict_digits
from metrics.judges.resolve import judge_for_task as resolve_for_task
from metrics.mode_coverage import mode_coverage
from metrics.parzen import parzen_log_likelihood

log = logging.getLogger(__name__)

DOMAIN = "handwritten"


def judge_for_task(ctx: EvalContext) -> Judge:
    """The digit classifier judge of ``ctx.task``: the committed one for this data and recipe, else trained here."""
    return resolve_for_task(DIGITS, ctx.task, steps=ctx.config.judge_steps, batch_size=ctx.config.judge_batch_size,
                            device=ctx.device, progress=ctx.progress)


def _score(samples: torch.Tensor, ctx: EvalContext, judge: Judge) -> list[Row]:
    """Every generation metric of ``samples`` (N, 1, H, W) in [0, 1] against the task's held-out digits."""
    cfg = ctx.config
    val = ctx.task.data("val", DOMAIN).get()[: cfg.parzen_n_validation]
    test = ctx.task.data("test", DOMAIN).get()
    n_test = len(test)
    kid_subset = effective_kid_subset_size(cfg.kid_subset_size, len(samples), n_test)
    parzen = parzen_log_likelihood(samples, val, test, batch_size=cfg.batch_size)
    common = {"variant": ctx.variant, "domain": DOMAIN}
    se = parzen["parzen_se"]
    # The protocol string holds how the number was made, never a result: sigma and SE go into their own rows.
    rows = make_rows(ctx, {k: parzen[k] for k in ("parzen_ll", "parzen_se", "parzen_sigma")}, n=n_test,
                     ci={"parzen_ll": (parzen["parzen_ll"] - 1.96 * se, parzen["parzen_ll"] + 1.96 * se)},
                     protocol=dict(protocol="parzen", implementation="harness metrics.parzen (float64)",
                                   samples=len(samples), sigma_grid="logspace(-1,0,10)",
                                   sigma_chosen_on=f"val[:{len(val)}]", se="std/sqrt(N_test), population std",
                                   ci="±1.96 SE across test examples", **common),
                     published=lambda metric: lookup(ctx.model_name, "mnist", metric))
    warning = warn_small_sample(len(samples), feature_dim=FEATURE_DIM)
    if warning:
        log.warning("%s: %s", ctx.model_name, warning)
    fidelity = fidelity_metrics(samples, test, feature_extractor=DIGITS.name, weights_path=judge.path,
                                kid_subset_size=kid_subset, kid_subsets=cfg.kid_subsets,
                                prc_neighborhood=cfg.prc_neighborhood,
                                batch_size=cfg.batch_size, seed=ctx.seed, device=ctx.device)
    rows += make_rows(ctx, {k: fidelity[k] for k in ("fid", "kid", "precision", "recall")}, n=len(samples),
                      ci={"kid": (fidelity["kid"] - fidelity["kid_std"], fidelity["kid"] + fidelity["kid_std"])},
                      protocol=dict(protocol="torch-fidelity", implementation=_fidelity_version(),
                                    feature_extractor="harness digit classifier (penultimate 128-d)",
                                    **_judge_keys(judge), real=f"test[{n_test}]", samples=len(samples),
                                    kid_subset=kid_subset, prc_k=cfg.prc_neighborhood,
                                    small_sample_warning=warning or "none", **common))
    rows += _inception_rows(samples, test, ctx, common, kid_subset)
    coverage = mode_coverage(predict_digits(judge.model, samples, batch_size=cfg.batch_size), num_classes=10)
    rows += make_rows(ctx, coverage, n=len(samples),
                      protocol=dict(protocol="mode_coverage", **judge.provenance(),
                                    kl="KL(histogram || uniform) in nats", **common))
    return rows


def _judge_keys(judge: Judge) -> dict[str, str]:
    """The judge's identity for a torch-fidelity row (its description is in ``feature_extractor``)."""
    return {k: v for k, v in judge.provenance().items() if k != "judge"}


def _inception_rows(samples: torch.Tensor, real: torch.Tensor, ctx: EvalContext, common: dict,
                    kid_subset: int) -> list[Row]:
    path = ctx.config.inception_weights
    if not path:
        log.info("Inception FID skipped: no weights given (set eval.inception_weights=PATH to a local copy of "
                 "torch-fidelity's weights-inception-2015-12-05-6726825d.pth); nothing is downloaded")
        return []
    _, inception_sha = verify_inception_weights(path)
    values = fidelity_metrics(samples, real, feature_extractor="inception-v3-compat", weights_path=path,
                              kid_subset_size=kid_subset, kid_subsets=ctx.config.kid_subsets,
                              prc_neighborhood=ctx.config.prc_neighborhood,
                              batch_size=ctx.config.batch_size, seed=ctx.seed, device=ctx.device, prc=False)
    return make_rows(ctx, {"inception_fid": values["fid"], "inception_kid": values["kid"]}, n=len(samples),
                     protocol=dict(protocol="torch-fidelity", implementation=_fidelity_version(),
                                   feature_extractor="inception-v3-compat (pool3 2048-d)",
                                   inception_sha256=inception_sha, weights_path=path, **common))


def _fidelity_version() -> str:
    return f"torch-fidelity {torch_fidelity.__version__}"


def evaluate_generation(model, ctx: EvalContext) -> list[Row]:
    """Scores ``ctx.config.n_samples`` samples of a trained generative model (``model.sample(n, generator)``)."""
    generator = torch.Generator().manual_seed(ctx.seed + 1_000_003)
    samples = model.sample(ctx.config.n_samples, generator)
    save_strip(ctx, "samples", samples[: ctx.config.n_sample_images * 2])
    return _score(samples, ctx, judge_for_task(ctx))


def reference_generation(ctx: EvalContext) -> list[Row]:
    """The same metrics with real *training* digits standing in for samples, plus the judge's test accuracy."""
    train = ctx.task.data("train", DOMAIN)
    n = min(ctx.config.n_samples, len(train))
    index = torch.randperm(len(train), generator=torch.Generator().manual_seed(ctx.seed))[:n]
    judge = judge_for_task(ctx)
    rows = _score(train.get(index), ctx, judge)
    test = ctx.task.data("test", DOMAIN)
    predicted = predict_digits(judge.model, test.get(), batch_size=ctx.config.batch_size)
    accuracy = classification_accuracy(predicted, test.labels["class"])["accuracy"]
    rows += make_rows(ctx, {"judge_accuracy": accuracy}, n=len(test),
                      protocol=dict(protocol="classifier_accuracy", **judge.provenance(), data="real test digits"))
    save_strip(ctx, "samples", test.get(slice(0, ctx.config.n_sample_images * 2)), name="_target")
    return rows


GENERATION = ProtocolSpec(name="generation", evaluate=evaluate_generation, reference=reference_generation,
                          reference_name="real_data", headline=("parzen_ll",))  # Goodfellow et al. Table 1
