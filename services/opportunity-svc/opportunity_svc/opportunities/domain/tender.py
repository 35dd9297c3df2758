"""Tender/project details (大客户项目管理): the rules that tie the fields together.

The field shapes and enums are the event contract (`TenderState`); what a single field cannot
say is checked here: evaluation weights add up to 100, a tender type and bid plan only make
sense when we sell by bid, "single quote only" contradicts a second-quote tender, and lots and
partners are not listed twice.
"""
from __future__ import annotations

from kam_shared.domain_errors import ValidationProblem
from kam_shared.events.opportunity import TenderState


def _clean_text(value: str | None) -> str | None:
    return (" ".join(value.split()) if value else "") or None


def clean_tender(tender: TenderState) -> TenderState:
    _check_weights(tender)
    _check_sales_mode(tender)
    lots = _clean_lots(tender)
    partners = _clean_partners(tender)
    return tender.model_copy(update={
        "lots": sorted(lots, key=lambda lot: lot.number), "partners": partners,
        "competing_brands": _clean_brands(tender.competing_brands),
        "delivery_place": _clean_text(tender.delivery_place),
        "background": (tender.background or "").strip() or None})


def _check_weights(tender: TenderState) -> None:
    weights = tender.evaluation_weights
    if weights is not None:
        total = weights.price + weights.service + weights.technical + weights.commercial
        if total != 100:
            raise ValidationProblem(f"evaluation weights must sum to 100 (price {weights.price} + service "
                                    f"{weights.service} + technical {weights.technical} + commercial "
                                    f"{weights.commercial} = {total})", field="evaluation_weights")


def _check_sales_mode(tender: TenderState) -> None:
    """A tender type and a bid plan only when selling by bid; single quote only contradicts a second quote."""
    if tender.sales_mode != "bid":
        for field in ("tender_type", "bid_plan"):
            if getattr(tender, field) is not None:
                raise ValidationProblem(f"{field} applies only when sales_mode is 'bid' "
                                        f"(sales_mode is {tender.sales_mode!r})", field=field)
    if tender.single_quote_only and tender.tender_type == "open_second_quote":
        raise ValidationProblem("single_quote_only contradicts tender_type 'open_second_quote'",
                                field="single_quote_only")


def _clean_lots(tender: TenderState) -> list:
    lots = []
    for i, lot in enumerate(tender.lots):
        name = _clean_text(lot.name)
        if not name:
            raise ValidationProblem(f"lots.{i}: name must not be blank", field=f"lots.{i}.name")
        lots.append(lot.model_copy(update={"name": name}))
    numbers = [lot.number for lot in lots]
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    if repeated:
        raise ValidationProblem(f"lot numbers must be unique; repeated: {repeated}", field="lots")
    return lots


def _clean_partners(tender: TenderState) -> list:
    partners = []
    for i, partner in enumerate(tender.partners):
        name = _clean_text(partner.name)
        if not name:
            raise ValidationProblem(f"partners.{i}: name must not be blank", field=f"partners.{i}.name")
        partners.append(partner.model_copy(update={"name": name}))
    names = [p.name.casefold() for p in partners]
    if len(set(names)) != len(names):
        raise ValidationProblem("a partner is listed twice", field="partners")
    return partners


def _clean_brands(raw: list[str]) -> list[str]:
    """Trimmed, blanks dropped, each brand once (case-insensitively), in the order given."""
    brands: list[str] = []
    for brand in raw:
        brand = _clean_text(brand)
        if brand and brand.casefold() not in {b.casefold() for b in brands}:
            brands.append(brand)
    return brands


def tender_changes(before: TenderState | None, after: TenderState) -> dict[str, tuple]:
    """Per top-level field: (from, to) in their JSON form; every field counts as new when there was none."""
    old = before.model_dump(mode="json") if before is not None else {}
    new = after.model_dump(mode="json")
    return {key: (old.get(key), value) for key, value in new.items() if old.get(key) != value
            and not (before is None and value in (None, [], False))}
