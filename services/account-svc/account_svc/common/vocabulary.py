"""The closed vocabularies of the account domain (DOMAIN.md §1). The API validates against
these; events carry them as plain strings so consumers tolerate additions."""
from __future__ import annotations

ACCOUNT_STATUSES = ("prospect", "active", "dormant", "lost")
# 经济大客户 (volume), 重要客户 (government/military/public sector), 集团客户 (value-chain tie), 战略客户 (potential)
ACCOUNT_TYPES = ("economic", "important", "group", "strategic")
# 大客户 / 重点开发客户 / ordinary / deprioritised
ACCOUNT_TIERS = ("key", "key_development", "ordinary", "deprioritised")
STRATEGIC_FLAGS = ("strategic_significance", "image_influence", "technology_absorption", "growth_potential")
ADDRESS_KINDS = ("registered", "office", "billing", "shipping", "other")

# The buying centre: 使用部门/采购部门/支持部门, levels, and the "six true gods" plus the blocker.
DEPARTMENTS = ("using", "procurement", "support")
LEVELS = ("operator", "management", "executive")
BUYING_ROLES = ("decision_maker", "technical_evaluator", "user", "procurement", "influencer", "coach", "blocker")
ATTITUDES = ("supporter", "neutral", "opponent")
RELATIONSHIP_STRENGTHS = ("none", "weak", "moderate", "strong")

SATISFACTION = ("very_low", "low", "medium", "high", "very_high")

PLAN_STATUSES = ("draft", "active", "completed", "cancelled")
RELATIONSHIP_STAGES = ("building", "stable", "strengthening")  # 建立关系 → 稳定关系 → 加强关系
ACTION_STATUSES = ("open", "done", "cancelled")

INTERACTION_KINDS = ("visit", "call", "meeting", "seminar", "email")

COMPLAINT_SEVERITIES = ("low", "medium", "high", "critical")
COMPLAINT_STATUSES = ("open", "in_progress", "resolved", "closed")

HEALTH_BANDS = ("healthy", "watch", "at_risk")  # ≥ 70, ≥ 40, below (health/domain.py)
# Roles on an account team (团队合作销售), the same words as an opportunity's sales team.
ACCOUNT_TEAM_ROLES = ("sales", "presales", "technical", "service", "executive_sponsor", "channel", "finance", "legal",
                      "other")
