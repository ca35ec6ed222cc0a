"""Money as an owner reads it, the same in the dashboard, the digest, the alerts and the CLI."""

from __future__ import annotations

CURRENCY_SIGNS = {"EUR": "€", "USD": "$", "GBP": "£", "AUD": "A$", "CAD": "C$", "JPY": "¥"}


def money(amount: float, currency: str | None) -> str:
    """ "€64.90", "€1,240", "80 CHF"; cents below a thousand when there are any; "1,240" only when the
    currency is unknown (an order that did not say)."""
    cents = amount < 1000 and round(amount * 100) % 100 != 0 and (currency or "").upper() != "JPY"
    figure = f"{amount:,.2f}" if cents else f"{amount:,.0f}"
    if not currency:
        return figure
    sign = CURRENCY_SIGNS.get(currency.upper())
    return f"{sign}{figure}" if sign else f"{figure} {currency.upper()}"
