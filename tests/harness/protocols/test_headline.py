"""Each protocol names its paper's headline metrics; the runner writes them into the rows the reports read."""

from __future__ import annotations

from harness.core.results import Row
from harness.protocols.base import ProtocolSpec
from harness.protocols.registry import PROTOCOLS
from metrics.registry import higher_is_better

EXPECTED = {"faces": ("expression_error", "expression_error_floor"),
            "digit_transfer": ("test_mnist_accuracy", "da_mnist_accuracy"), "generation": ("parzen_ll",),
            "sr": ("y_psnr", "y_ssim", "hf_ratio")}


def test_the_papers_headline_per_protocol():
    for name, headline in EXPECTED.items():
        assert PROTOCOLS.get(name).headline == headline, name
    for _, spec in PROTOCOLS.items():
        if spec.headline:  # the board's metric is ranked, so it has a direction
            assert higher_is_better(spec.headline[0]) is not None, spec.name
            for metric in spec.headline[1:]:
                higher_is_better(metric)  # resolves (raises for an unregistered key)


def test_mark_headline_flags_only_the_named_metrics_with_board_and_position():
    spec = ProtocolSpec(name="p", evaluate=lambda model, ctx: [], headline=("y_psnr", "y_ssim", "hf_ratio"))
    rows = [Row(model="m", task="t", metric=metric, value=1.0, protocol=protocol)
            for metric, protocol in (("y_psnr", "protocol=sr"), ("hf_ratio", "protocol=sr"), ("fid", "x=1"),
                                     ("y_ssim", ""))]
    marked = spec.mark_headline(rows)
    assert [r.protocol for r in marked] == ["protocol=sr; headline=y_psnr/1", "protocol=sr; headline=y_psnr/3",
                                           "x=1", "headline=y_psnr/2"]
    assert ProtocolSpec(name="q", evaluate=lambda model, ctx: []).mark_headline(rows) == rows
