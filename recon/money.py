"""Money as Decimal with an ISO 4217 currency: parsing, minor units, and per-currency sums.

Never float (DESIGN decision 4). Shopify sends `Money`/`Decimal` scalars as strings, Loop sends
two-decimal strings (and the odd JSON number, e.g. `label_rate`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# Minor-unit exponents that differ from 2 (ISO 4217). Everything else uses 2.
_EXPONENT = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")
ZERO = Decimal("0")
# No real amount has more digits than these. More would not survive exact arithmetic (Decimal's
# 28 digits: quantize raises) nor fit the mirror's money column, so one such value in the mirror
# would fail every later night; it is refused here and the record quarantined instead.
MAX_INTEGER_DIGITS = 18
MAX_DECIMALS = 12


class MoneyError(ValueError):
    """A money value or currency that cannot be trusted (the caller quarantines the record)."""


def parse_amount(value: object) -> Decimal:
    """Parse an API money value into a Decimal without passing through float.

    Accepts strings like ``"63.30"``, ints and Decimals; JSON floats are accepted only through
    their ``repr`` (Loop's ``label_rate``), never arithmetic.

    Raises:
        MoneyError: for None, blanks, thousands separators (``"1,000.00"``), NaN/inf, booleans and
            anything that is not a plain decimal number.
    """
    if value is None or isinstance(value, bool):
        raise MoneyError(f"expected a decimal amount, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not _AMOUNT.match(text):
            raise MoneyError(f"expected a decimal amount like '12.34', got {value[:40]!r}")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the regex already filters
            raise MoneyError(f"not a decimal amount: {value[:40]!r}") from exc
    else:
        raise MoneyError(f"expected a decimal amount, got {type(value).__name__}")
    if not result.is_finite():
        raise MoneyError(f"amount is not finite: {value!r}")
    exponent = result.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) else 0
    if result and (result.adjusted() >= MAX_INTEGER_DIGITS or decimals > MAX_DECIMALS):
        raise MoneyError(
            f"amount has more digits than money has ({MAX_INTEGER_DIGITS} before the point, "
            f"{MAX_DECIMALS} after): {str(value)[:40]!r}"
        )
    return result


def parse_currency(value: object) -> str:
    """Validate an ISO 4217 code (three upper-case letters).

    Raises:
        MoneyError: if the value is not a three-letter code.
    """
    if not isinstance(value, str) or not _CURRENCY.match(value.strip().upper()):
        raise MoneyError(f"expected an ISO 4217 currency code, got {value!r}")
    return value.strip().upper()


def exponent(currency: str) -> int:
    """Number of minor-unit digits of a currency."""
    return _EXPONENT.get(currency, 2)


def tolerance_units(tolerance: Decimal, currency: str) -> int:
    """An amount tolerance in ``currency``'s minor units: floored (an integer difference is over
    ``tolerance`` iff it is over the floor), and at least one unit when above zero.

    The default 0.01 is a rounding allowance of one cent; for JPY it means one yen, not zero
    (a 1-yen rounding difference would otherwise be a high-severity AMOUNT_MISMATCH). A
    tolerance of 0 stays exact.
    """
    if tolerance <= 0:
        return 0
    floored = int(tolerance.scaleb(exponent(currency)).to_integral_value(rounding="ROUND_FLOOR"))
    return max(floored, 1)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit (banker's rounding, as payment processors do)."""
    return amount.quantize(Decimal(1).scaleb(-exponent(currency)), rounding=ROUND_HALF_EVEN)


def to_minor(amount: Decimal, currency: str) -> int:
    """Integer minor units (cents) of an amount, after quantising."""
    return int(quantize(amount, currency).scaleb(exponent(currency)))


def from_minor(units: int, currency: str) -> Decimal:
    """Decimal amount from integer minor units."""
    return Decimal(units).scaleb(-exponent(currency))


def format_amount(amount: Decimal, currency: str) -> str:
    """The API string form of an amount, e.g. ``"12.30"``."""
    return f"{quantize(amount, currency):f}"


def display_amount(amount: Decimal, currency: str) -> str:
    """``1234.5, "USD"`` → ``"1,234.50 USD"`` (minor units per ISO 4217): money as people read
    it, in the reports, the mails and on the console; ``format_amount`` is the API's form.

    Never ``-0.00``: a zero (a negated zero, or a negative amount under half a minor unit)
    reads ``0.00``, as nothing is owed either way.
    """
    if not currency:
        return f"{_unsigned_zero(amount):,f}"
    text = format_amount(_unsigned_zero(quantize(amount, currency)), currency)
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-')):,}"
    return f"{sign}{grouped}{'.' + fraction if fraction else ''} {currency}"


def _unsigned_zero(amount: Decimal) -> Decimal:
    """``amount``, its sign dropped when it is zero (``Decimal("-0.00")`` keeps its sign)."""
    return amount.copy_abs() if amount.is_zero() else amount


def sum_by_currency(items: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """Sum (currency, amount) pairs per currency; never adds across currencies."""
    totals: dict[str, Decimal] = {}
    for currency, amount in items:
        totals[currency] = totals.get(currency, ZERO) + amount
    return totals
