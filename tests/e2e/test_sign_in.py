"""Sign-in and roles in real headless Chromium against a local OpenID Connect provider (oidc-provider-mock).

Each role signs in through the provider's authorization page and lands on the worklist: the admin sees every
account with names and the audit log; the manager sees every account with personal data masked (and exports
it, audited); the agent sees only the accounts they manage. With ``CHURN_SCREENSHOT_DIR`` set, a screenshot of
each role's view is kept there (``dashboard-role-<role>.png``). ``E2E_DASHBOARD_SNAPSHOT`` may point at a
published dashboard folder (e.g. the demo's) instead of the tiny one the test publishes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from churn_platform.dashboard.views import MASK
from churn_platform.settings import PROJECT_ROOT, get_settings
from tests.e2e.test_run_command import _free_port, _not_blank

SCREENSHOTS = os.environ.get("CHURN_SCREENSHOT_DIR")
ROLE_MAP = '{"churn-admins": "admin", "churn-managers": "manager", "churn-agents": "agent"}'


def _published(tmp: Path) -> Path:
    given = os.environ.get("E2E_DASHBOARD_SNAPSHOT")
    if given:
        return Path(given)
    from churn_platform.lib.dashboard_publish import publish_dashboard
    from tests.dashboard.test_pages import HEALTH
    from tests.dashboard.warehouse import build

    folder = tmp / "published"
    publish_dashboard(build(tmp / "wh.duckdb"), folder, HEALTH)
    return folder


def _wait(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} never answered")


def _settled(driver: object) -> bool:
    from selenium.webdriver.common.by import By

    busy = driver.find_elements(  # type: ignore[attr-defined]
        By.CSS_SELECTOR,
        "[data-testid='stStatusWidget'], [data-testid='stSpinner'], [data-testid='stSkeleton']",
    )
    return not busy


def _sign_in(driver: object, dashboard: str, sub: str) -> str:
    from selenium.webdriver.common.by import By

    from tests.e2e.browser import page_text

    driver.get(dashboard)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while "Sign in" not in page_text(driver) and time.monotonic() < deadline:  # type: ignore[arg-type]
        time.sleep(0.3)
    driver.find_element(
        By.XPATH, "//button[.//p[normalize-space()='Sign in'] or normalize-space()='Sign in']"
    ).click()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = driver.find_elements(By.XPATH, f"//button[@name='sub' and @value='{sub}']")  # type: ignore[attr-defined]
        if found:
            found[0].click()
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"the provider never offered {sub}: {page_text(driver)[:500]}")  # type: ignore[arg-type]
    deadline = time.monotonic() + 60
    text = ""
    while time.monotonic() < deadline:
        text = page_text(driver)  # type: ignore[arg-type]
        if "Signed in as" in text and "customers match the filters" in text and _settled(driver):
            time.sleep(2)  # charts finish drawing
            return str(page_text(driver))  # type: ignore[arg-type]
        time.sleep(0.5)
    raise AssertionError(f"no worklist after signing in as {sub}: {text[:1500]}")


@pytest.mark.slow
def test_each_role_signs_in_and_sees_what_it_may(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from oidc_provider_mock import User, run_server_in_thread
    from selenium.webdriver.common.by import By

    from churn_platform.dashboard.auth import dashboard_command
    from tests.e2e.browser import chromium

    folder = _published(tmp_path)
    worklist = pd.read_parquet(folder / "worklist.parquet")
    agent_name = str(worklist["account_manager"].dropna().value_counts().index[0])
    names = [str(n) for n in worklist["company_name"].dropna()]
    theirs = worklist[worklist["account_manager"] == agent_name]
    users = [
        User(sub="alex@acme.example", claims={"email": "alex@acme.example", "name": "Alex Admin", "roles": ["churn-admins"]}),
        User(sub="morgan@acme.example", claims={"email": "morgan@acme.example", "name": "Morgan Manager", "roles": ["churn-managers", "staff"]}),
        User(sub="agent@acme.example", claims={"email": "agent@acme.example", "name": agent_name, "roles": ["churn-agents"]}),
    ]  # fmt: skip
    port = _free_port()
    dashboard = f"http://localhost:{port}"
    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    with run_server_in_thread(user_claims=users) as idp:
        for name, value in {
            "CHURN_DATA_DIR": str(tmp_path / "data"),
            "CHURN_DASHBOARD_DIR": str(folder),
            "CHURN_OIDC_METADATA_URL": f"http://localhost:{idp.server_port}/.well-known/openid-configuration",
            "CHURN_OIDC_CLIENT_ID": "churn-dashboard",
            "CHURN_OIDC_CLIENT_SECRET": "test-client-secret",
            "CHURN_OIDC_REDIRECT_URI": f"{dashboard}/oauth2callback",
            "CHURN_AUTH_ROLE_MAP": ROLE_MAP,
        }.items():
            monkeypatch.setenv(name, value)
        settings = get_settings()
        command, _bind = dashboard_command(
            settings,
            str(Path(sys.executable).with_name("streamlit")),
            PROJECT_ROOT / "churn_platform" / "dashboard" / "app.py",
            "127.0.0.1",
            port,
        )
        assert "--secrets.files" in command
        assert oct((tmp_path / "data" / "dashboard" / "secrets.toml").stat().st_mode)[-3:] == "600"
        log = (tmp_path / "streamlit.log").open("w")
        proc = subprocess.Popen(
            command, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT
        )
        try:
            _wait(f"{dashboard}/_stcore/health")
            texts: dict[str, str] = {}
            sources: dict[str, str] = {}
            for role, sub in (
                ("manager", "morgan@acme.example"),
                ("agent", "agent@acme.example"),
                ("admin", "alex@acme.example"),
            ):
                with chromium(width=1600, height=1100) as driver:
                    texts[role] = _sign_in(driver, dashboard, sub)
                    sources[role] = (
                        driver.page_source
                    )  # the table is drawn on a canvas; its cells are in the DOM
                    if role == "manager":
                        driver.find_element(
                            By.CSS_SELECTOR, "[data-testid='stDownloadButton'] button"
                        ).click()
                        time.sleep(2)
                    if role == "admin":
                        time.sleep(1)
                    driver.save_screenshot(str(shots / f"dashboard-role-{role}.png"))
                    if role == "admin":
                        driver.get(f"{dashboard}/audit")
                        deadline = time.monotonic() + 30
                        from tests.e2e.browser import page_text

                        while (
                            "entries, newest first" not in page_text(driver) or not _settled(driver)
                        ) and time.monotonic() < deadline:
                            time.sleep(0.5)
                        time.sleep(1)
                        texts["audit"] = page_text(driver) + driver.page_source
                        driver.save_screenshot(str(shots / "dashboard-audit-log.png"))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    admin, manager, agent = texts["admin"], texts["manager"], texts["agent"]
    assert "Alex Admin (admin: all accounts)" in admin
    assert "Audit log" in admin
    assert any(n in sources["admin"] for n in names), "the admin sees names"
    assert "Morgan Manager (manager: all accounts, personal data masked)" in manager
    assert MASK in sources["manager"]
    assert not any(n in sources["manager"] for n in names)
    assert "Audit log" not in manager
    assert f"(agent: accounts of {agent_name})" in agent
    assert f"Showing the {len(theirs):,} accounts" in agent
    others = set(worklist["customer_id"]) - set(theirs["customer_id"])
    assert any(c in sources["agent"] for c in theirs["customer_id"]), "their accounts are listed"
    assert not any(f">{c}<" in sources["agent"] for c in others), "the agent sees only their accounts"
    audit = texts["audit"]
    assert "sign_in" in audit
    assert "morgan@acme.example" in audit
    assert "export" in audit
    for role in ("admin", "manager", "agent"):
        _not_blank(shots / f"dashboard-role-{role}.png")
