"""Result rows: the long format every metric value is stored in, and the only thing reports read.

One row per value. ``protocol`` says how the number was made (implementation and version, feature extractor,
sample count, weights hash). ``published_value``/``published_source`` hold the paper's number where it has one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

COLUMNS = (
    "model", "task", "metric", "value", "ci_low", "ci_high", "n", "seed", "split", "setting",
    "higher_is_better", "protocol", "published_value", "published_source",
)


@dataclass(frozen=True)
class Row:
    """One metric value.

    Attributes:
        model: Model (or variant) registry name, or a reference row such as ``"real_data"``/``"ground_truth"``.
        task: Task name.
        metric: Stable metric key (``"fid"``, ``"parzen_ll"``, ``"fcn_labels2photo_pixel_acc"`` ...).
        value: The number.
        ci_low: Lower bound of the stated interval (NaN when none); the protocol says which interval.
        ci_high: Upper bound (NaN when none).
        n: Sample count behind the value.
        seed: Seed of the job that produced it.
        split: Data split evaluated (``"test"``, ``"val"``).
        setting: ``"paired"``, ``"unpaired"``, ``"unconditional"`` (the model's training setting) or ``"reference"``
            (real data, ground truth, identity); reports group methods by it.
        higher_is_better: Direction, from the metric registry; None for informational values.
        protocol: ``key=value; ...`` provenance string.
        published_value: The paper's value where one exists (NaN otherwise).
        published_source: Where the published value comes from, with its status tag.
    """

    model: str
    task: str
    metric: str
    value: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int = 0
    seed: int = 0
    split: str = "test"
    setting: str = ""
    higher_is_better: bool | None = None
    protocol: str = ""
    published_value: float = math.nan
    published_source: str = ""

    def to_dict(self) -> dict[str, object]:
        """Plain dict in ``COLUMNS`` order."""
        return asdict(self)


assert tuple(f.name for f in fields(Row)) == COLUMNS


REFERENCE_SET_KEY = "reference_set"  # protocol key of rows shown from a committed reference set (not trained here)


def protocol_string(**details: object) -> str:
    """Formats provenance as ``key=value; key=value`` in the given order."""
    return "; ".join(f"{k}={v}" for k, v in details.items())
