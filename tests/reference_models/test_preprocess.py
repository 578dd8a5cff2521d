"""The official resize_and_crop jitter against a per-image restatement (crop then flip, as base_dataset.py)."""

from __future__ import annotations

import random

import pytest
import torch
from torch.nn import functional as F

from reference_models.preprocess import load_size, resize, resize_and_crop

pytestmark = pytest.mark.usefixtures("one_thread_module")


def test_load_size_keeps_the_official_ratio():
    assert [load_size(s) for s in (32, 64, 128, 256)] == [36, 72, 143, 286]  # 143: CycleGAN Lua loadSize


def oracle(image: torch.Tensor, crop: int, top: int, left: int, flip: bool) -> torch.Tensor:
    """One image: bicubic resize to load_size, crop at (top, left), then flip left-right (PIL order)."""
    big = load_size(crop)
    resized = F.interpolate(image[None], size=(big, big), mode="bicubic", align_corners=False).clamp(0, 1)[0]
    out = resized[:, top:top + crop, left:left + crop]
    return out.flip(-1) if flip else out


def test_matches_the_per_image_oracle_and_shares_params_across_a_pair():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(6, 3, 32, 32, generator=g), torch.rand(6, 1, 32, 32, generator=g)
    state = torch.Generator().manual_seed(11).get_state()
    out_a, out_b = resize_and_crop([a, b], 32, torch.Generator().set_state(state))
    replay = torch.Generator().set_state(state)  # the documented draw order: tops, lefts, flips
    tops, lefts = (torch.randint(0, 36 - 32 + 1, (6,), generator=replay) for _ in range(2))
    flips = torch.rand(6, generator=replay) < 0.5
    assert out_a.shape == (6, 3, 32, 32) and out_b.shape == (6, 1, 32, 32)
    for i in range(6):
        params = (32, int(tops[i]), int(lefts[i]), bool(flips[i]))
        assert torch.allclose(out_a[i], oracle(a[i], *params), atol=1e-6)
        assert torch.allclose(out_b[i], oracle(b[i], *params), atol=1e-6)
    assert 0 < int(flips.sum()) < 6 and len(set(tops.tolist())) > 1  # the draws do vary


def test_flip_off_and_reproducible_from_the_generator():
    x = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    first = resize_and_crop([x], 8, torch.Generator().manual_seed(3), flip=False)[0]
    again = resize_and_crop([x], 8, torch.Generator().manual_seed(3), flip=False)[0]
    assert torch.equal(first, again)
    big = resize(x, load_size(8))
    crops = {(t, c): big[:, :, t:t + 8, c:c + 8] for t in range(2) for c in range(2)}
    for i in range(64):  # every output is an unflipped window of the resized image
        assert any(torch.equal(first[i], c[i]) for c in crops.values())


def test_no_python_random_is_used(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("host-side random used")

    for name in ("random", "randint", "uniform", "shuffle", "choice"):
        monkeypatch.setattr(random, name, forbidden)
    resize_and_crop([torch.rand(2, 3, 16, 16)], 16, torch.Generator().manual_seed(0))


def test_resize_is_a_no_op_at_the_same_size_and_stays_in_range():
    x = torch.rand(2, 3, 16, 16)
    assert resize(x, 16) is x
    y = resize((x > 0.5).float(), 40)  # bicubic overshoots at edges; the result is clamped to [0, 1]
    assert y.shape == (2, 3, 40, 40) and y.min() >= 0 and y.max() <= 1
