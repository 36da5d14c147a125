"""The committed Great Expectations suites are the ones each shipped profile generates."""

from __future__ import annotations

import json

import pytest

from churn_platform.contract import contract_named
from churn_platform.lib.quality import EXPECTATIONS_ROOT, baseline_suite, describe, load_suite
from churn_platform.profile import PROFILES_DIR

SHIPPED = sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


@pytest.mark.parametrize("profile", SHIPPED)
def test_every_source_has_the_suite_its_profile_generates(profile: str) -> None:
    contract = contract_named(profile)
    folder = EXPECTATIONS_ROOT / profile
    files = sorted(p.name for p in folder.glob("raw_*.json"))
    assert files == sorted(f"raw_{name}.json" for name in contract.sources)
    for name, source in contract.sources.items():
        committed = json.loads((folder / f"raw_{name}.json").read_text())
        assert committed == baseline_suite(source), (
            f"expectations/{profile}/raw_{name}.json differs from its profile: "
            f"run churn-platform expectations --profile {profile}"
        )


def test_a_profile_without_suite_files_gets_its_baseline(tmp_path) -> None:  # type: ignore[no-untyped-def]
    contract = contract_named("social")
    suite = load_suite("accounts", tmp_path, contract)
    assert suite == baseline_suite(contract.sources["accounts"])


def test_a_long_value_set_is_described_briefly() -> None:
    rule = {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "country", "value_set": ["A"] * 249},
    }
    assert describe(rule) == "country: be one of the 249 values the company profile allows"


def test_the_warehouse_engine_judges_every_row_as_great_expectations_does() -> None:
    import datetime as dt

    import duckdb
    import pandas as pd

    from churn_platform.lib.quality import SuiteRunner, gx_validate

    contract = contract_named("saas")
    frame = pd.DataFrame(
        {
            "subscription_id": ["S1", "S2", "S2", "S4", "S5", None],
            "customer_id": ["C1", "C2", "C3", None, "C5", "C6"],
            "plan": ["basic", "gold", "pro", "pro", None, "business"],
            "mrr": [10.0, -1.0, 5.0, 7.0, 9.0, 3.0],
            "change_type": ["new", "renewal", "upgrade", "sideways", "downgrade", "reactivation"],
            "start_date": pd.to_datetime(
                ["2025-01-01", "2025-08-01", "2025-07-01", "2025-06-30", "2025-03-01", "2025-03-01"]
            ),
            "end_date": pd.to_datetime([None, None, None, None, None, None]),
            "cancel_date": pd.to_datetime([None, "2025-07-02", None, None, None, None]),
            "updated_at": pd.to_datetime(
                [
                    "2025-07-01 12:00:00",
                    "2025-07-01 23:59:59",
                    "2025-07-02 00:00:00",
                    None,
                    "2025-06-01 00:00:00",
                    "2025-06-01 00:00:00",
                ]
            ),
        },
        index=pd.RangeIndex(1, 7),
    )
    batch = dt.date(2025, 7, 1)
    runner = SuiteRunner(contract=contract)
    rules = runner.rules("subscriptions", set(frame.columns), batch)
    con = duckdb.connect()
    con.register("t", frame.reset_index(names="_row_number"))
    sql = {}
    for r in rules:
        rows = con.execute(
            f"select _row_number from (select _row_number, ({r.fails}) as f from t) where f"
        ).fetchall()
        sql.setdefault(r.rule, set()).update(int(x) for (x,) in rows)
    gx = {}
    for res in gx_validate(frame, runner.suite("subscriptions"), batch):
        gx.setdefault(res.rule, set()).update(res.unexpected_rows)
    assert sql == gx
    assert sql["subscription_id: be unique"] == {2, 3}
    assert sql["change_type: be in set new, renewal, upgrade, downgrade, reactivation"] == {4}
    assert sql["updated_at: not after the batch date"] == {3}
