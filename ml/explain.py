"""Why a customer is at risk, in words a product manager reads, from CatBoost's SHAP values.

SHAP values are computed only for the customers someone will act on (SHAP runs at roughly 12k rows/s on
two cores, prediction at about 1M rows/s). A reason is a feature that pushes this customer's risk up; it
is worded from the customer's own values, so "posts down 45% in the last 30 days" is about them.

Usage reasons speak the company's language: they are built from its event types (:class:`Wording`, which
the pipeline fills from the company profile), so a social app reads "no posts for 45 days" and "watch time
down 60% in the last 30 days" where a SaaS company reads "no logins for 45 days". ``ml/`` takes the words as
a parameter and never reads the profile itself. Every template reads naturally at the extremes: nothing in
30 days is "no posts in the last 30 days" (never "down 100%" or "only 0"); a recency with no value (none within
the recency window, 60 days) is "no posts in the last 60 days".
Features that say the same thing (the count, its change, the count the month before) share a topic, and a
customer gets at most one reason per topic.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ml.models import ChurnModel

Render = Callable[[pd.Series], str | None]
AttributeType = Literal["numeric", "categorical", "boolean", "date"]
Measure = Literal["seconds", "value"]


@dataclass(frozen=True)
class Template:
    """How one feature is put into words; reasons sharing a ``topic`` are said once per customer."""

    topic: str
    render: Render


# ---------------------------------------------------------------------------------------------- formatting


def shap_values(model: ChurnModel, frame: pd.DataFrame) -> np.ndarray:
    """Per-row, per-feature SHAP values (log-odds) of a CatBoost model, in the model's column order."""
    if model.kind != "catboost":
        raise ValueError(f"reasons come from CatBoost's SHAP values; got a {model.kind} model")
    from catboost import Pool

    X = model.spec.check(frame, "the table to explain")
    pool = Pool(X, cat_features=list(model.spec.categorical))
    values = model.estimator.get_feature_importance(pool, type="ShapValues", thread_count=2)
    return np.asarray(values[:, :-1])  # the last column is the expected value


def _num(row: pd.Series, name: str) -> float | None:
    value: Any = row.get(name)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _number(x: float) -> str:
    """12 -> "12", 1234 -> "1,234", 2.5 -> "2.5", 0.25 -> "0.25"."""
    if abs(x - round(x)) < 0.05 or abs(x) >= 100:
        return f"{round(x):,}"
    return f"{x:,.2f}".rstrip("0").rstrip(".") if abs(x) < 1 else f"{x:,.1f}".rstrip("0").rstrip(".")


def _plural(n: float, word: str) -> str:
    k = round(n)
    return f"{k:,} {word}{'' if k == 1 else 's'}"


def singular(plural: str) -> str:
    """A best guess at the singular of an English plural noun phrase (its last word): "video views" ->
    "video view", "replies" -> "reply"; unchanged when it does not look plural."""
    head, _, last = plural.rpartition(" ")
    if last.endswith("ies") and len(last) > 3:
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    return f"{head} {last}" if head else last


def _duration(seconds: float) -> str:
    """45 -> "45 s", 600 -> "10 min", 7500 -> "2 h 5 min", 400000 -> "111 h"."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    hours, minutes = divmod(round(s / 60), 60)
    return f"{hours:,} h" if minutes == 0 or hours >= 100 else f"{hours} h {minutes} min"


def _days(n: float) -> str:
    return _plural(n, "day")


def _decline(change_pct: float | None) -> int | None:
    """A change in percent (positive = growth) as a whole-percent decline: 100 when nothing is left, 1..99
    otherwise, 0 for less than half a percent; None for growth or no change."""
    if change_pct is None or change_pct >= 0:
        return None
    return 100 if change_pct <= -100 else min(99, round(-change_pct))


def _words(name: str) -> str:
    return name.replace("_", " ")


# ---------------------------------------------------------------------------------------------- the company's words


@dataclass(frozen=True)
class EventWords:
    """How reasons name one event type: ``name`` as in the feature columns (``post``), ``plural`` the noun
    ("posts"; default: the name + s), ``measure`` ``seconds`` or ``value`` when its events carry one and
    ``measure_label`` what the summed measure is called ("watch time", "tips sent")."""

    name: str
    plural: str | None = None
    measure: Measure | None = None
    measure_label: str | None = None
    singular: str | None = None

    @property
    def many(self) -> str:
        return self.plural or f"{_words(self.name)}s"

    @property
    def one(self) -> str:
        return self.singular or singular(self.many)

    @property
    def measure_words(self) -> str:
        if self.measure_label:
            return self.measure_label
        return f"time on {self.many}" if self.measure == "seconds" else f"{_words(self.name)} value"

    def count(self, n: float) -> str:
        k = round(n)
        return f"{k:,} {self.one if k == 1 else self.many}"

    def amount(self, x: float) -> str:
        return _duration(x) if self.measure == "seconds" else _number(x)


@dataclass(frozen=True)
class AttributeWords:
    """A customer attribute feature: ``feature`` the model column, ``type`` as in the profile, ``name`` the
    attribute it comes from (a ``date`` attribute's feature is the years since that date)."""

    feature: str
    type: AttributeType
    name: str | None = None


@dataclass(frozen=True)
class Wording:
    """Everything reasons need to know of the company: its event types, attributes and currency."""

    events: tuple[EventWords, ...] = ()
    attributes: tuple[AttributeWords, ...] = ()
    currency: str | None = None

    def templates(self) -> dict[str, Template]:
        """Feature name -> template, for every feature these event types and attributes can produce plus the
        platform's own (tickets, payments, NPS, tenure, MRR ...)."""
        return _templates(self)


ALL_EVENTS = EventWords(name="event", plural="events")
DEFAULT_WORDING = Wording()


def _count_reason(current: str, previous: str, words: EventWords, nothing: str) -> Render:
    """The last 30 days' count (or summed measure), compared with the 30 days before when that was higher."""
    measured = _is_measure(current, words)

    def render(row: pd.Series) -> str | None:
        cur, prev = _num(row, current), _num(row, previous)
        if cur is None:
            return None
        if _nothing(cur, words, measured):
            return f"{nothing} in the last 30 days"
        down = prev is not None and prev > cur
        if measured:
            said = f"{words.measure_words} {'' if down else 'only '}{words.amount(cur)} in the last 30 days"
            return said + (f", down from {words.amount(prev)}" if down and prev is not None else "")
        if down and prev is not None:
            return f"{words.count(cur)} in the last 30 days, down from {_number(prev)}"
        return f"only {words.count(cur)} in the last 30 days"

    return render


def _nothing(x: float, words: EventWords, measured: bool) -> bool:
    """Whether an amount reads as nothing: no whole event, no whole second (a summed value may be small)."""
    if measured and words.measure == "value":
        return x <= 0
    return round(x) <= 0


def _is_measure(column: str, words: EventWords) -> bool:
    return words.measure is not None and column.startswith(f"{words.name}_{words.measure}_")


def _previous_reason(current: str, previous: str, words: EventWords, nothing: str) -> Render:
    """The count of the 30 days before: a reason only when the last 30 days fell below it."""
    said = _count_reason(current, previous, words, nothing)

    def render(row: pd.Series) -> str | None:
        cur, prev = _num(row, current), _num(row, previous)
        if cur is None or prev is None or cur >= prev:
            return None
        return said(row)

    return render


def _change_reason(column: str, what: str, nothing: str) -> Render:
    def render(row: pd.Series) -> str | None:
        down = _decline(_num(row, column))
        if down is None:
            return None
        if down == 100:
            return f"{nothing} in the last 30 days"
        return f"{what} {'slightly down' if down == 0 else f'down {down}%'} in the last 30 days"

    return render


RECENCY_WINDOW_DAYS = 60  # dbt var recency_window_days: how far back days_since_last_* look


def _recency_reason(column: str, words: str, nothing_yet: str) -> Render:
    def render(row: pd.Series) -> str | None:
        days = _num(row, column)
        if days is None:
            return nothing_yet
        if days < 1:
            return None
        return f"no {words} for {_days(days)}"

    return render


def _rate_reason(column: str, words: EventWords, measured: bool) -> Render:
    def render(row: pd.Series) -> str | None:
        rate = _num(row, column)
        if rate is None:
            return None
        what = words.measure_words if measured else words.many
        if rate <= 0 or (not measured and _number(rate) == "0") or (measured and _nothing(rate, words, True)):
            return f"no {what} on active days in the last 30 days"
        if measured:
            return f"{what} {words.amount(rate)} a day on active days in the last 30 days"
        amount = _number(rate)
        noun = words.one if amount == "1" else words.many
        return f"{amount} {noun} a day on active days in the last 30 days"

    return render


def _event_templates(e: EventWords) -> dict[str, Template]:
    t = e.name
    out: dict[str, Template] = {
        f"{t}_30d": Template(f"{t}:count", _count_reason(f"{t}_30d", f"{t}_prev_30d", e, f"no {e.many}")),
        f"{t}_prev_30d": Template(
            f"{t}:count", _previous_reason(f"{t}_30d", f"{t}_prev_30d", e, f"no {e.many}")
        ),
        f"{t}_change_pct": Template(f"{t}:count", _change_reason(f"{t}_change_pct", e.many, f"no {e.many}")),
        f"days_since_last_{t}": Template(
            f"{t}:recency",
            _recency_reason(
                f"days_since_last_{t}", e.many, f"no {e.many} in the last {RECENCY_WINDOW_DAYS} days"
            ),
        ),
        f"{t}_per_active_day": Template(f"{t}:rate", _rate_reason(f"{t}_per_active_day", e, measured=False)),
    }
    if e.measure:
        p, mw = f"{t}_{e.measure}", e.measure_words
        out |= {
            f"{p}_30d": Template(f"{p}:count", _count_reason(f"{p}_30d", f"{p}_prev_30d", e, f"no {mw}")),
            f"{p}_prev_30d": Template(
                f"{p}:count", _previous_reason(f"{p}_30d", f"{p}_prev_30d", e, f"no {mw}")
            ),
            f"{p}_change_pct": Template(f"{p}:count", _change_reason(f"{p}_change_pct", mw, f"no {mw}")),
            f"{p}_per_active_day": Template(
                f"{p}:rate", _rate_reason(f"{p}_per_active_day", e, measured=True)
            ),
        }
    return out


def _total_templates() -> dict[str, Template]:
    e = ALL_EVENTS
    nothing = "no activity"

    def active_days(row: pd.Series) -> str | None:
        n = _num(row, "active_days_30d")
        if n is None:
            return None
        return (
            f"{nothing} in the last 30 days"
            if round(n) <= 0
            else f"active on only {round(n)} of the last 30 days"
        )

    def paced(row: pd.Series) -> str | None:
        n = _num(row, "events_30d_tenure_scaled")
        if n is None:
            return None
        if round(n) <= 0:
            return f"{nothing} in the last 30 days"
        return f"only about {e.count(n)} a month at the current pace"

    return {
        "events_30d": Template("events:count", _count_reason("events_30d", "events_prev_30d", e, nothing)),
        "events_prev_30d": Template(
            "events:count", _previous_reason("events_30d", "events_prev_30d", e, nothing)
        ),
        "events_change_pct": Template(
            "events:count", _change_reason("events_change_pct", "activity", nothing)
        ),
        "active_days_30d": Template("events:active_days", active_days),
        "days_since_last_event": Template(
            "events:recency",
            _recency_reason(
                "days_since_last_event", "activity", f"no activity in the last {RECENCY_WINDOW_DAYS} days"
            ),
        ),
        "events_30d_tenure_scaled": Template("events:count", paced),
    }


def _attribute_template(a: AttributeWords) -> Template:
    words = _words(a.feature)

    def render(row: pd.Series) -> str | None:
        value: Any = row.get(a.feature)
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            return None
        if a.type == "categorical":
            return f"{words} is {value}"
        if a.type == "boolean":
            return f"{words}: {'yes' if bool(value) else 'no'}"
        x = _num(row, a.feature)
        if x is None:
            return None
        if a.type == "date":
            if a.name and a.feature == f"{a.name}_years":  # the default feature: years since the date
                years = round(x)
                return (
                    f"{_words(a.name)} {_plural(years, 'year')} ago"
                    if years >= 1
                    else f"{_words(a.name)} this year"
                )
            return f"{words} {round(x)}"
        return f"{words} {_number(x)}"

    return Template(a.feature, render)


# ---------------------------------------------------------------------------------------------- the platform's own


def _tickets(row: pd.Series) -> str | None:
    n = _num(row, "unresolved_tickets") or 0
    if round(n) <= 0:
        return None
    age = _num(row, "oldest_unresolved_ticket_days")
    return _plural(n, "unresolved ticket") + (
        f", oldest {_days(age)}" if age is not None and age >= 1 else ""
    )


def _counted(column: str, word: str, window: str) -> Render:
    """ "2 failed payments in the last 90 days"; nothing to say at zero."""

    def render(row: pd.Series) -> str | None:
        n = _num(row, column)
        return None if n is None or round(n) <= 0 else f"{_plural(n, word)} in the last {window}"

    return render


def _nps(row: pd.Series) -> str | None:
    score = _num(row, "latest_nps")
    if score is None:
        return None
    return f"last NPS score {round(score)}" + (" (detractor)" if round(score) <= 6 else "")


def _nps_trend(row: pd.Series) -> str | None:
    trend = _num(row, "nps_trend")
    return f"NPS fell by {_plural(abs(trend), 'point')}" if trend is not None and round(trend) < 0 else None


def _onboarding(row: pd.Series) -> str | None:
    done = _num(row, "onboarding_completed")
    return "onboarding not completed" if done is not None and done == 0 else None


def _days_to_onboard(row: pd.Series) -> str | None:
    days = _num(row, "days_to_onboard")
    if days is None:
        return None
    return "onboarded the day they signed up" if days < 1 else f"took {_days(days)} to onboard"


def _tenure(row: pd.Series) -> str | None:
    days = _num(row, "tenure_days")
    if days is None:
        return None
    if days < 1:
        return "signed up less than a day ago"
    if days < 60:
        return f"customer for only {_days(days)}"
    if days < 730:
        return f"customer for {_plural(days / 30.44, 'month')}"
    return f"customer for {_plural(days / 365.25, 'year')}"


def _mrr_change(row: pd.Series) -> str | None:
    down = _decline(_num(row, "mrr_change_3m_pct"))
    if down is None:
        return None
    if down == 100:
        return "MRR fell to nothing over 3 months"
    return f"MRR {'slightly down' if down == 0 else f'down {down}%'} over 3 months"


def _money(x: float, currency: str | None) -> str:
    """12.99 -> "12.99 EUR", 300 -> "300 EUR", 1234.5 -> "1,235 EUR" (no currency: the number alone)."""
    amount = f"{x:,.2f}" if abs(x) < 100 and abs(x - round(x)) >= 0.005 else f"{round(x):,}"
    return f"{amount} {currency}" if currency else amount


def _named(column: str, say: Callable[[str], str]) -> Render:
    def render(row: pd.Series) -> str | None:
        value: Any = row.get(column)
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return None
        return say(str(value))

    return render


def _account_manager(row: pd.Series) -> str | None:
    has = _num(row, "has_account_manager")
    if has is None:
        return None
    return "no account manager" if has == 0 else "has an account manager"


def _platform_templates(currency: str | None) -> dict[str, Template]:
    def mrr(row: pd.Series) -> str | None:
        x = _num(row, "mrr")
        if x is None:
            return None
        return "pays nothing at the moment" if x <= 0 else f"pays {_money(x, currency)} a month"

    def mrr_3m_ago(row: pd.Series) -> str | None:
        x = _num(row, "mrr_3m_ago")
        return None if x is None else f"paid {_money(x, currency)} a month 3 months ago"

    plain: dict[str, Render] = {
        "escalations_30d": _counted("escalations_30d", "escalated ticket", "30 days"),
        "tickets_30d": _counted("tickets_30d", "support ticket", "30 days"),
        "failed_payments_90d": _counted("failed_payments_90d", "failed payment", "90 days"),
        "late_payments_90d": _counted("late_payments_90d", "late payment", "90 days"),
        "downgrades_90d": _counted("downgrades_90d", "downgrade", "90 days"),
        "latest_nps": _nps,
        "nps_trend": _nps_trend,
        "onboarding_completed": _onboarding,
        "days_to_onboard": _days_to_onboard,
        "tenure_days": _tenure,
        "mrr_change_3m_pct": _mrr_change,
        "mrr": mrr,
        "mrr_3m_ago": mrr_3m_ago,
        "plan": _named("plan", lambda v: f"on the {v} plan"),
        "segment": _named("segment", lambda v: f"{v.replace('_', '-')} customer"),
        "country": _named("country", lambda v: f"based in {v}"),
        "acquisition_channel": _named("acquisition_channel", lambda v: f"came through {v.replace('_', ' ')}"),
        "has_account_manager": _account_manager,
    }
    out = {name: Template(name, render) for name, render in plain.items()}
    out["unresolved_tickets"] = Template("open_tickets", _tickets)
    out["oldest_unresolved_ticket_days"] = Template("open_tickets", _tickets)
    return out


@functools.lru_cache(maxsize=32)
def _templates(wording: Wording) -> dict[str, Template]:
    out = _platform_templates(wording.currency)
    out |= _total_templates()
    for e in wording.events:
        out |= _event_templates(e)
    for a in wording.attributes:
        out[a.feature] = _attribute_template(a)
    return out


# Templates of features every company has (tickets, payments, NPS, tenure, MRR, activity totals ...).
TEMPLATES: dict[str, Template] = _templates(DEFAULT_WORDING)


def _generic(feature: str, row: pd.Series) -> str:
    value: Any = row.get(feature)
    words = _words(feature)
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return f"{words} unknown"
    if isinstance(value, bool | np.bool_):
        return f"{words}: {'yes' if value else 'no'}"
    if isinstance(value, int | float | np.integer | np.floating):
        return f"{words} {_number(float(value))}"
    return f"{words} is {value}"


def describe(feature: str, row: pd.Series, wording: Wording | None = None) -> str | None:
    """A feature's contribution in words, or None when there is nothing risky to say about it.

    Features no template knows are said plainly ("favourite colour is blue").
    """
    return _describe(feature, row, _templates(wording or DEFAULT_WORDING))


def _describe(feature: str, row: pd.Series, templates: dict[str, Template]) -> str | None:
    template = templates.get(feature)
    if template is not None:
        return template.render(row)
    return _generic(feature, row)


def _topic(feature: str, templates: dict[str, Template]) -> str:
    template = templates.get(feature)
    return template.topic if template is not None else feature


def top_reasons(
    model: ChurnModel, frame: pd.DataFrame, k: int = 3, wording: Wording | None = None
) -> tuple[list[list[str]], np.ndarray]:
    """The k features that raise each customer's risk most, in words, plus the SHAP matrix behind them.

    ``wording``: the company's event types and attributes (see :class:`Wording`); without it usage features
    of event types are said plainly. At most one reason per topic and no sentence twice.
    """
    templates = _templates(wording or DEFAULT_WORDING)
    values = shap_values(model, frame)
    columns = model.spec.columns
    topics = [_topic(c, templates) for c in columns]
    reasons: list[list[str]] = []
    rows = frame.reset_index(drop=True)
    order = np.argsort(-values, axis=1, kind="stable")
    for i in range(len(rows)):
        row = rows.iloc[i]
        said: list[str] = []
        seen: set[str] = set()
        for j in order[i]:
            if values[i, j] <= 0 or len(said) >= k:
                break
            if topics[j] in seen:
                continue
            text = _describe(columns[j], row, templates)
            if text and text not in said:
                said.append(text)
                seen.add(topics[j])
        reasons.append(said)
    return reasons, values


def strongest_feature(values: np.ndarray, columns: Sequence[str]) -> list[str | None]:
    """Per row, the feature that raises risk most (None when nothing does): it decides the churn factor."""
    best = values.argmax(axis=1)
    return [columns[j] if values[i, j] > 0 else None for i, j in enumerate(best)]
