"""Hand-written saas data through ``dbt build``: reactivation (active spells), point-in-time account versions.

A customer who cancels on 1 March and subscribes again on 15 July is scored again from the 1 August snapshot,
with the new subscription's MRR, and each spell has its own labels; an account manager assigned on 20 September
(and a segment change made then) is invisible at the 1 June snapshot.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.dbt.conftest import BuiltWarehouse, assert_built, dbt_build
from tests.dbt.raw_inputs import RawWriter, company_profile

D = dt.date


def _ts(day: dt.date, hour: int = 20) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour)


def _account(customer_id: str, signup: dt.date, updated: dt.date, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "customer_id": customer_id,
        "name": f"{customer_id} Ltd",
        "email": f"billing@{customer_id}.example.com",
        "country": "DE",
        "segment": "smb",
        "plan": "pro",
        "signup_date": signup,
        "acquisition_channel": "organic",
        "marketing_consent": True,
        "unsubscribed": False,
        "account_manager": None,
        "onboarding_completed_at": None,
        "updated_at": _ts(updated),
    }
    row.update(changes)
    return row


def _period(
    subscription_id: str,
    customer_id: str,
    start: dt.date,
    mrr: float,
    change_type: str,
    plan: str = "pro",
    **kw: object,
) -> dict[str, object]:
    return {
        "subscription_id": subscription_id,
        "customer_id": customer_id,
        "plan": plan,
        "mrr": mrr,
        "change_type": change_type,
        "start_date": start,
        "end_date": kw.get("cancel_date"),
        "cancel_date": kw.get("cancel_date"),
        "updated_at": _ts(kw.get("updated", start)),  # type: ignore[arg-type]
    }


def _logins(customer_id: str, days: list[dt.date]) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"{customer_id}-{d}-{i}",
            "customer_id": customer_id,
            "event_ts": _ts(d, 9),
            "event_type": "login",
        }
        for i, d in enumerate(days)
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    root = tmp_path_factory.mktemp("spells")
    warehouse = root / "warehouse.duckdb"
    with company_profile("saas"):
        raw = RawWriter(warehouse)
    # back: cancels on 1 March, subscribes again on 15 July (a reactivation) at a new price
    raw.write("accounts", D(2025, 1, 1), [_account("back", D(2024, 11, 1), D(2024, 12, 31))])
    raw.write("subscriptions", D(2024, 12, 1), [_period("b1", "back", D(2024, 11, 1), 100.0, "new")])
    raw.write(
        "subscriptions",
        D(2025, 3, 2),
        [
            _period(
                "b1", "back", D(2024, 11, 1), 100.0, "new", cancel_date=D(2025, 3, 1), updated=D(2025, 3, 1)
            )
        ],
    )
    raw.write(
        "subscriptions",
        D(2025, 8, 1),
        [_period("b2", "back", D(2025, 7, 15), 120.0, "reactivation", plan="basic")],
    )
    raw.write("usage_events", D(2025, 8, 1), _logins("back", [D(2025, 7, 20), D(2025, 7, 25)]))
    # managed: an account manager assigned, and the segment changed, on 20 September
    raw.write("accounts", D(2025, 2, 1), [_account("managed", D(2025, 1, 10), D(2025, 1, 31))])
    raw.write(
        "accounts",
        D(2025, 10, 1),
        [
            _account(
                "managed",
                D(2025, 1, 10),
                D(2025, 9, 20),
                segment="enterprise",
                account_manager="Ada Lovelace",
            )
        ],
    )
    raw.write("subscriptions", D(2025, 2, 1), [_period("m1", "managed", D(2025, 1, 10), 50.0, "new")])
    # gone: cancels on 20 April for good
    raw.write("accounts", D(2025, 2, 1), [_account("gone", D(2025, 1, 5), D(2025, 1, 31))])
    raw.write(
        "subscriptions",
        D(2025, 5, 1),
        [
            _period(
                "g1", "gone", D(2025, 1, 5), 80.0, "new", cancel_date=D(2025, 4, 20), updated=D(2025, 4, 20)
            )
        ],
    )
    raw.write("usage_events", D(2025, 10, 1), _logins("managed", [D(2025, 9, 30)]))

    result = dbt_build(warehouse, root / "target", extra_vars={"snapshot_start": "2025-02-01"})
    assert_built(result)
    return BuiltWarehouse(root=root, warehouse=warehouse, run_results={})


def _rows(built: BuiltWarehouse, sql: str) -> pd.DataFrame:
    frame = built.query(sql)
    for column in frame.columns:
        if column.endswith("_date"):
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def test_a_reactivated_customer_is_absent_between_spells_and_scored_again_with_the_new_mrr(
    built: BuiltWarehouse,
) -> None:
    spine = _rows(
        built, "select * from int_customer_snapshots where customer_id = 'back' order by snapshot_date"
    )
    assert spine["snapshot_date"].tolist() == [
        D(2025, 2, 1),
        D(2025, 3, 1),
        D(2025, 8, 1),
        D(2025, 9, 1),
        D(2025, 10, 1),
    ]
    assert spine["spell_number"].tolist() == [1, 1, 2, 2, 2]

    features = _rows(
        built, "select * from fct_customer_features where customer_id = 'back' order by snapshot_date"
    ).set_index("snapshot_date")
    august = features.loc[D(2025, 8, 1)]
    assert (august["mrr"], august["plan"], august["previous_spells"], august["spell_tenure_days"]) == (
        120.0,
        "basic",
        1,
        17,
    )
    assert pd.isna(august["mrr_3m_ago"]), "on 1 May the customer had cancelled: no MRR then"
    assert features.loc[D(2025, 2, 1), "mrr"] == 100.0
    assert features.loc[D(2025, 2, 1), "previous_spells"] == 0

    behaviour = _rows(built, "select * from fct_behaviour_features where customer_id = 'back'").set_index(
        "snapshot_date"
    )
    assert behaviour.loc[D(2025, 8, 1), "login_30d"] == 2
    assert behaviour.loc[D(2025, 8, 1), "days_since_last_login"] == 7

    scoring = _rows(built, "select * from ml_scoring_set where customer_id = 'back'")
    assert scoring[["snapshot_date", "mrr", "login_30d"]].values.tolist() == [[D(2025, 10, 1), 120.0, 0]]


def test_labels_are_per_spell(built: BuiltWarehouse) -> None:
    labels = _rows(built, "select * from fct_churn_labels where customer_id = 'back' order by snapshot_date")
    assert labels["churned"].tolist()[:4] == [True, True, False, False]
    assert pd.isna(labels["churned"].iloc[4]), "1 October + 30 days has not passed by the as-of date"
    assert labels["churn_date"].tolist()[:2] == [D(2025, 3, 1), D(2025, 3, 1)]
    assert labels["spell_number"].tolist() == [1, 1, 2, 2, 2]

    gone = _rows(built, "select * from fct_churn_labels where customer_id = 'gone' order by snapshot_date")
    assert gone[["snapshot_date", "churned"]].values.tolist() == [
        [D(2025, 2, 1), False],
        [D(2025, 3, 1), False],
        [D(2025, 4, 1), True],
    ]
    training = _rows(built, "select snapshot_date, churned from ml_training_set where customer_id = 'back'")
    assert sorted(training.values.tolist()) == [
        [D(2025, 2, 1), True],
        [D(2025, 3, 1), True],
        [D(2025, 8, 1), False],
        [D(2025, 9, 1), False],
    ]


def test_an_account_manager_assigned_in_september_is_not_seen_in_june(built: BuiltWarehouse) -> None:
    features = _rows(
        built,
        "select snapshot_date, segment, has_account_manager from fct_customer_features "
        "where customer_id = 'managed' order by snapshot_date",
    ).set_index("snapshot_date")
    assert features.loc[D(2025, 6, 1)].tolist() == ["smb", False]
    assert features.loc[D(2025, 9, 1)].tolist() == ["smb", False]
    assert features.loc[D(2025, 10, 1)].tolist() == ["enterprise", True]


def test_dim_customers_is_the_latest_state(built: BuiltWarehouse) -> None:
    dim = _rows(built, "select * from dim_customers order by customer_id").set_index("customer_id")
    assert dim.loc["back", ["is_churned", "current_mrr", "spells", "plan"]].tolist() == [
        False,
        120.0,
        2,
        "basic",
    ]
    assert pd.isna(dim.loc["back", "cancel_date"])
    assert dim.loc["gone", ["is_churned", "current_mrr", "cancel_date"]].tolist() == [
        True,
        0.0,
        D(2025, 4, 20),
    ]
    assert dim.loc["managed", ["segment", "account_manager", "has_account_manager"]].tolist() == [
        "enterprise",
        "Ada Lovelace",
        True,
    ]
    assert dim.loc["managed", "email"] == "billing@managed.example.com"
    assert set(dim["as_of_date"]) == {D(2025, 10, 1)}
