"""The retention policy file: playbooks per tier and churn factor with the interventions (arms) each may use,
the experiment's design (smallest effect worth detecting, control share, standing global holdout), adaptive
allocation between arms, cooldown, capacity, budget and costs.

Validated on load with errors that name the file and the key, because a wrong policy sends real email.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from pathlib import Path
from typing import Any, Literal

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


class Arm(_Strict):
    """One intervention a playbook may use, the channel it goes through and the message template."""

    intervention: str
    channel: Channel
    template: str = Field(min_length=1)

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, channel: str) -> str:
        return canonical_channel(channel)


class Playbook(_Strict):
    """A tier x churn factor rule and the interventions (``arms``) randomised among the customers it treats.

    A playbook of one arm may be written as before (``intervention``, ``channel``, ``template``); the first arm
    is the playbook's default (what risk-only ranking sends).
    """

    name: str = Field(min_length=1)
    tiers: tuple[Tier, ...] = Field(min_length=1)
    factors: tuple[str, ...] = Field(min_length=1)
    arms: tuple[Arm, ...] = Field(min_length=1)
    timeline_days: int = Field(ge=0, le=90)

    @model_validator(mode="before")
    @classmethod
    def _one_arm_shorthand(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        single = {k: data[k] for k in ("intervention", "channel", "template") if k in data}
        if not single:
            return data
        if "arms" in data:
            raise ValueError("give either arms or intervention/channel/template, not both")
        rest = {k: v for k, v in data.items() if k not in single}
        return {**rest, "arms": [single]}

    @model_validator(mode="after")
    def _distinct_arms(self) -> Playbook:
        kinds = [a.intervention for a in self.arms]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"an intervention appears twice among the arms: {kinds}")
        return self

    @property
    def intervention(self) -> str:
        """The default (first) arm's intervention."""
        return self.arms[0].intervention

    @property
    def channel(self) -> str:
        return self.arms[0].channel

    @property
    def template(self) -> str:
        return self.arms[0].template


class ExperimentPolicy(_Strict):
    """How campaigns are designed before launch so that their effect can be measured.

    ``minimum_effect``: the smallest save rate worth detecting (control churn minus treated churn, absolute, as a
    fraction: 0.03 is 3 points); every campaign and playbook shows its minimum detectable effect (MDE) and its
    power at this effect for its treated and control sizes. ``global_holdout``: a stable, seeded share of
    customers never contacted by any campaign (a global control group); their outcomes pool with each
    campaign's own control across waves and months. ``min_group_size``: below this many treated or control
    customers a comparison is "not yet measurable" whatever its interval says (a handful of customers who all
    stayed makes an interval look far surer than it is).
    """

    minimum_effect: float = Field(default=0.03, gt=0.0, lt=1.0)
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    power: float = Field(default=0.8, gt=0.5, lt=1.0)
    global_holdout: float = Field(default=0.05, ge=0.0, lt=0.5)
    holdout_seed: int = 0
    min_group_size: int = Field(default=30, ge=2)


CONTEXT_COLUMNS = ("factor", "segment", "risk_tier", "plan", "value_band", "playbook")
"""Decision columns the allocation's posterior may be kept per (``allocation.context``)."""


class AllocationPolicy(_Strict):
    """How customers a playbook treats are allocated between its arms, and how the best action is chosen.

    ``ranking``: ``next_best_action`` (expected net value = P(churn) x uplift x value - cost per arm; the best
    positive arm; nobody with a negative expected value is contacted) or ``risk`` (riskiest first, the
    playbook's default arm). Uplift comes from the registered uplift model once it beats random allocation on
    held-out Qini, else from the Thompson-sampling posterior per ``context`` cell. Among a customer's arms with
    a positive expected value, each is drawn with the probability that it is the best one (Thompson
    sampling), never below ``floor``. ``prior_effect`` is the relative reduction of churn assumed before any
    outcome is measured (per intervention, or one number), worth ``prior_strength`` expected churns of data;
    ``cell_strength`` is how much evidence a context cell needs before its effect strays from its arm's overall
    one; ``calibration_strength`` is what the churn model's calibration is worth for the control group's churn
    (observed over expected = 1) until the control group outgrows it.
    """

    ranking: Literal["next_best_action", "risk"] = "next_best_action"
    floor: float = Field(default=0.10, ge=0.0, le=0.5)
    prior_effect: float | dict[str, float] = 0.05
    prior_strength: float = Field(default=400.0, gt=0.0)
    cell_strength: float = Field(default=400.0, gt=0.0)
    calibration_strength: float = Field(default=400.0, gt=0.0)
    context: tuple[str, ...] = ("factor", "segment")
    draws: int = Field(default=400, ge=50, le=10_000)
    seed: int = 0
    uplift_model: str = Field(default="uplift_model", min_length=1)

    @field_validator("context")
    @classmethod
    def _known_context(cls, context: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in context if c not in CONTEXT_COLUMNS]
        if unknown:
            raise ValueError(f"unknown context column(s) {unknown}; choose from {list(CONTEXT_COLUMNS)}")
        return context

    @field_validator("prior_effect")
    @classmethod
    def _effect_range(cls, value: float | dict[str, float]) -> float | dict[str, float]:
        for v in [value] if isinstance(value, int | float) else list(value.values()):
            if not -1.0 < float(v) < 1.0:
                raise ValueError(f"a prior effect is a relative reduction of churn in (-1, 1), got {v}")
        return value

    def prior_for(self, intervention: str) -> float:
        if isinstance(self.prior_effect, int | float):
            return float(self.prior_effect)
        return float(self.prior_effect.get(intervention, 0.0))


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
    experiment: ExperimentPolicy = ExperimentPolicy()
    allocation: AllocationPolicy = AllocationPolicy()
    budget: float | None = Field(
        default=None,
        gt=0,
        description="Most a campaign run may spend on offers (expected cost); none: no cap.",
    )

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
            for j, arm in enumerate(pb.arms):
                if arm.intervention not in self.interventions:
                    raise ValueError(
                        f"{where}.arms.{j}: intervention {arm.intervention!r} has no entry under interventions"
                    )
                if arm.channel not in self.channels:
                    raise ValueError(f"{where}.arms.{j}: channel {arm.channel!r} has no entry under channels")
            bad = [f for f in pb.factors if f != "any" and f not in self.factors]
            if bad:
                raise ValueError(
                    f"{where}: unknown factor(s) {bad}; factors are {sorted(self.factors)} or 'any'"
                )
        names = [pb.name for pb in self.playbooks]
        if len(set(names)) != len(names):
            raise ValueError("playbook names must be unique")
        if isinstance(self.allocation.prior_effect, dict):
            unknown = sorted(set(self.allocation.prior_effect) - set(self.interventions))
            if unknown:
                raise ValueError(f"allocation.prior_effect: unknown intervention(s) {unknown}")
        arms = max(len(pb.arms) for pb in self.playbooks)
        if self.allocation.floor * arms > 1:
            raise ValueError(
                f"allocation.floor: {self.allocation.floor} x {arms} arms exceeds 1; lower the floor"
            )
        for factor, patterns in self.factors.items():
            if factor in ("any", "other"):
                raise ValueError(
                    f"factors.{factor}: '{factor}' is reserved (playbooks use it); name it otherwise"
                )
            if not patterns or any(not p.strip() for p in patterns):
                raise ValueError(f"factors.{factor}: give at least one feature name or pattern, none blank")
        return self

    @property
    def arm_names(self) -> list[str]:
        """Every intervention some playbook may use, in policy order."""
        seen: dict[str, None] = {}
        for pb in self.playbooks:
            for arm in pb.arms:
                seen.setdefault(arm.intervention, None)
        return list(seen)

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
