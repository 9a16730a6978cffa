"""Amounts as people read them (pure): 150 000 ₽ in Russian, 150,000 RUB in English."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

NBSP = "\u00a0"
RU_SYMBOLS = {"RUB": "₽", "USD": "$", "EUR": "€"}


def format_amount(amount: Decimal | int | float | str | None, currency: str | None, language: str) -> str:
    """``amount`` grouped by thousands for ``language`` (kopecks only when there are any), then the currency.

    Russian groups with a no-break space and writes a decimal comma (150 000,50 ₽); English groups
    with commas (150,000.50 RUB).  None gives "".
    """
    if amount is None:
        return ""
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except ArithmeticError:
        return str(amount)
    whole = value == value.to_integral_value()
    text = f"{abs(value):,.0f}" if whole else f"{abs(value):,.2f}"
    if language == "ru":
        text = text.replace(",", NBSP).replace(".", ",")
    sign = "-" if value < 0 else ""
    code = (currency or "").upper()
    unit = RU_SYMBOLS.get(code, code) if language == "ru" else code
    return f"{sign}{text}{NBSP}{unit}" if unit else f"{sign}{text}"
