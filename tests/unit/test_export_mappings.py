"""Export mappings: a billing or helpdesk system's own export lands through the real ingestion, no script.

The Stripe and Zendesk examples in docs/examples/exports/ have those tools' export columns; the shipped presets
(churn_platform/profiles/exports/) map them, and the rows land in the raw tables with the right values.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from churn_platform.lib.ingest import ingest_landing
from churn_platform.profile import ProfileError, load_profile

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "docs" / "examples" / "exports"
SAAS = (ROOT / "churn_platform" / "profiles" / "saas.yaml").read_text()
BATCH = "2025-07-01"
ACCOUNT_HEADER = (
    "customer_id,name,email,country,segment,plan,signup_date,acquisition_channel,marketing_consent,"
    "unsubscribed,updated_at"
)


def _profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: str) -> Path:
    path = tmp_path / "company.yaml"
    path.write_text(SAAS + "\n" + block)
    monkeypatch.setenv("CHURN_COMPANY_PROFILE", str(path))
    return path


def _deliver(landing: Path, source: str, text_or_file: str | Path, part: int = 0) -> Path:
    path = landing / source / BATCH / f"{source}_{BATCH}_part{part:04d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text_or_file, Path):
        shutil.copyfile(text_or_file, path)
    else:
        path.write_text(text_or_file)
    return path


def _accounts(landing: Path, ids: list[str]) -> None:
    rows = [
        f"{i},Co {i},{i}@example.com,US,smb,basic,2025-01-01,organic,true,false,2025-06-01 00:00:00"
        for i in ids
    ]
    _deliver(landing, "accounts", "\n".join([ACCOUNT_HEADER, *rows]) + "\n")


def _q(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


STRIPE_PROFILE = """
exports:
  subscriptions:
    preset: stripe_subscriptions
    values:
      plan: {price_1QbasicMonthly: basic, price_1QproYearly: pro, price_1QproMonthly: pro,
             price_1QbusinessWeekly: business}
"""


def test_a_stripe_subscriptions_export_lands_with_monthly_mrr_mapped_plans_and_cancel_dates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _profile(tmp_path, monkeypatch, STRIPE_PROFILE)
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["cus_QaA01", "cus_QbB02", "cus_QcC03", "cus_QdD04"])
    _deliver(landing, "subscriptions", EXAMPLES / "stripe_subscriptions.csv")
    report = ingest_landing(landing, wh)["subscriptions"]
    assert report.rejected == []
    assert report.quarantined_rows == 0, report.rule_counts()
    got = _q(wh, "select * from raw.subscriptions order by subscription_id").set_index("subscription_id")
    assert got.loc["sub_1QaBasicA", "customer_id"] == "cus_QaA01"
    assert got["plan"].to_dict() == {
        "sub_1QaBasicA": "basic",
        "sub_1QbProB": "pro",
        "sub_1QcProC": "pro",
        "sub_1QdBizD": "business",
    }
    # Amount x Quantity per month of the Interval: 49 monthly; 1188 a year for 3 seats; 99 x 2; 25 a week
    assert got["mrr"].round(4).to_dict() == {
        "sub_1QaBasicA": 49.0,
        "sub_1QbProB": 297.0,
        "sub_1QcProC": 198.0,
        "sub_1QdBizD": round(25 * 52 / 12, 4),
    }
    assert str(got.loc["sub_1QbProB", "cancel_date"].date()) == "2025-05-20"  # Canceled At (UTC)
    assert str(got.loc["sub_1QbProB", "end_date"].date()) == "2025-06-01"  # Ended At (UTC)
    assert got.loc[["sub_1QaBasicA", "sub_1QcProC"], "cancel_date"].isna().all()
    assert str(got.loc["sub_1QcProC", "start_date"].date()) == "2025-03-10"
    assert set(got["change_type"]) == {"new"}
    # no modification time in the export: the latest event of each subscription stands for it
    assert str(got.loc["sub_1QaBasicA", "updated_at"]) == "2025-06-05 10:00:00"  # current period start
    assert str(got.loc["sub_1QbProB", "updated_at"]) == "2025-06-01 00:00:00"  # ended at


def test_a_stripe_price_the_profile_does_not_map_is_quarantined_naming_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _profile(tmp_path, monkeypatch, "exports:\n  subscriptions:\n    preset: stripe_subscriptions\n")
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["cus_QaA01", "cus_QbB02", "cus_QcC03", "cus_QdD04"])
    _deliver(landing, "subscriptions", EXAMPLES / "stripe_subscriptions.csv")
    report = ingest_landing(landing, wh)["subscriptions"]
    assert report.loaded_rows == 0
    assert report.quarantined_rows == 4
    values = _q(wh, "select distinct value from raw._quarantine where column_name = 'plan'")["value"]
    assert "price_1QbasicMonthly" in set(values)


def test_an_unknown_billing_interval_is_quarantined_not_guessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _profile(tmp_path, monkeypatch, STRIPE_PROFILE)
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["cus_QaA01"])
    text = (EXAMPLES / "stripe_subscriptions.csv").read_text().splitlines()
    _deliver(landing, "subscriptions", "\n".join([text[0], text[1].replace(",month,", ",fortnight,")]) + "\n")
    report = ingest_landing(landing, wh)["subscriptions"]
    assert report.rule_counts() == {"mrr: not a valid decimal": 1}
    value = _q(wh, "select value from raw._quarantine where column_name = 'mrr'")["value"][0]
    assert value == "unknown billing interval fortnight"


def test_a_zendesk_tickets_export_lands_with_priorities_categories_ratings_and_utc_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _profile(tmp_path, monkeypatch, "exports:\n  support_tickets:\n    preset: zendesk_tickets\n")
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["cus_QaA01", "cus_QbB02", "cus_QcC03"])
    _deliver(landing, "support_tickets", EXAMPLES / "zendesk_tickets.csv")
    report = ingest_landing(landing, wh)["support_tickets"]
    assert report.rejected == []
    assert report.quarantined_rows == 0, report.rule_counts()
    got = _q(wh, "select * from raw.support_tickets order by ticket_id").set_index("ticket_id")
    assert got["customer_id"].to_dict() == {
        "1001": "cus_QaA01",
        "1002": "cus_QbB02",
        "1003": "cus_QcC03",
        "1004": "cus_QaA01",
    }
    # High/Urgent/Low onto the profile's vocabulary; an empty priority is Zendesk's default, normal
    assert got["priority"].to_dict() == {"1001": "high", "1002": "normal", "1003": "urgent", "1004": "low"}
    assert got["category"].to_dict() == {"1001": "bug", "1002": "how_to", "1003": "bug", "1004": "other"}
    # Good is 5 and Bad is 1; Offered and Unoffered are not ratings
    assert got.loc["1001", "satisfaction"] == 5
    assert got.loc["1003", "satisfaction"] == 1
    assert got.loc[["1002", "1004"], "satisfaction"].isna().all()
    # times with offsets are stored in UTC; unsolved tickets have no resolved_at
    assert str(got.loc["1001", "opened_at"]) == "2025-06-03 07:14:00"
    assert str(got.loc["1001", "resolved_at"]) == "2025-06-04 07:59:00"
    assert str(got.loc["1002", "opened_at"]) == "2025-06-20 21:30:00"
    assert got.loc[["1002", "1004"], "resolved_at"].isna().all()
    assert str(got.loc["1003", "updated_at"]) == "2025-06-12 18:30:00"
    assert not got["escalated"].any()


def test_amounts_in_cents_are_scaled_and_columns_can_have_alternatives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _profile(
        tmp_path,
        monkeypatch,
        """
exports:
  invoices:
    columns:
      invoice_id: number
      customer_id: customer
      subscription_id: subscription
      issued_date: created
      due_date: [due_date, created]
      amount: amount_due
      paid_date: paid_at
      status: status
      failed_attempts: failures
      updated_at: [modified, created]
    scale: {amount: 0.01}
    values:
      status: {uncollectible: failed, draft: open}
""",
    )
    landing, wh = tmp_path / "landing", tmp_path / "wh.duckdb"
    _accounts(landing, ["C1"])
    _deliver(
        landing,
        "invoices",
        "number,customer,subscription,created,due_date,amount_due,paid_at,status,failures,modified\n"
        "IN-1,C1,S1,2025-06-01,,4900,2025-06-01,paid,0,2025-06-01 10:00:00\n"
        "IN-2,C1,S1,2025-06-02,2025-06-16,12345,,uncollectible,3,\n"
        "IN-3,C1,S1,2025-06-03,2025-06-17,abc,,draft,0,2025-06-03 10:00:00\n",
    )
    report = ingest_landing(landing, wh)["invoices"]
    assert report.rule_counts() == {"amount: not a valid decimal": 1}  # not silently a null or a zero
    got = _q(wh, "select * from raw.invoices order by invoice_id").set_index("invoice_id")
    assert got["amount"].to_dict() == {"IN-1": 49.0, "IN-2": 123.45}
    assert got["status"].to_dict() == {"IN-1": "paid", "IN-2": "failed"}
    assert str(got.loc["IN-1", "due_date"].date()) == "2025-06-01"  # empty due date: the first alternative
    assert str(got.loc["IN-2", "updated_at"]) == "2025-06-02 00:00:00"


def test_a_preset_is_merged_with_the_companys_own_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _profile(
        tmp_path,
        monkeypatch,
        """
exports:
  support_tickets:
    preset: zendesk_tickets
    columns: {category: "Ticket Category [list]"}
    values:
      satisfaction: {Great: "5"}
""",
    )
    mapping = load_profile(path).exports["support_tickets"]
    assert mapping.columns["category"] == "Ticket Category [list]"
    assert mapping.columns["ticket_id"] == "Id"  # from the preset
    assert mapping.values["satisfaction"]["Great"] == "5"
    assert mapping.values["satisfaction"]["Good"] == "5"  # from the preset
    assert mapping.defaults["priority"] == "normal"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("exports:\n  invoices: {preset: stripe_refunds}\n", "no export preset named 'stripe_refunds'"),
        (
            "exports:\n  invoices: {columns: {total: amount_due}}\n",
            "names column(s) total the contract lacks",
        ),
        (
            "exports:\n  invoices: {formats: {amount: '%d'}}\n",
            "formats.amount: invoices.amount is not a date",
        ),
        ("exports:\n  invoices: {scale: {status: 0.01}}\n", "scale.status: invoices.status is not a decimal"),
        ("exports:\n  invoices: {colums: {amount: x}}\n", "exports.invoices.colums: Extra inputs"),
        (
            "exports:\n  subscriptions: {monthly: {mrr: {interval: Interval, months: {month: 0}}}}\n",
            "months must be positive: month",
        ),
    ],
)
def test_a_mapping_that_cannot_work_is_refused_when_the_profile_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: str, message: str
) -> None:
    path = _profile(tmp_path, monkeypatch, block)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)
