"""Simulated drift: a shift in customer behaviour from a chosen month, to demonstrate monitoring and retraining.

Two scenarios, each starting in one month of the company's life (the same index as ``Simulator.run_month``):

- ``price_rise``: at the start of the month every active customer's MRR rises by ``PRICE_RISE["factor"]``
  for good (the running subscription period ends the day before and a new one opens at the raised MRR), and
  later signups pay the raised list price. The existing ``price_above_list`` hazard term rises with the MRR;
  on top of it, customers whose price rose react: extra churn log-odds in the month of the rise and the month
  after, strongest for small (price-sensitive) accounts.
- ``outage``: for that month only, usage falls (the month's health is lowered, so events drop), tickets and
  escalations rise, and NPS answers fall. No extra hazard term: churn rises the month after through the
  observable usage-decline, low-usage, login and ticket terms, as it would for a real outage.

Nothing here draws random numbers, so a company without drift keeps byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

DriftKind = Literal["none", "price_rise", "outage"]

PRICE_RISE: dict[str, Any] = {
    "factor": 1.25,  # MRR multiplier, permanent; later signups pay list price x factor too
    "shock": 0.6,  # extra churn log-odds in the month of the rise (before the segment weight)
    "after": 0.3,  # ... and in the month after
    "segment": np.array([1.25, 0.75, 0.5]),  # smb, mid_market, enterprise: small accounts react most
}
OUTAGE: dict[str, Any] = {
    "health": -0.9,  # added to every customer's health for the month: usage rate x exp(-0.9) = 0.41
    "tickets": 0.2,  # extra tickets per customer-month, on top of what the lower health brings
    "escalation": 0.1,  # extra chance a ticket is escalated
    "category_p": [0.1, 0.55, 0.2, 0.08, 0.07],  # billing, bug, how_to, feature_request, account
}
TICKET_CATEGORY_P = [0.15, 0.3, 0.3, 0.15, 0.1]  # the usual mix, without an outage


@dataclass(frozen=True)
class Drift:
    """One drift scenario: which kind, and the month (index from the company's start) it begins."""

    kind: Literal["price_rise", "outage"]
    month: int

    def price_rise_at(self, m: int) -> bool:
        return self.kind == "price_rise" and m == self.month

    def outage_at(self, m: int) -> bool:
        return self.kind == "outage" and m == self.month

    def health_shock(self, m: int) -> float:
        """What the outage takes off everyone's health this month (0 otherwise): usage, tickets, NPS follow."""
        return float(OUTAGE["health"]) if self.outage_at(m) else 0.0

    def reaction_logit(
        self, m: int, segment: np.ndarray, signup_day: np.ndarray, rise_day: int
    ) -> np.ndarray | None:
        """Extra churn log-odds of customers whose price rose, in the month of the rise and the month after.

        Only customers who signed up before the rise day saw their price rise; later signups accepted the new
        price when they signed, so they do not react.
        """
        if self.kind != "price_rise" or m not in (self.month, self.month + 1):
            return None
        size = PRICE_RISE["shock"] if m == self.month else PRICE_RISE["after"]
        weight: np.ndarray = PRICE_RISE["segment"][segment]
        return np.asarray(size * weight * (signup_day < rise_day), dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "month": self.month}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Drift | None:
        if not data:
            return None
        return cls(kind=data["kind"], month=int(data["month"]))
