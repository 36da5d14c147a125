"""The promotion rule: a candidate replaces the champion only if it is better on the same rows.

Kept as a pure function so the Dagster gate, the tests and an ML engineer at a prompt all apply the very
same rule. Only the ``champion`` alias ever moves.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class PromotionPolicy(BaseModel):
    """What 'better' means: a metric, a margin over the champion, a floor for the very first model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = "roc_auc"
    margin: float = Field(default=0.002, ge=0)
    floor: float = Field(default=0.65, ge=0, le=1)
    higher_is_better: bool = True


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    candidate_score: float
    champion_score: float | None

    @property
    def below_floor(self) -> bool:
        return self.champion_score is None and not self.promote


def decide(
    candidate: float, champion: float | None, policy: PromotionPolicy | None = None
) -> PromotionDecision:
    """Promote if there is no champion and the candidate clears the floor, or it beats the champion by the margin."""
    policy = policy or PromotionPolicy()
    sign = 1 if policy.higher_is_better else -1
    name = policy.metric
    if champion is None:
        ok = sign * (candidate - policy.floor) >= 0
        reason = (
            f"first model: {name} {candidate:.4f} clears the floor {policy.floor:.4f}"
            if ok
            else f"first model: {name} {candidate:.4f} is below the floor {policy.floor:.4f}; nothing promoted"
        )
        return PromotionDecision(ok, reason, candidate, None)
    gain = sign * (candidate - champion)
    ok = gain >= policy.margin
    reason = (
        f"candidate {name} {candidate:.4f} beats champion {champion:.4f} by {gain:+.4f} (margin {policy.margin})"
        if ok
        else f"candidate {name} {candidate:.4f} does not beat champion {champion:.4f} by the margin "
        f"{policy.margin} ({gain:+.4f}); the champion stays"
    )
    return PromotionDecision(ok, reason, candidate, champion)
