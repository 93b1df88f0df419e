"""What a listing states and which of it is a USP or table stakes against the listings it is compared with."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from itertools import pairwise

import numpy as np

from diffscan.core.attributes import CJK_CHARS, attribute_keys, attributes_of, describe
from diffscan.core.text import Segmenter, maximal, normalize, phrases, words
from diffscan.index.store import Index


@dataclass(frozen=True)
class UspParams:
    """When what a listing states is a USP or table stakes among the competitors it is compared with
    (docs/niches.md).

    Parameters
    ----------
    usp_max_share: a USP is stated by fewer than this share of the competitors compared: one in five is
        rare enough to set a listing apart and common enough to survive a handful of look-alikes.
    table_stakes_min_share: table stakes are stated by at least this share of them: most, not all, since
        catalogs word the same claim in different ways.
    max_points: at most this many USPs (or table stakes) are listed, the most telling first.
    """

    usp_max_share: float = 0.20
    table_stakes_min_share: float = 0.60
    max_points: int = 10

    def describe(self) -> str:
        """The two rules in words, for help texts."""
        return (f"a USP is stated by fewer than {self.usp_max_share:.0%} of the competitors compared; "
                f"table stakes by at least {self.table_stakes_min_share:.0%} of them")


USP = UspParams()


@dataclass(frozen=True)
class BrandWordParams:
    """Which words of a catalog belong to a brand (docs/niches.md, Brand words): never a niche's name or a USP,
    since a new seller cannot use them.

    Parameters
    ----------
    name_share: a brand's one-word name is a brand word when at least this share of the listings whose titles
        say it are that brand's ('lego', 'hornby'); a word of longer names when this share are of those
        brands, at `category_ratio` times their usual share (not 'toy' of Le Toy Van, which every brand says,
        nor 'puppet' of The Puppet Company, the usual seller of puppets).
    line_share: any other word is a product-line or licence word when at least this share of the listings
        that say it are one brand's ...
    line_min_listings: ... and at least this many listings say it (a few listings say nothing about a brand) ...
    category_ratio: ... and that share is at least this many times the brand's usual share of those listings'
        categories: a grocer's own label that sells most of the vegetables does not own 'broccoli'.
    """

    name_share: float = 0.5
    line_share: float = 0.9
    line_min_listings: int = 5
    category_ratio: float = 3.0


BRAND_WORDS = BrandWordParams()
_CJK_BIGRAM = re.compile(f"[{CJK_CHARS}]{{2}}")
_CJK_END = re.compile(f"[{CJK_CHARS}]$")
_CJK_START = re.compile(f"^[{CJK_CHARS}]")


@dataclass
class Point:
    """A phrase or attribute, and how many of the competitors compared state it."""

    text: str  # the words as the listing states them (for attributes, its wording)
    key: str  # "phrase:<phrase>" or "<kind>:<value>" (an attribute)
    kind: str  # "phrase" or the attribute kind: material, size, quantity, colour, audience, use, feature
    share: float  # share of the competitors compared that state it, 0-1
    count: int  # how many of them state it

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Stated:
    """What one text states: phrases (all, for counting), phrases fit to show, and attributes."""

    phrases: set[str]
    shown: set[str]  # phrases readable on their own: no bare numbers, no brand
    attributes: dict[str, str]  # {"kind:value": wording}
    title_phrases: set[str] = field(default_factory=set)

    def keys(self) -> set[str]:
        """Every key the text states (what competitors are counted on)."""
        return {f"phrase:{p}" for p in self.phrases} | set(self.attributes)

    def candidates(self) -> dict[str, str]:
        """Keys fit to be shown as this text's points, with their wording."""
        out = {f"phrase:{p}": display(p) for p in self.shown}
        out.update(self.attributes)
        return out


def stated(text: str, brand: str = "", title: str | None = None, *, segmenter: Segmenter | None = None,
           brand_words: frozenset[str] = frozenset()) -> Stated:
    """Phrases and attributes of a listing text (`title` is the part shoppers read first).

    Chinese is cut into words by `segmenter` (the index's `catalog_segmenter`, which knows its brands;
    default: jieba's dictionary alone), so phrases are whole words, never characters astride two. A phrase
    with one of the catalog's `brand_words` (`catalog_brand_words`) is counted but never shown.
    """
    found = phrases(text, segmenter=segmenter)
    brand_tokens = set(words(brand, segmenter)) if brand else set()
    shown = {p for p in found if not _is_noise(p, brand_tokens) and not (brand_words and any(w in brand_words for w in p.split()))}
    title_phrases = phrases(title, segmenter=segmenter) & shown if title else set()
    return Stated(found, shown, attributes_of([text])[0], title_phrases)


def _is_noise(phrase: str, brand_tokens: set[str]) -> bool:
    """Bare numbers and the brand's own words say nothing about the product."""
    words = phrase.split()
    if all(w.replace(".", "").replace(",", "").isdigit() for w in words):
        return True
    return bool(brand_tokens) and all(w in brand_tokens for w in words)


def display(phrase: str) -> str:
    """A phrase for reading: Chinese words written together ('补水 保湿' -> '补水保湿', '精华 50ml' stays),
    and CJK character bigrams joined back ('不锈 锈钢' -> '不锈钢')."""
    parts = phrase.split()
    if (len(parts) > 1 and all(_CJK_BIGRAM.fullmatch(w) for w in parts)
            and all(a[1] == b[0] for a, b in pairwise(parts))):
        return parts[0] + "".join(w[1] for w in parts[1:])
    if len(parts) < 2:
        return phrase
    out = parts[0]
    for a, b in pairwise(parts):
        out += ("" if _CJK_END.search(a) and _CJK_START.match(b) else " ") + b
    return out


def count_keys(stated_list: list[Stated]) -> Counter:
    """How many texts state each key."""
    counts: Counter = Counter()
    for s in stated_list:
        counts.update(s.keys())
    return counts


def _point(key: str, wording: str, counts: Counter, n: int) -> Point:
    kind = "phrase" if key.startswith("phrase:") else key.split(":", 1)[0]
    count = counts.get(key, 0)
    return Point(text=wording, key=key, kind=kind, share=round(count / n, 4) if n else 0.0, count=count)


def _overlaps(phrase: str, wordings: list[str]) -> bool:
    """Whether a phrase shares a word with one of the wordings (CJK: contains one or is inside one)."""
    parts = set(phrase.split())
    return any(parts & set(w.split()) or (not w.isascii() and (w in phrase or phrase in w)) for w in wordings)


def pick_usps(candidates: dict[str, str], counts: Counter, n: int, title: str = "", *,
              params: UspParams = USP) -> list[Point]:
    """Candidates stated by fewer than `params.usp_max_share` of the n compared: attributes, then short phrases.

    Among phrases the longest whose every word is itself distinctive are kept whole ('advent calendar',
    'best served chilled', not three loose words), then the shortest distinctive ones ('bamboo', not
    'bamboo lid 550ml' when competitors say 'lid' too); none that shares a word with a kept phrase or
    with an attribute's wording (the attribute says it better).
    """
    if n == 0:
        return []
    rare = {k: w for k, w in candidates.items() if counts.get(k, 0) < params.usp_max_share * n}
    attrs = [k for k in rare if not k.startswith("phrase:")]
    attr_words = [normalize(w) for k, w in candidates.items() if not k.startswith("phrase:")]
    attr_keys = {k for k in candidates if not k.startswith("phrase:")}
    rare_phrases = [k[len("phrase:"):] for k in rare if k.startswith("phrase:")]
    whole = sorted((p for p in rare_phrases if len(p.split()) > 1 and all(f"phrase:{w}" in rare for w in p.split())),
                   key=lambda p: (-len(p.split()), p))
    shortest = sorted(rare_phrases, key=lambda p: (len(p.split()), p))
    kept: list[str] = []
    for p in whole + shortest:  # a phrase sharing a word with a kept one is a piece of the same claim
        if _overlaps(p, kept) or _overlaps(display(p), attr_words):
            continue
        if not (attribute_keys(p) & attr_keys):  # says an attribute the listing states anyway
            kept.append(p)
    title_l = normalize(title)
    points = [_point(k, rare[k], counts, n) for k in attrs]
    points += [_point(f"phrase:{p}", display(p), counts, n) for p in kept]
    points.sort(key=lambda pt: (pt.kind == "phrase", pt.text not in title_l, pt.share, -len(pt.text), pt.text))
    return points[:params.max_points]


def pick_common(keys: set[str], counts: Counter, n: int, wordings: dict[str, str], title: str = "", *,
                params: UspParams = USP) -> list[Point]:
    """Attributes first, then the longest phrases (not every sub-phrase), title words and most common first;
    at most `params.max_points`."""
    attrs = [k for k in keys if not k.startswith("phrase:")]
    attr_words = [normalize(wordings.get(k) or describe(k)) for k in attrs]
    longest = [p for p in maximal(k[len("phrase:"):] for k in keys if k.startswith("phrase:"))
               if not _overlaps(display(p), attr_words)]
    title_l = normalize(title)
    points = [_point(k, wordings.get(k) or describe(k), counts, n) for k in attrs]
    points += [_point(f"phrase:{p}", display(p), counts, n) for p in longest]
    points.sort(key=lambda pt: (pt.kind == "phrase", pt.text not in title_l, -pt.share, pt.text))
    return points[:params.max_points]


def usps(own: Stated, counts: Counter, n: int, title: str = "", *, params: UspParams = USP) -> list[Point]:
    """The listing's USPs: what it states and fewer than `params.usp_max_share` of its n competitors state."""
    return pick_usps(own.candidates(), counts, n, title, params=params)


def table_stakes(own: Stated, counts: Counter, n: int, title: str = "", *, params: UspParams = USP) -> list[Point]:
    """What the listing states and at least `params.table_stakes_min_share` of the competitors also state."""
    if n == 0:
        return []
    cand = own.candidates()
    common = {k for k in cand if counts.get(k, 0) >= params.table_stakes_min_share * n}
    return pick_common(common, counts, n, own.attributes, title, params=params)


def listing_texts(index: Index) -> list[str]:
    """Each listing's text as embedded (title, brand, head of the description), computed once per index."""
    memo = index.memo
    if "texts" not in memo:
        memo["texts"] = index.texts()
        memo["titles"] = index.listings["title"].tolist()
        memo["brands"] = index.listings["brand"].tolist()
    return memo["texts"]


def catalog_segmenter(index: Index) -> Segmenter:
    """The index's Chinese segmenter: jieba's dictionary plus the catalog's brand names, made once per index.

    Cheap to make: jieba loads only when Chinese text is first cut, and not at all for English catalogs.
    """
    memo = index.memo
    if "segmenter" not in memo:
        memo["segmenter"] = Segmenter(index.listings["brand"].fillna("").astype(str).unique())
    return memo["segmenter"]


def catalog_brand_words(index: Index, params: BrandWordParams = BRAND_WORDS) -> frozenset[str]:
    """The catalog's brand, product-line and licence words (see `BrandWordParams`), found once per index."""
    key = ("brand_words", params)
    if key not in index.memo:
        df = index.listings
        segmenter = catalog_segmenter(index)
        brands = df["brand"].fillna("").astype(str).map(lambda b: " ".join(words(b, segmenter))).to_numpy()
        categories = df["category_path"].map(lambda p: " > ".join(p) if isinstance(p, (list, tuple, np.ndarray)) else str(p))
        index.memo[key] = brand_words(df["title"].fillna("").astype(str).tolist(), brands.tolist(),
                                      categories.tolist(), segmenter=segmenter, params=params)
    return index.memo[key]


def brand_words(titles: list[str], brands: list[str], categories: list[str], *, segmenter: Segmenter | None = None,
                params: BrandWordParams = BRAND_WORDS) -> frozenset[str]:
    """Words of `titles` that belong to one brand (`brands`, as words joined by spaces, and `categories`
    align with them): words of brand names said mostly by listings of those brands, and words said mostly
    by one brand where that brand is not the usual seller (product lines, licences). Brandless listings
    hold no share."""
    said: dict[str, list[int]] = {}
    for row, title in enumerate(titles):
        for w in set(words(title, segmenter)):
            if len(w) > 1 and not any(ch.isdigit() for ch in w):  # sizes and codes are attributes
                said.setdefault(w, []).append(row)
    brand_of = np.asarray(brands, dtype=object)
    category_of = np.asarray(categories, dtype=object)
    with_word: dict[str, set[str]] = {}  # brand-name word -> the brands whose names have it
    for b in set(brands):
        for w in b.split():
            with_word.setdefault(w, set()).add(b)
    # Listings per (category, brand) and per category, counted once (not a scan of the catalog per category).
    held_in = Counter(zip(categories, brands))
    listed_in = Counter(categories)

    def usual(brands_: set[str], rows: list[int]) -> float:
        """The share of the listings of `rows`' categories that `brands_` hold (weighted as `rows` are)."""
        held = 0.0
        for c, n in Counter(category_of[rows]).items():
            held += n * sum(held_in[c, b] for b in brands_) / max(1, listed_in[c])
        return held / len(rows)

    out = set()
    for w, rows in said.items():
        named = brand_of[rows]
        if w in with_word:
            share = np.isin(named, list(with_word[w])).mean()
            # The brand's own name ('lego', 'uno'); a word of longer names only when those brands are not
            # the usual sellers there ('van' of Le Toy Van, but not 'puppet' of The Puppet Company).
            if share >= params.name_share and (w in with_word[w] or share >= params.category_ratio * usual(with_word[w], rows)):
                out.add(w)
                continue
        if len(rows) < params.line_min_listings or not any(named):
            continue
        top, count = Counter(b for b in named if b).most_common(1)[0]
        if top and count >= params.line_share * len(rows) and count / len(rows) >= params.category_ratio * usual({top}, rows):
            out.add(w)
    return frozenset(out)


def listing_stated(index: Index, row: int) -> Stated:
    """What a listing of the index states, computed once per index and row (the catalog's brand words
    never shown, `catalog_brand_words`)."""
    texts = listing_texts(index)
    memo = index.memo.setdefault("stated", {})
    if row not in memo:
        m = index.memo
        memo[row] = stated(texts[row], m["brands"][row], m["titles"][row], segmenter=catalog_segmenter(index),
                           brand_words=catalog_brand_words(index))
    return memo[row]


def listing_attributes(index: Index, row: int) -> dict[str, str]:
    """A listing's attributes {key: wording}, computed once per index and row."""
    memo = index.memo.setdefault("attributes", {})
    if row not in memo:
        memo[row] = attributes_of([listing_texts(index)[row]])[0]
    return memo[row]


def title_brand(index: Index, row: int) -> tuple[str, str]:
    """(title, brand) of a listing of the index."""
    listing_texts(index)
    memo = index.memo
    return memo["titles"][row], memo["brands"][row]
