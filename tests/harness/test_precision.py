"""``--precision bf16`` and ``--compile``: the paths run on a CPU at tiny widths and rows say how they trained.

The speed-ups these are for are a GPU's (issue 23); here only that they run, that bf16 autocast is really active and
that fp32 runs are unchanged. ``torch.compile``'s inductor backend costs about a minute of C++ compilation for even
the tiny GAN on this CPU, so the tests compile with ``aot_eager`` (graph capture and AOT autograd, no code
generation) through ``harness.step.COMPILE_BACKEND``.
"""

from __future__ import annotations

import json

import pandas as pd
import torch

from harness import step
from harness.core.task import DomainData, Task
from harness.models import GAN as GAN_SPEC
from harness.models import PIX2PIX
from harness.run import main
from harness.train import train_job
from reference_models.gan import GANConfig
from reference_models.pix2pix import Pix2PixConfig, build_pix2pix, pix2pix_batch

CPU = torch.device("cpu")
CONFIG = GANConfig(g_hidden=16, d_units=8, d_pieces=3, batch_size=8, steps=12)


def _task() -> Task:
    images = torch.randint(0, 256, (20, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    split = {"handwritten": DomainData(images, {"class": torch.arange(20) % 10})}
    return Task("digits", ("handwritten",), False, ("class",), 28, {"train": split, "val": split, "test": split})


def _model(task: Task):
    torch.manual_seed(0)
    return GAN_SPEC.build(CONFIG, task, CPU)


def test_bf16_autocast_runs_the_networks_in_bfloat16_and_the_losses_stay_finite(tmp_path):
    task = _task()
    model = _model(task)
    seen: list[torch.dtype] = []
    model.discriminator.net[-1].register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    train_job(GAN_SPEC, CONFIG, task, model, tmp_path, seed=0, checkpoint_every=100, log_every=4, progress=False,
              precision="bf16")
    assert seen and set(seen) == {torch.bfloat16}
    losses = pd.read_csv(tmp_path / "losses.csv")
    assert list(losses["step"]) == [4, 8, 12] and losses.drop(columns="step").notna().all().all()
    weights = torch.load(tmp_path / "model.pt", weights_only=True)["model"]["G"]
    assert all(v.dtype == torch.float32 for v in weights.values())  # autocast keeps the parameters in fp32


def test_channels_last_is_for_bf16_on_cuda_and_a_channels_last_model_trains(tmp_path):
    assert step.channels_last(torch.device("cuda"), "bf16")
    assert not step.channels_last(CPU, "bf16") and not step.channels_last(torch.device("cuda"), "fp32")
    images = torch.randint(0, 256, (4, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    split = {"A": DomainData(images), "B": DomainData(255 - images)}
    task = Task("tiny", ("A", "B"), True, (), 32, {"train": split})
    config = Pix2PixConfig(ngf=4, ndf=4, num_downs=5, steps=2, decay_steps=1)
    model = build_pix2pix(config, task, CPU)
    step.prepare_model(model, torch.device("cuda"), "bf16", False)  # the layout change alone, on this CPU
    convs = [p for net in model.nets.values() for p in net.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    window = step.LossWindow(CPU)
    batch = pix2pix_batch(task, config, torch.Generator().manual_seed(0))
    step.run_step(model, batch, device=CPU, precision="bf16", window=window, step=1, source=PIX2PIX.name)
    assert all(torch.isfinite(torch.tensor(v)) for v in window.means().values())


def _suite(out, tiny_args, *extra: str) -> int:
    return main(["--log-level", "ERROR", "suite", "--no-progress", "--no-report", "--models", "gan", "--workers", "1",
                 "--out", str(out), *extra, *tiny_args("study.simulate=false", "gan.steps=8")])


def test_suite_with_bf16_and_compile_says_so_in_every_row(tmp_path, cache, tiny_args, one_thread, monkeypatch):
    monkeypatch.setattr(step, "COMPILE_BACKEND", "aot_eager")
    compiled: list[str] = []
    original = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: (compiled.append(type(self).__name__),
                                                                         original(self, **kw))[1])
    out = tmp_path / "run"
    assert _suite(out, tiny_args, "--precision", "bf16", "--compile") == 0
    assert sorted(compiled) == ["Discriminator", "Generator"]
    config = json.loads((out / "config.json").read_text())
    assert (config["precision"], config["compile"]) == ("bf16", True)
    metrics = pd.read_csv(out / "metrics.csv")
    gan = metrics[metrics["model"] == "gan"]
    assert len(gan) and gan["protocol"].str.contains("train_precision=bf16 autocast").all()
    assert gan["protocol"].str.contains("train_compile=torch.compile").all()
    assert not metrics[metrics["model"] != "gan"]["protocol"].str.contains("train_precision").any()
    # the precision is part of the run's settings: a resume cannot change it
    assert main(["--log-level", "ERROR", "suite", "--no-progress", "--out", str(out), "--resume", "--precision",
                 "fp32"]) == 2


def test_fp32_rows_name_no_precision_and_a_bad_precision_is_refused(tmp_path, cache, tiny_args, one_thread, capsys):
    out = tmp_path / "run"
    assert _suite(out, tiny_args) == 0
    assert not pd.read_csv(out / "metrics.csv")["protocol"].str.contains("train_precision|train_compile").any()
    assert main(["suite", "--precision", "fp16", "--out", str(tmp_path / "bad")]) == 2
    assert "--precision: invalid choice: 'fp16'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
