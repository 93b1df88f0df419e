"""Catalog text made plain: HTML tags and entities, control characters and whitespace; category paths split."""

from __future__ import annotations

import html
import json
import re

from diffscan.catalog.values import plain

_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_INLINE_TAG = re.compile(r"</?(?:a|abbr|b|code|em|font|i|mark|s|small|span|strong|sub|sup|u)\b[^<>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff]")
_WHITESPACE = re.compile(r"\s+")


def clean_text(value: object) -> str:
    """Text without HTML tags/entities or control characters, whitespace folded; emoji and CJK kept."""
    text = plain(value)
    if "<" in text:
        text = _COMMENT.sub(" ", _SCRIPT_STYLE.sub(" ", text))
        text = _TAG.sub(" ", _INLINE_TAG.sub("", text))
    if "&" in text:
        text = html.unescape(text)
    text = _INVISIBLE.sub("", text)
    return _WHITESPACE.sub(" ", text).strip()


def split_category(value: str, separator: str | None = None) -> list[str]:
    """Category levels from one path value (``A > B``, ``A | B``, ``A / B``, ``A » B`` or a JSON list)."""
    text = clean_text(value)
    if text.startswith("[") and text.endswith("]"):
        try:
            levels = json.loads(text)
        except json.JSONDecodeError:
            levels = None
        if isinstance(levels, list):
            return [t for t in (clean_text(level) for level in levels) if t]
    if separator is None:
        separator = next((s for s in (">", " / ", "|", "»") if s in text), None)
    parts = text.split(separator) if separator else [text]
    return [p.strip() for p in parts if p.strip()]
