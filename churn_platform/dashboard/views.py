"""The dashboard's arithmetic as plain pandas: filters, KPIs and the frames the charts draw.

Kept apart from Streamlit so tests check the numbers a product manager reads on small frames with known
answers, and the pages stay a thin layout over these functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

TIERS = ("critical", "high", "medium", "low")
HIGH_PLUS = ("critical", "high")
CONTACT_STATUSES = ("sent", "queued", "failed", "not contacted")
TIER_COLORS = {"critical": "#b71c1c", "high": "#ef6c00", "medium": "#f9a825", "low": "#90a4ae"}
Breakdown = Literal["none", "segment", "plan"]

WORKLIST_COLUMNS = [
    "customer_id", "company_name", "email", "segment", "plan", "mrr", "churn_probability", "risk_tier",
    "reason_1", "reason_2", "reason_3", "customer_value", "value_band", "valuable", "decision", "decision_reason",
    "playbook", "intervention", "contact_status", "last_contacted_at", "account_manager", "top_feature",
]  # fmt: skip


PERSONAL_COLUMNS = ("company_name", "email", "account_manager")
"""The worklist's columns that hold personal data: the contract's personal columns of ``accounts`` (name,
email, account_manager) as the worklist names them."""
MASK = "•••"


# --- who sees what ----------------------------------------------------------------------------------------


def visible_rows(frame: pd.DataFrame, all_accounts: bool, manages: str | None) -> pd.DataFrame:
    """Every row for a role with ``all_accounts``; else only the accounts ``manages`` is the manager of (none
    when the person manages nobody)."""
    if all_accounts:
        return frame
    if not manages or "account_manager" not in frame:
        return frame.iloc[0:0]
    return frame[frame["account_manager"].fillna("") == manages].reset_index(drop=True)


def mask_personal(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every personal value replaced by a mask (an empty value stays empty)."""
    out = frame.copy()
    for col in PERSONAL_COLUMNS:
        if col in out:
            out[col] = out[col].where(out[col].isna(), MASK)
    return out


def for_viewer(frame: pd.DataFrame, all_accounts: bool, manages: str | None, pii: bool) -> pd.DataFrame:
    """The rows a person may see, personal data masked unless they hold the ``pii`` permission."""
    rows = visible_rows(frame, all_accounts, manages)
    return rows if pii else mask_personal(rows)


# --- worklist -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorklistFilter:
    """What the product manager picked; an empty selection means everything."""

    tiers: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    valuable: bool | None = None
    contact_statuses: tuple[str, ...] = ()
    min_probability: float = 0.0
    search: str = ""


def ordered_tiers(values: pd.Series) -> list[str]:
    """Tiers present, most severe first (unknown tier names after the policy's)."""
    present = [str(v) for v in values.dropna().unique()]
    return [t for t in TIERS if t in present] + sorted(t for t in present if t not in TIERS)


def default_tiers(values: pd.Series) -> list[str]:
    """The worklist opens on every tier above low: those are the tiers scoring explains."""
    return [t for t in ordered_tiers(values) if t != "low"]


def _worth_saving(frame: pd.DataFrame) -> pd.Series:
    """``valuable`` as plain booleans; a customer without a value is not known to be worth saving."""
    return frame["valuable"].eq(True)


def filter_worklist(frame: pd.DataFrame, chosen: WorklistFilter) -> pd.DataFrame:
    """Rows matching every filter, riskiest first; the search matches customer id or company, any case."""
    mask = frame["churn_probability"] >= chosen.min_probability
    if chosen.tiers:
        mask &= frame["risk_tier"].isin(chosen.tiers)
    if chosen.segments:
        mask &= frame["segment"].isin(chosen.segments)
    if chosen.plans:
        mask &= frame["plan"].isin(chosen.plans)
    if chosen.valuable is not None:
        mask &= _worth_saving(frame) == chosen.valuable
    if chosen.contact_statuses:
        mask &= frame["contact_status"].isin(chosen.contact_statuses)
    text = chosen.search.strip().lower()
    if text:
        found = frame["customer_id"].astype(str).str.lower().str.contains(text, regex=False)
        if "company_name" in frame:
            found |= frame["company_name"].fillna("").astype(str).str.lower().str.contains(text, regex=False)
        mask &= found
    out = frame[mask]
    return out.sort_values(["churn_probability", "customer_id"], ascending=[False, True]).reset_index(
        drop=True
    )


def worklist_kpis(frame: pd.DataFrame) -> dict[str, float]:
    """Headline numbers: customers at high+ risk, their MRR, the valuable among them, expected MRR lost."""
    high = frame[frame["risk_tier"].isin(HIGH_PLUS)]
    return {
        "customers": float(len(frame)),
        "at_risk": float(len(high)),
        "mrr_at_risk": float(high["mrr"].fillna(0).sum()),
        "valuable_at_risk": float(_worth_saving(high).sum()),
        "expected_mrr_loss": float((frame["churn_probability"] * frame["mrr"].fillna(0)).sum()),
    }


def split_valuable(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(worth saving, not worth saving): value x expected save rate against the cost of trying."""
    valuable = _worth_saving(frame)
    return frame[valuable].reset_index(drop=True), frame[~valuable].reset_index(drop=True)


def worklist_display(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns a reader needs, in reading order (whichever of them the snapshot has)."""
    return frame[[c for c in WORKLIST_COLUMNS if c in frame.columns]]


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A text cell a spreadsheet would read as a formula gets a leading ``'`` (OWASP CSV injection).

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is neutralised; numbers, dates
    and missing values pass unchanged (a negative number is a number, not a formula).
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(frame: pd.DataFrame) -> bytes:
    """The worklist as shown, as UTF-8 CSV with every text cell neutralised by :func:`csv_safe`."""
    shown = worklist_display(frame).copy()
    for column in shown.columns:
        if shown[column].dtype == object or pd.api.types.is_string_dtype(shown[column]):
            shown[column] = shown[column].map(csv_safe)
    # CRLF as RFC 4180 says: a field holding a carriage return or a line feed is then quoted
    return shown.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


# --- trends ---------------------------------------------------------------------------------------------


def _subset(frame: pd.DataFrame, segments: tuple[str, ...], plans: tuple[str, ...]) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    if segments:
        mask &= frame["segment"].isin(segments)
    if plans:
        mask &= frame["plan"].isin(plans)
    return frame[mask]


def _group(frame: pd.DataFrame, breakdown: Breakdown) -> pd.Series:
    if breakdown == "none":
        return pd.Series("all customers", index=frame.index)
    return frame[breakdown].astype(str)


def churn_rate_series(
    trend: pd.DataFrame,
    breakdown: Breakdown = "none",
    segments: tuple[str, ...] = (),
    plans: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Churn rate per snapshot (and group): churned over labelled customers, pooled, never a mean of rates.

    Snapshots whose labels have not matured yet (nobody labelled) are left out rather than shown as 0%.
    """
    rows = _subset(trend, segments, plans).assign(group=lambda f: _group(f, breakdown))
    out = rows.groupby(["snapshot_date", "group"], as_index=False)[["customers", "labelled", "churned"]].sum()
    out = out[out["labelled"] > 0].copy()
    out["churn_rate"] = out["churned"] / out["labelled"]
    out["snapshot_date"] = pd.to_datetime(out["snapshot_date"])
    return out.sort_values(["snapshot_date", "group"]).reset_index(drop=True)


def tier_mix_series(
    mix: pd.DataFrame,
    breakdown: Breakdown = "none",
    segments: tuple[str, ...] = (),
    plans: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Customers and share per tier for each scored snapshot (its latest scoring run), per group.

    A snapshot rescored (a new champion) is shown as its latest scoring, so one point per month remains.
    """
    rows = _subset(mix, segments, plans)
    latest = rows.groupby("snapshot_date")["scored_at"].transform("max")
    rows = rows[rows["scored_at"] == latest].assign(group=lambda f: _group(f, breakdown))
    out = rows.groupby(["snapshot_date", "group", "risk_tier"], as_index=False).agg(
        customers=("customers", "sum")
    )
    out["share"] = out["customers"] / out.groupby(["snapshot_date", "group"])["customers"].transform("sum")
    out["snapshot_date"] = pd.to_datetime(out["snapshot_date"])
    order = {t: i for i, t in enumerate(TIERS)}
    out["_order"] = out["risk_tier"].map(order).fillna(len(TIERS))
    out = out.sort_values(["snapshot_date", "group", "_order"]).drop(columns="_order")
    return out.reset_index(drop=True)


# --- campaigns ------------------------------------------------------------------------------------------


def campaign_effects(outcomes: pd.DataFrame, dimension: str = "playbook") -> pd.DataFrame:
    """Save rate vs control with its 95% interval per campaign (snapshot) and group of one breakdown.

    ``retention.outcomes`` names the breakdown's value ``segment``; here it is ``group``. ``error_plus`` and
    ``error_minus`` are the distances to the interval's ends, as plotly's asymmetric error bars want.
    """
    rows = outcomes[outcomes["dimension"] == dimension].copy()
    rows = rows.rename(columns={"segment": "group"})
    rows["snapshot_date"] = pd.to_datetime(rows["snapshot_date"])
    rows["campaign"] = rows["snapshot_date"].dt.strftime("%Y-%m-%d")
    rows["label"] = rows["campaign"] if dimension == "overall" else rows["campaign"] + " · " + rows["group"]
    rows["error_plus"] = rows["save_rate_high"] - rows["save_rate"]
    rows["error_minus"] = rows["save_rate"] - rows["save_rate_low"]
    return rows.sort_values(["snapshot_date", "group"]).reset_index(drop=True)


NOT_MEASURABLE = "not yet measurable"


def _number(value: Any) -> float:
    """A float, or NaN for anything that is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _finite(value: Any) -> bool:
    return math.isfinite(_number(value))


def points(value: Any) -> str:
    """A save rate (a fraction) in percentage points, signed: ``+2.1 pts``."""
    return f"{float(value) * 100:+.1f} pts" if _finite(value) else "n/a"


def effect_text(row: Mapping[Any, Any], prefix: str = "save_rate_adjusted") -> str:
    """``+2.1 pts (-0.8 to +5.0)``: an estimate with its 95% interval."""
    effect, low, high = (_number(row.get(k)) for k in (prefix, f"{prefix}_low", f"{prefix}_high"))
    if not math.isfinite(effect):
        return "n/a"
    if not (math.isfinite(low) and math.isfinite(high)):
        return points(effect)
    return f"{points(effect)} ({low * 100:+.1f} to {high * 100:+.1f})"


def roi_text(row: Mapping[Any, Any]) -> str:
    """ROI with its interval, or ``not yet measurable`` while the save rate's interval spans zero: an ROI
    computed from a point estimate that chance cannot be told from says nothing."""
    roi, low, high = (_number(row.get(k)) for k in ("roi", "roi_low", "roi_high"))
    if row.get("verdict", NOT_MEASURABLE) == NOT_MEASURABLE or not math.isfinite(roi):
        return NOT_MEASURABLE
    interval = f" ({low:+.0%} to {high:+.0%})" if math.isfinite(low) and math.isfinite(high) else ""
    return f"{roi:+.0%}{interval}"


def weeks_text(weeks: Any) -> str:
    """How many more weeks until the interval can exclude zero, in words."""
    if not _finite(weeks):
        return "not at the current intake"
    if float(weeks) <= 0:
        return "measurable now"
    years = float(weeks) / 52.18
    return f"about {math.ceil(float(weeks))} more weeks" + (f" ({years:.0f} years)" if years >= 2 else "")


def playbook_summary(effects: pd.DataFrame, arm: str | None = "all") -> pd.DataFrame:
    """One display row per playbook (``arm`` all) or per playbook and arm (``arm`` None): every wave pooled.

    Columns: playbook, arm, treated, control, save rate (CUPED-adjusted, with interval), raw save rate, MDE,
    power, verdict, ROI (or not yet measurable), weeks until the interval can exclude zero."""
    rows = effects if arm is None else effects[effects["arm"] == arm]
    if arm is None:
        rows = rows[rows["arm"] != "all"]
    out = pd.DataFrame(
        {
            "playbook": rows["playbook"],
            "arm": rows["arm"],
            "waves": rows["waves"],
            "treated": rows["treated"].astype(int),
            "control": rows["control"].astype(int),
            "save rate (CUPED)": [effect_text(r) for r in rows.to_dict("records")],
            "save rate (raw)": [effect_text(r, "save_rate") for r in rows.to_dict("records")],
            "MDE": [points(v).replace("+", "") for v in rows["mde"]],
            "power": [f"{v:.0%}" if _finite(v) else "n/a" for v in rows["power"]],
            "verdict": rows["verdict"],
            "ROI": [roi_text(r) for r in rows.to_dict("records")],
            "weeks needed": [weeks_text(w) for w in rows["weeks_to_detect"]],
        }
    )
    return out.sort_values(["playbook", "arm"]).reset_index(drop=True)


def effects_long(effects: pd.DataFrame) -> pd.DataFrame:
    """Per playbook and arm, the raw and the CUPED-adjusted save rate as two rows (``estimate``), with plotly's
    asymmetric error distances and the MDE."""
    parts = []
    for estimate, prefix in (("raw", "save_rate"), ("CUPED-adjusted", "save_rate_adjusted")):
        part = effects[["playbook", "arm", "treated", "control", "mde", "verdict"]].copy()
        part["estimate"] = estimate
        part["save_rate"] = effects[prefix].to_numpy()
        part["error_plus"] = (effects[f"{prefix}_high"] - effects[prefix]).to_numpy()
        part["error_minus"] = (effects[prefix] - effects[f"{prefix}_low"]).to_numpy()
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["label"] = out["playbook"] + " · " + out["arm"]
    return out.sort_values(["playbook", "arm", "estimate"]).reset_index(drop=True)


def day_labels(dates: pd.Series) -> pd.Series:
    """Dates (or timestamps) as ``YYYY-MM-DD`` text, for a categorical axis: plotted as dates, one campaign
    snapshot alone becomes an axis of fractions of a second."""
    return pd.to_datetime(dates).dt.strftime("%Y-%m-%d")


def allocation_shares(allocation: pd.DataFrame) -> pd.DataFrame:
    """Per wave (``wave`` as text), playbook and arm: the share of the playbook's randomised customers."""
    out = allocation.copy()
    out["wave"] = day_labels(out["snapshot_date"])
    return out.sort_values(["playbook", "wave", "arm"]).reset_index(drop=True)


def response_rates(rates: pd.DataFrame) -> pd.DataFrame:
    """Per channel over every campaign: messages sent and, where the provider reports them, the rates
    (weighted by reported messages); ``not reported by the provider`` otherwise."""
    rows = []
    for channel, group in rates.groupby("channel", sort=True):
        reported = int(group["reported"].sum())
        row: dict[str, Any] = {"channel": channel, "sent": int(group["sent"].sum()), "reported": reported}
        for column in ("delivered_rate", "open_rate", "click_rate", "bounce_rate", "answer_rate"):
            values = group[column].astype(float)
            weights = group["reported"].astype(float)
            ok = values.notna() & (weights > 0)
            row[column] = (
                f"{float((values[ok] * weights[ok]).sum() / weights[ok].sum()):.1%}"
                if ok.any()
                else "not reported by the provider"
            )
        rows.append(row)
    return pd.DataFrame(rows)


def decision_summary(worklist: pd.DataFrame) -> pd.DataFrame:
    """Customers of the current worklist by their latest decision, playbook and contact status."""
    decided = worklist[worklist["decision"].notna()]
    keys = ["decision", "decision_reason", "playbook", "contact_status"]
    if decided.empty:
        return pd.DataFrame(columns=[*keys, "customers"])
    out = decided.groupby(keys, dropna=False).size().reset_index(name="customers")
    return out.sort_values(["decision", "customers"], ascending=[True, False]).reset_index(drop=True)


# --- model health ---------------------------------------------------------------------------------------

METRIC_LABELS = {
    "roc_auc": ("ROC-AUC", "Ranking quality: 0.5 is chance, 1 is perfect."),
    "pr_auc": ("PR-AUC", "Precision-recall area: how well the rare churners are found."),
    "lift_top_decile": ("Lift, top 10%", "Churn rate in the riskiest tenth over the average churn rate."),
    "brier": ("Brier", "Mean squared error of the probabilities (lower is better)."),
    "ece": ("Calibration error", "Expected calibration error (lower is better)."),
    "emp": ("EMP", "Expected maximum profit per customer of a retention campaign."),
}


def metric_cards(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, value, help) for the headline metrics the run logged, in a fixed reading order."""
    cards = []
    for key, (label, help_text) in METRIC_LABELS.items():
        value = metrics.get(key)
        if isinstance(value, int | float):
            cards.append((label, f"{value:.3f}", help_text))
    return cards


def versions_frame(health: dict[str, Any]) -> pd.DataFrame:
    """Registered versions, newest first, the champion marked."""
    versions = pd.DataFrame(health.get("versions") or [])
    if versions.empty:
        return versions
    champion = health.get("champion_version")
    versions["champion"] = versions["version"].astype(str) == str(champion)
    versions["aliases"] = versions["aliases"].map(lambda a: ", ".join(a) if isinstance(a, list) else "")
    first = ["version", "champion", "model_family", "roc_auc", "pr_auc", "promotion_decision"]
    return versions[[*first, *[c for c in versions.columns if c not in first]]]


def latest_decision(health: dict[str, Any]) -> str | None:
    """What the promotion gate decided in the newest training round, in one sentence (None before any round).

    After a retraining a product manager's first question is "did the model change?": this answers it.
    """
    rounds = [v for v in health.get("versions") or [] if v.get("candidate_of_round") == "best"]
    if not rounds:
        return None
    best = max(rounds, key=lambda v: int(v["version"]))
    auc = best.get("roc_auc")
    about = f"v{best['version']} ({best.get('model_family') or 'unknown'}"
    about += f", ROC-AUC {auc:.4f}" if isinstance(auc, (int, float)) else ""
    about += f", judged on {best['validation_snapshot']})" if best.get("validation_snapshot") else ")"
    champion = str(health.get("champion_version") or "")
    if best.get("promotion_decision") == "promote" and champion == str(best["version"]):
        return f"Latest training round ({best.get('registered_at') or '?'}): {about} beat the champion and was promoted."
    return (
        f"Latest training round ({best.get('registered_at') or '?'}): {about} did not beat the champion by the "
        f"policy margin; v{champion or '?'} stays champion."
    )


def drift_trend(monitoring: pd.DataFrame) -> pd.DataFrame:
    """Share of drifted features per feature drift run, oldest first (prediction drift's number is a distance,
    not a share, and the performance report has none)."""
    rows = monitoring[monitoring["drift_share"].notna() & (monitoring["report"] == "feature_drift")].copy()
    rows["run_at"] = pd.to_datetime(rows["run_at"])
    return rows.sort_values("run_at").reset_index(drop=True)


REPORT_TITLES = {
    "feature_drift": "Feature drift",
    "prediction_drift": "Prediction drift",
    "model_performance": "Model performance",
}


def order_reports(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Feature drift, prediction drift, performance (the order a reader follows), other kinds after."""
    rank = {kind: i for i, kind in enumerate(REPORT_TITLES)}
    return sorted(reports, key=lambda r: (rank.get(str(r.get("report")), len(rank)), str(r.get("report"))))


def report_numbers(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) for what a report measured; drift reports and the performance report differ."""
    numbers = []
    if report.get("report") == "prediction_drift":  # one column: its "share" is the distance itself
        if report.get("drift_share") is not None:
            numbers.append(("Distance (Wasserstein, normed)", f"{report['drift_share']:.3f}"))
        if report.get("dataset_drift") is not None:
            numbers.append(("Predictions drifted", "yes" if report["dataset_drift"] else "no"))
        return numbers
    if report.get("drift_share") is not None:
        numbers.append(("Drift share", f"{report['drift_share']:.0%}"))
    if report.get("drifted_columns") is not None:
        numbers.append(("Drifted columns", f"{report['drifted_columns']} of {report.get('columns', '?')}"))
    if report.get("dataset_drift") is not None:
        numbers.append(("Dataset drift", "yes" if report["dataset_drift"] else "no"))
    if report.get("roc_auc") is not None:
        numbers.append(("ROC-AUC on recent data", f"{report['roc_auc']:.3f}"))
    if report.get("roc_auc") is not None and report.get("reference_roc_auc") is not None:
        numbers.append(("ROC-AUC at validation", f"{report['reference_roc_auc']:.3f}"))
    return numbers


def report_links(report: dict[str, Any]) -> dict[str, str]:
    """Where to open a report: its HTML file (a file:// link) and the Evidently UI when there is one."""
    links: dict[str, str] = {}
    html = report.get("html_path")
    if html and Path(str(html)).is_absolute():
        links["file"] = Path(str(html)).as_uri()
    if report.get("evidently_url"):
        links["evidently"] = str(report["evidently_url"])
    return links
