"""The ``study`` section of a run's config: the three protocols (papers' defaults), observers and statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

from metrics.human_study.observer import ObserverParams
from metrics.human_study.protocols import AMTProtocol, BestOfProtocol, MOSProtocol, StatsConfig


@dataclass(frozen=True)
class StudyConfig:
    """How human studies are simulated and exported (``--set study.amt.n_participants=25`` etc.)."""

    simulate: bool = True  # suite ends with the simulated study tables (rows marked simulated=true)
    seed: int = 0  # seed of trial designs and simulated participants (combined with each job's seed)
    max_images: int = 100  # test images per condition whose outputs a study shows (first ones of the test split)
    n_reference: int = 400  # real train images of the target domain that define the real-image manifold
    amt: AMTProtocol = field(default_factory=AMTProtocol)
    best_of: BestOfProtocol = field(default_factory=BestOfProtocol)
    mos: MOSProtocol = field(default_factory=MOSProtocol)
    stats: StatsConfig = field(default_factory=StatsConfig)
    # AMT participants see two images and nothing else, so only realism counts.
    amt_observer: ObserverParams = field(default_factory=ObserverParams)
    # Best-of participants see the input: fidelity to the true translation counts too; StarGAN needed validation
    # questions because some Turkers answer carelessly (the fraction is a prior, not a published number).
    best_of_observer: ObserverParams = field(
        default_factory=lambda: ObserverParams(w_reference=0.5, careless_fraction=0.1))
    # MOS raters' noise is in rating points (1-5 scale); 0.45 is a prior (``study calibrate`` fits it to SRGAN).
    mos_observer: ObserverParams = field(default_factory=lambda: ObserverParams(noise=0.45, bias_sd=0.25))
