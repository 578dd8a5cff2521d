"""The fairness rules of docs/ARCHITECTURE.md ("Fair comparisons"), checked on every profile.

Methods compared in one table on a task (pix2pix, CycleGAN and their ablations on every translation task) get the
same training budget, schedule, batch, data pipeline and evaluation; ablations differ from their base model only
in what the paper ablates; no model trains on statistics it does not test on; an ablation that means nothing at a
task's image size is refused. The paper profile's one declared exception is listed in ``PAPER_EXCEPTIONS``.
Plugin models are covered: the budget and protocol rules run again with the example plugin loaded
(examples/pix2pix_lsgan.py, which follows pix2pix's section), and its followed keys equal pix2pix's on every profile.
"""

from __future__ import annotations

import pytest

from harness.core.errors import HarnessError
from harness.models import MODELS, TRANSLATION_PROTOCOLS
from harness.plugins import load_plugins, unload_plugins
from harness.protocols.base import EvalConfig
from harness.run_config import PROFILES, model_config, resolve_config
from harness.tasks import TASKS
from reference_models.cyclegan import work_size
from reference_models.discriminators import PAPER_RECEPTIVE_FIELD, fields_differ
from reference_models.training import resolve_decay_steps

BUDGET = ("steps", "batch_size", "lr", "beta1", "beta2", "jitter")  # equal for every method on a task
ABLATED = {"loss", "generator", "d_receptive_field", "use_gan", "use_forward_cycle", "use_backward_cycle",
           "content", "tv_weight",  # SRGAN Table 1 ablates the content loss; SRResNet-VGG22 adds its TV term
           "alpha", "beta",  # DTN Table 1: w/o L_CONST (alpha 0), w/o L_TID (beta 0)
           "g_contains_f",  # DTN Table 1: w/o L_D (and L_TID), G does not contain f
           "identity_features",  # DIAT-A: DIAT with the identity loss on the discriminator's features
           "datasets"}  # StarGAN-JNT (§5.5): the joint model beside the single-dataset ones
# (profile, task) -> the settings in which the methods may differ there, and why.
PAPER_EXCEPTIONS = {
    ("paper", "cityscapes"): "CycleGAN paper 7.2 trains Cityscapes at 128 px with 6 blocks, pix2pix at 256 px",
}


@pytest.fixture(params=["built-in models", "with a plugin"])
def plugin(request, example_path):
    """Runs a test with the built-in models only, then again with the example plugin registered beside them."""
    if request.param == "built-in models":
        yield None
        return
    yield load_plugins([str(example_path)])[-1]
    unload_plugins()


def task_size(config, task: str) -> int:
    return getattr(config, TASKS.get(task).config_section).image_size


def translation_methods(task: str) -> list[str]:
    return [name for name, spec in MODELS.items() if task in spec.protocols and spec.setting != "unconditional"]


def jobs(profile: str):
    """(config, task, {model name: resolved model config}) for every translation task and the methods on it."""
    config = resolve_config(profile, {})
    for task in TRANSLATION_PROTOCOLS:
        yield config, task, {name: model_config(config, name, task) for name in translation_methods(task)}


@pytest.mark.parametrize("profile", PROFILES)
def test_methods_on_one_task_share_budget_schedule_and_data(profile, plugin):
    for config, task, configs in jobs(profile):
        assert {"pix2pix", "cyclegan"} <= set(configs), task
        assert ("pix2pix_lsgan" in configs) == (plugin is not None), task
        for key in BUDGET:
            assert len({getattr(c, key) for c in configs.values()}) == 1, (profile, task, key)
        for name, cfg in configs.items():  # PyTorch linear policy with n_epochs = n_epochs_decay
            assert resolve_decay_steps(cfg.steps, cfg.decay_steps) == cfg.steps // 2, (profile, task, name)
            assert cfg.batch_size == 1, (profile, task, name)  # the papers' batch
        assert configs["cyclegan"].train_split == "whole"  # both see every training image, as the papers
        sizes = {work_size(c, task_size(config, task)) if name.startswith("cyclegan") else task_size(config, task)
                 for name, c in configs.items()}
        assert len(sizes) == 1 or (profile, task) in PAPER_EXCEPTIONS, (profile, task, sizes)


@pytest.mark.parametrize("profile", PROFILES)
def test_one_protocol_and_one_eval_config_per_task(profile, plugin):
    config = resolve_config(profile, {})
    assert isinstance(config.eval, EvalConfig)  # a single evaluation section: every row of a run shares it
    for task in TRANSLATION_PROTOCOLS:
        assert len({MODELS.get(name).protocols[task] for name in translation_methods(task)}) == 1, task


def test_ablations_change_only_what_the_paper_ablates():
    for name, spec in MODELS.items():
        if spec.config_overrides:
            assert set(spec.config_overrides) <= ABLATED, name


@pytest.mark.parametrize("profile", PROFILES)
def test_train_and_test_statistics_agree(profile):
    for _, task, configs in jobs(profile):
        for name, cfg in configs.items():
            if name.startswith("pix2pix") and cfg.norm == "batch":  # translate: batch 1 in train mode
                assert cfg.batch_size == 1, (profile, task, name)


@pytest.mark.parametrize("profile", PROFILES)
def test_an_ablation_that_means_nothing_at_the_task_size_is_refused(profile):
    refused = []
    for config, task, configs in jobs(profile):
        size = task_size(config, task)
        for name, cfg in configs.items():
            if not name.startswith("pix2pix") or cfg.d_receptive_field == PAPER_RECEPTIVE_FIELD:
                continue
            try:
                MODELS.get(name).check(cfg, size)
            except HarnessError as error:
                if not fields_differ(cfg.d_receptive_field, PAPER_RECEPTIVE_FIELD, size):
                    assert "both see the whole image" in str(error) and " px" in str(error)
                    refused.append((name, task))
                continue
            assert fields_differ(cfg.d_receptive_field, PAPER_RECEPTIVE_FIELD, size), (profile, task, name)
    if profile in ("smoke", "standard"):  # 32 and 64 px: the 286x286 ImageGAN is the 70x70 PatchGAN there
        assert ("pix2pix_patch286", "scenes") in refused


def test_the_paper_profile_runs_cyclegan_on_cityscapes_as_the_paper():
    config = resolve_config("paper", {})
    cityscapes, scenes = model_config(config, "cyclegan", "cityscapes"), model_config(config, "cyclegan", "scenes")
    assert (cityscapes.image_size, cityscapes.n_blocks) == (128, 6)
    assert (scenes.image_size, scenes.n_blocks) == (0, 9)  # elsewhere the official 256 px ResNet-9
    assert model_config(config, "cyclegan_gan_only", "cityscapes").image_size == 128  # variants follow their base
    assert model_config(config, "pix2pix", "cityscapes").num_downs == 8 and task_size(config, "cityscapes") == 256


@pytest.mark.parametrize("profile", PROFILES)
def test_the_example_plugin_differs_from_pix2pix_only_in_its_loss(profile, example_plugin):
    config = resolve_config(profile, {"plugins": (example_plugin,)})
    for task in MODELS.get("pix2pix_lsgan").protocols:
        mine, theirs = model_config(config, "pix2pix_lsgan", task), model_config(config, "pix2pix", task)
        for key in MODELS.get("pix2pix_lsgan").section.follow_keys:
            assert getattr(mine, key) == getattr(theirs, key), (profile, task, key)
        assert theirs.loss == "l1+cgan" and theirs.d_receptive_field == 70  # pix2pix's cGAN, the same PatchGAN
