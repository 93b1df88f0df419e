"""Who competes with this listing? A hybrid of semantic, lexical, fuzzy-title and model-number matching."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz, process

from diffscan.analyses.usps import catalog_segmenter, display
from diffscan.core.attributes import identifying
from diffscan.core.lexical import row_dots
from diffscan.core.similarity import is_near_duplicate
from diffscan.core.text import content_words, listing_text, model_codes, normalize, phrases, tokens
from diffscan.errors import QueryError
from diffscan.index.store import Index

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

@dataclass(frozen=True)
class Weights:
    """How the score components combine; tuned on Abt-Buy (see bench/competitors.py)."""

    semantic: float = 0.45
    lexical: float = 0.40
    fuzzy: float = 0.15
    code: float = 0.25  # a shared model number is near-proof of the same product
    category: float = 0.10  # same category path as the query, when the query has one

    def formula(self, times: str = " x ") -> str:
        """The score as shown in help texts, from these numbers ('0.45 x semantic + ...')."""
        terms = ((self.semantic, "semantic"), (self.lexical, "lexical"), (self.fuzzy, "fuzzy"),
                 (self.code, "[same model no.]"), (self.category, "[same category]"))
        return " + ".join(f"{w:.2f}{times}{name}" for w, name in terms)

    @property
    def maximum(self) -> float:
        """The highest score a competitor can reach (every component at 1)."""
        return self.semantic + self.lexical + self.fuzzy + self.code + self.category


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class TwinRule:
    """When a competitor sells the same product as the query (a twin) and not a substitute.

    A twin is a near-duplicate or shares a model number, or its title says the query title's words in
    any order (one title's words all in the other's) with the same identifying attributes. A different
    size, quantity, colour or model number always makes a substitute.

    Parameters
    ----------
    kinds: attribute kinds that tell one product from another (core.attributes.identifying).
    min_words: the shorter title has at least this many words for word containment to count
        ('water bottle' is in every bottle's title, it names no product).
    min_cover: and at least this share of the longer title's words (extra claims such as 'hot 12 hours'
        are fine, a title twice as long is another listing).
    """

    kinds: tuple[str, ...] = ("size", "quantity", "colour")
    min_words: int = 3
    min_cover: float = 0.6


TWIN = TwinRule()


@dataclass(frozen=True)
class Rerank:
    """The second look at the head of the ranking: what the titles state about the product itself.

    Parameters
    ----------
    top: how many of the best-scored candidates are looked at again (at least k).
    agree: added per identifying attribute (`TwinRule.kinds`: size, quantity, colour) both titles state
        with the same value.
    brand: added when the competitor's brand is named in the query (or is the query listing's brand).
    conflict: taken off per attribute both titles state differently: a 500ml bottle is not the 750ml
        one, however alike the words (but it is still a substitute, so the cut is small).
    model: taken off when both titles state model numbers and none agree: another product for sure.
    """

    top: int = 30
    agree: float = 0.03
    brand: float = 0.03
    conflict: float = 0.03
    model: float = 0.10

    def formula(self, times: str = " x ") -> str:
        """The adjustment in words, from these numbers."""
        return (f"+ {self.agree:.2f}{times}[same size/quantity/colour] + {self.brand:.2f}{times}[same brand] "
                f"- {self.conflict:.2f}{times}[different size/quantity/colour] - {self.model:.2f}{times}[different model no.], "
                f"on the top {self.top}")


RERANK = Rerank()


@dataclass(frozen=True)
class CategoryGuess:
    """The category of a query that has none (a pasted listing), voted by its best neighbours and then
    used as its category prior when the vote is clear.

    Parameters
    ----------
    neighbours: how many of the best-scored candidates vote.
    min_confidence: the share of the vote a category needs to be used; else its parent level is
        tried, then no prior at all (a split vote says the listing sits between categories).
    temperature: a neighbour votes with exp((its score - the best score) / temperature): the nearest
        count most, and a listing far down the list hardly at all, however many there are.
    weight: a candidate's score gains this times the vote share of its own category (soft: a 70/30
        split lifts both sides, the first more). Above `Weights.category` because a share is rarely 1:
        0.20 x a clear 0.5-0.7 share is the 0.10-0.14 a category typed in gives.
    soft: False gives the winning category the whole `weight` and the others nothing.
    """

    neighbours: int = 50
    min_confidence: float = 0.4
    temperature: float = 0.03
    weight: float = 0.20
    soft: bool = True


GUESS = CategoryGuess()


@dataclass(frozen=True)
class Guessed:
    """A category guessed for a query: its path and the share of its neighbours' vote."""

    path: tuple[str, ...]
    confidence: float

    def describe(self) -> str:
        """'category guessed: Home > Drinkware (confidence 0.82)', as the CLI and the app say it."""
        return f"category guessed: {' > '.join(self.path)} (confidence {self.confidence:.2f})"


@dataclass(frozen=True)
class _Facts:
    """What tells one product from another in a title: its words as a set, identifying attributes and
    model numbers."""

    words: frozenset[str]
    attributes: dict[str, frozenset[str]]
    codes: frozenset[str]


def _facts(title: str, segmenter, rule: TwinRule) -> _Facts:
    return _Facts(frozenset(content_words(title, segmenter)), identifying(title, rule.kinds), frozenset(model_codes(title)))


def _codes_agree(a: frozenset[str], b: frozenset[str]) -> bool:
    """A model number in both, or one the other's with a suffix ('DMCFX37K' and 'DMCFX37': a colour variant code)."""
    return any(x == y or x.startswith(y) or y.startswith(x) for x in a for y in b)


def _codes_differ(query: _Facts, other: _Facts) -> bool:
    """Both titles state model numbers and none agree: another product for sure."""
    return bool(query.codes and other.codes and not _codes_agree(query.codes, other.codes))


def _differences(query: _Facts, other: _Facts, rule: TwinRule) -> list[str]:
    """What both titles state but differently, e.g. ['size: 750ml / 500ml']: a different product."""
    out = [f"{kind}: {', '.join(sorted(query.attributes[kind]))} / {', '.join(sorted(other.attributes[kind]))}"
           for kind in rule.kinds
           if kind in query.attributes and kind in other.attributes and query.attributes[kind].isdisjoint(other.attributes[kind])]
    if _codes_differ(query, other):
        out.append(f"{_MODEL}: {', '.join(sorted(query.codes))} / {', '.join(sorted(other.codes))}")
    return out


_MODEL = "model no."


def _same_words(query: _Facts, other: _Facts, rule: TwinRule) -> bool:
    """The same words in any order, give or take a few claims, and the same identifying attributes."""
    short, long = sorted((query.words, other.words), key=len)
    return (len(short) >= rule.min_words and short <= long and len(short) >= rule.min_cover * len(long)
            and all(query.attributes.get(k) == other.attributes.get(k) for k in rule.kinds))


@dataclass(frozen=True)
class Filters:
    """Restrict competitors: category path prefix, price range, brands to leave out."""

    category: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    exclude_brands: tuple[str, ...] = ()

    def mask(self, index: Index) -> np.ndarray | None:
        """Boolean mask of allowed rows, or None when nothing is filtered."""
        df = index.listings
        mask = np.ones(len(df), dtype=bool)
        if self.category:
            want = [p.strip().lower() for p in self.category.replace("/", ">").split(">") if p.strip()]
            paths = df["category_path"].map(lambda p: [x.lower() for x in p])
            mask &= paths.map(lambda p: p[: len(want)] == want or any(x == want[-1] for x in p)).to_numpy()
        price = df["price"].to_numpy(dtype=float)
        if self.min_price is not None:
            mask &= price >= self.min_price
        if self.max_price is not None:
            mask &= price <= self.max_price
        if self.exclude_brands:
            banned = {b.strip().lower() for b in self.exclude_brands}
            mask &= ~df["brand"].str.lower().str.strip().isin(banned).to_numpy()
        return None if mask.all() else mask


@dataclass
class Competitor:
    """One competitor of a query, with why it ranks where it does."""

    rank: int
    listing_id: str
    title: str
    brand: str
    price: float | None
    category: str
    score: float
    semantic: float
    lexical: float
    fuzzy: float
    code_match: bool
    same_category: bool
    near_duplicate: bool
    kind: str  # "twin" (same product) or "substitute"
    shared_phrases: list[str] = field(default_factory=list)
    unique_to_query: list[str] = field(default_factory=list)
    unique_to_competitor: list[str] = field(default_factory=list)
    rating: float | None = None  # 0-5, None where the catalog has none
    review_count: int | None = None
    url: str = ""
    price_vs_query: str = ""  # "12% cheaper", "8% dearer", "same price" or "" (a price unknown): `price_position`
    differences: list[str] = field(default_factory=list)  # attributes both titles state differently
    attributes: float = 0.0  # the reranking's part of the score (Rerank): agreeing attributes and brand, differences

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PriceParams:
    """How a competitor's price reads against the query's: within `same_within` (a share of the query's
    price) it is the "same price"; shares are rounded to whole percent."""

    same_within: float = 0.02


PRICE = PriceParams()


def price_position(price: float | None, reference: float | None, params: PriceParams = PRICE) -> str:
    """A competitor's price against the query's, in words: "12% cheaper", "8% dearer", "same price", or ""."""
    if price is None or reference is None or not (math.isfinite(price) and math.isfinite(reference)) or reference <= 0:
        return ""
    change = price / reference - 1.0
    if abs(change) <= params.same_within:
        return "same price"
    return f"{abs(change):.0%} {'cheaper' if change < 0 else 'dearer'}"


@dataclass
class CompetitorResult:
    """The query as understood, and its ranked competitors."""

    query_text: str
    query_id: str | None
    competitors: list[Competitor]
    query_price: float | None = None  # what `price_vs_query` compares with
    category_guessed: Guessed | None = None  # the prior used for a query without a category

    def to_dict(self) -> dict:
        """The JSON document of `diffscan competitors --format json` and the app's download."""
        guess = self.category_guessed
        return {"query": self.query_text, "query_id": self.query_id, "query_price": self.query_price,
                "category_guessed": None if guess is None else " > ".join(guess.path),
                "category_confidence": None if guess is None else round(guess.confidence, 4),
                "competitors": [c.to_dict() for c in self.competitors]}


# ---------------------------------------------------------------------------------------------------
# Candidates: the top `pool` rows of the semantic list and of the lexical list. One query scans the
# index; a batch takes a block of queries' semantic cosines from one matrix product. Both pick the same
# candidates and give them the same scores (tests/analyses/test_competitors.py, bench/batch.py).
# ---------------------------------------------------------------------------------------------------

# A batch holds at most this many (query, listing) cosines at once: 256 queries x 32,768 listings of float32
# is 32 MB, whatever the catalog size.
_BLOCK_CELLS = 1 << 23
_BLOCK_QUERIES = 256
_CHUNK = 64  # `_contenders` looks at the maxima of chunks this long first
_ROUNDOFF = float(np.finfo(np.float32).eps) / 2  # float32 unit roundoff (see `_margin`)


def _check_k(k: int) -> None:
    if k < 1:
        raise QueryError(f"The number of competitors asked for (k) must be at least 1, not {k}.", parameter="k")


def _pool(k: int) -> int:
    """How many candidates each of the semantic and the lexical list gives."""
    return max(50, 5 * k)


def _blocked(index: Index, filters: Filters | None, exclude: int | None = None) -> np.ndarray | None:
    """Rows that may not be competitors (filtered out, or the query listing itself); None when none."""
    allowed = filters.mask(index) if filters else None
    blocked = None if allowed is None else ~allowed
    if exclude is not None:
        blocked = np.zeros(len(index), dtype=bool) if blocked is None else blocked
        blocked[exclude] = True
    return blocked


def _masked(scores: np.ndarray, blocked: np.ndarray | None) -> np.ndarray:
    return scores if blocked is None else np.where(blocked, -np.inf, scores)


def _contenders(scores: np.ndarray, pool: int, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The rows (ascending) whose finite score is at least the pool-th highest minus `margin`, and their scores.

    Found without partitioning every score: the pool-th highest chunk maximum is at most the pool-th
    highest score, so only the scores above it are partitioned (a few hundred of 20,000).
    """
    n = len(scores)
    rows = np.arange(n)
    if n > pool:
        maxima = np.maximum.reduceat(scores, np.arange(0, n, _CHUNK))
        if len(maxima) > pool:
            rows = np.flatnonzero(scores >= np.partition(maxima, len(maxima) - pool)[len(maxima) - pool] - margin)
    values = scores[rows]
    if len(values) > pool:
        edge = np.partition(values, len(values) - pool)[len(values) - pool]
        keep = values >= edge - margin
        rows, values = rows[keep], values[keep]
    finite = np.isfinite(values)
    return rows[finite], values[finite]


def _best(rows: np.ndarray, values: np.ndarray, pool: int) -> np.ndarray:
    """The `pool` rows of highest value; of equal values the lower rows (`rows` ascending): one answer
    whatever found the rows."""
    return rows if len(rows) <= pool else rows[np.argsort(-values, kind="stable")[:pool]]


def _margin(index: Index, qvecs: np.ndarray) -> np.ndarray:
    """Per query, twice the most a float32 BLAS cosine can be off the one `_semantic_of` gives.

    A float32 sum of d products is off the true value by at most gamma_d * |q| * |v| whatever the
    summation order (gamma_d = d*u / (1 - d*u), u the unit roundoff; Higham, Accuracy and Stability of
    Numerical Algorithms, 3.1), `_semantic_of` by at most 2u * |q| * |v|: 5e-5 for unit vectors of 384
    dimensions, where the differences seen are 1e-6.
    """
    d = index.vectors.shape[1]
    gamma = d * _ROUNDOFF / (1 - d * _ROUNDOFF)
    if "competitors.longest" not in index.memo:  # the longest listing vector (1 for a normalized model)
        index.memo["competitors.longest"] = float(np.sqrt(np.einsum("ij,ij->i", index.vectors, index.vectors).max()))
    longest = index.memo["competitors.longest"]
    return 2 * (gamma + 2 * _ROUNDOFF) * longest * np.linalg.norm(np.atleast_2d(qvecs), axis=1).astype(np.float64)


def _semantic_of(index: Index, cand: np.ndarray, qvec: np.ndarray) -> np.ndarray:
    """Cosines of the candidates, from their rows alone, summed in float64 and rounded to float32.

    The last bit of a float32 BLAS product depends on where a row sits in it (two identical listings
    could score 1e-7 apart, and a matrix product differs from a matrix-vector one). Summed in float64
    those differences are 1e-16 and vanish in the rounding: a candidate's score is the same however it
    was found (one query's scan, a batch, the ANN graph), and identical listings tie.
    """
    return (np.asarray(index.vectors[cand], dtype=np.float64) @ np.asarray(qvec, dtype=np.float64)).astype(np.float32)


def _semantic_pool(index: Index, qvec: np.ndarray, cosines: np.ndarray, pool: int, margin: float) -> np.ndarray:
    """The `pool` rows of highest `_semantic_of` cosine, from float32 BLAS `cosines` (blocked rows -inf).

    Every row that could be among them is within `margin` of the pool-th BLAS cosine; only those are
    scored by `_semantic_of`. So a query alone (a matrix-vector product) and in a batch (a matrix
    product) pick the same rows although their BLAS cosines differ in the last bits.
    """
    rows, _ = _contenders(cosines, pool, margin)
    return _best(rows, _semantic_of(index, rows, qvec), pool)


def _lexical_scores(index: Index, qlex) -> np.ndarray:
    """The lexical cosine of one query with every listing (an exact index).

    One query at a time also in a batch: the product is nearly dense (a query shares some 3-gram with
    almost every listing), and one sparse row of 20,000 values is quicker than a block of them.
    """
    return np.asarray((qlex @ index.lexical_t).todense(), dtype=np.float32).ravel()


def _lexical_pool(lexical: np.ndarray, blocked: np.ndarray | None, pool: int) -> np.ndarray:
    return _best(*_contenders(_masked(lexical, blocked), pool), pool)


def _candidates(
    index: Index, qvec: np.ndarray, qlex, blocked: np.ndarray | None, pool: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate rows (the top `pool` of the semantic and of the lexical list, never a blocked row),
    with their exact semantic and lexical cosines.

    Small indexes score every listing exactly. Large ones (an ANN graph and lexical postings) take each
    list's candidates from those structures and score only the candidates, still exactly: approximation
    can change which listings are candidates, never a candidate's score.
    """
    if index.ann is None and index.postings is None:
        cosines = _masked(np.asarray(index.vectors @ qvec, dtype=np.float32), blocked)
        lexical = _lexical_scores(index, qlex)
        cand = np.union1d(_semantic_pool(index, qvec, cosines, pool, _margin(index, qvec)[0]),
                          _lexical_pool(lexical, blocked, pool))
        return cand, _semantic_of(index, cand, qvec), lexical[cand]
    cand = np.union1d(index.semantic_candidates(qvec, pool, blocked), index.lexical_candidates(qlex, pool, blocked))
    return cand, _semantic_of(index, cand, qvec), row_dots(index.lexical, cand, qlex)


def _block_candidates(
    index: Index, qvecs: np.ndarray, qlex, blocked: np.ndarray | None, pool: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """`_candidates` of a block of queries against an exact index, with the same results.

    The block's cosines with every listing are one matrix product, where a query alone reads all vectors
    for its one matrix-vector product; `_semantic_pool` makes both pick the same rows.
    """
    cosines = qvecs @ index.vectors.T
    if blocked is not None:
        cosines[:, blocked] = -np.inf
    margins = _margin(index, qvecs)
    found = []
    for i, qvec in enumerate(qvecs):
        lexical = _lexical_scores(index, qlex[i])
        cand = np.union1d(_semantic_pool(index, qvec, cosines[i], pool, margins[i]), _lexical_pool(lexical, blocked, pool))
        found.append((cand, _semantic_of(index, cand, qvec), lexical[cand]))
    return found


# ---------------------------------------------------------------------------------------------------
# Ranking: every candidate scored, the top k explained. The one ranking of single and batch queries.
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Query:
    text: str  # what is matched lexically and cut into phrases
    title: str  # what candidate titles are fuzzy-matched and near-duplicate-checked against
    category_path: list[str] | None
    price: float | None = None  # the query's price, for `price_vs_query`
    brand: str = ""  # the query listing's own brand; a pasted text's brand is read from its words
    # What the lexical signal, model numbers and brand naming read: the title and brand, not the
    # description. A shop writes all its descriptions to one template, so they make its own listings
    # look alike (Abt and Buy pooled, listings querying by id: R@1 0.74 with it, 0.80 without).
    match: str = ""


def pasted_text(title: str, brand: str = "", description: str = "", max_description_chars: int = 300) -> str:
    """A listing as a pasted query: its title (and brand) on the first line, the head of its description
    below, so that the query matches on the title like a listing of the index does."""
    head = listing_text(title, brand)
    description = (description or "").strip()[:max_description_chars]
    return f"{head}\n{description}" if description else head


def _text_query(text: str | None, category_path: list[str] | None, price: float | None = None) -> _Query:
    if text is None or not text.strip():
        raise QueryError("The query is empty: paste a listing title (and optionally its description).", parameter="text")
    text = text.strip()
    title = text.split("\n", 1)[0]  # a pasted text's first line is its title, the rest its description
    return _Query(text, title[:500], category_path, price, match=title)


class _Phrases:
    """The phrases of a text in the order `maximal` lists them, and for each the longer phrases of the same
    text that contain it: the maximal phrases of any subset then take set lookups, not comparing every pair
    and sorting (~25 us a set, 30 sets a query)."""

    def __init__(self, found: set[str], words: set[str] | frozenset[str] = frozenset(),
                 stopwords: frozenset[str] = frozenset()) -> None:
        self.all = found
        self.words = words  # the text's words as a set (`content_words`)
        # Each phrase's own words without the stopwords inside it ('bottle for kids' -> bottle, kids).
        self.content = {p: frozenset(w for w in p.split(" ") if w not in stopwords) for p in found}
        self.ordered = sorted(found, key=lambda p: (-len(p.split()), p))  # as `maximal` orders them
        self.position = {p: i for i, p in enumerate(self.ordered)}
        within: dict[str, set[str]] = {}
        for longer in found:  # phrases are words joined by single spaces: a phrase inside is a run of them
            words = longer.split(" ")
            for size in range(1, len(words)):
                for start in range(len(words) - size + 1):
                    part = " ".join(words[start : start + size])
                    if part in found:
                        within.setdefault(part, set()).add(longer)
        self.within = within

    def said_by(self, words: set[str] | frozenset[str]) -> set[str]:
        """The phrases whose every word is in `words`: said by the other text, in whatever order."""
        return {p for p, own in self.content.items() if own <= words}

    def not_said_by(self, words: set[str] | frozenset[str]) -> set[str]:
        """The phrases none of whose words are in `words`: unique to this text."""
        return {p for p, own in self.content.items() if own.isdisjoint(words)}

    def maximal(self, subset: set[str], n: int = 8) -> list[str]:
        """`maximal(subset)[:n]` for a subset of these phrases."""
        out: list[str] = []
        # A small subset (the shared phrases) is put in order itself; a large one is met early in `ordered`.
        looked = self.ordered if 4 * len(subset) > len(self.ordered) else sorted(subset, key=self.position.__getitem__)
        within = self.within
        for p in looked:
            if p in subset and (p not in within or subset.isdisjoint(within[p])):
                out.append(p)
                if len(out) == n:
                    break
        return out


class _Listings:
    """What the ranking reads of the index's listings, read on first use and kept.

    One query reads only its candidates (a pandas row lookup costs ~0.2 ms, so a column at a time). A
    batch keeps one for all its queries: a listing that competes for many of them is read, and cut into
    phrases, once. Past `limit` rows it starts over, so a batch's memory stays bounded.
    """

    COLUMNS = ("listing_id", "title", "brand", "price", "category_path", "description", "rating", "review_count",
               "url")

    def __init__(self, index: Index, explain: bool, limit: int = 200_000) -> None:
        self.df = index.listings
        self.chars = index.manifest["text"]["description_chars"]
        self.explain = explain
        self.segmenter = catalog_segmenter(index)  # Chinese words, with the catalog's brands (jieba loads on first use)
        self.limit = limit
        self._rows: dict[int, tuple] = {}
        self.titles: dict[int, str] = {}
        self.paths: dict[int, tuple[str, ...]] = {}  # lower-cased, as the category prior compares them
        self._codes: dict[int, set[str]] = {}
        self._facts: dict[int, _Facts] = {}
        self._brands: dict[int, frozenset[str]] = {}
        self._phrases: dict[str, _Phrases] = {}
        self._display: dict[str, str] = {}

    def read(self, rows: list[int]) -> None:
        missing = [r for r in rows if r not in self._rows]
        if not missing:
            return
        if len(self._rows) + len(missing) > self.limit:
            for memo in (self._rows, self.titles, self.paths, self._codes, self._facts, self._brands, self._phrases, self._display):
                memo.clear()
        # rating, review_count and url may be absent from an index made by hand (tests): read as unknown
        columns = [self.df[c].take(missing).tolist() if c in self.df else [None] * len(missing) for c in self.COLUMNS]
        self._rows.update(zip(missing, zip(*columns)))
        self.titles.update(zip(missing, columns[1]))
        self.paths.update((r, tuple(c.lower() for c in p)) for r, p in zip(missing, columns[4]))

    def row(self, r: int) -> tuple:
        """(listing_id, title, brand, price, category_path, description, rating, review_count, url) of a row
        `read` before."""
        return self._rows[r]

    def codes(self, r: int) -> set[str]:
        if r not in self._codes:
            self._codes[r] = model_codes(self.titles[r])
        return self._codes[r]

    def brand_tokens(self, r: int) -> frozenset[str]:
        if r not in self._brands:
            self._brands[r] = frozenset(tokens(str(self._rows[r][2] or "")))
        return self._brands[r]

    def brand_key(self, r: int) -> str:
        return normalize(str(self._rows[r][2] or "")).strip()

    def facts(self, r: int, rule: TwinRule) -> _Facts:
        if r not in self._facts:
            self._facts[r] = _facts(self.titles[r], self.segmenter, rule)
        return self._facts[r]

    def phrases(self, text: str) -> _Phrases:
        """The phrases and words of a text (a query's or a listing's: a query that is a listing's text shares them)."""
        if text not in self._phrases:
            seg = self.segmenter
            self._phrases[text] = _Phrases(phrases(text, segmenter=seg), content_words(text, seg), seg.stopwords)
        return self._phrases[text]

    def shown(self, found: list[str]) -> list[str]:
        """Phrases as `display` writes them."""
        out = []
        for p in found:
            if p not in self._display:
                self._display[p] = display(p)
            out.append(self._display[p])
        return out


def _rerank(listings: _Listings, query: _Query, qfacts: _Facts, rows: list[int], score: np.ndarray, k: int,
            twin: TwinRule, rerank: Rerank) -> np.ndarray:
    """The attribute adjustment of the head of the ranking (zero elsewhere): agreeing size, quantity,
    colour and brand lift a candidate, a size or model number stated differently demotes it."""
    adjust = np.zeros(len(rows), dtype=np.float32)
    if rerank.agree == rerank.brand == rerank.conflict == rerank.model == 0:
        return adjust
    qtokens = set(tokens(query.match))
    qbrand = normalize(query.brand).strip()
    for j in np.argsort(-score, kind="stable")[: max(rerank.top, k)]:
        facts = listings.facts(rows[j], twin)
        same = sum(1 for kind, values in qfacts.attributes.items() if facts.attributes.get(kind) == values)
        differ = _differences(qfacts, facts, twin)
        model = _codes_differ(qfacts, facts)  # the last of `differ` when true
        brand = listings.brand_tokens(rows[j])
        named = bool(brand) and (brand <= qtokens if not qbrand else listings.brand_key(rows[j]) == qbrand)
        adjust[j] = (rerank.agree * same + rerank.brand * named - rerank.conflict * (len(differ) - model)
                     - rerank.model * model)
    return adjust


def _guess(listings: _Listings, rows: list[int], score: np.ndarray, guess: CategoryGuess) -> tuple[Guessed | None, np.ndarray]:
    """The category the best neighbours vote for, and each candidate's prior (0-1) from that vote.

    Each of the `guess.neighbours` best candidates votes for its category path with
    exp((score - best score) / temperature): the nearest neighbours count most, whatever the scale of
    the scores. The guess is the deepest level with a clear vote; a candidate's prior is the vote share
    of its own path (a soft prior: a near-even split lifts both sides a little) when some path is clear.
    """
    prior = np.zeros(len(rows), dtype=np.float32)
    head = np.argsort(-score, kind="stable")[: guess.neighbours]
    top = score[head].astype(np.float64)
    votes = np.exp((top - top.max()) / guess.temperature)
    total = float(votes.sum())
    paths = [listings.paths[rows[j]] for j in head]
    for depth in range(max(map(len, paths)), 0, -1):
        tally: dict[tuple, float] = {}
        for path, vote in zip(paths, votes):
            if len(path) >= depth:
                tally[path[:depth]] = tally.get(path[:depth], 0.0) + float(vote)
        if not tally:
            continue
        best = max(tally, key=lambda p: (tally[p], p))
        if tally[best] / total >= guess.min_confidence:
            spelled = next(listings.row(rows[j])[4][:depth] for j, p in zip(head, paths) if p[:depth] == best)
            if guess.soft:
                prior = np.array([tally.get(listings.paths[r][:depth], 0.0) / total for r in rows], dtype=np.float32)
            else:
                prior = np.array([listings.paths[r][:depth] == best for r in rows], dtype=np.float32)
            return Guessed(tuple(spelled), tally[best] / total), prior
    return None, prior


def _rank(listings: _Listings, query: _Query, cand: np.ndarray, semantic_cand: np.ndarray,
          lexical_cand: np.ndarray, *, k: int, weights: Weights, twin: TwinRule = TWIN,
          rerank: Rerank = RERANK, guess: CategoryGuess | None = GUESS) -> tuple[list[Competitor], Guessed | None]:
    """The top `k` candidates of one query by the weighted score, explained (when `listings.explain`), and
    the category guessed for a query without one (when `guess` is given)."""
    if len(cand) == 0:
        return [], None
    rows = cand.tolist()
    listings.read(rows)
    titles = [listings.titles[r] for r in rows]
    qcodes = model_codes(query.match)
    fuzzy = (process.cdist([query.title], titles, scorer=fuzz.token_set_ratio, dtype=np.float64)[0] / 100.0).astype(np.float32)
    codes = np.array([bool(qcodes & listings.codes(r)) for r in rows]) if qcodes else np.zeros(len(cand), bool)
    qcat = tuple(c.lower() for c in (query.category_path or []))
    same_cat = np.array([listings.paths[r] == qcat for r in rows]) if qcat else np.zeros(len(cand), dtype=bool)
    score = (
        weights.semantic * semantic_cand
        + weights.lexical * lexical_cand
        + weights.fuzzy * fuzzy
        + weights.code * codes
        + weights.category * same_cat
    )
    guessed = None
    if not qcat and guess is not None and guess.weight and weights.category:  # no category prior: none guessed
        # A pasted listing has no category: its neighbours' clear vote is its prior (a parent level
        # guessed counts every listing below it).
        guessed, prior = _guess(listings, rows, score, guess)
        if guessed is not None:
            same_cat = prior >= 0.5
            score = score + guess.weight * prior
    qfacts = _facts(query.title, listings.segmenter, twin)
    adjust = _rerank(listings, query, qfacts, rows, score, k, twin, rerank)
    score = score + adjust
    order = np.argsort(-score, kind="stable")[:k]
    explain = listings.explain
    qphrases = listings.phrases(query.text) if explain else _Phrases(set())
    out: list[Competitor] = []
    for rank, j in enumerate(order, start=1):
        listing_id, title, brand, price, path, description, rating, reviews, url = listings.row(rows[j])
        near = is_near_duplicate(float(semantic_cand[j]), query.title, title)
        cfacts = listings.facts(rows[j], twin)
        differences = _differences(qfacts, cfacts, twin)
        same = not differences and (near or bool(codes[j]) or _same_words(qfacts, cfacts, twin))
        cphrases = listings.phrases(listing_text(title, brand, description, listings.chars)) if explain else _Phrases(set())
        # Shared and unique as sets of words: 'basmati rice premium' is all said by 'Premium Basmati Rice'.
        price = float(price)
        out.append(
            Competitor(
                rank=rank,
                listing_id=str(listing_id),
                title=str(title),
                brand=str(brand),
                price=None if math.isnan(price) else price,
                category=" > ".join(path),
                score=round(float(score[j]), 4),
                semantic=round(float(semantic_cand[j]), 4),
                lexical=round(float(lexical_cand[j]), 4),
                fuzzy=round(float(fuzzy[j]), 4),
                attributes=round(float(adjust[j]), 4),
                code_match=bool(codes[j]),
                same_category=bool(same_cat[j]),
                near_duplicate=near,
                kind="twin" if same else "substitute",
                shared_phrases=listings.shown(qphrases.maximal(qphrases.said_by(cphrases.words))),
                unique_to_query=listings.shown(qphrases.maximal(qphrases.not_said_by(cphrases.words))),
                unique_to_competitor=listings.shown(cphrases.maximal(cphrases.not_said_by(qphrases.words))),
                differences=differences,
                rating=_number(rating),
                review_count=None if _number(reviews) is None else int(reviews),
                url="" if url is None or (isinstance(url, float) and math.isnan(url)) else str(url),
                price_vs_query=price_position(None if math.isnan(price) else price, query.price),
            )
        )
    return out, guessed


def _number(value) -> float | None:
    """A known number, or None for NaN, None or text."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def find_competitors(
    index: Index,
    text: str | None = None,
    *,
    listing_id: str | None = None,
    k: int = 10,
    filters: Filters | None = None,
    category_path: list[str] | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
    twin: TwinRule = TWIN,
    rerank: Rerank = RERANK,
    guess: CategoryGuess | None = GUESS,
    encoder=None,
    query_vector: np.ndarray | None = None,
    explain: bool = True,
    price: float | None = None,
) -> CompetitorResult:
    """Rank the index's listings that sell the same product or a substitute.

    Give either `text` (a pasted listing) or `listing_id` (a listing of the index, left out of its own
    results). Candidates come from the semantic and the lexical top lists, then every candidate gets
    all score components and the weighted sum ranks them. `price` (the query's; a listing of the index
    has its own) sets each competitor's `price_vs_query`.
    """
    _check_k(k)
    exclude: int | None = None
    if listing_id is not None:
        row = index.row_of(str(listing_id))
        if row is None:
            raise QueryError(f"Listing id '{listing_id}' is not in the index at '{index.path}'.", parameter="listing_id")
        exclude = row
        rec = index.listings.iloc[row]
        text = listing_text(rec["title"], rec["brand"], rec["description"], index.manifest["text"]["description_chars"])
        if price is None:
            price = _number(rec["price"])
        query = _Query(text, rec["title"], category_path if category_path is not None else list(rec["category_path"]),
                       price, str(rec["brand"] or ""), match=listing_text(rec["title"], rec["brand"]))
        qvec = np.asarray(index.vectors[row], dtype=np.float32)
    else:
        query = _text_query(text, category_path, _number(price))
        qvec = query_vector if query_vector is not None else (encoder or index.encoder()).encode_one(query.text)
    cand, semantic, lexical = _candidates(index, qvec, index.query_lexical(query.match), _blocked(index, filters, exclude),
                                          _pool(k))
    competitors, guessed = _rank(_Listings(index, explain), query, cand, semantic, lexical, k=k, weights=weights,
                                 twin=twin, rerank=rerank, guess=guess)
    return CompetitorResult(query_text=query.text, query_id=listing_id, competitors=competitors, query_price=query.price,
                            category_guessed=guessed)


def _query_vectors(index: Index, texts: list[str]) -> np.ndarray:
    """The texts in the index's vector space, encoded only where no vector is at hand.

    A text that is a listing's own text has that listing's vector (on indexes searched exactly, held in
    memory). Other texts come from the embedding cache when the build or an earlier batch left them
    there. Only the rest load the model (seconds) and are encoded in one batch (~400 texts/s for MiniLM
    on 2 cores), then cached when this machine has a cache.
    """
    from diffscan.analyses.usps import listing_texts
    from diffscan.encoder.cache import EmbeddingCache, text_key

    out = np.zeros((len(texts), index.vectors.shape[1]), dtype=np.float32)
    todo = list(range(len(texts)))
    if index.ann is None and index.postings is None and todo:
        if "competitors.text_rows" not in index.memo:
            index.memo["competitors.text_rows"] = {t: i for i, t in enumerate(listing_texts(index))}
        rows = index.memo["competitors.text_rows"]
        found = [(i, rows[texts[i]]) for i in todo if texts[i] in rows]
        if found:
            out[[i for i, _ in found]] = index.vectors[[r for _, r in found]]
            todo = [i for i in todo if texts[i] not in rows]
    cache = EmbeddingCache(index.model_id)
    if not cache.folder.is_dir():
        cache = None  # no cache on this machine (or a model that skips it): queries do not start one
    if todo and cache is not None:
        keys = {i: text_key(texts[i]) for i in todo}
        hits = cache.get(list(keys.values()))
        for i in todo:
            if keys[i] in hits:
                out[i] = hits[keys[i]]
        todo = [i for i in todo if keys[i] not in hits]
    if todo:
        encoder = index.encoder()
        out[todo] = encoder.encode([texts[i] for i in todo], cache=cache if encoder.caches else None)
    return out


def find_competitors_batch(
    index: Index,
    queries: pd.DataFrame,
    *,
    k: int = 10,
    filters: Filters | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
    twin: TwinRule = TWIN,
    rerank: Rerank = RERANK,
    guess: CategoryGuess | None = GUESS,
    query_vectors: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Competitors for many listings (a canonical listings table): one row per query and rank.

    Each query's own category path (if any) is its category prior, as for a single query (one without
    gets the category its neighbours vote for: columns `category_guessed`, "" when none, and
    `category_confidence`), and its rows are those of `find_competitors(index, pasted_text(title, brand,
    description), category_path=..., query_vector=...)`, the vector being that of its listing text. Faster
    than that query by query: a query that is a listing's text takes its vector (others come
    from the embedding cache or are embedded in one batch), a block of queries' semantic candidates
    comes from one matrix product on indexes searched exactly, and what the ranking reads of a listing
    is read once per batch.

    query_vectors: the queries' vectors when already computed (rows align with `queries`).
    progress: called with (queries done, queries) as blocks of queries finish.
    """
    import pandas as pd

    from diffscan.core.lexical import term_counts, weigh

    _check_k(k)
    chars = index.manifest["text"]["description_chars"]
    fields = list(zip(queries["title"], queries["brand"], queries["description"]))
    vectors = (_query_vectors(index, [listing_text(t, b, d, chars) for t, b, d in fields]) if query_vectors is None
               else np.asarray(query_vectors, dtype=np.float32))
    texts = [pasted_text(t, b, d, chars) for t, b, d in fields]
    prices = queries["price"] if "price" in queries else [None] * len(queries)
    asked = [_text_query(t, list(p), _number(v)) for t, p, v in zip(texts, queries["category_path"], prices)]
    # `index.query_lexical` of every text at once: rows are weighed one by one, so each equals its query's.
    qlex = weigh(term_counts([q.match for q in asked]), index.idf) if asked else None
    blocked = _blocked(index, filters)
    pool = _pool(k)
    listings = _Listings(index, explain=True)
    exact = index.ann is None and index.postings is None
    step = max(1, min(_BLOCK_QUERIES, _BLOCK_CELLS // max(len(index), 1)))
    ids = [str(q) for q in queries["listing_id"].tolist()]
    rows: list[dict] = []
    if progress:
        progress(0, len(asked))
    for start in range(0, len(asked), step):
        stop = min(start + step, len(asked))
        if exact:
            found = _block_candidates(index, vectors[start:stop], qlex[start:stop], blocked, pool)
        else:
            found = [_candidates(index, vectors[i], qlex[i], blocked, pool) for i in range(start, stop)]
        listings.read(np.unique(np.concatenate([cand for cand, _, _ in found])).tolist())  # one read a block
        for i, (cand, semantic, lexical) in zip(range(start, stop), found):
            ranked, guessed = _rank(listings, asked[i], cand, semantic, lexical, k=k, weights=weights, twin=twin,
                                    rerank=rerank, guess=guess)
            head = {"query_id": ids[i], "query_title": texts[i].split("\n", 1)[0].split(" | ", 1)[0],
                    "category_guessed": "" if guessed is None else " > ".join(guessed.path),
                    "category_confidence": np.nan if guessed is None else round(guessed.confidence, 4)}
            # vars, not to_dict: the Competitor is dropped, so its lists need no deep copy (asdict: ~0.1 ms each)
            rows.extend({**head, **vars(c)} for c in ranked)
        if progress:
            progress(stop, len(asked))
    columns = ["query_id", "query_title", "category_guessed", "category_confidence", *Competitor.__dataclass_fields__.keys()]
    return pd.DataFrame(rows, columns=columns)
