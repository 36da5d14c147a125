"""The contact columns are optional contract columns with their rules; the profile names each channel's consent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from churn_platform.contract import contract_named
from churn_platform.lib.delivery.channels import consent_column
from churn_platform.lib.quality import SuiteRunner, gx_validate
from churn_platform.profile import PROFILES_DIR, ProfileError, load_profile


def test_contact_columns_are_optional_and_checked() -> None:
    accounts = contract_named("saas").sources["accounts"]
    for name in ("phone", "sms_consent", "push_consent", "language", "time_zone"):
        column = accounts.column(name)
        assert not column.required
        assert column.nullable
    frame = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "phone": ["+4915123456789", "0151 123", None],
         "language": ["es", "english!", None], "time_zone": ["Europe/Madrid", "Mars Base", None]},
        index=[1, 2, 3],
    )  # fmt: skip
    runner = SuiteRunner(contract=contract_named("saas"))
    results = gx_validate(frame, runner.suite("accounts"), dt.date(2026, 1, 1))
    failing = {r.rule: r.unexpected_rows for r in results if r.unexpected_rows}
    # the warehouse engine judges the same rows
    con = duckdb.connect()
    con.register("t", frame.reset_index(names="_row_number"))
    in_sql = {}
    for rule in runner.rules("accounts", set(frame.columns), dt.date(2026, 1, 1)):
        sql = f"select _row_number from (select _row_number, ({rule.fails}) as f from t) where f"
        rows = [r for (r,) in con.execute(sql).fetchall()]
        if rows:
            in_sql[rule.rule] = rows
    assert in_sql == failing
    assert failing == {
        "phone: an E.164 phone number": [2],
        "language: a language code": [2],
        "time_zone: an IANA time zone name": [2],
    }


def test_the_profile_names_consent_columns_per_channel(tmp_path: Path) -> None:
    doc = yaml.safe_load((PROFILES_DIR / "saas.yaml").read_text())
    doc["contact"] = {"consent": {"sms": "marketing_consent"}, "default_time_zone": "Europe/Berlin"}
    path = tmp_path / "company.yaml"
    path.write_text(yaml.safe_dump(doc))
    contact = load_profile(path).contact
    assert consent_column("sms", contact.consent) == "marketing_consent"
    assert consent_column("in_app", contact.consent) == "push_consent"
    doc["contact"] = {"consent": {"sms": "likes_cats"}}
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ProfileError, match=r"contact\.consent: .*'likes_cats' is not a consent column"):
        load_profile(path)
    doc["contact"] = {"default_time_zone": "Mars/Base"}
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ProfileError, match=r"contact\.default_time_zone"):
        load_profile(path)
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        consent_column("email", {"fax": "marketing_consent"})
