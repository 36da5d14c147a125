"""The scoring API against a real MLflow store: contract, key scopes, fresh scores, the champion reloaded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from churn_platform.api.keys import create_key, revoke_key
from churn_platform.settings import get_settings
from ml.registry import set_alias
from ml.tracking import configure, log_model_run
from ml.train import TrainConfig, train_candidates, validation_rows
from tests.ml.synthetic import churn_table


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two registered versions (logistic regression, CatBoost) of ``churn_model`` in a fresh SQLite store."""
    root = tmp_path_factory.mktemp("api")
    uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    configure(uri, root / "mlflow" / "artifacts")
    table = churn_table(n_per_snapshot=400, snapshots=4, seed=3)
    config = TrainConfig(kinds=("logistic_regression", "catboost"))
    versions = {}
    for c in train_candidates(table, config):
        val = validation_rows(table, c.split, config)
        logged = log_model_run(
            c.model, c.metrics, {}, [], val.drop(columns=["churned"]), "churn_model", c.kind
        )
        versions[c.kind] = logged.version
    set_alias("churn_model", versions["logistic_regression"] or "")
    set_alias("churn_model", versions["catboost"] or "", "explainer")
    row = table.drop(columns=["customer_id", "snapshot_date", "churned"]).iloc[0]
    features = {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()}
    return {"root": root, "versions": versions, "features": features, "table": table}


WORKLIST = [
    {"customer_id": "C00000001", "company_name": "Bright Fox Labs", "email": "billing@c00000001.example.com",
     "churn_probability": 0.91, "risk_tier": "critical", "reason_1": "usage down 45% in the last 30 days",
     "reason_2": "2 unresolved tickets, oldest 12 days", "reason_3": None, "customer_value": 5400.0,
     "valuable": True, "value_band": "high", "decision": "treat", "decision_reason": "targeted by the playbook",
     "playbook": "critical_usage", "intervention": "success_call", "offer": "a call with your success manager",
     "decided_for_snapshot": "2025-08-01", "snapshot_date": "2025-08-01", "scored_at": "2025-08-01 10:00:00",
     "model_version": "1"},
    {"customer_id": "C00000002", "company_name": "Quiet Owl Ltd", "email": "billing@c00000002.example.com",
     "churn_probability": 0.05, "risk_tier": "low", "reason_1": None, "reason_2": None, "reason_3": None,
     "customer_value": 300.0, "valuable": False, "value_band": "low", "decision": None,
     "decision_reason": None, "playbook": None, "intervention": None, "offer": None,
     "decided_for_snapshot": None, "snapshot_date": "2025-08-01", "scored_at": "2025-08-01 10:00:00",
     "model_version": "1"},
]  # fmt: skip


@pytest.fixture
def client(registry: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from churn_platform.api.app import create_app

    root = Path(str(registry["root"]))
    monkeypatch.setenv("CHURN_DATA_DIR", str(root))
    monkeypatch.setenv("CHURN_API_RELOAD_SECONDS", "0.2")
    folder = root / "published" / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(WORKLIST).to_parquet(folder / "worklist.parquet")
    # the cut-offs the latest scoring recorded (ml.tier_cutoffs, published with the dashboard snapshot)
    pd.DataFrame(
        {
            "snapshot_date": pd.Timestamp("2025-08-01"),
            "scored_at": pd.Timestamp("2025-08-01 10:00"),
            "tier": ["critical", "high", "medium", "low"],
            "cutoff": [0.3, 0.15, 0.08, 0.0],
        }
    ).to_parquet(folder / "tier_cutoffs.parquet")
    (folder / "manifest.json").write_text(json.dumps({"published_at": "2025-08-01T10:05:00+00:00"}))
    set_alias("churn_model", str(dict(registry["versions"])["logistic_regression"]))  # type: ignore[call-overload]
    with TestClient(create_app()) as test_client:
        yield test_client


def _features(
    client: TestClient, key: str, registry: dict[str, object], **overrides: object
) -> dict[str, object]:
    """The registry's example row in the champion's signature (GET /v1/model), with some values changed."""
    model = client.get("/v1/model", headers={"X-API-Key": key}).json()
    columns = model["numeric_features"] + model["categorical_features"]
    row = {**dict(registry["features"]), **overrides}  # type: ignore[call-overload]
    return {c: row[c] for c in columns}


def _keys(tmp: Path) -> dict[str, str]:
    path = get_settings().api_keys
    for name in ("reader", "scorer", "both"):
        revoke_key(path, name)
    return {
        "reader": create_key(path, "reader", ["read"]),
        "scorer": create_key(path, "scorer", ["score"]),
        "both": create_key(path, "both", ["read", "score"]),
    }


def test_risk_of_a_customer_with_value_and_next_best_action(client: TestClient, tmp_path: Path) -> None:
    keys = _keys(tmp_path)
    answer = client.get("/v1/customers/C00000001/risk", headers={"Authorization": f"Bearer {keys['reader']}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["churn_probability"] == 0.91
    assert body["risk_tier"] == "critical"
    assert body["reasons"] == ["usage down 45% in the last 30 days", "2 unresolved tickets, oldest 12 days"]
    assert body["value"] == {"customer_value": 5400.0, "valuable": True, "value_band": "high"}
    assert body["next_best_action"]["intervention"] == "success_call"
    assert (body["model_version"], body["snapshot_date"]) == ("1", "2025-08-01")
    assert "Bright Fox" not in json.dumps(body), "no personal data leaves by the API"
    assert "email" not in json.dumps(body), "no PII leaves by the API"
    low = client.get("/v1/customers/C00000002/risk", headers={"X-API-Key": keys["both"]}).json()
    assert low["next_best_action"] == {
        "decision": None, "why": "no action: low risk", "playbook": None, "intervention": None, "offer": None,
        "decided_for_snapshot": None,
    }  # fmt: skip
    missing = client.get("/v1/customers/C99999999/risk", headers={"X-API-Key": keys["reader"]})
    assert missing.status_code == 404


def test_keys_and_scopes(client: TestClient, tmp_path: Path) -> None:
    keys = _keys(tmp_path)
    features = {"features": {"logins_30d": 3}}
    assert client.get("/v1/customers/C00000001/risk").status_code == 401
    assert client.get("/v1/customers/C00000001/risk", headers={"X-API-Key": "cpk_guess"}).status_code == 401
    assert (
        client.get("/v1/customers/C00000001/risk", headers={"X-API-Key": keys["scorer"]}).status_code == 403
    )
    assert client.post("/v1/score", json=features, headers={"X-API-Key": keys["reader"]}).status_code == 403
    assert client.get("/v1/health").status_code == 200, "health needs no key"
    revoke_key(get_settings().api_keys, "reader")
    assert (
        client.get("/v1/customers/C00000001/risk", headers={"X-API-Key": keys["reader"]}).status_code == 401
    )
    stored = get_settings().api_keys.read_text()
    assert keys["both"] not in stored, "only hashes are stored"
    assert oct(get_settings().api_keys.stat().st_mode)[-3:] == "600"


def test_score_fresh_features_with_the_champion(
    client: TestClient, registry: dict[str, object], tmp_path: Path
) -> None:
    keys = _keys(tmp_path)
    features = _features(client, keys["scorer"], registry)
    answer = client.post(
        "/v1/score", json={"customer_id": "X1", "features": features}, headers={"X-API-Key": keys["scorer"]}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert 0 < body["churn_probability"] < 1
    assert body["risk_tier"] in {"critical", "high", "medium", "low"}
    assert body["model_version"] == str(dict(registry["versions"])["logistic_regression"])  # type: ignore[call-overload]
    assert body["tier_cutoffs"] == "cut-offs recorded by the scoring of 2025-08-01"
    # the same probability as the champion gives in batch
    from ml.tracking import load_churn_model

    batch = load_churn_model("models:/churn_model@champion").predict_proba(pd.DataFrame([features]))[0]
    assert body["churn_probability"] == pytest.approx(batch, abs=1e-6)
    risky = _features(
        client, keys["scorer"], registry, unresolved_tickets=6, oldest_unresolved_ticket_days=40, plan="basic",
        tenure_days=15, events_change_pct=-90.0, login_30d=0,
    )  # fmt: skip
    answer = client.post("/v1/score", json={"features": risky}, headers={"X-API-Key": keys["scorer"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["risk_tier"] != "low", answer.json()
    reasons = answer.json()["reasons"]
    assert reasons
    assert any("ticket" in r or "down 90%" in r or "login" in r for r in reasons), reasons
    wrong = client.post(
        "/v1/score", json={"features": {**features, "logins": 2}}, headers={"X-API-Key": keys["scorer"]}
    )
    assert wrong.status_code == 422
    assert "unknown feature(s) logins" in wrong.json()["detail"]
    partial = {k: v for k, v in features.items() if k != "plan"}
    assert (
        "missing feature(s) plan"
        in client.post("/v1/score", json={"features": partial}, headers={"X-API-Key": keys["scorer"]}).json()[
            "detail"
        ]
    )
    typed = client.post(
        "/v1/score",
        json={"features": {**features, "tenure_days": "long"}},
        headers={"X-API-Key": keys["scorer"]},
    )
    assert "wrong type tenure_days" in typed.json()["detail"]


def test_the_champion_is_reloaded_when_its_alias_moves(
    client: TestClient, registry: dict[str, object], tmp_path: Path
) -> None:
    keys = _keys(tmp_path)
    versions = dict(registry["versions"])  # type: ignore[call-overload]
    assert client.get("/v1/health").json()["champion_version"] == versions["logistic_regression"]
    set_alias("churn_model", versions["catboost"])
    deadline = time.monotonic() + 20
    while (
        client.get("/v1/health").json()["champion_version"] != versions["catboost"]
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert client.get("/v1/health").json()["champion_version"] == versions["catboost"]
    body = client.post(
        "/v1/score",
        json={"features": _features(client, keys["both"], registry)},
        headers={"X-API-Key": keys["both"]},
    ).json()  # type: ignore[call-overload]
    assert body["model_version"] == versions["catboost"]


def test_the_openapi_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/health", "/v1/customers/{customer_id}/risk", "/v1/score", "/v1/model"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200
    risk = spec["components"]["schemas"]["Risk"]["properties"]
    assert {
        "churn_probability",
        "risk_tier",
        "reasons",
        "value",
        "next_best_action",
        "model_version",
        "snapshot_date",
    } <= set(risk)
