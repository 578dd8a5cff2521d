"""The metric registry: one explicit entry per protocol metric, with directions and the paper it comes from."""

from __future__ import annotations

from harness.core.registry import Registry
from metrics.fidelity import fidelity_on_folders
from metrics.parzen import parzen_on_folders
from metrics.psnr import psnr_on_folders
from metrics.psnr_ssim import psnr_ssim_on_folders
from metrics.spec import MetricSpec

METRICS: Registry[MetricSpec] = Registry("metric")
for _spec in (
    MetricSpec("parzen", "Goodfellow et al. 2014 §5 (Parzen window, Breuleux et al. sigma selection)",
               {"parzen_ll": True, "parzen_se": None, "parzen_sigma": None}, on_folders=parzen_on_folders),
    MetricSpec("fidelity", "Heusel et al. 2017 (FID), Bińkowski et al. 2018 (KID), Kynkäänniemi et al. 2019 (P/R) "
               "via torch-fidelity", {"fid": False, "kid": False, "kid_std": None, "precision": True, "recall": True,
                                      "f1": True}, on_folders=fidelity_on_folders),
    MetricSpec("mode_coverage", "judge-based class histogram of generated samples (classes covered, KL to uniform)",
               {"modes_covered": True, "kl_to_uniform": False}),
    MetricSpec("classifier_accuracy", "judge accuracy (DTN MNIST accuracy, StarGAN expression error)",
               {"accuracy": True}),
    MetricSpec("fcn_score", "Isola et al. 2017 §4.1 / Zhu et al. 2017 §5.1.1 (FCN-score: one confusion matrix over "
               "all frames; scripts/eval_cityscapes)", {"pixel_acc": True, "class_acc": True, "class_iou": True}),
    MetricSpec("psnr", "PSNR = 10·log10(1/MSE) per image in [0, 1], averaged (SRGAN §3.1 convention, RGB as given)",
               {"psnr": True, "l1": False}, on_folders=psnr_on_folders),
    MetricSpec("psnr_ssim", "Ledig et al. 2017 §3.1 / BasicSR psnr_ssim.py: PSNR and SSIM (Wang et al. 2004) in "
               "[0, 255], border of --scale px cropped, optionally the BT.601 Y channel; identical pairs (PSNR inf) "
               "counted in psnr_identical, psnr = mean of the finite values",
               {"psnr": True, "psnr_identical": None, "ssim": True}, on_folders=psnr_ssim_on_folders,
               reads_files=True),
    MetricSpec("hf_energy", "SR sharpness: spectral energy above the LR Nyquist frequency, SR over HR (hf_ratio; 1 = "
               "as much fine detail as HR); read beside PSNR/SSIM (Ledig et al. 2017's perception-distortion point)",
               {"hf_ratio": None}),
):
    METRICS.add(_spec.name, _spec)
