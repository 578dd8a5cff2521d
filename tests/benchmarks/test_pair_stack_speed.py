"""The faces task's per-pair models (12 CycleGANs, 14 DIATs) stepped one by one vs as one stacked model (issue 23).

``<model>.pair_training="serial"`` runs each pair model's step in turn (hundreds of tiny kernels per pair: on a GPU
the host's launches, not the device, set the pace); ``"stacked"`` runs one vmapped step over all pairs
(``reference_models.stacked``). DIAT runs as DIAT-A (its identity loss on the discriminator's features), so no
identity network is trained first; its step is timed in the transform stage (the longest). Same pairs, weights and
host batches, one process, the loop's step (``harness.step.run_step``: host check, non-blocking copy, losses summed
on the device, read every 10 steps). On CPU at the smoke profile's faces widths (32 px, one torch thread, as a suite
job); on CUDA, when present, at the standard profile's (64 px). A round is ``K`` steps and, on CUDA, one
synchronisation.

Skipped in the normal run. On an idle machine or a GPU (timings are meaningless beside other jobs)::

    python -m pytest tests/benchmarks/test_pair_stack_speed.py --benchmark-only --benchmark-enable

prints, after pytest-benchmark's tables, the stacked/serial ratio of median time per step (below 1: stacked is
faster).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from bench_common import harness_round, median_ms_per_step

from harness.core.task import DomainData, Task
from harness.face_models import build_cyclegan_any, build_diat_pairs, cyclegan_any_batch, diat_pairs_batch
from harness.run_config import model_config, resolve_config

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
ROUNDS = {"cpu": 10, "cuda": 10}
EXPRESSIONS = ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised")
MS_PER_STEP: dict[tuple[str, str], dict[str, float]] = {}  # (model, device) -> pair_training -> median ms per step
BUILD = {"cyclegan": (build_cyclegan_any, cyclegan_any_batch), "diat": (build_diat_pairs, diat_pairs_batch)}


def _faces_task(size: int) -> Task:
    """Random faces covering every attribute value and expression (the pairs' shapes, not their content)."""
    g = torch.Generator().manual_seed(0)
    attrs = torch.zeros(48, 5)
    attrs[torch.arange(48), torch.arange(48) % 3] = 1
    attrs[:, 3], attrs[:, 4] = (torch.arange(48) // 3) % 2, (torch.arange(48) // 6) % 2
    celeba = DomainData(torch.randint(0, 256, (48, 3, size, size), dtype=torch.uint8, generator=g),
                        {"attributes": attrs, "identity": torch.arange(48) % 12})
    rafd = DomainData(torch.randint(0, 256, (32, 3, size, size), dtype=torch.uint8, generator=g),
                      {"expression": torch.arange(32) % 8, "identity": 12 + torch.arange(32) // 8})
    meta = {"attribute_names": ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"),
            "expression_names": EXPRESSIONS, "n_identities": 16, "neutral": "neutral"}
    split = {"celeba": celeba, "rafd": rafd}
    return Task("faces", ("celeba", "rafd"), False, ("attributes", "expression", "identity"), size,
                {"train": split, "test": split}, meta)


def _config(run, model: str, pair_training: str):
    config = model_config(run, model, "faces")
    if model == "diat":  # DIAT-A, timed in the transform stage (denoiser done, enhancement not begun)
        config = dataclasses.replace(config, identity_features="discriminator", denoise_steps=0)
    return dataclasses.replace(config, pair_training=pair_training)


@pytest.mark.parametrize("pair_training", ["serial", "stacked"])
@pytest.mark.parametrize("device_name", DEVICES)
@pytest.mark.parametrize("model_name", ["cyclegan", "diat"])
def test_faces_pair_step(benchmark, model_name, device_name, pair_training):
    device = torch.device(device_name)
    run = resolve_config("smoke" if device.type == "cpu" else "standard", {})
    config, (build, batch) = _config(run, model_name, pair_training), BUILD[model_name]
    task = _faces_task(run.faces.image_size)
    previous = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build(config, task, device)
    batches_rng = torch.Generator().manual_seed(0)
    batches = [batch(task, config, batches_rng) for _ in range(4)]
    ms = median_ms_per_step(benchmark, harness_round(model, batches, device, "fp32", model_name), device,
                            ROUNDS[device.type], previous)
    MS_PER_STEP.setdefault((model_name, device_name), {})[pair_training] = ms


def ratios() -> list[str]:
    """``stacked/serial`` lines for the cases measured in this session (read by ``conftest.py``)."""
    return [f"faces {model} pairs on {device}: stacked {found['stacked']:.2f} ms/step, serial "
            f"{found['serial']:.2f} ms/step: ratio {found['stacked'] / found['serial']:.3f}"
            for (model, device), found in sorted(MS_PER_STEP.items()) if {"serial", "stacked"} <= set(found)]
