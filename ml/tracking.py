"""MLflow: every training run logged with what it needs to be compared, reproduced and promoted.

Models are logged as pyfunc models whose ``predict`` returns churn probabilities (not labels), with a
signature and an input example, and registered under one name so the three families sit side by side.
Promotion moves only the ``champion`` alias; nothing here uses the deprecated stages.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel

from ml.models import ChurnModel

CHAMPION = "champion"
EXPLAINER = "explainer"
ML_ROOT = Path(__file__).resolve().parent


class ChurnProbabilityModel(PythonModel):
    """The pyfunc face of a ChurnModel: a data frame in, a ``churn_probability`` column out."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["churn_model"], "rb") as fh:
            self.model: ChurnModel = pickle.load(fh)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return pd.DataFrame({"churn_probability": self.model.predict_proba(model_input)})


def configure(tracking_uri: str, artifact_root: Path | None = None, experiment: str = "churn") -> str:
    """Point MLflow at the store and make sure the experiment exists; returns its id."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        mlflow.set_experiment(experiment)
        return str(found.experiment_id)
    location = artifact_root.as_uri() if artifact_root else None
    if artifact_root:
        artifact_root.mkdir(parents=True, exist_ok=True)
    experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment)
    return str(experiment_id)


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ML_ROOT, capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    version: str | None
    model_uri: str


def log_model_run(
    model: ChurnModel,
    metrics: dict[str, float],
    params: dict[str, Any],
    plots: list[Path],
    input_example: pd.DataFrame,
    registered_name: str | None,
    run_name: str,
    tags: dict[str, str] | None = None,
) -> LoggedModel:
    """One MLflow run: params, metrics, plots, the pyfunc model; registered when a name is given."""
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags({"model_family": model.kind, "git_commit": git_commit(), **(tags or {})})
        mlflow.log_params({k: str(v)[:250] for k, v in {**params, **_flat(model.params)}.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        for plot in plots:
            mlflow.log_artifact(str(plot), artifact_path="plots")
        example = model.spec.check(representative_rows(model.spec.check(input_example)))
        signature = infer_signature(
            example, pd.DataFrame({"churn_probability": model.predict_proba(example)})
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "churn_model.pkl"
            with path.open("wb") as fh:
                pickle.dump(model, fh)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=ChurnProbabilityModel(),
                artifacts={"churn_model": str(path)},
                code_paths=[str(ML_ROOT)],
                pip_requirements=_requirements(),
                signature=signature,
                input_example=example,
                registered_model_name=registered_name,
            )
        version = str(info.registered_model_version) if registered_name else None
        return LoggedModel(run.info.run_id, version, info.model_uri)


def representative_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Three rows that are no customer's: each numeric column at its 25th, 50th and 75th percentile, each
    categorical column at its most frequent value. MLflow keeps the input example with the model, and a real
    customer's row there would outlive that customer's erasure."""
    rows: dict[str, list[Any]] = {}
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            q = (
                values.dropna().quantile([0.25, 0.5, 0.75])
                if values.notna().any()
                else pd.Series([np.nan] * 3)
            )
            rows[col] = [float(v) for v in q]
        else:
            mode = values.mode(dropna=True)
            rows[col] = [mode.iloc[0] if len(mode) else None] * 3
    return pd.DataFrame(rows, columns=list(frame.columns))


def _requirements() -> list[str]:
    """Pinned to what trained the model; skips MLflow's slow environment inference."""
    from importlib.metadata import version

    return [
        f"{pkg}=={version(pkg)}"
        for pkg in ("mlflow", "catboost", "scikit-learn", "pandas", "numpy", "pydantic")
    ]


def _flat(params: dict[str, Any]) -> dict[str, Any]:
    return {f"model.{k}": v for k, v in params.items() if k not in {"train_dir"}}


def load_churn_model(model_uri: str) -> ChurnModel:
    """The ChurnModel inside a logged pyfunc model (for SHAP and feature specs)."""
    pyfunc = mlflow.pyfunc.load_model(model_uri)
    inner = pyfunc.unwrap_python_model()
    model: ChurnModel = inner.model
    return model


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """MLflow logs a lot at INFO level; the platform's own logs say what matters."""
    import logging

    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
