"""Ingestion follows the company profile: its vocabularies, event types, attributes and sources.

Small landing inputs shaped like a consumer app's exports (the situations that broke the platform on a real
company's data), each with the right value asserted.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from churn_platform.lib.ingest import ingest_landing, ingest_source
from churn_platform.lib.quality import SuiteRunner

BATCH = "2025-07-01"
COUNTRIES_30 = [
    "US",
    "GB",
    "DE",
    "FR",
    "NL",
    "ES",
    "IT",
    "CA",
    "AU",
    "BR",
    "IN",
    "JP",
    "SE",
    "PL",
    "MX",
    "AR",
    "CL",
    "CO",
    "PE",
    "KR",
    "TH",
    "VN",
    "ID",
    "PH",
    "NG",
    "KE",
    "ZA",
    "EG",
    "TR",
    "AE",
]


@pytest.fixture
def social(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURN_COMPANY_PROFILE", "social")


def _write(landing: Path, source: str, frame: pd.DataFrame, batch: str = BATCH) -> Path:
    path = landing / source / batch / f"{source}_{batch}_part0000.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def _accounts(n: int = 60) -> pd.DataFrame:
    rows = []
    for i in range(n):
        country = COUNTRIES_30[i % len(COUNTRIES_30)]
        rows.append(
            {
                "customer_id": f"{i:08d}",  # leading zeros are part of the id
                "name": f"User {i}",
                "email": f"u{i}@example.com",
                "country": [country, country.lower(), f" {country} "][i % 3],
                "segment": ["consumer", "Consumer", " CONSUMER"][i % 3],
                "plan": ["plus", "Premium", "family "][i % 3],
                "signup_date": "2025-03-0" + str(1 + i % 9),
                "acquisition_channel": ["appstore_ios", "Play_Store", "appstore1", "tiktok"][i % 4],
                "marketing_consent": "true",
                "unsubscribed": "false",
                "date_of_birth": f"{1960 + i % 45}-0{1 + i % 9}-15",
                "platform": ["ios", "Android", "web", "blackberry"][i % 4],
                "notifications_enabled": ["true", "false"][i % 2],
                "updated_at": "2025-06-30 12:00:00",
            }
        )
    return pd.DataFrame(rows)


def _query(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_thirty_countries_any_case_and_unknown_channels_load_without_quarantine(
    tmp_path: Path, social: None
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    _write(landing, "accounts", _accounts())
    report = ingest_source(warehouse, landing, "accounts", SuiteRunner())
    assert not report.rejected
    assert report.quarantined_rows == 0, report.rule_counts()
    assert report.loaded_rows == 60
    # appstore1 and tiktok are unknown channels; blackberry an unknown platform: mapped to other, counted
    assert report.mapped_counts() == {"acquisition_channel": 30, "platform": 15}
    got = _query(warehouse, "select * from raw.accounts order by customer_id")
    assert sorted(got["country"].unique()) == sorted(COUNTRIES_30)
    assert set(got["segment"]) == {"consumer"}
    assert set(got["plan"]) == {"plus", "premium", "family"}
    assert set(got["acquisition_channel"]) == {"appstore_ios", "play_store", "other"}
    assert set(got["platform"]) == {"ios", "android", "web", "other"}
    assert got["customer_id"].iloc[0] == "00000000"
    assert str(got["date_of_birth"].iloc[0])[:10] == "1960-01-15"
    assert got["notifications_enabled"].dtype == bool


def test_a_value_outside_a_strict_vocabulary_is_quarantined_with_its_rule(
    tmp_path: Path, social: None
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    frame = _accounts(6)
    frame.loc[2, "plan"] = "platinum"  # plan is strict (unknown: quarantine) in the social profile
    frame.loc[4, "country"] = "XX"  # not an ISO 3166-1 code
    _write(landing, "accounts", frame)
    report = ingest_source(warehouse, landing, "accounts", SuiteRunner())
    assert report.loaded_rows == 4
    q = _query(warehouse, "select row_number, rule, value from raw._quarantine order by row_number")
    assert q["row_number"].tolist() == [3, 5]
    assert q["rule"].iloc[0].startswith("plan: be in set plus, premium, family")
    assert q["value"].iloc[0] == "platinum"
    assert q["rule"].iloc[1] == "country: be one of the 249 values the company profile allows"


def test_renewals_reactivations_uuid_ids_and_nine_event_types_load(tmp_path: Path, social: None) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    _write(landing, "accounts", _accounts(3))
    subs = pd.DataFrame(
        {
            "subscription_id": [str(uuid.UUID(int=i)) for i in range(5)],
            "customer_id": ["00000000"] * 4 + ["00000001"],
            "plan": ["plus"] * 5,
            "mrr": ["9.99"] * 5,
            "change_type": ["new", "renewal", "Renewal", "reactivation", "new"],
            "start_date": ["2025-03-01", "2025-04-01", "2025-05-01", "2025-06-15", "2025-03-02"],
            "end_date": ["2025-03-31", "2025-04-30", "2025-05-10", "", ""],
            "cancel_date": ["", "", "2025-05-10", "", ""],
            "updated_at": ["2025-06-30 10:00:00"] * 5,
        }
    )
    _write(landing, "subscriptions", subs)
    types = ["post", "comment", "like", "share", "message", "reply", "follow", "video_view", "tip"]
    events = pd.DataFrame(
        {
            "event_id": [str(uuid.UUID(int=1000 + i)) for i in range(len(types) * 2)],
            "customer_id": ["00000000", "00000002"] * len(types),
            "event_ts": [f"2025-06-{10 + i % 9} 08:00:00" for i in range(len(types) * 2)],
            "event_type": [t if i % 2 else t.upper() for i, t in enumerate(types * 2)],
            "duration_seconds": ["120" if t == "video_view" else "" for t in types * 2],
            "value": ["2.5" if t == "tip" else "" for t in types * 2],
        }
    )
    _write(landing, "usage_events", events)
    reports = ingest_landing(landing, warehouse)
    for name in ("accounts", "subscriptions", "usage_events"):
        assert reports[name].quarantined_rows == 0, (name, reports[name].rule_counts())
        assert not reports[name].rejected
    got = _query(warehouse, "select change_type, count(*) n from raw.subscriptions group by 1 order by 1")
    assert dict(zip(got["change_type"], got["n"], strict=True)) == {"new": 2, "reactivation": 1, "renewal": 2}
    ev = _query(warehouse, "select event_id, event_type, duration_seconds, value from raw.usage_events")
    assert sorted(ev["event_type"].unique()) == sorted(types)
    assert ev["event_id"].str.len().eq(36).all()
    assert ev.loc[ev["event_type"] == "tip", "value"].eq(2.5).all()
    assert ev.loc[ev["event_type"] == "video_view", "duration_seconds"].eq(120).all()


def test_sources_the_company_does_not_deliver_are_empty_tables_and_files_of_them_are_not_read(
    tmp_path: Path, social: None
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    _write(landing, "accounts", _accounts(3))
    stray = _write(
        landing,
        "nps_responses",
        pd.DataFrame(
            {
                "response_id": ["N1"],
                "customer_id": ["00000000"],
                "responded_at": ["2025-06-01"],
                "score": ["3"],
            }
        ),
    )
    reports = ingest_landing(landing, warehouse)
    nps = reports["nps_responses"]
    assert [f.status for f in nps.files] == ["skipped"]
    assert "not delivered" in nps.files[0].reason
    assert str(stray) in nps.files[0].path
    for table in ("invoices", "support_tickets", "nps_responses"):
        assert _query(warehouse, f"select count(*) n from raw.{table}")["n"].iloc[0] == 0


def test_a_header_only_file_of_an_optional_source_means_no_rows(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    (landing / "nps_responses" / BATCH).mkdir(parents=True)
    (landing / "nps_responses" / BATCH / f"nps_responses_{BATCH}_part0000.csv").write_text(
        "response_id,customer_id,responded_at,score,comment\n"
    )
    report = ingest_source(warehouse, landing, "nps_responses", SuiteRunner())
    assert [(f.status, f.rows) for f in report.files] == [("loaded", 0)]
    assert not report.rejected
