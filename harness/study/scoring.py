"""From trial manifests and ratings to the study tables, CSVs and result rows; shared by simulate and import."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from harness.core.csv_files import unescape_frame, write_csv
from harness.core.errors import HarnessError
from harness.core.results import Row, protocol_string
from harness.study.config import StudyConfig
from metrics.human_study.observer import describe
from metrics.human_study.signals import FEATURE_VERSION
from metrics.human_study.tables import amt_tables, best_of_tables, mos_tables
from metrics.registry import higher_is_better

TABLES = ("amt", "amt_tests", "best_of", "best_of_tests", "mos", "mos_tests")


def score(data: dict[str, tuple[pd.DataFrame, pd.DataFrame]], cfg: StudyConfig) -> dict[str, pd.DataFrame]:
    """Tables of every protocol present in ``data`` (protocol -> (trial manifest, ratings))."""
    tables: dict[str, pd.DataFrame] = {}
    for protocol, (trials, ratings) in data.items():
        responses = trials.merge(ratings[["participant", "trial_id", "response"]], on="trial_id", how="inner")
        if protocol == "amt":
            tables["amt"], tables["amt_tests"] = amt_tables(responses, cfg.stats, cfg.seed)
        elif protocol == "best_of":
            tables["best_of"], tables["best_of_tests"] = best_of_tables(responses, cfg.best_of, cfg.stats, cfg.seed)
        else:
            tables["mos"], tables["mos_tests"] = mos_tables(responses, cfg.stats, cfg.seed)
    return tables


def write_tables(tables: dict[str, pd.DataFrame], out_dir: Path, *, simulated: bool) -> list[Path]:
    """Writes ``<name>.csv`` per table with a leading ``simulated`` column; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in tables.items():
        path = out_dir / f"{name}.csv"
        write_csv(path, table.assign(simulated=simulated)[["simulated", *table.columns]])
        paths.append(path)
    return paths


def read_table(path: Path) -> pd.DataFrame:
    """A table ``write_tables`` wrote, without its ``simulated`` column.

    Raises:
        HarnessError: The file cannot be read as such a table (naming it).
    """
    try:
        table = unescape_frame(pd.read_csv(path, keep_default_na=False, na_values=[""]))
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise HarnessError(f"{path}: unreadable ({type(exc).__name__}); expected a study table this harness wrote; "
                           "delete it and run the study again") from None
    if "task" not in table.columns:
        raise HarnessError(f"{path}: no task column; expected a study table this harness wrote; delete it and run "
                           "the study again")
    return table.drop(columns=["simulated"], errors="ignore")


def _protocol(cfg: StudyConfig, name: str, setting: str, variant: str, details: dict[str, object],
              source: str, model: dict[str, str]) -> str:
    observer = {"amt": cfg.amt_observer, "best_of": cfg.best_of_observer, "mos": cfg.mos_observer}[name]
    return protocol_string(protocol=f"human_study_{name}", simulated="true", **details,
                           observer=f"thurstone/ordered ({describe(observer)})", observer_source=source,
                           signals=FEATURE_VERSION, study_seed=cfg.seed, setting=setting, variant=variant or "default",
                           **model)


def _ci(low: float, high: float) -> tuple[float, float]:
    return (float(low), float(high)) if not (math.isnan(low) or math.isnan(high)) else (math.nan, math.nan)


def simulated_rows(tables: dict[str, pd.DataFrame], cfg: StudyConfig, settings: dict[str, str],
                   variants: dict[str, str], *, provenance: dict[str, dict[str, str]] | None = None,
                   observer_source: str = "prior") -> list[Row]:
    """Result rows of the simulated tables, each marked ``simulated=true`` with its observer, design and seed.

    Metrics: ``<condition>_amt_pct_real``, ``<condition>_bestof_pct_best``, ``<condition>_mos``,
    ``<condition>_mos_std``. A method's row also carries its model's ``provenance`` keys (e.g. the GAN's
    update rule).
    """
    amt, bo, mos = cfg.amt, cfg.best_of, cfg.mos
    rows: list[Row] = []

    def add(rec, metric: str, value: float, ci: tuple[float, float], n: int, name: str,
            details: dict[str, object]) -> None:
        method, key = str(rec.method), f"{rec.condition}_{metric}"
        rows.append(Row(model=method, task=str(rec.task), metric=key, value=float(value), ci_low=ci[0],
                        ci_high=ci[1], n=int(n), seed=int(rec.seed), setting=settings.get(method, "unknown"),
                        higher_is_better=higher_is_better(key),
                        protocol=_protocol(cfg, name, settings.get(method, "unknown"), variants.get(method, ""),
                                           details, observer_source, (provenance or {}).get(method, {}))))

    for rec in tables.get("amt", pd.DataFrame()).itertuples():
        add(rec, "amt_pct_real", rec.pct_real, _ci(rec.ci_low, rec.ci_high), rec.n_participants, "amt",
            {"design": f"{amt.n_participants} participants x ({amt.n_practice} practice + {amt.n_trials} scored), "
                       f"{amt.exposure_ms} ms", "ci": "95% percentile bootstrap over participants"})
    for rec in tables.get("best_of", pd.DataFrame()).itertuples():
        add(rec, "bestof_pct_best", rec.pct_best, _ci(rec.ci_low, rec.ci_high), rec.n_participants, "best_of",
            {"design": f"{bo.n_participants} participants x {bo.n_questions} questions ({bo.n_validation} "
                       "validation)", "ci": "95% percentile bootstrap over validated participants"})
    for rec in tables.get("mos", pd.DataFrame()).itertuples():
        details = {"design": f"{mos.n_raters} raters, 1-5, calibrated on nearest_x4=1 and real=5",
                   "ci": "95% percentile bootstrap over raters"}
        add(rec, "mos", rec.mos, _ci(rec.ci_low, rec.ci_high), rec.n_ratings, "mos", details)
        add(rec, "mos_std", rec.std, (math.nan, math.nan), rec.n_ratings, "mos", details)
    return rows
