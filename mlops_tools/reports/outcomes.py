"""Outcomes of a check, worst first: a policy, a control or a model takes the worst of what judged it."""

from __future__ import annotations

from collections.abc import Iterable

# "partial": a control whose checks passed but which no fully covering rule evidenced ("partly evidenced").
# "not-verified": a rule that applies but needs what the audit did not consult (the image registries):
# below every finding, above a pass, so it never reads as one.
OUTCOMES = (
    "error",
    "fail",
    "warn",
    "waived",
    "partial",
    "not-verified",
    "pass",
    "not-applicable",
    "disabled",
)


def worst(outcomes: Iterable[str], default: str = "pass") -> str:
    ranked = sorted(outcomes, key=OUTCOMES.index)
    return ranked[0] if ranked else default
