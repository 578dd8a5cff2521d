"""No train step of any registered model reads a value back to the host (issue 23).

On a GPU a read-back (``.item()``, ``float()``, ``bool()``, ``.tolist()``, ``.cpu()``, a blocking host-to-device copy)
stalls the host until the device catches up. Without a GPU the test runs each model on the ``meta`` device, where
tensors have shapes but no values: the reading methods are patched to count every call on a device tensor (and
every blocking copy from the host to the device), and a data-dependent operation (``nonzero``, boolean indexing)
fails outright. Host tensors (batch sampling, the image pool's CPU generator) are free to read. With CUDA the same
steps also run for real under ``torch.cuda.set_sync_debug_mode("error")``.

Every registered model runs on its first embedded task, for enough steps to pass through every phase of its
schedule (DIAT's three stages, SRGAN's pretraining then adversarial steps, StarGAN's G step every n_critic).
"""

from __future__ import annotations

import traceback

import pytest
import torch

from harness.models import MODELS, ModelSpec
from harness.run_config import model_config, resolve_config
from harness.step import LossWindow, run_step
from harness.tasks import build_task

EMBEDDED = ("digits", "scenes", "sr", "faces")  # tasks generated here, in order of preference
SIZES = (
    "digits.n_train=120", "digits.n_val=20", "digits.n_test=20", "eval.judge_steps=5", "eval.judge_batch_size=8",
    "scenes.image_size=96", "scenes.n_train=8", "scenes.n_val=4", "scenes.n_test=4",  # 96 px: the 286 ImageGAN
    "sr.image_size=16", "sr.tile=32", "sr.test_size=48",
    "faces.image_size=32", "faces.celeba_identities=8", "faces.celeba_train=96", "faces.celeba_test=24",
    "faces.rafd_identities=4", "faces.rafd_variants=5",
    # every phase within STEPS steps; a pool of 1 so CycleGAN's pool swaps from the second step
    "diat.steps=3", "diat.denoise_steps=1", "diat.enhance_steps=1", "srgan.pretrain_steps=1", "srgan.steps=3",
    "stargan.n_critic=2", "cyclegan.pool_size=1",
)
STEPS = 3
META = torch.device("meta")
READS = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__", "__format__",
         "__repr__", "__array__")


def _task_of(spec: ModelSpec) -> str | None:
    """The first embedded task the model runs on (None: it runs only on real datasets, which tests cannot load)."""
    return next((t for t in EMBEDDED if t in spec.protocols), None)


def _target_device(args: tuple, kwargs: dict) -> torch.device | None:
    """The device a ``Tensor.to`` call moves to, if it names one."""
    for value in (*args, kwargs.get("device"), kwargs.get("other")):
        if isinstance(value, torch.device):
            return value
        if isinstance(value, str):
            return torch.device(value)
        if isinstance(value, torch.Tensor):
            return value.device
    return None


class SyncCounter:
    """Patches ``torch.Tensor``'s reading methods: a call on a non-CPU tensor is recorded (where it came from)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        for name in READS:
            self._patch_read(monkeypatch, name)
        original_to = torch.Tensor.to

        def to(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
            target = _target_device(args, kwargs)
            blocking = not kwargs.get("non_blocking", False) and not any(a is True for a in args)
            if tensor.device.type == "cpu" and target is not None and target.type != "cpu" and blocking:
                self._record(f"blocking Tensor.to({target})")
            return original_to(tensor, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, "to", to)

    def _record(self, what: str) -> None:
        frame = traceback.extract_stack(limit=3)[0]  # the caller of the tensor method
        self.calls.append(f"{what} at {frame.filename}:{frame.lineno}")

    def _patch_read(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        original = getattr(torch.Tensor, name)

        def read(tensor: torch.Tensor, *args: object, **kwargs: object) -> object:
            if tensor.device.type == "cpu":
                return original(tensor, *args, **kwargs)
            self._record(f"Tensor.{name}")
            return {"__bool__": False, "__int__": 0, "__index__": 0, "__format__": "", "__repr__": "",
                    "tolist": [], "item": 0.0}.get(name, 0.0)

        monkeypatch.setattr(torch.Tensor, name, read)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The tiny run config and the tasks, built once (in a private cache)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        config = resolve_config("smoke", dict(item.split("=", 1) for item in SIZES))
        names = {_task_of(spec) for _, spec in MODELS.items()} - {None}
        tasks = {name: build_task(name, config) for name in sorted(names)}
        frozen = {}  # a model's frozen judge network (DTN's f): trained on CPU at the tiny recipe, then moved
        for name, spec in MODELS.items():
            if spec.frozen is not None and _task_of(spec) is not None:
                frozen[name] = spec.frozen(tasks[_task_of(spec)], config.eval, torch.device("cpu"), False)
        yield config, tasks, frozen


def _build(spec: ModelSpec, setup: tuple, device: torch.device):
    config, tasks, frozen = setup
    if _task_of(spec) is None:
        pytest.skip(f"{spec.name} runs on no embedded task ({', '.join(spec.protocols)})")
    task = tasks[_task_of(spec)]
    cfg = model_config(config, spec.name, task.name)
    torch.manual_seed(0)
    model = spec.build(cfg, task, device) if spec.frozen is None else spec.build(cfg, task, device, frozen[spec.name])
    return model, cfg, task


@pytest.mark.parametrize("name", [name for name, _ in MODELS.items()])
def test_a_train_step_reads_nothing_back_to_the_host(name, setup, monkeypatch):
    spec = MODELS.get(name)
    model, cfg, task = _build(spec, setup, META)
    batches = torch.Generator().manual_seed(0)
    window = LossWindow(META)
    counter = SyncCounter(monkeypatch)
    for step in range(1, STEPS + 1):
        run_step(model, spec.batch(task, cfg, batches), device=META, precision="fp32", window=window, step=step,
                 source=name)
    monkeypatch.undo()
    assert counter.calls == [], f"{name}: {len(counter.calls)} host synchronisation(s) in {STEPS} steps"
    assert window, f"{name}: no losses returned"


@pytest.mark.parametrize("name", ["gan", "pix2pix", "cyclegan"])
def test_the_counter_sees_a_read_back(name, setup, monkeypatch):
    """The test can fail: the same steps with the losses read back the old way (``.item()``) are counted."""
    spec = MODELS.get(name)
    model, cfg, task = _build(spec, setup, META)
    original = type(model).train_step
    monkeypatch.setattr(type(model), "train_step", lambda self, batch: {k: v.item() for k, v in
                                                                         original(self, batch).items()})
    counter = SyncCounter(monkeypatch)
    run_step(model, spec.batch(task, cfg, torch.Generator().manual_seed(0)), device=META, precision="fp32",
             window=LossWindow(META), step=1, source=name)
    monkeypatch.undo()
    assert counter.calls and all("Tensor.item" in call for call in counter.calls)


def test_a_blocking_copy_to_the_device_is_counted(monkeypatch):
    counter = SyncCounter(monkeypatch)
    torch.zeros(2).to(META)
    torch.zeros(2).to(META, non_blocking=True)
    torch.zeros(2).to("cpu")
    monkeypatch.undo()
    assert len(counter.calls) == 1 and "blocking Tensor.to(meta)" in counter.calls[0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (torch.cuda.set_sync_debug_mode)")
@pytest.mark.parametrize("name", [name for name, _ in MODELS.items()])
def test_a_cuda_train_step_does_not_synchronise(name, setup):
    spec = MODELS.get(name)
    cuda = torch.device("cuda")
    model, cfg, task = _build(spec, setup, cuda)
    batches, window = torch.Generator().manual_seed(0), LossWindow(cuda)
    run_step(model, spec.batch(task, cfg, batches), device=cuda, precision="fp32", window=window, step=1,
             source=name)  # the first step may set up lazily (cuDNN plans, optimiser state)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for step in range(2, STEPS + 1):
            run_step(model, spec.batch(task, cfg, batches), device=cuda, precision="fp32", window=window, step=step,
                     source=name)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert window.means()
