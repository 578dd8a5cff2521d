import math
import tracemalloc
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from harness.core.errors import HarnessError
from harness.core.image_folder import load_image_folder, match_by_name, open_image_folder
from metrics import psnr as psnr_module
from metrics.psnr import (
    error_sums,
    l1_per_image,
    mask_iou_compute,
    mask_iou_update,
    psnr,
    psnr_on_folders,
    psnr_per_image,
    psnr_summary,
)
from metrics.spec import FolderInputs


def test_psnr_matches_scikit_image_per_image_and_pinned():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(5, 3, 16, 16, generator=g)
    pred = (target + 0.05 * torch.randn(5, 3, 16, 16, generator=g)).clamp(0, 1)
    ours = psnr_per_image(pred, target)
    oracle = [peak_signal_noise_ratio(t.double().numpy(), p.double().numpy(), data_range=1.0)
              for p, t in zip(pred, target, strict=True)]
    np.testing.assert_allclose(ours.numpy(), oracle, rtol=1e-10)
    assert psnr(torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), 0.6))["psnr"] == pytest.approx(20.0)


def test_psnr_does_not_depend_on_batching():
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(8, 1, 8, 8, generator=g), torch.rand(8, 1, 8, 8, generator=g)
    whole = psnr_per_image(a, b)
    parts = torch.cat([psnr_per_image(a[i : i + 3], b[i : i + 3]) for i in range(0, 8, 3)])
    assert torch.equal(whole, parts)


def test_mask_iou_pooled_over_batches():
    pred = torch.tensor([[[1, 1], [0, 0]], [[1, 0], [0, 0]]], dtype=torch.bool)
    true = torch.tensor([[[1, 0], [0, 0]], [[1, 1], [0, 0]]], dtype=torch.bool)
    counts = mask_iou_update(mask_iou_update(None, pred[:1], true[:1]), pred[1:], true[1:])
    assert mask_iou_compute(counts)["shape_iou"] == pytest.approx(2 / 4)  # intersections 1+1, unions 2+2


def test_identical_images_are_inf_everywhere_and_counted():
    g = torch.Generator().manual_seed(2)
    target = torch.rand(4, 3, 8, 8, generator=g)
    pred = target.clone()
    pred[2:] = (pred[2:] + 0.1).clamp(0, 1)
    per_image = psnr_per_image(pred, target)
    assert torch.isposinf(per_image[:2]).all() and torch.isfinite(per_image[2:]).all()  # never capped at 100 dB
    out = psnr(pred, target)
    assert out["psnr_identical"] == 2 and out["psnr"] == pytest.approx(float(per_image[2:].mean()), rel=1e-15)
    assert psnr(target, target) == {"psnr": math.inf, "psnr_identical": 4.0, "l1": 0.0}
    assert psnr_summary(torch.tensor([20.0, 30.0], dtype=torch.float64)) == {"psnr": 25.0, "psnr_identical": 0.0}
    with pytest.raises(HarnessError, match="no image pairs"):
        psnr_summary(torch.zeros(0, dtype=torch.float64))


def test_chunked_sums_match_the_direct_formula_on_tall_images():
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(2, 3, 300, 400, generator=g), torch.rand(2, 3, 300, 400, generator=g)  # several row chunks
    direct = (a.double() - b.double()).pow(2).flatten(1).mean(1)
    torch.testing.assert_close(psnr_per_image(a, b), 10 * torch.log10(1 / direct), rtol=1e-13, atol=0)
    torch.testing.assert_close(l1_per_image(a, b), (a.double() - b.double()).abs().flatten(1).mean(1), rtol=1e-13,
                               atol=0)


def _save_folder(folder, images, names):
    folder.mkdir(parents=True, exist_ok=True)
    for image, name in zip(images, names, strict=True):
        array = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(array[..., 0] if array.shape[2] == 1 else array).save(folder / name)
    return folder


def _inputs(pred_dir, target_dir):
    pred, target = match_by_name(open_image_folder(pred_dir, "--pred"), open_image_folder(target_dir, "--target"))
    return FolderInputs(pred, target, torch.device("cpu"), 0, "inception", None)


def test_folders_pair_by_name_and_equal_the_in_memory_metric(tmp_path):
    g = torch.Generator().manual_seed(4)
    target = (torch.rand(5, 3, 9, 7, generator=g) * 255).round() / 255
    pred = ((target + 0.05 * torch.randn(5, 3, 9, 7, generator=g)).clamp(0, 1) * 255).round() / 255
    pred[1] = target[1]  # one identical pair
    names = ["e.png", "d.png", "c.png", "b.png", "a.png"]  # sorted order is the reverse of the image order
    _save_folder(tmp_path / "pred", pred, names)
    _save_folder(tmp_path / "target", target, names)
    _save_folder(tmp_path / "shifted", target, ["x.png", *names[:4]])  # the old sorted-position pairing
    out = psnr_on_folders(_inputs(tmp_path / "pred", tmp_path / "target"))
    assert out == psnr(pred, target)  # bit for bit: same chunking, same float32 conversion
    assert out["psnr_identical"] == 1 and math.isfinite(out["psnr"])
    with pytest.raises(HarnessError, match=r"--pred name\(s\) have no --target file: a"):
        _inputs(tmp_path / "pred", tmp_path / "shifted")


def test_16bit_pairs_are_scored_at_full_precision(tmp_path):
    truth = np.full((4, 4), 40000, np.uint16)
    for folder, value in (("pred", 40001), ("target", 40000)):
        (tmp_path / folder).mkdir()
        Image.fromarray(truth - 40000 + value).save(tmp_path / folder / "a.png")
    out = psnr_on_folders(_inputs(tmp_path / "pred", tmp_path / "target"))
    expected = 10 * math.log10(1 / (np.float64(np.float32(40001) / np.float32(65535))
                                    - np.float64(np.float32(40000) / np.float32(65535))) ** 2)
    assert out["psnr"] == pytest.approx(expected, rel=1e-12) and out["psnr"] > 90  # 8 bits would say inf


def test_grey_pred_against_rgb_target_repeats_grey(tmp_path):
    rgb = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(5))
    grey = rgb[:, :1]
    _save_folder(tmp_path / "pred", grey, ["a.png", "b.png"])
    _save_folder(tmp_path / "target", rgb, ["a.png", "b.png"])
    out = psnr_on_folders(_inputs(tmp_path / "pred", tmp_path / "target"))
    loaded_pred, loaded_target = load_image_folder(tmp_path / "pred"), load_image_folder(tmp_path / "target")
    assert out == psnr(loaded_pred.repeat(1, 3, 1, 1), loaded_target)


def _folder_peak(tmp_path, n):
    g = torch.Generator().manual_seed(6)
    images = (torch.rand(n, 3, 96, 96, generator=g) * 255).round() / 255
    names = [f"{i:03d}.png" for i in range(n)]
    inputs = _inputs(_save_folder(tmp_path / f"p{n}", images, names), _save_folder(tmp_path / f"t{n}", images.flip(0),
                                                                                    names))
    tracemalloc.start()
    try:
        psnr_on_folders(inputs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_folder_psnr_streams_one_pair_at_a_time(tmp_path, monkeypatch):
    """Each pair is scored before the next is decoded, and peak numpy memory does not grow with the folder."""
    one_pair_float32 = 2 * 3 * 96 * 96 * 4
    small, large = _folder_peak(tmp_path, 4), _folder_peak(tmp_path, 32)
    assert large < 4 * one_pair_float32  # loading the folders would hold 32 pairs: 16 x this bound
    assert large < 1.5 * small
    events = []
    monkeypatch.setattr(psnr_module, "error_sums", lambda a, b: events.append("sum") or error_sums(a, b))
    inputs = _inputs(tmp_path / "p32", tmp_path / "t32")
    psnr_on_folders(replace(inputs, pred=replace(inputs.pred, on_read=lambda _: events.append("read")),
                            target=replace(inputs.target, on_read=lambda _: events.append("read"))))
    assert events == ["read", "read", "sum"] * 32  # torch buffers are invisible to tracemalloc: count reads
