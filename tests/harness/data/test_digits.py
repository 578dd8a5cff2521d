import hashlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from harness.core.cache import task_key
from harness.core.errors import HarnessError
from harness.data import digits as digits_module
from harness.data.digit_render import GLYPHS_SHA256
from harness.data.digit_strokes import SKELETONS, catmull_rom
from harness.data.digits import GENERATOR_VERSION, DigitsConfig, build_digits, generate_domain

SMALL = DigitsConfig(n_train=1500, n_val=100, n_test=400, seed=3)


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield build_digits(SMALL)


def test_task_fields(task):
    assert task.name == "digits" and task.domains == ("printed", "handwritten") and not task.paired
    assert task.label_kinds == ("class",) and task.image_size == 32
    assert task.meta["classes"] == list(range(10)) and task.meta["num_classes"] == 10
    assert set(task.splits) == {"train", "val", "test"}


@pytest.mark.parametrize(("domain", "shape"), [("printed", (3, 32, 32)), ("handwritten", (1, 28, 28))])
@pytest.mark.parametrize(("split", "n"), [("train", 1500), ("val", 100), ("test", 400)])
def test_shapes_dtypes_ranges(task, domain, shape, split, n):
    data = task.data(split, domain)
    assert data.images.dtype == torch.uint8 and tuple(data.images.shape) == (n, *shape)
    labels = data.labels["class"]
    assert labels.dtype == torch.int64 and tuple(labels.shape) == (n,)
    assert torch.equal(torch.bincount(labels, minlength=10), torch.full((10,), n // 10))  # Exactly balanced.
    floats = data.get(slice(0, 50))
    assert floats.dtype == torch.float32 and floats.min() >= 0.0 and floats.max() <= 1.0
    assert floats.std() > 0.1  # Not blank.


def test_labels_are_shuffled(task):
    labels = task.data("train", "printed").labels["class"][:20]
    assert not torch.equal(labels, torch.arange(20) % 10)


def test_handwritten_is_mnist_normalised(task):
    images = task.data("test", "handwritten").images[:, 0].numpy().astype(np.float64)
    corners = np.concatenate([images[:, :3, :3].ravel(), images[:, -3:, -3:].ravel()])
    assert corners.max() == 0  # Black background, digit inside the frame.
    centres = np.array([ndimage.center_of_mass(image) for image in images])
    assert np.abs(centres - 13.5).max() <= 1.0  # Centred by centre of mass like MNIST.
    extents = [np.ptp(np.nonzero(image > 64)[axis]) + 1 for image in images for axis in (0, 1)]
    assert max(extents) <= 21 and np.mean(extents) > 12  # Fits MNIST's 20x20 box and fills it.
    assert images.max() == 255  # Solid strokes survive the blur.


def test_printed_centre_differs_from_background(task):
    images = task.data("test", "printed").get()
    spread = images.amax(dim=(2, 3)) - images.amin(dim=(2, 3))
    assert spread.max(dim=1).values.min() > 0.15  # Every crop has visible contrast.


def _row_hashes(images: torch.Tensor) -> set[str]:
    return {hashlib.sha1(row.numpy().tobytes()).hexdigest() for row in images}


@pytest.mark.parametrize("domain", ["printed", "handwritten"])
def test_splits_disjoint(task, domain):
    hashes = {split: _row_hashes(task.data(split, domain).images) for split in ("train", "val", "test")}
    assert len(hashes["train"]) == 1500  # No duplicates within a split either.
    assert not hashes["train"] & hashes["test"] and not hashes["train"] & hashes["val"]
    assert not hashes["val"] & hashes["test"]


@pytest.mark.parametrize("domain", ["printed", "handwritten"])
def test_deterministic_and_seed_dependent(domain):
    config = DigitsConfig(n_train=30, seed=5)
    first = generate_domain(domain, 30, config, "train")
    second = generate_domain(domain, 30, config, "train")
    assert torch.equal(first.images, second.images) and torch.equal(first.labels["class"], second.labels["class"])
    other = generate_domain(domain, 30, DigitsConfig(n_train=30, seed=6), "train")
    assert not torch.equal(first.images, other.images)


def test_pinned_labels():
    labels = generate_domain("handwritten", 12, DigitsConfig(seed=0), "train").labels["class"]
    assert labels.tolist() == PINNED_LABELS


PINNED_LABELS = [3, 0, 2, 1, 1, 0, 4, 8, 9, 7, 6, 5]  # numpy PCG64 stream of (seed 0, train, handwritten).


@pytest.mark.parametrize(("domain", "pixel_sum"), [("handwritten", 80370), ("printed", 612541)])
def test_pinned_images(domain, pixel_sum):
    # A change here means the generator output changed: bump GENERATOR_VERSION, then update the pin.
    images = generate_domain(domain, 4, DigitsConfig(seed=0), "train").images
    assert images.sum().item() == pixel_sum


def test_cache_written_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    config = DigitsConfig(n_train=20, n_val=10, n_test=10, seed=1)
    first = build_digits(config)
    path = tmp_path / "tasks" / f"digits-{first.meta['cache_key']}.pt"
    assert path.exists() and first.meta["cache_key"] == task_key(config, GENERATOR_VERSION, GLYPHS_SHA256)

    def fail(*args, **kwargs):
        raise AssertionError("regenerated instead of loading the cache")

    monkeypatch.setattr(digits_module, "generate_domain", fail)
    second = build_digits(config)
    for split in ("train", "val", "test"):
        for domain in ("printed", "handwritten"):
            assert torch.equal(first.data(split, domain).images, second.data(split, domain).images)
            assert torch.equal(first.data(split, domain).labels["class"], second.data(split, domain).labels["class"])
    assert task_key(DigitsConfig(n_train=20, n_val=10, n_test=10, seed=2), GENERATOR_VERSION, GLYPHS_SHA256) != \
        first.meta["cache_key"]


def test_configurable_sizes(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    task = build_digits(DigitsConfig(n_train=10, n_val=0, n_test=10, printed_size=48, handwritten_size=20))
    assert tuple(task.data("train", "printed").images.shape) == (10, 3, 48, 48)
    assert tuple(task.data("train", "handwritten").images.shape) == (10, 1, 20, 20)
    assert len(task.data("val", "printed")) == 0 and task.image_size == 48


@pytest.mark.parametrize(("key", "value"), [("n_train", -1), ("printed_size", 4), ("handwritten_size", 1000)])
def test_bad_config_is_a_harness_error(tmp_path, monkeypatch, key, value):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    with pytest.raises(HarnessError, match=key):
        build_digits(DigitsConfig(**{key: value}))


def test_catmull_rom_interpolates_waypoints():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    curve = catmull_rom(points, closed=False)
    for point in points:  # The spline passes through every waypoint (hand oracle: t = 0 gives p1).
        assert np.linalg.norm(curve - point, axis=1).min() < 1e-12
    # Midpoint (t = 1/2) of the middle segment, from the Catmull-Rom basis by hand.
    p0, p1, p2, p3 = points
    mid = 0.5 * (2 * p1 + (p2 - p0) / 2 + (2 * p0 - 5 * p1 + 4 * p2 - p3) / 4 + (-p0 + 3 * p1 - 3 * p2 + p3) / 8)
    assert np.linalg.norm(curve - mid, axis=1).min() < 1e-12
    assert set(SKELETONS) == set(range(10))


def _with_bias(images: torch.Tensor) -> torch.Tensor:
    flat = images.flatten(1).double()
    return torch.cat([flat, torch.ones(len(flat), 1, dtype=flat.dtype)], dim=1)


def test_handwritten_learnable_by_linear_classifier(task):
    # Closed-form ridge regression onto one-hot targets: a linear classifier, no optimiser noise.
    train, test = task.data("train", "handwritten"), task.data("test", "handwritten")
    x, targets = _with_bias(train.get()), F.one_hot(train.labels["class"], 10).double()
    weights = torch.linalg.solve(x.T @ x + 10.0 * torch.eye(x.shape[1], dtype=x.dtype), x.T @ targets)
    accuracy = ((_with_bias(test.get()) @ weights).argmax(dim=1) == test.labels["class"]).double().mean().item()
    assert accuracy > 0.85  # 0.947 at the time of writing.


def test_printed_learnable_by_small_cnn(task, one_thread):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(4),
        torch.nn.Flatten(), torch.nn.Linear(32 * 4 * 4, 10),
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=0.003)
    train, test = task.data("train", "printed"), task.data("test", "printed")
    x, y = train.get().mean(dim=1, keepdim=True), train.labels["class"]  # Grey: colour carries no label.
    generator = torch.Generator().manual_seed(0)
    for _ in range(250):
        batch = torch.randint(len(y), (64,), generator=generator)
        optimiser.zero_grad()
        F.cross_entropy(model(x[batch]), y[batch]).backward()
        optimiser.step()
    with torch.no_grad():
        predicted = model(test.get().mean(dim=1, keepdim=True)).argmax(dim=1)
    accuracy = (predicted == test.labels["class"]).float().mean().item()
    assert accuracy > 0.8, accuracy  # 0.925 at the time of writing.
