"""Prices, ratings and counts parsed from the ways catalogs write them; a problem is a warning, not a drop."""

from __future__ import annotations

import math
import re
from typing import Callable

import pandas as pd

_ABSENT = {"", "-", "--", "n/a", "na", "none", "null", "nan", "nil"}
_CURRENCY = re.compile(
    r"(?i)us\$|c\$|a\$|nt\$|hk\$|[$£€¥₹₩₽元]|人民币"
    r"|\b(?:usd|gbp|eur|inr|jpy|cny|rmb|twd|ntd|hkd|cad|aud|chf|rs|mrp)\b\.?|/-$"
)
# Fullwidth forms (Chinese and Japanese input methods type ￥３９．９) as their ASCII twins.
_HALFWIDTH = {**{c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}, 0xFFE5: ord("¥"), 0x3000: ord(" ")}


_NUMBER = re.compile(r"^[+-]?\d[\d.,'\s]*$")
# "16.99 - 19.99", "£10 to £12", and the unspaced ranges of Chinese exports ("39-59", "39~59", "39至59").
_RANGE = re.compile(r"\s+(?:-|–|—|to)\s+|\s*[–—~〜至]\s*|(?<=[\d元])-(?=\D{0,3}\d)")
RANGE_NOTE = "is a range, the low end was used"
LOWER_BOUND_NOTE = "is a lower bound"
_RATING = re.compile(
    r"(?i)^(\d+(?:[.,]\d+)?)\s*(?:(?:out\s+of|/|of)\s*(\d+(?:[.,]\d+)?))?\s*(?:stars?|分)?$"
)


# A count: its number (maybe in scientific notation), a k/m/千/万/w/亿 multiplier, then any words
# ("5 new", "+人付款"). Chinese words may come first too ("月销1万+", "已售2.3万件").
_COUNT = re.compile(
    r"(?i)^\(?\s*(\d[\d.,'\s]*?(?:e[+-]?\d{1,4})?)\s*([kmw千万萬亿億](?![a-z]))?\)?(?:\s*([^\d\s.,'].*))?$"
)
_SCALES = {"k": 1e3, "m": 1e6, "千": 1e3, "万": 1e4, "萬": 1e4, "w": 1e4, "亿": 1e8, "億": 1e8}
_CJK_PREFIX = re.compile(r"^[\u4e00-\u9fff]+\s*[:：]?\s*(?=\d)")
# "1万+", "500+ bought", "10万以上", "2千多": at least the figure shown.
_AT_LEAST = re.compile(r"^(?:\+|以上|多)")
_EXPONENT = re.compile(r"(?i)^(.+?)e([+-]?\d{1,4})$")
# Counts are whole and below this: a larger figure is a unit or parsing slip, not reviews or sales.
MAX_COUNT = 10**10
# Spaces and apostrophes group thousands only in groups of exactly three digits ("1 234", "1'234.50").
_SPACE_GROUPS = re.compile(r"[+-]?\d{1,3}(?:[\s']\d{3})+(?:[.,]\d+)?")
_SPACE = re.compile(r"[\s']")


def _to_number(text: str, *, dot_groups_thousands: bool) -> float | None:
    """Number from ``1,299.00``, ``1.234,56``, ``16,99``, ``1 234``; None when it is not one (``12 34``)."""
    text = text.strip()
    if _SPACE.search(text):
        if not _SPACE_GROUPS.fullmatch(text):
            return None
        text = _SPACE.sub("", text)
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


# (value, message): message None when fine; value None with a message when dropped (a problem); a value
# with a message is kept and noted once per column (a range's low end, a count's lower bound).
ValueParser = Callable[[object], tuple[float | None, str | None]]


def read_price(value: object) -> tuple[float | None, str | None]:
    """Price and the problem found (None when fine or absent); a range gives its low end, with the note
    RANGE_NOTE. Fullwidth forms and Chinese currency marks are read (``￥39.9``, ``39.90元``, ``RMB 59``)."""
    text = plain(value).translate(_HALFWIDTH).strip()
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
    if not math.isfinite(price):
        return None, "not a number"
    if price < 0:
        return None, "is negative"
    return price, (RANGE_NOTE if len(prices) > 1 else None)


def read_rating(value: object) -> tuple[float | None, str | None]:
    """Rating on the 0-5 scale (``4.5``, ``4,5``, ``4.5 out of 5 stars``, ``8/10`` rescaled)."""
    text = plain(value).translate(_HALFWIDTH).strip()
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
    """Count from ``1,234``, ``1.234``, ``1 234``, ``1.2k``, ``3万``, ``1e9``, ``5 new``, ``月销1万+``
    (the leading number); None when absent. A count is whole, not negative and at most MAX_COUNT, else
    a problem; ``1.2万+``, ``500+``, ``10万以上`` are kept with the note LOWER_BOUND_NOTE."""
    text = _CJK_PREFIX.sub("", plain(value).translate(_HALFWIDTH).strip())
    if text.lower() in _ABSENT:
        return None, None
    if text.startswith("-") and _COUNT.match(text[1:].strip()):
        return None, "is negative"
    match = _COUNT.match(text)
    number = _count_number(match.group(1)) if match else None
    if number is None:
        return None, "not a number"
    count = round(number * _SCALES.get((match.group(2) or "").lower(), 1), 6)
    if not math.isfinite(count) or count > MAX_COUNT:
        return None, f"is above {MAX_COUNT:,}"
    if not count.is_integer():
        return None, "is not a whole number"
    return count, (LOWER_BOUND_NOTE if _AT_LEAST.match(match.group(3) or "") else None)


def _count_number(text: str) -> float | None:
    """The number of a count, in scientific notation too (``1e9``, ``1.5E6``)."""
    exponent = _EXPONENT.match(text)
    if not exponent:
        return _to_number(text, dot_groups_thousands=True)
    mantissa = _to_number(exponent.group(1), dot_groups_thousands=False)
    if mantissa is None:
        return None
    try:
        return mantissa * 10.0 ** int(exponent.group(2))
    except OverflowError:
        return math.inf


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
    """Whole, non-negative count up to MAX_COUNT (``1,234``, ``1.234``, ``5 new``, ``1e9``), else None."""
    return read_count(value)[0]
