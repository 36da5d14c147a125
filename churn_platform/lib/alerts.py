"""Operational alerts for the owning team: newly critical customers, drift, campaigns doing worse than control.

Builders are pure functions from a warehouse table to a list of ``Alert``; each alert carries a stable key so
the same finding is announced once however often the builders run. ``deliver_alerts`` sends each alert to a
Slack-compatible incoming webhook (``{"text", "blocks"}``; Mattermost, Rocket.Chat and Teams' Slack
compatibility accept it too) and/or by email through the campaign ``Sender`` (local outbox or SendGrid), and
records every attempt in ``monitoring.alert_log``:

    alert_key varchar   the alert's dedup key
    channel   varchar   'webhook' or 'email:<address>'
    sent_at   timestamp when the attempt ended (UTC)
    status    varchar   sent | failed (transient: retried on the next call) | rejected (permanent: not retried)
    detail    varchar   message id when sent, the reason otherwise

An alert is skipped on a channel once a ``sent`` or ``rejected`` row exists for it. The log row is written
right after the channel answers, so a crash between the two re-sends that one alert to the webhook on the
next call (Slack has no idempotency key); the outbox recognises its own files, so email stays exactly once.

Slack webhook URLs are secrets (the token is the path): the URL never reaches a log line, the alert log or
the report; it is called "webhook" and anything echoed back by the server is redacted.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import duckdb
import pandas as pd

from churn_platform.lib.retention.delivery import (
    ALERT_TEMPLATE,
    Message,
    Sender,
    post_json,
    with_retries,
)

log = logging.getLogger(__name__)

Severity = Literal["info", "warning", "critical"]
Row = Mapping[Hashable, Any]  # a table row as ``DataFrame.to_dict("records")`` gives it
WEBHOOK = "webhook"
TOP_CUSTOMERS = 5
CHANGE_COLUMNS = ["customer_id", "previous_tier", "current_tier", "churn_probability", "scored_at"]
DRIFT_COLUMNS = ["report", "run_id", "run_at", "drift_share", "drifted_columns", "columns", "dataset_drift",
                 "roc_auc", "html_path", "model_version"]  # fmt: skip
OUTCOME_COLUMNS = ["snapshot_date", "dimension", "segment", "treated", "control", "treated_churn_rate",
                   "control_churn_rate", "save_rate", "save_rate_low", "save_rate_high"]  # fmt: skip

ALERT_LOG_DDL = """
create schema if not exists monitoring;
create table if not exists monitoring.alert_log (
    alert_key varchar not null,
    channel varchar not null,
    sent_at timestamp not null,
    status varchar not null,
    detail varchar
);
"""


@dataclass(frozen=True)
class Alert:
    """One finding worth a human's attention; ``key`` identifies it across runs (the dedup key)."""

    key: str
    kind: str
    severity: Severity
    title: str
    text: str
    fields: dict[str, str] = field(default_factory=dict)
    link: str | None = None


# --------------------------------------------------------------------------------------------- builders


def _require(frame: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    missing = sorted(set(columns) - set(frame.columns))
    if missing:
        raise ValueError(f"{table} lacks column(s) {missing}")


def _pct(value: float) -> str:
    return f"{value:.1%}"


def newly_critical_alerts(changes: pd.DataFrame, min_customers: int = 1) -> list[Alert]:
    """One alert per scoring run in which at least ``min_customers`` customers became critical.

    ``changes`` is ``ml.risk_tier_changes``. Newly critical means the current tier is critical and the previous
    one was not, including customers scored for the first time (previous tier null): the team has not seen
    them as critical before. The key holds ``scored_at``, so each scoring run is announced once.
    """
    if changes.empty:
        return []
    _require(changes, CHANGE_COLUMNS, "risk_tier_changes")
    newly = changes[(changes["current_tier"] == "critical") & (changes["previous_tier"] != "critical")]
    return [
        _newly_critical_alert(run)
        for _, run in newly.groupby("scored_at", sort=True)
        if len(run) >= min_customers
    ]


def _same_finding(row: Row, fallback: str, kind: str = "") -> str:
    """The part of a key that says what was found: the data snapshot and the model when the row names them.

    Re-running a report or re-scoring the same month with the same champion finds the same thing again (a
    retraining that keeps the champion re-runs every report); the team hears about it once. Rows without
    those columns fall back to the run (``fallback``).
    """
    snapshot, model = row.get("data_snapshot", row.get("snapshot_date")), row.get("model_version")
    if snapshot is None or model is None or pd.isna(snapshot) or pd.isna(model):
        return fallback
    return f"{kind + ':' if kind else ''}{pd.Timestamp(snapshot):%Y-%m-%d}:v{model}"


def _newly_critical_alert(run: pd.DataFrame) -> Alert:
    scored_at = pd.Timestamp(run["scored_at"].iloc[0])
    count = len(run)
    first_scored = int(run["previous_tier"].isna().sum())
    top = run.sort_values(["churn_probability", "customer_id"], ascending=[False, True]).head(TOP_CUSTOMERS)
    top_text = ", ".join(
        f"{c} ({p:.0%})" for c, p in zip(top["customer_id"], top["churn_probability"], strict=True)
    )
    noun = "customer" if count == 1 else "customers"
    return Alert(
        key=f"newly_critical:{_same_finding(run.iloc[0].to_dict(), scored_at.isoformat())}",
        kind="newly_critical",
        severity="critical",
        title=f"{count} {noun} newly critical",
        text=(
            f"The scoring run of {scored_at:%Y-%m-%d %H:%M} put {count} {noun} in the critical risk tier "
            f"({count - first_scored} rose from a lower tier, {first_scored} scored for the first time). "
            f"Highest churn probability: {top_text}."
        ),
        fields={
            "customers": str(count),
            "rose from a lower tier": str(count - first_scored),
            "first scored": str(first_scored),
            "scored at": scored_at.isoformat(),
            f"top {len(top)}": top_text,
        },
    )


DRIFT_REPORTS = {"feature_drift": "Feature drift", "prediction_drift": "Prediction drift"}


def drift_alerts(
    report_runs: pd.DataFrame,
    drift_share_threshold: float,
    min_roc_auc: float | None = None,
    max_roc_auc_drop: float | None = None,
) -> list[Alert]:
    """An alert per drift report that found drift, and per performance report whose ROC-AUC decayed.

    A feature or prediction drift run fires when Evidently called the dataset drifted or when the share of
    drifted columns reaches ``drift_share_threshold`` (a stricter team threshold than Evidently's default).
    A model performance run fires when its ROC-AUC is known and lies more than ``max_roc_auc_drop`` below the
    champion's validation ROC-AUC (``reference_roc_auc``, when the row has it), or below the absolute floor
    ``min_roc_auc``; None turns either rule off. Pass the runs you want judged (e.g. the latest); the key
    ``drift:<run_id>`` keeps each run to one alert.
    """
    if report_runs.empty:
        return []
    _require(report_runs, DRIFT_COLUMNS, "report_runs")
    alerts: list[Alert] = []
    for run in report_runs.sort_values("run_at").to_dict("records"):
        if run["report"] in DRIFT_REPORTS and _drifted(run, drift_share_threshold):
            alerts.append(_drift_alert(run, drift_share_threshold))
        elif run["report"] == "model_performance":
            why = _performance_decay(run, min_roc_auc, max_roc_auc_drop)
            if why:
                alerts.append(_performance_alert(run, why))
    return alerts


def _drifted(run: Row, threshold: float) -> bool:
    share = run["drift_share"]
    return _flag(run["dataset_drift"]) or (pd.notna(share) and float(share) >= threshold)


def _flag(value: Any) -> bool:
    """True only for a real true (a missing flag is not a finding)."""
    return bool(pd.notna(value) and bool(value))


def _performance_decay(run: Row, min_roc_auc: float | None, max_roc_auc_drop: float | None) -> dict[str, str]:
    """What makes a performance run alarming, as alert fields (empty when nothing does)."""
    auc, reference = run["roc_auc"], run.get("reference_roc_auc")
    if pd.isna(auc):
        return {}
    found: dict[str, str] = {}
    if max_roc_auc_drop is not None and reference is not None and pd.notna(reference):
        drop = float(reference) - float(auc)
        if drop > max_roc_auc_drop:
            found |= {
                "validation roc auc": f"{float(reference):.3f}",
                "drop": f"{drop:.3f}",
                "allowed drop": f"{max_roc_auc_drop:.3f}",
            }
    if min_roc_auc is not None and float(auc) < min_roc_auc:
        found["minimum"] = f"{min_roc_auc:.3f}"
    return found


def _run_fields(run: Row) -> dict[str, str]:
    return {
        "model version": str(run["model_version"]),
        "run at": pd.Timestamp(run["run_at"]).isoformat(),
        "run id": str(run["run_id"]),
        "report": str(run["html_path"]),
    }


def _drift_alert(run: Row, threshold: float) -> Alert:
    label = DRIFT_REPORTS[str(run["report"])]
    share = float(run["drift_share"])
    share_text = _pct(share) if not math.isnan(share) else "unknown"
    why = (
        "the dataset is drifted"
        if _flag(run["dataset_drift"])
        else f"at or above the {_pct(threshold)} threshold"
    )
    return Alert(
        key=f"drift:{_same_finding(run, str(run['run_id']), str(run['report']))}",
        kind=str(run["report"]),
        severity="warning",
        title=f"{label} detected for model {run['model_version']}",
        text=(
            f"{label}: {int(run['drifted_columns'])} of {int(run['columns'])} columns drifted "
            f"({share_text}; {why}) in the run of {pd.Timestamp(run['run_at']):%Y-%m-%d %H:%M}."
        ),
        fields={
            "drifted columns": f"{int(run['drifted_columns'])} of {int(run['columns'])}",
            "drift share": share_text,
            "threshold": _pct(threshold),
            "dataset drift": "yes" if _flag(run["dataset_drift"]) else "no",
            **_run_fields(run),
        },
        link=str(run["html_path"]),
    )


def _performance_alert(run: Row, why: dict[str, str]) -> Alert:
    auc = float(run["roc_auc"])
    said = []
    if "drop" in why:
        said.append(
            f"{why['drop']} below the champion's validation ROC AUC of {why['validation roc auc']} "
            f"(allowed drop {why['allowed drop']})"
        )
    if "minimum" in why:
        said.append(f"below the minimum of {why['minimum']}")
    return Alert(
        key=f"drift:{_same_finding(run, str(run['run_id']), 'model_performance')}",
        kind="model_performance",
        severity="critical",
        title=f"Model {run['model_version']} ROC AUC fell to {auc:.3f}",
        text=(
            f"Model performance: ROC AUC {auc:.3f} on the newest matured labels is {' and '.join(said)} "
            f"(run of {pd.Timestamp(run['run_at']):%Y-%m-%d %H:%M}). Consider retraining."
        ),
        fields={"roc auc": f"{auc:.3f}", **why, **_run_fields(run)},
        link=str(run["html_path"]),
    )


def campaign_alerts(
    outcomes: pd.DataFrame,
    min_effect: float | None = None,
    min_group_size: int = 30,
    dimensions: Sequence[str] = ("overall", "playbook"),
) -> list[Alert]:
    """An alert per measured campaign that did worse than its control group.

    ``outcomes`` is ``retention.outcomes`` (one row per snapshot_date, dimension, segment). A campaign is a
    snapshot's ``overall`` row or one of its ``playbook`` rows (campaign_id ``<snapshot_date>:<playbook>``);
    other ``dimensions`` (risk_tier, value_band) can be added but are small and noisy.

    The rule: it underperforms when the 95% interval of its save rate (control churn minus treated churn)
    lies entirely below zero, i.e. treated customers churned significantly more (severity critical). With
    ``min_effect`` set it also fires when the point estimate is below ``-min_effect`` and both arms have at
    least ``min_group_size`` customers: an early warning before the interval is conclusive (warning).
    """
    if outcomes.empty:
        return []
    _require(outcomes, OUTCOME_COLUMNS, "outcomes")
    rows = outcomes[outcomes["dimension"].isin(list(dimensions))]
    alerts = []
    for row in rows.sort_values(["snapshot_date", "dimension", "segment"]).to_dict("records"):
        severity = _campaign_severity(row, min_effect, min_group_size)
        if severity is not None:
            alerts.append(_campaign_alert(row, severity, min_effect))
    return alerts


def _campaign_severity(row: Row, min_effect: float | None, min_group_size: int) -> Severity | None:
    high, rate = float(row["save_rate_high"]), float(row["save_rate"])
    if not math.isnan(high) and high < 0:
        return "critical"
    big_enough = min(int(row["treated"]), int(row["control"])) >= min_group_size
    if min_effect is not None and big_enough and not math.isnan(rate) and rate < -min_effect:
        return "warning"
    return None


def _campaign_alert(row: Row, severity: Severity, min_effect: float | None) -> Alert:
    day = pd.Timestamp(row["snapshot_date"]).date().isoformat()
    dimension, segment = str(row["dimension"]), str(row["segment"])
    name = f"{day}:{segment}" if dimension == "playbook" else f"{day} ({dimension} {segment})"
    rate, low, high = (float(row[c]) for c in ("save_rate", "save_rate_low", "save_rate_high"))
    rule = (
        "its 95% interval lies entirely below zero"
        if severity == "critical"
        else f"the estimate is below -{min_effect:.1%} (interval not yet conclusive)"
    )
    roi = row.get("roi")
    fields = {
        "campaign": name,
        "treated churn": f"{_pct(float(row['treated_churn_rate']))} of {int(row['treated'])}",
        "control churn": f"{_pct(float(row['control_churn_rate']))} of {int(row['control'])}",
        "save rate": f"{rate * 100:+.1f} pts",
        "95% interval": f"{low * 100:+.1f} to {high * 100:+.1f} pts",
    }
    if roi is not None and not math.isnan(float(roi)):
        fields["roi"] = f"{float(roi):+.2f}"
    return Alert(
        key=f"campaign_underperforms:{day}:{dimension}:{segment}",
        kind="campaign_underperforms",
        severity=severity,
        title=f"Campaign {name} did worse than its control group",
        text=(
            f"Treated customers churned {fields['treated churn']} vs {fields['control churn']} in control: "
            f"save rate {fields['save rate']} (95% interval {fields['95% interval']}); {rule}."
        ),
        fields=fields,
    )


# --------------------------------------------------------------------------------------------- delivery


@dataclass
class AlertDeliveryReport:
    """Counts per channel ('webhook', 'email:<address>'); ``failures`` holds redacted reasons."""

    sent: Counter[str] = field(default_factory=Counter)
    skipped_already_sent: Counter[str] = field(default_factory=Counter)
    skipped_rejected: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


def _mrkdwn(text: str, limit: int = 3000) -> str:
    """Slack needs &, < and > escaped in text; blocks have length limits."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def slack_payload(alert: Alert) -> dict[str, Any]:
    """Slack's incoming-webhook format: ``text`` is the notification fallback, ``blocks`` the layout."""
    fields = [{"type": "mrkdwn", "text": _mrkdwn(f"*{k}*\n{v}", 2000)} for k, v in alert.fields.items()]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _mrkdwn(alert.title, 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(alert.text)}},
    ]
    blocks += [{"type": "section", "fields": fields[i : i + 10]} for i in range(0, len(fields), 10)]
    context = _mrkdwn(f"{_EMOJI[alert.severity]} {alert.severity} · {alert.kind} · {alert.key}", 2500)
    if alert.link and alert.link.startswith(("http://", "https://")):
        context += f" · <{alert.link}|details>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": _mrkdwn(f"[{alert.severity}] {alert.title}: {alert.text}"), "blocks": blocks}


def alert_email_text(alert: Alert) -> tuple[str, str]:
    """A notice for the owning team: the subject, then the text and the numbers one per line."""
    subject = f"[{alert.severity.upper()}] {alert.title}"
    lines = [alert.text, ""]
    lines += [f"{name}: {value}" for name, value in alert.fields.items()]
    if alert.link:
        lines += ["", f"More: {alert.link}"]
    lines += ["", f"Alert key: {alert.key}"]
    return " ".join(subject.split()), "\n".join(lines) + "\n"


def alert_message(alert: Alert, recipient: str, template: str = ALERT_TEMPLATE) -> Message:
    """The email for one recipient; the key names the outbox file, so a resend is recognised."""
    subject, text = alert_email_text(alert)
    return Message(
        key=f"alert|{alert.key}|{recipient}",
        to=recipient,
        to_name=recipient.split("@")[0],
        template=template,
        subject=subject,
        text=text,
        data={
            "alert_key": alert.key,
            "kind": alert.kind,
            "severity": alert.severity,
            "title": alert.title,
            "text": alert.text,
            "fields": [{"name": k, "value": v} for k, v in alert.fields.items()],
            "link": alert.link or "",
        },
    )


def ensure_alert_log(con: duckdb.DuckDBPyConnection) -> None:
    for statement in ALERT_LOG_DDL.split(";"):
        if statement.strip():
            con.execute(statement)


def _redactor(url: str | None) -> Callable[[str], str]:
    """Replace the webhook URL, its path (Slack's token) and query (others' token) in text a server echoed."""
    parts = urlsplit(url) if url else None
    secrets = [s for s in (url, parts and parts.path, parts and parts.query) if s and s != "/"]

    def redact(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, WEBHOOK)
        return text

    return redact


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _nothing_known(alert: Alert) -> str | None:
    return None


@dataclass(frozen=True)
class _Channel:
    """One way out: its name in the log, how to deliver an alert (returns a message id), how to recognise one."""

    name: str
    send: Callable[[Alert], str]
    known: Callable[[Alert], str | None] = _nothing_known


def _webhook_channel(url: str, post: Callable[[str, dict[str, Any]], object]) -> _Channel:
    def send(alert: Alert) -> str:
        post(url, slack_payload(alert))
        return "accepted"  # incoming webhooks answer a bare "ok", no message id

    return _Channel(WEBHOOK, send)


def _email_channel(sender: Sender, recipient: str, template: str) -> _Channel:
    def message(alert: Alert) -> Message:
        return alert_message(alert, recipient, template)

    return _Channel(
        f"email:{recipient}",
        lambda alert: sender.send(message(alert)),
        lambda alert: sender.already_sent(message(alert)),
    )


@dataclass
class _Delivery:
    """One call's state: the log connection, the pairs already settled, the retry policy and the report."""

    con: duckdb.DuckDBPyConnection
    redact: Callable[[str], str]
    max_attempts: int
    backoff_seconds: float
    sleep: Callable[[float], None]
    now: Callable[[], dt.datetime]
    report: AlertDeliveryReport = field(default_factory=AlertDeliveryReport)
    settled: dict[tuple[str, str], str] = field(default_factory=dict)

    def load_settled(self) -> None:
        """(alert_key, channel) -> 'sent' or 'rejected': pairs that must not be tried again."""
        rows = self.con.execute(
            "select alert_key, channel, max(status) from monitoring.alert_log "
            "where status in ('sent', 'rejected') group by 1, 2"
        ).fetchall()  # a pair is never both: it is not tried again after either
        self.settled = {(key, channel): status for key, channel, status in rows}

    def record(self, alert: Alert, channel: _Channel, status: str, detail: str) -> None:
        self.con.execute(
            "insert into monitoring.alert_log values (?, ?, ?, ?, ?)",
            [alert.key, channel.name, self.now(), status, self.redact(detail)],
        )

    def deliver(self, alert: Alert, channel: _Channel) -> None:
        previous = self.settled.get((alert.key, channel.name))
        if previous is not None:
            skipped = self.report.skipped_already_sent if previous == "sent" else self.report.skipped_rejected
            skipped[channel.name] += 1
            return
        known = channel.known(alert)
        if known is not None:  # delivered just before a crash kept it out of the log
            self.record(alert, channel, "sent", f"{known} (found already delivered)")
            self.report.sent[channel.name] += 1
            return
        tried = with_retries(
            functools.partial(channel.send, alert), self.max_attempts, self.backoff_seconds, self.sleep
        )
        if tried.value is not None:
            self.record(alert, channel, "sent", tried.value)
            self.report.sent[channel.name] += 1
            log.info("alert %s sent to %s", alert.key, channel.name)
            return
        status = "rejected" if tried.permanent_error is not None else "failed"
        detail = self.redact(f"{tried.error} (after {tried.attempts} attempt{'s' * (tried.attempts > 1)})")
        self.record(alert, channel, status, detail)
        (self.report.rejected if status == "rejected" else self.report.failed)[channel.name] += 1
        self.report.failures.append(f"{alert.key} -> {channel.name}: {detail}")
        log.warning("alert %s not delivered to %s (%s): %s", alert.key, channel.name, status, detail)


def _first_per_key(alerts: Sequence[Alert]) -> list[Alert]:
    """Builders may overlap (or run twice into one list): each key is delivered at most once per call."""
    seen: dict[str, Alert] = {}
    for alert in alerts:
        seen.setdefault(alert.key, alert)
    return list(seen.values())


def deliver_alerts(
    alerts: Sequence[Alert],
    warehouse: duckdb.DuckDBPyConnection | Path | str,
    webhook_url: str | None = None,
    email_sender: Sender | None = None,
    recipients: Sequence[str] = (),
    *,
    email_template: str = ALERT_TEMPLATE,
    post: Callable[[str, dict[str, Any]], object] = post_json,
    max_attempts: int = 3,
    backoff_seconds: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], dt.datetime] = _utcnow,
) -> AlertDeliveryReport:
    """Send each alert once per channel, logging every outcome in ``monitoring.alert_log``.

    ``warehouse`` is an open DuckDB connection or the warehouse file. Transient failures (408/429/5xx, no
    answer) are retried ``max_attempts`` times with exponential backoff from ``backoff_seconds``, then logged
    ``failed`` and tried again on the next call; a refusal (other 4xx) is logged ``rejected`` with the reason
    and not retried. Each outcome is committed before the next send. ``email_template`` is the outbox layout
    name, or a SendGrid dynamic template id that renders ``title``, ``text``, ``severity``, ``fields`` (a
    list of name/value) and ``link``. ``post`` is how JSON reaches the webhook (e.g. with another timeout).
    """
    if email_sender is not None and not recipients:
        raise ValueError("an email sender was given without recipients")
    channels = [_webhook_channel(webhook_url, post)] if webhook_url else []
    if email_sender is not None:
        channels += [_email_channel(email_sender, r, email_template) for r in recipients]
    con = warehouse if isinstance(warehouse, duckdb.DuckDBPyConnection) else duckdb.connect(str(warehouse))
    try:
        ensure_alert_log(con)
        run = _Delivery(con, _redactor(webhook_url), max_attempts, backoff_seconds, sleep, now)
        run.load_settled()
        for alert in _first_per_key(alerts):
            for channel in channels:
                run.deliver(alert, channel)
        return run.report
    finally:
        if con is not warehouse:
            con.close()


def _table_or_empty(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    try:
        return con.execute(sql).df()
    except duckdb.CatalogException:  # the producing asset has not run yet
        return pd.DataFrame()


def collect_alerts(
    warehouse: Path,
    drift_share_threshold: float,
    min_roc_auc: float | None,
    newly_critical_min: int = 1,
    campaign_min_group: int = 30,
    max_roc_auc_drop: float | None = None,
) -> list[Alert]:
    """Every alert the warehouse holds evidence for right now: the latest tier changes, the latest report of
    each kind, and the most recent campaign's outcomes. Keys make re-collection harmless."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        changes = _table_or_empty(con, "select * from ml.risk_tier_changes")
        reports = _table_or_empty(
            con,
            "select * from monitoring.report_runs "
            "qualify row_number() over (partition by report order by run_at desc) = 1",
        )
        outcomes = _table_or_empty(
            con,
            "select * from retention.outcomes where snapshot_date = (select max(snapshot_date) from retention.outcomes)",
        )
    finally:
        con.close()
    alerts: list[Alert] = []
    if not changes.empty:
        alerts += newly_critical_alerts(changes, newly_critical_min)
    if not reports.empty:
        alerts += drift_alerts(reports, drift_share_threshold, min_roc_auc, max_roc_auc_drop)
    if not outcomes.empty:
        alerts += campaign_alerts(outcomes, min_group_size=campaign_min_group)
    return alerts
