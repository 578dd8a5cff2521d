import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from harness.core.errors import HarnessError
from metrics.psnr import mask_iou_compute, mask_iou_update, psnr, psnr_on_folders, psnr_per_image
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


def test_psnr_on_folders_needs_matching_targets():
    pred = torch.rand(2, 3, 4, 4)
    inputs = FolderInputs(pred, torch.rand(3, 3, 4, 4), torch.device("cpu"), 0, "inception", None)
    with pytest.raises(HarnessError, match="paired by sorted file name"):
        psnr_on_folders(inputs)
