"""Number formatting shared by the HTML, the markdown summary and the plots: values, intervals, p-values, units.

KID (and its spread) is a squared-MMD on the judge's features; on small or normalised features it is ~1e-2, on
unnormalised ones thousands. It is shown scaled by a power of 10^3 chosen per task so the largest value reads as
1 to 9999, with the factor stated in the header (``kid ×10³``). Other metrics are shown as they are.
"""

from __future__ import annotations

import math
import re

import numpy as np

SCALED_KEYS = ("kid", "kid_std")  # metric keys (or ``*_<key>`` suffixes) shown in engineering units
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
JUDGE_NOTE = ("FID and KID compare only within one judge / feature extractor (named in each row's protocol); "
              "values from different extractors, or from the papers, are on different scales.")


def is_nan(value: object) -> bool:
    """True for None and float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: float | None, scale: float = 1.0) -> str:
    """Four significant digits of ``value * scale``; an en dash for a missing value."""
    return "–" if is_nan(value) else f"{value * scale:.4g}"


def fmt_ci(low: float, high: float, scale: float = 1.0) -> str:
    """``[low, high]`` or ``""`` when there is no interval."""
    return "" if is_nan(low) or is_nan(high) else f"[{fmt(low, scale)}, {fmt(high, scale)}]"


def fmt_p(p: float | None) -> str:
    """``p = 0.012``, ``p < 0.001`` or ``no test``."""
    if is_nan(p):
        return "no test"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def fmt_signed(value: float, scale: float = 1.0) -> str:
    """A difference with its sign: ``+0.14``, ``-20.1``."""
    return "–" if is_nan(value) else f"{value * scale:+.3g}"


def is_scaled(metric: str) -> bool:
    """Whether ``metric`` (a row's key, maybe ``prefix_kid``) is shown in engineering units."""
    base = re.sub(r"\[.*\]$", "", metric)
    return any(base == key or base.endswith("_" + key) for key in SCALED_KEYS)


def display_scale(metric: str, values: np.ndarray | list[float]) -> tuple[float, str]:
    """``(factor, label)`` to show ``metric``'s ``values``: ``(1.0, "")`` unless it is KID-like and needs one.

    >>> display_scale("photo_kid", [0.0104, 0.0303])
    (1000.0, '×10³')
    >>> display_scale("fid", [0.0104])
    (1.0, '')
    """
    finite = np.abs(np.asarray(values, dtype=float))
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if not is_scaled(metric) or not len(finite):
        return 1.0, ""
    top = float(finite.max())
    if 1.0 <= top < 1e4:
        return 1.0, ""
    exponent = 3 * math.ceil(-math.log10(top) / 3) if top < 1.0 else -3 * math.floor(math.log10(top) / 3)
    return 10.0 ** exponent, "×10" + str(exponent).translate(SUPERSCRIPT)
