"""A sending process for the ``kill -9`` tests: ``python -m tests.delivery.worker <config.json>``.

It delivers a campaign from a warehouse through the real channel providers pointed at local fakes, exactly
as ``campaign_sends`` does, and is killed with SIGKILL by the test while a request is in flight.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from churn_platform.lib.delivery.channels import (
    OutboxChannel,
    SendGridChannel,
    TeamTaskChannel,
    TwilioChannel,
)
from churn_platform.lib.delivery.core import Channel
from churn_platform.lib.retention.pipeline import deliver
from tests.delivery.warehouse import policy


def channels_from(config: dict[str, Any]) -> Any:
    def build(con: duckdb.DuckDBPyConnection) -> Mapping[str, Channel]:
        outbox = Path(config["outbox"])
        found: dict[str, Channel] = {
            "email": OutboxChannel("email", outbox), "sms": OutboxChannel("sms", outbox),
            "in_app": OutboxChannel("in_app", outbox), "team_task": TeamTaskChannel(con),
        }  # fmt: skip
        if "sendgrid" in config:
            sg = config["sendgrid"]
            found["email"] = SendGridChannel(
                sg["key"],
                sg["host"],
                "success@example.com",
                timeout=sg["timeout"],
                settle_seconds=sg["settle"],
            )
        if "twilio" in config:
            tw = config["twilio"]
            found["sms"] = TwilioChannel(
                tw["sid"], tw["token"], tw["from"], tw["base_url"], tw.get("callback"), timeout=tw["timeout"],
                settle_seconds=tw["settle"],
            )  # fmt: skip
        return found

    return build


def main(path: str) -> None:
    config = json.loads(Path(path).read_text())
    report = deliver(
        Path(config["warehouse"]), channels_from(config), policy(), events_dir=Path(config["events"]),
        max_attempts=config.get("max_attempts", 4), backoff_seconds=config.get("backoff", 0.01),
    )  # fmt: skip
    print(json.dumps({"sent": report.sent, "unknown": report.unknown, "pending": report.still_pending}))


if __name__ == "__main__":
    main(sys.argv[1])
