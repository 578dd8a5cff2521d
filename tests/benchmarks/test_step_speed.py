"""The harness's pix2pix and CycleGAN train steps beside the same steps in the official code's structure (issue 23).

Same networks and weights (``official_structure`` deep-copies the harness model's), same configuration, same host
batches, one process. On CPU at the smoke profile's widths (32 px, one torch thread, as a suite job); on CUDA, when
present, at the paper's (256 px, U-Net 8 / ResNet 9 blocks, batch 1), the harness also in bf16 and in bf16 with
``--compile`` (``torch.compile``, compiled during the warm-up rounds). A round is ``K``
steps and, on CUDA, one synchronisation (the device's time, not the launch time); the harness's step is the loop's
(``harness.step.run_step``: host check, non-blocking copy, losses summed on the device, read every 10 steps).

Skipped in the normal run. On an idle machine (timings are meaningless beside other jobs)::

    python -m pytest tests/benchmarks/test_step_speed.py --benchmark-only --benchmark-enable

prints, after pytest-benchmark's tables, each harness/official ratio of median time per step (below 1: the harness
is faster).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from bench_common import STEPS_PER_ROUND, harness_round, median_ms_per_step
from official_structure import OfficialCycleGAN, OfficialPix2Pix

from harness.core.task import DomainData, Task
from harness.run_config import resolve_config
from harness.step import prepare_model
from reference_models.cyclegan import CycleGANConfig, build_cyclegan, cyclegan_batch
from reference_models.pix2pix import Pix2PixConfig, build_pix2pix, pix2pix_batch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
ROUNDS = {"cpu": 20, "cuda": 10}
MS_PER_STEP: dict[tuple[str, str], dict[str, float]] = {}  # (model, device) -> implementation -> median ms per step


def _task(size: int) -> Task:
    g = torch.Generator().manual_seed(0)
    a, b = (DomainData(torch.randint(0, 256, (8, 3, size, size), generator=g, dtype=torch.uint8)) for _ in "AB")
    split = {"A": a, "B": b}
    return Task("bench", ("A", "B"), True, (), size, {"train": split}, {}, split)


def _configs(device: str) -> tuple[int, Pix2PixConfig, CycleGANConfig]:
    """Smoke widths at 32 px on CPU; the paper's networks at 256 px on CUDA (pix2pix one direction, as published)."""
    if device == "cpu":
        smoke = resolve_config("smoke", {})
        return 32, dataclasses.replace(smoke.pix2pix, directions=("AtoB",)), smoke.cyclegan
    return 256, Pix2PixConfig(directions=("AtoB",)), CycleGANConfig()


def _build(model: str, device: torch.device):
    """``(harness model, official-structure model, host batches)``: same weights, same batches."""
    size, p2p, cyc = _configs(device.type)
    task = _task(size)
    torch.manual_seed(0)
    batches = torch.Generator().manual_seed(0)
    if model == "pix2pix":
        harness = build_pix2pix(p2p, task, device)
        official = OfficialPix2Pix(harness, p2p.lr, p2p.beta1, p2p.lambda_l1, device)
        return harness, official, [pix2pix_batch(task, p2p, batches) for _ in range(8)]
    harness = build_cyclegan(cyc, task, device)
    official = OfficialCycleGAN(harness, cyc.lr, cyc.beta1, cyc.lambda_cycle, harness.effective_lambda_identity,
                                cyc.pool_size, device)
    return harness, official, [cyclegan_batch(task, cyc, batches) for _ in range(8)]


@pytest.mark.parametrize("impl", ["official", "harness-fp32", "harness-bf16", "harness-bf16-compile"])
@pytest.mark.parametrize("device_name", DEVICES)
@pytest.mark.parametrize("model", ["pix2pix", "cyclegan"])
def test_train_step(benchmark, model, device_name, impl):
    if impl.startswith("harness-bf16") and device_name == "cpu":
        pytest.skip("bf16 and --compile are GPU levers (issue 23); on CPU they are checked to run in tests/harness")
    device = torch.device(device_name)
    previous = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    harness, official, batches = _build(model, device)
    precision = "bf16" if impl.startswith("harness-bf16") else "fp32"
    prepare_model(harness, device, precision, impl.endswith("compile"))  # compiled in the warm-up rounds
    count, k = {"step": 0}, STEPS_PER_ROUND[device.type]

    def official_round() -> None:
        for _ in range(k):
            count["step"] += 1
            official.set_input(batches[count["step"] % len(batches)])
            official.optimize_parameters()
        if device.type == "cuda":
            torch.cuda.synchronize()

    one_round = official_round if impl == "official" else harness_round(harness, batches, device, precision, model)
    ms = median_ms_per_step(benchmark, one_round, device, ROUNDS[device.type], previous)
    MS_PER_STEP.setdefault((model, device_name), {})[impl] = ms


def ratios() -> list[str]:
    """``harness/official`` lines for the cases measured in this session (read by ``conftest.py``)."""
    lines = []
    for (model, device), found in sorted(MS_PER_STEP.items()):
        if "official" not in found:
            continue
        for impl in ("harness-fp32", "harness-bf16", "harness-bf16-compile"):
            if impl in found:
                lines.append(f"{model} on {device}: {impl} {found[impl]:.2f} ms/step, official structure "
                             f"{found['official']:.2f} ms/step: ratio {found[impl] / found['official']:.3f}")
    return lines
