"""Simulated drift: a shift in customer behaviour from a chosen month, to demonstrate monitoring and retraining.

Two scenarios, each starting in one month of the company's life (the same index as ``Simulator.run_month``);
their sizes are the company's own (``simulation.drift`` in its profile, :class:`~churn_platform.simulate.
parameters.DriftScenarios`), and a company supports only the scenarios its profile sizes:

- ``price_rise``: at the start of the month every active customer's MRR rises by ``factor`` for good (the
  running subscription period ends the day before and a new one opens at the raised MRR), and later signups
  pay the raised list price. The hazard's ``price_above_list`` term rises with the MRR; on top of it,
  customers whose price rose react: ``shock`` extra churn log-odds in the month of the rise and ``after`` the
  month after, weighted by segment (small, price-sensitive accounts most).
- ``outage``: for that month only, every engagement dimension is ``health`` lower (so every event type
  falls), tickets and escalations rise (companies with a helpdesk), and NPS answers fall. No extra hazard
  term: churn rises the month after through the observable usage, recency and ticket terms, as it would for
  a real outage.

Nothing here draws random numbers, so a company without drift keeps byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

DriftKind = Literal["none", "price_rise", "outage"]


@dataclass(frozen=True)
class Drift:
    """One drift scenario: which kind, and the month (index from the company's start) it begins."""

    kind: Literal["price_rise", "outage"]
    month: int

    def price_rise_at(self, m: int) -> bool:
        return self.kind == "price_rise" and m == self.month

    def outage_at(self, m: int) -> bool:
        return self.kind == "outage" and m == self.month

    def health_shock(self, m: int, shock: float) -> float:
        """What the outage takes off every engagement dimension this month (0 otherwise)."""
        return float(shock) if self.outage_at(m) else 0.0

    def reaction_logit(
        self,
        m: int,
        segment_weight: np.ndarray,
        signup_day: np.ndarray,
        rise_day: int,
        shock: float,
        after: float,
    ) -> np.ndarray | None:
        """Extra churn log-odds of customers whose price rose, in the month of the rise and the month after.

        ``segment_weight`` is each customer's weight (by segment). Only customers who signed up before the
        rise day saw their price rise; later signups accepted the new price when they signed, so they do not
        react.
        """
        if self.kind != "price_rise" or m not in (self.month, self.month + 1):
            return None
        size = shock if m == self.month else after
        return np.asarray(size * segment_weight * (signup_day < rise_day), dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "month": self.month}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Drift | None:
        if not data:
            return None
        return cls(kind=data["kind"], month=int(data["month"]))
