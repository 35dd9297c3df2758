"""The eight-stage sales funnel (销售漏斗) and its win probabilities.

The sources give IT-industry values in a figure we do not have; these defaults rise
evenly through qualification and jump once we are the chosen supplier. Stage 8 is the end:
won (100) or lost (0). An admin may rename, re-describe and re-weight the stages
(`StageModel.revise`); the shape of the funnel (eight stages, 8 = closed) is fixed because
every rule and every consumer counts on it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from kam_shared.domain_errors import ValidationProblem

OPEN_STAGES = range(1, 8)
WON_STAGE = 8
STAGE_NUMBERS = tuple(range(1, 9))


@dataclass(frozen=True)
class Stage:
    number: int
    name: str
    description: str
    probability: int


DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage(1, "Find contacts and need", "寻找正确的联系人与特性需求: the right contacts and the real need", 10),
    Stage(2, "Confirm needs, budget, sponsor", "查明需求、预算和项目发起人", 20),
    Stage(3, "Map the organisation", "全面掌握客户组织关系: the customer's organisation and relationships", 30),
    Stage(4, "Objective and resources", "确定销售目标及销售资源申请: sales objective set, resources requested", 40),
    Stage(5, "Shortlisted / bidding", "进入候选名单/投标和评标: shortlisted, or bidding and evaluation", 50),
    Stage(6, "Chosen / tender won", "实现惟一选择/中标: sole supplier chosen, or tender won", 70),
    Stage(7, "Negotiation", "商务谈判: commercial negotiation", 90),
    Stage(8, "Closed", "达成协议/失去商机: agreement on all terms (won) or opportunity lost", 100),
)


def probability_of(stage: int) -> int:
    """Default probability of a stage (the model an admin has not changed)."""
    return DEFAULT_STAGES[stage - 1].probability


@dataclass(frozen=True)
class StageModel:
    """The stage table in force, with its version (1 = the defaults)."""
    stages: tuple[Stage, ...] = DEFAULT_STAGES
    version: int = 1

    def stage(self, number: int) -> Stage:
        if number not in STAGE_NUMBERS:
            raise ValidationProblem(f"stage {number} is not in the stage model (1..8)", field="stage")
        return self.stages[number - 1]

    def probability(self, number: int) -> int:
        return self.stage(number).probability

    def name(self, number: int) -> str:
        return self.stage(number).name

    def revise(self, proposed: list[Stage]) -> tuple["StageModel", dict[str, tuple]]:
        """The model after an admin's change, and what changed as {"stage_3.probability": (30, 35)}.

        Rules: exactly the stages 1..8, each once; names not blank; probabilities 0..100 and not
        falling from one open stage to the next (a later stage is never less likely to win);
        stage 8 keeps 100, because it is the won stage (a lost opportunity has 0 whatever the model).
        """
        numbers = [s.number for s in proposed]
        if sorted(numbers) != list(STAGE_NUMBERS):
            missing = sorted(set(STAGE_NUMBERS) - set(numbers))
            repeated = sorted({n for n in numbers if numbers.count(n) > 1})
            unknown = sorted(set(numbers) - set(STAGE_NUMBERS))
            parts = [f"missing {missing}" if missing else "", f"repeated {repeated}" if repeated else "",
                     f"not in 1..8: {unknown}" if unknown else ""]
            raise ValidationProblem("the stage model needs stages 1..8 exactly once each: "
                                    + "; ".join(p for p in parts if p), field="stages")
        cleaned = []
        for s in sorted(proposed, key=lambda s: s.number):
            name = " ".join(s.name.split())
            if not name:
                raise ValidationProblem(f"stage {s.number} needs a name", field=f"stages.{s.number}.name")
            if not 0 <= s.probability <= 100:
                raise ValidationProblem(f"stage {s.number} probability must be 0..100",
                                        field=f"stages.{s.number}.probability")
            cleaned.append(replace(s, name=name, description=s.description.strip()))
        if cleaned[-1].probability != 100:
            raise ValidationProblem("stage 8 is the won stage; its probability stays 100",
                                    field="stages.8.probability")
        for before, after in zip(cleaned[:6], cleaned[1:7], strict=True):
            if after.probability < before.probability:
                raise ValidationProblem(
                    f"stage {after.number} probability ({after.probability}) is below stage {before.number}'s "
                    f"({before.probability}); probabilities must not fall along the funnel",
                    field=f"stages.{after.number}.probability")
        changes: dict[str, tuple] = {}
        for old, new in zip(self.stages, cleaned, strict=True):
            for attr in ("name", "description", "probability"):
                if getattr(old, attr) != getattr(new, attr):
                    changes[f"stage_{old.number}.{attr}"] = (getattr(old, attr), getattr(new, attr))
        if not changes:
            return self, {}
        return StageModel(tuple(cleaned), self.version + 1), changes


def move_kind(from_stage: int, to_stage: int) -> str:
    """How a move inside the open funnel is recorded in the stage history."""
    if to_stage == from_stage + 1:
        return "advanced"
    if to_stage > from_stage:
        return "skipped_forward"
    return "moved_back"
