"""The simulator makes any company its profile describes: the consumer app ``social`` from the same engine.

Its landing files are exactly the social contract (no invoices, tickets or NPS), nine event types with UUID
ids, monthly renewals, reactivations, users in 30+ countries with a date of birth, and a base churn near 2%.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from churn_platform.cli import app
from churn_platform.contract import contract_named
from churn_platform.profile import PROFILES_DIR
from churn_platform.simulate.config import SimulationConfig
from churn_platform.simulate.engine import SimulationSummary, simulate
from churn_platform.simulate.parameters import SimulationError, load_simulated_company
from tests.conftest import make_company
from tests.landing_checks import assert_landing_conforms
from tests.unit.test_simulator import assert_reactivations_follow_cancellations

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _flat(output: str) -> str:
    """CLI output with the console's line wrapping undone."""
    return " ".join(output.split())


def _events(summary: SimulationSummary) -> pd.DataFrame:
    return duckdb.sql(f"select * from read_parquet('{summary.landing}/usage_events/*/*.parquet')").df()


@pytest.fixture(scope="module")
def social(tmp_path_factory: pytest.TempPathFactory) -> SimulationSummary:
    """A consumer app of 2,000 users over 8 months (enough churners and returns to count)."""
    return make_company(tmp_path_factory.mktemp("social"), customers=2000, months=8, seed=3, profile="social")


def test_files_are_exactly_the_social_contract(social: SimulationSummary) -> None:
    contract = contract_named("social")
    files = assert_landing_conforms(social.landing, contract)
    assert {f.source for f in files} == {"accounts", "subscriptions", "usage_events"}
    for absent in ("invoices", "support_tickets", "nps_responses"):
        assert not (social.landing / absent).exists()
    assert len({f.batch_date for f in files}) == 8
    accounts = duckdb.sql(f"select * from read_parquet('{social.landing}/accounts/*/*.parquet')").df()
    assert set(accounts["segment"]) == {"consumer"}
    assert set(accounts["platform"]) == {"ios", "android", "web"}
    assert set(accounts["acquisition_channel"]) <= set(
        contract.profile.allowed_values("acquisition_channel") or ()
    )
    countries = set(accounts["country"])
    assert len(countries) >= 30
    assert all(re.fullmatch(r"[A-Z]{2}", c) for c in countries), "clean ISO alpha-2 codes"
    assert accounts["customer_id"].str.fullmatch(r"usr_\d{9}").all()
    assert accounts["account_manager"].isna().all()
    # ages 16-75 at signup, derived from a date of birth
    age = (
        pd.to_datetime(accounts["signup_date"]) - pd.to_datetime(accounts["date_of_birth"])
    ).dt.days / 365.25
    assert age.between(16, 75.01).all()
    assert age.std() > 8


def test_nine_event_types_with_uuid_ids_and_their_measures(social: SimulationSummary) -> None:
    events = _events(social)
    assert set(events["event_type"]) == set(contract_named("social").profile.event_type_names)
    assert len(set(events["event_type"])) == 9
    assert events["event_id"].is_unique
    assert events["event_id"].str.fullmatch(UUID.pattern).all()
    views = events["event_type"] == "video_view"
    tips = events["event_type"] == "tip"
    assert events.loc[views, "duration_seconds"].notna().all()
    assert events.loc[~views, "duration_seconds"].isna().all()
    assert events.loc[tips, "value"].gt(0).all()
    assert events.loc[~tips, "value"].isna().all()
    assert events["feature"].isna().all()
    per_user_month = len(events) / sum(m.active for m in social.months)
    assert 20 <= per_user_month <= 45, per_user_month


def test_monthly_renewals_chain_periods_and_cancellations_close_the_running_one(
    social: SimulationSummary,
) -> None:
    subs = duckdb.sql(
        f"""select * from read_parquet('{social.landing}/subscriptions/*/*.parquet')
        qualify row_number() over (partition by subscription_id order by updated_at desc) = 1"""
    ).df()
    kinds = subs["change_type"].value_counts()
    assert kinds["renewal"] > 5 * kinds["new"], "a new period row every month"
    assert {"new", "renewal", "reactivation"} <= set(kinds.index)
    subs = subs.sort_values(["customer_id", "start_date", "subscription_id"])
    nxt = subs.groupby("customer_id")["start_date"].shift(-1)
    nxt_kind = subs.groupby("customer_id")["change_type"].shift(-1)
    renewed = subs["cancel_date"].isna() & subs["end_date"].notna()
    assert (nxt[renewed] == subs.loc[renewed, "end_date"] + dt.timedelta(days=1)).all(), (
        "no gaps, no overlaps"
    )
    assert nxt[subs["end_date"].isna()].isna().all(), "only the last period runs"
    cancelled = subs["cancel_date"].notna()
    assert (subs.loc[cancelled, "end_date"] == subs.loc[cancelled, "cancel_date"]).all()
    assert (nxt_kind[cancelled].dropna() == "reactivation").all(), "after a cancellation only a return"
    # renewals fall on the monthly anniversary of the spell's first day
    renewals = subs[subs["change_type"] == "renewal"]
    assert (pd.to_datetime(renewals["start_date"]).dt.day <= 31).all()
    assert renewals["customer_id"].nunique() > 1000


def test_base_churn_near_two_percent_and_learnable(social: SimulationSummary) -> None:
    assert 0.015 <= social.churn_rate <= 0.025, social.churn_rate
    assert social.oracle_auc is not None
    assert 0.75 <= social.oracle_auc <= 0.92


def test_reactivated_users_return_and_are_in_the_truth_after(social: SimulationSummary) -> None:
    back = assert_reactivations_follow_cancellations(social)
    assert social.reactivations == len(back)


def test_notifications_are_toggled_and_re_delivered(social: SimulationSummary) -> None:
    accounts = duckdb.sql(
        f"select customer_id, updated_at, notifications_enabled from read_parquet('{social.landing}/accounts/*/*.parquet')"
    ).df()
    flips = accounts.groupby("customer_id")["notifications_enabled"].nunique()
    assert (flips > 1).sum() > 50
    versions = accounts.groupby("customer_id")["updated_at"].nunique()
    assert (versions == accounts.groupby("customer_id").size()).all(), "each version has its own updated_at"


def test_messages_carry_the_churn_signal_and_likes_little(social: SimulationSummary) -> None:
    """Churners' messages fell far more often than stayers'; for likes the difference is small."""
    truth = social.ground_truth / "monthly"
    df = duckdb.sql(
        f"""
        with t as (select customer_id, snapshot_date::timestamp as s, churned from read_parquet('{truth}/*.parquet')
                   where snapshot_date >= date '2025-03-01'),
        e as (select customer_id, event_type, event_ts from read_parquet('{social.landing}/usage_events/*/*.parquet'))
        select t.customer_id, t.s, t.churned,
            count(*) filter (where e.event_type = 'message' and e.event_ts >= t.s - interval 30 day) as m1,
            count(*) filter (where e.event_type = 'message' and e.event_ts < t.s - interval 30 day) as m2,
            count(*) filter (where e.event_type = 'like' and e.event_ts >= t.s - interval 30 day) as l1,
            count(*) filter (where e.event_type = 'like' and e.event_ts < t.s - interval 30 day) as l2
        from t left join e on e.customer_id = t.customer_id and e.event_ts < t.s
            and e.event_ts >= t.s - interval 60 day
        group by all"""
    ).df()
    churn = df["churned"].astype(bool)

    def lift(flag: pd.Series) -> float:
        return float(churn[flag].mean() / churn[~flag].mean())

    messages_halved = lift(df["m1"] < 0.5 * df["m2"])
    likes_halved = lift(df["l1"] < 0.5 * df["l2"])
    assert messages_halved > 2.0, messages_halved
    assert messages_halved > 1.5 * likes_halved, (messages_halved, likes_halved)


def test_same_arguments_give_identical_files(tmp_path: Path) -> None:
    runs = [make_company(tmp_path / x, customers=300, months=3, seed=5, profile="social") for x in "ab"]
    other = make_company(tmp_path / "c", customers=300, months=3, seed=6, profile="social")
    a, b, c = (_digest(tmp_path / x) for x in "abc")
    assert a == b
    assert len(a) > 10
    assert a != c
    assert runs[0].profile == other.profile == "social"


def test_an_outage_works_for_social_and_a_price_rise_is_refused(tmp_path: Path) -> None:
    plain = make_company(tmp_path / "plain", customers=300, months=3, seed=2, profile="social")
    out = make_company(tmp_path / "out", customers=300, months=3, seed=2, profile="social", drift="outage")
    batch = "2025-04-01"

    def events(summary: SimulationSummary) -> int:
        return int(
            duckdb.sql(
                f"select count(*) from read_parquet('{summary.landing}/usage_events/{batch}/*')"
            ).fetchall()[0][0]
        )

    assert events(out) < 0.6 * events(plain)
    assert json.loads((out.ground_truth / "summary.json").read_text())["drift"]["kind"] == "outage"
    with pytest.raises(ValueError, match=r"does not simulate --drift price_rise.*supports outage"):
        make_company(tmp_path / "rise", customers=100, months=2, profile="social", drift="price_rise")


def test_cli_profile_option_and_profile_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    args = ["simulate", "--customers", "200", "--months", "2", "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--profile", "social"])
    assert result.exit_code == 0, result.output
    assert "social" in result.output
    summary = json.loads((tmp_path / "ground_truth" / "summary.json").read_text())
    assert summary["profile"] == "social"
    assert sorted(p.name for p in (tmp_path / "landing").iterdir()) == [
        "accounts",
        "subscriptions",
        "usage_events",
    ]
    # continuing the company with another profile is refused; with its own it continues
    result = runner.invoke(app, [*args, "--advance-months", "1", "--profile", "saas"])
    assert result.exit_code == 2
    assert "simulated with profile 'social'" in _flat(result.output)
    monkeypatch.setenv("CHURN_COMPANY_PROFILE", "social")
    result = runner.invoke(app, [*args, "--advance-months", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ground_truth" / "summary.json").read_text())["batches"] == ["2025-04-01"]
    result = runner.invoke(app, [*args, "--force", "--profile", "no_such_company"])
    assert result.exit_code == 2
    assert "no company profile named 'no_such_company'" in _flat(result.output)


def _profile_with(tmp_path: Path, change: dict[str, object]) -> Path:
    """The social profile with some keys of its simulation: section replaced (dotted paths)."""
    doc = yaml.safe_load((PROFILES_DIR / "social.yaml").read_text())
    for dotted, value in change.items():
        node = doc
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path = tmp_path / "company.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"simulation.hazard.intercep": -5.0}, r"simulation\.hazard\.intercep: Extra inputs are not permitted"),
        ({"simulation.events.types.poke": {"share": 0.1}}, r"simulation\.events\.types\.poke: not an event type"),
        ({"simulation.hazard.plan.gold": 0.2}, r"simulation\.hazard\.plan\.gold: not a plan of this simulation"),
        ({"simulation.tickets": {"base_rate": 0.1, "priorities": {"low": {"share": 1, "resolution_hours": 5}},
          "categories": {"bug": 1}}}, r"simulation\.tickets: the profile does not deliver support_tickets"),
        ({"simulation.renewals": "weekly"}, r"simulation\.renewals: Input should be 'none' or 'monthly'"),
        ({"simulation.countries.XX": 1}, r"simulation\.countries\.XX: not an allowed country"),
    ],
)  # fmt: skip
def test_a_bad_simulation_section_gives_one_line_naming_the_key(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = _profile_with(tmp_path, change)
    with pytest.raises(SimulationError, match=message) as caught:
        load_simulated_company(path)
    assert "\n" not in str(caught.value)
    assert str(path) in str(caught.value)


def test_the_cli_names_the_bad_key(tmp_path: Path) -> None:
    path = _profile_with(tmp_path, {"simulation.hazard.intercep": -5.0})
    runner = CliRunner()
    result = runner.invoke(
        app, ["simulate", "--profile", str(path), "--customers", "50", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "simulation.hazard.intercep" in _flat(result.output)
    assert not (tmp_path / "o").exists()


def test_a_profile_without_a_simulation_section_is_refused(tmp_path: Path) -> None:
    doc = yaml.safe_load((PROFILES_DIR / "social.yaml").read_text())
    del doc["simulation"]
    path = tmp_path / "company.yaml"
    path.write_text(yaml.safe_dump(doc))
    config = SimulationConfig(profile=str(path), landing=tmp_path / "l", ground_truth=tmp_path / "g")
    with pytest.raises(SimulationError, match="simulation: missing"):
        simulate(config)


def test_the_active_profile_is_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHURN_COMPANY_PROFILE", "social")
    config = SimulationConfig(landing=tmp_path / "l", ground_truth=tmp_path / "g")
    assert config.profile == "social"
    monkeypatch.delenv("CHURN_COMPANY_PROFILE")
    assert SimulationConfig(landing=tmp_path / "l", ground_truth=tmp_path / "g").profile == "saas"
    assert np.isclose(load_simulated_company("social").type_share.sum(), 1.0)


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_ingestion_loads_the_simulated_app_without_quarantine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_format: str
) -> None:
    from churn_platform.lib.ingest import ingest_landing

    monkeypatch.setenv("CHURN_COMPANY_PROFILE", "social")
    summary = make_company(tmp_path, customers=200, months=2, seed=4, file_format=file_format)
    reports = ingest_landing(summary.landing, tmp_path / "warehouse.duckdb")
    for name in ("accounts", "subscriptions", "usage_events"):
        assert reports[name].loaded_rows == summary.rows[name], name
        assert reports[name].quarantined_rows == 0, (name, reports[name].rule_counts())
    for name in ("invoices", "support_tickets", "nps_responses"):
        assert reports[name].loaded_rows == 0
