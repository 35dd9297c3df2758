"""The product catalogue (产品目录): what we sell, by code, in product families.

Opportunity lines name a product by its code; whitespace (account-svc) crosses the families with a
customer group. A code is unique and never changes (lines and events carry it); name and family may
change (lines keep what they were written with) and a product is retired by deactivating it: a new
or edited line may not name an inactive product, lines already written keep it. Pure.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace

from kam_shared.domain_errors import ValidationProblem

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
CODE_RULE = "1-40 letters, digits, '.', '_' or '-', starting with a letter or digit"
UNCATEGORISED = "uncategorised"
EDITABLE = ("name", "family", "active")


def clean_code(code: str, field: str = "code") -> str:
    code = (code or "").strip()
    if not CODE.match(code):
        raise ValidationProblem(f"{field}: product code is {CODE_RULE} (got {code!r})", field=field)
    return code


def clean_family(family: str | None) -> str:
    """Families compare case-insensitively: stored lower-case with single spaces."""
    family = " ".join((family or "").split()).lower()
    if not family:
        raise ValidationProblem("family must not be blank", field="family")
    if len(family) > 100:
        raise ValidationProblem("family is at most 100 characters", field="family")
    return family


def clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationProblem("name must not be blank", field="name")
    if len(name) > 200:
        raise ValidationProblem("name is at most 200 characters", field="name")
    return name


@dataclass(frozen=True)
class Product:
    id: uuid.UUID
    code: str
    name: str
    family: str
    active: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def new(cls, *, code: str, name: str, family: str, active: bool, now: dt.datetime) -> Product:
        return cls(id=uuid.uuid4(), code=clean_code(code), name=clean_name(name), family=clean_family(family),
                   active=bool(active), version=1, created_at=now, updated_at=now)

    def revise(self, fields: Mapping, *, now: dt.datetime) -> tuple[Product, dict[str, tuple]]:
        """The product with the fields sent (name, family, active) and what changed ({field: (from, to)});
        the same product when nothing changed."""
        unknown = set(fields) - set(EDITABLE)
        if unknown:
            raise ValidationProblem(f"cannot change {', '.join(sorted(unknown))} (a code never changes)",
                                    field=sorted(unknown)[0])
        proposed = {}
        if "name" in fields:
            proposed["name"] = clean_name(fields["name"])
        if "family" in fields:
            proposed["family"] = clean_family(fields["family"])
        if "active" in fields:
            if not isinstance(fields["active"], bool):
                raise ValidationProblem("active is true or false", field="active")
            proposed["active"] = fields["active"]
        changes = {k: (getattr(self, k), v) for k, v in proposed.items() if getattr(self, k) != v}
        if not changes:
            return self, {}
        return replace(self, version=self.version + 1, updated_at=now, **{k: v[1] for k, v in changes.items()}), \
            changes


def line_product(code: str | None, catalogue: Mapping[str, Product], where: str) -> Product:
    """The catalogue product an opportunity line names: known and active, else 422 naming the line."""
    code = (code or "").strip()
    if not code:
        raise ValidationProblem(f"{where}: product_code must name a product of the catalogue (GET /v1/products)",
                                field=f"{where}.product_code")
    product = catalogue.get(code)
    if product is None:
        raise ValidationProblem(f"{where}: product {code!r} is not in the catalogue (GET /v1/products)",
                                field=f"{where}.product_code")
    if not product.active:
        raise ValidationProblem(f"{where}: product {code!r} is inactive; choose an active product",
                                field=f"{where}.product_code")
    return product


def legacy_code(text: str, taken: set[str]) -> str:
    """A catalogue code for a product line's free text from before the catalogue (migration 0006):
    its letters and digits upper-cased, else LEGACY; made unique with a number."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").upper()[:30] or "LEGACY"
    code, n = slug, 1
    while code.lower() in taken:
        n += 1
        code = f"{slug}-{n}"
    taken.add(code.lower())
    return code
