"""Bad inputs and faults through the real CLI entry (``harness.run.main``), in-process.

Every case asserts: exit 2; exactly one ``error:`` line on stderr that names the thing; no traceback; nothing
partial left (a fresh ``--out`` is not created, inputs are untouched) and nothing earlier lost (an existing run keeps
every file byte-identical, except its manifest, log and lock). ``test_case_count`` prints how many cases there are.
Cases waiting for another branch are ``xfail(strict=True)`` with the branch named, so merging it flips them.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from harness.run import main

pytestmark = pytest.mark.usefixtures("one_thread_module", "no_plugins")

TINY = ("digits.n_train=120", "digits.n_val=20", "digits.n_test=60", "eval.n_samples=60", "eval.judge_steps=10",
        "eval.kid_subset_size=20", "eval.kid_subsets=5", "eval.parzen_n_validation=20", "eval.batch_size=60",
        "gan.steps=6", "gan.g_hidden=16", "gan.d_units=8", "checkpoint_every=4", "log_every=2",
        "scenes.n_train=8", "scenes.n_val=4", "scenes.n_test=4", "probe.n_train=8", "probe.n_val=4",
        "probe.n_test=4", "maps.n_train=8", "maps.n_val=4", "maps.n_test=4",
        "study.simulate=false")  # the simulated study has its own tests
SETS = [arg for item in TINY for arg in ("--set", item)]
RUNTIME = {"manifest.json", "harness.log", ".lock"}  # may change when a command reopens a run
GAN_JOB = "jobs/gan__digits__s0"


@dataclass
class Env:
    """The case's working folder: ``work`` (cwd), ``out`` (a fresh run path), ``run`` (a copy of a finished tiny
    gan/digits run), ``cache`` (a private copy of the cache that run used)."""

    work: Path
    run: Path
    cache: Path

    @property
    def out(self) -> Path:
        return self.work / "fresh-run"

    def file(self, name: str = "plain.txt", text: str = "not a folder") -> Path:
        path = self.work / name
        path.write_text(text)
        return path


@dataclass
class Case:
    """One bad input: ``argv(env)`` after ``setup(env)`` must exit 2 naming every string of ``expect(env)``."""

    id: str
    argv: Callable[[Env], list[str]]
    expect: Callable[[Env], tuple[str, ...]]
    setup: Callable[[Env], None] | None = None
    marks: tuple = field(default_factory=tuple)


def _suite(*argv: str) -> Callable[[Env], list[str]]:
    return lambda env: ["--log-level", "ERROR", "suite", "--no-progress", "--out", str(env.out), "--models", "gan",
                        *SETS, *argv]


def _texts(*texts: str) -> Callable[[Env], tuple[str, ...]]:
    return lambda env: texts


# ---------------------------------------------------------------- files written into a case's folders


def _png(path: Path, size=(8, 8), mode="RGB", seed=0, dtype=np.uint8) -> None:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 0, "I;16": 0}[mode]
    shape = (size[1], size[0], channels) if channels else (size[1], size[0])
    top = 65535 if dtype == np.uint16 else 255
    array = rng.integers(0, top + 1, shape, dtype=dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    (Image.fromarray(array) if dtype == np.uint16 else Image.fromarray(array, mode=mode)).save(path)


def _huge_png(path: Path, side: int = 100_000) -> None:
    """A PNG whose header claims ``side``² pixels (a decompression bomb), a few bytes on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def _files(env: Env, *names: str) -> None:
    for name in names:
        (env.work / name).parent.mkdir(parents=True, exist_ok=True)
        (env.work / name).write_text("not an image")


def _folder(env: Env, name: str, n: int = 3, **kwargs) -> Path:
    folder = env.work / name
    for i in range(n):
        _png(folder / f"{i:03d}.png", seed=i, **kwargs)
    return folder


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def _malicious_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"model": _Evil()}, buffer)
    return buffer.getvalue()


def _corrupt(kind: str) -> Callable[[Path], None]:
    """Overwrites a file with: truncated, random, empty, malicious (a pickle that would run code), or wrong content."""
    def write(path: Path) -> None:
        data = path.read_bytes() if path.exists() else b""
        content = {"truncated": data[: len(data) // 2], "random": np.random.default_rng(0).bytes(400), "empty": b"",
                   "malicious": _malicious_bytes(), "pickle": pickle.dumps(_Evil()), "short": b"truncated"}.get(kind)
        if kind == "wrong":
            torch.save(torch.zeros(3), path)
            return
        path.write_bytes(content)
    return write


def _unfinish(env: Env) -> None:
    """Makes the gan job of the copied run unfinished, so ``--resume`` reruns it from its files."""
    (env.run / GAN_JOB / "rows.json").unlink()


def _model_file(kind: str) -> Callable[[Env], None]:
    def setup(env: Env) -> None:
        _unfinish(env)
        _corrupt(kind)(env.run / GAN_JOB / "model.pt")
    return setup


def _checkpoint_file(kind: str) -> Callable[[Env], None]:
    def setup(env: Env) -> None:
        _unfinish(env)
        final = env.run / GAN_JOB / "model.pt"
        shutil.copy(final, env.run / GAN_JOB / "checkpoint.pt")
        final.unlink()
        _corrupt(kind)(env.run / GAN_JOB / "checkpoint.pt")
    return setup


def _cache_file(pattern: str, kind: str) -> Callable[[Env], None]:
    def setup(env: Env) -> None:
        files = sorted(env.cache.rglob(pattern))
        assert files, f"no cache file {pattern} under {env.cache}"
        for path in files:
            _corrupt(kind)(path)
    return setup


def _cache_name(pattern: str) -> Callable[[Env], tuple[str, ...]]:
    return lambda env: (str(sorted(env.cache.rglob(pattern))[0]), "delete it")


def _baseline(mutate: Callable[[dict], object]) -> Callable[[Env], None]:
    def setup(env: Env) -> None:
        assert main(["baseline", "--run", str(env.run), "--out", str(env.work / "base.json")]) == 0
        data = json.loads((env.work / "base.json").read_text())
        mutate(data)
        (env.work / "base.json").write_text(json.dumps(data))
    return setup


def _set_entry(key: str, value: object) -> Callable[[dict], None]:
    def mutate(data: dict) -> None:
        data["entries"][0][key] = value
    return mutate


def _check(env: Env) -> list[str]:
    return ["check", "--run", str(env.run), "--baseline", str(env.work / "base.json")]


def _resume(*argv: str) -> Callable[[Env], list[str]]:
    return lambda env: ["--log-level", "ERROR", "suite", "--no-progress", "--out", str(env.run), "--resume", *argv]


def _no_rows(env: Env) -> None:
    """The run as after a crash before any evaluation: no rows.json, a metrics.csv with only its header."""
    for rows in env.run.glob("jobs/*/rows.json"):
        rows.unlink()
    (env.run / "metrics.csv").write_text((env.run / "metrics.csv").read_text().splitlines()[0] + "\n")


def _locked(env: Env) -> None:
    import fcntl

    fd = os.open(env.run / ".lock", os.O_RDWR | os.O_CREAT)
    os.write(fd, b"4242\n")
    fcntl.flock(fd, fcntl.LOCK_EX)
    env.held_lock = fd  # type: ignore[attr-defined]  # released by the test after the case


def _evaluate(*argv: str) -> Callable[[Env], list[str]]:
    return lambda env: ["evaluate", "--no-progress", *[a.format(work=env.work) for a in argv]]


def _folders(pred: Callable[[Env], Path], target: Callable[[Env], Path] | None = None) -> Callable[[Env], None]:
    def setup(env: Env) -> None:
        pred(env)
        if target is not None:
            target(env)
    return setup


def _plugin(body: str) -> Callable[[Env], None]:
    """Writes ``lab.py``: a plugin deriving a model from the example plugin (examples/pix2pix_lsgan.py)."""
    return lambda env: env.file("lab.py", "import dataclasses\nfrom examples.pix2pix_lsgan import HARNESS_MODELS, "
                                          f"Pix2PixLSGAN\n{body}\n")


def _renamed(changes: str) -> Callable[[Env], None]:
    return _plugin(f"HARNESS_MODELS = (dataclasses.replace(HARNESS_MODELS[0], {changes}),)")


def _with(*argv: str) -> Callable[[Env], list[str]]:
    return lambda env: _suite(*[a.format(work=env.work) for a in argv])(env)


EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "pix2pix_lsgan.py")
NO_PROVENANCE = """
class Lab(Pix2PixLSGAN):
    provenance = None
HARNESS_MODELS = (dataclasses.replace(HARNESS_MODELS[0], name="lab", config_section="lab", model_class=Lab),)"""

# ---------------------------------------------------------------- the cases

CASES: list[Case] = [
    # names and flags
    Case("unknown-model", _suite("--models", "gam"), _texts("unknown model 'gam'", "pix2pix")),
    Case("unknown-model-via-set", _suite("--set", "models=gan,nope"), _texts("unknown model 'nope'")),
    Case("html-in-model-name", _suite("--models", "<b>x</b>"), _texts("unknown model '<b>x</b>'")),
    Case("unknown-task", _suite("--tasks", "digitz"), _texts("unknown task 'digitz'", "scenes")),
    Case("no-jobs", _suite("--tasks", "scenes"), _texts("no jobs")),
    Case("unknown-profile", _suite("--profile", "huge"), _texts("--profile", "huge")),
    Case("unknown-flag", _suite("--bogus"), _texts("--bogus")),
    Case("unknown-command", lambda env: ["frobnicate"], _texts("frobnicate")),
    Case("bad-device", _suite("--device", "tpu" if torch.cuda.is_available() else "cuda:7"), _texts("--device")),
    Case("threads-zero", _suite("--threads", "0"), _texts("--threads 0", "1 <= value")),
    Case("threads-negative", _suite("--threads", "-2"), _texts("--threads -2")),
    Case("threads-not-a-number", _suite("--threads", "two"), _texts("--threads", "two")),
    # plugin models and reference sets (issue 20)
    Case("plugin-does-not-import", _with("--plugin", "{work}/lab.py"), _texts("lab.py", "line 1: ImportError"),
         setup=lambda env: env.file("lab.py", "from harness import nothing_here\n")),
    Case("plugin-syntax-error", _with("--plugin", "{work}/lab.py"), _texts("lab.py", "line 2: SyntaxError"),
         setup=lambda env: env.file("lab.py", "X = 1\ndef (:\n")),
    Case("plugin-missing", _with("--plugin", "{work}/nope.py"), _texts("nope.py", "no such file")),
    Case("plugin-without-models", _with("--plugin", "{work}/lab.py"), _texts("lab.py", "defines no HARNESS_MODELS"),
         setup=lambda env: env.file("lab.py", "X = 1\n")),
    Case("plugin-misses-a-contract-method", _with("--plugin", "{work}/lab.py"),
         _texts("lab.py", "Lab (model lab) lacks provenance of the model contract"), setup=_plugin(NO_PROVENANCE)),
    Case("plugin-name-clash", _with("--plugin", "{work}/lab.py"), _texts("model name 'gan' clashes with the built-in"),
         setup=_renamed('name="gan"')),
    Case("plugin-section-clash", _with("--plugin", "{work}/lab.py"),
         _texts("config section 'pix2pix' clashes with the built-in section"),
         setup=_renamed('config_section="pix2pix"')),
    Case("plugin-setting-no-task-has", _with("--plugin", "{work}/lab.py"),
         _texts("declares setting 'semi-paired', which no task has"), setup=_renamed('setting="semi-paired"')),
    Case("plugin-unknown-key", _with("--plugin", EXAMPLE, "--set", "pix2pix_lsgan.gan_mode=hinge"),
         _texts("unknown key 'pix2pix_lsgan.gan_mode'", "lambda_l1")),
    Case("plugin-value-out-of-range", _with("--plugin", EXAMPLE, "--set", "pix2pix_lsgan.lambda_l1=-1"),
         _texts("pix2pix_lsgan.lambda_l1=-1.0", "0 <= value")),
    Case("plugin-set-via-set", _suite("--set", "plugins=lab.py"), _texts("--set plugins", "--plugin")),
    Case("references-without-a-set", _with("--references", "{work}"),
         lambda env: ("no reference set for smoke/digits", str(env.work))),
    Case("references-not-a-folder", _with("--references", "{work}/plain.txt"), _texts("--references", "not a folder"),
         setup=lambda env: env.file()),
    Case("references-make-not-a-run",
         lambda env: ["references", "make", "--run", str(env.work), "--out", str(env.work / "sets")],
         lambda env: (str(env.work / "config.json"),)),
    Case("references-make-unfinished-run", lambda env: ["references", "make", "--run", str(env.run), "--out",
                                                        str(env.work / "sets")], _texts("gan__digits__s0", "--resume"),
         setup=_unfinish),
    # keys and types
    Case("typo-key", _suite("--set", "gan.stpes=3"), _texts("gan.stpes", "steps")),
    Case("unknown-section", _suite("--set", "gann.steps=3"), _texts("gann.steps")),
    Case("section-as-value", _suite("--set", "eval=3"), _texts("'eval' is a section")),
    Case("key-under-a-leaf", _suite("--set", "gan.steps.x=1"), _texts("gan.steps.x")),
    Case("set-without-equals", _suite("--set", "gan.steps"), _texts("expected key=value")),
    Case("int-not-a-number", _suite("--set", "gan.steps=abc"), _texts("gan.steps", "abc", "1 <= value")),
    Case("int-fraction", _suite("--set", "gan.steps=2.5"), _texts("gan.steps", "2.5")),
    Case("float-not-a-number", _suite("--set", "gan.lr=fast"), _texts("gan.lr", "fast")),
    Case("bool-not-a-bool", _suite("--set", "progress=maybe"), _texts("progress", "maybe")),
    Case("profile-key-not-a-choice", _suite("--set", "profile=huge"), _texts("profile", "huge", "smoke")),
    # numeric ranges
    Case("negative-steps", _suite("--set", "gan.steps=-1"), _texts("gan.steps=-1", "1 <= value")),
    Case("zero-steps", _suite("--set", "gan.steps=0"), _texts("gan.steps=0")),
    Case("huge-steps", _suite("--set", "gan.steps=1e12"), _texts("gan.steps", "100000000")),
    Case("nan-lr", _suite("--set", "gan.lr=nan"), _texts("gan.lr", "finite")),
    Case("inf-lr", _suite("--set", "gan.lr=inf"), _texts("gan.lr", "finite")),
    Case("negative-lr", _suite("--set", "gan.lr=-0.1"), _texts("gan.lr=-0.1")),
    Case("zero-batch", _suite("--set", "gan.batch_size=0"), _texts("gan.batch_size=0")),
    Case("keep-prob-zero", _suite("--set", "gan.d_input_keep=0"), _texts("gan.d_input_keep")),
    Case("adam-beta-one", _suite("--models", "pix2pix", "--tasks", "probe_texture", "--set", "pix2pix.beta1=1"),
         _texts("pix2pix.beta1", "< 1")),
    Case("negative-pool", _suite("--models", "cyclegan", "--set", "cyclegan.pool_size=-1"),
         _texts("cyclegan.pool_size")),
    Case("zero-width", _suite("--models", "pix2pix", "--set", "pix2pix.ngf=0"), _texts("pix2pix.ngf")),
    Case("zero-samples", _suite("--set", "eval.n_samples=0"), _texts("eval.n_samples=0")),
    # a t-test between participants (AMT) or raters (MOS) needs two; one rater crashed the MOS power analysis
    *[Case(f"study-one-{key}", lambda env, key=key: ["study", "simulate", "--run", str(env.run), "--set",
                                                      f"study.{key}=1"], _texts(f"study.{key}=1", "2 <= value"))
      for key in ("mos.n_raters", "amt.n_participants")],
    Case("negative-eval-batch", _suite("--set", "eval.batch_size=-5"), _texts("eval.batch_size")),
    Case("zero-kid-subsets", _suite("--set", "eval.kid_subsets=0"), _texts("eval.kid_subsets")),
    Case("zero-judge-steps", _suite("--set", "eval.judge_steps=0"), _texts("eval.judge_steps")),
    Case("huge-scenes-size", _suite("--models", "pix2pix", "--set", "scenes.image_size=100000"),
         _texts("scenes.image_size=100000", "<= 1024")),
    Case("tiny-scenes-size", _suite("--models", "pix2pix", "--set", "scenes.image_size=4"),
         _texts("scenes.image_size=4")),
    Case("huge-count-float-notation", _suite("--models", "pix2pix", "--set", "scenes.n_train=1e9"),
         _texts("scenes.n_train", "1000000")),
    Case("task-too-big-for-memory", _suite("--models", "pix2pix", "--tasks", "scenes", "--set",
                                           "scenes.image_size=1024", "--set", "scenes.n_train=1000000"),
         _texts("scenes", "GiB")),
    Case("zero-train-count", _suite("--set", "digits.n_train=0"), _texts("digits.n_train=0")),
    Case("tiny-digit-size", _suite("--set", "digits.printed_size=4"), _texts("digits.printed_size")),
    Case("negative-task-seed", _suite("--set", "maps.seed=-1"), _texts("maps.seed=-1")),
    Case("negative-seed", _suite("--seeds", "-1"), _texts("--seeds", "-1")),
    Case("huge-seed", _suite("--seeds", "99999999999"), _texts("seeds", "99999999999")),
    Case("seed-not-a-number", _suite("--seeds", "0,x"), _texts("seeds", "x")),
    Case("no-seeds", _suite("--seeds", ""), _texts("at least one seed")),
    Case("zero-checkpoint-interval", _suite("--set", "checkpoint_every=0"), _texts("checkpoint_every=0")),
    Case("negative-log-interval", _suite("--set", "log_every=-3"), _texts("log_every=-3")),
    Case("huge-real-size", _suite("--models", "pix2pix", "--tasks", "aligned", "--set", "aligned.image_size=99999"),
         _texts("aligned.image_size")),
    # choices and settings a model or task refuses
    Case("norm-not-a-choice", _suite("--models", "pix2pix", "--tasks", "probe_texture", "--set", "pix2pix.norm=foo"),
         _texts("norm", "foo")),
    Case("loss-not-a-choice", _suite("--models", "pix2pix", "--tasks", "probe_texture", "--set", "pix2pix.loss=l2"),
         _texts("pix2pix.loss", "l2")),
    Case("direction-not-a-choice", _suite("--models", "pix2pix", "--tasks", "probe_texture",
                                          "--set", "pix2pix.directions=AtoC"), _texts("directions", "AtoC")),
    Case("gan-mode-not-a-choice", _suite("--models", "cyclegan", "--tasks", "probe_texture",
                                         "--set", "cyclegan.gan_mode=wgan"), _texts("gan_mode", "wgan")),
    Case("unet-too-deep", _suite("--models", "pix2pix", "--tasks", "probe_texture", "--set", "pix2pix.num_downs=9"),
         _texts("pix2pix.num_downs")),
    Case("optimizer-not-a-choice", _suite("--set", "gan.optimizer=adamw"), _texts("gan.optimizer", "adamw")),
    Case("g-loss-not-a-choice", _suite("--set", "gan.g_loss=nonsaturating"), _texts("gan.g_loss", "nonsaturating")),
    Case("all-cyclegan-losses-off", _suite("--models", "cyclegan", "--tasks", "probe_texture", "--set",
                                           "cyclegan.use_gan=false", "--set", "cyclegan.use_forward_cycle=false",
                                           "--set", "cyclegan.use_backward_cycle=false"), _texts("nothing to train")),
    # paths in the config
    Case("missing-inception-weights", _suite("--set", "eval.inception_weights=/no/such/weights.pth"),
         _texts("eval.inception_weights", "/no/such/weights.pth", "does not exist")),
    Case("wrong-inception-weights", lambda env: _suite("--set", f"eval.inception_weights={env.file('w.pth')}")(env),
         lambda env: (str(env.work / "w.pth"), "sha256")),
    Case("inception-weights-a-folder", lambda env: _suite("--set", f"eval.inception_weights={env.work}")(env),
         _texts("eval.inception_weights", "not a file")),
    Case("missing-cityscapes-root", _suite("--models", "pix2pix", "--tasks", "cityscapes",
                                           "--set", "cityscapes.root=/no/such/cityscapes"),
         _texts("cityscapes.root", "does not exist")),
    Case("aligned-root-a-file", lambda env: _suite("--models", "pix2pix", "--tasks", "aligned",
                                                   "--set", f"aligned.root={env.file()}")(env),
         _texts("aligned.root", "not a folder")),
    Case("aligned-root-not-set", _suite("--models", "pix2pix", "--tasks", "aligned"), _texts("aligned.root")),
    # --out
    Case("out-is-a-file", lambda env: ["suite", "--out", str(env.file()), *SETS], _texts("is a file")),
    Case("out-under-a-file", lambda env: ["suite", "--out", str(env.file() / "run"), *SETS],
         _texts("--out", "cannot create")),
    Case("out-read-only", lambda env: ["suite", "--models", "gan", "--out", "/sys/harness-run", *SETS],
         _texts("/sys/harness-run", "choose a writable location")),
    Case("out-foreign-folder", lambda env: ["suite", "--out", str(env.work / "mine"), *SETS],
         _texts("not a run directory"), setup=lambda env: _files(env, "mine/keep.txt")),
    Case("out-holds-a-run", lambda env: ["suite", "--models", "gan", "--out", str(env.run), *SETS],
         _texts("already holds a run", "--resume")),
    Case("resume-contradicting-set", _resume("--set", "gan.steps=21"), _texts("gan.steps", "run has 6, given 21")),
    Case("resume-contradicting-profile", _resume("--profile", "standard", *SETS), _texts("profile", "standard")),
    Case("resume-dropping-seeds", _resume("--seeds", "1"), _texts("seeds: run has (0,), given (1,)", "not drop")),
    Case("resume-corrupt-config", _resume(), lambda env: (str(env.run / "config.json"),),
         setup=lambda env: (env.run / "config.json").write_text("{not json")),
    Case("run-in-use", _resume(), _texts("in use by another harness process", "4242"), setup=_locked),
    # every command that reads or writes a run holds its lock (issue 24): none runs while another process writes it
    *[Case(f"run-in-use-{name}", lambda env, argv=argv: [a.format(run=env.run, work=env.work) for a in argv],
           _texts("--run", "in use by another harness process (pid 4242)", "then run this command again"),
           setup=_locked) for name, argv in (
        ("report", ["report", "--run", "{run}"]),
        ("baseline", ["baseline", "--run", "{run}", "--out", "{work}/base.json"]),
        ("evaluate", ["evaluate", "--run", "{run}"]),
        ("study-simulate", ["study", "simulate", "--run", "{run}"]),
        ("study-calibrate", ["study", "calibrate", "--run", "{run}"]),
        ("study-export", ["study", "export", "--protocol", "amt", "--run", "{run}", "--out", "{work}/kit"]))],
    # files the harness wrote: model, checkpoint, cache
    *[Case(f"model-{kind}", _resume(), lambda env: (str(env.run / GAN_JOB / "model.pt"), "delete it"),
           setup=_model_file(kind)) for kind in ("truncated", "random", "empty", "malicious", "pickle", "wrong",
                                                 "short")],
    *[Case(f"checkpoint-{kind}", _resume(), lambda env: (str(env.run / GAN_JOB / "checkpoint.pt"), "delete it"),
           setup=_checkpoint_file(kind)) for kind in ("truncated", "random", "malicious", "wrong")],
    # a damaged generated-task entry is not an error: it is regenerated with a warning, never used (its recorded
    # sha256 is checked on every load; tests/harness/core/test_cache.py)
    *[Case(f"cache-judge-{kind}", _resume(), _cache_name("judges/*.pt"),
           setup=lambda env, kind=kind: (_unfinish(env), _cache_file("judges/*.pt", kind)(env)))
      for kind in ("truncated", "malicious")],
    Case("study-export-out-a-file", lambda env: ["study", "export", "--protocol", "amt", "--run", str(env.run),
                                                 "--out", str(env.file("kit"))], _texts("--out", "is a file")),
    # baselines, check, report, evaluate --run
    Case("baseline-missing", lambda env: ["check", "--run", str(env.run), "--baseline", str(env.work / "no.json")],
         lambda env: (str(env.work / "no.json"),)),
    Case("baseline-not-json", _check, lambda env: (str(env.work / "base.json"),),
         setup=lambda env: (env.work / "base.json").write_text("{oops")),
    Case("baseline-entry-text", _check, _texts("expected='abc'", "not a finite number"),
         setup=_baseline(_set_entry("expected", "abc"))),
    Case("baseline-entry-null-tolerance", _check, _texts("tolerance=None"),
         setup=_baseline(_set_entry("tolerance", None))),
    Case("baseline-entry-negative-tolerance", _check, _texts("tolerance=-1"),
         setup=_baseline(_set_entry("tolerance", -1))),
    Case("baseline-entry-bad-direction", _check, _texts("higher_is_better"),
         setup=_baseline(_set_entry("higher_is_better", "up"))),
    Case("baseline-entry-not-object", _check, _texts("entry 0", "not a JSON object"),
         setup=_baseline(lambda data: data["entries"].__setitem__(0, 3))),
    Case("baseline-entries-not-list", _check, _texts("not a baseline written by", "format 1 or 2"),
         setup=_baseline(lambda data: data.__setitem__("entries", {}))),
    Case("baseline-other-format", _check, _texts("not a baseline written by", "format 1 or 2"),
         setup=_baseline(lambda data: data.__setitem__("format", 99))),
    Case("baseline-negative-tolerance-flag", lambda env: ["baseline", "--run", str(env.run), "--out",
                                                          str(env.work / "b.json"), "--tolerance", "-1"],
         _texts("--tolerance")),
    Case("baseline-run-twice", lambda env: ["baseline", "--run", str(env.run), "--run", f"{env.run}/",
                                            "--out", str(env.work / "b.json")], _texts("--run", "given twice")),
    Case("baseline-repeated-draw", lambda env: ["baseline", "--run", str(env.run), "--run", str(env.work / "copy"),
                                                "--out", str(env.work / "b.json")],
         _texts("copy: seed 0 repeats", "same CPU kind"),
         setup=lambda env: shutil.copytree(env.run, env.work / "copy")),
    Case("baseline-out-read-only", lambda env: ["baseline", "--run", str(env.run), "--out", "/sys/harness-b.json"],
         _texts("/sys/harness-b.json")),
    Case("baseline-values-per-draw", _check, _texts("entry 0", "not one value per draw"),
         setup=_baseline(lambda data: data["entries"][0]["values"].pop())),
    Case("baseline-negative-tolerance", _check, _texts("top-level tolerance=-1", "finite number >= 0"),
         setup=_baseline(lambda data: data.update(tolerance=-1))),
    Case("baseline-add-to-missing", lambda env: ["baseline", "--run", str(env.run), "--add-to",
                                                 str(env.work / "no.json"), "--out", str(env.work / "b.json")],
         lambda env: ("--add-to " + str(env.work / "no.json"), "unreadable")),
    Case("baseline-add-to-and-tolerance", lambda env: ["baseline", "--run", str(env.run), "--add-to",
                                                       str(env.work / "base.json"), "--tolerance", "1",
                                                       "--out", str(env.work / "b.json")],
         _texts("--tolerance", "not allowed with argument --add-to"), setup=_baseline(lambda data: None)),
    Case("baseline-add-to-repeated-draw", lambda env: ["baseline", "--run", str(env.run), "--add-to",
                                                       str(env.work / "base.json"), "--out", str(env.work / "b.json")],
         _texts("seed 0 repeats the draw", "same CPU kind"), setup=_baseline(lambda data: None)),
    Case("check-run-missing", lambda env: ["check", "--run", str(env.work / "nope"), "--baseline",
                                           str(env.work / "base.json")], lambda env: (str(env.work / "nope"),),
         setup=_baseline(lambda data: None)),
    Case("report-run-missing", lambda env: ["report", "--run", str(env.work / "nope")],
         lambda env: (str(env.work / "nope"),)),
    Case("report-run-without-metrics", lambda env: ["report", "--run", str(env.run)], _texts("metrics.csv"),
         setup=lambda env: (env.run / "metrics.csv").unlink()),
    Case("report-run-without-rows", lambda env: ["report", "--run", str(env.run)],
         _texts("no result rows", "gan__digits__s0"), setup=_no_rows),
    Case("evaluate-run-missing", _evaluate("--run", "{work}/nope"), _texts("config.json")),
    Case("evaluate-run-corrupt-config", lambda env: ["evaluate", "--run", str(env.run)],
         lambda env: (str(env.run / "config.json"),), setup=lambda env: (env.run / "config.json").write_text("[]")),
    # image folders
    Case("evaluate-unknown-metric", _evaluate("--metric", "fdi", "--pred", "{work}/pred"), _texts("unknown metric"),
         setup=lambda env: _folder(env, "pred")),
    Case("evaluate-needs-target", _evaluate("--metric", "parzen", "--pred", "{work}/pred"), _texts("--target"),
         setup=lambda env: _folder(env, "pred")),
    Case("evaluate-pred-missing", _evaluate("--metric", "parzen", "--pred", "{work}/nope", "--target",
                                            "{work}/target"), _texts("--pred", "does not exist"),
         setup=lambda env: _folder(env, "target")),
    Case("evaluate-pred-empty", _evaluate("--metric", "parzen", "--pred", "{work}/empty", "--target",
                                          "{work}/target"), _texts("--pred", "no images"),
         setup=lambda env: (_folder(env, "target"), (env.work / "empty").mkdir())),
    Case("evaluate-only-non-images", _evaluate("--metric", "parzen", "--pred", "{work}/text", "--target",
                                               "{work}/target"), _texts("--pred"),
         setup=lambda env: (_folder(env, "target"), _files(env, "text/a.txt", "text/b.csv"))),
    Case("evaluate-corrupt-png", _evaluate("--metric", "parzen", "--pred", "{work}/pred", "--target",
                                           "{work}/target"), lambda env: (str(env.work / "pred" / "bad.png"),),
         setup=lambda env: (_folder(env, "target"), _folder(env, "pred"),
                            (env.work / "pred" / "bad.png").write_bytes(b"\x89PNG garbage"))),
    Case("evaluate-mixed-sizes", _evaluate("--metric", "parzen", "--pred", "{work}/pred", "--target",
                                           "{work}/target"), _texts("zz.png", "differ in size"),
         setup=lambda env: (_folder(env, "target"), _folder(env, "pred"), _png(env.work / "pred" / "zz.png", (9, 8)))),
    Case("evaluate-missing-weights", _evaluate("--metric", "fidelity", "--pred", "{work}/pred", "--target",
                                               "{work}/pred", "--weights", "{work}/w.pth"),
         _texts("--weights", "w.pth"),
         setup=lambda env: _folder(env, "pred")),
    # a flag the metric does not read is refused, never silently ignored (issue 24)
    Case("evaluate-psnr-sr-flags", _evaluate("--metric", "psnr", "--pred", "{work}/pred", "--target", "{work}/pred",
                                             "--scale", "4", "--y-channel"),
         _texts("--metric psnr: does not take --scale, --y-channel"), setup=lambda env: _folder(env, "pred")),
    Case("evaluate-parzen-seed", _evaluate("--metric", "parzen", "--pred", "{work}/pred", "--target", "{work}/pred",
                                           "--seed", "3"), _texts("--metric parzen: does not take --seed"),
         setup=lambda env: _folder(env, "pred")),
    Case("evaluate-psnr-ssim-extractor", _evaluate("--metric", "psnr_ssim", "--pred", "{work}/pred", "--target",
                                                   "{work}/pred", "--scale", "2", "--feature-extractor", "digits"),
         _texts("does not take --feature-extractor", "--scale, --y-channel"),
         setup=lambda env: _folder(env, "pred", size=(32, 32))),
    Case("evaluate-fidelity-scale", _evaluate("--metric", "fidelity", "--pred", "{work}/pred", "--target",
                                              "{work}/pred", "--scale", "4"), _texts("--metric fidelity", "--scale"),
         setup=lambda env: _folder(env, "pred")),
    Case("evaluate-run-with-metric-flags", lambda env: ["evaluate", "--run", str(env.run), "--scale", "4"],
         _texts("evaluate --run", "--scale is for folder evaluation")),
    Case("evaluate-unmatched-names", _evaluate("--metric", "psnr", "--pred", "{work}/pred", "--target",
                                               "{work}/target"), _texts("paired by file name", "000", "x000"),
         setup=_folders(lambda env: _folder(env, "pred"),
                        lambda env: [p.rename(p.with_name("x" + p.name)) for p in _folder(env, "target").iterdir()])),
    # SR convention (issue 12): HR and SR of different sizes, images smaller than twice the crop border, a missing,
    # non-integer or wrong scale.
    Case("psnr-ssim-sizes-differ", _evaluate("--metric", "psnr_ssim", "--pred", "{work}/pred", "--target",
                                             "{work}/target", "--scale", "4"), _texts("--pred 000", "wrong --scale"),
         setup=_folders(lambda env: _folder(env, "pred", size=(16, 16)), lambda env: _folder(env, "target",
                                                                                           size=(32, 32)))),
    Case("psnr-ssim-smaller-than-border", _evaluate("--metric", "psnr_ssim", "--pred", "{work}/pred", "--target",
                                                    "{work}/pred", "--scale", "4"),
         _texts("smaller than twice the crop border"), setup=lambda env: _folder(env, "pred", size=(8, 8))),
    Case("psnr-ssim-no-scale", _evaluate("--metric", "psnr_ssim", "--pred", "{work}/pred", "--target",
                                         "{work}/pred"), _texts("--scale"),
         setup=lambda env: _folder(env, "pred", size=(32, 32))),
    Case("psnr-ssim-fractional-scale", _evaluate("--metric", "psnr_ssim", "--pred", "{work}/pred", "--target",
                                                 "{work}/pred", "--scale", "2.5"), _texts("--scale"),
         setup=lambda env: _folder(env, "pred", size=(32, 32))),
    Case("sr-fractional-scale", _suite("--tasks", "sr", "--set", "sr.scale=2.5"), _texts("sr.scale")),
    Case("evaluate-symlink-loop", _evaluate("--metric", "parzen", "--pred", "{work}/pred", "--target",
                                            "{work}/target"), lambda env: (str(env.work / "pred" / "loop.png"),),
         setup=_folders(lambda env: (_folder(env, "pred"), os.symlink("loop.png", env.work / "pred" / "loop.png")),
                        lambda env: _folder(env, "target"))),
    Case("evaluate-huge-image", _evaluate("--metric", "parzen", "--pred", "{work}/pred", "--target",
                                          "{work}/target"), lambda env: (str(env.work / "pred" / "huge.png"),),
         setup=_folders(lambda env: _huge_png(env.work / "pred" / "huge.png"), lambda env: _folder(env, "target"))),
]


# ---------------------------------------------------------------- fixtures and the test


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished tiny gan/digits suite run and the cache it filled (made once for the module)."""
    root = tmp_path_factory.mktemp("bad-inputs")
    cache = root / "cache"
    old = os.environ.get("HARNESS_CACHE_DIR")
    os.environ["HARNESS_CACHE_DIR"] = str(cache)
    try:
        code = main(["--log-level", "ERROR", "suite", "--no-progress", "--no-report", "--models", "gan", "--out",
                     str(root / "run"), *SETS])
    finally:
        if old is None:
            os.environ.pop("HARNESS_CACHE_DIR")
        else:
            os.environ["HARNESS_CACHE_DIR"] = old
    assert code == 0
    return root / "run", cache


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_case_count(capsys):
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    with capsys.disabled():
        print(f"\nbad-input cases: {len(CASES)} ({sum(bool(c.marks) for c in CASES)} waiting for other branches)")
    assert len(CASES) >= 80


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input_exits_2_with_one_line(case, finished_run, tmp_path, monkeypatch, capsys):
    run, cache = finished_run
    env = Env(work=tmp_path / "work", run=tmp_path / "run", cache=tmp_path / "cache")
    env.work.mkdir()
    shutil.copytree(run, env.run)
    shutil.copytree(cache, env.cache)
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(env.cache))
    monkeypatch.chdir(env.work)
    if case.setup is not None:
        case.setup(env)
    argv, expected = case.argv(env), case.expect(env)
    before_work, before_run = _snapshot(env.work), _snapshot(env.run)
    try:
        code = main(argv)
    finally:
        if hasattr(env, "held_lock"):
            os.close(env.held_lock)
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2, f"exit {code}\nstdout: {out}\nstderr: {err}"
    assert len(errors) == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in out + err, err
    for text in expected:
        assert text in errors[0], errors[0]
    assert not (env.work / "PWNED").exists() and not Path("PWNED").exists()  # a malicious pickle never ran
    assert not env.out.exists(), "a fresh --out was left behind"
    assert _snapshot(env.work) == before_work, "the working folder changed"
    after_run = _snapshot(env.run)
    lost = {k for k in before_run if k not in after_run or (k.split("/")[-1] not in RUNTIME
                                                            and after_run[k] != before_run[k])}
    added = {k for k in after_run if k not in before_run and k.split("/")[-1] not in RUNTIME}
    assert not lost and not added, f"changed: {sorted(lost)}, added: {sorted(added)}"
