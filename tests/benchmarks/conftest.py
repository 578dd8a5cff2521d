"""Prints the step benchmark's harness/official ratios after pytest-benchmark's tables."""

from __future__ import annotations

import sys


def pytest_terminal_summary(terminalreporter) -> None:
    """The ratios ``tests/benchmarks/test_step_speed.py`` measured, if it ran."""
    module = sys.modules.get("test_step_speed")
    lines = module.ratios() if module is not None else []
    if lines:
        terminalreporter.section("harness / official-structure train step (median ms per step)")
        for line in lines:
            terminalreporter.write_line(line)
