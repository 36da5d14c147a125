"""The churn policy file: tiers, value and promotion rules, validated with errors that say where."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ml.promotion import PromotionPolicy

M = TypeVar("M", bound=BaseModel)

TIERS = ("critical", "high", "medium", "low")
RANKED_TIERS = ("critical", "high", "medium")  # the tiers with a lower bound; everyone else is low

TierMethod = Literal["absolute", "rank", "lift"]
# What critical / high / medium mean under each method, when the policy leaves them out.
TIER_DEFAULTS: dict[str, dict[str, float]] = {
    "absolute": {"critical": 0.8, "high": 0.6, "medium": 0.3},
    "rank": {"critical": 0.01, "high": 0.05, "medium": 0.15},
    "lift": {"critical": 5.0, "high": 3.0, "medium": 1.5},
}
TIER_MEANINGS = {
    "absolute": "a calibrated churn probability (0 < x < 1), the tier's lower bound",
    "rank": "the share of scored customers, riskiest first, that the tier and the tiers above it hold "
    "(0 < x <= 1)",
    "lift": "a multiple of the mean calibrated churn probability of the scored customers (x > 0)",
}


class RiskTiers(BaseModel):
    """How scored customers are split into critical, high, medium and low.

    ``method``:

    - ``rank`` (default): ``critical``, ``high`` and ``medium`` are the shares of the scored customers, riskiest
      first, in that tier or a tier above it (0.01 / 0.05 / 0.15: the riskiest 1% are critical, the next 4%
      high, the next 10% medium). Whatever the company's churn rate, the worklist holds that share.
    - ``lift``: multiples of the base rate, which is the **mean calibrated churn probability of the customers
      scored in this run** (the expected churn rate of today's population): 5 / 3 / 1.5 make critical those at
      least five times as likely to churn as the average customer.
    - ``absolute``: calibrated probabilities, lower bounds (0.8 / 0.6 / 0.3). A company whose churn is rare
      may find every tier but ``low`` empty; the scoring run says so.

    Each scoring run turns the method into probability cut-offs (``ml.tiers.tier_cutoffs``), records them and
    tiers every customer by them, so a single customer can be tiered later by the same cut-offs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: TierMethod = "rank"
    # the rank method's defaults; another method's defaults replace them when the policy leaves a tier out
    critical: float = 0.01
    high: float = 0.05
    medium: float = 0.15

    @model_validator(mode="before")
    @classmethod
    def _defaults_of_the_method(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        method = data.get("method", "rank")
        defaults = TIER_DEFAULTS.get(method) if isinstance(method, str) else None
        if defaults is None:
            return data  # the method field reports the unknown method
        return {**defaults, **data}

    @field_validator("critical", "high", "medium")
    @classmethod
    def _in_range(cls, value: float, info: ValidationInfo) -> float:
        method = info.data.get("method", "rank")
        ok = {
            "absolute": 0 < value < 1,
            "rank": 0 < value <= 1,
            "lift": value > 0,
        }.get(method, True)
        if not ok:
            raise ValueError(
                f"with method {method}, {info.field_name} is {TIER_MEANINGS[method]}; got {value}"
            )
        return value

    @model_validator(mode="after")
    def _ordered(self) -> RiskTiers:
        values = f"critical {self.critical}, high {self.high}, medium {self.medium}"
        if self.method == "rank":
            if not self.critical < self.high < self.medium:
                raise ValueError(
                    "with method rank the shares must grow from critical to medium (critical < high < medium: "
                    f"the riskiest 1% are within the riskiest 5%), got {values}"
                )
        elif not self.critical > self.high > self.medium:
            raise ValueError(
                f"with method {self.method} the bounds must fall from critical to medium "
                f"(critical > high > medium), got {values}"
            )
        return self

    def parameter(self, tier: str) -> float:
        """The policy's number for a tier (a probability, a share or a multiple, as ``method`` says)."""
        if tier not in RANKED_TIERS:
            raise KeyError(f"tier {tier!r} has no parameter; tiers with one are {', '.join(RANKED_TIERS)}")
        return float(getattr(self, tier))


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
    min_roc_auc: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="An absolute ROC-AUC floor on matured labels; null (the default) turns it off: what a good "
        "ROC-AUC is depends on the company, so the alarm that fits any company is the drop below the "
        "champion's own validation ROC-AUC.",
    )
    max_roc_auc_drop: float = Field(
        default=0.03,
        ge=0,
        le=1,
        description="Alarm when the champion's ROC-AUC on the newest matured labels is more than this below "
        "its ROC-AUC on its validation snapshot (logged in its MLflow run when it was trained).",
    )
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
