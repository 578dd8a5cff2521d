"""The committed judges: which task configurations get one, and ``judges list`` / ``judges retrain``.

A judge depends on its training data (task sizes and image size) and its recipe (``eval.judge_steps``,
``eval.judge_batch_size``; for a network a model trains through the judge machinery, that model's own fields,
``PinnedConfig.model_recipe``). The harness commits one judge per configuration in ``PINNED_CONFIGS``: the default
embedded tasks that use a judge, at the smoke and the standard profile. There, every machine loads the same weights
(``judge_source=pinned`` in each row). Any other configuration (the paper profile, other sizes or judge steps, real
datasets) trains its judge on first use and caches it (``judge_source=local``); the regression gate reports a judge
that differs from the baseline's as its own error.

``judges retrain`` trains the selected judges on CPU from their profile's task, writes
``metrics/judges/weights/<judge>-<config>.pt`` and regenerates ``metrics/judges/pins.py``; then regenerate the
baseline, since every judge-scored number moves.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.core.errors import HarnessError

if TYPE_CHECKING:
    from harness.run_config import RunConfig

# Imported inside functions: torch and the judges load only when a judges command runs (`--help` stays fast).


@dataclass(frozen=True)
class PinnedConfig:
    """One committed judge: judge ``judge`` trained on task ``task`` as profile ``profile`` builds it."""

    judge: str  # JUDGES name
    task: str  # task whose data source trains it
    profile: str  # profile that fixes the task's sizes and the judge's recipe; also the config label
    # A model's own network (not an evaluation judge): (model, steps field, batch field) of that model's config on
    # ``task`` hold its recipe; empty: the judge's ``recipe_keys`` in ``eval``.
    model_recipe: tuple[str, str, str] = ()

    @property
    def file(self) -> str:
        """Weights file name under ``metrics/judges/weights``."""
        return f"{self.judge}-{self.profile}.pt"


PINNED_CONFIGS = (  # the default embedded tasks that use a judge, at the smoke and standard profiles
    PinnedConfig("digits", "digits", "smoke"),
    PinnedConfig("segmenter", "scenes", "smoke"),
    PinnedConfig("digits", "digits", "standard"),
    PinnedConfig("segmenter", "scenes", "standard"),
    PinnedConfig("sr_features", "sr", "smoke"),  # FID/KID features of the sr protocol
    PinnedConfig("sr_features", "sr", "standard"),
    PinnedConfig("source_digits", "digits", "smoke"),  # DTN's f (harness.source_judge), eval.source_judge_width
    PinnedConfig("source_digits", "digits", "standard"),
    # faces: the four judges of the faces protocol
    PinnedConfig("face_expression", "faces", "smoke"),
    PinnedConfig("face_attributes", "faces", "smoke"),
    PinnedConfig("face_identity", "faces", "smoke"),
    PinnedConfig("face_domains", "faces", "smoke"),
    PinnedConfig("face_expression", "faces", "standard"),
    PinnedConfig("face_attributes", "faces", "standard"),
    PinnedConfig("face_identity", "faces", "standard"),
    PinnedConfig("face_domains", "faces", "standard"),
    # networks that models train through the judge machinery: SRGAN's content network, DIAT's identity network
    PinnedConfig("sr_content", "sr", "smoke", ("srgan", "judge_steps", "batch_size")),
    PinnedConfig("sr_content", "sr", "standard", ("srgan", "judge_steps", "batch_size")),
    PinnedConfig("face_identity_loss", "faces", "smoke", ("diat", "identity_net_steps", "identity_net_batch")),
    PinnedConfig("face_identity_loss", "faces", "standard", ("diat", "identity_net_steps", "identity_net_batch")),
)


def pinned_recipe(config: PinnedConfig, run_config: RunConfig) -> tuple[int, int]:
    """``(steps, batch size)`` that a run of ``run_config`` trains ``config.judge`` with on ``config.task``."""
    from harness.run_config import model_config
    from metrics.judges.registry import JUDGES

    if config.model_recipe:
        model, steps_field, batch_field = config.model_recipe
        section = model_config(run_config, model, config.task)
        return int(getattr(section, steps_field)), int(getattr(section, batch_field))
    steps_key, batch_key = JUDGES.get(config.judge).recipe_keys
    return int(getattr(run_config.eval, steps_key)), int(getattr(run_config.eval, batch_key))


def add_judges_parser(sub: argparse._SubParsersAction) -> None:
    """Adds ``judges {list,retrain}`` to the CLI."""
    p = sub.add_parser("judges", help="list the committed judges, or retrain them deliberately")
    p.add_argument("action", choices=("list", "retrain"), help="list: committed judges and their configurations; "
                   "retrain: train them again on CPU, rewrite their weights and pins (then regenerate baselines)")
    p.add_argument("--name", choices=sorted({c.judge for c in PINNED_CONFIGS}), help="only this judge (default: all)")
    p.add_argument("--config", choices=sorted({c.profile for c in PINNED_CONFIGS}), help="only this profile")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def judges_command(args: argparse.Namespace) -> int:
    """Runs ``judges list`` or ``judges retrain``; returns the exit code."""
    from metrics.judges import pins as pins_module

    selected = [c for c in PINNED_CONFIGS if args.name in (None, c.judge) and args.config in (None, c.profile)]
    if args.action == "list":
        for config in PINNED_CONFIGS:
            pin = next((p for p in pins_module.PINS.values() if p["file"] == config.file), None)
            sha = pin["weights_sha256"][:12] if pin else "not committed"
            print(f"{config.judge:<10} {config.profile:<9} task {config.task:<7} {config.file:<24} {sha}")
        return 0
    for config in selected:
        print(retrain(config, progress=not args.no_progress))
    print("pins: metrics/judges/pins.py rewritten; put the weights sha256 above into COMMITTED_WEIGHTS_SHA256 of "
          "tests/harness/test_pinned.py. Every judge-scored number moves: regenerate the baselines, e.g. "
          "python -m harness.run suite --out runs/smoke && python -m harness.run baseline --run runs/smoke "
          "--out baselines/smoke.json")
    return 0


def retrain(config: PinnedConfig, *, progress: bool) -> str:
    """Trains one committed judge on CPU, writes its weights and its pin; returns a one-line summary."""
    import torch

    from harness.core.cache import weights_sha256
    from harness.run_config import resolve_config
    from harness.source_judge import judge_data
    from harness.tasks import build_task
    from metrics.judges.base import data_sha256, judge_key, load_judge_file, save_judge, train_judge
    from metrics.judges.registry import JUDGES
    from metrics.judges.resolve import WEIGHTS_DIR

    run_config = resolve_config(config.profile, {})
    spec = JUDGES.get(config.judge)
    data = judge_data(spec, build_task(config.task, run_config), run_config.eval)
    recipe = spec.recipe(*pinned_recipe(config, run_config))
    start = time.perf_counter()
    model = train_judge(spec, data, recipe, device=torch.device("cpu"), progress=progress)
    path = WEIGHTS_DIR / config.file
    save_judge(spec, model, data.params, path)
    sha = weights_sha256(load_judge_file(spec, path).state_dict())
    record_pin(judge_key(spec, data, recipe), {"judge": config.judge, "config": config.profile, "file": config.file,
                                               "weights_sha256": sha, "data_sha256": data_sha256(data)})
    return (f"{config.file}: {len(data.images)} {config.task} training images, {recipe.steps} steps x "
            f"{recipe.batch_size}, {time.perf_counter() - start:.0f} s, {path.stat().st_size / 1e6:.2f} MB, "
            f"weights sha256 {sha}")


def record_pin(key: str, pin: dict[str, str]) -> None:
    """Replaces the pin of ``pin["file"]`` in ``metrics/judges/pins.py`` (and in memory) by ``key`` → ``pin``.

    The file is read again under a lock first, so retrains running at once (one process per judge) keep each
    other's pins instead of the last writer's view of the file at its start.
    """
    import ast

    from harness.core.cache import cache_lock, cache_root
    from metrics.judges import pins as pins_module

    with cache_lock(cache_root() / "judges-retrain"):
        tree = ast.parse(Path(pins_module.__file__).read_text())
        (on_disk,) = [ast.literal_eval(node.value) for node in tree.body
                      if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "PINS"]
        # a pin without data_sha256 predates keys by data origin: it can no longer be found, so it is dropped
        pins = {k: v for k, v in on_disk.items() if v["file"] != pin["file"] and "data_sha256" in v}
        pins[key] = pin
        write_pins(pins)
    pins_module.PINS.clear()
    pins_module.PINS.update(pins)


def write_pins(pins: dict[str, dict[str, str]]) -> None:
    """Rewrites ``metrics/judges/pins.py`` with ``pins`` (sorted by file), keeping its docstring."""
    from harness.core.atomic import write_text
    from metrics.judges import pins as pins_module

    doc = (pins_module.__doc__ or "").strip()
    if not doc:
        raise HarnessError("metrics/judges/pins.py has lost its docstring; restore it from git")
    lines = [f'"""{doc}\n"""', "", "PINS: dict[str, dict[str, str]] = {"]
    for key, pin in sorted(pins.items(), key=lambda item: item[1]["file"]):
        fields = ", ".join(f'"{name}": "{pin[name]}"' for name in ("judge", "config", "file"))
        lines += [f'    "{key}": {{{fields},', f'{" " * 27}"weights_sha256": "{pin["weights_sha256"]}",',
                  f'{" " * 27}"data_sha256": "{pin["data_sha256"]}"}},']
    lines.append("}")
    write_text(Path(pins_module.__file__), "\n".join(lines) + "\n")
