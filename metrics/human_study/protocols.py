"""The papers' human-study protocols as typed configs; every default is the paper's parameter.

Sources (``shared/reference/published-results.md``, the human-study sections):

- **AMT real vs fake** (two-alternative forced choice): pix2pix (Isola et al. 2017, §4.1, following Zhang et al.
  2016) and CycleGAN (Zhu et al. 2017, §5.1.1). Each trial shows one real and one generated image for 1 s; then the
  participant has unlimited time to answer. 10 practice trials with feedback, then 40 scored trials without. One
  session per participant, each session tests one algorithm. About 50 participants per algorithm (pix2pix), 25
  (CycleGAN). No vigilance trials (pix2pix). Reported: "% labelled real", mean ± standard error; a bootstrap test
  between algorithms. CycleGAN asks participants to click the image they think is real; pix2pix asked which is fake
  (the same decision); the exported study uses CycleGAN's wording.
- **Best of N** (StarGAN, Choi et al. 2018, §5.3): an input image and the outputs of N = 4 methods in random order;
  the participant picks the best on realism, quality of the transfer and preservation of identity. 30–40 questions
  per participant including validation questions; 146 (single-attribute) and 100 (multi-attribute) validated
  participants. Reported: "% of votes for best" per method and attribute.
- **Mean opinion score** (SRGAN, Ledig et al. 2017, §3.3): 26 raters, integer scores 1 (bad) to 5 (excellent);
  calibrated first on nearest-neighbour (score 1) and HR (score 5) versions of 20 training images; then every version
  of every test image in random order. Reported: MOS mean and standard deviation per method and data set; paired
  two-sided Wilcoxon signed-rank tests between methods (p < 0.05).
"""

from __future__ import annotations

from dataclasses import dataclass

MOS_MIN, MOS_MAX = 1, 5  # SRGAN: integer scores from 1 (bad) to 5 (excellent)


@dataclass(frozen=True)
class AMTProtocol:
    """Real-vs-fake two-alternative forced choice (pix2pix / CycleGAN AMT)."""

    n_participants: int = 50  # participants per algorithm: pix2pix "about 50" (CycleGAN: 25)
    n_practice: int = 10  # first trials are practice, with feedback after each answer
    n_trials: int = 40  # scored trials after the practice, no feedback
    exposure_ms: int = 1000  # each pair is shown for 1 s, then hidden; unlimited time to answer
    display_px: int = 256  # display size of each image in the exported page (pix2pix: 256×256)
    same_input: bool = False  # real and fake from the same input (pix2pix colorization) or not (maps: False)


@dataclass(frozen=True)
class BestOfProtocol:
    """Best-of-N choice among methods given the input (StarGAN AMT)."""

    n_participants: int = 146  # validated participants, StarGAN single-attribute study (multi-attribute: 100)
    n_questions: int = 35  # questions per participant, validation included: StarGAN "30-40"
    n_validation: int = 5  # validation questions among them (harness choice: the paper gives no count)
    max_validation_errors: int = 0  # participants with more wrong validation answers are rejected (harness choice)
    exposure_ms: int = 0  # 0 = shown until answered (StarGAN states no exposure limit)
    display_px: int = 128  # StarGAN images are 128×128


@dataclass(frozen=True)
class MOSProtocol:
    """Mean opinion score on a 1-5 scale (SRGAN)."""

    n_raters: int = 26  # SRGAN: 26 raters
    n_calibration: int = 20  # calibration images shown first as nearest (=1) and HR (=5): 20 BSD300 train images
    n_images: int = 100  # test images per condition, every version rated by every rater (BSD100: 100)
    exposure_ms: int = 0  # 0 = shown until rated (SRGAN states no exposure limit)
    display_px: int = 256  # display size in the exported page


@dataclass(frozen=True)
class StatsConfig:
    """Statistics of the tables (scipy.stats)."""

    alpha: float = 0.05  # significance level of the tests between methods (all three papers: 0.05)
    confidence: float = 0.95  # two-sided level of the bootstrap confidence intervals
    n_resamples: int = 9999  # bootstrap resamples (scipy.stats.bootstrap default)
