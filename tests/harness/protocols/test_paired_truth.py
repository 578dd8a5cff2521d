"""The ``translation`` protocol's PSNR follows metrics.psnr's rule: identical pairs are inf, counted, never capped."""

import math

import numpy as np
import pytest
import torch

from harness.core.task import DomainData, Task
from harness.protocols import paired_truth
from harness.protocols.base import EvalConfig, EvalContext

N, SIZE = 6, 8


def _task() -> Task:
    gen = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (N, 3, SIZE, SIZE), generator=gen, dtype=torch.uint8)
    b = a.clone()
    b[2:] = (b[2:].int() + torch.randint(-20, 21, (N - 2, 3, SIZE, SIZE), generator=gen)).clamp(0, 255).to(torch.uint8)
    split = {"A": DomainData(a), "B": DomainData(b)}  # images 0 and 1 are identical in A and B
    return Task(name="tiny_pairs", domains=("A", "B"), paired=True, label_kinds=(), image_size=SIZE,
                splits={"train": split, "test": split})


def _oracle_mean_psnr(task: Task) -> float:
    a, b = (task.data("test", d).images.double().numpy() / 255 for d in ("A", "B"))
    mse = ((np.float32(a) - np.float32(b)).astype(np.float64) ** 2).reshape(N, -1).mean(1)
    return float(np.mean(10 * np.log10(1 / mse[mse > 0])))


def test_identity_reference_counts_identical_pairs_and_is_not_capped(tmp_path):
    task = _task()
    ctx = EvalContext(model_name="identity", task=task, seed=0, device=torch.device("cpu"),
                      config=EvalConfig(batch_size=4, n_sample_images=2), sample_dir=tmp_path, setting="reference",
                      variant="")
    rows = {row.metric: row for row in paired_truth.reference_translation(ctx)}
    for direction in ("AtoB", "BtoA"):
        assert rows[f"{direction}_psnr_identical"].value == 2
        assert rows[f"{direction}_psnr_identical"].higher_is_better is None
        assert rows[f"{direction}_psnr"].value == pytest.approx(_oracle_mean_psnr(task), rel=1e-6)
        assert math.isfinite(rows[f"{direction}_psnr"].value)
        assert "capped" not in rows[f"{direction}_psnr"].protocol
        assert "identical pairs (inf) counted in psnr_identical" in rows[f"{direction}_psnr"].protocol
