"""Who is looking: sign-in through the company's identity provider (OpenID Connect, Streamlit's ``st.login``),
the role taken from an ID-token claim, and what that role may see.

With no identity provider configured the dashboard runs in local mode: no sign-in, bound to localhost by the
launcher, every permission, and a banner on every page saying so. With one, nobody sees anything before
signing in; the role comes from ``CHURN_AUTH_ROLE_CLAIM`` (mapped by ``CHURN_AUTH_ROLE_MAP``) and its
permissions from ``CHURN_ROLE_PERMISSIONS``: ``all_accounts`` (else only the accounts the person manages, by
the ``CHURN_AUTH_AGENT_CLAIM`` claim against ``account_manager``), ``pii`` (else names of people and emails are
masked, on the page and in the export), ``export`` and ``audit_log``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churn_platform.settings import ROLES, Settings

RANK = {role: i for i, role in enumerate(reversed(ROLES))}  # agent < manager < admin


@dataclass(frozen=True)
class Viewer:
    """The person using the dashboard and what they may see."""

    name: str
    email: str | None
    role: str
    permissions: frozenset[str]
    manages: str | None  # the account_manager value an agent is, when not all_accounts
    signed_in: bool

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def actor(self) -> str:
        return self.email or self.name


def local_viewer() -> Viewer:
    """Local mode: the operator on this machine, with every permission."""
    import getpass

    return Viewer(
        getpass.getuser(),
        None,
        "admin",
        frozenset({"all_accounts", "pii", "export", "audit_log"}),
        None,
        signed_in=False,
    )


def role_from_claims(claims: Mapping[str, Any], settings: Settings) -> str | None:
    """The strongest role the claim grants (a claim may be one value or a list), None when it grants none."""
    raw = claims.get(settings.auth_role_claim)
    values = raw if isinstance(raw, list | tuple) else [raw] if raw is not None else []
    roles = {settings.auth_role_map.get(str(v)) for v in values} - {None}
    known = [str(r) for r in roles if r in ROLES]
    return max(known, key=lambda r: RANK[r]) if known else None


def viewer_from_claims(claims: Mapping[str, Any], settings: Settings) -> Viewer | None:
    role = role_from_claims(claims, settings)
    if role is None:
        return None
    permissions = frozenset(settings.role_permissions.get(role, []))
    name = str(claims.get("name") or claims.get("email") or claims.get("sub") or "unknown")
    manages = claims.get(settings.auth_agent_claim)
    return Viewer(
        name,
        str(claims["email"]) if claims.get("email") else None,
        role,
        permissions,
        None if "all_accounts" in permissions or manages is None else str(manages),
        signed_in=True,
    )


def secrets_toml(settings: Settings) -> str:
    """The ``[auth]`` section Streamlit's ``st.login`` reads, built from the ``CHURN_OIDC_*`` settings."""

    def q(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else ""
    cookie = (
        settings.oidc_cookie_secret.get_secret_value()
        if settings.oidc_cookie_secret
        else hashlib.sha256(f"churn-platform-cookie:{secret}:{settings.oidc_client_id}".encode()).hexdigest()
    )
    redirect = (
        settings.oidc_redirect_uri or f"http://{settings.host}:{settings.dashboard_port}/oauth2callback"
    )
    return "\n".join(
        [
            "[auth]",
            f"redirect_uri = {q(redirect)}",
            f"cookie_secret = {q(cookie)}",
            f"client_id = {q(settings.oidc_client_id or '')}",
            f"client_secret = {q(secret)}",
            f"server_metadata_url = {q(settings.oidc_metadata_url or '')}",
            'client_kwargs = { scope = "openid profile email" }',
            "",
        ]
    )


def write_secrets(settings: Settings) -> Path | None:
    """Write the dashboard's secrets file (mode 0600) when sign-in is configured; None in local mode."""
    if not settings.auth_enabled:
        return None
    path = settings.data_dir / "dashboard" / "secrets.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".secrets.toml.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets_toml(settings))
    os.replace(tmp, path)
    return path


def dashboard_command(
    settings: Settings, streamlit: str, app: Path, host: str, port: int
) -> tuple[list[str], str]:
    """The ``streamlit run`` command for the dashboard and the address it binds to.

    Local mode binds to localhost whatever ``host`` says: without sign-in the dashboard must not be reachable
    from another machine.
    """
    secrets = write_secrets(settings)
    bind = host if secrets is not None else "127.0.0.1"
    command = [
        streamlit, "run", str(app), "--server.address", bind, "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    if secrets is not None:
        command += ["--secrets.files", str(secrets)]
    return command, bind
