"""The judge machinery: training loop, key, file format, cache, pins, and a new judge as network + data source."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch import nn
from torch_fidelity.utils import create_feature_extractor

from harness.core.atomic import torch_load, torch_save
from harness.core.cache import weights_sha256
from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from metrics.feature_extractor_judge import register_judge_extractor
from metrics.judges import resolve
from metrics.judges.base import (
    JudgeData,
    JudgeSpec,
    Recipe,
    data_sha256,
    judge_key,
    load_judge_file,
    save_judge,
    train_judge,
)
from metrics.judges.digit_classifier import DIGITS, DigitClassifier, digit_data
from metrics.judges.segmenter import SEGMENTER

CPU = torch.device("cpu")


def digits(n: int, seed: int) -> JudgeData:
    g = torch.Generator().manual_seed(seed)
    return digit_data(torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g),
                      torch.randint(0, 10, (n,), generator=g))


def test_training_is_deterministic_float16_and_leaves_global_rng_alone():
    data = digits(64, seed=3)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = train_judge(DIGITS, data, DIGITS.recipe(3, 4), device=CPU, progress=False)
    assert torch.equal(torch.rand(1), before)
    b = train_judge(DIGITS, data, DIGITS.recipe(3, 4), device=CPU, progress=False)
    c = train_judge(DIGITS, data, Recipe(3, 4, DIGITS.lr, 8), device=CPU, progress=False)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert all(torch.equal(v, v.half().float()) for v in sa.values())  # stored exactly at float16
    untrained = DigitClassifier(28).state_dict()
    assert not all(torch.equal(sa[k], untrained[k]) for k in sa)


def test_save_load_roundtrip_is_exact_and_half_size(tmp_path):
    model = train_judge(DIGITS, digits(16, 0), DIGITS.recipe(1, 4), device=CPU, progress=False)
    path = tmp_path / "judge.pt"
    save_judge(DIGITS, model, {"input_size": 28, "num_classes": 10}, path)
    payload = torch_load(path)
    assert payload["judge"] == "digits" and payload["arch"] == DIGITS.arch
    assert all(v.dtype == torch.float16 for v in payload["state_dict"].values())
    loaded = load_judge_file(DIGITS, path)
    assert weights_sha256(loaded.state_dict()) == weights_sha256(model.state_dict())
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(loaded(x), model(x))



def test_bad_files_are_clear_errors_and_run_no_code(tmp_path, code_payload):
    with pytest.raises(HarnessError, match="does not exist"):
        load_judge_file(DIGITS, tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(HarnessError, match="junk.pt.*(cannot be loaded|is corrupt)"):  # atomic.torch_load names it
        load_judge_file(DIGITS, tmp_path / "junk.pt")
    payload, marker = code_payload
    torch.save({"judge": "digits", "arch": DIGITS.arch, "params": {}, "state_dict": payload},
               tmp_path / "evil.pt")
    with pytest.raises(HarnessError, match="evil.pt"):
        load_judge_file(DIGITS, tmp_path / "evil.pt")
    assert not marker.exists()
    torch_save({"judge": "segmenter", "arch": SEGMENTER.arch, "params": {"num_classes": 3}, "state_dict": {}},
               tmp_path / "other.pt")
    with pytest.raises(HarnessError, match="expected \\('digits'"):
        load_judge_file(DIGITS, tmp_path / "other.pt")


def test_key_names_data_params_recipe_and_version():
    data = digits(32, seed=1)
    key = judge_key(DIGITS, data, DIGITS.recipe(10, 4))
    assert key == judge_key(DIGITS, digits(32, seed=1), DIGITS.recipe(10, 4))
    changed = data.images.clone()
    changed[0, 0, 0, 0] ^= 1
    assert judge_key(DIGITS, digit_data(changed, data.targets), DIGITS.recipe(10, 4)) != key
    assert judge_key(DIGITS, data, DIGITS.recipe(11, 4)) != key
    assert judge_key(DIGITS, data, DIGITS.recipe(10, 5)) != key
    other = JudgeSpec(**{**DIGITS.__dict__, "arch": "digit-classifier-v2"})
    assert judge_key(other, data, DIGITS.recipe(10, 4)) != key
    assert judge_key(DIGITS, JudgeData(data.images, data.targets, data.params, ignore_index=3),
                     DIGITS.recipe(10, 4)) != key


def test_local_judge_is_trained_once_then_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    data = digits(32, seed=4)
    first = resolve.resolve_judge(DIGITS, data, DIGITS.recipe(2, 4), device=CPU, progress=False)
    assert first.source == "local" and first.path.parent == tmp_path / "judges"
    assert first.path.name == f"digits-{judge_key(DIGITS, data, DIGITS.recipe(2, 4))}.pt"
    assert first.sha256 == weights_sha256(load_judge_file(DIGITS, first.path).state_dict())
    assert first.provenance() == {"judge": "harness digit classifier", "judge_sha256": first.sha256[:12],
                                  "judge_source": "local"}

    def no_training(*args, **kwargs):
        raise AssertionError("retrained instead of loading the cache")

    monkeypatch.setattr(resolve, "train_judge", no_training)
    again = resolve.resolve_judge(DIGITS, data, DIGITS.recipe(2, 4), device=CPU, progress=False)
    assert (again.path, again.sha256, again.source) == (first.path, first.sha256, "local")


def test_jobs_at_once_train_a_missing_judge_once(tmp_path, monkeypatch):
    """Resolvers of one missing judge at once (the suite's workers): one trains, the others wait and load it."""
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    data, trained, train = digits(32, seed=5), [], resolve.train_judge

    def slow_training(*args, **kwargs):
        trained.append(1)
        time.sleep(0.3)
        return train(*args, **kwargs)

    monkeypatch.setattr(resolve, "train_judge", slow_training)
    with ThreadPoolExecutor(3) as pool:
        judges = list(pool.map(lambda _: resolve.resolve_judge(DIGITS, data, DIGITS.recipe(2, 4), device=CPU,
                                                                progress=False), range(3)))
    assert len(trained) == 1
    assert {(j.path, j.sha256, j.source) for j in judges} == {(judges[0].path, judges[0].sha256, "local")}


def test_pinned_judge_is_used_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    data, recipe = digits(32, seed=5), DIGITS.recipe(2, 4)
    model = train_judge(DIGITS, data, recipe, device=CPU, progress=False)
    save_judge(DIGITS, model, data.params, tmp_path / "digits-test.pt")
    sha = weights_sha256(model.state_dict())
    pins = {judge_key(DIGITS, data, recipe): {"judge": "digits", "config": "test", "file": "digits-test.pt",
                                              "weights_sha256": sha, "data_sha256": data_sha256(data)}}
    monkeypatch.setattr(resolve, "PINS", pins)
    monkeypatch.setattr(resolve, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(resolve, "train_judge", lambda *a, **k: pytest.fail("trained a pinned judge"))
    judge = resolve.resolve_judge(DIGITS, data, recipe, device=CPU, progress=False)
    assert (judge.source, judge.sha256, judge.path) == ("pinned", sha, tmp_path / "digits-test.pt")
    assert resolve.pinned_file("digits", "test") == tmp_path / "digits-test.pt"
    with pytest.raises(HarnessError, match="committed: digits/test"):
        resolve.pinned_file("digits", "paper")
    pins[next(iter(pins))]["weights_sha256"] = "0" * 64
    with pytest.raises(HarnessError, match="the pin says 000000000000"):
        resolve.resolve_judge(DIGITS, data, recipe, device=CPU, progress=False)
    (tmp_path / "digits-test.pt").unlink()
    with pytest.raises(HarnessError, match="committed weights .* are missing"):
        resolve.resolve_judge(DIGITS, data, recipe, device=CPU, progress=False)


class TinyNet(nn.Module):
    """A new judge's network: 3x8x8 images → 2 classes, 4-d features."""

    def __init__(self, params):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4), nn.Tanh())
        self.head = nn.Linear(4, int(params["num_classes"]))

    def forward(self, x):
        return self.head(self.body(x))


def tiny_task() -> Task:
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (40,), generator=g)
    images = (labels[:, None, None, None].float() * 200 + torch.rand(40, 3, 8, 8, generator=g) * 50).to(torch.uint8)
    train = {"photo": DomainData(images, {"class": labels})}
    return Task("tiny", ("photo",), False, ("class",), 8, {"train": train})


TINY = JudgeSpec(
    name="tiny-test", arch="tiny-v1", description="a test judge", build=TinyNet,
    data=lambda task: JudgeData(task.data("train", "photo").images, task.data("train", "photo").labels["class"],
                                {"num_classes": 2}),
    target="class", augment="hflip", lr=1e-2, seed=0,
    features=lambda model, x: {"4": model.body(x)}, feature_layers=("4",))


def test_a_new_judge_is_a_network_and_a_data_source(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    judge = resolve.judge_for_task(TINY, tiny_task(), steps=60, batch_size=8, device=CPU, progress=False)
    assert judge.source == "local" and judge.path.name.startswith("tiny-test-")
    x = tiny_task().data("train", "photo")
    accuracy = (judge.model(x.get()).argmax(1) == x.labels["class"]).float().mean()
    assert accuracy > 0.9
    name = register_judge_extractor(TINY)
    assert register_judge_extractor(TINY) == name == "harness-tiny-test"
    extractor = create_feature_extractor(name, ["4"], cuda=False, feature_extractor_weights_path=str(judge.path),
                                         verbose=False)
    (features,) = extractor(x.images)
    assert torch.allclose(features, judge.model.body(x.get()), atol=1e-6)
    with pytest.raises(HarnessError, match="judge_steps=0"):
        TINY.recipe(0, 8)
