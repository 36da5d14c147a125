"""Training on the feature mart with a time-based split, so validation looks like the future it predicts.

Snapshots are ordered in time: the newest matured snapshot validates, the one before it calibrates, all
older snapshots train. No row of a later snapshot ever informs an earlier one, and the label columns
never enter the features.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ml.metrics import evaluate
from ml.models import MODEL_KINDS, ChurnModel, FeatureSpec, ModelKind, fit_model

NOT_FEATURES = ("customer_id", "snapshot_date", "churned", "churn_date", "label_matured", "as_of_date")


class TrainConfig(BaseModel):
    """How to train: which families, which label, how long a hyperparameter search may take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: tuple[ModelKind, ...] = MODEL_KINDS
    label: str = "churned"
    date_column: str = "snapshot_date"
    exclude: tuple[str, ...] = NOT_FEATURES
    seed: int = 42
    search_budget_seconds: float = Field(default=0.0, ge=0, description="0 turns the search off.")
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


def _search(
    kind: ModelKind,
    spec: FeatureSpec,
    train: pd.DataFrame,
    y_train: np.ndarray,
    cal: pd.DataFrame,
    y_cal: np.ndarray,
    budget: float,
    seed: int,
) -> dict[str, Any]:
    """Random search judged on the calibration snapshot, stopping when the time budget is spent."""
    rng = np.random.default_rng(seed)
    space = SEARCH_SPACE[kind]
    best: tuple[float, dict[str, Any]] = (-1.0, {})
    started = time.monotonic()
    tried = 0
    while time.monotonic() - started < budget and tried < 30:
        params = {k: v[int(rng.integers(len(v)))] for k, v in space.items()}
        model = fit_model(kind, spec, train, y_train, seed=seed, params=params)
        auc = evaluate(y_cal, model.raw_scores(cal))["roc_auc"]
        tried += 1
        if auc > best[0]:
            best = (auc, params)
    return {"params": best[1], "tried": tried, "search_auc": best[0]}


def train_candidates(
    frame: pd.DataFrame,
    config: TrainConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Candidate]:
    """Fit, calibrate and validate every model family on one time split of the training set."""
    config = config or TrainConfig()
    if config.label not in frame.columns:
        raise ValueError(f"the training set has no label column {config.label!r}")
    labelled = frame[frame[config.label].notna()]
    split = time_split(labelled, config.date_column)
    spec = FeatureSpec.infer(labelled, exclude=tuple({*config.exclude, config.label}))
    train = _rows(labelled, config.date_column, split.train)
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
        if config.search_budget_seconds > 0:
            budget = config.search_budget_seconds / len(config.kinds)
            search = _search(kind, spec, train, y["train"], cal, y["cal"], budget, config.seed)
        if progress:
            progress(f"training {kind} on {len(train):,} rows")
        model = fit_model(kind, spec, train, y["train"], seed=config.seed, params=search.get("params"))
        model.calibrate(cal, y["cal"], method=config.calibration)
        p = model.predict_proba(val)
        candidates.append(Candidate(kind, model, evaluate(y["val"], p), split, search, p))
    return candidates


def validation_rows(frame: pd.DataFrame, split: TimeSplit, config: TrainConfig | None = None) -> pd.DataFrame:
    """The labelled rows of the validation snapshot: where candidate and champion are compared."""
    config = config or TrainConfig()
    labelled = frame[frame[config.label].notna()]
    return _rows(labelled, config.date_column, [split.validation])
