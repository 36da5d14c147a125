"""A seeded simulation of a company, as its profile describes it, whose churn comes from a latent monthly hazard.

One engine makes every company: the profile (:mod:`churn_platform.profile`) says what the data looks like
(vocabularies, event types, attributes, which optional sources are delivered) and its ``simulation:``
section (:mod:`churn_platform.simulate.parameters`) how the company behaves (plans and prices, who signs up
where, how engagement evolves, how each event type follows it, renewals, reactivations, the hazard). The
landing files are exactly the company's data contract (:func:`churn_platform.contract.contract_for`).

Each month, every active customer's probability of cancelling within the month is a logistic function of
what the landing files show of the month before (per event type: level, decline and recency; tickets,
payments and NPS where delivered; tenure, plan, segment, price, channel, attributes such as age), plus a
little unobservable frailty and noise. The true probability, the outcome and each customer's true response to
every intervention are written to a ground-truth folder the pipeline never reads, so model quality, uplift
and campaign effects can be checked against the truth.

Everything is vectorised with NumPy over all customers; only usage events, the bulk of the rows, are
generated in fixed-size chunks, so memory stays bounded at millions of customers. Every random draw comes
from a stream keyed by (seed, month, purpose[, chunk]), so the same request gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from churn_platform.contract import INTERVENTIONS
from churn_platform.profile import INVOICE_STATUSES
from churn_platform.simulate.config import CHUNK_SIZE, SimulationConfig
from churn_platform.simulate.contact import COUNTRY_CONTACT
from churn_platform.simulate.drift import Drift
from churn_platform.simulate.parameters import SimulatedCompany, load_simulated_company
from churn_platform.simulate.writers import BatchWriter, make_ids, to_table

DAY_US = 86_400 * 1_000_000
HOUR_US = 3_600_000_000
DAYS_PER_MONTH = 30.4
# change_type of a subscription period, by code
CHANGE_TYPES = ("new", "upgrade", "downgrade", "renewal", "reactivation")
NEW, UPGRADE, DOWNGRADE, RENEWAL, REACTIVATION = range(5)
ARCHETYPES = ("persuadable", "unmoved", "sleeping_dog")
HEALTH_BOUNDS = (-4.0, 1.5)
NO_LAST = -1  # no event seen yet (timestamps in microseconds otherwise)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *key])))


def _month_start(start: dt.date, m: int) -> dt.date:
    y, mo = divmod(start.month - 1 + m, 12)
    return dt.date(start.year + y, mo + 1, 1)


def _days(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def _date_array(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype("int32"), type=pa.int32()).cast(pa.date32())


def _date_array_nullable(days: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(days.astype("int32"), type=pa.int32(), mask=~valid).cast(pa.date32())


def _ts_array(us: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    return pa.array(us.astype("int64"), type=pa.int64(), mask=mask).cast(pa.timestamp("us"))


def _categorical(codes: np.ndarray, values: tuple[str, ...], valid: np.ndarray | None = None) -> pa.Array:
    if not values:
        return pa.nulls(len(codes), pa.string())
    indices = pa.array(codes.astype("int32"), mask=None if valid is None else ~valid)
    return pa.DictionaryArray.from_arrays(indices, pa.array(values)).cast(pa.string())


def _draw(rng: np.random.Generator, probabilities: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category per row from a (categories x options) probability table, row ``i`` using
    ``probabilities[rows[i]]``; vectorised inverse-CDF sampling."""
    cdf = np.cumsum(probabilities, axis=1)
    u = rng.random(len(rows))
    out = (u[:, None] > cdf[rows]).sum(axis=1)
    return np.minimum(out, probabilities.shape[1] - 1)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_SLOTS = np.r_[0:8, 9:13, 14:18, 19:23, 24:36]


def _uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` random (version 4) UUIDs as text, drawn from a seeded stream: deterministic, unique in practice."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 0x0F]
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    text[:, _UUID_SLOTS] = hexed
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(text.tobytes()))


def _health_key(dim: str) -> str:
    return f"health__{dim}"


def _declining_key(dim: str) -> str:
    return f"declining__{dim}"


def _count_key(month: int, event_type: str) -> str:
    """Observed events of a type in the last (``month`` 1) or the one before (2), per full month."""
    return f"m{month}__{event_type}"


def _last_key(event_type: str) -> str:
    return f"last__{event_type}"


def _attr_key(name: str) -> str:
    return f"attr__{name}"


@dataclass
class State:
    """The company between months: per-customer arrays plus counters and open items awaiting an update."""

    arrays: dict[str, np.ndarray]
    seed: int
    start: dt.date
    next_month: int  # index (from start) of the next month to simulate
    signups_per_month: float
    profile: str = "saas"  # the name of the company profile the state belongs to
    counters: dict[str, int] = field(default_factory=dict)
    open_tickets: pa.Table | None = None  # tickets not resolved by the last batch cut
    open_invoices: pa.Table | None = None  # invoices not settled by the last batch cut
    drift: Drift | None = None  # the simulated-drift scenario, kept so a continuation stays in its regime
    list_price_factor: float = 1.0  # list price multiplier after price rises, paid by later signups

    @property
    def n(self) -> int:
        return len(self.arrays["status"])

    def next_ids(self, name: str, count: int) -> np.ndarray:
        first = self.counters.get(name, 0)
        self.counters[name] = first + count
        return np.arange(first, first + count, dtype=np.int64)


def _expected_counts(company: SimulatedCompany, a: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
    """(customers x event types): expected events per full month at each customer's engagement now."""
    levels = np.stack([a[_health_key(d)][idx] for d in company.dimensions], axis=1)
    rate = a["base_rate"][idx][:, None] * company.type_share[None, :]
    out: np.ndarray = rate * np.exp(levels @ company.loadings.T)
    return out


def _add_customers(
    company: SimulatedCompany, state: State, rng: np.random.Generator, signup_days: np.ndarray, existing: bool
) -> None:
    """Create accounts with their static traits, attributes and true intervention effects."""
    p = company.params
    k = len(signup_days)
    a: dict[str, np.ndarray] = {}
    segments = p.segments.values()
    segment_p = company.probabilities(company.segments, {n: s.share for n, s in p.segments.items()})
    seg = rng.choice(len(company.segments), size=k, p=segment_p)
    a["segment"] = seg.astype("int8")
    country_p = company.probabilities(company.countries, p.countries)
    a["country"] = rng.choice(len(company.countries), size=k, p=country_p).astype("int16")
    channel_p = company.probabilities(company.channels, p.channels)
    a["channel"] = rng.choice(len(company.channels), size=k, p=channel_p).astype("int8")
    if p.account_managers is not None:
        managed = rng.random(k) < company.segment_table(p.account_managers.at_signup)[seg]
        who = rng.integers(0, len(p.account_managers.names), size=k)
        a["manager"] = np.where(managed, who, -1).astype("int8")
    else:
        a["manager"] = np.full(k, -1, dtype="int8")
    a["signup_day"] = signup_days.astype("int64")
    a["spell_day"] = signup_days.astype("int64")  # first day of the current active spell
    a["return_day"] = np.full(k, -1, dtype="int64")  # day a churned customer will come back, -1 never
    shift = np.array([s.usage_log_shift for s in segments])[seg]
    a["base_rate"] = p.events.median_per_month * np.exp(rng.normal(shift, p.events.rate_sd))
    a["frailty"] = rng.normal(0, p.hazard.frailty_sd, size=k)
    if p.payments is not None:
        fail = (
            rng.beta(*p.payments.fail_beta, size=k) * company.segment_table(p.payments.fail_factor, 1.0)[seg]
        )
        a["pay_fail"] = np.clip(fail, 0, p.payments.fail_cap)
    seat_sd = np.array([s.seat_sd for s in segments])[seg]
    seats = company.seat_median[seg] * np.exp(rng.normal(0, 1, size=k) * seat_sd)
    mix = np.stack([company.probabilities(company.plans, s.plan_mix) for s in segments])
    plan = _draw(rng, mix, seg)
    a["plan"] = plan.astype("int8")
    price = company.plan_price[plan]
    a["mrr"] = np.round(price * seats * np.exp(rng.normal(0, p.price_noise_sd, size=k)), 2)

    # True responses to each intervention: a relative reduction of the monthly churn probability.
    # Heterogeneous by design: some are persuadable (by one offer more than others), most are unmoved,
    # a few are put off by any contact ("sleeping dogs").
    e = p.effects
    arche = rng.choice(3, size=k, p=company.probabilities(ARCHETYPES, e.archetypes))
    price_sens = np.log(a["mrr"] / (price * company.seat_median[seg]))
    learner = rng.normal(0, 1, size=k)
    noise = rng.normal(0, e.noise_sd, size=(k, len(INTERVENTIONS)))
    eff = np.zeros((k, len(INTERVENTIONS)))
    for j, name in enumerate(INTERVENTIONS):
        spec = e.interventions[name]
        eff[:, j] = (
            spec.base
            + spec.price * np.tanh(2 * price_sens)
            + company.segment_table(spec.segment)[seg]
            + spec.learner * np.tanh(learner)
        )
    eff = np.clip(eff + noise, 0.0, 0.8) * (arche == 0)[:, None]
    harm = rng.uniform(e.sleeping_dog_harm.low, e.sleeping_dog_harm.high, size=(k, 1))
    eff = np.where((arche == 2)[:, None], -harm + noise, eff)
    eff = np.where((arche == 1)[:, None], noise * 0.4, eff)
    for j, name in enumerate(INTERVENTIONS):
        a[f"effect_{name}"] = np.round(eff[:, j], 4)
    a["archetype"] = arche.astype("int8")

    a["status"] = np.full(k, 1 if existing else 0, dtype="int8")  # 0 not yet signed up, 1 active, 2 churned
    a["churn_day"] = np.full(k, -1, dtype="int64")
    a["sub_seq"] = state.next_ids("subscription", k)  # id number of the current subscription period
    a["sub_start_day"] = signup_days.astype("int64")
    a["sub_kind"] = np.full(k, NEW, dtype="int8")
    a["consent"] = rng.random(k) < p.consent_share
    a["unsubscribed"] = np.zeros(k, dtype=bool)
    a["onboard_day"] = np.full(k, -1, dtype="int64")  # -1 while incomplete
    if p.onboarding is not None and existing:
        ob = p.onboarding
        done = rng.random(k) < ob.existing_share
        took = rng.integers(int(ob.existing_days.low), int(ob.existing_days.high), size=k)
        a["onboard_day"] = np.where(done, signup_days + took, -1).astype("int64")
    for name, dim in p.engagement.items():
        init = dim.existing if existing else dim.new
        a[_health_key(name)] = rng.normal(init.mean, init.sd, size=k)
        a[_declining_key(name)] = rng.random(k) < init.declining_share
    expected = _expected_counts(company, a, np.arange(k))
    for i, t in enumerate(company.event_types):
        a[_count_key(1, t)] = (rng.poisson(expected[:, i]) if existing else np.zeros(k)).astype("float64")
        a[_count_key(2, t)] = (rng.poisson(expected[:, i]) if existing else np.zeros(k)).astype("float64")
        a[_last_key(t)] = np.full(k, NO_LAST, dtype="int64")
    a["downgrade_months"] = np.full(k, 99, dtype="int8")  # months since the last downgrade (99 none)
    if p.tickets is not None:
        a["escalations_m1"] = np.zeros(k, dtype="int64")
    if p.payments is not None:
        a["failed_m1"] = np.zeros(k, dtype=bool)
        a["failed_next"] = np.zeros(k, dtype=bool)  # failed, due next month: counts from then on
        a["late_months"] = np.full(k, 99, dtype="int8")  # months since the last late payment (99 none)
    if p.nps is not None:
        a["nps_last"] = np.full(k, -1, dtype="int8")  # -1 none
        a["nps_prev"] = np.full(k, -1, dtype="int8")
    for attr in company.profile.attributes:
        a[_attr_key(attr.name)] = _draw_attribute(company, attr.name, rng, signup_days)
    for name, values in a.items():
        old = state.arrays.get(name)
        state.arrays[name] = values if old is None else np.concatenate([old, values.astype(old.dtype)])


def _draw_attribute(
    company: SimulatedCompany, name: str, rng: np.random.Generator, signup_days: np.ndarray
) -> np.ndarray:
    """Values of one profile attribute for new customers, as the engine stores them (codes, days, numbers)."""
    spec = company.params.attributes[name]
    attr = next(a for a in company.profile.attributes if a.name == name)
    k = len(signup_days)
    if attr.type == "date":
        assert spec.years is not None
        lo, hi = spec.years.low, spec.years.high
        if spec.years_mean is None:
            years = rng.uniform(lo, hi, size=k)
        else:
            years = np.clip(rng.normal(spec.years_mean, spec.years_sd or (hi - lo) / 4, size=k), lo, hi)
        return (signup_days - np.floor(years * 365.25)).astype("int64")
    if attr.type == "categorical":
        assert spec.weights is not None
        values = tuple(spec.weights)
        return rng.choice(len(values), size=k, p=company.probabilities(values, spec.weights)).astype("int16")
    if attr.type == "boolean":
        return rng.random(k) < float(spec.true_share or 0.0)
    value = rng.normal(float(spec.mean or 0.0), float(spec.sd or 0.0), size=k)
    low = -np.inf if attr.minimum is None else attr.minimum
    high = np.inf if attr.maximum is None else attr.maximum
    return np.round(np.clip(value, low, high), 4)


def init_state(config: SimulationConfig, company: SimulatedCompany) -> State:
    """A company at the start date: existing customers with history, and the signups planned per month."""
    rng = _rng(config.seed, 0, 1)
    n_new = round(config.customers * config.new_customer_share)
    n_existing = config.customers - n_new
    state = State(
        arrays={},
        seed=config.seed,
        start=config.start,
        next_month=0,
        signups_per_month=n_new / config.months,
        profile=company.name,
    )
    start_day = _days(config.start)
    tenure = company.params.signups.existing_tenure_days
    existing_signup = start_day - rng.integers(int(tenure.low), int(tenure.high), size=n_existing)
    _add_customers(company, state, rng, np.sort(existing_signup), existing=True)
    # when each existing customer last produced each event type: a Poisson process's gap, at most 60 days
    a = state.arrays
    expected = _expected_counts(company, a, np.arange(n_existing))
    for i, t in enumerate(company.event_types):
        gap = rng.exponential(30.0 / np.maximum(expected[:, i], 0.05))
        a[_last_key(t)] = ((start_day - np.minimum(gap, 60)) * DAY_US).astype(np.int64)
    return state


def _plan_signups(
    company: SimulatedCompany, state: State, config: SimulationConfig, months: range, total: int | None
) -> None:
    """Spread new signups over the months ahead with seasonality; sign-up days are uniform in a month."""
    starts = [_month_start(state.start, m) for m in months]
    season = company.params.signups.seasonality
    weights = np.array([season[d.month - 1] for d in starts])
    expected = total if total is not None else state.signups_per_month * len(starts)
    rng = _rng(state.seed, months.start, 2)
    counts = np.floor(weights / weights.sum() * expected).astype(int)
    remainder = round(expected) - counts.sum()
    counts[: max(remainder, 0)] += 1
    for m, d, c in zip(months, starts, counts, strict=True):
        if c <= 0:
            continue
        length = (_month_start(state.start, m + 1) - d).days
        days = np.sort(_days(d) + rng.integers(0, length, size=c))
        _add_customers(company, state, rng, days, existing=False)


def churn_probability(
    company: SimulatedCompany,
    a: dict[str, np.ndarray],
    month_start: dt.date,
    rng: np.random.Generator,
    extra_logit: np.ndarray | None = None,
) -> np.ndarray:
    """True probability of churning within the month, from what was observable before it began.

    ``a`` holds the at-risk customers' arrays; the terms are the profile's ``simulation.hazard``.
    ``extra_logit`` adds log-odds that no landing file explains (a simulated drift's reaction to a price rise).
    """
    h = company.params.hazard
    day0 = _days(month_start)
    tenure_m = (day0 - a["signup_day"]) / DAYS_PER_MONTH
    logit = h.intercept + a["frailty"]
    logit = logit + company.segment_table(h.segment)[a["segment"]]
    logit = logit + np.array([h.plan.get(v, 0.0) for v in company.plans])[a["plan"]]
    if h.channel:
        logit = logit + np.array([h.channel.get(v, 0.0) for v in company.channels])[a["channel"]]
    for band in h.tenure:
        upper = np.inf if band.max_months is None else band.max_months
        logit = logit + band.logit * ((tenure_m >= band.min_months) & (tenure_m < upper))
    if h.onboarding_incomplete is not None:
        onboarded = (a["onboard_day"] >= 0) & (a["onboard_day"] < day0)
        within = tenure_m < h.onboarding_incomplete.within_months
        logit = logit + h.onboarding_incomplete.logit * (~onboarded & within)
    for term in h.usage:
        types = [company.event_types[i] for i in company.type_indices(term.events)]
        last = np.sum([a[_count_key(1, t)] for t in types], axis=0)
        before = np.sum([a[_count_key(2, t)] for t in types], axis=0)
        if term.decline:
            decline = np.clip(-np.log((last + 1) / (before + 1)), 0, term.decline_cap)
            logit = logit + term.decline * decline
        if term.drop_30pct:
            logit = logit + term.drop_30pct * (last < 0.7 * before)
        if term.low:
            logit = logit + term.low * np.clip(np.log(term.low_reference) - np.log1p(last), 0, None)
    for rec in h.recency:
        types = [company.event_types[i] for i in company.type_indices(rec.events)]
        seen = np.max([a[_last_key(t)] for t in types], axis=0)
        since = np.where(
            seen >= 0,
            (day0 * DAY_US - seen) / DAY_US,
            np.minimum(tenure_m * DAYS_PER_MONTH, rec.cap_days),
        )
        logit = logit + rec.per_day * np.clip(since, 0, rec.cap_days)
    if h.account_manager:
        logit = logit + h.account_manager * (a["manager"] >= 0)
    if h.tickets is not None:
        t = h.tickets
        logit = logit + t.open * np.minimum(a["_open_tickets"], t.open_cap)
        logit = logit + t.old_open * (a["_oldest_open_days"] > t.old_open_days)
        logit = logit + t.escalations * np.minimum(a["escalations_m1"], t.escalations_cap)
    if h.payments is not None:
        logit = logit + h.payments.failed * a["failed_m1"]
        logit = logit + h.payments.late * (a["late_months"] <= h.payments.late_within_months)
    if h.nps is not None:
        logit = logit + h.nps.detractor * ((a["nps_last"] >= 0) & (a["nps_last"] <= 6))
        logit = logit + h.nps.promoter * (a["nps_last"] >= 9)
        logit = logit + h.nps.falling * ((a["nps_prev"] >= 0) & (a["nps_last"] <= a["nps_prev"] - 2))
    if h.downgrade_within_3_months:
        logit = logit + h.downgrade_within_3_months * (a["downgrade_months"] <= 3)
    if h.price_above_list:
        price = np.log(a["mrr"] / (company.plan_price[a["plan"]] * company.seat_median[a["segment"]]))
        logit = logit + h.price_above_list * price
    logit = logit + h.month_of_year.get(month_start.month, 0.0)
    for name, effect in h.attributes.items():
        values = a[_attr_key(name)]
        if effect.per_year is not None:  # a date: years between it and the month start (an age)
            logit = logit + effect.per_year * ((day0 - values) / 365.25 - effect.reference)
        if effect.per_unit is not None:
            logit = logit + effect.per_unit * (values - effect.reference)
        if effect.values is not None:
            spec = company.params.attributes[name].weights or {}
            logit = logit + np.array([effect.values.get(v, 0.0) for v in spec])[values]
        if effect.when_true is not None:
            logit = logit + effect.when_true * values.astype(bool)
        if effect.when_false is not None:
            logit = logit + effect.when_false * ~values.astype(bool)
    if extra_logit is not None:
        logit = logit + extra_logit
    logit = logit + rng.normal(0, h.noise_sd, size=len(logit))
    out: np.ndarray = 1.0 / (1.0 + np.exp(-logit))
    return out


def read_ledger(path: Path | None) -> pa.Table | None:
    """Read the platform's send ledger (Parquet or CSV) if it exists; it closes the simulation loop."""
    if path is None or not path.exists():
        return None
    if path.suffix == ".csv":
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(column_types={"customer_id": pa.string()})
        )
    else:
        table = pq.read_table(path)
    missing = {"customer_id", "intervention", "snapshot_date"} - set(table.column_names)
    if missing:
        raise ValueError(f"send ledger {path} lacks column(s) {sorted(missing)}")
    return table.select(["customer_id", "intervention", "snapshot_date"])


@dataclass(frozen=True)
class MonthWindow:
    """The month being simulated: who is active, each one's active days within it, and where rows go."""

    m: int
    active: np.ndarray
    win_lo: np.ndarray  # first active day, relative to the month start
    win_hi: np.ndarray  # day after the last active day
    d0: int  # month start, days since the epoch
    d1: int  # next month start (the batch date)
    length: int
    cut_us: int
    writer: BatchWriter


@dataclass
class MonthResult:
    batch_date: str
    rows: dict[str, int]
    active: int
    churned: int
    treated: int
    reactivated: int = 0


class _Periods:
    """Subscription rows of one batch, appended as periods open and close; the last version of each wins."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        a: dict[str, np.ndarray],
        idx: np.ndarray,
        end: np.ndarray | None,
        cancel: np.ndarray | None,
        upd: np.ndarray,
    ) -> None:
        """Append the current state of these customers' running periods (closed when ``end`` is given)."""
        k = len(idx)
        none = np.full(k, -1, dtype=np.int64)
        self.parts.append(
            {
                "seq": a["sub_seq"][idx].copy(),
                "idx": idx.astype(np.int64),
                "plan": a["plan"][idx].copy(),
                "mrr": a["mrr"][idx].copy(),
                "kind": a["sub_kind"][idx].copy(),
                "start": a["sub_start_day"][idx].copy(),
                "end": none if end is None else end.astype(np.int64),
                "cancel": none if cancel is None else cancel.astype(np.int64),
                "upd": upd.astype(np.int64),
            }
        )

    def rows(self) -> dict[str, np.ndarray]:
        if not self.parts:
            return {}
        rows = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        # the last version of each period (ordered by id): a period opened and closed in one batch is one row
        _, first_from_end = np.unique(rows["seq"][::-1], return_index=True)
        keep = len(rows["seq"]) - 1 - first_from_end
        return {k: v[keep] for k, v in rows.items()}


class Simulator:
    """Runs months of the company forward, writing one landing batch and one ground-truth file per month."""

    def __init__(self, config: SimulationConfig, state: State, company: SimulatedCompany) -> None:
        self.config = config
        self.state = state
        self.company = company
        self.params = company.params
        self.sources = company.contract.sources
        self.ledger = read_ledger(config.ledger)

    # ------------------------------------------------------------------ ids
    def _customer_ids(self, idx: np.ndarray) -> pa.Array:
        ids = self.params.ids
        return make_ids(ids.customer_prefix, idx, ids.customer_digits)

    def _customer_index(self, ids: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of customer ids this company issued; (index, which input rows were ours)."""
        prefix = self.params.ids.customer_prefix
        text = pc.cast(ids, pa.string())
        digits = pc.utf8_slice_codeunits(text, len(prefix))
        ours = pc.and_(pc.starts_with(text, prefix), pc.match_substring_regex(digits, r"^[0-9]+$"))
        ok = np.asarray(ours.to_numpy(zero_copy_only=False), dtype=bool) & np.asarray(
            pc.is_valid(text).to_numpy(zero_copy_only=False), dtype=bool
        )
        idx = np.full(len(text), -1, dtype=np.int64)
        if ok.any():
            idx[ok] = pc.cast(pc.filter(digits, pa.array(ok)), pa.int64()).to_numpy(zero_copy_only=False)
        ok &= (idx >= 0) & (idx < self.state.n)
        return idx[ok], ok

    # ------------------------------------------------------------------ main loop
    def run_month(self, m: int) -> MonthResult:
        st, a, seed = self.state, self.state.arrays, self.state.seed
        month_start = _month_start(st.start, m)
        month_end = _month_start(st.start, m + 1)
        d0, d1 = _days(month_start), _days(month_end)
        length = d1 - d0
        batch_date = month_end.isoformat()
        writer = BatchWriter(self.config.landing, batch_date, self.config.file_format, self.sources)
        cut_us = d1 * DAY_US
        rng = _rng(seed, m + 1, 10)
        periods = _Periods()

        # 0. a simulated price rise takes effect on the first day of its month
        self._raise_prices(m, d0, periods)

        # 1. who is at risk this month, and their true churn probability
        at_risk = np.flatnonzero((a["status"] == 1) & (a["spell_day"] < d0))
        if self.params.tickets is not None:
            self._open_item_features(d0)
        sub = {k: v[at_risk] for k, v in a.items()}
        p_untreated = churn_probability(self.company, sub, month_start, rng, self._drift_reaction(m, sub))
        treatment = self._treatments(at_risk, month_start)
        tau = np.zeros(len(at_risk))
        treated = treatment >= 0
        for j, name in enumerate(INTERVENTIONS):
            sel = treatment == j
            tau[sel] = a[f"effect_{name}"][at_risk[sel]]
        p = np.clip(p_untreated * (1 - tau), 0, 0.999)
        churns = rng.random(len(at_risk)) < p
        churn_idx = at_risk[churns]
        churn_days = d0 + rng.integers(0, min(length, 30), size=len(churn_idx))
        a["churn_day"][churn_idx] = churn_days
        self._schedule_returns(m, churn_idx, churn_days, d1)
        self._write_truth(month_start, at_risk, p, p_untreated, treatment, churns)

        # 2. signups of the month become active from their signup day; churned customers may come back
        new_idx = np.flatnonzero((a["status"] == 0) & (a["signup_day"] >= d0) & (a["signup_day"] < d1))
        a["status"][new_idx] = 1
        if st.list_price_factor != 1.0:
            a["mrr"][new_idx] = np.round(a["mrr"][new_idx] * st.list_price_factor, 2)
        returned = self._reactivate(m, d0, d1)

        # 3. engagement evolves: mean reversion, a chance to start or stop disengaging, noise
        active = np.flatnonzero(a["status"] == 1)
        self._evolve(rng, active)

        # window of activity within the month, in days from d0
        win_lo = (np.maximum(a["spell_day"][active], d0) - d0).astype(np.int64)
        win_hi = np.where(a["churn_day"][active] >= d0, a["churn_day"][active], d1) - d0
        win_hi = np.maximum(win_hi, win_lo).astype(np.int64)

        # 4. usage events in chunks
        w = MonthWindow(m, active, win_lo, win_hi, d0, d1, length, cut_us, writer)
        self._usage_events(w)

        # 5. the optional sources the company delivers, then subscriptions and accounts
        if self.params.tickets is not None:
            self._tickets(w)
        if self.params.nps is not None:
            self._nps(w)
        if self.params.payments is not None:
            self._invoices(w)
        self._subscriptions_and_accounts(w, new_idx, returned, churn_idx, periods)

        a["status"][churn_idx] = 2
        st.next_month = m + 1
        rows = writer.close()
        return MonthResult(batch_date, rows, len(at_risk), len(churn_idx), int(treated.sum()), len(returned))

    # ------------------------------------------------------------------ engagement and reactivation
    def _evolve(self, rng: np.random.Generator, active: np.ndarray) -> None:
        a = self.state.arrays
        not_onboarded = a["onboard_day"][active] < 0
        for name, dim in self.params.engagement.items():
            hk, dk = _health_key(name), _declining_key(name)
            start_decline = rng.random(len(active)) < (
                dim.start_decline + dim.start_decline_if_not_onboarded * not_onboarded
            )
            stop_decline = rng.random(len(active)) < dim.stop_decline
            dec = np.where(a[dk][active], ~stop_decline, start_decline)
            a[dk][active] = dec
            level = a[hk][active]
            step = np.where(dec, -dim.decline_step, -dim.mean_reversion * level)
            a[hk][active] = np.clip(level + step + rng.normal(0, dim.noise_sd, len(active)), *HEALTH_BOUNDS)

    def _schedule_returns(self, m: int, churn_idx: np.ndarray, churn_days: np.ndarray, d1: int) -> None:
        """Decide which of this month's churners will come back, and when (a later month)."""
        spec = self.params.reactivation
        if spec is None or len(churn_idx) == 0:
            return
        rng = _rng(self.state.seed, m + 1, 11)
        back = rng.random(len(churn_idx)) < spec.share
        gap = rng.uniform(spec.after_months.low, spec.after_months.high, size=len(churn_idx)) * DAYS_PER_MONTH
        day = np.maximum(churn_days + np.floor(gap).astype(np.int64), d1)
        self.state.arrays["return_day"][churn_idx] = np.where(back, day, -1)

    def _reactivate(self, m: int, d0: int, d1: int) -> np.ndarray:
        """Churned customers whose return falls in this month start a new spell (``reactivation`` period)."""
        st, a = self.state, self.state.arrays
        idx = np.flatnonzero((a["status"] == 2) & (a["return_day"] >= d0) & (a["return_day"] < d1))
        if len(idx) == 0:
            return idx
        rng = _rng(st.seed, m + 1, 12)
        day = a["return_day"][idx]
        a["status"][idx] = 1
        a["spell_day"][idx] = day
        a["churn_day"][idx] = -1
        a["return_day"][idx] = -1
        a["sub_seq"][idx] = st.next_ids("subscription", len(idx))
        a["sub_start_day"][idx] = day
        a["sub_kind"][idx] = REACTIVATION
        for name, dim in self.params.engagement.items():
            a[_health_key(name)][idx] = rng.normal(dim.new.mean, dim.new.sd, size=len(idx))
            a[_declining_key(name)][idx] = False
        for t in self.company.event_types:
            a[_count_key(1, t)][idx] = 0.0
            a[_count_key(2, t)][idx] = 0.0
        return idx

    # ------------------------------------------------------------------ simulated drift
    def _raise_prices(self, m: int, d0: int, periods: _Periods) -> None:
        """Apply a price rise starting this month: raise every active customer's MRR for good.

        Each running subscription period ends the day before and a new one (change_type ``new``: new terms,
        same plan) opens at the raised MRR, so the pipeline sees the old MRR up to the rise and the new one
        after it.
        """
        st, a = self.state, self.state.arrays
        rise = self.params.drift.price_rise
        if st.drift is None or not st.drift.price_rise_at(m) or rise is None:
            return
        idx = np.flatnonzero(a["status"] == 1)
        periods.add(a, idx, np.full(len(idx), d0 - 1), None, np.full(len(idx), d0))
        a["mrr"][idx] = np.round(a["mrr"][idx] * rise.factor, 2)
        a["sub_seq"][idx] = st.next_ids("subscription", len(idx))
        a["sub_start_day"][idx] = d0
        a["sub_kind"][idx] = NEW
        periods.add(a, idx, None, None, np.full(len(idx), d0))
        st.list_price_factor *= rise.factor

    def _drift_reaction(self, m: int, sub: dict[str, np.ndarray]) -> np.ndarray | None:
        """Extra churn log-odds of the at-risk customers this month from a price rise, None without one."""
        drift, rise = self.state.drift, self.params.drift.price_rise
        if drift is None or rise is None:
            return None
        rise_day = _days(_month_start(self.state.start, drift.month))
        weight = self.company.segment_table(rise.segment, 1.0)[sub["segment"]]
        return drift.reaction_logit(m, weight, sub["signup_day"], rise_day, rise.shock, rise.after)

    def _health(self, m: int, idx: np.ndarray, dim: str | None = None) -> np.ndarray:
        """The month's engagement of these customers on a dimension (default the primary one), lowered for
        everyone during an outage."""
        level = self.state.arrays[_health_key(dim or self.company.dimensions[0])][idx]
        drift, outage = self.state.drift, self.params.drift.outage
        if drift is None or outage is None or not drift.outage_at(m):
            return level
        return level + drift.health_shock(m, outage.health)

    # ------------------------------------------------------------------ pieces
    def _treatments(self, at_risk: np.ndarray, month_start: dt.date) -> np.ndarray:
        """Index of the intervention each at-risk customer received for this month, -1 for none."""
        out = np.full(len(at_risk), -1, dtype=np.int64)
        if self.ledger is None or len(at_risk) == 0:
            return out
        snap = pc.cast(self.ledger.column("snapshot_date"), pa.date32())
        rows = self.ledger.filter(pc.equal(snap, pa.scalar(month_start, pa.date32())))
        if rows.num_rows == 0:
            return out
        idx, ours = self._customer_index(rows.column("customer_id"))
        kinds = np.asarray(rows.column("intervention").to_pylist(), dtype=object)[ours]
        known = np.array([k in INTERVENTIONS for k in kinds], dtype=bool)
        idx = idx[known]
        kind = np.array([INTERVENTIONS.index(k) for k in kinds[known]], dtype=np.int64)
        pos = np.searchsorted(at_risk, idx)
        ok = (pos < len(at_risk)) & (at_risk[np.minimum(pos, len(at_risk) - 1)] == idx)
        # the first intervention recorded for a customer is the one that counts
        order = np.argsort(pos[ok], kind="stable")[::-1]
        out[pos[ok][order]] = kind[ok][order]
        return out

    def _open_item_features(self, d0: int) -> None:
        a = self.state.arrays
        n = self.state.n
        a["_open_tickets"] = np.zeros(n)
        a["_oldest_open_days"] = np.zeros(n)
        t = self.state.open_tickets
        if t is not None and t.num_rows:
            cust = t.column("_idx").to_numpy()
            opened = t.column("_opened_us").to_numpy()
            a["_open_tickets"] = np.bincount(cust, minlength=n).astype(float)
            age = (d0 * DAY_US - opened) / DAY_US
            oldest = np.zeros(n)
            np.maximum.at(oldest, cust, age)
            a["_oldest_open_days"] = oldest

    def _usage_events(self, w: MonthWindow) -> None:
        a, seed, company = self.state.arrays, self.state.seed, self.company
        types = company.event_types
        specs = [self.params.events.types[t] for t in types]
        feature_values = company.feature_values
        detail_codes = [
            None if s.details is None else np.array([feature_values.index(v) for v in s.details])
            for s in specs
        ]
        detail_p = [
            None if s.details is None else company.probabilities(tuple(s.details), s.details) for s in specs
        ]
        measures = [company.profile.event_type(t).measure for t in types]
        uuid_ids = self.params.ids.event_ids == "uuid"
        for t in types:
            a[_count_key(2, t)][w.active] = a[_count_key(1, t)][w.active]
        for c, lo in enumerate(range(0, len(w.active), CHUNK_SIZE)):
            rng = _rng(seed, w.m + 1, 20, c)
            idx = w.active[lo : lo + CHUNK_SIZE]
            wl, wh = w.win_lo[lo : lo + CHUNK_SIZE], w.win_hi[lo : lo + CHUNK_SIZE]
            frac = (wh - wl) / w.length
            levels = np.stack([self._health(w.m, idx, d) for d in company.dimensions], axis=1)
            lam = (a["base_rate"][idx] * frac)[:, None] * company.type_share[None, :]
            counts = rng.poisson(lam * np.exp(levels @ company.loadings.T))  # (k, types)
            scale = np.where(frac > 0, 1.0 / np.maximum(frac, 1e-9), 0.0)
            for i, t in enumerate(types):
                a[_count_key(1, t)][idx] = counts[:, i] * scale
            total = counts.sum(axis=1)
            rows = int(total.sum())
            if rows == 0:
                continue
            owner = np.repeat(np.arange(len(idx)), total)
            etype = np.repeat(np.tile(np.arange(len(types)), len(idx)), counts.reshape(-1))
            start_us = (w.d0 + wl[owner]) * DAY_US
            span_us = (wh - wl)[owner] * DAY_US
            ts = start_us + (rng.random(rows) * span_us).astype(np.int64)
            order = np.lexsort((ts, owner))
            owner, etype, ts = owner[order], etype[order], ts[order]
            feature = np.full(rows, -1, dtype=np.int64)
            duration = np.zeros(rows, dtype=np.int64)
            has_duration = np.zeros(rows, dtype=bool)
            value = np.zeros(rows)
            has_value = np.zeros(rows, dtype=bool)
            for i, t in enumerate(types):
                sel = np.flatnonzero(etype == i)
                if len(sel) == 0:
                    continue
                codes, probs = detail_codes[i], detail_p[i]
                if codes is not None and probs is not None:
                    feature[sel] = codes[rng.choice(len(codes), size=len(sel), p=probs)]
                spec = specs[i].measure
                if spec is not None:
                    drawn = rng.lognormal(np.log(spec.median), spec.sigma, size=len(sel))
                    if measures[i] == "duration":
                        duration[sel] = np.minimum(drawn, 86_400).astype(np.int64)
                        has_duration[sel] = True
                    else:
                        value[sel] = np.round(drawn, spec.decimals)
                        has_value[sel] = True
                # the last event of each customer of this type (rows are ordered by customer, then time)
                own = owner[sel]
                ends = sel[np.flatnonzero(np.r_[own[1:] != own[:-1], True])]
                key = _last_key(t)
                a[key][idx[owner[ends]]] = np.maximum(a[key][idx[owner[ends]]], ts[ends])
            if uuid_ids:
                event_ids = _uuids(_rng(seed, w.m + 1, 21, c), rows)
            else:
                event_ids = make_ids("E", self.state.next_ids("event", rows), 10)
            cust_ids = self._customer_ids(idx)
            table = to_table(
                self.sources["usage_events"],
                {
                    "event_id": event_ids,
                    "customer_id": pa.DictionaryArray.from_arrays(pa.array(owner.astype("int32")), cust_ids),
                    "event_ts": _ts_array(ts),
                    "event_type": _categorical(etype, types),
                    "feature": _categorical(np.maximum(feature, 0), feature_values, valid=feature >= 0),
                    "duration_seconds": pa.array(duration, mask=~has_duration),
                    "value": pa.array(value, mask=~has_value),
                },
            )
            w.writer.write("usage_events", table)

    def _tickets(self, w: MonthWindow) -> None:
        m, active, win_lo, win_hi, d0, cut_us = w.m, w.active, w.win_lo, w.win_hi, w.d0, w.cut_us
        a, st, spec = self.state.arrays, self.state, self.params.tickets
        assert spec is not None
        rng = _rng(st.seed, m + 1, 30)
        a["escalations_m1"][:] = 0
        frac = (win_hi - win_lo) / 30.0
        health = self._health(m, active)
        primary = self.company.dimensions[0]
        outage = self.params.drift.outage if st.drift is not None and st.drift.outage_at(m) else None
        rate = (
            spec.base_rate
            + self.company.segment_table(spec.per_segment)[a["segment"][active]]
            + spec.low_health * (health < -0.5)
            + spec.declining * a[_declining_key(primary)][active]
        ) * frac
        if outage is not None:
            rate = rate + outage.tickets * frac
        counts = rng.poisson(rate)
        owner = np.repeat(active, counts)
        k = len(owner)
        rel_lo = np.repeat(win_lo, counts)
        rel_hi = np.repeat(win_hi, counts)
        opened = (d0 + rel_lo) * DAY_US + (rng.random(k) * (rel_hi - rel_lo) * DAY_US).astype(np.int64)
        priorities = tuple(spec.priorities)
        categories = tuple(spec.categories)
        prio = spec.priorities.values()
        priority_p = self.company.probabilities(priorities, {n: q.share for n, q in spec.priorities.items()})
        priority = rng.choice(len(priorities), size=k, p=priority_p)
        mix = outage.categories if outage is not None and outage.categories is not None else spec.categories
        category = rng.choice(len(categories), size=k, p=self.company.probabilities(categories, mix))
        escalate_p = (
            spec.escalation
            + np.array([p.escalation for p in prio])[priority]
            + spec.escalation_low_health * (self._health(m, owner) < -1)
        )
        if outage is not None:
            escalate_p = escalate_p + outage.escalation
        escalated = rng.random(k) < escalate_p
        hours = rng.lognormal(
            np.log(np.array([p.resolution_hours for p in prio])[priority]), spec.resolution_sigma
        )
        stuck = rng.random(k) < spec.stuck_share + spec.stuck_if_escalated * escalated
        hours = np.where(
            stuck, rng.uniform(spec.stuck_days.low * 24, spec.stuck_days.high * 24, size=k), hours
        )
        resolved = opened + (hours * HOUR_US).astype(np.int64)
        rated = rng.random(k) < spec.rated_share
        sat = np.clip(np.round(4.6 - 0.35 * np.log1p(hours / 24) + rng.normal(0, 0.8, k)), 1, 5).astype(
            np.int64
        )
        np.add.at(a["escalations_m1"], owner, escalated.astype(np.int64))
        ticket_num = st.next_ids("ticket", k)
        new = pa.table(
            {
                "_idx": pa.array(owner, type=pa.int64()),
                "_num": pa.array(ticket_num),
                "_opened_us": pa.array(opened),
                "_resolved_us": pa.array(resolved),
                "_priority": pa.array(priority),
                "_category": pa.array(category),
                "_escalated": pa.array(escalated),
                "_sat": pa.array(sat),
                "_rated": pa.array(rated),
            }
        )
        # tickets delivered now: opened this month, plus earlier ones resolved this month
        pending = st.open_tickets
        if pending is not None and pending.num_rows:
            done_now = pc.less(pending.column("_resolved_us"), cut_us)
            earlier = pending.filter(done_now)
            still_open = pending.filter(pc.invert(done_now))
        else:
            earlier, still_open = new.slice(0, 0), new.slice(0, 0)
        deliver = pa.concat_tables([earlier, new])
        res_us = deliver.column("_resolved_us").to_numpy()
        is_res = res_us < cut_us
        upd = np.where(is_res, res_us, deliver.column("_opened_us").to_numpy())
        idx = deliver.column("_idx").to_numpy()
        table = to_table(
            self.sources["support_tickets"],
            {
                "ticket_id": make_ids("T", deliver.column("_num").to_numpy(), 9),
                "customer_id": self._customer_ids(idx),
                "opened_at": _ts_array(deliver.column("_opened_us").to_numpy()),
                "resolved_at": _ts_array(res_us, valid=is_res),
                "priority": _categorical(deliver.column("_priority").to_numpy(), priorities),
                "category": _categorical(deliver.column("_category").to_numpy(), categories),
                "escalated": deliver.column("_escalated"),
                "satisfaction": pa.array(
                    deliver.column("_sat").to_numpy(), mask=~(is_res & deliver.column("_rated").to_numpy())
                ),
                "updated_at": _ts_array(upd),
            },
        )
        w.writer.write("support_tickets", table)
        new_open = new.filter(pc.greater_equal(new.column("_resolved_us"), cut_us))
        # a churned customer's open tickets are closed out of sight (never re-delivered)
        remaining = pa.concat_tables([still_open, new_open])
        alive = a["churn_day"][remaining.column("_idx").to_numpy()] < 0
        st.open_tickets = remaining.filter(pa.array(alive))

    def _nps(self, w: MonthWindow) -> None:
        m, active, win_lo, win_hi, d0 = w.m, w.active, w.win_lo, w.win_hi, w.d0
        a, st, spec = self.state.arrays, self.state, self.params.nps
        assert spec is not None
        rng = _rng(st.seed, m + 1, 40)
        asked = (rng.random(len(active)) < spec.ask_share) & (win_hi > win_lo)
        idx = active[asked]
        k = len(idx)
        open_tickets = a["_open_tickets"][idx] > 0 if "_open_tickets" in a else np.zeros(k, dtype=bool)
        score = (
            spec.score_mean
            + spec.per_engagement * self._health(m, idx)
            + spec.open_ticket * open_tickets
            + rng.normal(0, spec.sd, k)
        )
        score = np.clip(np.round(score), 0, 10).astype(np.int64)
        day = d0 + win_lo[asked] + (rng.random(k) * (win_hi - win_lo)[asked]).astype(np.int64)
        band = np.where(score <= 6, 0, np.where(score <= 8, 1, 2))
        texts = [spec.comments.low, spec.comments.mid, spec.comments.high]
        pick = rng.random(k)
        has_comment = rng.random(k) < spec.comment_share
        comment = [
            texts[b][int(p * len(texts[b]))] if c else None
            for b, p, c in zip(band, pick, has_comment, strict=True)
        ]
        a["nps_prev"][idx] = a["nps_last"][idx]
        a["nps_last"][idx] = score.astype("int8")
        table = to_table(
            self.sources["nps_responses"],
            {
                "response_id": make_ids("N", st.next_ids("nps", k), 9),
                "customer_id": self._customer_ids(idx),
                "responded_at": _date_array(day),
                "score": score,
                "comment": pa.array(comment, type=pa.string()),
            },
        )
        w.writer.write("nps_responses", table)

    def _invoices(self, w: MonthWindow) -> None:
        """Invoices are issued on the signup anniversary day; they settle on time, late, or fail."""
        m, active, win_lo, win_hi, d0, d1 = w.m, w.active, w.win_lo, w.win_hi, w.d0, w.d1
        a, st, spec = self.state.arrays, self.state, self.params.payments
        assert spec is not None
        rng = _rng(st.seed, m + 1, 50)
        length = d1 - d0
        anniv = np.minimum(_day_of_month(a["signup_day"][active]), length - 1)
        billed = (anniv >= win_lo) & (anniv < win_hi)
        idx = active[billed]
        k = len(idx)
        issued = d0 + anniv[billed]
        due = issued + spec.due_days
        declining = a[_declining_key(self.company.dimensions[0])][idx]
        fail = rng.random(k) < a["pay_fail"][idx]
        recovered = fail & (rng.random(k) < spec.recovered_share)
        late = ~fail & (rng.random(k) < spec.late_share + spec.late_if_declining * declining)
        paid = np.where(
            fail,
            np.where(recovered, due + rng.integers(3, 25, size=k), -1),
            np.where(late, due + rng.integers(1, 30, size=k), issued + rng.integers(0, 12, size=k)),
        )
        attempts = np.where(fail, rng.integers(1, 4, size=k), 0)
        amount = np.round(a["mrr"][idx], 2)
        a["late_months"][active] = np.minimum(a["late_months"][active].astype(int) + 1, 99)
        a["late_months"][idx[late | recovered]] = 0
        # a payment fails on its due date: a failure due next month moves churn only once it has happened
        # (and is in the data), never before
        failed_due = due < d1
        carried = a["failed_next"]
        a["failed_m1"][:] = carried
        carried[:] = False
        a["failed_m1"][idx[fail & ~recovered & failed_due]] = True
        carried[idx[fail & ~recovered & ~failed_due]] = True
        new = pa.table(
            {
                "_idx": pa.array(idx, type=pa.int64()),
                "_num": pa.array(st.next_ids("invoice", k)),
                "_sub": pa.array(a["sub_seq"][idx]),
                "_issued": pa.array(issued.astype(np.int64)),
                "_due": pa.array(due.astype(np.int64)),
                "_paid": pa.array(paid.astype(np.int64)),
                "_attempts": pa.array(attempts.astype(np.int64)),
                "_amount": pa.array(amount),
            }
        )
        pending = st.open_invoices
        if pending is not None and pending.num_rows:
            # delivered again when they settle: paid this month, or failed at a due date this month (a
            # failure is known when the payment is due, so an invoice due next month is delivered as failed
            # then; before, such failures were never delivered and the data showed half of them)
            paid_now = pc.and_(
                pc.greater_equal(pending.column("_paid"), 0), pc.less(pending.column("_paid"), d1)
            )
            failed_now = pc.and_(pc.less(pending.column("_paid"), 0), pc.less(pending.column("_due"), d1))
            settle = pc.or_(paid_now, failed_now)
            earlier = pending.filter(settle)
            still = pending.filter(pc.invert(settle))
        else:
            earlier, still = new.slice(0, 0), new.slice(0, 0)
        deliver = pa.concat_tables([earlier, new])
        paid_d = deliver.column("_paid").to_numpy()
        due_d = deliver.column("_due").to_numpy()
        att = deliver.column("_attempts").to_numpy()
        is_paid = (paid_d >= 0) & (paid_d < d1)
        status = np.where(is_paid, 1, np.where((att > 0) & (due_d < d1), 2, 0))
        att_now = np.where(due_d < d1, att, 0)
        upd_day = np.where(
            is_paid, paid_d, np.where(status == 2, due_d, deliver.column("_issued").to_numpy())
        )
        table = to_table(
            self.sources["invoices"],
            {
                "invoice_id": make_ids("I", deliver.column("_num").to_numpy(), 10),
                "customer_id": self._customer_ids(deliver.column("_idx").to_numpy()),
                "subscription_id": make_ids("S", deliver.column("_sub").to_numpy(), 9),
                "issued_date": _date_array(deliver.column("_issued").to_numpy()),
                "due_date": _date_array(due_d),
                "amount": deliver.column("_amount"),
                "paid_date": _date_array_nullable(paid_d, is_paid),
                "status": _categorical(status, INVOICE_STATUSES),
                "failed_attempts": att_now,
                "updated_at": _ts_array(upd_day * DAY_US + 12 * HOUR_US),
            },
        )
        w.writer.write("invoices", table)
        unsettled_new = new.filter(
            pc.or_(pc.less(new.column("_paid"), 0), pc.greater_equal(new.column("_paid"), d1))
        )
        unsettled_new = unsettled_new.filter(
            pc.or_(
                pc.greater_equal(unsettled_new.column("_paid"), 0),
                pc.greater_equal(unsettled_new.column("_due"), d1),
            )
        )
        st.open_invoices = pa.concat_tables([still, unsettled_new])

    def _subscriptions_and_accounts(
        self,
        w: MonthWindow,
        new_idx: np.ndarray,
        returned: np.ndarray,
        churn_idx: np.ndarray,
        periods: _Periods,
    ) -> None:
        a, st, p = self.state.arrays, self.state, self.params
        m, active, d0, d1, length = w.m, w.active, w.d0, w.d1, w.length
        rng = _rng(st.seed, m + 1, 60)
        primary = self.company.dimensions[0]
        a["downgrade_months"][active] = np.minimum(a["downgrade_months"][active].astype(int) + 1, 99)
        if m == 0:  # the first batch delivers the periods running at the start
            existing = np.flatnonzero((a["status"] >= 1) & (a["signup_day"] < d0))
            periods.add(a, existing, None, None, np.full(len(existing), d0))
            periods.parts.insert(0, periods.parts.pop())  # before any change of this month
        opened = np.concatenate([new_idx, returned])
        periods.add(a, opened, None, None, np.maximum(a["sub_start_day"][opened], d0))

        # plan changes: a chance to move one plan down (more while disengaging) or up (more while healthy)
        staying = active[(a["churn_day"][active] < 0) & (a["spell_day"][active] < d0)]
        pc_ = p.plan_changes
        plan_s = a["plan"][staying]
        p_down = np.where(a[_declining_key(primary)][staying], pc_.downgrade_if_declining, pc_.downgrade)
        p_down = p_down * (plan_s > 0)
        p_up = np.where(
            a[_health_key(primary)][staying] > pc_.healthy_above, pc_.upgrade_if_healthy, pc_.upgrade
        )
        p_up = p_up * (plan_s < len(self.company.plans) - 1)
        u = rng.random(len(staying))
        kind_of = np.full(len(staying), -1, dtype=np.int64)
        kind_of[u < p_down] = DOWNGRADE
        kind_of[(u >= p_down) & (u < p_down + p_up)] = UPGRADE
        if p.renewals == "monthly":
            # every running period renews on its monthly anniversary; a plan change happens at the renewal
            rel = np.minimum(_day_of_month(a["spell_day"][active]), length - 1)
            renews = (a["sub_start_day"][active] < d0 + rel) & (rel >= w.win_lo) & (rel < w.win_hi)
            changed = active[renews]
            change_day = d0 + rel[renews]
            kinds = np.full(len(changed), RENEWAL, dtype=np.int64)
            if len(changed):
                pos = np.searchsorted(changed, staying)
                hit = (pos < len(changed)) & (changed[np.minimum(pos, len(changed) - 1)] == staying)
                hit &= kind_of >= 0
                kinds[pos[hit]] = kind_of[hit]
        else:
            moving = kind_of >= 0
            changed, kinds = staying[moving], kind_of[moving]
            change_day = d0 + rng.integers(1, length, size=len(changed))
        periods.add(a, changed, change_day - 1, None, np.maximum(change_day - 1, d0))
        step = np.where(kinds == DOWNGRADE, -1, np.where(kinds == UPGRADE, 1, 0))
        new_plan = a["plan"][changed].astype(int) + step
        factor = self.company.plan_price[new_plan] / self.company.plan_price[a["plan"][changed]]
        a["mrr"][changed] = np.round(a["mrr"][changed] * factor, 2)
        a["plan"][changed] = new_plan.astype("int8")
        a["sub_seq"][changed] = st.next_ids("subscription", len(changed))
        a["sub_start_day"][changed] = change_day
        a["sub_kind"][changed] = kinds
        a["downgrade_months"][changed[kinds == DOWNGRADE]] = 0
        periods.add(a, changed, None, None, change_day)

        # cancellations close the running period (a renewed one, if the renewal came first)
        churn_day = a["churn_day"][churn_idx]
        periods.add(a, churn_idx, churn_day, churn_day, churn_day)
        rows = periods.rows()
        if rows:
            table = to_table(
                self.sources["subscriptions"],
                {
                    "subscription_id": make_ids("S", rows["seq"], 9),
                    "customer_id": self._customer_ids(rows["idx"]),
                    "plan": _categorical(rows["plan"], self.company.plans),
                    "mrr": rows["mrr"],
                    "change_type": _categorical(rows["kind"], CHANGE_TYPES),
                    "start_date": _date_array(rows["start"]),
                    "end_date": _date_array_nullable(rows["end"], rows["end"] >= 0),
                    "cancel_date": _date_array_nullable(rows["cancel"], rows["cancel"] >= 0),
                    "updated_at": _ts_array(rows["upd"] * DAY_US + 18 * HOUR_US),
                },
            )
            w.writer.write("subscriptions", table)

        # accounts: new ones, and every change: onboarding completed, unsubscribed, plan changed, a manager
        # assigned, an attribute changed (each version is re-delivered with the day it changed)
        reasons: list[tuple[np.ndarray, np.ndarray]] = []
        if p.onboarding is not None:
            ob = p.onboarding
            win_start = np.maximum(a["signup_day"][new_idx], d0)
            completes = (
                rng.random(len(new_idx)) < self.company.segment_table(ob.completion)[a["segment"][new_idx]]
            )
            took = rng.integers(int(ob.days.low), int(ob.days.high), size=int(completes.sum()))
            a["onboard_day"][new_idx[completes]] = win_start[completes] + took
            onboarded_now = np.flatnonzero(
                (a["onboard_day"] >= d0) & (a["onboard_day"] < d1) & (a["status"] >= 1)
            )
            reasons.append((onboarded_now, a["onboard_day"][onboarded_now]))
        unsub_p = p.unsubscribe.base + p.unsubscribe.if_declining * a[_declining_key(primary)][active]
        unsub = active[(rng.random(len(active)) < unsub_p) & ~a["unsubscribed"][active]]
        a["unsubscribed"][unsub] = True
        a["consent"][unsub] = False
        reasons.append((unsub, np.full(len(unsub), d0)))
        plan_changed = changed[kinds != RENEWAL]
        reasons.append((plan_changed, change_day[kinds != RENEWAL]))
        if p.account_managers is not None:
            unmanaged = staying[a["manager"][staying] < 0]
            chance = self.company.segment_table(p.account_managers.monthly)[a["segment"][unmanaged]]
            assigned = unmanaged[rng.random(len(unmanaged)) < chance]
            a["manager"][assigned] = rng.integers(0, len(p.account_managers.names), size=len(assigned))
            reasons.append((assigned, d0 + rng.integers(0, length, size=len(assigned))))
        for attr in self.company.profile.attributes:
            spec = p.attributes[attr.name]
            if not spec.change_monthly:
                continue
            moved = staying[rng.random(len(staying)) < spec.change_monthly]
            key = _attr_key(attr.name)
            if attr.type == "boolean":
                a[key][moved] = ~a[key][moved]
            else:
                a[key][moved] = _draw_attribute(self.company, attr.name, rng, a["signup_day"][moved])
            reasons.append((moved, d0 + rng.integers(0, length, size=len(moved))))
        base = (
            np.flatnonzero((a["status"] >= 1) & (a["signup_day"] < d0)) if m == 0 else np.zeros(0, np.int64)
        )
        touched = np.unique(np.concatenate([base, new_idx, *(r[0] for r in reasons)]))
        upd = np.maximum(a["signup_day"][touched], d0)
        for who, day in reasons:
            pos = np.searchsorted(touched, who)
            np.maximum.at(upd, pos, day.astype(np.int64))
        upd = np.maximum(upd, d1 - 1) if m == 0 else np.minimum(np.maximum(upd, d0), d1 - 1)
        ob_day = a["onboard_day"][touched]
        self._write_accounts(touched, ob_day, (ob_day >= 0) & (ob_day < d1), upd, w.writer)

    def _write_accounts(
        self,
        idx: np.ndarray,
        onboard: np.ndarray,
        ob_visible: np.ndarray,
        upd: np.ndarray,
        writer: BatchWriter,
    ) -> None:
        a, p, company = self.state.arrays, self.params, self.company
        rng = _rng(self.state.seed, 0, 99)  # names are a pure function of the customer, not of the month
        picks = [rng.integers(0, len(words), size=self.state.n)[idx] for words in p.names.parts]
        name = [
            " ".join(words[j] for words, j in zip(p.names.parts, row, strict=True))
            for row in zip(*picks, strict=True)
        ]
        before, after = p.names.email.split("{id}")
        cust = self._customer_ids(idx)
        email = pc.binary_join_element_wise(pa.scalar(before), pc.utf8_lower(cust), pa.scalar(after), "")
        mgr = a["manager"][idx]
        managers = p.account_managers.names if p.account_managers is not None else ()
        columns: dict[str, Any] = {
            "customer_id": cust,
            "name": pa.array(name, type=pa.string()),
            "email": email,
            "country": _categorical(a["country"][idx], company.countries),
            "segment": _categorical(a["segment"][idx], company.segments),
            "plan": _categorical(a["plan"][idx], company.plans),
            "signup_date": _date_array(a["signup_day"][idx]),
            "acquisition_channel": _categorical(a["channel"][idx], company.channels),
            "marketing_consent": pa.array(a["consent"][idx]),
            "unsubscribed": pa.array(a["unsubscribed"][idx]),
            "account_manager": _categorical(np.maximum(mgr, 0), managers, valid=mgr >= 0),
            "onboarding_completed_at": _date_array_nullable(np.maximum(onboard, 0), ob_visible),
            "updated_at": _ts_array(upd * DAY_US + 20 * HOUR_US),
        }
        if p.contact is not None:
            columns.update(
                self._contact_columns(idx, company.countries, a["country"][idx], a["consent"][idx])
            )
        for attr in company.profile.attributes:
            values = a[_attr_key(attr.name)][idx]
            if attr.type == "date":
                columns[attr.name] = _date_array(values)
            elif attr.type == "categorical":
                columns[attr.name] = _categorical(values, tuple(p.attributes[attr.name].weights or {}))
            else:
                columns[attr.name] = pa.array(values)
        writer.write("accounts", to_table(self.sources["accounts"], columns))

    def _contact_columns(
        self, idx: np.ndarray, countries: tuple[str, ...], country: np.ndarray, consent: np.ndarray
    ) -> dict[str, pa.Array]:
        """Phone (E.164), SMS and push consent, language and time zone: a pure function of the customer."""
        contact = self.params.contact
        assert contact is not None
        rng = _rng(self.state.seed, 0, 98)
        n = self.state.n
        has_phone = rng.random(n)[idx] < contact.phone_share
        sms = rng.random(n)[idx] < contact.sms_consent_share
        push = rng.random(n)[idx] < contact.push_consent_share
        digits = rng.integers(2_000_000_000, 9_999_999_999, size=n)[idx]  # ten national digits
        info = [COUNTRY_CONTACT.get(countries[c]) for c in country]
        phone = [
            f"+{i[0]}{d}" if i is not None and ok else None
            for i, d, ok in zip(info, digits, has_phone, strict=True)
        ]
        out: dict[str, pa.Array] = {
            "phone": pa.array(phone, type=pa.string()),
            "sms_consent": pa.array(has_phone & sms & consent),
            "push_consent": pa.array(push),
        }
        if contact.language_and_time_zone:
            out["language"] = pa.array([i[1] if i else None for i in info], type=pa.string())
            out["time_zone"] = pa.array([i[2] if i else None for i in info], type=pa.string())
        return out

    def _write_truth(
        self,
        month_start: dt.date,
        at_risk: np.ndarray,
        p: np.ndarray,
        p_untreated: np.ndarray,
        treatment: np.ndarray,
        churned: np.ndarray,
    ) -> None:
        folder = self.config.ground_truth / "monthly"
        folder.mkdir(parents=True, exist_ok=True)
        churn_day = self.state.arrays["churn_day"][at_risk]
        table = pa.table(
            {
                "customer_id": self._customer_ids(at_risk),
                "snapshot_date": pa.array([month_start] * len(at_risk), type=pa.date32()),
                "true_churn_prob": pa.array(np.round(p, 6)),
                "untreated_churn_prob": pa.array(np.round(p_untreated, 6)),
                "intervention": _categorical(np.maximum(treatment, 0), INTERVENTIONS, valid=treatment >= 0),
                "churned": pa.array(churned),
                "churn_date": _date_array_nullable(np.maximum(churn_day, 0), churned),
            }
        )
        pq.write_table(table, folder / f"{month_start.isoformat()}.parquet", compression="zstd")


def _day_of_month(days: np.ndarray) -> np.ndarray:
    """Day of the month (0-based) of each date given as days since the epoch."""
    d = days.astype("datetime64[D]")
    out: np.ndarray = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    return out


# ---------------------------------------------------------------------- persistence


def save_state(state: State, folder: Path) -> None:
    """Persist the company so ``--advance-months`` can continue it exactly where it stopped."""
    folder.mkdir(parents=True, exist_ok=True)
    cols = {k: pa.array(v) for k, v in state.arrays.items() if not k.startswith("_")}
    pq.write_table(pa.table(cols), folder / "customers.parquet", compression="zstd")
    for name in ("open_tickets", "open_invoices"):
        table = getattr(state, name)
        if table is not None:
            pq.write_table(table, folder / f"{name}.parquet", compression="zstd")
        elif (folder / f"{name}.parquet").exists():
            (folder / f"{name}.parquet").unlink()
    meta: dict[str, Any] = {
        "profile": state.profile,
        "seed": state.seed,
        "start": state.start.isoformat(),
        "next_month": state.next_month,
        "signups_per_month": state.signups_per_month,
        "counters": state.counters,
    }
    # only written with a drift, so a company without one keeps the files it always had
    if state.drift is not None:
        meta["drift"] = state.drift.to_json()
    if state.list_price_factor != 1.0:
        meta["list_price_factor"] = state.list_price_factor
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))


def load_state(folder: Path, company: SimulatedCompany) -> State:
    """Load a company saved by an earlier run; a clear error if there is none or it is another company."""
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        raise FileNotFoundError(
            f"no simulation to continue in {folder}: run `churn-platform simulate` first (without --advance-months)"
        )
    meta = json.loads(meta_path.read_text())
    saved = meta.get("profile", "saas")
    if saved != company.name:
        raise ValueError(
            f"the company in {folder.parent} was simulated with profile {saved!r}, not {company.name!r}: "
            f"continue it with --profile {saved}"
        )
    table = pq.read_table(folder / "customers.parquet")
    needed = {"spell_day", "return_day", *(_health_key(d) for d in company.dimensions)}
    needed |= {_count_key(1, t) for t in company.event_types}
    missing = sorted(needed - set(table.column_names))
    if missing:
        raise ValueError(
            f"the company in {folder.parent} was saved by an older simulator (no {', '.join(missing[:3])}): "
            "simulate it again into an empty folder"
        )
    arrays = {name: table.column(name).to_numpy(zero_copy_only=False).copy() for name in table.column_names}
    if "failed_m1" in arrays and "failed_next" not in arrays:  # a state saved before failures were carried
        arrays["failed_next"] = np.zeros(len(arrays["failed_m1"]), dtype=bool)
    state = State(
        arrays=arrays,
        seed=meta["seed"],
        start=dt.date.fromisoformat(meta["start"]),
        next_month=meta["next_month"],
        signups_per_month=meta["signups_per_month"],
        profile=saved,
        counters={k: int(v) for k, v in meta["counters"].items()},
        drift=Drift.from_json(meta.get("drift")),
        list_price_factor=float(meta.get("list_price_factor", 1.0)),
    )
    for name in ("open_tickets", "open_invoices"):
        path = folder / f"{name}.parquet"
        setattr(state, name, pq.read_table(path) if path.exists() else None)
    return state


# ---------------------------------------------------------------------- entry points


@dataclass
class SimulationSummary:
    """What a run produced: enough to judge the company at a glance and to check it in tests."""

    landing: Path
    ground_truth: Path
    months: list[MonthResult]
    customers_total: int
    oracle_auc: float | None
    churn_rate: float
    rows: dict[str, int]
    drift: dict[str, Any] | None = None  # kind, month and batch_date of a simulated drift
    profile: str = "saas"
    reactivations: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "profile": self.profile,
            "customers_total": self.customers_total,
            "oracle_auc": self.oracle_auc,
            "monthly_churn_rate": self.churn_rate,
            "reactivations": self.reactivations,
            "rows": self.rows,
            "batches": [m.batch_date for m in self.months],
        }
        if self.drift is not None:
            out["drift"] = self.drift
        return out


def oracle_auc(ground_truth: Path) -> float | None:
    """ROC-AUC of the true probabilities against outcomes, untreated months: the best any model can do."""
    from sklearn.metrics import roc_auc_score

    files = sorted((ground_truth / "monthly").glob("*.parquet"))
    if not files:
        return None
    t = pa.concat_tables([pq.read_table(f, columns=["true_churn_prob", "churned"]) for f in files])
    y = t.column("churned").to_numpy(zero_copy_only=False)
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, t.column("true_churn_prob").to_numpy()))


def simulate(
    config: SimulationConfig,
    advance_months: int | None = None,
    progress: Callable[[int, int, MonthResult], None] | None = None,
) -> SimulationSummary:
    """Simulate a new company, or continue the saved one by ``advance_months``; returns a summary.

    The company is ``config.profile``'s. Raises ``ValueError`` (a :class:`~churn_platform.profile.
    ProfileError` for the profile) with a one-line reason for an unusable profile, a drift the company does
    not support, or a continuation with another profile; ``FileExistsError`` / ``FileNotFoundError`` for a
    non-empty target or nothing to continue.
    """
    company = load_simulated_company(config.profile)
    if config.drift != "none" and getattr(company.params.drift, config.drift) is None:
        supported = [k for k in ("price_rise", "outage") if getattr(company.params.drift, k) is not None]
        raise ValueError(
            f"the {company.name} company does not simulate --drift {config.drift} (its profile's simulation.drift "
            f"has no {config.drift} section); it supports {', '.join(supported) or 'no drift'}"
        )
    state_dir = config.ground_truth / "state"
    if advance_months is None:
        for path in (config.landing, config.ground_truth):
            if path.exists() and any(path.iterdir()):
                raise FileExistsError(
                    f"{path} is not empty: simulate into an empty folder, or continue the company there with "
                    "--advance-months"
                )
        state = init_state(config, company)
        months = range(0, config.months)
        _plan_signups(company, state, config, months, total=config.customers - state.n)
        _write_customer_truth(company, state, config.ground_truth)
    else:
        state = load_state(state_dir, company)
        months = range(state.next_month, state.next_month + advance_months)
        _plan_signups(company, state, config, months, total=None)
        _write_customer_truth(company, state, config.ground_truth)
    state.drift = _drift_scenario(config, state, months, advancing=advance_months is not None)
    sim = Simulator(config, state, company)
    results = []
    for i, m in enumerate(months):
        res = sim.run_month(m)
        results.append(res)
        if progress:
            progress(i + 1, len(months), res)
    save_state(state, state_dir)
    rows: dict[str, int] = {}
    for r in results:
        for k, v in r.rows.items():
            rows[k] = rows.get(k, 0) + v
    at_risk = sum(r.active for r in results)
    summary = SimulationSummary(
        landing=config.landing,
        ground_truth=config.ground_truth,
        months=results,
        customers_total=state.n,
        oracle_auc=oracle_auc(config.ground_truth),
        churn_rate=sum(r.churned for r in results) / max(at_risk, 1),
        rows=rows,
        drift=_drift_summary(state),
        profile=company.name,
        reactivations=sum(r.reactivated for r in results),
    )
    (config.ground_truth / "summary.json").write_text(json.dumps(summary.to_json(), indent=2, sort_keys=True))
    return summary


def _drift_scenario(config: SimulationConfig, state: State, months: range, advancing: bool) -> Drift | None:
    """The drift regime of this run: the one asked for, else the saved one (a continuation keeps its regime).

    A requested drift must begin within the months this run simulates, so a typo never silently does nothing;
    without ``drift_month`` it begins at the first month of an advance, or the last month of a new company.
    """
    if config.drift == "none":
        return state.drift
    if config.drift_month is None:
        month = months.start if advancing else months.stop - 1
    else:
        month = config.drift_month
    if month not in months:
        raise ValueError(
            f"drift_month {month} is outside the months this run simulates ({months.start} to {months.stop - 1}, "
            f"batches {_month_start(state.start, months.start + 1)} to {_month_start(state.start, months.stop)}); "
            "months count from 0 at the company's start"
        )
    return Drift(kind=config.drift, month=month)


def _drift_summary(state: State) -> dict[str, Any] | None:
    """The scenario as recorded in summary.json: kind, month index, and the landing batch it first shows in."""
    if state.drift is None:
        return None
    batch = _month_start(state.start, state.drift.month + 1)
    return {**state.drift.to_json(), "batch_date": batch.isoformat()}


def _write_customer_truth(company: SimulatedCompany, state: State, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    a = state.arrays
    idx = np.arange(state.n)
    ids = company.params.ids
    cols: dict[str, Any] = {
        "customer_id": make_ids(ids.customer_prefix, idx, ids.customer_digits),
        "archetype": _categorical(a["archetype"], ARCHETYPES),
        "frailty": pa.array(np.round(a["frailty"], 6)),
    }
    for name in INTERVENTIONS:
        cols[f"effect_{name}"] = pa.array(a[f"effect_{name}"])
    pq.write_table(pa.table(cols), folder / "customers.parquet", compression="zstd")
