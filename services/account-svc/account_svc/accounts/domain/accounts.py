"""The account aggregate (客户). Pure: validates, changes state and records events; no I/O.

Checks that need other rows (uniqueness, the hierarchy, the owner in the team replica) are
done by the use cases in service.py before they call in here.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from decimal import Decimal
from typing import Any

from kam_shared.domain_errors import Conflict, ValidationProblem
from kam_shared.events import DomainEvent, FieldChange
from kam_shared.events.account import (
    AccountClassified,
    AccountCreated,
    AccountMerged,
    AccountReassigned,
    AccountState,
    AccountTeamChanged,
    AccountTeamMember,
    AccountUpdated,
    MergedRecords,
)
from kam_shared.money import CENT, validate_currency

from ...common.vocabulary import ACCOUNT_STATUSES, ACCOUNT_TIERS, ACCOUNT_TYPES, STRATEGIC_FLAGS
from . import credit_code as credit_codes
from .names import normalise

# Fields a PATCH may change. Owner, type and tier have their own endpoints and events.
PROFILE_FIELDS = ("name", "credit_code", "industry", "region", "status", "parent_id", "centralised_purchasing",
                  "employees", "annual_revenue", "annual_purchase_volume", "currency", "installed_base",
                  "business_situation", "website", "phones", "addresses", "gross_margin_pct", "strategic_flags")
# Filled by enrichment (补充客户信息) and by a merge only where the target is empty.
FILLABLE_FIELDS = ("credit_code", "industry", "region", "parent_id", "employees", "installed_base",
                   "business_situation", "website", "phones", "addresses", "gross_margin_pct", "strategic_flags")
MONEY_FIELDS = ("annual_revenue", "annual_purchase_volume")


def _blank(value: Any) -> bool:
    return value is None or value == [] or value == ""


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())
    return value or None


def _long_text(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


@dataclass
class Account:
    id: uuid.UUID
    name: str
    normalized_name: str
    owner_id: uuid.UUID | None
    credit_code: str | None = None
    industry: str | None = None
    region: str | None = None
    status: str = "prospect"
    type: str | None = None
    tier: str | None = None
    parent_id: uuid.UUID | None = None
    centralised_purchasing: bool = False
    employees: int | None = None
    annual_revenue: Decimal | None = None
    annual_purchase_volume: Decimal | None = None
    currency: str = "CNY"
    installed_base: str | None = None
    business_situation: str | None = None
    website: str | None = None
    phones: list[dict] = field(default_factory=list)
    addresses: list[dict] = field(default_factory=list)
    gross_margin_pct: Decimal | None = None
    strategic_flags: list[str] = field(default_factory=list)
    merged_into_id: uuid.UUID | None = None
    version: int = 1
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    # --- creation and loading ----------------------------------------------------------------

    @classmethod
    def open(cls, *, owner_id: uuid.UUID, created_by: uuid.UUID | None = None, assignment_rule: str | None = None,
             type: str | None = None, tier: str | None = None, **profile: Any) -> "Account":
        unknown = set(profile) - set(PROFILE_FIELDS)
        if unknown:
            raise ValidationProblem(f"unknown account fields: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
        values = clean_profile({"status": "prospect", "currency": "CNY", "phones": [], "addresses": [],
                                "strategic_flags": [], "centralised_purchasing": False, **profile})
        if "name" not in values:
            raise ValidationProblem("name is required", field="name")
        if type is not None and type not in ACCOUNT_TYPES:
            raise ValidationProblem(f"type must be one of {', '.join(ACCOUNT_TYPES)}", field="type")
        if tier is not None and tier not in ACCOUNT_TIERS:
            raise ValidationProblem(f"tier must be one of {', '.join(ACCOUNT_TIERS)}", field="tier")
        account = cls(id=uuid.uuid4(), owner_id=owner_id, normalized_name=normalise(values["name"]), type=type,
                      tier=tier, **values)
        account.events.append(DomainEvent("kam.account.created.v1", account.id, account.version, AccountCreated(
            account=account.state(), created_by=created_by, assignment_rule=assignment_rule)))
        return account

    @classmethod
    def from_row(cls, row: dict) -> "Account":
        names = {f.name for f in dataclass_fields(cls)} - {"events"}
        return cls(**{k: v for k, v in row.items() if k in names})

    # --- reading -------------------------------------------------------------------------------

    def state(self) -> AccountState:
        return AccountState(**{name: getattr(self, name) for name in AccountState.model_fields})

    def profile(self) -> dict:
        return {name: getattr(self, name) for name in PROFILE_FIELDS}

    @property
    def is_tombstone(self) -> bool:
        return self.merged_into_id is not None

    def require_live(self, field_name: str = "id") -> None:
        if self.is_tombstone:
            raise Conflict(f"account {self.id} was merged into {self.merged_into_id}; change the survivor instead",
                           field=field_name, merged_into_id=str(self.merged_into_id))

    # --- changes -------------------------------------------------------------------------------

    def _apply(self, values: dict) -> dict[str, FieldChange]:
        changes: dict[str, FieldChange] = {}
        for name, value in values.items():
            before = getattr(self, name)
            if before != value:
                changes[name] = FieldChange(before=_jsonable(before), after=_jsonable(value))
                setattr(self, name, value)
        if "name" in changes:
            self.normalized_name = normalise(self.name)
        if changes:
            self.version += 1
        return changes

    def update(self, values: dict, *, by: uuid.UUID | None, cause: str = "update") -> dict[str, FieldChange]:
        """Apply a PATCH (only the fields sent). Returns the changes; none → no version, no event."""
        self.require_live()
        unknown = set(values) - set(PROFILE_FIELDS)
        if unknown:
            raise ValidationProblem(f"{', '.join(sorted(unknown))} cannot be changed here", field=sorted(unknown)[0])
        cleaned = clean_profile(values)
        if "name" in values and "name" not in cleaned:
            raise ValidationProblem("name must not be blank", field="name")
        if cleaned.get("parent_id") is not None and cleaned["parent_id"] == self.id:
            raise Conflict("an account cannot be its own parent", field="parent_id")
        money_currency_check(self, cleaned)
        changes = self._apply(cleaned)
        if changes:
            self.events.append(DomainEvent("kam.account.updated.v1", self.id, self.version, AccountUpdated(
                account=self.state(), changes=changes, cause=cause, changed_by=by)))
        return changes

    def enrich(self, offered: dict, *, by: uuid.UUID | None) -> dict[str, FieldChange]:
        """补充客户信息: a create that found this account fills its empty fields, never overwrites."""
        return self.update(self.fillable_from(clean_profile(offered)), by=by, cause="enrich")

    def fillable_from(self, values: dict) -> dict:
        """The subset of `values` that would fill fields empty on this account."""
        fill = {k: v for k, v in values.items() if k in FILLABLE_FIELDS and not _blank(v) and _blank(getattr(self, k))}
        # Money figures come with their currency; they may only fill when they cannot mix currencies.
        offered_money = {k: values[k] for k in MONEY_FIELDS if values.get(k) is not None and getattr(self, k) is None}
        if offered_money:
            has_money = any(getattr(self, k) is not None for k in MONEY_FIELDS)
            currency = values.get("currency") or self.currency
            if not has_money:
                fill.update(offered_money, currency=currency)
            elif currency == self.currency:
                fill.update(offered_money)
        return fill

    def reassign(self, owner_id: uuid.UUID, *, reason: str | None, by: uuid.UUID | None) -> bool:
        self.require_live()
        if owner_id == self.owner_id:
            return False
        before = self.owner_id
        self.owner_id = owner_id
        self.version += 1
        self.events.append(DomainEvent("kam.account.reassigned.v1", self.id, self.version, AccountReassigned(
            account=self.state(), from_owner_id=before, to_owner_id=owner_id, reason=_text(reason), changed_by=by)))
        return True

    def team_changed(self, members: list[dict], *, added: list[uuid.UUID], removed: list[uuid.UUID],
                     role_changed: list[uuid.UUID], by: uuid.UUID | None) -> None:
        """The account team changed (account_team/domain.py decides how): a new version of the account."""
        self.require_live()
        self.version += 1
        self.events.append(DomainEvent("kam.account.team_changed.v1", self.id, self.version, AccountTeamChanged(
            account=self.state(), members=[AccountTeamMember(**m) for m in members], added=added, removed=removed,
            role_changed=role_changed, changed_by=by)))

    def classify(self, *, type: str | None = None, tier: str | None = None, reason: str | None,
                 score: int | None = None, by: uuid.UUID | None) -> dict[str, FieldChange]:
        self.require_live()
        values = {}
        if type is not None:
            if type not in ACCOUNT_TYPES:
                raise ValidationProblem(f"type must be one of {', '.join(ACCOUNT_TYPES)}", field="type")
            values["type"] = type
        if tier is not None:
            if tier not in ACCOUNT_TIERS:
                raise ValidationProblem(f"tier must be one of {', '.join(ACCOUNT_TIERS)}", field="tier")
            values["tier"] = tier
        if not values:
            raise ValidationProblem("give a type, a tier, or both", field="tier")
        changes = self._apply(values)
        if changes:
            self.events.append(DomainEvent("kam.account.classified.v1", self.id, self.version, AccountClassified(
                account=self.state(), changes=changes, reason=_text(reason), score=score, changed_by=by)))
        return changes

    def absorb(self, duplicate: "Account", *, moved: MergedRecords, by: uuid.UUID | None,
               parent_allowed: bool) -> list[str]:
        """Merge `duplicate` into this survivor: fill empty fields from it, turn it into a tombstone,
        record the merged event. Moving its records is the caller's job (they are other aggregates)."""
        if duplicate.id == self.id:
            raise ValidationProblem("an account cannot be merged into itself", field="from_id")
        self.require_live("id")
        duplicate.require_live("from_id")
        if self.credit_code and duplicate.credit_code and self.credit_code != duplicate.credit_code:
            raise Conflict(f"the accounts have different credit codes ({self.credit_code}, {duplicate.credit_code}): "
                           "they are different legal entities; clear the wrong code first", field="credit_code")
        fill = self.fillable_from(duplicate.profile())
        if not parent_allowed or fill.get("parent_id") == self.id:
            fill.pop("parent_id", None)
        # The credit code is unique: the tombstone gives it up, the survivor takes it.
        duplicate.credit_code = None
        duplicate.merged_into_id = self.id
        duplicate.version += 1
        if not self._apply(fill):
            self.version += 1  # a merge changes the survivor even when it had nothing empty to fill
        self.events.append(DomainEvent("kam.account.merged.v1", self.id, self.version, AccountMerged(
            survivor_id=self.id, merged_id=duplicate.id, account=self.state(), merged_version=duplicate.version,
            merged_account=duplicate.state(), filled_fields=sorted(fill), moved=moved, merged_by=by)))
        return sorted(fill)

    def repoint_tombstone(self, survivor_id: uuid.UUID, *, by: uuid.UUID | None) -> None:
        """A tombstone of an account that has itself been merged now points at the final survivor."""
        changes = {"merged_into_id": FieldChange(before=_jsonable(self.merged_into_id), after=str(survivor_id))}
        self.merged_into_id = survivor_id
        self.version += 1
        self.events.append(DomainEvent("kam.account.updated.v1", self.id, self.version, AccountUpdated(
            account=self.state(), changes=changes, cause="merge", changed_by=by)))


def money_currency_check(account: Account, values: dict) -> None:
    """Annual revenue and purchase volume share the account's currency; changing the currency alone
    would silently re-denominate figures already stored."""
    if "currency" in values and values["currency"] != account.currency:
        kept = [k for k in MONEY_FIELDS if k not in values and getattr(account, k) is not None]
        if kept:
            raise ValidationProblem(f"changing currency would re-denominate {', '.join(kept)}; send them too",
                                    field="currency")


_SKIP = object()  # a cleaner's answer for "leave this field out" (a blank name, no currency)


def _clean_name(value: Any) -> Any:
    value = _text(value)
    if value is None:
        return _SKIP
    if not normalise(value):
        raise ValidationProblem("name must contain letters or digits", field="name")
    return value


def _clean_status(value: Any) -> Any:
    if value not in ACCOUNT_STATUSES:
        raise ValidationProblem(f"status must be one of {', '.join(ACCOUNT_STATUSES)}", field="status")
    return value


def _clean_employees(value: Any) -> Any:
    if value is not None and value < 0:
        raise ValidationProblem("employees must not be negative", field="employees")
    return value


def _money_cleaner(name: str):
    def clean(value: Any) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(CENT)
        if value < 0:
            raise ValidationProblem(f"{name} must not be negative", field=name)
        return value
    return clean


def _clean_currency(value: Any) -> Any:
    return _SKIP if value is None else validate_currency(value)


def _clean_margin(value: Any) -> Any:
    if value is None:
        return None
    value = Decimal(value).quantize(CENT)
    if not Decimal(-100) <= value <= Decimal(100):
        raise ValidationProblem("gross_margin_pct must be between -100 and 100", field="gross_margin_pct")
    return value


def _clean_flags(value: Any) -> list[str]:
    value = list(value or [])
    unknown = [f for f in value if f not in STRATEGIC_FLAGS]
    if unknown:
        raise ValidationProblem(f"unknown strategic flag {unknown[0]!r}; use {', '.join(STRATEGIC_FLAGS)}",
                                field="strategic_flags")
    return [f for f in STRATEGIC_FLAGS if f in value]  # canonical order, no repeats


def _clean_items(value: Any) -> list[dict]:
    return [dict(item) for item in (value or [])]


# One cleaner per profile field; a field without one passes through as sent.
_CLEANERS = {
    "name": _clean_name,
    "credit_code": credit_codes.validate,
    "industry": _text, "region": _text, "website": _text,
    "installed_base": _long_text, "business_situation": _long_text,
    "status": _clean_status,
    "employees": _clean_employees,
    **{name: _money_cleaner(name) for name in MONEY_FIELDS},
    "currency": _clean_currency,
    "gross_margin_pct": _clean_margin,
    "strategic_flags": _clean_flags,
    "phones": _clean_items, "addresses": _clean_items,
    "centralised_purchasing": bool,
}


def clean_profile(values: dict) -> dict:
    """Canonical profile values; 422 naming the field for what the schema cannot see."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        cleaner = _CLEANERS.get(name)
        value = cleaner(value) if cleaner is not None else value
        if value is not _SKIP:
            out[name] = value
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    return value
