"""Prints the step benchmarks' ratios (harness/official, stacked/serial pairs) after pytest-benchmark's tables."""

from __future__ import annotations

import sys

SECTIONS = {"test_step_speed": "harness / official-structure train step (median ms per step)",
            "test_pair_stack_speed": "faces pair models, stacked / one by one (median ms per step)"}


def pytest_terminal_summary(terminalreporter) -> None:
    """The ratios ``tests/benchmarks/test_step_speed.py`` and ``test_pair_stack_speed.py`` measured, if they ran."""
    for name, title in SECTIONS.items():
        module = sys.modules.get(name)
        lines = module.ratios() if module is not None else []
        if lines:
            terminalreporter.section(title)
            for line in lines:
                terminalreporter.write_line(line)
