"""Money parsing: exact decimals from strings, refusal of anything ambiguous."""

from __future__ import annotations

from decimal import Decimal

import pytest

from recon.money import (
    MoneyError,
    display_amount,
    format_amount,
    parse_amount,
    parse_currency,
    sum_by_currency,
    to_minor,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("63.30", Decimal("63.30")),
        (" 1.5 ", Decimal("1.5")),
        (7, Decimal(7)),
        (6.1, Decimal("6.1")),
        ("-41.94", Decimal("-41.94")),
        (Decimal("2.50"), Decimal("2.50")),
    ],
)
def test_parse_amount_is_exact(value: object, expected: Decimal) -> None:
    assert parse_amount(value) == expected


@pytest.mark.parametrize("value", [None, "", "1,000.00", "NaN", "inf", True, "12.3.4", [], "1e5"])
def test_parse_amount_refuses_ambiguous_values(value: object) -> None:
    with pytest.raises(MoneyError):
        parse_amount(value)


@pytest.mark.parametrize(
    "value",
    ["1" * 30 + ".00", "0." + "1" * 40, 10**30, Decimal("1E+30"), 1e-20],
    ids=["30 integer digits", "40 decimals", "huge int", "huge Decimal", "tiny float"],
)
def test_parse_amount_refuses_more_digits_than_money_has(value: object) -> None:
    """Such a value would fail exact arithmetic (28 digits) in the engine every night after."""
    with pytest.raises(MoneyError, match="digits"):
        parse_amount(value)


def test_currency_codes() -> None:
    assert parse_currency("usd") == "USD"
    with pytest.raises(MoneyError):
        parse_currency("US")


def test_minor_units_follow_iso_4217() -> None:
    assert to_minor(Decimal("12.345"), "USD") == 1234  # banker's rounding
    assert to_minor(Decimal("1000"), "JPY") == 1000
    assert to_minor(Decimal("1.2345"), "KWD") == 1234
    assert format_amount(Decimal("5"), "EUR") == "5.00"


def test_sums_never_cross_currencies() -> None:
    totals = sum_by_currency(
        [("USD", Decimal("1.10")), ("EUR", Decimal("2")), ("USD", Decimal("0.90"))]
    )
    assert totals == {"USD": Decimal("2.00"), "EUR": Decimal("2")}


@pytest.mark.parametrize(
    ("tolerance", "currency", "units"),
    [
        ("0.01", "USD", 1),
        ("0.01", "JPY", 1),  # one yen, not zero: a 1-yen rounding difference is tolerated
        ("0.01", "KWD", 10),
        ("2.5", "JPY", 2),
        ("0.5", "USD", 50),
        ("0", "JPY", 0),  # zero stays exact
    ],
)
def test_a_tolerance_is_at_least_one_minor_unit(tolerance: str, currency: str, units: int) -> None:
    from recon.money import tolerance_units

    assert tolerance_units(Decimal(tolerance), currency) == units


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("1234.5", "USD", "1,234.50 USD"),
        ("-1234.5", "USD", "-1,234.50 USD"),
        ("-0", "USD", "0.00 USD"),  # a negated zero (``-Decimal("0.00")``): no "-0.00"
        ("-0.00", "EUR", "0.00 EUR"),
        ("-0.004", "USD", "0.00 USD"),  # rounds to nothing: nothing is owed either way
        ("-0.4", "JPY", "0 JPY"),
        ("-0.0004", "KWD", "0.000 KWD"),
        ("-0.005", "USD", "0.00 USD"),  # half-even: to no cent at all
        ("-0.015", "USD", "-0.02 USD"),  # half-even to a cent that is still money
        ("-0", "", "0"),  # no known currency: as it is, but never "-0"
        ("-0.00", "", "0.00"),
        ("-1500.5", "", "-1,500.5"),
    ],
)
def test_display_amount_never_reads_minus_zero(amount: str, currency: str, shown: str) -> None:
    assert display_amount(Decimal(amount), currency) == shown
