"""Products/configuration lines (配置需求) of an opportunity: a product of the catalogue (by code),
quantity, the customer's expected unit price (希望价格) and our quoted unit price (报价), all in the
opportunity's currency. A line keeps the catalogue name and family the product had when the line was
written (lines from before the catalogue were linked to entries made from their free text, migration 0006).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from kam_shared.domain_errors import ValidationProblem
from kam_shared.money import CENT

from ...products.domain import Product, line_product

MAX_AMOUNT = Decimal("99999999999999.99")  # what the API's Money type (16 digits) can carry
MAX_LINES = 200


@dataclass(frozen=True)
class ProductLine:
    product: str  # the catalogue name (the free text before the catalogue)
    quantity: int
    expected_price: Decimal | None = None
    quoted_price: Decimal | None = None
    description: str | None = None
    product_code: str | None = None
    family: str | None = None

    @property
    def unit_price(self) -> Decimal:
        """Our quote when we have one, else what the customer expects to pay."""
        if self.quoted_price is not None:
            return self.quoted_price
        return self.expected_price if self.expected_price is not None else Decimal("0.00")

    @property
    def amount(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(CENT)


def clean_lines(raw: list[dict], currency: str, catalogue: Mapping[str, Product]) -> tuple[ProductLine, ...]:
    """Validate lines given as dicts (product_code, quantity, expected_price, quoted_price, description,
    currency). The code names an active product of `catalogue` (code → product). A line may name its
    currency; it must then be the opportunity's."""
    if len(raw) > MAX_LINES:
        raise ValidationProblem(f"at most {MAX_LINES} product lines", field="lines")
    lines = []
    for i, line in enumerate(raw):
        where = f"lines.{i}"
        product = line_product(line.get("product_code"), catalogue, where)
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise ValidationProblem(f"{where}: quantity must be a whole number of at least 1 (got {quantity!r})",
                                    field=f"{where}.quantity")
        line_currency = line.get("currency")
        if line_currency is not None and line_currency.strip().upper() != currency:
            raise ValidationProblem(f"{where}: currency {line_currency} does not match the opportunity's "
                                    f"currency {currency}", field=f"{where}.currency")
        prices = {}
        for key in ("expected_price", "quoted_price"):
            value = line.get(key)
            if value is not None:
                value = Decimal(value)
                if value < 0:
                    raise ValidationProblem(f"{where}: {key} must not be negative", field=f"{where}.{key}")
                value = value.quantize(CENT)
            prices[key] = value
        description = (line.get("description") or "").strip() or None
        lines.append(ProductLine(product=product.name, product_code=product.code, family=product.family,
                                 quantity=quantity, description=description, **prices))
    cleaned = tuple(lines)
    if amount_of(cleaned) > MAX_AMOUNT:
        raise ValidationProblem("the lines add up to more than the largest amount supported", field="lines")
    return cleaned


def amount_of(lines: tuple[ProductLine, ...]) -> Decimal:
    return sum((line.amount for line in lines), Decimal("0.00")).quantize(CENT)
