"""The retention policy file: playbooks per tier and churn factor, control share, cooldown, capacity, costs.

Validated on load with errors that name the file and the key, because a wrong policy sends real email.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from churn_platform.contract import INTERVENTIONS
from churn_platform.lib.delivery.channels import canonical_channel
from ml.policy import load_yaml_model

Tier = Literal["critical", "high", "medium", "low"]
Channel = str
"""A channel of the delivery registry (``churn_platform.lib.delivery.channels.CHANNELS``): email, sms, in_app,
team_task (``account_manager_task``, the old name, is read as team_task)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuietHours(_Strict):
    """Local hours (the customer's time zone) in which nothing is sent on a channel; may span midnight."""

    start: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    end: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are equal: leave quiet_hours out instead")
        return self

    @property
    def window(self) -> tuple[dt.time, dt.time]:
        return dt.time.fromisoformat(self.start), dt.time.fromisoformat(self.end)


class ChannelPolicy(_Strict):
    daily_capacity: int = Field(ge=0)
    quiet_hours: QuietHours | None = None


class InterventionPolicy(_Strict):
    """``offer`` is a text (in the templates' default language) or a text per language code."""

    cost: float = Field(ge=0)
    offer: str | dict[str, str]

    @field_validator("offer")
    @classmethod
    def _offer(cls, offer: str | dict[str, str]) -> str | dict[str, str]:
        texts = [offer] if isinstance(offer, str) else list(offer.values())
        if not texts or any(not t.strip() for t in texts):
            raise ValueError("every offer needs a text")
        if isinstance(offer, dict) and "en" not in offer:
            raise ValueError(f"an offer per language needs `en` (has {sorted(offer)})")
        return offer

    def offer_in(self, language: str = "en") -> str:
        """The offer in a language; English when the policy has no text for it."""
        if isinstance(self.offer, str):
            return self.offer
        return self.offer.get(language, self.offer["en"])


class Playbook(_Strict):
    name: str = Field(min_length=1)
    tiers: tuple[Tier, ...] = Field(min_length=1)
    factors: tuple[str, ...] = Field(min_length=1)
    intervention: str
    channel: Channel
    template: str = Field(min_length=1)
    timeline_days: int = Field(ge=0, le=90)

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, channel: str) -> str:
        return canonical_channel(channel)


class RetentionPolicy(_Strict):
    version: str = Field(min_length=1)
    actionable_tiers: tuple[Tier, ...] = ("critical", "high", "medium")
    control_share: float = Field(default=0.10, ge=0.0, lt=1.0)
    control_seed: int = 0
    cooldown_days: int = Field(default=30, ge=0)
    channels: dict[Channel, ChannelPolicy]
    interventions: dict[str, InterventionPolicy]
    factors: dict[str, tuple[str, ...]] = Field(
        description="Churn factor -> feature names or glob patterns (fnmatch: '*_30d', 'days_since_last_*'), "
        "in order: a feature belongs to the first factor with a matching name or pattern.",
    )
    playbooks: tuple[Playbook, ...] = Field(min_length=1)

    @field_validator("channels", mode="before")
    @classmethod
    def _known_channels(cls, channels: object) -> object:
        if not isinstance(channels, dict):
            return channels
        named = [canonical_channel(str(name)) for name in channels]
        if len(set(named)) != len(named):
            raise ValueError("a channel is listed twice (account_manager_task is team_task)")
        return dict(zip(named, channels.values(), strict=True))

    @model_validator(mode="after")
    def _consistent(self) -> RetentionPolicy:
        unknown = [k for k in self.interventions if k not in INTERVENTIONS]
        if unknown:
            raise ValueError(f"interventions: unknown {unknown}; known are {list(INTERVENTIONS)}")
        for i, pb in enumerate(self.playbooks):
            where = f"playbooks.{i} ({pb.name})"
            if pb.intervention not in self.interventions:
                raise ValueError(
                    f"{where}: intervention {pb.intervention!r} has no entry under interventions"
                )
            if pb.channel not in self.channels:
                raise ValueError(f"{where}: channel {pb.channel!r} has no entry under channels")
            bad = [f for f in pb.factors if f != "any" and f not in self.factors]
            if bad:
                raise ValueError(
                    f"{where}: unknown factor(s) {bad}; factors are {sorted(self.factors)} or 'any'"
                )
        names = [pb.name for pb in self.playbooks]
        if len(set(names)) != len(names):
            raise ValueError("playbook names must be unique")
        for factor, patterns in self.factors.items():
            if factor in ("any", "other"):
                raise ValueError(
                    f"factors.{factor}: '{factor}' is reserved (playbooks use it); name it otherwise"
                )
            if not patterns or any(not p.strip() for p in patterns):
                raise ValueError(f"factors.{factor}: give at least one feature name or pattern, none blank")
        return self

    def factor_of(self, feature: str | None) -> str:
        """The churn factor a feature belongs to: the first factor (in policy order) with an equal name or a
        matching glob pattern (``fnmatch``, case-sensitive); 'other' when none claims it."""
        if feature is None:
            return "other"
        for factor, patterns in self.factors.items():
            if any(fnmatch.fnmatchcase(feature, pattern) for pattern in patterns):
                return factor
        return "other"

    def playbook_for(self, tier: str, factor: str) -> Playbook | None:
        """First matching playbook, or None when the policy has nothing for this tier and factor."""
        for pb in self.playbooks:
            if tier in pb.tiers and (factor in pb.factors or "any" in pb.factors):
                return pb
        return None


class RetentionPolicyError(ValueError):
    """A retention policy that cannot be used; the message names the file and the key."""


def load_retention_policy(path: Path) -> RetentionPolicy:
    """Read and validate the retention policy file."""
    return load_yaml_model(path, RetentionPolicy, RetentionPolicyError)
