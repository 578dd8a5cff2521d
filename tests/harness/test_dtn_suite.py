"""DTN in the runner: the plan of `--models dtn`, the registry entries, and the smoke suite end to end at tiny sizes."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.config import apply_overrides
from harness.models import MODELS
from harness.run import main
from harness.run_config import RunConfig
from harness.suite import plan
from metrics.registry import higher_is_better

DTN_FAMILY = {"dtn", "dtn_no_const", "dtn_no_tid", "dtn_no_d_no_tid", "dtn_no_f", "cyclegan"}


def _jobs(**fields) -> set[tuple[str, str]]:
    return {(job.model, job.task) for job in plan(RunConfig(**fields))}


def test_dtn_named_runs_its_ablations_and_cyclegan_on_its_tasks_only():
    jobs = _jobs(models=("dtn",), tasks=("digits",))
    assert jobs == {(m, "digits") for m in DTN_FAMILY | {"real_target"}}
    without_tasks = _jobs(models=("dtn",))  # svhn_mnist needs a path, so only digits; CycleGAN not on scenes
    assert without_tasks == jobs
    named = _jobs(models=("dtn", "cyclegan"))  # named itself, CycleGAN runs everywhere as usual
    assert ("cyclegan", "scenes") in named and ("cyclegan", "digits") in named
    assert _jobs(models=("dtn_no_const",), tasks=("digits",)) == {("dtn_no_const", "digits"), ("real_target", "digits")}
    default = _jobs()  # a run without --models: DTN yes, its opt-in ablations and CycleGAN on digits (its table) no
    assert ("dtn", "digits") in default and ("cyclegan", "scenes") in default
    assert not {("dtn_no_const", "digits"), ("dtn_no_tid", "digits"), ("cyclegan", "digits")} & default
    assert ("cyclegan", "digits") not in _jobs(models=("cyclegan",))  # opt-in task: only when named or asked for
    assert ("cyclegan", "digits") in _jobs(models=("cyclegan",), tasks=("digits",)) & _jobs(tasks=("digits",))


def test_registry_entries():
    dtn, no_const, no_tid = (MODELS.get(name) for name in ("dtn", "dtn_no_const", "dtn_no_tid"))
    assert dtn.default and not no_const.default and not no_tid.default and dtn.frozen is not None
    assert dtn.protocols == no_const.protocols == {"digits": "digit_transfer", "svhn_mnist": "digit_transfer"}
    assert MODELS.get("cyclegan").protocols["digits"] == "digit_transfer"
    assert no_const.compared_with == no_tid.compared_with == ()
    assert set(dtn.compared_with) == {"dtn_no_const", "dtn_no_tid", "dtn_no_d_no_tid", "dtn_no_f", "cyclegan"}
    assert apply_overrides(RunConfig().dtn, MODELS.get("dtn_no_d_no_tid").config_overrides, source="t").use_gan is False
    assert apply_overrides(RunConfig().dtn, MODELS.get("dtn_no_f").config_overrides, source="t").g_contains_f is False
    config = RunConfig().dtn
    assert apply_overrides(config, no_const.config_overrides, source="t").alpha == 0
    assert apply_overrides(config, no_tid.config_overrides, source="t").beta == 0
    assert (config.alpha, config.beta, config.gamma) == (15.0, 15.0, 0.0)


TINY_DTN = ("dtn.steps=3", "dtn.ngf=4", "dtn.ndf=4", "dtn.batch_size=8", "eval.source_judge_width=4",
            "cyclegan.steps=2", "cyclegan.decay_steps=1", "cyclegan.ngf=4", "cyclegan.ndf=4", "cyclegan.n_blocks=1",
            "cyclegan.batch_size=2", "eval.n_sample_images=4", "eval.n_samples=100")


@pytest.mark.slow
def test_smoke_suite_writes_accuracy_fid_kid_for_the_dtn_table(tmp_path, cache, tiny_args, one_thread):
    out = tmp_path / "run"
    assert main(["suite", "--models", "dtn", "--tasks", "digits", "--out", str(out), "--no-progress",
                 *tiny_args(*TINY_DTN)]) == 0
    metrics = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    for model in (*sorted(DTN_FAMILY), "original_source"):
        found = set(metrics.loc[metrics["model"] == model, "metric"])
        wanted = {"test_mnist_accuracy", "train_mnist_accuracy", "test_fid", "test_kid", "da_mnist_accuracy"}
        assert wanted <= found, model
    assert {"test_mnist_accuracy", "source_judge_accuracy"} <= set(metrics.loc[metrics["model"] == "real_target",
                                                                               "metric"])
    assert set(metrics.loc[metrics["model"] == "dtn", "metric"]) >= {"test_f_constancy", "train_f_constancy"}
    settings = metrics.groupby("model")["setting"].first().to_dict()
    assert settings["dtn"] == settings["cyclegan"] == "unpaired" and settings["original_source"] == "reference"
    for row in metrics.itertuples():
        expected = higher_is_better(row.metric)
        assert str(row.higher_is_better) == ("" if expected is None else str(expected)), row.metric
    variants = metrics.groupby("model")["protocol"].first()
    assert "no jitter" in variants["cyclegan"]  # the profile's task_overrides reach the suite (cyclegan@digits)
    assert "model_train=batch 8 per domain" in variants["dtn"]
    assert "variant=w/o L_CONST" in variants["dtn_no_const"] and "variant=w/o L_TID" in variants["dtn_no_tid"]
    assert "one g update, no D" in variants["dtn_no_d_no_tid"] and "G is g of e" in variants["dtn_no_f"]
    assert (out / "jobs" / "dtn__digits__s0" / "losses.csv").exists()
    assert (out / "samples" / "digits" / "AtoB" / "dtn__s0.png").exists()
