"""The faces task's per-pair CycleGANs trained as one stacked model (``cyclegan.pair_training="stacked"``, issue 23).

Stacked and one-by-one training run the same recipe; they differ only in rounding, since a vmapped convolution is one
grouped convolution that sums in another order (about 1e-6 on the tiny networks here). Adam divides each gradient by
its own magnitude, so where a gradient is pure rounding noise the first update is +-lr either way: that happens to
the biases of convolutions feeding an instance norm (the norm subtracts them, so their true gradient is zero). The
parameter comparison therefore runs with ``norm="none"`` at a tolerance of 1e-5 (a wrong batch, pool, term or
learning rate moves a parameter by about lr = 2e-4 per step), and with the paper's instance norm it checks the first
step's losses and that apart from those zero-gradient biases only a few near-zero-gradient weights (under 0.2%)
moved apart, each by one sign flip of Adam's first step.
"""

from __future__ import annotations

import dataclasses
import io

import pytest
import torch
from test_no_sync import SyncCounter
from test_pairwise import faces_task
from torch import nn

from harness.core.errors import HarnessError
from harness.face_models import build_cyclegan_any, cyclegan_any_batch
from harness.step import LossWindow, run_step
from reference_models import cyclegan
from reference_models.cyclegan_stacked import StackedCycleGANs

CPU = torch.device("cpu")
TINY = cyclegan.CycleGANConfig(ngf=4, ndf=4, n_blocks=1, norm="none", batch_size=2, steps=6, decay_steps=4,
                               pool_size=2)  # the LR decays from step 3 and the pools swap from step 2
ATOL = 1e-5


@pytest.fixture(scope="module")
def task():
    return faces_task(24)


def _model(task, mode: str, config: cyclegan.CycleGANConfig = TINY, device: torch.device = CPU, seed: int = 0):
    torch.manual_seed(seed)
    return build_cyclegan_any(dataclasses.replace(config, pair_training=mode), task, device)


def _train(model, task, steps: int, batches: torch.Generator, config: cyclegan.CycleGANConfig = TINY) -> list[dict]:
    return [model.train_step(cyclegan_any_batch(task, config, batches)) for _ in range(steps)]


def _params(model) -> dict[str, torch.Tensor]:
    return {f"{k}.{n}": p for k, net in model.networks().items() for n, p in net.named_parameters()}


def _assert_close_losses(got: list[dict], want: list[dict], rtol: float) -> None:
    assert [list(g) for g in got] == [list(w) for w in want]
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(torch.stack(list(g.values())), torch.stack(list(w.values())), rtol=rtol, atol=1e-7)


def _roundtrip(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_stacked_training_equals_one_by_one(task, one_thread) -> None:
    serial, stacked = _model(task, "serial"), _model(task, "stacked")
    assert {k: v.shape for k, v in _params(serial).items()} == {k: v.shape for k, v in _params(stacked).items()}
    got = _train(stacked, task, 4, torch.Generator().manual_seed(1))
    want = _train(serial, task, 4, torch.Generator().manual_seed(1))
    assert len({k.split("/")[0] for k in got[0]}) == 12
    _assert_close_losses(got, want, rtol=1e-5)
    for name, param in _params(serial).items():
        torch.testing.assert_close(_params(stacked)[name], param, rtol=0, atol=ATOL, msg=name)
    moved = max((_params(stacked)[k] - v).abs().max() for k, v in _params(_model(task, "serial")).items())
    assert moved > 30 * ATOL  # the comparison is not between untrained models (Adam moves ~lr = 2e-4 a step)
    for s, t in zip(serial.models.values(), stacked.models.values(), strict=True):  # same pools, same draws
        assert [len(p.images) for p in s.pools.values()] == [len(p.images) for p in t.pools.values()]
        assert all(torch.equal(p.generator.get_state(), q.generator.get_state())
                   for p, q in zip(s.pools.values(), t.pools.values(), strict=True))
    assert "model_pair_training" in stacked.provenance() and "model_pair_training" not in serial.provenance()


def _biases_before_instance_norm(net: nn.Module) -> set[str]:
    """Names of the conv biases whose output goes straight into an instance norm (gradient zero in exact math)."""
    names = set()
    for prefix, module in net.named_modules():
        if isinstance(module, nn.Sequential):
            layers = list(module.named_children())
            for (name, layer), (_, after) in zip(layers, layers[1:], strict=False):
                if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d) and isinstance(after, nn.InstanceNorm2d):
                    names.add(f"{prefix}.{name}.bias" if prefix else f"{name}.bias")
    return names


def test_with_instance_norm_the_first_step_differs_only_where_gradients_are_noise(task, one_thread) -> None:
    """The first Adam step is +-lr per element: near-zero gradients flip sign with rounding, nothing else differs."""
    config = dataclasses.replace(TINY, norm="instance")
    serial, stacked = _model(task, "serial", config), _model(task, "stacked", config)
    want = _train(serial, task, 1, torch.Generator().manual_seed(1), config)
    got = _train(stacked, task, 1, torch.Generator().manual_seed(1), config)
    _assert_close_losses(got, want, rtol=1e-5)
    cancelled = {f"{k}.{n}" for k, net in serial.networks().items() for n in _biases_before_instance_norm(net)}
    assert cancelled
    flipped = total = 0
    for name, param in _params(serial).items():
        diff = (_params(stacked)[name] - param).abs()
        assert diff.max() <= 2 * config.lr + ATOL, name  # at most one sign flip of a +-lr step
        if name not in cancelled:
            flipped, total = flipped + int((diff > ATOL).sum()), total + param.numel()
    assert flipped <= 0.002 * total, f"{flipped} of {total} weights moved apart"


def test_checkpoints_cross_load_and_resume(task, one_thread) -> None:
    stacked = _model(task, "stacked")
    _train(stacked, task, 2, torch.Generator().manual_seed(1))
    state = _roundtrip(stacked.state_dict())
    one_by_one = _model(task, "serial")
    _train(one_by_one, task, 2, torch.Generator().manual_seed(1))
    serial_state = one_by_one.state_dict()
    assert _keys(state) == _keys(serial_state)  # the one-by-one format
    pair = next(iter(state.values()))
    weight = next(iter(pair["networks"]["G_A"].values()))
    assert weight.untyped_storage().nbytes() == weight.numel() * weight.element_size()  # not a view of the stack

    resumed, serial = _model(task, "stacked", seed=5), _model(task, "serial", seed=5)
    resumed.load_state_dict(state)
    serial.load_state_dict(state)
    assert all(torch.equal(_params(serial)[k], v) for k, v in _params(stacked).items())
    straight = _train(stacked, task, 2, torch.Generator().manual_seed(2))
    again = _train(resumed, task, 2, torch.Generator().manual_seed(2))
    one_by_one = _train(serial, task, 2, torch.Generator().manual_seed(2))
    assert all(torch.equal(_params(resumed)[k], v) for k, v in _params(stacked).items())  # resume is exact
    _assert_close_losses(again, straight, rtol=0)
    _assert_close_losses(one_by_one, straight, rtol=1e-5)
    for name, param in _params(serial).items():
        torch.testing.assert_close(param, _params(stacked)[name], rtol=0, atol=ATOL, msg=name)

    back = _model(task, "stacked", seed=7)  # a one-by-one checkpoint resumes stacked
    back.load_state_dict(_roundtrip(serial.state_dict()))
    mid = _train(back, task, 1, torch.Generator().manual_seed(3))
    ref = _train(serial, task, 1, torch.Generator().manual_seed(3))
    _assert_close_losses(mid, ref, rtol=1e-5)
    for name, param in _params(serial).items():
        torch.testing.assert_close(_params(back)[name], param, rtol=0, atol=ATOL, msg=name)
    for s, t in zip(serial.state_dict().values(), back.state_dict().values(), strict=True):
        assert s["schedulers"] == t["schedulers"]
        assert [g["lr"] for g in s["optimizers"]["G"]["param_groups"]] == [
            g["lr"] for g in t["optimizers"]["G"]["param_groups"]]


def _keys(state: object) -> object:
    """The nested structure of a state (dict keys and list lengths), tensors as their shapes."""
    if isinstance(state, dict):
        return {k: _keys(v) for k, v in state.items()}
    if isinstance(state, list | tuple):
        return [_keys(v) for v in state]
    return tuple(state.shape) if isinstance(state, torch.Tensor) else type(state).__name__


def test_bad_choices_are_one_clear_error(task) -> None:
    from harness.run_config import resolve_config

    with pytest.raises(HarnessError, match=r"--set: cyclegan\.pair_training='both' is not one of 'serial', 'stacked'"):
        resolve_config("smoke", {"cyclegan.pair_training": "both"})
    with pytest.raises(HarnessError, match=r"cyclegan\.pair_training='both' is not one of serial, stacked"):
        _model(task, "both")
    with pytest.raises(HarnessError, match=r"cyclegan\.pair_training='stacked'.*batch"):
        _model(task, "stacked", dataclasses.replace(TINY, norm="batch"))
    wide = _model(task, "serial", dataclasses.replace(TINY, ngf=8)).models
    narrow = _model(task, "serial").models
    with pytest.raises(HarnessError, match=r"cyclegan\.pair_training='stacked' needs pair models of one config"):
        StackedCycleGANs([next(iter(narrow.values())), next(iter(wide.values()))])
    one = next(iter(narrow.values()))
    other = next(iter(wide.values()))
    other.config = one.config  # same config on paper, other networks: the stack itself refuses
    with pytest.raises(HarnessError, match=r"cyclegan\.pair_training='stacked' needs models of one architecture"):
        StackedCycleGANs([one, other])


def test_a_stacked_step_reads_nothing_back_to_the_host(task, monkeypatch) -> None:
    meta = torch.device("meta")
    config = dataclasses.replace(TINY, norm="instance", pool_size=1)
    model = _model(task, "stacked", config, meta)
    batches, window = torch.Generator().manual_seed(0), LossWindow(meta)
    counter = SyncCounter(monkeypatch)
    for step in range(1, 4):
        run_step(model, cyclegan_any_batch(task, config, batches), device=meta, precision="fp32", window=window,
                 step=step, source="cyclegan")
    monkeypatch.undo()
    assert counter.calls == [], f"{len(counter.calls)} host synchronisation(s) in 3 stacked steps"
    assert window and isinstance(model._stack, StackedCycleGANs)



def _same(a: object, b: object) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


def test_an_interrupted_stacked_job_resumes_bit_identical(task, tmp_path, monkeypatch, one_thread) -> None:
    """Through the training loop: a checkpoint at step 2, killed in step 3, resumed: the same final state."""
    from harness import train as train_module
    from harness.models import MODELS

    spec, config = MODELS.get("cyclegan"), dataclasses.replace(TINY, steps=4, pair_training="stacked")

    def job(job_dir, init_seed):
        job_dir.mkdir(exist_ok=True)
        torch.manual_seed(init_seed)
        train_module.train_job(spec, config, task, spec.build(config, task, CPU), job_dir, seed=3,
                               checkpoint_every=2, log_every=1, progress=False)
        return torch.load(job_dir / "model.pt", weights_only=True)

    reference = job(tmp_path / "reference", 0)
    original, calls = StackedCycleGANs.train_step, []

    def killed_in_step_3(self, batches):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, batches)

    with monkeypatch.context() as patch:
        patch.setattr(StackedCycleGANs, "train_step", killed_in_step_3)
        with pytest.raises(KeyboardInterrupt):
            job(tmp_path / "job", 0)
    assert (tmp_path / "job" / "checkpoint.pt").exists()
    resumed = job(tmp_path / "job", 99)
    assert _same(resumed["model"], reference["model"]) and resumed["history"] == reference["history"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (torch.cuda.set_sync_debug_mode)")
def test_a_cuda_stacked_step_does_not_synchronise(task) -> None:
    cuda = torch.device("cuda")
    config = dataclasses.replace(TINY, norm="instance", pool_size=1)
    model = _model(task, "stacked", config, cuda)
    batches, window = torch.Generator().manual_seed(0), LossWindow(cuda)
    run_step(model, cyclegan_any_batch(task, config, batches), device=cuda, precision="fp32", window=window, step=1,
             source="cyclegan")  # the first step builds the stack
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for step in (2, 3):
            run_step(model, cyclegan_any_batch(task, config, batches), device=cuda, precision="fp32", window=window,
                     step=step, source="cyclegan")
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert len(window.means()) == 12 * 8
