"""Reasons in the company's own words, natural at the extremes: nothing at all, everything lost, never seen."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from churn_platform.lib.ml_pipeline import reason_wording
from churn_platform.profile import attribute_features, behaviour_features, load_profile
from ml.explain import TEMPLATES, EventWords, Wording, describe, singular

SOCIAL = reason_wording(load_profile("social"))
SAAS = reason_wording(load_profile("saas"))
# what must never reach a customer success manager
UNNATURAL = re.compile(
    r"None|nan|inf\b|100%|only 0(?![.\d])|\b0 (day|post|login|event|ticket|point)s?\b|\b1 days\b|down 0%|down -|_|"
    r"\s\s|^\s|\s$"
)


def say(feature: str, wording: Wording, **row: object) -> str | None:
    return describe(feature, pd.Series(row, dtype=object), wording)


def test_every_feature_of_each_profile_has_its_own_words() -> None:
    for name, wording in (("saas", SAAS), ("social", SOCIAL)):
        profile = load_profile(name)
        features = [f.name for f in behaviour_features(profile)] + attribute_features(profile)
        missing = [f for f in features if f not in wording.templates()]
        assert not missing, f"{name}: {missing} would be said generically"


def test_a_social_app_reads_its_own_events() -> None:
    assert say("post_change_pct", SOCIAL, post_change_pct=-60.0) == "posts down 60% in the last 30 days"
    assert say("post_change_pct", SOCIAL, post_change_pct=-100.0) == "no posts in the last 30 days"
    assert say("post_change_pct", SOCIAL, post_change_pct=25.0) is None, "growth is no reason"
    assert say("post_30d", SOCIAL, post_30d=0, post_prev_30d=14) == "no posts in the last 30 days"
    assert say("post_30d", SOCIAL, post_30d=1, post_prev_30d=0) == "only 1 post in the last 30 days"
    assert (
        say("post_30d", SOCIAL, post_30d=4, post_prev_30d=14) == "4 posts in the last 30 days, down from 14"
    )
    assert say("days_since_last_post", SOCIAL, days_since_last_post=45) == "no posts for 45 days"
    assert say("days_since_last_post", SOCIAL, days_since_last_post=None) == "no posts in the last 60 days"
    assert say("days_since_last_reply", SOCIAL, days_since_last_reply=1) == "no replies for 1 day"
    assert say("reply_per_active_day", SOCIAL, reply_per_active_day=1.0) == (
        "1 reply a day on active days in the last 30 days"
    )
    assert say("video_view_seconds_change_pct", SOCIAL, video_view_seconds_change_pct=-72.4) == (
        "watch time down 72% in the last 30 days"
    )
    assert say(
        "video_view_seconds_30d", SOCIAL, video_view_seconds_30d=2700, video_view_seconds_prev_30d=12000
    ) == ("watch time 45 min in the last 30 days, down from 3 h 20 min")
    assert say("tip_value_30d", SOCIAL, tip_value_30d=0.0) == "no tips sent in the last 30 days"
    assert say("events_change_pct", SOCIAL, events_change_pct=-100.0) == "no activity in the last 30 days"
    assert say("active_days_30d", SOCIAL, active_days_30d=0) == "no activity in the last 30 days"
    assert (
        say("days_since_last_event", SOCIAL, days_since_last_event=None) == "no activity in the last 60 days"
    )
    assert say("age", SOCIAL, age=19.4) == "age 19"
    assert say("platform", SOCIAL, platform="android") == "platform is android"
    assert say("notifications_enabled", SOCIAL, notifications_enabled=False) == "notifications enabled: no"
    assert say("mrr", SOCIAL, mrr=12.99) == "pays 12.99 EUR a month"


def test_a_saas_company_keeps_its_words() -> None:
    assert say("days_since_last_login", SAAS, days_since_last_login=45) == "no logins for 45 days"
    assert say("login_change_pct", SAAS, login_change_pct=-45.2) == "logins down 45% in the last 30 days"
    assert say("feature_use_30d", SAAS, feature_use_30d=2, feature_use_prev_30d=2) == (
        "only 2 feature uses in the last 30 days"
    )
    assert say("session_seconds_30d", SAAS, session_seconds_30d=50, session_seconds_prev_30d=7200) == (
        "session time 50 s in the last 30 days, down from 2 h"
    )
    assert say("unresolved_tickets", SAAS, unresolved_tickets=2, oldest_unresolved_ticket_days=12) == (
        "2 unresolved tickets, oldest 12 days"
    )
    assert say("mrr", SAAS, mrr=300.0) == "pays 300 USD a month"


@pytest.mark.parametrize("name", ["saas", "social"])
def test_every_reason_reads_naturally_at_the_extremes(name: str) -> None:
    wording = reason_wording(load_profile(name))
    profile = load_profile(name)
    features = [f.name for f in behaviour_features(profile)] + attribute_features(profile) + list(TEMPLATES)
    extremes: list[dict[str, object]] = []
    for value in (0, 0.0, None, np.nan, -100.0, -99.7, -0.2, 100.0, 1, 0.4, 1e6):
        extremes.append(dict.fromkeys(features, value))
    # nothing now after something before, and the reverse
    extremes.append({f: (0 if f.endswith("_30d") else 12) for f in features})
    extremes.append({f: (12 if f.endswith("_30d") else 0) for f in features})
    extremes.append({**dict.fromkeys(features, 1), "platform": "web", "plan": "basic", "segment": "smb"})
    said = 0
    for row in extremes:
        for feature in features:
            text = say(feature, wording, **row)
            if text is None:
                continue
            said += 1
            assert not UNNATURAL.search(text), (feature, row[feature], text)
    assert said > 300


def test_features_that_say_the_same_thing_share_a_topic() -> None:
    templates = SOCIAL.templates()
    count = {templates[f].topic for f in ("post_30d", "post_prev_30d", "post_change_pct")}
    assert len(count) == 1
    assert templates["days_since_last_post"].topic not in count
    assert templates["video_view_seconds_change_pct"].topic != templates["video_view_change_pct"].topic


def test_unknown_features_are_said_plainly_and_the_singular_is_guessed() -> None:
    row = pd.Series({"favourite_colour": "blue", "loyalty_points": 1250.0, "vip": None}, dtype=object)
    assert describe("favourite_colour", row) == "favourite colour is blue"
    assert describe("loyalty_points", row) == "loyalty points 1,250"
    assert describe("vip", row) == "vip unknown"
    assert [singular(w) for w in ("video views", "replies", "logins", "feature uses", "access")] == [
        "video view",
        "reply",
        "login",
        "feature use",
        "access",
    ]
    bare = Wording(events=(EventWords("share"),))
    assert describe("share_30d", pd.Series({"share_30d": 1.0, "share_prev_30d": 0.0}), bare) == (
        "only 1 share in the last 30 days"
    )
