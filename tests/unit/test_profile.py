"""The company profile: validated with errors that name the file and the key; it carries the company's policies."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from churn_platform.profile import PROFILES_DIR, ProfileError, load_profile
from churn_platform.settings import PROJECT_ROOT, Settings


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"vocabularies": {"tier": {"values": ["a"]}}}, "vocabularies: Value error, unknown vocabulary tier"),
        ({"vocabularies": {"change_type": {"values": ["new"]}}}, "change_type must include new, renewal"),
        ({"vocabularies": {"plan": {"values": ["Basic", " pro"]}}}, "values may not be blank or carry"),
        (
            {"vocabularies": {"plan": {"values": ["Basic", "basic"]}}},
            "values repeat (ignoring case and spaces): basic",
        ),
        ({"event_types": [{"name": "Post!"}]}, "is not a usable event type name"),
        ({"event_types": [{"name": "post"}, {"name": "post"}]}, "event_types repeat: post"),
        (
            {"attributes": [{"name": "country", "type": "categorical"}]},
            "'country' is already a column of accounts",
        ),
        ({"currency": "euro"}, "currency: String should match pattern"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_profile_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    doc = yaml.safe_load((PROFILES_DIR / "saas.yaml").read_text())
    doc.pop("simulation")
    doc.update(change)
    path = tmp_path / "company.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_an_unknown_profile_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match=r"no company profile named 'acme'.*saas, social"):
        load_profile("acme")


def test_a_company_brings_its_own_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURN_COMPANY_PROFILE", "social")
    social = Settings()
    assert social.policy_path == PROJECT_ROOT / "churn_platform" / "policies" / "social" / "churn_policy.yaml"
    assert social.retention_policy_path.parent.name == "social"
    monkeypatch.setenv("CHURN_COMPANY_PROFILE", "saas")
    assert Settings().policy_path == PROJECT_ROOT / "churn_platform" / "policies" / "churn_policy.yaml"
    monkeypatch.setenv("CHURN_POLICY_PATH", "/elsewhere/policy.yaml")
    assert Settings().policy_path == Path("/elsewhere/policy.yaml"), "the setting still overrides the profile"


@pytest.mark.parametrize("profile", sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
def test_every_shipped_profiles_policies_load(profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from churn_platform.lib.retention.policy import load_retention_policy
    from ml.policy import load_policy

    monkeypatch.setenv("CHURN_COMPANY_PROFILE", profile)
    settings = Settings()
    assert load_policy(settings.policy_path).version
    assert load_retention_policy(settings.retention_policy_path).playbooks
