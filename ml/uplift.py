"""Who is persuadable, and by what: a multi-treatment uplift model learnt from the logged experiments.

A T-learner with CatBoost: one classifier of churn per arm (``control`` and each intervention), each fitted on
the customers randomised to that arm, weighted by their inverse assignment probability (adaptive allocation
gives some customers an arm more often than others; the weights undo that). A customer's uplift for an
intervention is the churn it is expected to avoid, P(churn | control, x) - P(churn | intervention, x).

No single customer's effect is ever observed, so the model is judged on held-out customers with the Qini
coefficient per intervention (control and that arm), pooled over arms, against the same model with its scores
shuffled (random allocation): it ``beats_random`` when its pooled Qini exceeds the 95th percentile of 200
shuffles. The posterior the platform otherwise ranks by (:mod:`ml.bandit`) orders customers within a context
cell by their churn probability, so the model must also beat that ranking's Qini (``baseline``) on the same
customers; only then does the platform rank by it (the MLflow alias ``champion`` of the registered model).

The model is logged as an MLflow pyfunc from code (``ml/uplift_pyfunc.py``; the CatBoost models in CatBoost's own
format as artifacts, nothing pickled) and registered; :func:`load_uplift` loads it by alias.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from ml.models import FeatureSpec, widen_to_float

CONTROL = "control"
ARM_COLUMN = "arm"
UPLIFT_ALIAS = "champion"
CATBOOST_PARAMS: dict[str, Any] = {
    "iterations": 300,
    "depth": 4,
    "learning_rate": 0.05,
    "l2_leaf_reg": 5.0,
    "thread_count": 2,
    "verbose": False,
    "allow_writing_files": False,
}


def uplift_curve(
    retained: np.ndarray, treated: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative incremental retained customers when targeting by descending score (the Qini curve)."""
    order = np.argsort(-score, kind="stable")
    y, t = np.asarray(retained, dtype=float)[order], np.asarray(treated, dtype=bool)[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * ~t)
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = y_t - np.where(n_c > 0, y_c * n_t / n_c, 0.0)
    fraction = np.arange(1, len(y) + 1) / len(y)
    return fraction, qini


def qini_coefficient(retained: np.ndarray, treated: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """(Qini coefficient, AUUC): area between the Qini curve and random targeting, and under the curve,
    both per customer so datasets of different sizes compare."""
    fraction, qini = uplift_curve(retained, treated, score)
    n = len(qini)
    auuc = float(np.trapezoid(qini, fraction)) / n
    random_line = fraction * qini[-1]
    coefficient = float(np.trapezoid(qini - random_line, fraction)) / n
    return coefficient, auuc


@dataclass
class MultiArmUplift:
    """One calibrated-by-construction CatBoost churn classifier per arm; ``metrics`` from the held-out rows."""

    spec: FeatureSpec
    models: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def interventions(self) -> list[str]:
        return [a for a in self.models if a != CONTROL]

    @property
    def beats_random(self) -> bool:
        """Better than random allocation, and than ranking by the churn probability, on held-out Qini."""
        return bool(self.metrics.get("beats_random", 0.0)) and bool(self.metrics.get("beats_baseline", 1.0))

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``p_<arm>`` (churn probability under each arm) and ``uplift_<intervention>`` (absolute reduction of
        the churn probability vs control), one row per row of ``frame`` (same index)."""
        X = self.spec.check(frame)
        out = pd.DataFrame(index=frame.index)
        for arm, model in self.models.items():
            out[f"p_{arm}"] = model.predict_proba(X)[:, 1]
        if CONTROL in self.models:
            for arm in self.interventions:
                out[f"uplift_{arm}"] = out[f"p_{CONTROL}"] - out[f"p_{arm}"]
        return out


def _fit_one(X: pd.DataFrame, y: np.ndarray, w: np.ndarray, spec: FeatureSpec, seed: int) -> Any:
    from catboost import CatBoostClassifier

    model = CatBoostClassifier(**CATBOOST_PARAMS, random_seed=seed, cat_features=list(spec.categorical))
    model.fit(X, y, sample_weight=w)
    return model


def fit_multiarm_uplift(
    history: pd.DataFrame,
    spec: FeatureSpec,
    min_per_arm: int = 200,
    min_churned: int = 10,
    holdout: float = 0.3,
    seed: int = 42,
    shuffles: int = 200,
    baseline: str | None = "churn_probability",
) -> MultiArmUplift:
    """Fit and judge the T-learner.

    ``history``: the ``spec`` columns plus ``arm`` (``control`` or an intervention), ``churned`` (bool) and
    ``assignment_probability`` (of the logged arm, in (0, 1]); one row per measured decision. An arm with
    fewer than ``min_per_arm`` customers or ``min_churned`` churners is skipped (named in ``skipped``); without
    control or any intervention nothing is fitted. ``baseline``: a column whose ranking the model must beat
    as well (None: only random allocation). Raises ValueError when a required column is missing.
    """
    missing = [c for c in (ARM_COLUMN, "churned", "assignment_probability") if c not in history.columns]
    if missing:
        raise ValueError(f"history lacks column(s) {missing}")
    model = MultiArmUplift(spec)
    rng = np.random.default_rng(seed)
    data = history.reset_index(drop=True)
    test = rng.random(len(data)) < holdout
    weight = 1.0 / data["assignment_probability"].astype(float).clip(1e-3, 1.0).to_numpy()
    y_all = data["churned"].astype(int).to_numpy()
    X_all = spec.check(data, "the uplift history")
    for arm, rows in data.groupby(ARM_COLUMN, sort=True):
        name = str(arm)
        train = rows.index[~test[rows.index]]
        churned = int(y_all[train].sum())
        if len(train) < min_per_arm or churned < min_churned or churned > len(train) - min_churned:
            model.skipped[name] = f"{len(train)} training customers, {churned} churned"
            continue
        model.models[name] = _fit_one(X_all.loc[train], y_all[train], weight[train], spec, seed)
    if CONTROL not in model.models or not model.interventions:
        model.models = {}
        model.metrics = {"beats_random": 0.0}
        return model
    held = data[test]
    predicted = model.predict(held)
    qinis, sizes, shuffled, baseline_qinis = [], [], np.zeros(shuffles), []
    perm_rng = np.random.default_rng(seed + 1)
    arm_of = held[ARM_COLUMN].to_numpy()
    for arm in model.interventions:
        pair = np.isin(arm_of, [arm, CONTROL])
        if pair.sum() < 20 or not (arm_of[pair] == arm).any():
            continue
        retained = 1 - y_all[test][pair]
        is_arm = arm_of[pair] == arm
        score = predicted[f"uplift_{arm}"].to_numpy()[pair]
        q, auuc = qini_coefficient(retained, is_arm, score)
        model.metrics[f"{arm}.qini"], model.metrics[f"{arm}.auuc"] = q, auuc
        model.metrics[f"{arm}.mean_uplift"] = float(score.mean())
        qinis.append(q)
        sizes.append(int(pair.sum()))
        if baseline is not None and baseline in held.columns:
            base = held[baseline].astype(float).to_numpy()[pair]
            baseline_qinis.append(qini_coefficient(retained, is_arm, base)[0])
        for s in range(shuffles):
            shuffled[s] += pair.sum() * qini_coefficient(retained, is_arm, perm_rng.permutation(score))[0]
    if not qinis:
        model.metrics["beats_random"] = 0.0
        return model
    pooled = float(np.average(qinis, weights=sizes))
    random_q95 = float(np.quantile(shuffled / sum(sizes), 0.95))
    model.metrics.update(
        {
            "qini": pooled,
            "random_qini_95": random_q95,
            "beats_random": float(pooled > random_q95),
            **(
                {
                    "baseline_qini": float(np.average(baseline_qinis, weights=sizes)),
                    "beats_baseline": float(pooled > np.average(baseline_qinis, weights=sizes)),
                }
                if len(baseline_qinis) == len(qinis)
                else {}
            ),
            "train_rows": float((~test).sum()),
            "test_rows": float(test.sum()),
        }
    )
    return model


# ---------------------------------------------------------------------------------------------- MLflow


class UpliftPyfunc(PythonModel):
    """The pyfunc face of a MultiArmUplift: features in, ``p_<arm>`` and ``uplift_<intervention>`` out."""

    def load_context(self, context: Any) -> None:
        from catboost import CatBoostClassifier

        meta = json.loads(Path(context.artifacts["meta"]).read_text())
        spec = FeatureSpec(tuple(meta["numeric"]), tuple(meta["categorical"]))
        models = {}
        for arm in meta["arms"]:
            booster = CatBoostClassifier()
            booster.load_model(context.artifacts[f"arm_{arm}"])
            models[arm] = booster
        self.model = MultiArmUplift(spec, models, meta["metrics"], meta["skipped"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return self.model.predict(model_input).reset_index(drop=True)


def log_uplift_model(
    model: MultiArmUplift,
    registered_name: str,
    input_example: pd.DataFrame,
    params: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """Log the model as a pyfunc in a new run of the active experiment and register it; moves the ``champion``
    alias to this version when it beats random allocation. Returns (run id, version)."""
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    from ml.tracking import ML_ROOT, _requirements, git_commit

    if not model.models:
        raise ValueError("nothing to log: no arm had enough history")
    example = widen_to_float(model.spec.check(input_example.head(5)))
    with mlflow.start_run(run_name="uplift-t-learner") as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({"model_family": "catboost_t_learner", "git_commit": git_commit()})
        mlflow.log_params(
            {"arms": ",".join(model.models), **{k: str(v)[:250] for k, v in (params or {}).items()}}
        )
        mlflow.log_metrics({k: float(v) for k, v in model.metrics.items() if np.isfinite(v)})
        artifacts = {}
        for arm, booster in model.models.items():
            path = Path(tmp) / f"{arm}.cbm"
            booster.save_model(str(path))
            artifacts[f"arm_{arm}"] = str(path)
        meta = Path(tmp) / "meta.json"
        meta.write_text(
            json.dumps(
                {
                    "numeric": list(model.spec.numeric),
                    "categorical": list(model.spec.categorical),
                    "arms": list(model.models),
                    "metrics": model.metrics,
                    "skipped": model.skipped,
                }
            )
        )
        artifacts["meta"] = str(meta)
        signature = infer_signature(example, model.predict(example).reset_index(drop=True))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("uplift_pyfunc.py")),
            artifacts=artifacts,
            code_paths=[str(ML_ROOT)],
            pip_requirements=_requirements(),
            signature=signature,
            input_example=example,
            registered_model_name=registered_name,
        )
    version = str(info.registered_model_version)
    if model.beats_random:
        MlflowClient().set_registered_model_alias(registered_name, UPLIFT_ALIAS, version)
    return run.info.run_id, version


def load_uplift(registered_name: str, alias: str = UPLIFT_ALIAS) -> MultiArmUplift | None:
    """The registered uplift model under ``alias``, or None while no version holds it."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient().get_model_version_by_alias(registered_name, alias)
    except MlflowException:
        return None
    pyfunc = mlflow.pyfunc.load_model(f"models:/{registered_name}@{alias}")
    inner: MultiArmUplift = pyfunc.unwrap_python_model().model
    return inner
