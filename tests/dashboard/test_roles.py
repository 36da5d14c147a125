"""Who sees what: roles from claims, the rows an agent sees, personal data masked on the page and in the CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churn_platform.dashboard import views
from churn_platform.dashboard.auth import (
    dashboard_command,
    role_from_claims,
    secrets_toml,
    viewer_from_claims,
)
from churn_platform.settings import get_settings

WORKLIST = pd.DataFrame(
    {
        "customer_id": ["C1", "C2", "C3"],
        "company_name": ["Bright Fox Labs", "Quiet Owl Ltd", None],
        "email": ["billing@c1.example.com", "billing@c2.example.com", "billing@c3.example.com"],
        "account_manager": ["Ana Ruiz", "Ben Okafor", None],
        "churn_probability": [0.9, 0.7, 0.2],
        "risk_tier": ["critical", "high", "low"],
        "mrr": [100.0, 200.0, 50.0],
    }
)


@pytest.fixture
def roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CHURN_AUTH_ROLE_MAP", '{"grp-admin": "admin", "grp-mgr": "manager", "grp-agent": "agent"}'
    )


def test_the_strongest_mapped_role_wins_and_unmapped_claims_grant_nothing(roles: None) -> None:
    settings = get_settings()
    assert role_from_claims({"roles": ["grp-agent", "grp-mgr", "other"]}, settings) == "manager"
    assert role_from_claims({"roles": "grp-admin"}, settings) == "admin"
    assert role_from_claims({"roles": ["admin"]}, settings) is None, "only mapped values count"
    assert role_from_claims({}, settings) is None
    assert viewer_from_claims({"roles": ["other"], "email": "x@y"}, settings) is None


def test_each_role_sees_its_rows_and_masks(roles: None) -> None:
    settings = get_settings()
    admin = viewer_from_claims({"roles": ["grp-admin"], "name": "Alex", "email": "alex@acme"}, settings)
    manager = viewer_from_claims({"roles": ["grp-mgr"], "name": "Morgan"}, settings)
    agent = viewer_from_claims({"roles": ["grp-agent"], "name": "Ana Ruiz"}, settings)
    assert admin
    assert manager
    assert agent
    shown = {
        v.role: views.for_viewer(WORKLIST, v.can("all_accounts"), v.manages, v.can("pii"))
        for v in (admin, manager, agent)
    }
    assert shown["admin"]["company_name"].tolist() == ["Bright Fox Labs", "Quiet Owl Ltd", None]
    assert shown["manager"]["customer_id"].tolist() == ["C1", "C2", "C3"]
    assert shown["manager"]["company_name"].tolist()[:2] == [views.MASK, views.MASK]
    assert shown["manager"]["company_name"].isna().tolist()[2], "an empty value stays empty"
    assert set(shown["manager"]["email"]) == {views.MASK}
    assert set(shown["manager"]["account_manager"].dropna()) == {views.MASK}
    assert shown["agent"]["customer_id"].tolist() == ["C1"], "agents see only the accounts they manage"
    assert shown["agent"]["company_name"].tolist() == ["Bright Fox Labs"]
    csv = views.to_csv(shown["manager"]).decode()
    assert "Bright Fox" not in csv, "the export is masked too"
    assert "billing@" not in csv
    assert "Ana Ruiz" not in csv
    assert "C1" in csv
    nobody = viewer_from_claims({"roles": ["grp-agent"], "email": "x@acme"}, settings)
    assert nobody is not None
    assert views.for_viewer(WORKLIST, False, nobody.manages, True).empty, (
        "an agent who manages nobody sees nothing"
    )


def test_local_mode_binds_to_localhost_and_sign_in_writes_private_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    command, bind = dashboard_command(get_settings(), "streamlit", Path("app.py"), "0.0.0.0", 8501)
    assert bind == "127.0.0.1"
    assert "--secrets.files" not in command
    monkeypatch.setenv("CHURN_OIDC_METADATA_URL", "https://idp.example/.well-known/openid-configuration")
    monkeypatch.setenv("CHURN_OIDC_CLIENT_ID", "churn")
    monkeypatch.setenv("CHURN_OIDC_CLIENT_SECRET", 'se"cret')
    settings = get_settings()
    command, bind = dashboard_command(settings, "streamlit", Path("app.py"), "0.0.0.0", 8501)
    assert bind == "0.0.0.0"
    secrets = Path(command[command.index("--secrets.files") + 1])
    assert oct(secrets.stat().st_mode)[-3:] == "600"
    import tomllib

    auth = tomllib.loads(secrets_toml(settings))["auth"]
    assert auth["client_secret"] == 'se"cret'
    assert auth["redirect_uri"].endswith(":8501/oauth2callback")
    assert len(auth["cookie_secret"]) == 64
