"""PSNR and SSIM in the super-resolution papers' convention, batched over ``(N, C, H, W)`` on the inputs' device.

Provenance: SRGAN (Ledig et al. 2017 §3.1) scores "the y-channel of center-cropped, removal of a 4-pixel wide strip
from each border" images; BasicSR (``XPixelGroup/BasicSR@00755ef``, ``basicsr/metrics/psnr_ssim.py``) writes that
convention down and states parity with the MATLAB code of Wang et al. What is computed here, exactly:

- **Range**: float images in [0, 1] are scaled to [0, 255] and, with ``quantize`` (the default), rounded to the
  8-bit levels: the SR benchmarks score saved 8-bit images (BasicSR's ``tensor2img`` rounds too). On folders, a
  16-bit file is not rounded: it is scored at the full precision it was read at.
- **Border**: ``crop_border`` pixels are removed from every edge first (the scale: 4 for ×4).
- **Y channel** (``y_channel``): ITU-R BT.601 luma as MATLAB's ``rgb2ycbcr``,
  ``Y = (65.481 R + 128.553 G + 24.966 B) / 255 + 16`` for R, G, B in [0, 255], not rounded (BasicSR's
  ``to_y_channel``; MATLAB rounds when given uint8). One-channel images are scored as they are (BasicSR's rule).
- **PSNR** = ``10·log10(255² / MSE)`` per image, MSE accumulated in float64. Identical images have MSE 0 and
  PSNR ``inf`` — the rule of the whole harness (``metrics.psnr``): a mean over images (``summarize``) is the mean of
  the *finite* values, and ``psnr_identical`` counts the identical pairs it left out (``psnr`` is ``inf`` only when
  all are identical, which is the HR row of SRGAN's Table 2: "∞").
- **SSIM** (Wang et al. 2004): 11×11 Gaussian window, σ = 1.5, normalised; ``C1 = (0.01·255)²``,
  ``C2 = (0.03·255)²``; population (not sample) covariance; statistics only where the whole window fits ('valid',
  a 5-pixel margin of the cropped image is not scored); mean over the map, then over channels. This equals
  ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  data_range=255)``, whose ``truncate=3.5`` gives the same 11 taps and which drops the same margin.

Precision: pixel values (8-bit levels are exact in float32) and Y are float32; PSNR's squared errors and every mean
(over pixels, channels, images) accumulate in float64. The SSIM local moments are filtered in float32 after
subtracting each image's mean (variance and covariance do not change under a common shift, and the shift keeps
``E[x²] − E[x]²`` far from float32's cancellation limit): against scikit-image's float64 on the bundled photos the
difference stays below 1e-6 (``tests/metrics/test_psnr_ssim.py``), and identical images score exactly 1.

Speed: the Gaussian filter is a blocked matrix product (``filter_valid``), so on CPU it runs in BLAS, and four
moment maps are filtered instead of five. On one CPU thread the whole call is about 2-2.5x a per-image scikit-image
loop (``tests/benchmarks/test_psnr_ssim_speed.py``), not more: it is bound by passes over the float32 inputs
(range check, crop, rounding, Y) as much as by the filter. The ≥10x of the SR issue is a GPU figure (the benchmark
asserts it there).
"""

from __future__ import annotations

import torch

from harness.core.errors import HarnessError
from harness.core.image_files import array_to_float
from harness.core.images import check_images
from metrics.psnr import psnr_summary
from metrics.spec import FolderInputs

DATA_RANGE = 255.0  # SR convention: 8-bit value range
Y_WEIGHTS = (65.481, 128.553, 24.966)  # MATLAB rgb2ycbcr, R, G, B in [0, 255] → Y in [16, 235]
Y_OFFSET = 16.0
K1, K2 = 0.01, 0.03  # Wang et al. 2004 stabilising constants
WINDOW, SIGMA = 11, 1.5  # Gaussian window side and standard deviation
IMAGES_PER_CHUNK = 4  # SSIM filters this many images at a time: keeps the moment maps in cache (same values)
TILE = 32  # columns (rows) per block of the blocked separable filter (``filter_valid``); at least WINDOW - 1


def gaussian_taps(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The normalised 1-D Gaussian window ``(WINDOW,)`` (σ = ``SIGMA``), as ``cv2.getGaussianKernel(11, 1.5)``."""
    offsets = torch.arange(WINDOW, dtype=torch.float64) - (WINDOW - 1) / 2
    taps = torch.exp(-(offsets**2) / (2 * SIGMA**2))
    return (taps / taps.sum()).to(dtype)


def check_sr_pair(pred_shape: tuple[int, ...], target_shape: tuple[int, ...], crop_border: int, what: str) -> None:
    """Raises ``HarnessError`` naming ``what`` unless the pair can be scored with ``crop_border``.

    The images must have the same shape, and after removing ``crop_border`` pixels from each edge at least one
    SSIM window (``WINDOW`` pixels) must fit.
    """
    if crop_border < 0:
        raise HarnessError(f"{what}: crop border must be >= 0, got {crop_border}")
    if tuple(pred_shape) != tuple(target_shape):
        raise HarnessError(f"{what}: the super-resolved image is {_size(pred_shape)} but the HR image is "
                           f"{_size(target_shape)}; they must have the same size")
    height, width = pred_shape[-2], pred_shape[-1]
    if min(height, width) <= 2 * crop_border:
        raise HarnessError(f"{what}: image of {_size(pred_shape)} is smaller than twice the crop border "
                           f"({crop_border} px per edge)")
    if min(height, width) - 2 * crop_border < WINDOW:
        raise HarnessError(f"{what}: image of {_size(pred_shape)} leaves less than the {WINDOW}x{WINDOW} SSIM window "
                           f"after removing {crop_border} px per edge")


def _size(shape: tuple[int, ...]) -> str:
    return f"{shape[-1]}x{shape[-2]} (width x height)"


def to_sr_range(images: torch.Tensor, *, quantize: bool = True) -> torch.Tensor:
    """Float ``(N, C, H, W)`` in [0, 1] → float32 in [0, 255], rounded to 8-bit levels when ``quantize``.

    Float32 holds every 8-bit level exactly, so quantized values are the integers an 8-bit file would store.
    """
    scaled = images.float().mul(DATA_RANGE)
    return scaled.round_() if quantize else scaled


def rgb_to_y(images: torch.Tensor) -> torch.Tensor:
    """MATLAB ``rgb2ycbcr`` luma of float ``(N, 3, H, W)`` RGB in [0, 255] → ``(N, 1, H, W)`` in [16, 235]."""
    red, green, blue = images.unbind(1)
    luma = red * (Y_WEIGHTS[0] / DATA_RANGE)
    luma.add_(green, alpha=Y_WEIGHTS[1] / DATA_RANGE).add_(blue, alpha=Y_WEIGHTS[2] / DATA_RANGE)
    return luma.add_(Y_OFFSET).unsqueeze(1)


def prepare(images: torch.Tensor, *, crop_border: int, y_channel: bool, quantize: bool = True) -> torch.Tensor:
    """The SR convention's view of ``images`` (float [0, 1]): border cropped, [0, 255], Y if asked.

    Returns:
        Float32 ``(N, C', H - 2·crop_border, W - 2·crop_border)``; C' = 1 for the Y channel (or grey input).
    """
    if crop_border:
        images = images[..., crop_border:-crop_border, crop_border:-crop_border]
    scaled = to_sr_range(images, quantize=quantize)
    return rgb_to_y(scaled) if y_channel and scaled.shape[1] == 3 else scaled


def psnr_255(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR (dB) of each pair of ``(N, C, H, W)`` images in [0, 255], MSE accumulated in float64.

    Returns:
        Float64 ``(N,)``; ``inf`` for identical images.
    """
    mse = (pred - target).double().square_().mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(DATA_RANGE**2 / mse)


def band_matrix(tile: int, device: torch.device) -> torch.Tensor:
    """Float32 ``(tile + WINDOW - 1, tile)``: column ``j`` holds ``gaussian_taps`` in rows ``j .. j + WINDOW - 1``.

    A block of ``tile`` inputs times its first ``tile`` rows, plus the next block's first ``WINDOW - 1`` inputs times
    the remaining rows, gives ``tile`` consecutive outputs of the 'valid' 1-D filter.
    """
    taps = gaussian_taps(torch.float64)
    rows = torch.arange(tile)[None, :] + torch.arange(WINDOW)[:, None]  # (WINDOW, tile): input row of tap k, output j
    band = torch.zeros(tile + WINDOW - 1, tile, dtype=torch.float64)
    band[rows, torch.arange(tile).expand(WINDOW, tile)] = taps[:, None].expand(WINDOW, tile)
    return band.to(device=device, dtype=torch.float32)


def filter_valid(maps: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Gaussian-weighted local means of float32 maps, 'valid' region → ``(..., height - 10, width - 10)``.

    Args:
        maps: ``(..., H, W)`` with H and W multiples of ``TILE``, the ``height`` x ``width`` image in the top-left
            corner (whatever is outside it only reaches outputs that are cut off).
        height: Rows of the image in ``maps``, at least ``WINDOW``.
        width: Columns of the image in ``maps``, at least ``WINDOW``.

    Separable and blocked: along W, each block of ``TILE`` columns is one matrix product with ``band_matrix`` plus
    the next block's first ``WINDOW - 1`` columns times its tail; then the same along H from the left. On CPU this
    runs in BLAS: on a busy 2-core machine 1-1.4x as fast as the 11 shifted-slice sums per axis it replaced on a
    4-image chunk, 4x on 32 images at once (memory-bound there). The ``TILE``-wide blocks keep the work at
    ``2·(TILE + WINDOW - 1)`` multiply-adds per pixel instead of the ``2·W`` of one dense Toeplitz product.
    """
    band = band_matrix(TILE, maps.device)
    head, tail = band[:TILE], band[TILE:]
    blocks = maps.unflatten(-1, (maps.shape[-1] // TILE, TILE))  # (..., H, nW, TILE)
    rows = blocks @ head
    rows[..., :-1, :] += blocks[..., 1:, : WINDOW - 1] @ tail
    rows = rows.flatten(-2).unflatten(-2, (maps.shape[-2] // TILE, TILE))  # (..., nH, TILE, W)
    out = head.t() @ rows
    out[..., :-1, :, :] += tail.t() @ rows[..., 1:, : WINDOW - 1, :]
    return out.flatten(-3, -2)[..., : height - WINDOW + 1, : width - WINDOW + 1]


def _padded(size: int) -> int:
    return -(-size // TILE) * TILE


def _ssim_chunk(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per image of one chunk of float32 ``(n, C, H, W)`` images in [0, 255] → float64 ``(n,)``.

    Four maps are filtered, not five: SSIM needs ``σx² + σy²`` and ``σxy``, so ``E[x² + y²]`` replaces ``E[x²]`` and
    ``E[y²]``.
    """
    n, channels, height, width = pred.shape
    shift = target.mean(dim=(1, 2, 3), keepdim=True, dtype=torch.float64).float()
    maps = pred.new_zeros(n, 4, channels, _padded(height), _padded(width))
    x, y = maps[:, 0, :, :height, :width], maps[:, 1, :, :height, :width]
    torch.sub(pred, shift, out=x)
    torch.sub(target, shift, out=y)
    torch.mul(x, x, out=maps[:, 2, :, :height, :width]).addcmul_(y, y)
    torch.mul(x, y, out=maps[:, 3, :, :height, :width])
    mu_x, mu_y, squares, products = filter_valid(maps, height, width).unbind(1)
    # Rounded so that identical images give var_x + var_y == 2·cov bit for bit, hence SSIM exactly 1.
    two_cov = products.mul_(2).sub_((mu_x * mu_y).mul_(2))
    variances = squares.sub_(mu_x.square().add_(mu_y.square()))
    mu_x, mu_y = mu_x.add_(shift), mu_y.add_(shift)
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    numerator = (mu_x * mu_y).mul_(2).add_(c1).mul_(two_cov.add_(c2))
    denominator = mu_x.square_().add_(mu_y.square_()).add_(c1).mul_(variances.add_(c2))
    ssim_map = numerator.div_(denominator)
    return ssim_map.mean(dim=(2, 3), dtype=torch.float64).mean(dim=1)


def ssim_255(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean SSIM (module docstring) of each pair of float32 ``(N, C, H, W)`` images in [0, 255] → float64 ``(N,)``.

    Images are filtered ``IMAGES_PER_CHUNK`` at a time (memory); the values do not depend on the chunking.
    """
    parts = [_ssim_chunk(pred[i : i + IMAGES_PER_CHUNK], target[i : i + IMAGES_PER_CHUNK])
             for i in range(0, pred.shape[0], IMAGES_PER_CHUNK)]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64, device=pred.device)


def psnr_ssim_per_image(pred: torch.Tensor, target: torch.Tensor, *, crop_border: int, y_channel: bool,
                        quantize: bool | tuple[bool, bool] = True) -> dict[str, torch.Tensor]:
    """Per-image PSNR and SSIM in the SR convention, computed on the inputs' device.

    Args:
        pred: Float32 ``(N, C, H, W)`` in [0, 1], super-resolved images (C = 1 or 3).
        target: Same shape, the HR images.
        crop_border: Pixels removed from every edge (the scale).
        y_channel: Score the BT.601 Y channel of RGB images instead of R, G, B.
        quantize: Round to 8-bit levels first (see the module docstring); ``(pred's, target's)`` to decide per side
            (a 16-bit file is scored at full precision, an 8-bit one on its levels).

    Returns:
        ``{"psnr": float64 (N,) in dB (inf for identical images), "ssim": float64 (N,) in [-1, 1]}`` on CPU.

    Example:
        >>> hr = torch.full((1, 1, 24, 24), 0.5)
        >>> psnr_ssim_per_image(hr, hr, crop_border=4, y_channel=False)["psnr"]
        tensor([inf], dtype=torch.float64)
    """
    check_images(pred, "psnr_ssim pred")
    check_images(target, "psnr_ssim target")
    check_sr_pair(tuple(pred.shape), tuple(target.shape), crop_border, "psnr_ssim")
    round_pred, round_target = quantize if isinstance(quantize, tuple) else (quantize, quantize)
    x = prepare(pred, crop_border=crop_border, y_channel=y_channel, quantize=round_pred)
    y = prepare(target, crop_border=crop_border, y_channel=y_channel, quantize=round_target)
    return {"psnr": psnr_255(x, y).cpu(), "ssim": ssim_255(x, y).cpu()}


def summarize(per_image: dict[str, torch.Tensor]) -> dict[str, float]:
    """Means over images under the harness's identical-images rule (``metrics.psnr.psnr_summary``).

    Returns:
        ``{"psnr": mean of the finite values (inf when every pair is identical), "psnr_identical": count of
        identical pairs, "ssim": mean}``.
    """
    return {**psnr_summary(per_image["psnr"]), "ssim": float(per_image["ssim"].mean())}


def psnr_ssim(pred: torch.Tensor, target: torch.Tensor, *, crop_border: int, y_channel: bool,
              quantize: bool = True) -> dict[str, float]:
    """``summarize(psnr_ssim_per_image(...))``: ``{"psnr", "psnr_identical", "ssim"}``."""
    return summarize(psnr_ssim_per_image(pred, target, crop_border=crop_border, y_channel=y_channel,
                                         quantize=quantize))


def _pair(inputs: FolderInputs, index: int, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """SR image ``index`` and its HR image as float ``(1, C, H, W)``, the HR cropped to multiples of ``scale``."""
    assert inputs.target is not None
    sr = array_to_float(inputs.pred.read(index))[None]
    hr = array_to_float(inputs.target.read(index))[None]
    cropped = hr[..., : hr.shape[-2] - hr.shape[-2] % scale, : hr.shape[-1] - hr.shape[-1] % scale]
    name = inputs.pred.names[index]
    if sr.shape != cropped.shape:
        raise HarnessError(f"psnr_ssim: --pred {name} is {_size(sr.shape)} but --target {name} is {_size(hr.shape)} "
                           f"({_size(cropped.shape)} cropped to multiples of --scale {scale}); they must match: a "
                           "different image, or a wrong --scale")
    check_sr_pair(tuple(sr.shape), tuple(cropped.shape), scale, f"psnr_ssim: {name}")
    return sr, cropped


def psnr_ssim_on_folders(inputs: FolderInputs) -> dict[str, float]:
    """``evaluate --metric psnr_ssim --pred SR_DIR --target HR_DIR --scale S [--y-channel]``.

    ``inputs.target`` arrives matched to ``inputs.pred`` by file name (the registry entry is ``paired``), and the
    sizes may differ from pair to pair (Set5, Set14, BSD100; ``sizes_vary``). Each HR image is cropped to multiples
    of the scale (the benchmarks' "modcrop") and must then have its SR image's size; ``scale`` pixels are removed
    from every edge. Pairs are read and scored one at a time, each file at the precision it was read at: an 8-bit
    file on its 8-bit levels, a 16-bit one at full precision (``quantize`` per side; the folder reader logs both).
    """
    if inputs.target is None:
        raise HarnessError("psnr_ssim: needs --target HR_DIR")
    if inputs.scale is None or inputs.scale < 1:
        raise HarnessError(f"psnr_ssim: needs --scale S, the integer SR factor (>= 1; its pixels are cropped from "
                           f"every border), got {inputs.scale}")
    scores: dict[str, list[torch.Tensor]] = {"psnr": [], "ssim": []}
    for index in range(len(inputs.pred)):
        sr, hr = _pair(inputs, index, inputs.scale)
        eight_bit = (inputs.pred.headers[index].bits == 8, inputs.target.headers[index].bits == 8)
        values = psnr_ssim_per_image(sr.to(inputs.device), hr.to(inputs.device), crop_border=inputs.scale,
                                     y_channel=inputs.y_channel, quantize=eight_bit)
        for key in scores:
            scores[key].append(values[key])
    return summarize({key: torch.cat(parts) for key, parts in scores.items()})
