"""Bring-your-own customer table: the platform's training and evaluation code on any churn CSV.

Stratified k-fold cross-validation, the same three model families, calibration inside each training fold,
and every platform metric out of fold. This is how the models are compared with published figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from ml.metrics import evaluate
from ml.models import MODEL_KINDS, FeatureSpec, ModelKind, fit_model


@dataclass(frozen=True)
class CustomerTable:
    """A labelled customer table ready for modelling."""

    frame: pd.DataFrame
    y: np.ndarray
    spec: FeatureSpec
    name: str


def load_customer_table(
    path: Path, target: str, positive: str, id_column: str | None = None, drop: tuple[str, ...] = ()
) -> CustomerTable:
    """Read a CSV, turn text columns that are really numbers into numbers, and split off the label."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if target not in frame.columns:
        raise ValueError(f"{path}: no target column {target!r}; columns are {', '.join(frame.columns)}")
    unknown = [c for c in (*drop, *([id_column] if id_column else [])) if c not in frame.columns]
    if unknown:
        raise ValueError(f"{path}: no column(s) {', '.join(unknown)} to drop")
    labels = frame[target].str.strip()
    if positive not in set(labels):
        raise ValueError(
            f"{path}: target {target!r} never equals {positive!r}; values are {sorted(set(labels))[:10]}"
        )
    y = (labels == positive).to_numpy(dtype=int)
    features = frame.drop(columns=[target, *drop, *([id_column] if id_column else [])])
    for col in features.columns:
        text = features[col].str.strip()
        numbers = pd.to_numeric(text.replace("", np.nan), errors="coerce")
        blank = text == ""
        if numbers.notna().sum() >= 0.95 * (~blank).sum() and (~blank).any():
            features[col] = numbers  # blanks become missing (e.g. Telco's TotalCharges for new customers)
    return CustomerTable(features, y, FeatureSpec.infer(features), path.stem)


def cross_validate(
    table: CustomerTable,
    kinds: tuple[ModelKind, ...] = MODEL_KINDS,
    folds: int = 5,
    seed: int = 42,
    progress: Callable[[str, int], None] | None = None,
) -> dict[ModelKind, dict[str, float]]:
    """Out-of-fold probabilities per model (calibrated within each training fold), then every metric."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    oof = {kind: np.zeros(len(table.y)) for kind in kinds}
    for fold, (train_idx, test_idx) in enumerate(splitter.split(table.frame, table.y)):
        fit_idx, cal_idx = train_test_split(
            train_idx, test_size=0.2, stratify=table.y[train_idx], random_state=seed + fold
        )
        for kind in kinds:
            model = fit_model(kind, table.spec, table.frame.iloc[fit_idx], table.y[fit_idx], seed=seed)
            model.calibrate(table.frame.iloc[cal_idx], table.y[cal_idx])
            oof[kind][test_idx] = model.predict_proba(table.frame.iloc[test_idx])
            if progress:
                progress(kind, fold)
    return {kind: evaluate(table.y, oof[kind]) for kind in kinds}
