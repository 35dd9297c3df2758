"""The eight-stage sales funnel (销售漏斗) and its default win probabilities.

The sources give IT-industry values in a figure we do not have; these defaults rise
evenly through qualification and jump once we are the chosen supplier. Stage 8 is the end:
won (100) or lost (0).
"""
from __future__ import annotations

from dataclasses import dataclass


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
OPEN_STAGES = range(1, 8)
WON_STAGE = 8


def probability_of(stage: int) -> int:
    return DEFAULT_STAGES[stage - 1].probability
