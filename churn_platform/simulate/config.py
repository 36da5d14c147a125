"""What a simulation run is asked to do, validated before any file is touched."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from churn_platform.simulate.drift import DriftKind
from churn_platform.simulate.parameters import active_profile_ref

# Customers are simulated in fixed-size chunks; the chunk size is part of the random streams, so it is a
# constant (not a tuning knob) to keep output identical whatever the machine.
CHUNK_SIZE = 100_000


class SimulationConfig(BaseModel):
    """A request to simulate a company from scratch (or, with ``advance_months``, to continue one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str = Field(
        default_factory=active_profile_ref,
        min_length=1,
        description="The company profile to simulate: a shipped name (saas, social) or a path to a YAML file; "
        "default CHURN_COMPANY_PROFILE, else saas. Its simulation: section says how.",
    )
    customers: int = Field(default=3000, ge=10, le=20_000_000, description="Accounts over the whole window.")
    start: dt.date = dt.date(2025, 1, 1)
    months: int = Field(default=12, ge=1, le=240)
    seed: int = Field(default=42, ge=0)
    landing: Path
    ground_truth: Path
    file_format: Literal["parquet", "csv"] = "parquet"
    new_customer_share: float = Field(default=0.3, ge=0.0, le=0.95)
    ledger: Path | None = None
    drift: DriftKind = Field(
        default="none", description="Shift customer behaviour from drift_month: price_rise or outage."
    )
    drift_month: int | None = Field(
        default=None,
        ge=0,
        description="Month index (from start) the drift begins; default: the first month an advance simulates, "
        "or the last month of a new company.",
    )

    @field_validator("start")
    @classmethod
    def _first_of_month(cls, value: dt.date) -> dt.date:
        if value.day != 1:
            raise ValueError(f"start must be the first day of a month, got {value.isoformat()}")
        return value

    @model_validator(mode="after")
    def _drift_month_needs_drift(self) -> SimulationConfig:
        if self.drift == "none" and self.drift_month is not None:
            raise ValueError("drift_month is set but drift is 'none': choose drift 'price_rise' or 'outage'")
        return self
