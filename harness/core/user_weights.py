"""Weights files a user brings (Inception, VGG19, VGG-Face): read without running code from them.

One reader for every external network: ``torch.load(..., weights_only=True)`` unpickles tensors and containers only,
so a file carrying code is refused instead of executed. Each network's loader maps the names to its own layout and
records the file's sha256 (``harness.core.cache.file_sha256``) in the rows' provenance.
"""

from __future__ import annotations

from pathlib import Path

import torch

from harness.core.errors import HarnessError


def load_user_state_dict(path: str | Path, what: str, expected: str) -> dict[str, torch.Tensor]:
    """A ``{name: tensor}`` state dict from a user's file, read with ``weights_only=True``.

    Args:
        path: The file the user named.
        what: The option or network it is for, first in every message (e.g. ``"diat.identity_weights"``).
        expected: What the file should be, for the messages (e.g. ``"torchvision's vgg19 state dict"``).

    Raises:
        HarnessError: A missing file (nothing is downloaded), a file that cannot be read as plain weights (a pickle
            with code in it, a truncated or foreign file), or one that is not a flat dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{what}: {str(path)!r} does not exist; expected {expected} there (nothing is downloaded)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - UnpicklingError (code in the pickle), a truncated zip, ...
        raise HarnessError(f"{what}: {str(path)!r} cannot be loaded as plain weights ({type(exc).__name__}); "
                           f"expected {expected}") from exc
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise HarnessError(f"{what}: {str(path)!r} is not a state dict of tensors; expected {expected}")
    return state
