"""MLflow and the churn policy as resources, so tests can point them at temporary stores and files."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from churn_platform.settings import get_settings
from ml.policy import ChurnPolicy, load_policy
from ml.tracking import configure


class MlflowResource(dg.ConfigurableResource):
    """Where runs and registered models live: a local SQLite store by default, a server by setting."""

    tracking_uri: str
    artifact_root: str
    model_name: str = "churn_model"
    experiment: str = "churn"

    def setup(self) -> str:
        return configure(self.tracking_uri, Path(self.artifact_root), self.experiment)


class PolicyResource(dg.ConfigurableResource):
    """The versioned churn policy file."""

    path: str

    def load(self) -> ChurnPolicy:
        return load_policy(Path(self.path))


@dg.definitions
def resources() -> dg.Definitions:
    settings = get_settings()
    return dg.Definitions(
        resources={
            "mlflow": MlflowResource(
                tracking_uri=settings.mlflow_uri,
                artifact_root=str(settings.mlflow_artifacts),
                model_name=settings.model_name,
            ),
            "policy": PolicyResource(path=str(settings.policy_path)),
        }
    )
