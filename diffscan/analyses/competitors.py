"""Who competes with this listing? A hybrid of semantic, lexical, fuzzy-title and model-number matching."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz

from diffscan.analyses.usps import catalog_segmenter, display
from diffscan.core.lexical import row_dots
from diffscan.core.similarity import is_near_duplicate, top_rows
from diffscan.core.text import listing_text, maximal, model_codes, phrases
from diffscan.errors import QueryError
from diffscan.index.store import Index

if TYPE_CHECKING:
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

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CompetitorResult:
    """The query as understood, and its ranked competitors."""

    query_text: str
    query_id: str | None
    competitors: list[Competitor]

    def to_dict(self) -> dict:
        """The JSON document of `diffscan competitors --format json` and the app's download."""
        return {"query": self.query_text, "query_id": self.query_id, "competitors": [c.to_dict() for c in self.competitors]}


def _candidates(
    index: Index, text: str, qvec: np.ndarray, blocked: np.ndarray, pool: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate rows (the top `pool` of the semantic and of the lexical list, never a blocked row),
    with their exact semantic and lexical cosines.

    Small indexes score every listing exactly. Large ones (an ANN graph and lexical postings) take each
    list's candidates from those structures and score only the candidates, still exactly: approximation
    can change which listings are candidates, never a candidate's score.
    """
    qlex = index.query_lexical(text)
    if index.ann is None and index.postings is None:
        semantic = np.asarray(index.vectors @ qvec, dtype=np.float32)
        lexical = np.asarray((qlex @ index.lexical_t).todense(), dtype=np.float32).ravel()
        semantic_c = np.where(blocked, -np.inf, semantic)
        lexical_c = np.where(blocked, -np.inf, lexical)
        cand = np.union1d(top_rows(semantic_c, pool), top_rows(lexical_c, pool))
        return cand, semantic[cand], lexical[cand]
    cand = np.union1d(index.semantic_candidates(qvec, pool, blocked), index.lexical_candidates(qlex, pool, blocked))
    semantic = np.asarray(index.vectors[cand] @ qvec, dtype=np.float32)
    return cand, semantic, row_dots(index.lexical, cand, qlex)


def find_competitors(
    index: Index,
    text: str | None = None,
    *,
    listing_id: str | None = None,
    k: int = 10,
    filters: Filters | None = None,
    category_path: list[str] | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
    encoder=None,
    query_vector: np.ndarray | None = None,
    explain: bool = True,
) -> CompetitorResult:
    """Rank the index's listings that sell the same product or a substitute.

    Give either `text` (a pasted listing) or `listing_id` (a listing of the index, left out of its own
    results). Candidates come from the semantic and the lexical top lists, then every candidate gets
    all score components and the weighted sum ranks them.
    """
    if k < 1:
        raise QueryError(f"The number of competitors asked for (k) must be at least 1, not {k}.", parameter="k")
    exclude: int | None = None
    if listing_id is not None:
        row = index.row_of(str(listing_id))
        if row is None:
            raise QueryError(f"Listing id '{listing_id}' is not in the index at '{index.path}'.", parameter="listing_id")
        exclude = row
        rec = index.listings.iloc[row]
        text = listing_text(rec["title"], rec["brand"], rec["description"], index.manifest["text"]["description_chars"])
        title = rec["title"]
        category_path = category_path if category_path is not None else list(rec["category_path"])
        qvec = np.asarray(index.vectors[row], dtype=np.float32)
    else:
        if text is None or not text.strip():
            raise QueryError("The query is empty: paste a listing title (and optionally its description).", parameter="text")
        text = text.strip()
        title = text.split("\n", 1)[0][:500]
        qvec = query_vector if query_vector is not None else (encoder or index.encoder()).encode_one(text)

    allowed = filters.mask(index) if filters else None
    blocked = np.zeros(len(index), dtype=bool) if allowed is None else ~allowed
    if exclude is not None:
        blocked[exclude] = True
    pool = max(50, 5 * k)
    cand, semantic_cand, lexical_cand = _candidates(index, text, qvec, blocked, pool)
    if len(cand) == 0:
        return CompetitorResult(query_text=text, query_id=listing_id, competitors=[])

    df = index.listings
    titles = df["title"].take(cand).tolist()  # only the candidates: converting every title costs O(n)
    qcodes = model_codes(text)
    fuzzy = np.array([fuzz.token_set_ratio(title, t) / 100.0 for t in titles], dtype=np.float32)
    codes = np.array([bool(qcodes & model_codes(t)) for t in titles]) if qcodes else np.zeros(len(cand), bool)
    qcat = [c.lower() for c in (category_path or [])]
    if qcat:
        paths = df["category_path"].take(cand).tolist()
        same_cat = np.array([[c.lower() for c in p] == qcat for p in paths])
    else:
        same_cat = np.zeros(len(cand), dtype=bool)
    score = (
        weights.semantic * semantic_cand
        + weights.lexical * lexical_cand
        + weights.fuzzy * fuzzy
        + weights.code * codes
        + weights.category * same_cat
    )
    order = np.argsort(-score, kind="stable")[:k]
    seg = catalog_segmenter(index) if explain else None  # Chinese words, with the catalog's brands
    qphrases = phrases(text, segmenter=seg) if explain else set()
    chars = index.manifest["text"]["description_chars"]
    out: list[Competitor] = []
    for rank, j in enumerate(order, start=1):
        i = int(cand[j])
        rec = df.iloc[i]
        near = is_near_duplicate(float(semantic_cand[j]), title, rec["title"])
        cphrases = (phrases(listing_text(rec["title"], rec["brand"], rec["description"], chars), segmenter=seg)
                    if explain else set())
        price = float(rec["price"])
        out.append(
            Competitor(
                rank=rank,
                listing_id=str(rec["listing_id"]),
                title=str(rec["title"]),
                brand=str(rec["brand"]),
                price=None if math.isnan(price) else price,
                category=" > ".join(rec["category_path"]),
                score=round(float(score[j]), 4),
                semantic=round(float(semantic_cand[j]), 4),
                lexical=round(float(lexical_cand[j]), 4),
                fuzzy=round(float(fuzzy[j]), 4),
                code_match=bool(codes[j]),
                same_category=bool(same_cat[j]),
                near_duplicate=near,
                kind="twin" if (near or codes[j]) else "substitute",
                shared_phrases=[display(p) for p in maximal(qphrases & cphrases)[:8]],
                unique_to_query=[display(p) for p in maximal(qphrases - cphrases)[:8]],
                unique_to_competitor=[display(p) for p in maximal(cphrases - qphrases)[:8]],
            )
        )
    return CompetitorResult(query_text=text, query_id=listing_id, competitors=out)


def find_competitors_batch(
    index: Index,
    queries: pd.DataFrame,
    *,
    k: int = 10,
    filters: Filters | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
) -> pd.DataFrame:
    """Competitors for many listings (a canonical listings table): one row per query and rank.

    Query texts are embedded in one batch; each query's own category path (if any) is used as its
    category prior, as for a single query.
    """
    import pandas as pd

    encoder = index.encoder()
    chars = index.manifest["text"]["description_chars"]
    texts = [listing_text(t, b, d, chars) for t, b, d in zip(queries["title"], queries["brand"], queries["description"])]
    vectors = encoder.encode(texts) if texts else np.zeros((0, index.vectors.shape[1]), np.float32)
    rows: list[dict] = []
    for qid, text, path, vec in zip(queries["listing_id"], texts, queries["category_path"], vectors):
        result = find_competitors(
            index, text, k=k, filters=filters, category_path=list(path), weights=weights, query_vector=vec
        )
        for c in result.competitors:
            rows.append({"query_id": str(qid), "query_title": text.split(" | ", 1)[0], **c.to_dict()})
    columns = ["query_id", "query_title", *Competitor.__dataclass_fields__.keys()]
    return pd.DataFrame(rows, columns=columns)
