"""The model registry side of MLflow: who the champion is, how it scores today's rows, moving the alias."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from ml.metrics import evaluate
from ml.models import widen_to_float
from ml.tracking import CHAMPION, EXPLAINER


@dataclass(frozen=True)
class Champion:
    name: str
    version: str
    run_id: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{CHAMPION}"


def get_alias(name: str, alias: str = CHAMPION) -> Champion | None:
    client = MlflowClient()
    try:
        mv = client.get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        return None
    return Champion(name, str(mv.version), str(mv.run_id))


def set_alias(name: str, version: str, alias: str = CHAMPION) -> None:
    """Move an alias (``champion`` or ``explainer``) to a version; nothing else changes."""
    MlflowClient().set_registered_model_alias(name, alias, version)


def score_with(model_uri: str, rows: pd.DataFrame) -> np.ndarray:
    """Churn probabilities from a logged pyfunc model (it returns probabilities, never labels)."""
    model = mlflow.pyfunc.load_model(model_uri)
    out = model.predict(widen_to_float(rows))
    return np.asarray(out["churn_probability"], dtype=float)


def champion_metric(name: str, rows: pd.DataFrame, label: str, metric: str) -> float | None:
    """The current champion's metric on exactly the rows the candidate is judged on; None if no champion."""
    champ = get_alias(name)
    if champ is None:
        return None
    p = score_with(champ.uri, rows.drop(columns=[label]))
    return evaluate(rows[label].astype(int).to_numpy(), p)[metric]


__all__ = ["CHAMPION", "EXPLAINER", "Champion", "champion_metric", "get_alias", "score_with", "set_alias"]
