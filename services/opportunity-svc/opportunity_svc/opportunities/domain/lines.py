"""Products/configuration lines (配置需求) of an opportunity: product, quantity, the customer's
expected unit price (希望价格) and our quoted unit price (报价), all in the opportunity's currency.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kam_shared.domain_errors import ValidationProblem
from kam_shared.money import CENT

MAX_AMOUNT = Decimal("99999999999999.99")  # what the API's Money type (16 digits) can carry
MAX_LINES = 200


@dataclass(frozen=True)
class ProductLine:
    product: str
    quantity: int
    expected_price: Decimal | None = None
    quoted_price: Decimal | None = None
    description: str | None = None

    @property
    def unit_price(self) -> Decimal:
        """Our quote when we have one, else what the customer expects to pay."""
        if self.quoted_price is not None:
            return self.quoted_price
        return self.expected_price if self.expected_price is not None else Decimal("0.00")

    @property
    def amount(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(CENT)


def clean_lines(raw: list[dict], currency: str) -> tuple[ProductLine, ...]:
    """Validate lines given as dicts (product, quantity, expected_price, quoted_price, description,
    currency). A line may name its currency; it must then be the opportunity's."""
    if len(raw) > MAX_LINES:
        raise ValidationProblem(f"at most {MAX_LINES} product lines", field="lines")
    lines = []
    for i, line in enumerate(raw):
        where = f"lines.{i}"
        product = " ".join(str(line.get("product") or "").split())
        if not product:
            raise ValidationProblem(f"{where}: product must not be blank", field=f"{where}.product")
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
        lines.append(ProductLine(product=product, quantity=quantity, description=description, **prices))
    cleaned = tuple(lines)
    if amount_of(cleaned) > MAX_AMOUNT:
        raise ValidationProblem("the lines add up to more than the largest amount supported", field="lines")
    return cleaned


def amount_of(lines: tuple[ProductLine, ...]) -> Decimal:
    return sum((line.amount for line in lines), Decimal("0.00")).quantize(CENT)
