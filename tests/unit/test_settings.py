"""Settings that say no: a typo names the closest valid variable, a badly typed value or policy file is one line,
from the CLI and from the dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from churn_platform.cli import app
from churn_platform.lib.configuration import configuration_problems
from churn_platform.settings import SettingsError, get_settings


def test_a_typo_names_the_closest_valid_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURN_SENDGRID_APIKEY", "SG.secret")
    with pytest.raises(
        SettingsError, match=r"CHURN_SENDGRID_APIKEY \(did you mean CHURN_SENDGRID_API_KEY\?\)"
    ):
        get_settings()


def test_variables_read_elsewhere_are_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURN_COMPANY_PROFILE", "saas")
    monkeypatch.setenv("CHURN_DASHBOARD_DIR", "/tmp/x")
    assert get_settings().dashboard_port == 8501


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CHURN_DASHBOARD_PORT", "abc", "CHURN_DASHBOARD_PORT='abc': Input should be a valid integer"),
        ("CHURN_AUTH_ROLE_MAP", "{oops", "CHURN_AUTH_ROLE_MAP: not valid JSON"),
        (
            "CHURN_DEMO_CUSTOMERS",
            "3",
            "CHURN_DEMO_CUSTOMERS='3': Input should be greater than or equal to 10",
        ),
    ],
)
def test_a_badly_typed_value_is_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    problems = configuration_problems()
    assert len(problems) == 1
    assert "\n" not in problems[0]
    assert problems[0].startswith(expected)


def test_a_secret_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURN_SALESFORCE_PASSWORD", "")
    monkeypatch.setenv("CHURN_API_RELOAD_SECONDS", "-1")
    monkeypatch.setenv("CHURN_HUBSPOT_ACCESS_TOKEN", "pat-secret-123")
    problems = configuration_problems()
    assert "pat-secret-123" not in " ".join(problems)


def _bad_policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text("version: '2'\nrisk_tiers:\n  critical: 2\n")
    return path


def test_the_cli_says_no_in_one_line_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runner = CliRunner()
    monkeypatch.setenv("CHURN_DASHBOARD_PORT", "abc")
    out = runner.invoke(app, ["materialize"])
    assert out.exit_code == 2
    assert out.output.strip().splitlines() == [
        "error: CHURN_DASHBOARD_PORT='abc': Input should be a valid integer, unable to parse string as an integer"
    ]
    monkeypatch.delenv("CHURN_DASHBOARD_PORT")
    monkeypatch.setenv("CHURN_POLICY_PATH", str(_bad_policy(tmp_path)))
    out = runner.invoke(app, ["erase", "--customer", "C1", "--reason", "x", "--yes"])
    assert out.exit_code == 2
    lines = out.output.strip().splitlines()
    assert len(lines) == 1
    assert "policy.yaml: risk_tiers.critical:" in lines[0]
    assert "Traceback" not in out.output


def test_the_dashboard_says_no_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from streamlit.testing.v1 import AppTest

    from churn_platform.settings import PROJECT_ROOT

    monkeypatch.setenv("CHURN_SENDGRID_APIKEY", "x")
    at = AppTest.from_file(
        str(PROJECT_ROOT / "churn_platform" / "dashboard" / "app.py"), default_timeout=60
    ).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "unknown setting CHURN_SENDGRID_APIKEY (did you mean CHURN_SENDGRID_API_KEY?): no part of the platform "
        "reads it; see the Settings table in README.md"
    ]
    monkeypatch.delenv("CHURN_SENDGRID_APIKEY")
    monkeypatch.setenv("CHURN_RETENTION_POLICY_PATH", str(tmp_path / "missing.yaml"))
    at = AppTest.from_file(
        str(PROJECT_ROOT / "churn_platform" / "dashboard" / "app.py"), default_timeout=60
    ).run()
    assert len(at.error) == 1
    assert "missing.yaml does not exist" in at.error[0].value


def test_local_mode_says_it_is_unauthenticated_on_every_page(tmp_path: Path) -> None:
    from streamlit.testing.v1 import AppTest

    from churn_platform.settings import PROJECT_ROOT

    at = AppTest.from_file(
        str(PROJECT_ROOT / "churn_platform" / "dashboard" / "app.py"), default_timeout=60
    ).run()
    assert not at.exception
    assert any("Local mode: no sign-in is configured" in w.value for w in at.warning)
