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
    """A labelled customer table ready for modelling; ``notes`` say what was detected or left out."""

    frame: pd.DataFrame
    y: np.ndarray
    spec: FeatureSpec
    name: str
    notes: tuple[str, ...] = ()


DELIMITERS = ",;\t|"


def detect_dialect(path: Path) -> tuple[str, str]:
    """(delimiter, decimal mark) of a CSV from its first 64 KiB: the delimiter by csv.Sniffer among
    , ; tab |; the decimal mark ',' when the delimiter is not ',' and numbers are written like 74,92."""
    import csv
    import re

    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        sample = fh.read(1 << 16)
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    decimal = "."
    edge = re.escape(delimiter) + '"'
    if delimiter != "," and re.search(rf"(^|[{edge}])-?\d+,\d+($|[{edge}\r\n])", sample, re.M):
        decimal = ","
    return delimiter, decimal


def check_folds(y: np.ndarray, folds: int) -> None:
    """Refuse, in one line, a table with too few churners (or stayers) for stratified k-fold with a
    calibration split inside each training fold (each needs at least two of each class)."""
    if folds < 2:
        raise ValueError(f"--folds must be at least 2, got {folds}")
    for label, name in ((1, "churners"), (0, "stayers")):
        n = int((y == label).sum())
        if n < 2 * folds:
            fit = max(2, n // 2)
            advice = f"use --folds {fit}" if n >= 4 else "this table cannot be cross-validated"
            raise ValueError(
                f"too few {name} for {folds} folds: {n} of {len(y)} rows; each fold needs at least 2 to train and "
                f"calibrate on: {advice}, or bring a larger table"
            )


def load_customer_table(
    path: Path,
    target: str,
    positive: str,
    id_column: str | None = None,
    drop: tuple[str, ...] = (),
    sep: str | None = None,
    decimal: str | None = None,
) -> CustomerTable:
    """Read a CSV, turn text columns that are really numbers into numbers, and split off the label.

    ``sep`` and ``decimal`` default to what :func:`detect_dialect` finds (said in ``notes``). Rows whose label
    is blank are left out (counted in ``notes``), never counted as stayers.
    """
    notes: list[str] = []
    found_sep, found_decimal = detect_dialect(path)
    if sep is None and found_sep != ",":
        notes.append(f"detected {found_sep!r} as the delimiter (pass --sep to override)")
    if decimal is None and found_decimal != ".":
        notes.append(f"detected {found_decimal!r} as the decimal mark (pass --decimal to override)")
    sep = sep or found_sep
    decimal = decimal or found_decimal
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep, encoding="utf-8-sig")
    if len(frame.columns) == 1 and any(d in frame.columns[0] for d in DELIMITERS if d != sep):
        notes.append(f"only one column was found with delimiter {sep!r}: is the delimiter right?")
    if target not in frame.columns:
        raise ValueError(f"{path}: no target column {target!r}; columns are {', '.join(frame.columns)}")
    unknown = [c for c in (*drop, *([id_column] if id_column else [])) if c not in frame.columns]
    if unknown:
        raise ValueError(f"{path}: no column(s) {', '.join(unknown)} to drop")
    labels = frame[target].str.strip()
    blank = labels == ""
    if blank.any():
        notes.append(
            f"{int(blank.sum())} rows with a blank {target!r} left out (unknown outcome, not 'stayed')"
        )
        frame, labels = frame[~blank].reset_index(drop=True), labels[~blank].reset_index(drop=True)
    if positive not in set(labels):
        raise ValueError(
            f"{path}: target {target!r} never equals {positive!r}; values are {sorted(set(labels))[:10]}"
        )
    y = (labels == positive).to_numpy(dtype=int)
    features = frame.drop(columns=[target, *drop, *([id_column] if id_column else [])])
    for col in features.columns:
        text = features[col].str.strip()
        if decimal == ",":
            text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        numbers = pd.to_numeric(text.replace("", np.nan), errors="coerce")
        blank = text == ""
        if numbers.notna().sum() >= 0.95 * (~blank).sum() and (~blank).any():
            features[col] = numbers  # blanks become missing (e.g. Telco's TotalCharges for new customers)
    return CustomerTable(features, y, FeatureSpec.infer(features), path.stem, tuple(notes))


def cross_validate(
    table: CustomerTable,
    kinds: tuple[ModelKind, ...] = MODEL_KINDS,
    folds: int = 5,
    seed: int = 42,
    progress: Callable[[str, int], None] | None = None,
) -> dict[ModelKind, dict[str, float]]:
    """Out-of-fold probabilities per model (calibrated within each training fold), then every metric.

    Raises ValueError (one line) when the table has too few churners or stayers for ``folds``."""
    check_folds(table.y, folds)
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
