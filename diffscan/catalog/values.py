"""Prices, ratings and counts parsed from the ways catalogs write them; a problem is a warning, not a drop."""

from __future__ import annotations

import re
from typing import Callable

import pandas as pd

_ABSENT = {"", "-", "--", "n/a", "na", "none", "null", "nan", "nil"}
_CURRENCY = re.compile(
    r"(?i)us\$|c\$|a\$|[$£€¥₹₩₽]|\b(?:usd|gbp|eur|inr|jpy|cny|rmb|cad|aud|chf|rs|mrp)\b\.?|/-$"
)


_NUMBER = re.compile(r"^[+-]?\d[\d.,'\s]*$")
_RANGE = re.compile(r"\s+(?:-|–|—|to)\s+|\s*[–—]\s*")
_RATING = re.compile(
    r"(?i)^(\d+(?:[.,]\d+)?)\s*(?:(?:out\s+of|/|of)\s*(\d+(?:[.,]\d+)?))?\s*(?:stars?)?$"
)


_COUNT = re.compile(r"(?i)^\(?\s*(\d[\d.,'\s]*?)\s*([km](?![a-z]))?\)?(?:\s*[^\d\s.,].*)?$")


def _to_number(text: str, *, dot_groups_thousands: bool) -> float | None:
    """Number from ``1,299.00``, ``1.234,56``, ``16,99``, ``1 234``; None when it is not one."""
    text = re.sub(r"[\s'\u00a0\u202f]", "", text)
    if not re.fullmatch(r"[+-]?\d[\d.,]*", text):
        return None
    if "." in text and "," in text:
        decimal = "." if text.rfind(".") > text.rfind(",") else ","
        text = text.replace("," if decimal == "." else ".", "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", "") if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+", text) else text.replace(",", ".")
    elif text.count(".") > 1 or (dot_groups_thousands and re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+", text)):
        text = text.replace(".", "")
    try:
        return float(text)
    except ValueError:
        return None


ValueParser = Callable[[object], tuple[float | None, str | None]]


def read_price(value: object) -> tuple[float | None, str | None]:
    """Price and the problem found (None when fine or absent); ranges take the lower bound."""
    text = plain(value)
    if text.lower() in _ABSENT:
        return None, None
    parts = [p for p in _RANGE.split(text) if p.strip()]
    prices = []
    for part in parts:
        number = _CURRENCY.sub("", part).strip()
        price = _to_number(number, dot_groups_thousands=False) if _NUMBER.match(number) else None
        if price is None:
            return None, "not a number"
        prices.append(price)
    if not prices:
        return None, "not a number"
    price = min(prices)
    return (None, "is negative") if price < 0 else (price, None)


def read_rating(value: object) -> tuple[float | None, str | None]:
    """Rating on the 0-5 scale (``4.5``, ``4,5``, ``4.5 out of 5 stars``, ``8/10`` rescaled)."""
    text = plain(value)
    if text.lower() in _ABSENT:
        return None, None
    if text.endswith("%"):
        return None, "is a percentage"
    match = _RATING.match(text)
    if not match:
        return None, "not a number"
    rating = float(match.group(1).replace(",", "."))
    if match.group(2):
        scale = float(match.group(2).replace(",", "."))
        if scale <= 0:
            return None, "not a number"
        rating = rating * 5 / scale
    return (rating, None) if 0 <= rating <= 5 else (None, "out of range 0-5")


def read_count(value: object) -> tuple[float | None, str | None]:
    """Count from ``1,234``, ``1.234``, ``1.2k``, ``5 new`` (the leading number); None when absent."""
    text = plain(value)
    if text.lower() in _ABSENT:
        return None, None
    if text.startswith("-") and _COUNT.match(text[1:].strip()):
        return None, "is negative"
    match = _COUNT.match(text)
    number = _to_number(match.group(1), dot_groups_thousands=True) if match else None
    if number is None:
        return None, "not a number"
    scale = {"k": 1e3, "m": 1e6}.get((match.group(2) or "").lower(), 1)
    return round(number * scale, 6), None


def plain(value: object) -> str:
    """A value as stripped text; None/NaN become empty."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    return str(value).strip()


def parse_price(value: object) -> float | None:
    """Price as a float (``$399.00``, ``€1.234,56``, ``Rs. 220``, ``16.99 - 19.99`` -> 16.99), else None."""
    return read_price(value)[0]


def parse_rating(value: object) -> float | None:
    """Rating on the 0-5 scale, else None (absent, percentage, out of range or not a number)."""
    return read_rating(value)[0]


def parse_count(value: object) -> float | None:
    """Non-negative count (``1,234``, ``1.234``, ``5 new``), else None."""
    return read_count(value)[0]
