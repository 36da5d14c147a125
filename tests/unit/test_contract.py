"""The contract is built from the company profile; its documents and suites are generated and never drift."""

from __future__ import annotations

import pytest

from churn_platform.cli import contract_doc_path
from churn_platform.contract import contract_named, render_markdown
from churn_platform.profile import PROFILES_DIR

SHIPPED = sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


@pytest.mark.parametrize("profile", SHIPPED)
def test_the_document_matches_the_profile(profile: str) -> None:
    contract = contract_named(profile)
    path = contract_doc_path(profile)
    assert path.read_text() == render_markdown(contract), (
        f"run `churn-platform contract --profile {profile} --write` and commit {path.name}"
    )


def test_the_document_says_what_is_configurable() -> None:
    doc = render_markdown(contract_named("saas"))
    for key in (
        "vocabularies.<name>.values",
        "vocabularies.<name>.unknown",
        "event_types",
        "attributes",
        "sources",
    ):
        assert f"`{key}`" in doc
    assert "Active spells and churn" in doc


def test_the_contract_holds_what_each_system_delivers() -> None:
    sources = contract_named("saas").sources
    expected = {
        "accounts": {"customer_id", "name", "email", "country", "segment", "plan", "signup_date",
                     "acquisition_channel", "marketing_consent", "unsubscribed", "account_manager"},
        "subscriptions": {"plan", "mrr", "start_date", "end_date", "cancel_date", "change_type"},
        "invoices": {"amount", "due_date", "paid_date", "failed_attempts"},
        "usage_events": {"customer_id", "event_ts", "event_type", "feature", "duration_seconds", "value"},
        "support_tickets": {"opened_at", "resolved_at", "priority", "category", "escalated", "satisfaction"},
        "nps_responses": {"customer_id", "responded_at", "score", "comment"},
    }  # fmt: skip
    for name, columns in expected.items():
        assert columns <= set(sources[name].column_names), name
    assert set(sources["usage_events"].column("event_type").allowed or ()) == {
        "login",
        "feature_use",
        "session",
    }
    assert sources["usage_events"].column("event_id").type == "string"
    nps = sources["nps_responses"].column("score")
    assert (nps.minimum, nps.maximum) == (0, 10)
    for source in sources.values():
        assert source.primary_key in source.required_columns
        assert len(set(source.column_names)) == len(source.column_names)
        for c in source.columns:
            if c.name.endswith("_id"):
                assert c.type == "string", f"{source.name}.{c.name}: ids are text everywhere"


def test_a_profile_changes_vocabularies_sources_event_types_and_attributes() -> None:
    social = contract_named("social")
    accounts = social.sources["accounts"]
    assert {"date_of_birth", "platform", "notifications_enabled"} <= set(accounts.column_names)
    assert accounts.column("date_of_birth").type == "date"
    assert not accounts.column("date_of_birth").required
    countries = accounts.column("country").allowed or ()
    assert len(countries) == 249
    assert {"US", "KR", "NG"} <= set(countries)
    assert set(accounts.column("acquisition_channel").allowed or ()) >= {"appstore_ios", "other"}
    assert accounts.column("acquisition_channel").unknown == "other"
    assert set(social.sources["subscriptions"].column("change_type").allowed or ()) == {
        "new", "renewal", "upgrade", "downgrade", "reactivation",
    }  # fmt: skip
    assert len(social.sources["usage_events"].column("event_type").allowed or ()) == 9
    assert sorted(social.delivered) == ["accounts", "subscriptions", "usage_events"]
    assert set(social.sources) == set(contract_named("saas").sources), "every source is still a raw table"
