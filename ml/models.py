"""The three model families and their calibration, behind one interface.

Each model family handles class imbalance its own way (class weights); weights distort probabilities, so every
model is calibrated on data it was not fitted on. The calibrated model is a plain picklable object whose
``predict_proba`` gives the probability of churn, which is what scoring, tiers and value need.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

ModelKind = Literal["logistic_regression", "random_forest", "catboost"]
MODEL_KINDS: tuple[ModelKind, ...] = ("logistic_regression", "random_forest", "catboost")


def widen_to_float(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with integer and boolean columns as floats: model signatures declare numeric features as double
    (they may hold nulls), and Evidently infers a column's type from its dtype."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_bool_dtype(out[col]) or pd.api.types.is_integer_dtype(out[col]):
            out[col] = out[col].astype(float)
    return out


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns feed the model, which of them are categorical, and which were left out and why.

    ``left_out``: (column, reason) for columns of the training table that carry nothing to learn from (no
    values at all, or one value in every row): a company without NPS surveys or onboarding dates has such
    columns, and they stay out of the model rather than break it. Scoring accepts them and ignores them.
    """

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    left_out: tuple[tuple[str, str], ...] = ()

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def left_out_columns(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.left_out)

    @property
    def notes(self) -> list[str]:
        """One sentence per column left out, e.g. ``"days_to_onboard left out: no values in the training rows"``."""
        return [f"{c} left out: {why}" for c, why in self.left_out]

    @classmethod
    def infer(cls, frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> FeatureSpec:
        """Numbers and booleans are numeric; everything else is categorical.

        ``frame`` should be the training rows: a column with no value in any of them, or the same value in
        every one of them (nulls count as a value), is left out and named in ``left_out``.
        """
        numeric, categorical, left_out = [], [], []
        for col in frame.columns:
            if col in exclude:
                continue
            values = frame[col]
            if len(values) == 0 or values.isna().all():
                left_out.append((col, "no values in the training rows"))
                continue
            if values.nunique(dropna=False) == 1:
                left_out.append((col, f"the same value ({values.iloc[0]!r}) in every training row"))
                continue
            if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
                numeric.append(col)
            else:
                categorical.append(col)
        return cls(tuple(numeric), tuple(categorical), tuple(left_out))

    def check(self, frame: pd.DataFrame, what: str = "the table") -> pd.DataFrame:
        """The model's columns in the model's order; a clear error naming any missing column."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(
                f"{what} lacks column(s) the model needs: {', '.join(missing)} "
                f"(expected {', '.join(self.columns)})"
            )
        out = frame[self.columns].copy()
        for col in self.numeric:
            if not pd.api.types.is_float_dtype(out[col]):  # already-float columns pass untouched (fast path)
                out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
        for col in self.categorical:
            values = out[col]
            if values.dtype != object or values.isna().any():
                out[col] = values.astype("string").fillna("missing").astype(str)
        return out


def _sklearn_pipeline(kind: ModelKind, spec: FeatureSpec, seed: int, threads: int) -> Pipeline:
    if kind == "logistic_regression":
        pre = ColumnTransformer(
            [
                (
                    "num",
                    Pipeline(
                        [
                            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                            ("scale", StandardScaler()),
                        ]
                    ),
                    list(spec.numeric),
                ),
                (
                    "cat",
                    OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20),
                    list(spec.categorical),
                ),
            ]
        )
        est: Any = LogisticRegression(class_weight="balanced", max_iter=2000, C=0.5)
    else:
        pre = ColumnTransformer(
            [
                ("num", SimpleImputer(strategy="median", add_indicator=True), list(spec.numeric)),
                (
                    "cat",
                    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                    list(spec.categorical),
                ),
            ]
        )
        est = RandomForestClassifier(
            n_estimators=300,
            min_samples_leaf=20,
            max_features="sqrt",
            class_weight="balanced_subsample",
            n_jobs=threads,  # with random_state fixed, sklearn's forests do not depend on n_jobs
            random_state=seed,
        )
    return Pipeline([("prep", pre), ("model", est)])


@dataclass
class ChurnModel:
    """A fitted model plus the calibration that turns its scores into churn probabilities."""

    kind: ModelKind
    spec: FeatureSpec
    estimator: Any
    calibrator: IsotonicRegression | LogisticRegression | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def raw_scores(self, frame: pd.DataFrame) -> np.ndarray:
        X = self.spec.check(frame)
        return np.asarray(self.estimator.predict_proba(X)[:, 1], dtype=float)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of churn for each row."""
        s = self.raw_scores(frame)
        if self.calibrator is None:
            return s
        if isinstance(self.calibrator, IsotonicRegression):
            return np.asarray(self.calibrator.predict(s), dtype=float)
        return np.asarray(self.calibrator.predict_proba(_logit(s)[:, None])[:, 1], dtype=float)

    def calibrate(self, frame: pd.DataFrame, y: np.ndarray, method: str = "sigmoid") -> None:
        """Fit the calibration map on held-out rows (isotonic with enough positives, else Platt)."""
        s = self.raw_scores(frame)
        positives = int(np.asarray(y).sum())
        if method == "isotonic" or (method == "auto" and positives >= 200):
            iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4)
            iso.fit(s, y)
            self.calibrator = iso
        else:
            platt = LogisticRegression(C=1e6)
            platt.fit(_logit(s)[:, None], y)
            self.calibrator = platt

    def feature_importance(self) -> pd.Series:
        """Importance per input column, for the importance plot."""
        if self.kind == "catboost":
            values = self.estimator.get_feature_importance()
            return pd.Series(values, index=self.spec.columns).sort_values(ascending=False)
        model = self.estimator.named_steps["model"]
        names = self.estimator.named_steps["prep"].get_feature_names_out()
        raw = np.abs(model.coef_[0]) if hasattr(model, "coef_") else model.feature_importances_
        series = pd.Series(raw, index=names)
        # fold one-hot and indicator columns back onto their source column
        grouped: dict[str, float] = {}
        for name, value in series.items():
            base = str(name).split("__", 1)[-1]
            source = next((c for c in self.spec.columns if base == c or base.startswith(f"{c}_")), base)
            grouped[source] = grouped.get(source, 0.0) + float(value)
        return pd.Series(grouped).sort_values(ascending=False)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_model(
    kind: ModelKind,
    spec: FeatureSpec,
    frame: pd.DataFrame,
    y: np.ndarray,
    seed: int = 42,
    params: dict[str, Any] | None = None,
    train_dir: str | None = None,
    threads: int = 2,
) -> ChurnModel:
    """Fit one model family on (frame, y); calibration is a separate step on other rows.

    Deterministic: the same rows in the same order, ``seed``, ``params`` and ``threads`` give the same model.
    ``threads`` is fixed rather than the machine's core count because CatBoost's result depends on it.
    """
    params = dict(params or {})
    X = spec.check(frame, "the training set")
    if kind == "catboost":
        from catboost import CatBoostClassifier

        options: dict[str, Any] = {
            "iterations": 500,
            "depth": 5,
            "learning_rate": 0.03,
            "l2_leaf_reg": 5.0,
            "auto_class_weights": "Balanced",
            "random_seed": seed,
            "thread_count": threads,
            "verbose": 0,
            "allow_writing_files": train_dir is not None,
        }
        options.update(params)
        with tempfile.TemporaryDirectory(prefix="catboost-") as tmp:
            est: Any = CatBoostClassifier(
                **options, train_dir=train_dir or tmp, cat_features=list(spec.categorical)
            )
            est.fit(X, y)
        return ChurnModel(kind, spec, est, params=options)
    pipe = _sklearn_pipeline(kind, spec, seed, threads)
    if params:
        pipe.set_params(**{f"model__{k}": v for k, v in params.items()})
    pipe.fit(X, y)
    if kind == "random_forest":
        # trees are grown in parallel (deterministically: each has its own seed), but parallel prediction
        # adds the trees' probabilities in whatever order the threads finish, which changes the last bits
        pipe.set_params(model__n_jobs=1)
    return ChurnModel(kind, spec, pipe, params=params)
