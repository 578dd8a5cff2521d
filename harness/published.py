"""Published values of the papers, to show beside our numbers (never used as test expectations).

Transcribed from ``shared/reference/published-results.md``. Each source ends with its status tag: [V] read in the
paper or official code, [S] seen only in secondary sources, [R] recalled and unconfirmed (reports mark it so).
Our embedded tasks are not the papers' datasets and our judges are retrained, so these values give scale, not a
target; the source string names the dataset each value was measured on.
"""

from __future__ import annotations

import math

_P2P_T1 = "pix2pix (Isola et al. 2017) v3 Table 1, Cityscapes labels→photo [V]"
_P2P_T2 = "pix2pix v3 Table 2, Cityscapes labels→photo [V]"
_P2P_T3 = "pix2pix v3 Table 3, Cityscapes labels→photo [V]"
_P2P_T6 = "pix2pix v3 Table 6, Cityscapes photo→labels [V]"
_CYC_T2 = "CycleGAN (Zhu et al. 2017) Table 2, Cityscapes labels→photo"
_CYC_T3 = "CycleGAN Table 3, Cityscapes photo→labels"
_CYC_T4 = "CycleGAN Table 4 (ablation), Cityscapes labels→photo"
_CYC_T5 = "CycleGAN Table 5 (ablation), Cityscapes photo→labels"

_DTN_T1 = ("DTN (Taigman et al. 2017) Table 1, SVHN test set transferred to MNIST, accuracy of an MNIST classifier "
           "[R] unconfirmed recollection (paper text not available)")
_DTN_DA = ("DTN (Taigman et al. 2017) SVHN→MNIST domain-adaptation table, 'transferring the SVHN train set': a "
           "classifier trained on G(SVHN train) with the SVHN labels, tested on MNIST (protocol recalled, paper "
           "text not available) [R]")

_STAR_T3 = "StarGAN (Choi et al. 2018) Table 3, RaFD [R]"
_FCN_KEYS = ("pixel_acc", "class_acc", "class_iou")


def _fcn(direction: str, model: str, values: tuple[float, float, float], source: str) -> dict:
    pairs = zip(_FCN_KEYS, values, strict=True)
    return {(model, "cityscapes", f"fcn_{direction}_{key}"): (value, source) for key, value in pairs}


PUBLISHED: dict[tuple[str, str, str], tuple[float, str]] = {
    ("gan", "mnist", "parzen_ll"): (225.0, "Goodfellow et al. 2014 Table 1, MNIST (± 2 SE) [V]"),
    **_fcn("labels2photo", "pix2pix_l1", (0.42, 0.15, 0.11), _P2P_T1),
    **_fcn("labels2photo", "pix2pix_gan", (0.22, 0.05, 0.01), _P2P_T1),
    **_fcn("labels2photo", "pix2pix_cgan", (0.57, 0.22, 0.16), _P2P_T1),
    **_fcn("labels2photo", "pix2pix_l1gan", (0.64, 0.20, 0.15), _P2P_T1),
    **_fcn("labels2photo", "pix2pix", (0.66, 0.23, 0.17), _P2P_T1),
    **_fcn("labels2photo", "ground_truth", (0.80, 0.26, 0.21), _P2P_T1),
    **_fcn("labels2photo", "pix2pix_encdec_l1", (0.35, 0.12, 0.08), _P2P_T2),
    **_fcn("labels2photo", "pix2pix_encdec", (0.29, 0.09, 0.05), _P2P_T2),
    **_fcn("labels2photo", "pix2pix_pixelgan", (0.39, 0.15, 0.10), _P2P_T3),
    **_fcn("labels2photo", "pix2pix_patch16", (0.65, 0.21, 0.17), _P2P_T3),
    **_fcn("labels2photo", "pix2pix_patch286", (0.42, 0.16, 0.11), _P2P_T3),
    **_fcn("photo2labels", "pix2pix_l1", (0.86, 0.42, 0.35), _P2P_T6),
    **_fcn("photo2labels", "pix2pix_cgan", (0.74, 0.28, 0.22), _P2P_T6),
    **_fcn("photo2labels", "pix2pix", (0.83, 0.36, 0.29), _P2P_T6),
    **_fcn("labels2photo", "cyclegan", (0.52, 0.17, 0.11), _CYC_T2 + " [S]"),
    **_fcn("photo2labels", "cyclegan", (0.58, 0.22, 0.16), _CYC_T3 + " [S]"),
    **_fcn("labels2photo", "cyclegan_cycle_only", (0.22, 0.07, 0.02), _CYC_T4 + " [S]"),
    **_fcn("labels2photo", "cyclegan_gan_only", (0.51, 0.11, 0.08), _CYC_T4 + " [S]"),
    **_fcn("labels2photo", "cyclegan_gan_forward", (0.55, 0.18, 0.12), _CYC_T4 + " [S]"),
    **_fcn("labels2photo", "cyclegan_gan_backward", (0.39, 0.14, 0.06), _CYC_T4 + " [R]"),
    **_fcn("photo2labels", "cyclegan_cycle_only", (0.10, 0.05, 0.02), _CYC_T5 + " [R]"),
    **_fcn("photo2labels", "cyclegan_gan_only", (0.53, 0.11, 0.07), _CYC_T5 + " [S]"),
    **_fcn("photo2labels", "cyclegan_gan_forward", (0.49, 0.11, 0.07), _CYC_T5 + " [R]"),
    **_fcn("photo2labels", "cyclegan_gan_backward", (0.01, 0.06, 0.01), _CYC_T5 + " [S]"),
    ("dtn", "svhn_mnist", "test_mnist_accuracy"): (0.9066, _DTN_T1),
    ("dtn", "svhn_mnist", "da_mnist_accuracy"): (0.8444, _DTN_DA),
    ("diat", "rafd", "expression_error"): (4.10, _STAR_T3),
    ("cyclegan", "rafd", "expression_error"): (5.99, _STAR_T3),
    ("stargan", "rafd", "expression_error"): (2.12, _STAR_T3),
    ("real_data", "rafd", "expression_error"): (0.45, _STAR_T3),
    ("diat", "rafd", "rafd_parameters"): (52.6e6 * 7, _STAR_T3 + "; 52.6M x 7"),
    ("cyclegan", "rafd", "rafd_parameters"): (52.6e6 * 14, _STAR_T3 + "; 52.6M x 14"),
    ("stargan", "rafd", "rafd_parameters"): (53.2e6, _STAR_T3 + "; 53.2M x 1"),
}


_SR_T2 = "SRGAN (Ledig et al. 2017) Table 2, x4, Y channel, 4 px border (daala) [V]"
_SR_T1 = "SRGAN Table 1 (loss variants), x4, Y channel, 4 px border (daala) [V]"
_SR_TABLE2 = {  # benchmark → model → (PSNR, SSIM)
    "set5": {"nearest": (26.26, 0.7552), "bicubic": (28.43, 0.8211), "srresnet": (32.05, 0.9019),
             "srgan": (29.40, 0.8472)},
    "set14": {"nearest": (24.64, 0.7100), "bicubic": (25.99, 0.7486), "srresnet": (28.49, 0.8184),
              "srgan": (26.02, 0.7397)},
    "bsd100": {"nearest": (25.02, 0.6606), "bicubic": (25.94, 0.6935), "srresnet": (27.58, 0.7620),
               "srgan": (25.16, 0.6688)},
}
_SR_TABLE1 = {  # Table 1 variants (Set5 and Set14 only)
    "set5": {"srresnet_vgg22": (30.51, 0.8803), "srgan_mse": (30.64, 0.8701), "srgan_vgg22": (29.84, 0.8468)},
    "set14": {"srresnet_vgg22": (27.19, 0.7807), "srgan_mse": (26.92, 0.7611), "srgan_vgg22": (26.44, 0.7518)},
}


def _sr(tables: dict[str, dict[str, tuple[float, float]]], source: str) -> dict:
    return {(model, benchmark, metric): (value, f"{source}, {benchmark}")
            for benchmark, models in tables.items() for model, pair in models.items()
            for metric, value in zip(("y_psnr", "y_ssim"), pair, strict=True)}


PUBLISHED.update(_sr(_SR_TABLE2, _SR_T2))
PUBLISHED.update(_sr(_SR_TABLE1, _SR_T1))
PUBLISHED.update({("hr", benchmark, "y_psnr"): (math.inf, f"{_SR_T2}, {benchmark}") for benchmark in _SR_TABLE2})
PUBLISHED.update({("hr", benchmark, "y_ssim"): (1.0, f"{_SR_T2}, {benchmark}") for benchmark in _SR_TABLE2})


def lookup(model: str, task_family: str, metric: str) -> tuple[float, str]:
    """The published ``(value, source)`` for a model on a dataset family, or ``(nan, "")`` when none exists.

    Args:
        model: Model or variant name (``"pix2pix_l1"``) or a reference row (``"ground_truth"``).
        task_family: The paper dataset our task stands in for (``"mnist"``, ``"cityscapes"``, ``"svhn_mnist"``).
        metric: Our metric key.
    """
    return PUBLISHED.get((model, task_family, metric), (math.nan, ""))
