"""The churn policy file: tiers, value and promotion rules, validated with errors that say where."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ml.promotion import PromotionPolicy

M = TypeVar("M", bound=BaseModel)

TIERS = ("critical", "high", "medium", "low")


class RiskTiers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    critical: float = Field(default=0.8, gt=0, lt=1)
    high: float = Field(default=0.6, gt=0, lt=1)
    medium: float = Field(default=0.3, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> RiskTiers:
        if not self.critical > self.high > self.medium:
            raise ValueError(
                f"tiers must satisfy critical > high > medium, got {self.critical}, {self.high}, {self.medium}"
            )
        return self


class ValuePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    gross_margin: float = Field(default=0.8, gt=0, le=1)
    horizon_months: int = Field(default=36, ge=1, le=240)
    monthly_discount_rate: float = Field(default=0.01, ge=0, lt=1)
    expected_save_rate: float = Field(default=0.15, gt=0, le=1)
    cost_of_trying: float = Field(default=60.0, ge=0)

    @property
    def min_value(self) -> float:
        """Below this customer value, trying to keep them costs more than it is expected to return."""
        return self.cost_of_trying / self.expected_save_rate


class MonitoringPolicy(BaseModel):
    """When drift or decay is serious enough to retrain, and when to tell people."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_method: str = "wasserstein"
    cat_method: str = "jensenshannon"
    column_threshold: float = Field(default=0.1, gt=0)
    drift_share: float = Field(default=0.2, gt=0, le=1)
    prediction_drift_threshold: float = Field(default=0.1, gt=0)
    min_roc_auc: float = Field(default=0.70, ge=0, le=1)
    max_roc_auc_drop: float = Field(default=0.03, ge=0, le=1)
    reference_sample_rows: int = Field(default=50_000, ge=100)
    newly_critical_alert_min: int = Field(default=1, ge=1)
    campaign_alert_min_control: int = Field(default=30, ge=1)
    seed: int = 42


class ChurnPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    risk_tiers: RiskTiers = RiskTiers()
    value: ValuePolicy = ValuePolicy()
    promotion: PromotionPolicy = PromotionPolicy()
    explain_tiers: tuple[str, ...] = ("critical", "high", "medium")
    monitoring: MonitoringPolicy = MonitoringPolicy()

    @model_validator(mode="after")
    def _known_tiers(self) -> ChurnPolicy:
        unknown = [t for t in self.explain_tiers if t not in TIERS]
        if unknown:
            raise ValueError(f"explain_tiers names unknown tier(s) {unknown}; tiers are {list(TIERS)}")
        return self


class PolicyError(ValueError):
    """A policy file that cannot be used, with the file and the offending key in the message."""


def load_yaml_model(path: Path, model: type[M], error: type[ValueError] = PolicyError) -> M:
    """Read a YAML file into a strict pydantic model; errors name the file and the key path (``a.b``)."""
    if not path.exists():
        raise error(f"policy file {path} does not exist")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise error(f"{path}: expected a mapping at the top level")
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise error(f"{path}: {problems}") from exc


def load_policy(path: Path) -> ChurnPolicy:
    """Read and validate the churn policy file."""
    return load_yaml_model(path, ChurnPolicy)
