"""How the simulator makes one company: the ``simulation:`` section of its profile, validated.

The engine (:mod:`churn_platform.simulate.engine`) is one engine for every company; what differs between a B2B
SaaS and a consumer app (plans and prices, who signs up where, which event types carry how much of the churn
signal, renewals, reactivations, the hazard's weights) is set here. :func:`load_simulated_company` reads a
profile, validates its ``simulation:`` section with the strict models below (unknown keys rejected) and checks
it against the rest of the profile (every event type, plan, segment, channel, country and attribute named
must exist there; the sources the company does not deliver get no parameters). Errors are one line and name
the file and the key (``simulation.hazard.plan.gold``).

Rates are per customer-month; logits are additions to the monthly log-odds of churn; days and months count
calendar days and months of 30.4 days.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from churn_platform.contract import INTERVENTIONS, Contract, contract_for
from churn_platform.profile import CompanyProfile, ProfileError, load_profile, resolve_profile_path

Weights = dict[str, float]


class SimulationError(ProfileError):
    """A profile whose ``simulation:`` section cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _positive_weights(weights: Weights) -> Weights:
    if not weights:
        raise ValueError("needs at least one entry")
    bad = sorted(k for k, v in weights.items() if not v >= 0)
    if bad:
        raise ValueError(f"weights must be >= 0: {', '.join(bad)}")
    if sum(weights.values()) <= 0:
        raise ValueError("weights must not all be 0")
    return weights


class Range(_Strict):
    """A closed range [low, high]."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        return self


# ---------------------------------------------------------------------- who the customers are


class Ids(_Strict):
    """How identifiers look: customer ids are ``<prefix><zero-padded number>``; event ids sequential or UUIDs."""

    customer_prefix: str = Field(default="C", pattern=r"^[A-Za-z][A-Za-z_-]{0,7}$")
    customer_digits: int = Field(default=8, ge=4, le=12)
    event_ids: Literal["sequential", "uuid"] = "sequential"


class Names(_Strict):
    """Display names are one word from each part, joined by spaces; the email puts the id in ``{id}``."""

    parts: tuple[tuple[str, ...], ...] = Field(min_length=1)
    email: str = Field(pattern=r"^[^{}]*\{id\}[^{}]*$", description="e.g. 'billing@{id}.example.com'")

    @field_validator("parts")
    @classmethod
    def _non_empty(cls, parts: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        if any(not p for p in parts):
            raise ValueError("every part needs at least one word")
        return parts


class Segment(_Strict):
    """One customer segment: its share of signups, its usage level, seats and plan mix."""

    share: float = Field(gt=0)
    usage_log_shift: float = Field(default=0.0, description="Added to the log of the customer's event rate.")
    seat_median: float = Field(default=1.0, gt=0, description="MRR = plan price x seats x price noise.")
    seat_sd: float = Field(default=0.0, ge=0, description="Log-normal spread of seats.")
    plan_mix: Weights

    @field_validator("plan_mix")
    @classmethod
    def _mix(cls, weights: Weights) -> Weights:
        return _positive_weights(weights)


class Plan(_Strict):
    price: float = Field(gt=0, description="List price per seat and month, in the profile's currency.")


class PlanChanges(_Strict):
    """Monthly chance of moving one plan down or up (plans are ordered as listed)."""

    downgrade: float = Field(default=0.0, ge=0, le=1)
    downgrade_if_declining: float = Field(default=0.0, ge=0, le=1)
    upgrade: float = Field(default=0.0, ge=0, le=1)
    upgrade_if_healthy: float = Field(default=0.0, ge=0, le=1)
    healthy_above: float = Field(default=0.5, description="Primary engagement above which 'healthy' applies.")


class Signups(_Strict):
    """When customers sign up: existing customers' tenure at the start, and the seasonality of new ones."""

    seasonality: tuple[float, ...] = Field(
        min_length=12, max_length=12, description="Relative weight of January ... December."
    )
    existing_tenure_days: Range = Range(low=20, high=1460)


class AccountManagers(_Strict):
    """Who gets an account manager: a share per segment at signup, and a monthly chance for the others."""

    names: tuple[str, ...] = Field(min_length=1)
    at_signup: Weights = Field(default_factory=dict, description="Segment -> probability at signup.")
    monthly: Weights = Field(default_factory=dict, description="Segment -> monthly probability later.")


class Onboarding(_Strict):
    """Onboarding: the share of new customers who complete it, per segment, and how many days it takes."""

    completion: Weights = Field(description="Segment -> probability a new customer completes onboarding.")
    days: Range = Range(low=2, high=45)
    existing_share: float = Field(default=0.9, ge=0, le=1)
    existing_days: Range = Range(low=3, high=40)


class Unsubscribe(_Strict):
    base: float = Field(default=0.004, ge=0, le=1)
    if_declining: float = Field(default=0.01, ge=0, le=1)


class Reactivation(_Strict):
    """A share of churned customers come back with a new subscription period (``reactivation``)."""

    share: float = Field(ge=0, le=1)
    after_months: Range = Field(description="Months between the cancellation and the return (uniform).")

    @model_validator(mode="after")
    def _later(self) -> Reactivation:
        if self.after_months.low < 1:
            raise ValueError("after_months.low must be at least 1: a customer returns in a later month")
        return self


class Attribute(_Strict):
    """How one profile attribute is drawn, by its type: ``years`` (date: years before signup, e.g. an age),
    ``weights`` (categorical), ``true_share`` (boolean), ``mean``/``sd`` (numeric); ``change_monthly`` is the
    chance per month that it changes (a boolean toggles, a categorical is drawn again), re-delivering the
    account."""

    years: Range | None = None
    years_mean: float | None = None
    years_sd: float | None = Field(default=None, gt=0)
    weights: Weights | None = None
    true_share: float | None = Field(default=None, ge=0, le=1)
    mean: float | None = None
    sd: float | None = Field(default=None, ge=0)
    change_monthly: float = Field(default=0.0, ge=0, le=1)


# ---------------------------------------------------------------------- behaviour


class InitialEngagement(_Strict):
    mean: float = 0.0
    sd: float = Field(default=0.45, ge=0)
    declining_share: float = Field(default=0.0, ge=0, le=1)


class Dimension(_Strict):
    """One latent engagement dimension: mean-reverting, with episodes of steady decline.

    Each month: a customer not declining starts to with ``start_decline`` (+ ``start_decline_if_not_onboarded``),
    a declining one stops with ``stop_decline``; the level moves by ``-decline_step`` while declining, else by
    ``-mean_reversion`` x level, plus normal noise; it stays within [-4, 1.5].
    """

    mean_reversion: float = Field(default=0.15, ge=0, le=1)
    noise_sd: float = Field(default=0.12, ge=0)
    start_decline: float = Field(default=0.035, ge=0, le=1)
    start_decline_if_not_onboarded: float = Field(default=0.0, ge=0, le=1)
    stop_decline: float = Field(default=0.2, ge=0, le=1)
    decline_step: float = Field(default=0.45, ge=0)
    existing: InitialEngagement = InitialEngagement()
    new: InitialEngagement = InitialEngagement(mean=-0.1, sd=0.3)


class Measure(_Strict):
    """A log-normal measure of an event: duration in seconds, or a value (``decimals`` after rounding)."""

    median: float = Field(gt=0)
    sigma: float = Field(default=0.8, ge=0)
    decimals: int = Field(default=2, ge=0, le=6)


class EventType(_Strict):
    """One event type: its share of a customer's events, its loadings on the engagement dimensions
    (rate = base rate x share x exp(sum of loading x level)), its detail (the ``feature`` column) and measure."""

    share: float = Field(gt=0)
    loadings: Weights | None = Field(default=None, description="Dimension -> loading (default: primary 1).")
    details: Weights | None = Field(default=None, description="Values of the feature column, with weights.")
    measure: Measure | None = None


class Events(_Strict):
    median_per_month: float = Field(gt=0, description="Events per customer-month at engagement 0.")
    rate_sd: float = Field(default=0.45, ge=0, description="Log-normal spread of customers' base rates.")
    types: dict[str, EventType] = Field(min_length=1)


class Priority(_Strict):
    share: float = Field(ge=0)
    resolution_hours: float = Field(gt=0)
    escalation: float = Field(default=0.0, ge=0, le=1, description="Extra chance of escalation.")


class Tickets(_Strict):
    """Support tickets (only for companies that deliver ``support_tickets``)."""

    base_rate: float = Field(ge=0)
    per_segment: Weights = Field(default_factory=dict, description="Segment -> extra tickets per month.")
    low_health: float = Field(default=0.0, ge=0, description="Extra tickets when engagement < -0.5.")
    declining: float = Field(default=0.0, ge=0, description="Extra tickets while declining.")
    priorities: dict[str, Priority] = Field(min_length=1)
    categories: Weights
    escalation: float = Field(default=0.06, ge=0, le=1)
    escalation_low_health: float = Field(default=0.08, ge=0, le=1, description="Extra when engagement < -1.")
    resolution_sigma: float = Field(default=1.0, ge=0)
    stuck_share: float = Field(default=0.08, ge=0, le=1)
    stuck_if_escalated: float = Field(default=0.1, ge=0, le=1)
    stuck_days: Range = Range(low=15, high=90)
    rated_share: float = Field(default=0.55, ge=0, le=1)

    @field_validator("categories")
    @classmethod
    def _mix(cls, weights: Weights) -> Weights:
        return _positive_weights(weights)


class Payments(_Strict):
    """Invoices and their payment (only for companies that deliver ``invoices``)."""

    fail_beta: tuple[float, float] = (1.2, 30.0)
    fail_factor: Weights = Field(
        default_factory=dict, description="Segment -> multiplier of the fail chance."
    )
    fail_cap: float = Field(default=0.5, ge=0, le=1)
    recovered_share: float = Field(default=0.5, ge=0, le=1)
    late_share: float = Field(default=0.06, ge=0, le=1)
    late_if_declining: float = Field(default=0.08, ge=0, le=1)
    due_days: int = Field(default=14, ge=0, le=120)


class NpsComments(_Strict):
    low: tuple[str, ...] = Field(min_length=1)
    mid: tuple[str, ...] = Field(min_length=1)
    high: tuple[str, ...] = Field(min_length=1)


class Nps(_Strict):
    """NPS survey answers (only for companies that deliver ``nps_responses``)."""

    ask_share: float = Field(default=0.1, ge=0, le=1)
    score_mean: float = 8.0
    per_engagement: float = 1.6
    open_ticket: float = -1.2
    sd: float = Field(default=1.5, ge=0)
    comment_share: float = Field(default=0.35, ge=0, le=1)
    comments: NpsComments


# ---------------------------------------------------------------------- the churn hazard


class TenureBand(_Strict):
    min_months: float = 0.0
    max_months: float | None = None
    logit: float


class UsageTerm(_Strict):
    """Churn log-odds from the observed count of some event types (``all``, or a list) last month:
    ``decline`` per unit of -log((last + 1) / (before + 1)) capped at ``decline_cap``; ``drop_30pct`` when last
    < 0.7 x before; ``low`` per unit of log(low_reference) - log(1 + last), when positive."""

    events: Literal["all"] | tuple[str, ...] = "all"
    decline: float = 0.0
    decline_cap: float = Field(default=2.0, gt=0)
    drop_30pct: float = 0.0
    low: float = 0.0
    low_reference: float = Field(default=10.0, gt=0)


class RecencyTerm(_Strict):
    """Churn log-odds per day since the last event of some types (``all``, or a list), capped."""

    events: Literal["all"] | tuple[str, ...] = "all"
    per_day: float
    cap_days: float = Field(default=60.0, gt=0)


class AttributeHazard(_Strict):
    """An attribute's effect: ``per_year`` x (years - ``reference``) for a date (an age), ``per_unit`` x
    (value - ``reference``) for a number, ``values`` per category, ``when_true``/``when_false`` for a boolean."""

    per_year: float | None = None
    per_unit: float | None = None
    reference: float = 0.0
    values: Weights | None = None
    when_true: float | None = None
    when_false: float | None = None


class TicketHazard(_Strict):
    open: float = 0.0
    open_cap: int = Field(default=3, ge=0)
    old_open: float = 0.0
    old_open_days: float = Field(default=14.0, ge=0)
    escalations: float = 0.0
    escalations_cap: int = Field(default=2, ge=0)


class PaymentHazard(_Strict):
    failed: float = 0.0
    late: float = 0.0
    late_within_months: int = Field(default=3, ge=0)


class NpsHazard(_Strict):
    detractor: float = 0.0
    promoter: float = 0.0
    falling: float = 0.0


class OnboardingHazard(_Strict):
    logit: float
    within_months: float = Field(default=9.0, gt=0)


class Hazard(_Strict):
    """The monthly churn log-odds: an intercept plus terms on what the landing files show before the month,
    a customer's frailty (normal, ``frailty_sd``) and monthly noise (``noise_sd``)."""

    intercept: float
    frailty_sd: float = Field(default=0.3, ge=0)
    noise_sd: float = Field(default=0.15, ge=0)
    plan: Weights = Field(default_factory=dict)
    segment: Weights = Field(default_factory=dict)
    channel: Weights = Field(default_factory=dict)
    tenure: tuple[TenureBand, ...] = ()
    onboarding_incomplete: OnboardingHazard | None = None
    usage: tuple[UsageTerm, ...] = ()
    recency: tuple[RecencyTerm, ...] = ()
    account_manager: float = Field(default=0.0, description="When the account has a manager.")
    price_above_list: float = Field(
        default=0.0, description="Per unit of log(MRR / (list price x the segment's median seats))."
    )
    downgrade_within_3_months: float = 0.0
    month_of_year: dict[int, float] = Field(default_factory=dict)
    attributes: dict[str, AttributeHazard] = Field(default_factory=dict)
    tickets: TicketHazard | None = None
    payments: PaymentHazard | None = None
    nps: NpsHazard | None = None

    @field_validator("month_of_year")
    @classmethod
    def _months(cls, months: dict[int, float]) -> dict[int, float]:
        bad = sorted(m for m in months if not 1 <= m <= 12)
        if bad:
            raise ValueError(f"months are 1 to 12, got {bad}")
        return months


# ---------------------------------------------------------------------- interventions and drift


class InterventionEffect(_Strict):
    """A persuadable customer's true relative reduction of churn: ``base`` + ``price`` x tanh(2 x log price
    above list) + ``segment`` + ``learner`` x tanh(a latent learning trait), plus noise, within [0, 0.8]."""

    base: float
    price: float = 0.0
    segment: Weights = Field(default_factory=dict)
    learner: float = 0.0


class Effects(_Strict):
    archetypes: Weights = Field(description="Shares of persuadable, unmoved and sleeping_dog customers.")
    sleeping_dog_harm: Range = Range(low=0.15, high=0.4)
    noise_sd: float = Field(default=0.05, ge=0)
    interventions: dict[str, InterventionEffect]

    @model_validator(mode="after")
    def _complete(self) -> Effects:
        kinds = ("persuadable", "unmoved", "sleeping_dog")
        missing = [k for k in kinds if k not in self.archetypes]
        if missing or set(self.archetypes) - set(kinds):
            raise ValueError(f"archetypes need exactly a share for each of {', '.join(kinds)}")
        _positive_weights(self.archetypes)
        unknown = sorted(set(self.interventions) - set(INTERVENTIONS))
        missing = [i for i in INTERVENTIONS if i not in self.interventions]
        if unknown or missing:
            raise ValueError(
                f"interventions must be exactly {', '.join(INTERVENTIONS)}"
                + (f"; unknown {', '.join(unknown)}" if unknown else "")
                + (f"; missing {', '.join(missing)}" if missing else "")
            )
        return self


class PriceRise(_Strict):
    factor: float = Field(default=1.25, gt=0, description="MRR multiplier, for good.")
    shock: float = Field(default=0.6, description="Extra churn log-odds in the month of the rise.")
    after: float = Field(default=0.3, description="... and in the month after.")
    segment: Weights = Field(
        default_factory=dict, description="Segment -> weight of the reaction (default 1)."
    )


class Outage(_Strict):
    health: float = Field(default=-0.9, description="Added to every engagement dimension for the month.")
    tickets: float = Field(default=0.0, ge=0, description="Extra tickets per customer-month.")
    escalation: float = Field(default=0.0, ge=0, le=1)
    categories: Weights | None = Field(default=None, description="Ticket category mix during the outage.")


class DriftScenarios(_Strict):
    """The drift scenarios this company supports (``--drift``); a missing one is an error when asked for."""

    price_rise: PriceRise | None = None
    outage: Outage | None = None


# ---------------------------------------------------------------------- the whole section


class SimulationParameters(_Strict):
    """The ``simulation:`` section of a company profile: everything the engine needs to make the company."""

    ids: Ids = Ids()
    names: Names
    countries: Weights
    channels: Weights
    segments: dict[str, Segment] = Field(min_length=1)
    plans: dict[str, Plan] = Field(min_length=1)
    price_noise_sd: float = Field(default=0.15, ge=0)
    plan_changes: PlanChanges = PlanChanges()
    renewals: Literal["none", "monthly"] = "none"
    reactivation: Reactivation | None = None
    signups: Signups
    consent_share: float = Field(default=0.72, ge=0, le=1)
    unsubscribe: Unsubscribe = Unsubscribe()
    account_managers: AccountManagers | None = None
    onboarding: Onboarding | None = None
    attributes: dict[str, Attribute] = Field(default_factory=dict)
    engagement: dict[str, Dimension] = Field(min_length=1, description="The first is the primary dimension.")
    events: Events
    tickets: Tickets | None = None
    payments: Payments | None = None
    nps: Nps | None = None
    hazard: Hazard
    effects: Effects
    drift: DriftScenarios = DriftScenarios()

    @field_validator("countries", "channels")
    @classmethod
    def _mix(cls, weights: Weights) -> Weights:
        return _positive_weights(weights)


# ---------------------------------------------------------------------- checks against the profile


def _check_names(
    problems: list[str], key: str, names: Iterable[str], allowed: tuple[str, ...] | None, what: str
) -> None:
    """Add a problem ``<key>.<name>: not <what> (<allowed>)`` for each name not allowed (None: any is)."""
    if allowed is None:
        return
    unknown = sorted(str(n) for n in names if n not in allowed)
    for n in unknown:
        shown = ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")
        problems.append(f"{key}.{n}: not {what} ({shown})")


def _check(profile: CompanyProfile, p: SimulationParameters) -> list[str]:
    """Every name in the parameters must exist in the profile; sources not delivered get no parameters."""
    problems: list[str] = []
    s = "simulation"
    plans, segments = tuple(p.plans), tuple(p.segments)
    _check_names(problems, f"{s}.plans", p.plans, profile.allowed_values("plan"), "a plan of the profile")
    _check_names(
        problems, f"{s}.segments", p.segments, profile.allowed_values("segment"), "a segment of the profile"
    )
    _check_names(
        problems, f"{s}.countries", p.countries, profile.allowed_values("country"), "an allowed country"
    )
    _check_names(
        problems,
        f"{s}.channels",
        p.channels,
        profile.allowed_values("acquisition_channel"),
        "a channel of the profile",
    )
    for name, seg in p.segments.items():
        _check_names(
            problems, f"{s}.segments.{name}.plan_mix", seg.plan_mix, plans, "a plan of this simulation"
        )
    if p.account_managers:
        for part in ("at_signup", "monthly"):
            got = getattr(p.account_managers, part)
            _check_names(
                problems, f"{s}.account_managers.{part}", got, segments, "a segment of this simulation"
            )
    if p.onboarding:
        _check_names(problems, f"{s}.onboarding.completion", p.onboarding.completion, segments, "a segment")
    # engagement and events
    dims = tuple(p.engagement)
    types = profile.event_type_names
    missing = [t for t in types if t not in p.events.types]
    if missing:
        problems.append(f"{s}.events.types: missing the profile's event type(s) {', '.join(missing)}")
    _check_names(problems, f"{s}.events.types", p.events.types, types, "an event type of the profile")
    feature_values = profile.allowed_values("feature")
    for name, et in p.events.types.items():
        key = f"{s}.events.types.{name}"
        if et.loadings is not None:
            _check_names(problems, f"{key}.loadings", et.loadings, dims, "an engagement dimension")
        if et.details is not None:
            _check_names(problems, f"{key}.details", et.details, feature_values, "a feature of the profile")
            try:
                _positive_weights(et.details)
            except ValueError as exc:
                problems.append(f"{key}.details: {exc}")
        if name in types:
            measure = profile.event_type(name).measure
            if measure == "none" and et.measure is not None:
                problems.append(f"{key}.measure: the profile's {name} has no measure (duration or value)")
            if measure != "none" and et.measure is None:
                problems.append(f"{key}.measure: required, the profile measures {name} by {measure}")
    # optional sources
    for section, source in (
        ("tickets", "support_tickets"),
        ("payments", "invoices"),
        ("nps", "nps_responses"),
    ):
        given = getattr(p, section) is not None
        if profile.delivers(source) and not given:
            problems.append(f"{s}.{section}: required, the profile delivers {source}")
        if not profile.delivers(source) and given:
            problems.append(f"{s}.{section}: the profile does not deliver {source}; leave it out")
        if getattr(p.hazard, section) is not None and not profile.delivers(source):
            problems.append(f"{s}.hazard.{section}: the profile does not deliver {source}; leave it out")
    if p.tickets:
        _check_names(
            problems,
            f"{s}.tickets.priorities",
            p.tickets.priorities,
            profile.allowed_values("ticket_priority"),
            "a ticket priority of the profile",
        )
        _check_names(
            problems,
            f"{s}.tickets.categories",
            p.tickets.categories,
            profile.allowed_values("ticket_category"),
            "a ticket category of the profile",
        )
        _check_names(problems, f"{s}.tickets.per_segment", p.tickets.per_segment, segments, "a segment")
    if p.payments:
        _check_names(problems, f"{s}.payments.fail_factor", p.payments.fail_factor, segments, "a segment")
    # attributes
    attrs = {a.name: a for a in profile.attributes}
    for name in attrs:
        if name not in p.attributes:
            problems.append(f"{s}.attributes.{name}: missing, the profile has this attribute")
    for name, sim in p.attributes.items():
        key = f"{s}.attributes.{name}"
        if name not in attrs:
            problems.append(f"{key}: not an attribute of the profile ({', '.join(attrs) or 'none'})")
            continue
        kind = attrs[name].type
        need = {"date": "years", "categorical": "weights", "boolean": "true_share", "numeric": "mean"}[kind]
        if getattr(sim, need) is None:
            problems.append(f"{key}.{need}: required for a {kind} attribute")
        other = {"years", "years_mean", "years_sd", "weights", "true_share", "mean", "sd"} - {
            "date": {"years", "years_mean", "years_sd"},
            "categorical": {"weights"},
            "boolean": {"true_share"},
            "numeric": {"mean", "sd"},
        }[kind]
        for field in sorted(other):
            if getattr(sim, field) is not None:
                problems.append(f"{key}.{field}: does not apply to a {kind} attribute")
        if kind == "date" and sim.change_monthly:
            problems.append(f"{key}.change_monthly: a date attribute does not change")
        if kind == "categorical" and sim.weights is not None:
            _check_names(problems, f"{key}.weights", sim.weights, attrs[name].values, f"a value of {name}")
            try:
                _positive_weights(sim.weights)
            except ValueError as exc:
                problems.append(f"{key}.weights: {exc}")
    # hazard
    h, hk = p.hazard, f"{s}.hazard"
    _check_names(problems, f"{hk}.plan", h.plan, plans, "a plan of this simulation")
    _check_names(problems, f"{hk}.segment", h.segment, segments, "a segment of this simulation")
    _check_names(problems, f"{hk}.channel", h.channel, tuple(p.channels), "a channel of this simulation")
    named = [("usage", i, t.events) for i, t in enumerate(h.usage)]
    named += [("recency", i, t.events) for i, t in enumerate(h.recency)]
    for part, i, events in named:
        if events != "all":
            _check_names(problems, f"{hk}.{part}.{i}.events", events, types, "an event type of the profile")
    if h.onboarding_incomplete is not None and p.onboarding is None:
        problems.append(f"{hk}.onboarding_incomplete: needs simulation.onboarding")
    if h.account_manager and p.account_managers is None:
        problems.append(f"{hk}.account_manager: needs simulation.account_managers")
    for name, ah in h.attributes.items():
        key = f"{hk}.attributes.{name}"
        if name not in attrs:
            problems.append(f"{key}: not an attribute of the profile")
            continue
        kind = attrs[name].type
        allowed = {
            "date": {"per_year"},
            "numeric": {"per_unit"},
            "categorical": {"values"},
            "boolean": {"when_true", "when_false"},
        }[kind]
        for field in ("per_year", "per_unit", "values", "when_true", "when_false"):
            if getattr(ah, field) is not None and field not in allowed:
                problems.append(f"{key}.{field}: does not apply to a {kind} attribute")
        if ah.values is not None and kind == "categorical":
            _check_names(problems, f"{key}.values", ah.values, attrs[name].values, f"a value of {name}")
    # effects and drift
    for name, eff in p.effects.interventions.items():
        _check_names(
            problems, f"{s}.effects.interventions.{name}.segment", eff.segment, segments, "a segment"
        )
    if p.drift.price_rise:
        _check_names(
            problems, f"{s}.drift.price_rise.segment", p.drift.price_rise.segment, segments, "a segment"
        )
    out = p.drift.outage
    if out is not None and (out.tickets or out.escalation or out.categories) and p.tickets is None:
        problems.append(f"{s}.drift.outage: tickets, escalation and categories need simulation.tickets")
    if out is not None and out.categories is not None and p.tickets is not None:
        _check_names(
            problems,
            f"{s}.drift.outage.categories",
            out.categories,
            tuple(p.tickets.categories),
            "a category",
        )
    return problems


# ---------------------------------------------------------------------- the company the engine runs


def _index(values: tuple[str, ...], weights: Weights) -> np.ndarray:
    """Probabilities over ``values`` (in their order) from a name -> weight mapping; missing names weigh 0."""
    w = np.array([float(weights.get(v, 0.0)) for v in values])
    return w / w.sum()


def _lookup(values: tuple[str, ...], table: Weights, default: float = 0.0) -> np.ndarray:
    return np.array([float(table.get(v, default)) for v in values])


@dataclass(frozen=True)
class SimulatedCompany:
    """A profile with its validated simulation parameters, and the arrays the engine indexes by code.

    Codes are positions: plan ``i`` is ``plans[i]``, segment ``j`` is ``segments[j]``, and so on.
    """

    profile: CompanyProfile
    params: SimulationParameters
    contract: Contract
    path: Path

    @property
    def name(self) -> str:
        return self.profile.name

    # vocabularies in the order the engine codes them
    @property
    def plans(self) -> tuple[str, ...]:
        return tuple(self.params.plans)

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.params.segments)

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(self.params.countries)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.params.channels)

    @property
    def event_types(self) -> tuple[str, ...]:
        return self.profile.event_type_names

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(self.params.engagement)

    @property
    def plan_price(self) -> np.ndarray:
        return np.array([p.price for p in self.params.plans.values()])

    @property
    def seat_median(self) -> np.ndarray:
        return np.array([s.seat_median for s in self.params.segments.values()])

    @property
    def type_share(self) -> np.ndarray:
        t = self.params.events.types
        return np.array([t[name].share for name in self.event_types])

    @property
    def loadings(self) -> np.ndarray:
        """(event types x dimensions): how each type's log-rate follows each engagement dimension."""
        out = np.zeros((len(self.event_types), len(self.dimensions)))
        for i, name in enumerate(self.event_types):
            loadings = self.params.events.types[name].loadings or {self.dimensions[0]: 1.0}
            for j, dim in enumerate(self.dimensions):
                out[i, j] = loadings.get(dim, 0.0)
        return out

    @property
    def feature_values(self) -> tuple[str, ...]:
        """Every detail value (the ``feature`` column) any event type draws, in order of appearance."""
        seen: dict[str, None] = {}
        for name in self.event_types:
            for v in self.params.events.types[name].details or {}:
                seen.setdefault(v, None)
        return tuple(seen)

    def segment_table(self, table: Weights, default: float = 0.0) -> np.ndarray:
        return _lookup(self.segments, table, default)

    def probabilities(self, values: tuple[str, ...], weights: Weights) -> np.ndarray:
        return _index(values, weights)

    def type_indices(self, events: str | tuple[str, ...]) -> list[int]:
        """Positions of the event types a hazard term names (``all``: every type)."""
        if events == "all":
            return list(range(len(self.event_types)))
        return [self.event_types.index(t) for t in events]


def active_profile_ref() -> str:
    """The profile a simulation uses when none is named: ``CHURN_COMPANY_PROFILE``, else ``saas``."""
    from churn_platform.profile import DEFAULT_PROFILE, PROFILE_ENV

    return os.environ.get(PROFILE_ENV, "") or DEFAULT_PROFILE


def load_simulated_company(ref: str | os.PathLike[str] | None = None) -> SimulatedCompany:
    """Read a profile (name or path; None: the active one) and validate its ``simulation:`` section.

    Raises :class:`SimulationError` (a ``ValueError``) with one line naming the file and the key when the
    section is missing, has an unknown key or a bad value, or names something the profile does not have.
    """
    path = resolve_profile_path(ref if ref is not None else active_profile_ref())
    profile = load_profile(path)
    if profile.simulation is None:
        raise SimulationError(
            f"{path}: simulation: missing; the simulator makes only companies whose profile says how "
            "(see the simulation: section of churn_platform/profiles/saas.yaml)"
        )
    try:
        params = SimulationParameters.model_validate(profile.simulation)
    except ValidationError as exc:
        errors = "; ".join(
            f"simulation.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}".replace("\n", " ")
            for err in exc.errors()
        )
        raise SimulationError(f"{path}: {errors}") from exc
    problems = _check(profile, params)
    if problems:
        raise SimulationError(f"{path}: {'; '.join(problems)}")
    return SimulatedCompany(profile=profile, params=params, contract=contract_for(profile), path=path)
