"""Is the configuration usable? Settings and both policy files, each problem in one line.

The CLI, the dashboard and the API ask this before doing anything, so a typo in a variable name, a port
that is not a number or a policy file that does not validate is one sentence naming what to fix, not a
traceback and not a silently ignored value.
"""

from __future__ import annotations

import re

from churn_platform.settings import Settings, SettingsError, get_settings


def one_line(message: str) -> str:
    """Collapse a message (YAML errors span lines) into one line."""
    return re.sub(r"\s+", " ", message).strip()


def configuration_problems(check_policies: bool = True) -> list[str]:
    """One line per problem: the settings first (nothing else can be checked without them), then each policy."""
    from churn_platform.lib.retention.policy import load_retention_policy
    from churn_platform.profile import ProfileError
    from ml.policy import load_policy

    try:
        settings = get_settings()
    except (SettingsError, ProfileError) as exc:  # the profile names the default policy files
        return [one_line(str(exc))]
    if not check_policies:
        return []
    problems = []
    for path, load in (
        (settings.policy_path, load_policy),
        (settings.retention_policy_path, load_retention_policy),
    ):
        try:
            load(path)
        except ValueError as exc:
            problems.append(one_line(str(exc)))
    return problems


def checked_settings(check_policies: bool = True) -> Settings:
    """The settings, or ``SettingsError`` whose message lists every problem (one line each, ``; ``-joined)."""
    problems = configuration_problems(check_policies)
    if problems:
        raise SettingsError(" | ".join(problems))
    return get_settings()
