"""The harness runner: CLI, typed configs and profiles, suite planning, run directories and embedded data."""

__version__ = "0.1.0"
