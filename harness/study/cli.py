"""The ``study`` subcommand: ``simulate``, ``calibrate``, ``export`` and ``import``.

``python -m harness.run study simulate --run DIR``: the AMT, best-of and MOS tables of the run's methods from the
simulated observer (``DIR/study/*.csv``, rows marked ``simulated=true`` in ``metrics.csv``, the report rebuilt).
``study calibrate --run DIR``: fit the observers to the papers' numbers and report the fit.
``study export --protocol amt|best-of|mos --run DIR --out DIR``: a static study for real participants.
``study import --ratings FILE.csv --study DIR``: validate real ratings and write the same tables.
"""

from __future__ import annotations

import argparse
from pathlib import Path

PROTOCOL_NAMES = {"amt": "amt", "best-of": "best_of", "mos": "mos"}  # CLI spelling -> internal name


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", type=Path, required=True, help="run directory with trained jobs")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a study.* value, e.g. --set study.amt.n_participants=25 (see `list config`)")
    p.add_argument("--tasks", default=None, help="comma-separated tasks to include (default: all of the run's)")


def add_study_parser(sub: argparse._SubParsersAction) -> None:
    """Adds ``study`` and its actions to the top-level subparsers."""
    p = sub.add_parser("study", help="human studies: simulated tables, calibration, export and import of real ones")
    actions = p.add_subparsers(dest="study_command", required=True, metavar="ACTION")
    s = actions.add_parser("simulate", help="AMT / best-of / MOS tables of the run's methods (simulated observer)")
    _common(s)
    s.add_argument("--calibrated", action="store_true",
                   help="use the observers fitted by `study calibrate` (DIR/study/calibration.json)")
    s.add_argument("--save-ratings", action="store_true",
                   help="also write the simulated trials and ratings (DIR/study/simulated/<protocol>/), importable")
    c = actions.add_parser("calibrate", help="fit the simulated observers to the papers' published study numbers")
    _common(c)
    c.add_argument("--free-amt", default="noise", help="AMT observer parameters to fit (default: noise)")
    c.add_argument("--free-mos", default="noise", help="MOS observer parameters to fit (default: noise)")
    e = actions.add_parser("export", help="a self-contained static study (HTML, images, trial manifest)")
    _common(e)
    e.add_argument("--protocol", required=True, choices=tuple(PROTOCOL_NAMES), help="which protocol")
    e.add_argument("--out", type=Path, required=True, help="new folder for the study")
    i = actions.add_parser("import", help="validate ratings of an exported study and write its tables")
    i.add_argument("--ratings", type=Path, nargs="+", required=True, help="ratings CSV file(s) from the study page")
    i.add_argument("--study", type=Path, default=None,
                   help="the exported study folder (default: the folder of the first ratings file)")
    i.add_argument("--out", type=Path, default=None, help="folder for the tables (default: STUDY/results)")


def _tasks(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(t.strip() for t in (args.tasks or "").split(",") if t.strip())


def run_study(args: argparse.Namespace) -> int:
    """Runs one study action; returns the exit code (a ``HarnessError`` becomes 2 in ``harness.run``).

    Every action but ``import`` holds the run's lock (``harness.run_lock.locked_run``) while it reads and writes it;
    ``import`` holds the lock of the run its ``--out`` lies in, if any.
    """
    from harness.config import parse_set_arguments
    from harness.run_lock import locked_run
    from harness.study.run_study import load_run

    if args.study_command == "import":
        study = args.study or args.ratings[0].parent
        out = args.out or study / "results"
        with locked_run(out, option="--out" if args.out else "the default --out"):
            return _import(args, study, out)
    overrides = parse_set_arguments(args.overrides)
    free = {}
    if args.study_command == "calibrate":
        from harness.study.calibrate import free_parameters

        free = {"amt": free_parameters("--free-amt", args.free_amt), "mos": free_parameters("--free-mos",
                                                                                           args.free_mos)}
    load_run(args.run, overrides)  # the options are checked before the run is locked or touched
    with locked_run(args.run):
        return _on_run(args, overrides, free)


def _on_run(args: argparse.Namespace, overrides: dict[str, str], free: dict[str, tuple[str, ...]]) -> int:
    """``simulate``, ``calibrate`` or ``export`` (the run is locked)."""
    from harness.study import run_study as work

    config, manifest = work.load_run(args.run, overrides)
    if args.study_command == "simulate":
        return _simulate(args, config, manifest)
    if args.study_command == "calibrate":
        from harness.study.calibrate import calibrate

        material = work.gather(args.run, config, manifest, keep_images=False, tasks=_tasks(args))
        for name, record in calibrate(material, config.study, args.run / "study", free).items():
            fitted = ", ".join(f"{k}={record['params'][k]:.4g}" for k in record["free"])
            print(f"{name}: fitted {fitted}; RMSE {record['rmse']:.3g} over {len(record['targets'])} targets "
                  f"(dof {record['dof']})")
            for t in record["targets"]:
                print(f"  {t['target']:<60} published {t['published']:8.3f}  fitted {t['fitted']:8.3f}")
        print(f"calibration: {args.run / 'study' / 'calibration.csv'}")
        return 0
    from harness.study.export import export_study

    protocol = PROTOCOL_NAMES[args.protocol]
    material = work.gather(args.run, config, manifest, keep_images=True, tasks=_tasks(args))
    page = export_study(material, config.study, protocol, args.out, args.run)
    print(f"study: {page}\ntrials: {args.out / 'trials.csv'}")
    return 0


def _simulate(args: argparse.Namespace, config, manifest: dict) -> int:
    from harness.study import run_study as work
    from reports.build import build_report

    source = "prior"
    if args.calibrated:
        import dataclasses

        from harness.study.calibrate import calibrated_config

        path = args.run / "study" / "calibration.json"
        config = dataclasses.replace(config, study=calibrated_config(config.study, path))
        source = f"calibrated ({path.name})"
    result = work.simulate_run(args.run, config, manifest, observer_source=source, save_ratings=args.save_ratings,
                               tasks=_tasks(args))
    for name, table in result.tables.items():
        print(f"{name}: {result.study_dir / (name + '.csv')} ({len(table)} rows, simulated)")
    print(f"power: {result.study_dir / 'power.csv'}\nrows: {len(result.rows)} simulated rows in "
          f"{args.run / 'metrics.csv'} ({result.wall_time_s:.1f} s)")
    print(f"report: {build_report(args.run).report_html}")
    return 0


def _import(args: argparse.Namespace, study: Path, out: Path) -> int:
    from harness.study.importer import import_ratings

    tables, paths = import_ratings(args.ratings, study, out, option="--out" if args.out else "the default --out")
    for path in paths:
        print(f"{path.stem}: {path}")
    return 0
