"""A seeded simulation of a subscription company whose churn comes from a latent monthly hazard.

Each month, every active customer's probability of cancelling within the month is a logistic function of
behaviour the platform can observe in the landing files of the month before (usage level and decline,
days since the last login, unresolved and escalated tickets, failed and late payments, NPS, onboarding,
tenure, plan, segment, price) plus a little unobservable frailty and noise. The true probability, the
outcome and each customer's true response to every intervention are written to a ground-truth folder
the pipeline never reads, so model quality, uplift and campaign effects can be checked against the truth.

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

from churn_platform.contract import INTERVENTIONS, contract_named
from churn_platform.simulate.config import CHUNK_SIZE, SimulationConfig
from churn_platform.simulate.drift import OUTAGE, PRICE_RISE, TICKET_CATEGORY_P, Drift
from churn_platform.simulate.writers import BatchWriter, make_ids, to_table

SOURCES = contract_named("saas").sources
PLANS = ("basic", "pro", "business")
SEGMENTS = ("smb", "mid_market", "enterprise")
COUNTRIES = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "CA", "AU", "BR", "IN", "JP", "SE", "PL")
ACQUISITION_CHANNELS = ("organic", "paid_search", "referral", "partner", "outbound", "event")
EVENT_TYPES = ("login", "session", "feature_use")
FEATURES = ("dashboards", "reports", "integrations", "automation", "api", "collaboration", "exports")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_CATEGORIES = ("billing", "bug", "how_to", "feature_request", "account")

DAY_US = 86_400 * 1_000_000
PLAN_PRICE = np.array([49.0, 149.0, 499.0])
SEAT_MEDIAN = np.array([1.0, 2.5, 7.0])  # by segment
EVENTS_MEDIAN = 10.0  # events per customer-month at health 0
TYPE_SHARE = np.array([0.42, 0.30, 0.28])  # login, session, feature_use

ADJECTIVES = (
    "Blue", "Bright", "North", "Swift", "Clear", "Solid", "Prime", "Green", "Bold", "Quiet", "Silver", "Rapid",
)  # fmt: skip
NOUNS = (
    "Harbor", "Peak", "Labs", "Works", "Systems", "Logistics", "Foods", "Studio", "Analytics", "Retail",
    "Health", "Media",
)  # fmt: skip
SUFFIXES = ("Ltd", "Inc", "GmbH", "SAS", "BV", "LLC")
MANAGERS = ("Ana Ruiz", "Ben Okafor", "Chen Wei", "Dana Levi", "Eva Novak", "Farid Haddad", "Grace Kim")
COMMENTS = {
    "low": ("Too expensive for what we use", "Support never answered", "Hard to use", "Missing features"),
    "mid": ("It is fine", "Does the job", "Could be faster", "Pricing is a bit high"),
    "high": ("Love it", "Great support", "Essential for our team", "Saves us hours every week"),
}

# Observable drivers of the monthly churn hazard (log-odds). Documented in the README; the tests check
# that churners show each indicator more than stayers.
HAZARD: dict[str, Any] = {
    "intercept": -5.0,
    "plan": np.array([0.35, 0.0, -0.3]),
    "segment": np.array([0.3, 0.0, -0.45]),
    "tenure_lt3": 0.7,
    "tenure_lt6": 0.3,
    "tenure_gt24": -0.3,
    "onboarding_incomplete": 0.8,
    "usage_decline": 1.2,  # per unit of -log(ratio of usage, last month vs the month before), capped at 2
    "usage_drop_30pct": 0.45,
    "low_usage": 0.5,  # per unit of log(10) - log1p(events last month), when positive
    "days_since_login": 0.025,  # per day, capped at 60
    "open_tickets": 0.45,  # per unresolved ticket, capped at 3
    "old_open_ticket": 0.4,  # oldest unresolved ticket older than 14 days
    "escalations": 0.5,
    "failed_payment": 1.5,  # unrecovered failed payment last month (involuntary churn)
    "late_payments": 0.3,  # any late payment in the last 3 months
    "nps_detractor": 0.6,
    "nps_promoter": -0.4,
    "nps_falling": 0.3,
    "downgrade_3m": 0.4,
    "price_above_list": 0.35,  # per unit of log(mrr / (list price x typical seats))
    "january": 0.15,
    "frailty_sd": 0.3,
    "noise_sd": 0.15,
}


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
    indices = pa.array(codes.astype("int32"), mask=None if valid is None else ~valid)
    return pa.DictionaryArray.from_arrays(indices, pa.array(values)).cast(pa.string())


STATE_FIELDS: dict[str, str] = {
    # static traits
    "segment": "int8",
    "country": "int8",
    "channel": "int8",
    "manager": "int8",  # -1 for none
    "signup_day": "int64",
    "base_rate": "float64",
    "frailty": "float64",
    "pay_fail": "float64",
    "seats": "float64",
    "effect_discount": "float64",
    "effect_success_call": "float64",
    "effect_training": "float64",
    "effect_feature_trial": "float64",
    "archetype": "int8",
    # dynamic state
    "status": "int8",  # 0 not yet signed up, 1 active, 2 churned
    "churn_day": "int64",
    "plan": "int8",
    "mrr": "float64",
    "sub_seq": "int64",  # id number of the current subscription period
    "sub_start_day": "int64",
    "sub_kind": "int8",  # change_type of the current period: 0 new, 1 upgrade, 2 downgrade
    "consent": "bool",
    "unsubscribed": "bool",
    "onboard_day": "int64",  # -1 while incomplete
    "health": "float64",
    "declining": "bool",
    "events_m1": "float64",
    "events_m2": "float64",
    "last_login_us": "int64",  # -1 never
    "escalations_m1": "int64",
    "failed_m1": "bool",
    "late_months": "int8",  # months since the last late payment (99 none)
    "downgrade_months": "int8",  # months since the last downgrade (99 none)
    "nps_last": "int8",  # -1 none
    "nps_prev": "int8",
}
ARCHETYPES = ("persuadable", "unmoved", "sleeping_dog")


@dataclass
class State:
    """The company between months: per-customer arrays plus counters and open items awaiting an update."""

    arrays: dict[str, np.ndarray]
    seed: int
    start: dt.date
    next_month: int  # index (from start) of the next month to simulate
    signups_per_month: float
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


def _add_customers(state: State, rng: np.random.Generator, signup_days: np.ndarray, existing: bool) -> None:
    """Create accounts with their static traits and true intervention effects."""
    k = len(signup_days)
    a: dict[str, np.ndarray] = {}
    seg = rng.choice(3, size=k, p=[0.62, 0.28, 0.10])
    a["segment"] = seg.astype("int8")
    a["country"] = rng.choice(len(COUNTRIES), size=k).astype("int8")
    a["channel"] = rng.choice(len(ACQUISITION_CHANNELS), size=k, p=[0.3, 0.25, 0.15, 0.1, 0.12, 0.08]).astype(
        "int8"
    )
    a["manager"] = np.where(seg > 0, rng.integers(0, len(MANAGERS), size=k), -1).astype("int8")
    a["signup_day"] = signup_days.astype("int32")
    a["base_rate"] = EVENTS_MEDIAN * np.exp(rng.normal(0.15 * seg, 0.45))
    a["frailty"] = rng.normal(0, HAZARD["frailty_sd"], size=k)
    a["pay_fail"] = np.clip(rng.beta(1.2, 30, size=k) * (1.6 - 0.3 * seg), 0, 0.5)
    a["seats"] = SEAT_MEDIAN[seg] * np.exp(rng.normal(0, 0.35, size=k))
    plan_p = np.array([[0.6, 0.32, 0.08], [0.25, 0.5, 0.25], [0.05, 0.35, 0.6]])
    u = rng.random(k)
    plan = (u[:, None] > np.cumsum(plan_p[seg], axis=1)).sum(axis=1)
    a["plan"] = plan.astype("int8")
    a["mrr"] = np.round(PLAN_PRICE[plan] * a["seats"] * np.exp(rng.normal(0, 0.15, size=k)), 2)

    # True responses to each intervention: a relative reduction of the monthly churn probability.
    # Heterogeneous by design: some are persuadable (by one offer more than others), most are unmoved,
    # a few are put off by any contact ("sleeping dogs").
    arche = rng.choice(3, size=k, p=[0.45, 0.48, 0.07])
    price_sens = np.log(a["mrr"] / (PLAN_PRICE[plan] * SEAT_MEDIAN[seg]))
    learner = rng.normal(0, 1, size=k)
    noise = rng.normal(0, 0.05, size=(k, 4))
    persuadable = arche == 0
    sleeping = arche == 2
    eff = np.zeros((k, 4))
    eff[:, 0] = (
        0.30 + 0.35 * np.tanh(2 * price_sens) - 0.10 * seg
    )  # discount: price-sensitive, small accounts
    eff[:, 1] = 0.10 + 0.15 * seg  # success call: larger accounts with a relationship
    eff[:, 2] = 0.25 + 0.15 * np.tanh(learner)  # training: those who learn the product
    eff[:, 3] = 0.15 + 0.15 * np.tanh(-learner)  # feature trial: those who have not explored it
    eff = np.clip(eff + noise, 0.0, 0.8) * persuadable[:, None]
    eff = np.where(sleeping[:, None], -rng.uniform(0.15, 0.4, size=(k, 1)) + noise, eff)
    eff = np.where((arche == 1)[:, None], noise * 0.4, eff)
    for j, name in enumerate(INTERVENTIONS):
        a[f"effect_{name}"] = np.round(eff[:, j], 4)
    a["archetype"] = arche.astype("int8")

    a["status"] = np.where(existing, 1, 0) * np.ones(k, dtype="int8")
    a["churn_day"] = np.full(k, -1, dtype="int64")
    a["sub_seq"] = state.next_ids("subscription", k)
    a["sub_start_day"] = signup_days.astype("int32")
    a["sub_kind"] = np.zeros(k, dtype="int8")
    a["consent"] = rng.random(k) < 0.72
    a["unsubscribed"] = np.zeros(k, dtype=bool)
    if existing:
        a["onboard_day"] = np.where(
            rng.random(k) < 0.9, signup_days + rng.integers(3, 40, size=k), -1
        ).astype("int32")
        a["health"] = rng.normal(0, 0.45, size=k)
    else:
        a["onboard_day"] = np.full(k, -1, dtype="int64")
        a["health"] = rng.normal(-0.1, 0.3, size=k)
    a["declining"] = rng.random(k) < (0.06 if existing else 0.0)
    expected = a["base_rate"] * np.exp(a["health"])
    a["events_m1"] = np.where(existing, rng.poisson(expected), 0).astype("float64")
    a["events_m2"] = np.where(existing, rng.poisson(expected), 0).astype("float64")
    a["last_login_us"] = np.full(k, -1, dtype="int64")
    a["escalations_m1"] = np.zeros(k, dtype="int64")
    a["failed_m1"] = np.zeros(k, dtype=bool)
    a["late_months"] = np.full(k, 99, dtype="int8")
    a["downgrade_months"] = np.full(k, 99, dtype="int8")
    a["nps_last"] = np.full(k, -1, dtype="int8")
    a["nps_prev"] = np.full(k, -1, dtype="int8")
    for name, dtype in STATE_FIELDS.items():
        new = a[name].astype(dtype)
        state.arrays[name] = new if name not in state.arrays else np.concatenate([state.arrays[name], new])


def _seasonality(month_of_year: np.ndarray) -> np.ndarray:
    """Signups peak in January and September, dip in the summer and in December."""
    weights = {1: 1.35, 2: 1.1, 3: 1.05, 4: 1.0, 5: 0.95, 6: 0.85, 7: 0.75, 8: 0.8, 9: 1.25, 10: 1.1, 11: 1.0}
    return np.array([weights.get(int(m), 0.8) for m in month_of_year])


def init_state(config: SimulationConfig) -> State:
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
    )
    start_day = _days(config.start)
    existing_signup = start_day - rng.integers(20, 4 * 365, size=n_existing)
    _add_customers(state, rng, np.sort(existing_signup), existing=True)
    a = state.arrays
    gap = rng.exponential(3.0 / np.exp(a["health"]), size=n_existing)
    a["last_login_us"] = ((start_day - np.minimum(gap, 60)) * DAY_US).astype(np.int64)
    return state


def _plan_signups(state: State, config: SimulationConfig, months: range, total: int | None) -> None:
    """Spread new signups over the months ahead with seasonality; sign-up days are uniform in a month."""
    starts = [_month_start(state.start, m) for m in months]
    weights = _seasonality(np.array([d.month for d in starts]))
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
        _add_customers(state, rng, days, existing=False)


def churn_probability(
    a: dict[str, np.ndarray],
    month_start: dt.date,
    rng: np.random.Generator,
    extra_logit: np.ndarray | None = None,
) -> np.ndarray:
    """True probability of churning within the month, from what was observable before it began.

    ``extra_logit`` adds log-odds that no landing file explains (a simulated drift's reaction to a price rise).
    """
    h = HAZARD
    day0 = _days(month_start)
    tenure_m = (day0 - a["signup_day"]) / 30.4
    logit = h["intercept"] + h["plan"][a["plan"]] + h["segment"][a["segment"]] + a["frailty"]
    logit = logit + h["tenure_lt3"] * (tenure_m < 3) + h["tenure_lt6"] * ((tenure_m >= 3) & (tenure_m < 6))
    logit = logit + h["tenure_gt24"] * (tenure_m > 24)
    onboarded = (a["onboard_day"] >= 0) & (a["onboard_day"] < day0)
    logit = logit + h["onboarding_incomplete"] * (~onboarded & (tenure_m < 9))
    decline = np.clip(-np.log((a["events_m1"] + 1) / (a["events_m2"] + 1)), 0, 2)
    logit = logit + h["usage_decline"] * decline
    logit = logit + h["usage_drop_30pct"] * (a["events_m1"] < 0.7 * a["events_m2"])
    logit = logit + h["low_usage"] * np.clip(np.log(EVENTS_MEDIAN) - np.log1p(a["events_m1"]), 0, None)
    since_login = np.where(
        a["last_login_us"] >= 0,
        (day0 * DAY_US - a["last_login_us"]) / DAY_US,
        np.minimum(tenure_m * 30.4, 60),
    )
    logit = logit + h["days_since_login"] * np.clip(since_login, 0, 60)
    logit = logit + h["open_tickets"] * np.minimum(a["_open_tickets"], 3)
    logit = logit + h["old_open_ticket"] * (a["_oldest_open_days"] > 14)
    logit = logit + h["escalations"] * np.minimum(a["escalations_m1"], 2)
    logit = logit + h["failed_payment"] * a["failed_m1"] + h["late_payments"] * (a["late_months"] <= 3)
    logit = logit + h["nps_detractor"] * ((a["nps_last"] >= 0) & (a["nps_last"] <= 6))
    logit = logit + h["nps_promoter"] * (a["nps_last"] >= 9)
    logit = logit + h["nps_falling"] * ((a["nps_prev"] >= 0) & (a["nps_last"] <= a["nps_prev"] - 2))
    logit = logit + h["downgrade_3m"] * (a["downgrade_months"] <= 3)
    price = np.log(a["mrr"] / (PLAN_PRICE[a["plan"]] * SEAT_MEDIAN[a["segment"]]))
    logit = logit + h["price_above_list"] * price
    logit = logit + h["january"] * (month_start.month == 1)
    if extra_logit is not None:
        logit = logit + extra_logit
    logit = logit + rng.normal(0, h["noise_sd"], size=len(logit))
    return 1.0 / (1.0 + np.exp(-logit))


def read_ledger(path: Path | None) -> pa.Table | None:
    """Read the platform's send ledger (Parquet or CSV) if it exists; it closes the simulation loop."""
    if path is None or not path.exists():
        return None
    if path.suffix == ".csv":
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path)
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


class Simulator:
    """Runs months of the company forward, writing one landing batch and one ground-truth file per month."""

    def __init__(self, config: SimulationConfig, state: State) -> None:
        self.config = config
        self.state = state
        self.ledger = read_ledger(config.ledger)

    # ------------------------------------------------------------------ ids
    def _customer_ids(self, idx: np.ndarray) -> pa.Array:
        return make_ids("C", idx, 8)

    # ------------------------------------------------------------------ main loop
    def run_month(self, m: int) -> MonthResult:
        st, a, seed = self.state, self.state.arrays, self.state.seed
        month_start = _month_start(st.start, m)
        month_end = _month_start(st.start, m + 1)
        d0, d1 = _days(month_start), _days(month_end)
        length = d1 - d0
        batch_date = month_end.isoformat()
        writer = BatchWriter(self.config.landing, batch_date, self.config.file_format)
        cut_us = d1 * DAY_US
        rng = _rng(seed, m + 1, 10)

        # 0. a simulated price rise takes effect on the first day of its month
        repriced = self._raise_prices(m, d0)

        # 1. who is at risk this month, and their true churn probability
        at_risk = np.flatnonzero((a["status"] == 1) & (a["signup_day"] < d0))
        self._open_item_features(d0)
        sub = {k: v[at_risk] for k, v in a.items()}
        p_untreated = churn_probability(sub, month_start, rng, self._drift_reaction(m, sub))
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
        self._write_truth(m, month_start, at_risk, p, p_untreated, treatment, churns)

        # 2. signups of the month become active from their signup day
        new_idx = np.flatnonzero((a["status"] == 0) & (a["signup_day"] >= d0) & (a["signup_day"] < d1))
        a["status"][new_idx] = 1
        if st.list_price_factor != 1.0:
            a["mrr"][new_idx] = np.round(a["mrr"][new_idx] * st.list_price_factor, 2)

        # 3. health evolves: mean reversion, a chance to start or stop disengaging, noise
        active = np.flatnonzero(a["status"] == 1)
        start_decline = rng.random(len(active)) < 0.035 + 0.03 * (a["onboard_day"][active] < 0)
        stop_decline = rng.random(len(active)) < 0.2
        dec = a["declining"][active]
        dec = np.where(dec, ~stop_decline, start_decline)
        a["declining"][active] = dec
        drift = np.where(dec, -0.45, -0.15 * a["health"][active])
        a["health"][active] = np.clip(a["health"][active] + drift + rng.normal(0, 0.12, len(active)), -4, 1.5)

        # window of activity within the month, in days from d0
        win_lo = np.maximum(a["signup_day"][active], d0) - d0
        win_hi = np.where(a["churn_day"][active] >= d0, a["churn_day"][active], d1) - d0
        win_lo = win_lo.astype(np.int64)
        win_hi = np.maximum(win_hi, win_lo).astype(np.int64)

        # 4. usage events in chunks
        w = MonthWindow(m, active, win_lo, win_hi, d0, d1, length, cut_us, writer)
        self._usage_events(w)

        # 5. tickets, NPS, invoices, subscriptions, accounts
        self._tickets(w)
        self._nps(w)
        self._invoices(w)
        self._subscriptions_and_accounts(m, active, new_idx, churn_idx, d0, d1, writer, repriced)

        a["status"][churn_idx] = 2
        st.next_month = m + 1
        rows = writer.close()
        return MonthResult(batch_date, rows, len(at_risk), len(churn_idx), int(treated.sum()))

    # ------------------------------------------------------------------ simulated drift
    def _raise_prices(self, m: int, d0: int) -> dict[str, np.ndarray] | None:
        """Apply a price rise starting this month: raise every active customer's MRR for good.

        Each running subscription period ends the day before and a new one (change_type ``new``: new terms,
        same plan) opens at the raised MRR, so the pipeline sees the old MRR up to the rise and the new one
        after it. Returns the closing rows of the old periods for this month's subscriptions file.
        """
        st, a = self.state, self.state.arrays
        if st.drift is None or not st.drift.price_rise_at(m):
            return None
        idx = np.flatnonzero(a["status"] == 1)
        old = {
            "seq": a["sub_seq"][idx].copy(),
            "idx": idx,
            "plan": a["plan"][idx].copy(),
            "mrr": a["mrr"][idx].copy(),
            "kind": a["sub_kind"][idx].copy(),
            "start": a["sub_start_day"][idx].copy(),
            "end": np.full(len(idx), d0 - 1),
            "cancel": np.full(len(idx), -1),
            "upd": np.full(len(idx), d0),
        }
        factor = float(PRICE_RISE["factor"])
        a["mrr"][idx] = np.round(a["mrr"][idx] * factor, 2)
        a["sub_seq"][idx] = st.next_ids("subscription", len(idx))
        a["sub_start_day"][idx] = d0
        a["sub_kind"][idx] = 0
        st.list_price_factor *= factor
        return old

    def _drift_reaction(self, m: int, sub: dict[str, np.ndarray]) -> np.ndarray | None:
        """Extra churn log-odds of the at-risk customers this month from a price rise, None without one."""
        drift = self.state.drift
        if drift is None:
            return None
        rise_day = _days(_month_start(self.state.start, drift.month))
        return drift.reaction_logit(m, sub["segment"], sub["signup_day"], rise_day)

    def _health(self, m: int, idx: np.ndarray) -> np.ndarray:
        """The month's health of these customers: their own, lowered for everyone during an outage."""
        health = self.state.arrays["health"][idx]
        drift = self.state.drift
        if drift is None or not drift.outage_at(m):
            return health
        return health + drift.health_shock(m)

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
        ids = rows.column("customer_id").to_pylist()
        kinds = rows.column("intervention").to_pylist()
        idx = np.array([int(c[1:]) for c in ids], dtype=np.int64)
        kind = np.array([INTERVENTIONS.index(k) for k in kinds], dtype=np.int64)
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
        m, active, win_lo, win_hi, d0, length, writer = (
            w.m,
            w.active,
            w.win_lo,
            w.win_hi,
            w.d0,
            w.length,
            w.writer,
        )
        a, seed = self.state.arrays, self.state.seed
        a["events_m2"][active] = a["events_m1"][active]
        for c, lo in enumerate(range(0, len(active), CHUNK_SIZE)):
            rng = _rng(seed, m + 1, 20, c)
            idx = active[lo : lo + CHUNK_SIZE]
            wl, wh = win_lo[lo : lo + CHUNK_SIZE], win_hi[lo : lo + CHUNK_SIZE]
            frac = (wh - wl) / length
            lam = a["base_rate"][idx] * np.exp(self._health(m, idx)) * frac
            counts = rng.poisson(lam[:, None] * TYPE_SHARE[None, :])  # (k, 3)
            total = counts.sum(axis=1)
            a["events_m1"][idx] = total / np.maximum(frac, 1e-9) * (frac > 0)
            rows = int(total.sum())
            if rows == 0:
                continue
            owner = np.repeat(np.arange(len(idx)), total)
            etype = np.repeat(np.tile(np.arange(3), len(idx)), counts.reshape(-1))
            start_us = (d0 + wl[owner]) * DAY_US
            span_us = (wh - wl)[owner] * DAY_US
            ts = start_us + (rng.random(rows) * span_us).astype(np.int64)
            order = np.lexsort((ts, owner))
            owner, etype, ts = owner[order], etype[order], ts[order]
            feature = rng.choice(len(FEATURES), size=rows, p=[0.24, 0.2, 0.14, 0.12, 0.1, 0.12, 0.08])
            duration = np.minimum(rng.lognormal(np.log(900), 0.8, size=rows), 86_400).astype(np.int64)
            is_login = etype == 0
            last = np.full(len(idx), -1, dtype=np.int64)
            np.maximum.at(last, owner[is_login], ts[is_login])
            a["last_login_us"][idx] = np.maximum(a["last_login_us"][idx], last)
            cust_ids = self._customer_ids(idx)
            table = to_table(
                SOURCES["usage_events"],
                {
                    "event_id": make_ids("E", self.state.next_ids("event", rows), 10),
                    "customer_id": pa.DictionaryArray.from_arrays(pa.array(owner.astype("int32")), cust_ids),
                    "event_ts": _ts_array(ts),
                    "event_type": _categorical(etype, EVENT_TYPES),
                    "feature": _categorical(feature, FEATURES, valid=etype == 2),
                    "duration_seconds": pa.array(duration, mask=etype != 1),
                    "value": pa.nulls(rows, pa.float64()),
                },
            )
            writer.write("usage_events", table)

    def _tickets(self, w: MonthWindow) -> None:
        m, active, win_lo, win_hi, d0, cut_us, writer = (
            w.m,
            w.active,
            w.win_lo,
            w.win_hi,
            w.d0,
            w.cut_us,
            w.writer,
        )
        a, st = self.state.arrays, self.state
        rng = _rng(st.seed, m + 1, 30)
        a["escalations_m1"][:] = 0
        frac = (win_hi - win_lo) / 30.0
        health = self._health(m, active)
        outage = st.drift is not None and st.drift.outage_at(m)
        rate = (
            0.10 + 0.05 * a["segment"][active] + 0.25 * (health < -0.5) + 0.2 * a["declining"][active]
        ) * frac
        if outage:
            rate = rate + OUTAGE["tickets"] * frac
        counts = rng.poisson(rate)
        owner = np.repeat(active, counts)
        k = len(owner)
        rel_lo = np.repeat(win_lo, counts)
        rel_hi = np.repeat(win_hi, counts)
        opened = (d0 + rel_lo) * DAY_US + (rng.random(k) * (rel_hi - rel_lo) * DAY_US).astype(np.int64)
        priority = rng.choice(4, size=k, p=[0.3, 0.45, 0.18, 0.07])
        category = rng.choice(5, size=k, p=OUTAGE["category_p"] if outage else TICKET_CATEGORY_P)
        escalate_p = 0.06 + 0.25 * (priority == 3) + 0.08 * (self._health(m, owner) < -1)
        escalated = rng.random(k) < (escalate_p + OUTAGE["escalation"] if outage else escalate_p)
        hours = rng.lognormal(np.log(np.array([48.0, 30.0, 12.0, 5.0])[priority]), 1.0)
        stuck = rng.random(k) < 0.08 + 0.1 * escalated
        hours = np.where(stuck, rng.uniform(15 * 24, 90 * 24, size=k), hours)
        resolved = opened + (hours * 3_600_000_000).astype(np.int64)
        rated = rng.random(k) < 0.55
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
            SOURCES["support_tickets"],
            {
                "ticket_id": make_ids("T", deliver.column("_num").to_numpy(), 9),
                "customer_id": self._customer_ids(idx),
                "opened_at": _ts_array(deliver.column("_opened_us").to_numpy()),
                "resolved_at": _ts_array(res_us, valid=is_res),
                "priority": _categorical(deliver.column("_priority").to_numpy(), TICKET_PRIORITIES),
                "category": _categorical(deliver.column("_category").to_numpy(), TICKET_CATEGORIES),
                "escalated": deliver.column("_escalated"),
                "satisfaction": pa.array(
                    deliver.column("_sat").to_numpy(), mask=~(is_res & deliver.column("_rated").to_numpy())
                ),
                "updated_at": _ts_array(upd),
            },
        )
        writer.write("support_tickets", table)
        new_open = new.filter(pc.greater_equal(new.column("_resolved_us"), cut_us))
        # a churned customer's open tickets are closed out of sight (never re-delivered)
        remaining = pa.concat_tables([still_open, new_open])
        alive = a["churn_day"][remaining.column("_idx").to_numpy()] < 0
        st.open_tickets = remaining.filter(pa.array(alive))

    def _nps(self, w: MonthWindow) -> None:
        m, active, win_lo, win_hi, d0, writer = w.m, w.active, w.win_lo, w.win_hi, w.d0, w.writer
        a, st = self.state.arrays, self.state
        rng = _rng(st.seed, m + 1, 40)
        asked = (rng.random(len(active)) < 0.1) & (win_hi > win_lo)
        idx = active[asked]
        k = len(idx)
        score = 8.0 + 1.6 * self._health(m, idx) - 1.2 * (a["_open_tickets"][idx] > 0) + rng.normal(0, 1.5, k)
        score = np.clip(np.round(score), 0, 10).astype(np.int64)
        day = d0 + win_lo[asked] + (rng.random(k) * (win_hi - win_lo)[asked]).astype(np.int64)
        band = np.where(score <= 6, 0, np.where(score <= 8, 1, 2))
        pick = rng.integers(0, 4, size=k)
        has_comment = rng.random(k) < 0.35
        texts = [COMMENTS["low"], COMMENTS["mid"], COMMENTS["high"]]
        comment = [texts[b][p] if c else None for b, p, c in zip(band, pick, has_comment, strict=True)]
        a["nps_prev"][idx] = a["nps_last"][idx]
        a["nps_last"][idx] = score.astype("int8")
        table = to_table(
            SOURCES["nps_responses"],
            {
                "response_id": make_ids("N", st.next_ids("nps", k), 9),
                "customer_id": self._customer_ids(idx),
                "responded_at": _date_array(day),
                "score": score,
                "comment": pa.array(comment, type=pa.string()),
            },
        )
        writer.write("nps_responses", table)

    def _invoices(self, w: MonthWindow) -> None:
        """Invoices are issued on the signup anniversary day; they settle on time, late, or fail."""
        m, active, win_lo, win_hi, d0, d1, writer = w.m, w.active, w.win_lo, w.win_hi, w.d0, w.d1, w.writer
        a, st = self.state.arrays, self.state
        rng = _rng(st.seed, m + 1, 50)
        length = d1 - d0
        signup = a["signup_day"][active].astype("datetime64[D]")
        day_of_month = (signup - signup.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
        anniv = np.minimum(day_of_month, length - 1)
        billed = (anniv >= win_lo) & (anniv < win_hi)
        idx = active[billed]
        k = len(idx)
        issued = d0 + anniv[billed]
        due = issued + 14
        fail = rng.random(k) < a["pay_fail"][idx]
        recovered = fail & (rng.random(k) < 0.5)
        late = ~fail & (rng.random(k) < 0.06 + 0.08 * a["declining"][idx])
        paid = np.where(
            fail,
            np.where(recovered, due + rng.integers(3, 25, size=k), -1),
            np.where(late, due + rng.integers(1, 30, size=k), issued + rng.integers(0, 12, size=k)),
        )
        attempts = np.where(fail, rng.integers(1, 4, size=k), 0)
        amount = np.round(a["mrr"][idx], 2)
        a["late_months"][active] = np.minimum(a["late_months"][active].astype(int) + 1, 99)
        a["late_months"][idx[late | recovered]] = 0
        a["failed_m1"][:] = False
        a["failed_m1"][idx[fail & ~recovered]] = True
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
            settle = pc.and_(
                pc.greater_equal(pending.column("_paid"), 0), pc.less(pending.column("_paid"), d1)
            )
            earlier = pending.filter(settle)
            still = pending.filter(pc.invert(settle))
            # unpaid failed invoices are given up after 60 days (written off, never re-delivered)
            still = still.filter(pc.greater(pc.add(still.column("_due"), 60), d0))
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
            SOURCES["invoices"],
            {
                "invoice_id": make_ids("I", deliver.column("_num").to_numpy(), 10),
                "customer_id": self._customer_ids(deliver.column("_idx").to_numpy()),
                "subscription_id": make_ids("S", deliver.column("_sub").to_numpy(), 9),
                "issued_date": _date_array(deliver.column("_issued").to_numpy()),
                "due_date": _date_array(due_d),
                "amount": deliver.column("_amount"),
                "paid_date": _date_array_nullable(paid_d, is_paid),
                "status": _categorical(status, ("open", "paid", "failed")),
                "failed_attempts": att_now,
                "updated_at": _ts_array(upd_day * DAY_US + 12 * 3_600_000_000),
            },
        )
        writer.write("invoices", table)
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
        m: int,
        active: np.ndarray,
        new_idx: np.ndarray,
        churn_idx: np.ndarray,
        d0: int,
        d1: int,
        writer: BatchWriter,
        repriced: dict[str, np.ndarray] | None = None,
    ) -> None:
        a, st = self.state.arrays, self.state
        rng = _rng(st.seed, m + 1, 60)
        length = d1 - d0
        a["downgrade_months"][active] = np.minimum(a["downgrade_months"][active].astype(int) + 1, 99)
        staying = active[(a["churn_day"][active] < 0) & (a["signup_day"][active] < d0)]
        dec = a["declining"][staying]
        p_down = np.where(dec & (a["plan"][staying] > 0), 0.08, 0.004 * (a["plan"][staying] > 0))
        p_up = np.where(a["health"][staying] > 0.5, 0.02, 0.002) * (a["plan"][staying] < 2)
        u = rng.random(len(staying))
        down = staying[u < p_down]
        up = staying[(u >= p_down) & (u < p_down + p_up)]
        changed = np.concatenate([down, up])
        change_kind = np.concatenate([np.full(len(down), 2), np.full(len(up), 1)])
        change_day = d0 + rng.integers(1, length, size=len(changed))
        order = np.argsort(changed, kind="stable")
        changed, change_kind, change_day = changed[order], change_kind[order], change_day[order]

        # rows that close: periods ended by a plan change, and periods cancelled by churn
        close_idx = np.concatenate([changed, churn_idx])
        close_end = np.concatenate([change_day - 1, a["churn_day"][churn_idx]])
        close_cancel = np.concatenate([np.full(len(changed), -1), a["churn_day"][churn_idx]])
        closed = {
            "seq": a["sub_seq"][close_idx].copy(),
            "idx": close_idx,
            "plan": a["plan"][close_idx].copy(),
            "mrr": a["mrr"][close_idx].copy(),
            "kind": a["sub_kind"][close_idx].copy(),
            "start": a["sub_start_day"][close_idx].copy(),
            "end": close_end,
            "cancel": close_cancel,
            "upd": np.maximum(close_end, close_cancel),
        }

        # the new periods opened by plan changes
        new_plan = a["plan"][changed].astype(int) + np.where(change_kind == 2, -1, 1)
        factor = PLAN_PRICE[new_plan] / PLAN_PRICE[a["plan"][changed]]
        a["mrr"][changed] = np.round(a["mrr"][changed] * factor, 2)
        a["plan"][changed] = new_plan.astype("int8")
        a["sub_seq"][changed] = st.next_ids("subscription", len(changed))
        a["sub_start_day"][changed] = change_day
        a["downgrade_months"][down] = 0
        a["sub_kind"][changed] = change_kind

        opened_idx = np.concatenate([new_idx, changed])
        if m == 0:
            existing = np.flatnonzero((a["status"] >= 1) & (a["signup_day"] < d0))
            opened_idx = np.concatenate([existing, opened_idx])
        if repriced is not None:
            # a price rise closed every running period on the day before and opened one at the new MRR
            opened_idx = np.concatenate([opened_idx, repriced["idx"]])
            closed = {k: np.concatenate([closed[k], repriced[k]]) for k in closed}
        opened_idx = np.setdiff1d(opened_idx, close_idx[len(changed) :], assume_unique=False)
        opened = {
            "seq": a["sub_seq"][opened_idx],
            "idx": opened_idx,
            "plan": a["plan"][opened_idx],
            "mrr": a["mrr"][opened_idx],
            "kind": a["sub_kind"][opened_idx],
            "start": a["sub_start_day"][opened_idx],
            "end": np.full(len(opened_idx), -1),
            "cancel": np.full(len(opened_idx), -1),
            "upd": np.maximum(a["sub_start_day"][opened_idx], d0),
        }
        rows = {k: np.concatenate([closed[k], opened[k]]) for k in closed}
        order = np.argsort(rows["seq"], kind="stable")
        rows = {k: v[order] for k, v in rows.items()}
        table = to_table(
            SOURCES["subscriptions"],
            {
                "subscription_id": make_ids("S", rows["seq"], 9),
                "customer_id": self._customer_ids(rows["idx"]),
                "plan": _categorical(rows["plan"], PLANS),
                "mrr": rows["mrr"],
                "change_type": _categorical(rows["kind"], ("new", "upgrade", "downgrade")),
                "start_date": _date_array(rows["start"]),
                "end_date": _date_array_nullable(rows["end"], rows["end"] >= 0),
                "cancel_date": _date_array_nullable(rows["cancel"], rows["cancel"] >= 0),
                "updated_at": _ts_array(rows["upd"] * DAY_US + 18 * 3_600_000_000),
            },
        )
        writer.write("subscriptions", table)

        # accounts: new ones, onboarding completed this month, consent changes, plan changes
        win_start = np.maximum(a["signup_day"][new_idx], d0)
        onboard_p = 0.75 - 0.1 * a["segment"][new_idx]
        completes = rng.random(len(new_idx)) < onboard_p
        a["onboard_day"][new_idx[completes]] = win_start[completes] + rng.integers(
            2, 45, size=completes.sum()
        )
        onboarded_now = np.flatnonzero(
            (a["onboard_day"] >= d0) & (a["onboard_day"] < d1) & (a["status"] >= 1)
        )
        unsub_p = 0.004 + 0.01 * a["declining"][active]
        unsub = active[(rng.random(len(active)) < unsub_p) & ~a["unsubscribed"][active]]
        a["unsubscribed"][unsub] = True
        a["consent"][unsub] = False
        if m == 0:
            base = np.flatnonzero((a["status"] >= 1) & (a["signup_day"] < d0))
        else:
            base = np.zeros(0, dtype=np.int64)
        touched = np.unique(np.concatenate([base, new_idx, onboarded_now, unsub, changed]))
        upd = np.maximum(a["signup_day"][touched], d0)
        ob = a["onboard_day"][touched]
        ob_visible = (ob >= 0) & (ob < d1)
        upd = np.where(ob_visible & (ob >= d0), np.maximum(upd, ob), upd)
        upd = np.maximum(upd, d1 - 1) if m == 0 else np.minimum(np.maximum(upd, d0), d1 - 1)
        self._write_accounts(touched, ob, ob_visible, upd, writer)

    def _write_accounts(
        self,
        idx: np.ndarray,
        onboard: np.ndarray,
        ob_visible: np.ndarray,
        upd: np.ndarray,
        writer: BatchWriter,
    ) -> None:
        a = self.state.arrays
        rng = _rng(self.state.seed, 0, 99)  # names are a pure function of the customer, not of the month
        names_a = rng.integers(0, len(ADJECTIVES), size=self.state.n)
        names_n = rng.integers(0, len(NOUNS), size=self.state.n)
        names_s = rng.integers(0, len(SUFFIXES), size=self.state.n)
        name = [f"{ADJECTIVES[names_a[i]]} {NOUNS[names_n[i]]} {SUFFIXES[names_s[i]]}" for i in idx]
        email = pc.binary_join_element_wise(pa.scalar("billing@"), make_ids("c", idx, 8), ".example.com", "")
        mgr = a["manager"][idx]
        table = to_table(
            SOURCES["accounts"],
            {
                "customer_id": self._customer_ids(idx),
                "name": pa.array(name, type=pa.string()),
                "email": email,
                "country": _categorical(a["country"][idx], COUNTRIES),
                "segment": _categorical(a["segment"][idx], SEGMENTS),
                "plan": _categorical(a["plan"][idx], PLANS),
                "signup_date": _date_array(a["signup_day"][idx]),
                "acquisition_channel": _categorical(a["channel"][idx], ACQUISITION_CHANNELS),
                "marketing_consent": pa.array(a["consent"][idx]),
                "unsubscribed": pa.array(a["unsubscribed"][idx]),
                "account_manager": _categorical(np.maximum(mgr, 0), MANAGERS, valid=mgr >= 0),
                "onboarding_completed_at": _date_array_nullable(np.maximum(onboard, 0), ob_visible),
                "updated_at": _ts_array(upd * DAY_US + 20 * 3_600_000_000),
            },
        )
        writer.write("accounts", table)

    def _write_truth(
        self,
        m: int,
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
    meta = {
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


def load_state(folder: Path) -> State:
    """Load a company saved by an earlier run; a clear error if there is none."""
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        raise FileNotFoundError(
            f"no simulation to continue in {folder}: run `churn-platform simulate` first (without --advance-months)"
        )
    meta = json.loads(meta_path.read_text())
    table = pq.read_table(folder / "customers.parquet")
    arrays = {name: table.column(name).to_numpy().copy() for name in table.column_names}
    state = State(
        arrays=arrays,
        seed=meta["seed"],
        start=dt.date.fromisoformat(meta["start"]),
        next_month=meta["next_month"],
        signups_per_month=meta["signups_per_month"],
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

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "customers_total": self.customers_total,
            "oracle_auc": self.oracle_auc,
            "monthly_churn_rate": self.churn_rate,
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
    """Simulate a new company, or continue the saved one by ``advance_months``; returns a summary."""
    state_dir = config.ground_truth / "state"
    if advance_months is None:
        for path in (config.landing, config.ground_truth):
            if path.exists() and any(path.iterdir()):
                raise FileExistsError(
                    f"{path} is not empty: simulate into an empty folder, or continue the company there with "
                    "--advance-months"
                )
        state = init_state(config)
        months = range(0, config.months)
        _plan_signups(state, config, months, total=config.customers - state.n)
        _write_customer_truth(state, config.ground_truth)
    else:
        state = load_state(state_dir)
        months = range(state.next_month, state.next_month + advance_months)
        _plan_signups(state, config, months, total=None)
        _write_customer_truth(state, config.ground_truth)
    state.drift = _drift_scenario(config, state, months, advancing=advance_months is not None)
    sim = Simulator(config, state)
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


def _write_customer_truth(state: State, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    a = state.arrays
    idx = np.arange(state.n)
    cols: dict[str, Any] = {
        "customer_id": make_ids("C", idx, 8),
        "archetype": _categorical(a["archetype"], ARCHETYPES),
        "frailty": pa.array(np.round(a["frailty"], 6)),
    }
    for name in INTERVENTIONS:
        cols[f"effect_{name}"] = pa.array(a[f"effect_{name}"])
    pq.write_table(pa.table(cols), folder / "customers.parquet", compression="zstd")
