"""Territories (区域负责范围) and their assignment rules (分派规则). Pure.

Matching itself lives in the event contract (`kam_shared.events.team.TerritoryRuleBook`), so
team-svc and every replica of the rules pick the same owner. Here: what makes a rule valid, the
one ambiguity the rule book must never meet (two equal-priority rules that can both match one
account), and the territory aggregate that publishes itself with all its rules on every change.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from kam_shared.domain_errors import Conflict, NotFound, ValidationProblem
from kam_shared.events import DomainEvent, FieldChange
from kam_shared.events.team import (
    SIZE_BANDS,
    TerritoryCreated,
    TerritoryRuleState,
    TerritoryState,
    TerritoryUpdated,
    normalise_label,
)

CRITERIA = ("account_ids", "regions", "industries", "size_bands")


def _labels(values: list[str], fieldname: str) -> list[str]:
    out: list[str] = []
    for value in values:
        label = normalise_label(value)
        if label is None:
            raise ValidationProblem(f"{fieldname} must not contain blank values", field=fieldname)
        if label not in out:
            out.append(label)
    return out


def make_rule(*, name: str, priority: int, regions: list[str] = (), industries: list[str] = (),
              size_bands: list[str] = (), account_ids: list[uuid.UUID] = (),
              rule_id: uuid.UUID | None = None) -> TerritoryRuleState:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationProblem("a rule needs a name", field="name")
    if priority < 1:
        raise ValidationProblem("priority must be 1 or more (1 is checked first)", field="priority")
    bad = [b for b in size_bands if b not in SIZE_BANDS]
    if bad:
        raise ValidationProblem(f"size band {bad[0]!r} is not one of {', '.join(SIZE_BANDS)}", field="size_bands")
    return TerritoryRuleState(id=rule_id or uuid.uuid4(), name=name, priority=priority,
                              regions=_labels(list(regions), "regions"),
                              industries=_labels(list(industries), "industries"),
                              size_bands=[b for b in SIZE_BANDS if b in size_bands],
                              account_ids=list(dict.fromkeys(account_ids)))


@dataclass(frozen=True)
class RuleRef:
    rule: TerritoryRuleState
    territory_id: uuid.UUID
    territory_name: str


def common_account(a: TerritoryRuleState, b: TerritoryRuleState) -> dict | None:
    """An account profile both rules match, or None when no account can match both.

    Criteria are ANDed and each is a set (empty = any), so two rules can both match exactly
    when, criterion by criterion, their sets intersect or one of them is "any"."""
    example: dict = {}
    for criterion in CRITERIA:
        left, right = getattr(a, criterion), getattr(b, criterion)
        if left and right:
            shared = [v for v in left if v in right]
            if not shared:
                return None
            example[criterion] = shared[0]
        elif left or right:
            example[criterion] = (left or right)[0]
    return example


def check_no_ambiguity(candidates: list[RuleRef], others: list[RuleRef]) -> None:
    """Refuse a rule set in which two equal-priority rules can both match one account: the
    owner of such an account would depend on nothing the business decided."""
    pool = list(others)
    for candidate in candidates:
        for other in pool:
            if other.rule.id == candidate.rule.id or other.rule.priority != candidate.rule.priority:
                continue
            example = common_account(candidate.rule, other.rule)
            if example is not None:
                shown = ", ".join(f"{k.removesuffix('s')}={v}" for k, v in example.items()) or "any account"
                raise Conflict(
                    f"rule {candidate.rule.name!r} (territory {candidate.territory_name!r}) and rule "
                    f"{other.rule.name!r} (territory {other.territory_name!r}) both have priority "
                    f"{candidate.rule.priority} and would both match {shown}; give one of them another priority "
                    "or make them exclusive", field="priority", conflicting_rule_id=str(other.rule.id))
        pool.append(candidate)


@dataclass
class Territory:
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    owner_id: uuid.UUID
    org_unit_id: uuid.UUID | None = None
    description: str | None = None
    active: bool = True
    version: int = 1
    rules: list[TerritoryRuleState] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def create(cls, *, name: str, parent_id: uuid.UUID | None, owner_id: uuid.UUID,
               org_unit_id: uuid.UUID | None = None, description: str | None = None,
               rules: list[TerritoryRuleState] = ()) -> "Territory":
        territory = cls(id=uuid.uuid4(), name=_name(name), parent_id=parent_id, owner_id=owner_id,
                        org_unit_id=org_unit_id, description=(description or "").strip() or None, rules=list(rules))
        _unique_rule_names(territory.rules)
        territory.events.append(DomainEvent("kam.team.territory_created.v1", territory.id, territory.version,
                                            TerritoryCreated(territory=territory.state())))
        return territory

    def state(self) -> TerritoryState:
        return TerritoryState(id=self.id, name=self.name, parent_id=self.parent_id, owner_id=self.owner_id,
                              org_unit_id=self.org_unit_id, description=self.description, active=self.active,
                              version=self.version,
                              rules=[r.model_copy() for r in sorted(self.rules, key=lambda r: (r.priority, r.name))])

    def _record(self, changes: dict[str, tuple]) -> None:
        self.version += 1
        self.events.append(DomainEvent("kam.team.territory_updated.v1", self.id, self.version, TerritoryUpdated(
            territory=self.state(), changes={k: FieldChange(before=b, after=a) for k, (b, a) in changes.items()})))

    def change(self, *, name: str | None = None, description: object = ..., owner_id: uuid.UUID | None = None,
               org_unit_id: object = ..., parent_id: object = ..., active: bool | None = None,
               parent_path: str | None = None, active_children: int = 0) -> dict:
        changes: dict[str, tuple] = {}
        if name is not None and _name(name) != self.name:
            changes["name"] = (self.name, _name(name))
        if description is not ... and ((description or "").strip() or None) != self.description:
            changes["description"] = (self.description, (description or "").strip() or None)
        if owner_id is not None and owner_id != self.owner_id:
            changes["owner_id"] = (self.owner_id, owner_id)
        if org_unit_id is not ... and org_unit_id != self.org_unit_id:
            changes["org_unit_id"] = (self.org_unit_id, org_unit_id)
        if parent_id is not ... and parent_id != self.parent_id:
            if parent_id == self.id or (parent_path and f"/{self.id.hex}/" in parent_path):
                raise Conflict("that territory is inside this one: the territory tree would have a cycle",
                               field="parent_id")
            changes["parent_id"] = (self.parent_id, parent_id)
        if active is not None and active != self.active:
            if not active and active_children:
                raise Conflict(f"{active_children} active territories sit below this one; move or deactivate "
                               "them first", field="active")
            changes["active"] = (self.active, active)
        if changes:
            for k, (_, after) in changes.items():
                setattr(self, k, after)
            self._record(changes)
        return changes

    def add_rule(self, rule: TerritoryRuleState) -> None:
        before = [str(r.id) for r in self.rules]
        self.rules.append(rule)
        _unique_rule_names(self.rules)
        self._record({"rules": (before, [str(r.id) for r in self.rules])})

    def replace_rule(self, rule: TerritoryRuleState) -> dict:
        index = self._index(rule.id)
        old = self.rules[index]
        if old == rule:
            return {}
        self.rules[index] = rule
        _unique_rule_names(self.rules)
        self._record({f"rule:{rule.id}": (old.model_dump(mode="json"), rule.model_dump(mode="json"))})
        return {"rule": (old, rule)}

    def remove_rule(self, rule_id: uuid.UUID) -> TerritoryRuleState:
        index = self._index(rule_id)
        before = [str(r.id) for r in self.rules]
        removed = self.rules.pop(index)
        self._record({"rules": (before, [str(r.id) for r in self.rules])})
        return removed

    def _index(self, rule_id: uuid.UUID) -> int:
        for index, rule in enumerate(self.rules):
            if rule.id == rule_id:
                return index
        raise NotFound(f"rule {rule_id} is not a rule of territory {self.id}")


def _name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationProblem("name must not be blank", field="name")
    return name


def _unique_rule_names(rules: list[TerritoryRuleState]) -> None:
    seen: set[str] = set()
    for rule in rules:
        key = rule.name.casefold()
        if key in seen:
            raise Conflict(f"the territory already has a rule called {rule.name!r}", field="name")
        seen.add(key)
