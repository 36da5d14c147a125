"""The contract is written once in code; the human document is generated from it and never drifts."""

from __future__ import annotations

from churn_platform.contract import SOURCES, render_markdown
from churn_platform.settings import PROJECT_ROOT


def test_the_document_matches_the_code() -> None:
    doc = (PROJECT_ROOT / "docs" / "data-contract.md").read_text()
    assert doc == render_markdown(), "run `churn-platform contract --write` and commit docs/data-contract.md"


def test_the_contract_holds_what_each_system_delivers() -> None:
    expected = {
        "accounts": {"customer_id", "name", "email", "country", "segment", "plan", "signup_date",
                     "acquisition_channel", "marketing_consent", "unsubscribed", "account_manager"},
        "subscriptions": {"plan", "mrr", "start_date", "end_date", "cancel_date", "change_type"},
        "invoices": {"amount", "due_date", "paid_date", "failed_attempts"},
        "usage_events": {"customer_id", "event_ts", "event_type", "feature", "duration_seconds"},
        "support_tickets": {"opened_at", "resolved_at", "priority", "category", "escalated", "satisfaction"},
        "nps_responses": {"customer_id", "responded_at", "score", "comment"},
    }  # fmt: skip
    for name, columns in expected.items():
        assert columns <= set(SOURCES[name].column_names), name
    assert set(SOURCES["usage_events"].column("event_type").allowed or ()) == {
        "login",
        "feature_use",
        "session",
    }
    nps = SOURCES["nps_responses"].column("score")
    assert (nps.minimum, nps.maximum) == (0, 10)
    for source in SOURCES.values():
        assert source.primary_key in source.required_columns
        assert len(set(source.column_names)) == len(source.column_names)
