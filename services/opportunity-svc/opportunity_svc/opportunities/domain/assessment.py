"""Value assessment (商机价值评估): 20 yes/no questions in four dimensions, 1 point each.

A total over 10 marks a high-value opportunity. The question keys are the API contract:
clients send `{"answers": {"clear_application": true, ...}}` with every key exactly once.
"""
from __future__ import annotations

from dataclasses import dataclass

from kam_shared.domain_errors import ValidationProblem


@dataclass(frozen=True)
class Question:
    key: str
    text: str


@dataclass(frozen=True)
class Dimension:
    key: str
    title: str
    questions: tuple[Question, ...]


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("is_there_an_opportunity", "Is there an opportunity? (有没有机会)", (
        Question("clear_application", "Is the application / solution clear?"),
        Question("customer_profit_known", "Is the customer's operating profit known?"),
        Question("customer_financially_strong", "Is the customer financially strong?"),
        Question("funds_ready", "Are the project funds ready?"),
        Question("compelling_event_clear", "Is the compelling event clear?"),
    )),
    Dimension("can_we_compete", "Can we compete? (能否竞争)", (
        Question("formal_criteria_clear", "Are the formal decision criteria clear?"),
        Question("solution_good", "Is our solution good?"),
        Question("sales_resources_low", "Are the sales resources needed low?"),
        Question("relationship_strong", "Is our current relationship strong?"),
        Question("unique_value_strong", "Is our unique business value strong?"),
    )),
    Dimension("can_we_win", "Can we win? (能否赢)", (
        Question("internal_support_strong", "Is our internal support strong?"),
        Question("executor_credible", "Is the credibility of our executor strong?"),
        Question("cultural_fit_good", "Is the cultural fit good?"),
        Question("informal_criteria_clear", "Are the informal decision criteria clear?"),
        Question("political_alignment_strong", "Is our political alignment strong?"),
    )),
    Dimension("worth_winning", "Is it worth winning? (值不值得赢)", (
        Question("near_term_revenue_high", "Is the near-term revenue high?"),
        Question("long_term_revenue_high", "Is the long-term revenue high?"),
        Question("margin_high", "Is the margin high?"),
        Question("risk_low", "Is the risk low?"),
        Question("strategic_value", "Does it have strategic value?"),
    )),
)
QUESTION_KEYS: tuple[str, ...] = tuple(q.key for d in DIMENSIONS for q in d.questions)
HIGH_VALUE_ABOVE = 10


@dataclass(frozen=True)
class Score:
    answers: dict[str, bool]
    dimensions: tuple[tuple[str, str, int], ...]  # (key, title, score)
    total: int

    @property
    def high_value(self) -> bool:
        return self.total > HIGH_VALUE_ABOVE


def score(answers: dict[str, bool]) -> Score:
    """Sub-score per dimension and the total. Every question must be answered, and only those."""
    missing = [k for k in QUESTION_KEYS if k not in answers]
    extra = sorted(k for k in answers if k not in QUESTION_KEYS)
    if missing or extra:
        parts = ([f"missing answers: {', '.join(missing)}"] if missing else []) + \
                ([f"unknown questions: {', '.join(extra)}"] if extra else [])
        raise ValidationProblem("the assessment needs all 20 answers and nothing else; " + "; ".join(parts),
                                field="answers", missing=missing or None, unknown=extra or None)
    dims = tuple((d.key, d.title, sum(1 for q in d.questions if answers[q.key] is True)) for d in DIMENSIONS)
    ordered = {k: bool(answers[k]) for k in QUESTION_KEYS}
    return Score(answers=ordered, dimensions=dims, total=sum(s for _, _, s in dims))
