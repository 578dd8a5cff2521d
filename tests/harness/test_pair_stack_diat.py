"""The faces task's per-pair DIATs trained as one stacked model (``diat.pair_training="stacked"``, issue 23).

As for CycleGAN (``test_pair_stack.py``): the same recipe, rounding apart. DIAT's networks always use instance norm,
so the conv biases feeding one have a zero true gradient and Adam turns their rounding noise into +-lr steps; they
are held to at most that (2 lr a step), every other parameter to ``DIAT_ATOL`` = lr / 4 = 5e-5 after five steps through
all three stages. Observed: about 2e-6 where oneDNN runs AVX2 kernels (an AVX2 EPYC; ``ONEDNN_MAX_CPU_ISA=AVX2``), but
1.3e-5 on an AVX-512 Xeon, whose oneDNN convolutions round the stacked (grouped) and one-by-one convolutions
differently and Adam amplifies it where a weight's gradient is small; 1e-5 failed there. A wrong batch, stage, noise
draw or term moves a parameter by about lr = 2e-4 a step (another batch stream: 1.7e-3, 342 of 392 tensors beyond
5e-5).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_no_sync import SyncCounter
from test_pair_stack import _assert_close_losses, _biases_before_instance_norm, _keys, _params, _roundtrip
from test_pairwise import faces_task
from torch import nn

from harness.core.errors import HarnessError
from harness.face_models import build_diat_pairs, diat_pairs_batch
from harness.pairwise import build_pairwise
from harness.step import LossWindow, run_step
from reference_models import diat
from reference_models.diat_stacked import StackedDIATs

CPU = torch.device("cpu")
DIAT_ATOL = 5e-5  # lr / 4: see the module docstring
TINY = diat.DIATConfig(identity_features="discriminator", ngf=4, ndf=8, n_blocks=1, enhance_blocks=1,
                       denoise_channels=4, batch_size=2, steps=5, denoise_steps=1, enhance_steps=2)  # 1 + 2 + 2 steps


class _Features(nn.Module):
    """A small frozen identity network: two conv stages' maps of images in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3, 2, 1), nn.Conv2d(4, 4, 3, 2, 1)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        h = torch.relu(self.a(images))
        return [h, self.b(h)]


@pytest.fixture(scope="module")
def task():
    return faces_task(24)


def _model(task, mode: str, config: diat.DIATConfig = TINY, seed: int = 0, identity=None, device=CPU):
    torch.manual_seed(seed)
    config = dataclasses.replace(config, pair_training=mode)
    if config.identity_features == "discriminator":
        return build_diat_pairs(config, task, device)
    return build_pairwise(config, task, False, lambda c, sub: diat.build_diat(c, sub, device, identity),
                          StackedDIATs if mode == "stacked" else None)


def _train(model, task, steps: int, seed: int, config: diat.DIATConfig = TINY) -> list[dict]:
    batches = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the denoiser's noise comes from the global RNG
    return [model.train_step(diat_pairs_batch(task, config, batches)) for _ in range(steps)]


def _assert_same_parameters(got, want, steps: int, lr: float) -> None:
    cancelled = {f"{k}.{n}" for k, net in want.networks().items() for n in _biases_before_instance_norm(net)}
    assert cancelled
    for name, param in _params(want).items():
        atol = 2 * lr * steps + DIAT_ATOL if name in cancelled else DIAT_ATOL
        torch.testing.assert_close(_params(got)[name], param, rtol=0, atol=atol, msg=name)


@pytest.mark.parametrize("features", ["discriminator", "identity_net"])  # DIAT-A, DIAT
def test_stacked_training_equals_one_by_one_through_every_stage(task, features, one_thread) -> None:
    torch.manual_seed(3)
    identity = diat.IdentityFeatures(_Features(), "test network")
    config = dataclasses.replace(TINY, identity_features=features)
    serial = _model(task, "serial", config, identity=identity)
    stacked = _model(task, "stacked", config, identity=identity)
    want, got = _train(serial, task, 5, 1, config), _train(stacked, task, 5, 1, config)
    assert [sorted({k.split("/", 1)[1] for k in losses}) for losses in got] == [
        ["DN/loss"], *[["D/loss", "T/att", "T/id", "T/reg"]] * 2, *[["D/loss", "E/att", "E/pix"]] * 2]
    _assert_close_losses(got, want, rtol=1e-5)
    _assert_same_parameters(stacked, serial, 5, config.lr)
    moved = max((_params(stacked)[k] - v).abs().max() for k, v in _params(_model(task, "serial", config,
                                                                                  identity=identity)).items())
    assert moved > 6 * DIAT_ATOL
    assert [m.step for m in stacked.models.values()] == [5] * 14


def test_checkpoints_cross_load_and_resume(task, one_thread) -> None:
    stacked, serial = _model(task, "stacked"), _model(task, "serial")
    _train(stacked, task, 2, 1)
    _train(serial, task, 2, 1)
    state = _roundtrip(stacked.state_dict())
    assert _keys(state) == _keys(serial.state_dict())
    resumed, one_by_one = _model(task, "stacked", seed=5), _model(task, "serial", seed=5)
    resumed.load_state_dict(state)
    one_by_one.load_state_dict(state)
    straight, again, loaded = _train(stacked, task, 3, 2), _train(resumed, task, 3, 2), _train(one_by_one, task, 3, 2)
    assert all(torch.equal(_params(resumed)[k], v) for k, v in _params(stacked).items())  # resume is exact
    _assert_close_losses(again, straight, rtol=0)
    _assert_close_losses(loaded, straight, rtol=1e-5)
    _assert_same_parameters(one_by_one, stacked, 5, TINY.lr)
    back = _model(task, "stacked", seed=7)  # a one-by-one checkpoint resumes stacked
    back.load_state_dict(_roundtrip(serial.state_dict()))
    _assert_close_losses(_train(back, task, 3, 2), _train(serial, task, 3, 2), rtol=1e-5)
    assert [m.step for m in back.models.values()] == [5] * 14


def test_bad_choices_are_one_clear_error(task) -> None:
    with pytest.raises(HarnessError, match=r"diat\.pair_training='yes' is not one of serial, stacked"):
        _model(task, "yes")
    models = list(_model(task, "serial").models.values())
    models[1].step = 1  # a pair one step ahead
    with pytest.raises(HarnessError, match=r"diat\.pair_training='stacked' needs pair models of one config"):
        StackedDIATs(models)


def test_a_stacked_step_reads_nothing_back_to_the_host(task, monkeypatch) -> None:
    meta = torch.device("meta")
    config = dataclasses.replace(TINY, steps=3, enhance_steps=1)  # one step of every stage
    model = _model(task, "stacked", config, device=meta)
    batches, window = torch.Generator().manual_seed(0), LossWindow(meta)
    counter = SyncCounter(monkeypatch)
    for step in range(1, 4):
        run_step(model, diat_pairs_batch(task, config, batches), device=meta, precision="fp32", window=window,
                 step=step, source="diat")
    monkeypatch.undo()
    assert counter.calls == [], f"{len(counter.calls)} host synchronisation(s) in 3 stacked steps"
    assert window and isinstance(model._stack, StackedDIATs)


@pytest.mark.slow
def test_stacked_faces_suite_end_to_end(tmp_path, cache, tiny_args, capsys, one_thread) -> None:
    """CycleGAN and DIAT-A trained stacked through the suite: every faces metric, and the rows say so."""
    import pandas as pd
    from test_faces_e2e import EVERY_MODEL, FACES_SETS

    from harness.run import main

    out = tmp_path / "run"
    argv = ["suite", "--models", "diat_a,cyclegan", "--tasks", "faces", "--out", str(out), "--no-progress",
            *tiny_args(*FACES_SETS, "cyclegan.pair_training=stacked", "diat.pair_training=stacked")]
    assert main(argv) == 0, capsys.readouterr().err
    metrics = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    for model in ("diat_a", "cyclegan"):
        rows = metrics[metrics["model"] == model]
        assert EVERY_MODEL <= set(rows["metric"]), model
        assert rows["protocol"].str.contains("model_pair_training=pair models stacked").all(), model
