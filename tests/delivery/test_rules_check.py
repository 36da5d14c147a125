"""The blocking check in front of sending judges new decisions, not messages already queued: a consent withdrawn
after queueing skips that message at send time instead of blocking the whole campaign."""

from __future__ import annotations

from pathlib import Path

import duckdb

from churn_platform.defs.retention.assets import _violations
from churn_platform.lib.retention.delivery import queue_targets
from tests.delivery import warehouse as wh


def test_withdrawn_consent_of_queued_messages_does_not_block_but_a_new_bad_decision_does(
    tmp_path: Path,
) -> None:
    warehouse, _ = wh.campaign(tmp_path / "wh.duckdb", {"email": 6, "sms": 4})
    with duckdb.connect(str(warehouse)) as con:
        queue_targets(con, con.execute("select * from retention.decisions").df())
        con.execute(
            "update dim_customers set marketing_consent = false where customer_id in ('C00000', 'C00001')"
        )
        con.execute("update dim_customers set sms_consent = false where customer_id = 'C00006'")
    assert _violations(warehouse, 30, {}).empty, "queued messages are re-checked one by one at send time"

    with duckdb.connect(str(warehouse)) as con:  # a decision made now for someone without SMS consent
        con.execute(
            "insert into dim_customers by name select * replace ('C09999' as customer_id, false as sms_consent, true as marketing_consent) "
            "from dim_customers limit 1"
        )
        row = wh.decision("C09999", "sms")
        con.execute(
            "insert into retention.decisions by name select * from (select ?::varchar as customer_id) "
            "cross join (select * exclude (customer_id) from retention.decisions limit 1)",
            [row["customer_id"]],
        )
        con.execute(
            "update retention.decisions set channel = 'sms', campaign_id = ? where customer_id = 'C09999'",
            [row["campaign_id"]],
        )
    bad = _violations(warehouse, 30, {})
    assert bad["customer_id"].tolist() == ["C09999"]
    assert _violations(warehouse, 30, {"sms": "marketing_consent"}).empty, (
        "the profile names SMS's consent column"
    )
