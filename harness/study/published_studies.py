"""The papers' human-study numbers (``shared/reference/published-results.md``), for calibration and power.

Status tags as in ``harness/published.py``: [V] verified, [S] secondary, [R] recalled. These are measurements on
the papers' data with real Turkers/raters; our embedded tasks are different data, so they calibrate a simulated
observer's scale at best and are never test expectations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AMTResult:
    """A "% labelled real" cell: mean ± SE over ``n`` participants (``se`` None when not retrieved)."""

    model: str
    task: str
    condition: str
    pct_real: float
    se: float | None
    n: int
    source: str


_P2P = "pix2pix v3 Table 4 (maps, ~50 Turkers) [V]"
_CYC = "CycleGAN Table 1 (maps, 25 participants)"
# Our maps task: domains ("map", "aerial"); map2aerial = Map→Photo, aerial2map = Photo→Map.
AMT_PUBLISHED = (
    AMTResult("pix2pix_l1", "maps", "aerial2map", 2.8, 1.0, 50, _P2P),
    AMTResult("pix2pix_l1", "maps", "map2aerial", 0.8, 0.3, 50, _P2P),
    AMTResult("pix2pix", "maps", "aerial2map", 6.1, 1.3, 50, _P2P),
    AMTResult("pix2pix", "maps", "map2aerial", 18.9, 2.5, 50, _P2P),
    AMTResult("cyclegan", "maps", "map2aerial", 26.8, 2.8, 25, _CYC + " [S]"),
    AMTResult("cyclegan", "maps", "aerial2map", 23.2, 3.4, 25, _CYC + " [S]"),
)

# StarGAN Table 1, % votes for best, single-attribute study, 146 validated Turkers: DIAT, CycleGAN, IcGAN, StarGAN.
# Gender DIAT/StarGAN cells [V] (quoted in the text), the rest [R].
BEST_OF_PUBLISHED = {
    "hair color": ((9.3, 20.0, 4.5, 66.2), "StarGAN Table 1 [R]"),
    "gender": ((31.4, 16.6, 12.9, 39.1), "StarGAN Table 1 (DIAT, StarGAN [V]; others [R])"),
    "aged": ((6.9, 13.3, 9.2, 70.6), "StarGAN Table 1 [R]"),
}
BEST_OF_METHODS = ("diat", "cyclegan", "icgan", "stargan")

# SRGAN Table 2 MOS (26 raters) [V]: the anchors every MOS table has (nearest = NN, real = HR) and two methods.
MOS_PUBLISHED = {
    "Set5": {"nearest_x4": 1.28, "real_data": 4.32, "srresnet": 3.37, "srgan": 3.58},
    "Set14": {"nearest_x4": 1.20, "real_data": 4.32, "srresnet": 2.98, "srgan": 3.72},
    "BSD100": {"nearest_x4": 1.11, "real_data": 4.46, "srresnet": 2.29, "srgan": 3.56},
}
MOS_SOURCE = "SRGAN Table 2 (x4, 26 raters) [V]"
