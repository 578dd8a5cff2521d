"""The metric registry: one explicit entry per protocol metric, with directions and the paper it comes from.

It is the one source of metric directions: protocols name their rows ``<prefix>_<output key>`` (``photo_fid``,
``fcn_labels2photo_class_iou``, ``AtoB_psnr``), ``<...>[<class>]`` for per-class values or ``<...>_per_image``
for one row per image, and ``higher_is_better`` resolves a row's key to the registered output key it ends with
(the longest such key).
"""

from __future__ import annotations

from harness.core.errors import HarnessError
from harness.core.registry import Registry
from metrics.fidelity import fidelity_on_folders
from metrics.parzen import parzen_on_folders
from metrics.psnr import psnr_on_folders
from metrics.psnr_ssim import psnr_ssim_on_folders
from metrics.spec import MetricSpec

PER_IMAGE_SUFFIX = "_per_image"  # one row per image (``y_psnr_per_image``): the direction of ``y_psnr``
METRICS: Registry[MetricSpec] = Registry("metric")
for _spec in (
    MetricSpec("parzen", "Goodfellow et al. 2014 §5 (Parzen window, Breuleux et al. sigma selection)",
               {"parzen_ll": True, "parzen_se": None, "parzen_sigma": None}, on_folders=parzen_on_folders),
    MetricSpec("fidelity", "Heusel et al. 2017 (FID), Bińkowski et al. 2018 (KID), Kynkäänniemi et al. 2019 (P/R) "
               "via torch-fidelity", {"fid": False, "kid": False, "kid_std": None, "precision": True, "recall": True,
                                      "f1": True}, on_folders=fidelity_on_folders,
               options=frozenset({"feature_extractor", "weights", "seed"}), eight_bit=True),
    MetricSpec("mode_coverage", "judge-based class histogram of generated samples (classes covered, KL to uniform)",
               {"modes_covered": True, "kl_to_uniform": False}),
    MetricSpec("classifier_accuracy", "judge accuracy (DTN MNIST accuracy, StarGAN expression error)",
               {"accuracy": True}),
    MetricSpec("fcn_score", "Isola et al. 2017 §4.1 / Zhu et al. 2017 §5.1.1 (FCN-score: one confusion matrix over "
               "all frames; scripts/eval_cityscapes)",
               {"pixel_acc": True, "class_acc": True, "class_iou": True, "iou": True}),
    MetricSpec("psnr", "PSNR = 10·log10(1/MSE) per image on all channels as given (RGB or grey), data range [0, 1], "
               "no border crop, no Y channel; mean of finite values, identical pairs (inf) counted in psnr_identical; "
               "L1 = mean |pred - target|", {"psnr": True, "psnr_identical": None, "l1": False},
               on_folders=psnr_on_folders, paired=True),
    MetricSpec("f_constancy", "Taigman et al. 2017 §3 (DTN f-constancy: mean over images of ||f(x) - f(G(x))||^2 / "
               "dim, with DTN's fixed f)", {"f_constancy": False}),
    MetricSpec("expression_error", "StarGAN (Choi et al. 2018) Table 3: % of synthesised faces an expression "
               "classifier assigns to another expression than the target; _floor: the same classifier's error on "
               "real faces of the target expressions (the best a translator can score, informational)",
               {"expression_error": False, "expression_error_floor": None}),
    MetricSpec("transfer_accuracy", "attribute transfer accuracy: fraction of outputs an attribute classifier reads "
               "at every target value (the measurable side of StarGAN Tables 1-2)", {"transfer_accuracy": True}),
    MetricSpec("identity", "identity preservation: face-verification rate at the real-pair EER threshold, cosine "
               "distance of identity embeddings (DIAT's identity-aware goal)",
               {"identity_verification": True, "identity_distance": False, "identity_false_accept": False}),
    MetricSpec("parameters", "parameter count of the trained system (StarGAN Table 3)", {"parameters": None}),
    MetricSpec("shape_iou", "foreground-mask IoU of a translation against the true target's shape (the geometry probe "
               "of CycleGAN §5.2's stated limitation)", {"shape_iou": True}),
    MetricSpec("psnr_ssim", "Ledig et al. 2017 §3.1 / BasicSR psnr_ssim.py: PSNR and SSIM (Wang et al. 2004) in "
               "[0, 255], border of --scale px cropped, optionally the BT.601 Y channel; identical pairs (PSNR inf) "
               "counted in psnr_identical, psnr = mean of the finite values",
               {"psnr": True, "psnr_identical": None, "ssim": True}, on_folders=psnr_ssim_on_folders, paired=True,
               sizes_vary=True, options=frozenset({"scale", "y_channel"})),
    MetricSpec("hf_energy", "SR sharpness: spectral energy above the LR Nyquist frequency, SR over HR (hf_ratio; 1 = "
               "as much fine detail as HR); read beside PSNR/SSIM (Ledig et al. 2017's perception-distortion point)",
               {"hf_ratio": None}),
    # Human-study protocols (metrics/human_study/): simulated or from real ratings; rows are <condition>_<key>.
    MetricSpec("amt_real_vs_fake", "Isola et al. 2017 §4.1 / Zhu et al. 2017 §5.1.1 (AMT 2AFC: 10 practice + 40 "
               "trials, 1 s exposure, ~50 / 25 participants per algorithm; bootstrap test)",
               {"amt_pct_real": True}),
    MetricSpec("best_of_n", "Choi et al. 2018 §5.3 (StarGAN AMT: best of 4 shuffled outputs, 30-40 questions with "
               "validation, 146 participants)", {"bestof_pct_best": True}),
    MetricSpec("mos", "Ledig et al. 2017 §3.3 (SRGAN MOS: 26 raters, 1-5, calibrated on NN=1 and HR=5; Wilcoxon)",
               {"mos": True, "mos_std": None}),
):
    METRICS.add(_spec.name, _spec)


ALIASES = {"fid": "fidelity", "kid": "fidelity", "fcn": "fcn_score", "ssim": "psnr_ssim",
           "expression": "expression_error", "accuracy": "classifier_accuracy",
           "attribute_accuracy": "transfer_accuracy"}  # what people type → the registered name


def canonical_metric(name: str) -> str:
    """The registered name of ``name`` or of its alias (``fid`` → ``fidelity``); an unknown name lists the valid."""
    name = ALIASES.get(name, name)
    METRICS.get(name)
    return name


def _directions() -> dict[str, bool | None]:
    """Output key → direction over every registered metric; one key never has two directions."""
    found: dict[str, bool | None] = {}
    for name, spec in METRICS.items():
        for key, higher in spec.outputs.items():
            if key in found and found[key] != higher:
                raise HarnessError(f"metric registry: output {key!r} of {name!r} has two directions")
            found[key] = higher
    return found


DIRECTIONS = _directions()


def higher_is_better(row_metric: str) -> bool | None:
    """The direction of a row's metric key, from the registered output key it ends with.

    Args:
        row_metric: A row's ``metric``, e.g. ``"photo_fid"``, ``"fcn_labels2photo_iou[road]"``.

    Returns:
        True / False, or None for informational outputs (a chosen sigma, a standard error).

    Raises:
        HarnessError: No registered output key matches (a protocol wrote a metric the registry does not know).
    """
    key = row_metric.split("[", 1)[0].removesuffix(PER_IMAGE_SUFFIX)
    matches = [k for k in DIRECTIONS if key == k or key.endswith("_" + k)]
    if not matches:
        raise HarnessError(f"metric {row_metric!r} matches no registered metric output; register it in "
                           "metrics/registry.py")
    return DIRECTIONS[max(matches, key=len)]
