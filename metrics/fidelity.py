"""FID, KID and precision/recall through torch-fidelity (a thin wrapper; nothing here re-implements a metric).

Provenance: FID (Heusel et al., NeurIPS 2017), KID (Bińkowski et al., ICLR 2018) and improved precision/recall
(Kynkäänniemi et al., NeurIPS 2019) as computed by ``torch_fidelity.calculate_metrics`` (toshas/torch-fidelity),
whose Inception path matches the original TensorFlow FID to < 1e-5. This wrapper only chooses the inputs, the
feature extractor, the weights file and the options:

- a judge's name (``"digits"``, ``"segmenter"``, any entry of ``metrics.judges.registry``): that judge's
  features through ``metrics.feature_extractor_judge`` (``"harness-<name>"``), e.g. the digit classifier's
  penultimate 128-d layer. Numbers are comparable only between runs with the same judge weights (their sha256 goes
  into provenance).
- ``"inception-v3-compat"``: torch-fidelity's own Inception network, only from a local weights file whose sha256
  is checked first and which is read with ``weights_only=True`` (``metrics.feature_extractor_inception``). The
  harness never downloads; callers record the file's full sha256 (``verify_inception_weights``) in provenance.

torch-fidelity's on-disk cache is off (it unpickles with ``weights_only=False``) and it runs without DataLoader
workers, so results depend only on the images, the options and the seed. The real side's features of in-memory
images are computed once and reused by every job that scores against the same images (``metrics.fidelity_real``,
the harness's own cache); the metrics come from torch-fidelity's feature → metric functions either way.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch_fidelity
from torch_fidelity import utils as tf_utils
from torch_fidelity.metric_fid import fid_featuresdict_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import kid_featuresdict_to_metric
from torch_fidelity.metric_prc import prc_featuresdict_to_metric

from harness.core.cache import file_sha256
from harness.core.errors import HarnessError
from harness.core.image_folder import ImageFolder, with_channels
from harness.core.images import check_images, to_uint8
from metrics.feature_extractor_inception import SAFE_INCEPTION_EXTRACTOR
from metrics.feature_extractor_judge import extractor_name
from metrics.fidelity_real import cached_real_features, real_features_key
from metrics.judges.registry import JUDGES
from metrics.spec import FolderInputs

INCEPTION_EXTRACTOR = "inception-v3-compat"  # torch-fidelity's Inception (TF-FID compatible)
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity v0.2.0 release asset
# The whole sha256 of that file (95,628,359 bytes). The file name's "6726825d" is only its first 32 bits (the
# torch-hub convention), which a forged file can match in minutes: the whole digest is compared.
INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"
OUTPUT_KEYS = ("fid", "kid", "kid_std", "precision", "recall", "f1")  # stable keys, in this order
_TF_KEYS = {  # torch-fidelity key → our key
    torch_fidelity.KEY_METRIC_FID: "fid",
    torch_fidelity.KEY_METRIC_KID_MEAN: "kid",
    torch_fidelity.KEY_METRIC_KID_STD: "kid_std",
    torch_fidelity.KEY_METRIC_PRECISION: "precision",
    torch_fidelity.KEY_METRIC_RECALL: "recall",
    torch_fidelity.KEY_METRIC_F_SCORE: "f1",
}


class Uint8ImageDataset(torch.utils.data.Dataset):
    """Float ``(N, C, H, W)`` in [0, 1] (C = 1 or 3) → items uint8 ``(3, H, W)``, the type torch-fidelity reads."""

    def __init__(self, images: torch.Tensor) -> None:
        images = images.detach().cpu()
        self.images = to_uint8(images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]


class FolderDataset(torch.utils.data.Dataset):
    """An ``ImageFolder`` as the uint8 ``(3, H, W)`` items torch-fidelity reads, decoded one at a time on demand.

    Grey is repeated to RGB and 16-bit files are rounded to 8 bits (torch-fidelity's extractors take uint8).
    """

    def __init__(self, folder: ImageFolder) -> None:
        self.folder = with_channels(folder, 3, "(FID/KID features take RGB)")

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.folder.read_uint8(index)


def verify_inception_weights(weights_path: Path | str | None) -> tuple[Path, str]:
    """Checks a user-supplied Inception weights file; returns ``(path, full sha256 of the file)`` for provenance.

    The file is read later with ``weights_only=True`` (``FeatureExtractorInceptionSafe``), so no code in it runs;
    the whole sha256 is compared with ``INCEPTION_SHA256`` so that other weights (a file forged to the 8-hex-digit
    prefix of its name included) never give FID/KID numbers labelled as Inception's.

    Raises:
        HarnessError: No path (says where to get the file), a missing file, or a sha256 other than
            ``INCEPTION_SHA256``.
    """
    if weights_path is None or str(weights_path) == "":
        raise HarnessError(
            f"fidelity: feature extractor 'inception-v3-compat' needs a local weights file; the harness never "
            f"downloads. Get {INCEPTION_FILE} ({INCEPTION_URL}) and pass its path as the Inception weights "
            f"(--weights, or EvalConfig.inception_weights), or use the 'digits' extractor"
        )
    path = Path(weights_path)
    if not path.is_file():
        raise HarnessError(f"fidelity: Inception weights file {str(path)!r} does not exist (expected {INCEPTION_FILE})")
    digest = file_sha256(path)
    if digest != INCEPTION_SHA256:
        raise HarnessError(
            f"fidelity: Inception weights file {str(path)!r} has sha256 {digest}, expected {INCEPTION_SHA256} "
            f"(torch-fidelity's {INCEPTION_FILE}, {INCEPTION_URL}); replace the file with that one"
        )
    return path, digest


def _resolve_extractor(feature_extractor: str, weights_path: Path | str | None) -> tuple[str, str]:
    """Our extractor name (a judge's name or Inception) → (torch-fidelity registry name, checked weights path)."""
    if feature_extractor in JUDGES:
        if weights_path is None or not Path(weights_path).is_file():
            raise HarnessError(f"fidelity: the {feature_extractor!r} extractor needs its judge's weights file, got "
                               f"{weights_path!r}")
        return extractor_name(JUDGES.get(feature_extractor)), str(weights_path)
    if feature_extractor in ("inception", INCEPTION_EXTRACTOR):
        return SAFE_INCEPTION_EXTRACTOR, str(verify_inception_weights(weights_path)[0])
    raise HarnessError(f"fidelity: unknown feature extractor {feature_extractor!r}; valid: "
                       f"{', '.join(JUDGES.names())}, inception-v3-compat")


def warn_small_sample(n: int, feature_dim: int = 2048) -> str | None:
    """A warning for the protocol to log when FID's sample is too small, else None.

    FID fits a ``feature_dim``-dimensional Gaussian; with fewer samples than dimensions the covariance is singular
    and FID is biased upward (Heusel et al. recommend at least 10,000 for Inception's 2048-d features).
    """
    if n < feature_dim:
        return (
            f"FID from {n} samples is unreliable for {feature_dim}-d features (fewer samples than "
            f"dimensions); it is biased upward and only comparable at equal sample counts: read KID beside it"
        )
    return None


def effective_kid_subset_size(requested: int, n_generated: int, n_real: int) -> int:
    """KID subset size actually used: the request clipped to the smaller sample (torch-fidelity refuses larger)."""
    return max(2, min(requested, n_generated, n_real))


def _as_dataset(images: torch.Tensor | torch.utils.data.Dataset, name: str) -> torch.utils.data.Dataset:
    """Float image tensors (checked) → ``Uint8ImageDataset``; a Dataset is passed through."""
    if isinstance(images, torch.utils.data.Dataset):
        return images
    return Uint8ImageDataset(check_images(images, name))


def fidelity_metrics(
    generated: torch.Tensor | torch.utils.data.Dataset,
    real: torch.Tensor | torch.utils.data.Dataset,
    *,
    feature_extractor: str,
    weights_path: Path | str | None,
    feature_layer_fid: str | None = None,
    feature_layer_kid: str | None = None,
    fid: bool = True,
    kid: bool = True,
    prc: bool = True,
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    prc_neighborhood: int = 3,
    batch_size: int = 64,
    seed: int = 2020,
    device: torch.device | str = "cpu",
    reuse_real: bool = True,
) -> dict[str, float]:
    """FID / KID / precision-recall of ``generated`` against ``real`` through torch-fidelity.

    Args:
        generated: Float ``(N, C, H, W)`` in [0, 1], C = 1 or 3 (1 is repeated to RGB before uint8 conversion),
            or a Dataset of uint8 ``(3, H, W)`` items (``FolderDataset``: streamed, never all in memory).
        real: Float ``(M, C, H, W)`` in [0, 1], or such a Dataset.
        feature_extractor: A judge's name (its weights file as ``weights_path``) or ``"inception-v3-compat"``
            (local, sha256-checked Inception weights as ``weights_path``).
        weights_path: The extractor's weights file.
        feature_layer_fid: Feature layer for FID; None = the extractor's default (``"128"`` / ``"2048"``).
        feature_layer_kid: Feature layer for KID; None = the extractor's default.
        fid: Compute FID.
        kid: Compute KID (mean and std over subsets).
        prc: Compute precision, recall and their F1 (precision: generated inside the real manifold).
        kid_subset_size: KID subset size (torch-fidelity default 1000), clipped by ``effective_kid_subset_size``.
        kid_subsets: Number of KID subsets (torch-fidelity default 100).
        prc_neighborhood: k of the k-NN balls for precision/recall (torch-fidelity default 3).
        batch_size: Images per feature pass; results do not depend on it.
        seed: Seed of KID's subset sampling.
        device: ``"cpu"`` or a CUDA device.
        reuse_real: Take ``real``'s features from the harness cache when it is a tensor whose features were computed
            before (same bytes, extractor, weights, layers, batch size, device type and versions; see
            ``metrics.fidelity_real``); the values are those of computing them again.

    Returns:
        The requested subset of ``OUTPUT_KEYS``: ``"fid"``, ``"kid"``, ``"kid_std"``, ``"precision"``, ``"recall"``,
        ``"f1"``, as floats.
    """
    generated, real = _as_dataset(generated, "generated images"), _as_dataset(real, "real images")
    if not (fid or kid or prc):
        raise HarnessError("fidelity: at least one of fid, kid, prc must be requested")
    if min(len(generated), len(real)) < 2:
        raise HarnessError(f"fidelity: need at least 2 images per side, got {len(generated)} and {len(real)}")
    name, weights = _resolve_extractor(feature_extractor, weights_path)
    kwargs = {
        "input1": generated,
        "input2": real,
        "cuda": torch.device(device).type == "cuda",
        "batch_size": batch_size,
        "fid": fid,
        "kid": kid,
        "prc": prc,
        "feature_extractor": name,
        "feature_layer_fid": feature_layer_fid,
        "feature_layer_kid": feature_layer_kid,
        "feature_extractor_weights_path": weights,
        "kid_subsets": kid_subsets,
        "kid_subset_size": effective_kid_subset_size(kid_subset_size, len(generated), len(real)),
        "prc_neighborhood": prc_neighborhood,
        "rng_seed": seed,
        "cache": False,  # torch-fidelity's own cache unpickles with weights_only=False: the harness caches instead
        "save_cpu_ram": True,  # no DataLoader worker processes; precision/recall computed in parts (same values)
        "verbose": False,
    }
    result = _calculate(kwargs, reuse_real and isinstance(real, Uint8ImageDataset))
    out = {_TF_KEYS[k]: float(v) for k, v in result.items() if k in _TF_KEYS}
    return {k: out[k] for k in OUTPUT_KEYS if k in out}


def _calculate(kwargs: dict, reuse_real: bool) -> dict[str, torch.Tensor]:
    """``torch_fidelity.calculate_metrics`` for FID/KID/PR with one extractor, step by step with its own functions.

    The same calls as its ``calculate_metrics_one_feature_extractor`` (features of each input, then FID statistics,
    KID and precision/recall from them), except that the real side's features come through
    ``cached_real_features`` when ``reuse_real``.
    """
    layers = {m: tf_utils.resolve_feature_layer_for_metric(m, **kwargs) for m in ("fid", "kid", "prc") if kwargs[m]}
    extractor = tf_utils.create_feature_extractor(tf_utils.resolve_feature_extractor(**kwargs),
                                                  sorted(set(layers.values())), **kwargs)
    fake = tf_utils.extract_featuresdict_from_input_id(1, extractor, **kwargs)

    def extract_real() -> dict[str, torch.Tensor]:
        return tf_utils.extract_featuresdict_from_input_id(2, extractor, **kwargs)

    if reuse_real:
        real_images = kwargs["input2"].images
        weights = kwargs["feature_extractor_weights_path"]
        digest = INCEPTION_SHA256 if kwargs["feature_extractor"] == SAFE_INCEPTION_EXTRACTOR else file_sha256(weights)
        key = real_features_key(real_images, kwargs["feature_extractor"], digest, list(set(layers.values())),
                                kwargs["batch_size"], "cuda" if kwargs["cuda"] else "cpu")
        real = cached_real_features(key, extract_real)
    else:
        real = extract_real()
    out: dict[str, torch.Tensor] = {}
    if "fid" in layers:
        stats = [fid_featuresdict_to_statistics(side, layers["fid"]) for side in (fake, real)]
        out |= fid_statistics_to_metric(stats[0], stats[1], False)
    if "kid" in layers:
        out |= kid_featuresdict_to_metric(fake, real, layers["kid"], **kwargs)
    if "prc" in layers:
        out |= prc_featuresdict_to_metric(fake, real, layers["prc"], **kwargs)
    return out


def fidelity_on_folders(inputs: FolderInputs) -> dict[str, float]:
    """``evaluate --metric fidelity``: ``--pred`` generated vs ``--target`` real, with the user's extractor/weights.

    Both folders are streamed to torch-fidelity as ``FolderDataset``s (one decoded image at a time); only the
    features stay in memory.
    """
    if inputs.target is None:
        raise HarnessError("fidelity: --target (a folder of real images) is required")
    return fidelity_metrics(
        FolderDataset(inputs.pred),
        FolderDataset(inputs.target),
        feature_extractor=inputs.feature_extractor,
        weights_path=inputs.weights,
        seed=inputs.seed,
        device=inputs.device,
    )
