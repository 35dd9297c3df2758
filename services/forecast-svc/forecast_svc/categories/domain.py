"""Forecast categories (预测类别): where an opportunity stands in a forecast. Pure.

An open opportunity's category comes from its stage through the configurable mapping, unless
its owner overrode it; won is always `closed` and lost always `omitted`, whatever the override.
"""
from __future__ import annotations

from typing import Literal

from kam_shared.domain_errors import ValidationProblem

Category = Literal["pipeline", "best_case", "commit", "closed", "omitted"]
CATEGORIES: tuple[str, ...] = ("pipeline", "best_case", "commit", "closed", "omitted")
# What an owner may choose for an open opportunity, and what a stage may map to.
OPEN_CATEGORIES: tuple[str, ...] = ("pipeline", "best_case", "commit", "omitted")
OPEN_STAGES = range(1, 8)


def effective_category(status: str, stage: int, override: str | None, mapping: dict[int, str]) -> str:
    if status == "won":
        return "closed"
    if status == "lost":
        return "omitted"
    return override or mapping.get(stage, "pipeline")


def validate_mapping(proposed: dict[int, str]) -> dict[int, str]:
    """Every open stage 1..7 mapped exactly once to an open category; 'closed' is for won only."""
    missing = [s for s in OPEN_STAGES if s not in proposed]
    if missing:
        raise ValidationProblem(f"stages {missing} have no category; map each of stages 1..7", field="mapping")
    extra = sorted(set(proposed) - set(OPEN_STAGES))
    if extra:
        raise ValidationProblem(f"stages {extra} are not open stages (1..7); won is always 'closed', "
                                "lost always 'omitted'", field="mapping")
    for stage, category in proposed.items():
        if category not in OPEN_CATEGORIES:
            raise ValidationProblem(f"stage {stage}: category must be one of {', '.join(OPEN_CATEGORIES)}",
                                    field="mapping")
    return dict(sorted(proposed.items()))
