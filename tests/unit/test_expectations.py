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
