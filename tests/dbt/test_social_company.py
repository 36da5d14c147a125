"""A consumer app (the social profile: nine event types, three customer attributes, no invoices, no helpdesk,
no NPS) built by dbt from hand-written raw rows: its marts carry exactly the profile's feature columns with the
right values, and the sources it does not deliver give zeros and nulls, not errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from churn_platform.profile import attribute_features, behaviour_features, load_profile
from tests.dbt.conftest import BuiltWarehouse, assert_built, dbt_build
from tests.dbt.raw_inputs import RawWriter, company_profile

D = dt.date
APRIL = D(2025, 4, 1)
MAY = D(2025, 5, 1)
DATE_OF_BIRTH = D(1995, 3, 15)
SOCIAL_VARS = {"snapshot_start": "2025-03-01"}

# u1's events: (day, type, how many, duration_seconds, value)
U1_EVENTS = [
    (D(2025, 1, 15), "follow", 1, None, None),  # before both windows of the April snapshot
    (D(2025, 2, 10), "post", 1, None, None),
    (D(2025, 2, 15), "like", 2, None, None),
    (D(2025, 2, 20), "share", 1, None, None),
    (D(2025, 2, 20), "tip", 1, None, 5.0),
    (D(2025, 3, 5), "post", 2, None, None),
    (D(2025, 3, 5), "comment", 1, None, None),
    (D(2025, 3, 5), "video_view", 1, 120, None),
    (D(2025, 3, 5), "video_view", 1, 180, None),
    (D(2025, 3, 6), "like", 4, None, None),
    (D(2025, 3, 10), "reply", 1, None, None),
    (D(2025, 3, 20), "post", 1, None, None),
    (D(2025, 3, 20), "tip", 1, None, 2.5),
    (D(2025, 3, 31), "message", 2, None, None),
    (D(2025, 4, 1), "post", 9, None, None),  # the snapshot day itself: not before April's snapshot
]

# what the April snapshot must show for u1 (windows [03-02, 04-01) and [01-31, 03-02))
U1_APRIL = {
    "events_30d": 14,
    "events_prev_30d": 5,
    "events_change_pct": 180.0,
    "active_days_30d": 5,
    "days_since_last_event": 1,
    "events_30d_tenure_scaled": 14.0,
    "post_30d": 3,
    "post_prev_30d": 1,
    "post_change_pct": 200.0,
    "days_since_last_post": 12,
    "post_per_active_day": 0.6,
    "comment_30d": 1,
    "like_30d": 4,
    "like_prev_30d": 2,
    "like_change_pct": 100.0,
    "share_30d": 0,
    "share_prev_30d": 1,
    "share_change_pct": -100.0,
    "message_30d": 2,
    "days_since_last_message": 1,
    "reply_30d": 1,
    "follow_30d": 0,
    "follow_prev_30d": 0,
    "follow_change_pct": None,
    "days_since_last_follow": None,  # 76 days ago: outside the 60-day recency window
    "follow_per_active_day": 0.0,
    "video_view_30d": 2,
    "video_view_seconds_30d": 300.0,
    "video_view_seconds_prev_30d": 0.0,
    "video_view_seconds_change_pct": None,
    "video_view_seconds_per_active_day": 60.0,
    "tip_30d": 1,
    "tip_prev_30d": 1,
    "tip_change_pct": 0.0,
    "tip_value_30d": 2.5,
    "tip_value_prev_30d": 5.0,
    "tip_value_change_pct": -50.0,
    "days_since_last_tip": 12,
}


def _account(customer_id: str, signup: dt.date, updated: dt.date, **attributes: object) -> dict[str, object]:
    return {
        "customer_id": customer_id,
        "name": f"User {customer_id}",
        "email": f"{customer_id}@example.com",
        "country": "FR",
        "segment": "consumer",
        "plan": "plus",
        "signup_date": signup,
        "acquisition_channel": "appstore_ios",
        "marketing_consent": True,
        "unsubscribed": False,
        "updated_at": dt.datetime(updated.year, updated.month, updated.day, 20),
        **attributes,
    }


def _events(customer_id: str) -> list[dict[str, object]]:
    rows = []
    for n, (day, event_type, count, seconds, value) in enumerate(U1_EVENTS):
        for i in range(count):
            rows.append(
                {
                    "event_id": f"{customer_id}-{n}-{i}",
                    "customer_id": customer_id,
                    "event_ts": dt.datetime(day.year, day.month, day.day, 8 + i),
                    "event_type": event_type,
                    "duration_seconds": seconds,
                    "value": value,
                }
            )
    return rows


def write_social_raw(warehouse: Path) -> None:
    """Two users of the social app written straight into ``raw.*`` (tables made under the social profile)."""
    with company_profile("social"):
        raw = RawWriter(warehouse)
    raw.write(
        "accounts",
        D(2025, 2, 1),
        [
            _account(
                "u1", D(2025, 1, 5), D(2025, 1, 31),
                date_of_birth=DATE_OF_BIRTH, platform="ios", notifications_enabled=True,
            ),
            _account("u2", D(2025, 1, 20), D(2025, 1, 31), platform="web"),
        ],
    )  # fmt: skip
    # u1 switched to Android and turned notifications off on 10 April
    raw.write(
        "accounts",
        MAY,
        [
            _account(
                "u1", D(2025, 1, 5), D(2025, 4, 10),
                date_of_birth=DATE_OF_BIRTH, platform="android", notifications_enabled=False,
            )
        ],
    )  # fmt: skip
    raw.write(
        "subscriptions",
        D(2025, 2, 1),
        [
            {
                "subscription_id": f"s-{c}",
                "customer_id": c,
                "plan": "plus",
                "mrr": 9.99,
                "change_type": "new",
                "start_date": start,
                "updated_at": dt.datetime(start.year, start.month, start.day, 18),
            }
            for c, start in (("u1", D(2025, 1, 5)), ("u2", D(2025, 1, 20)))
        ],
    )
    raw.write("usage_events", MAY, _events("u1"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    root = tmp_path_factory.mktemp("social")
    warehouse = root / "warehouse.duckdb"
    write_social_raw(warehouse)
    result = dbt_build(warehouse, root / "target", load_profile("social"), extra_vars=SOCIAL_VARS)
    assert_built(result)
    return BuiltWarehouse(root=root, warehouse=warehouse, run_results={})


def test_behaviour_features_are_exactly_the_profiles(built: BuiltWarehouse) -> None:
    behaviour = built.query("select * from fct_behaviour_features")
    names = [f.name for f in behaviour_features(load_profile("social"))]
    assert list(behaviour.columns) == ["customer_id", "snapshot_date", *names]
    assert len(names) == 6 + 7 * 5 + 2 * 9  # totals; 5 per plain type; 9 per measured type (video_view, tip)


def test_behaviour_counts_per_event_type(built: BuiltWarehouse) -> None:
    row = built.query(
        "select * from fct_behaviour_features where customer_id = 'u1' and snapshot_date = ?", [APRIL]
    ).iloc[0]
    got = {k: (None if pd.isna(row[k]) else row[k]) for k in U1_APRIL}
    assert got == U1_APRIL
    silent = built.query(
        "select * from fct_behaviour_features where customer_id = 'u2' and snapshot_date = ?", [APRIL]
    ).iloc[0]
    counts = [
        f.name
        for f in behaviour_features(load_profile("social"))
        if f.kind in ("count_30d", "count_prev_30d")
    ]
    assert (silent[counts] == 0).all()
    assert silent[["events_change_pct", "days_since_last_event", "post_per_active_day"]].isna().all()


def test_attributes_at_their_value_on_the_snapshot_date(built: BuiltWarehouse) -> None:
    attributes = built.query("select * from fct_attribute_features order by customer_id, snapshot_date")
    assert list(attributes.columns) == [
        "customer_id",
        "snapshot_date",
        *attribute_features(load_profile("social")),
    ]
    attributes["snapshot_date"] = pd.to_datetime(attributes["snapshot_date"]).dt.date
    u1 = attributes[attributes["customer_id"] == "u1"].set_index("snapshot_date")
    assert u1.loc[APRIL, ["platform", "notifications_enabled"]].tolist() == ["ios", True]
    assert u1.loc[MAY, ["platform", "notifications_enabled"]].tolist() == ["android", False]
    assert u1.loc[APRIL, "age"] == pytest.approx((APRIL - DATE_OF_BIRTH).days / 365.25)
    assert 30 < u1.loc[MAY, "age"] < 31
    u2 = attributes[attributes["customer_id"] == "u2"]
    assert u2["age"].isna().all()
    assert (u2["platform"] == "web").all()


def test_sources_not_delivered_give_zeros_and_nulls(built: BuiltWarehouse) -> None:
    features = built.query("select * from fct_customer_features where customer_id = 'u1'")
    assert len(features) == 3  # March, April, May
    zero = [
        "late_payments_90d",
        "failed_payments_90d",
        "tickets_30d",
        "unresolved_tickets",
        "escalations_30d",
    ]
    assert (features[zero] == 0).all().all()
    assert features[["latest_nps", "nps_trend", "oldest_unresolved_ticket_days"]].isna().all().all()
    assert (features["mrr"] == 9.99).all()
    as_of = built.query("select as_of_date from int_data_as_of")["as_of_date"]
    assert pd.Timestamp(as_of.iloc[0]).date() == MAY


def test_ml_sets_join_every_feature_table(built: BuiltWarehouse) -> None:
    profile = load_profile("social")
    invariant = built.query("select * from fct_customer_features limit 0").columns.tolist()
    expected = [
        *invariant,
        *(f.name for f in behaviour_features(profile)),
        *attribute_features(profile),
    ]
    scoring = built.query("select * from ml_scoring_set")
    assert scoring.columns.tolist() == expected
    assert sorted(scoring["customer_id"]) == ["u1", "u2"]
    training = built.query("select * from ml_training_set")
    assert training.columns.tolist() == [*expected, "churned"]
    assert set(pd.to_datetime(training["snapshot_date"]).dt.date) == {D(2025, 3, 1), APRIL}
