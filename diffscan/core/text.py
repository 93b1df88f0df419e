"""Text helpers shared by the analyses: what gets embedded, tokens, phrases and model codes."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# CJK ideographs, kana and hangul: scripts written without spaces, cut into character bigrams.
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[^\W_]+(?:[.,'][^\W_]+)*", re.UNICODE)
_CJK_RE = re.compile(rf"^[{_CJK}]+$")
# Model numbers such as "PSLX350H", "KDL-40V4100" or "AM53BK": letters and digits mixed, 4+ chars.
_CODE_RE = re.compile(r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9-]{2,}[A-Za-z0-9]\b")

STOPWORDS = frozenset(
    """a an and are as at be by for from has have in into is it its of on or our the this to with
    your you new pack pcs set pc per x w""".split()
)


def listing_text(title: str, brand: str = "", description: str = "", max_description_chars: int = 300) -> str:
    """The text that represents a listing for embedding and lexical matching.

    Title first (it carries the product), brand when the title does not already say it, and the head
    of the description: long descriptions dilute the title and slow encoding.
    """
    parts = [title.strip()]
    if brand and brand.strip().lower() not in title.lower():
        parts.append(brand.strip())
    if description and max_description_chars > 0:
        parts.append(description.strip()[:max_description_chars])
    return " | ".join(p for p in parts if p)


def normalize(text: str) -> str:
    """Lower-case, NFKC-normalized text (full-width digits become ASCII, ligatures split)."""
    return unicodedata.normalize("NFKC", text).lower()


def tokens(text: str) -> list[str]:
    """Word tokens; runs of CJK characters become overlapping character bigrams."""
    out: list[str] = []
    for match in _TOKEN_RE.findall(normalize(text)):
        if _CJK_RE.match(match):
            out.extend([match] if len(match) == 1 else [match[i : i + 2] for i in range(len(match) - 1)])
        else:
            out.append(match)
    return out


# Phrases never run across punctuation: "creative builds. Builds fine" is two segments.
_SEGMENT_RE = re.compile(r"[,.](?=\s|$)|[;!?|:()\[\]{}\\]+|\s/\s|\s[-–—]\s|\s[-–—]|[-–—]\s")


def phrases(text: str, max_n: int = 3) -> set[str]:
    """Content phrases of 1..max_n tokens that neither start nor end with a stopword."""
    found: set[str] = set()
    for segment in _SEGMENT_RE.split(text):
        found |= _segment_phrases(tokens(segment), max_n)
    return found


def _segment_phrases(toks: list[str], max_n: int) -> set[str]:
    found: set[str] = set()
    for n in range(1, max_n + 1):
        for i in range(len(toks) - n + 1):
            gram = toks[i : i + n]
            if gram[0] in STOPWORDS or gram[-1] in STOPWORDS:
                continue
            if n == 1 and (len(gram[0]) < 2 and not _CJK_RE.match(gram[0])):
                continue
            found.add(" ".join(gram))
    return found


def model_codes(text: str) -> set[str]:
    """Model numbers and SKUs in a text, normalized (upper case, no hyphens) for exact matching."""
    codes = {m.replace("-", "").upper() for m in _CODE_RE.findall(text)}
    # Units such as "500ML" or "24V" are attributes, not model numbers.
    return {c for c in codes if len(c) >= 4 and not re.fullmatch(r"\d+(ML|MM|CM|KG|GB|TB|MB|MAH|W|V|L|G|OZ|IN|FT|PCS|PC|HZ|P|K|X\d+)", c)}


def maximal(phrase_set: Iterable[str]) -> list[str]:
    """Drop phrases contained in a longer phrase of the same set, longest first."""
    ordered = sorted(set(phrase_set), key=lambda p: (-len(p.split()), p))
    kept: list[str] = []
    for p in ordered:
        if not any(f" {p} " in f" {k} " for k in kept):
            kept.append(p)
    return kept
