"""Placing local workers on devices (``--devices``) and checking where-jobs-run flags, all without a GPU."""

from __future__ import annotations

import multiprocessing

import pytest
import torch

from harness.core.device import ThreadChoice, choose_workers, parse_devices, use_device
from harness.core.errors import HarnessError
from harness.executors import ExecutorOptions, resolve_placement
from harness.remote_jobs import RemoteOptions
from harness.run_config import resolve_config
from harness.workers import claim_device


@pytest.fixture
def two_gpus(monkeypatch):
    """This CPU machine pretends to have two GPUs (only device names are resolved, nothing runs on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_workers_claim_the_devices_in_turn():
    counter = multiprocessing.get_context("spawn").Value("i", 0)
    claims = [claim_device(counter, ["cuda:0", "cuda:1"]) for _ in range(5)]
    assert claims == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]  # worker 3 shares cuda:0 with worker 1
    assert [claim_device(multiprocessing.Value("i", 0), ["cuda:0", "cuda:0"]) for _ in range(2)] == ["cuda:0"] * 2


def test_devices_are_checked_against_this_machine(two_gpus):
    assert parse_devices("cuda:0, cuda:1") == [torch.device("cuda:0"), torch.device("cuda:1")]
    assert parse_devices("cuda:1,cuda:1", "cuda") == [torch.device("cuda:1")] * 2
    for text, message in (("cuda:2", "cuda:2 does not exist; this machine has 2 GPU"),
                          ("cpu,cuda:0", "every device must be of one kind"), ("", "comma-separated list"),
                          ("cuda:0,,cuda:1", "comma-separated list"), ("auto", "comma-separated list")):
        with pytest.raises(HarnessError, match=message):
            parse_devices(text)
    with pytest.raises(HarnessError, match="contradicts --device cpu"):
        parse_devices("cuda:0,cuda:1", "cpu")


def test_a_gpu_device_list_without_a_gpu_is_refused():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(HarnessError, match="no CUDA device"):
        parse_devices("cuda:0")


def test_one_worker_per_listed_gpu_unless_workers_says_more():
    cuda = torch.device("cuda")
    assert choose_workers(None, ThreadChoice(4, 16, "default"), cuda, devices=2) == 2
    assert choose_workers(6, ThreadChoice(4, 16, "default"), cuda, devices=2) == 6  # three per GPU


def test_placement_of_a_local_run_over_two_gpus(two_gpus):
    config = resolve_config("smoke", {"device": "cuda"})
    placement, _ = resolve_placement(ExecutorOptions(devices="cuda:0,cuda:1"), config, threads=2, workers=None)
    assert (placement.executor, placement.devices, placement.workers, placement.threads) == (
        "local", ("cuda:0", "cuda:1"), 2, 2)
    placement, _ = resolve_placement(ExecutorOptions(), resolve_config("smoke", {"device": "cpu"}), 1, 3)
    assert (placement.devices, placement.workers) == (("cpu",), 3)


@pytest.mark.parametrize(("options", "device", "workers", "message"), [
    (ExecutorOptions(gpus_per_job=1), "cpu", None, "--gpus-per-job: for --executor ray or slurm"),
    (ExecutorOptions(remote=RemoteOptions(ray_address="auto")), "cpu", None,
     "--ray-address: for --executor ray or slurm"),
    (ExecutorOptions("ray", devices="cpu"), "cpu", None, "--devices and --workers place jobs on this machine"),
    (ExecutorOptions("slurm"), "cpu", 2, "--devices and --workers place jobs on this machine"),
    (ExecutorOptions("ray"), "cuda:1", None, "the engine picks each job's GPU; use --device cuda"),
    (ExecutorOptions("slurm", gpus_per_job=0.5), "cuda", None, "Slurm gives whole GPUs"),
    (ExecutorOptions("ray", gpus_per_job=1), "cpu", None, "expected 0 on CPU"),
    (ExecutorOptions("ray", remote=RemoteOptions(retries=-1)), "cpu", None, "--retries must be >= 0"),
])
def test_flags_of_the_wrong_executor_are_refused(options, device, workers, message, two_gpus):
    with pytest.raises(HarnessError, match=message):
        resolve_placement(options, resolve_config("smoke", {"device": device}), None, workers)


def test_a_remote_placement_asks_a_gpu_per_job_for_cuda_and_none_for_cpu():
    cuda, cpu = resolve_config("smoke", {"device": "cuda"}), resolve_config("smoke", {})
    ray_gpu, _ = resolve_placement(ExecutorOptions("ray"), cuda, 2, None)
    assert (ray_gpu.gpus_per_job, ray_gpu.device, ray_gpu.threads) == (1.0, "cuda", 2)
    shared, _ = resolve_placement(ExecutorOptions("ray", gpus_per_job=0.25), cuda, 1, None)
    assert shared.gpus_per_job == 0.25  # four jobs on one GPU
    slurm_cpu, _ = resolve_placement(ExecutorOptions("slurm", remote=RemoteOptions(slurm_partition="p")), cpu, 1, None)
    assert (slurm_cpu.gpus_per_job, slurm_cpu.device, slurm_cpu.remote.slurm_partition) == (0.0, "auto", "p")


def test_only_an_indexed_gpu_becomes_the_current_device(monkeypatch):
    calls: list[torch.device] = []
    monkeypatch.setattr(torch.cuda, "set_device", calls.append)
    for name in ("cpu", "cuda", "cuda:1"):
        use_device(torch.device(name))
    assert calls == [torch.device("cuda:1")]  # a bare cuda keeps the GPU Ray or Slurm made visible
