"""Training on the feature mart with a time-based split, so validation looks like the future it predicts.

Snapshots are ordered in time: the newest matured snapshot validates, the one before it calibrates, all
older snapshots train. No row of a later snapshot ever informs an earlier one, and the label columns
never enter the features.

Reproducible: the same rows and settings give the same models and probabilities, whatever order the
warehouse returned the rows in (they are sorted by snapshot and customer first), however fast the machine
(the hyperparameter search is a fixed number of trials, not a time budget) and however many cores it has
(thread counts are settings).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ml.metrics import evaluate
from ml.models import MODEL_KINDS, ChurnModel, FeatureSpec, ModelKind, fit_model

log = logging.getLogger(__name__)

NOT_FEATURES = ("customer_id", "snapshot_date", "churned", "churn_date", "label_matured", "as_of_date")


class TrainConfig(BaseModel):
    """How to train: which families, which label, how many hyperparameter trials, how many threads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: tuple[ModelKind, ...] = MODEL_KINDS
    label: str = "churned"
    date_column: str = "snapshot_date"
    id_column: str = "customer_id"
    exclude: tuple[str, ...] = NOT_FEATURES
    seed: int = 42
    search_trials: int = Field(
        default=0, ge=0, description="Hyperparameter settings tried per model family; 0 turns the search off."
    )
    search_max_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Safety stop per family: a search still running after this long stops early (logged, and "
        "recorded with the run) - the result then depends on the machine's speed.",
    )
    threads: int = Field(default=2, ge=1, description="CatBoost thread_count and random forest n_jobs.")
    calibration: str = "sigmoid"


@dataclass(frozen=True)
class TimeSplit:
    train: list[dt.date]
    calibration: dt.date
    validation: dt.date

    def as_params(self) -> dict[str, str]:
        return {
            "train_window": f"{min(self.train)}..{max(self.train)}",
            "train_snapshots": str(len(self.train)),
            "calibration_snapshot": str(self.calibration),
            "validation_snapshot": str(self.validation),
        }


def time_split(frame: pd.DataFrame, date_column: str = "snapshot_date") -> TimeSplit:
    """Oldest snapshots train, the second newest calibrates, the newest validates."""
    dates = sorted(pd.to_datetime(frame[date_column]).dt.date.unique())
    if len(dates) < 3:
        raise ValueError(
            f"a time-based split needs at least 3 snapshots with matured labels, found {len(dates)} "
            f"({', '.join(map(str, dates))}): simulate or deliver more months"
        )
    return TimeSplit(train=dates[:-2], calibration=dates[-2], validation=dates[-1])


def _rows(frame: pd.DataFrame, column: str, dates: list[dt.date]) -> pd.DataFrame:
    return frame[pd.to_datetime(frame[column]).dt.date.isin(dates)]


def in_stable_order(
    frame: pd.DataFrame, date_column: str = "snapshot_date", id_column: str = "customer_id"
) -> pd.DataFrame:
    """The rows sorted by (snapshot, customer), index reset: models must not depend on the order a warehouse
    happened to return rows in (a parallel scan or a rebuilt table changes it). Columns that are absent are
    skipped; the sort is stable."""
    keys = [c for c in (date_column, id_column) if c in frame.columns]
    if not keys:
        return frame.reset_index(drop=True)
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


@dataclass
class Candidate:
    """One trained, calibrated model with its validation metrics and the rows it was judged on."""

    kind: ModelKind
    model: ChurnModel
    metrics: dict[str, float]
    split: TimeSplit
    search: dict[str, Any]
    validation_probability: np.ndarray


SEARCH_SPACE: dict[ModelKind, dict[str, list[Any]]] = {
    "logistic_regression": {"C": [0.05, 0.2, 0.5, 1.0, 5.0]},
    "random_forest": {"min_samples_leaf": [5, 10, 20, 50], "max_features": ["sqrt", 0.3, 0.5]},
    "catboost": {
        "depth": [4, 5, 6],
        "learning_rate": [0.03, 0.05, 0.1],
        "l2_leaf_reg": [1.0, 3.0, 5.0, 10.0],
    },
}


def search_grid(kind: ModelKind, seed: int) -> list[dict[str, Any]]:
    """Every setting of the family's search space, in a seeded random order (the order trials are run in)."""
    space = SEARCH_SPACE[kind]
    names = sorted(space)
    grid = [dict(zip(names, values, strict=True)) for values in itertools.product(*(space[n] for n in names))]
    order = np.random.default_rng(seed).permutation(len(grid))
    return [grid[i] for i in order]


def _search(
    kind: ModelKind,
    spec: FeatureSpec,
    train: pd.DataFrame,
    y_train: np.ndarray,
    cal: pd.DataFrame,
    y_cal: np.ndarray,
    trials: int,
    seed: int,
    max_seconds: float,
    threads: int,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Random search: the first ``trials`` settings of :func:`search_grid`, judged by ROC-AUC on the calibration
    snapshot (the first best wins a tie). A fixed number of trials makes it reproducible; ``max_seconds`` is a
    safety stop only, and says so when it fires (``stopped_early``)."""
    settings = search_grid(kind, seed)[:trials]
    best: tuple[float, dict[str, Any]] = (-1.0, {})
    started = time.monotonic()
    tried = 0
    stopped_early = False
    for params in settings:
        if time.monotonic() - started > max_seconds:
            stopped_early = True
            message = (
                f"{kind}: hyperparameter search stopped by its safety limit of {max_seconds:g} s after "
                f"{tried} of {len(settings)} trials; this model now depends on the machine's speed"
            )
            log.warning(message)
            if progress:
                progress(message)
            break
        model = fit_model(kind, spec, train, y_train, seed=seed, params=params, threads=threads)
        auc = evaluate(y_cal, model.raw_scores(cal))["roc_auc"]
        tried += 1
        if auc > best[0]:
            best = (auc, params)
    return {
        "params": best[1],
        "trials": len(settings),
        "tried": tried,
        "search_auc": best[0],
        "stopped_early": stopped_early,
    }


def train_candidates(
    frame: pd.DataFrame,
    config: TrainConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Candidate]:
    """Fit, calibrate and validate every model family on one time split of the training set."""
    config = config or TrainConfig()
    if config.label not in frame.columns:
        raise ValueError(f"the training set has no label column {config.label!r}")
    labelled = in_stable_order(frame[frame[config.label].notna()], config.date_column, config.id_column)
    split = time_split(labelled, config.date_column)
    train = _rows(labelled, config.date_column, split.train)
    spec = FeatureSpec.infer(train, exclude=(*config.exclude, config.label))
    for note in spec.notes:
        log.info(note)
        if progress:
            progress(note)
    if not spec.columns:
        raise ValueError("no column of the training set has values to learn from: every feature was left out")
    cal = _rows(labelled, config.date_column, [split.calibration])
    val = _rows(labelled, config.date_column, [split.validation])
    y = {
        name: part[config.label].astype(int).to_numpy()
        for name, part in (("train", train), ("cal", cal), ("val", val))
    }
    for name, labels in y.items():
        if labels.sum() == 0 or labels.sum() == len(labels):
            raise ValueError(f"the {name} window has only one class; it cannot train or judge a model")
    candidates = []
    for kind in config.kinds:
        search: dict[str, Any] = {}
        if config.search_trials > 0:
            if progress:
                progress(f"searching {config.search_trials} hyperparameter settings for {kind}")
            search = _search(
                kind, spec, train, y["train"], cal, y["cal"], config.search_trials, config.seed,
                config.search_max_seconds, config.threads, progress,
            )  # fmt: skip
        if progress:
            progress(f"training {kind} on {len(train):,} rows")
        model = fit_model(
            kind,
            spec,
            train,
            y["train"],
            seed=config.seed,
            params=search.get("params"),
            threads=config.threads,
        )
        model.calibrate(cal, y["cal"], method=config.calibration)
        p = model.predict_proba(val)
        candidates.append(Candidate(kind, model, evaluate(y["val"], p), split, search, p))
    return candidates


def validation_rows(frame: pd.DataFrame, split: TimeSplit, config: TrainConfig | None = None) -> pd.DataFrame:
    """The labelled rows of the validation snapshot: where candidate and champion are compared."""
    config = config or TrainConfig()
    labelled = in_stable_order(frame[frame[config.label].notna()], config.date_column, config.id_column)
    return _rows(labelled, config.date_column, [split.validation])
