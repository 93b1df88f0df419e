"""What sets one listing apart: a differentiation score, its table stakes, its USPs and suggestions.

The listing is compared with its nearest competitors (`competitors.find_competitors`). A phrase or
attribute the listing states is a **USP** when fewer than 20% of those competitors state it, and
**table stakes** when at least 60% do. Suggestions name what the best-rated or most-reviewed
competitors state and the listing does not, what most competitors state and it lacks, and attributes
that sell nearby but that no close competitor offers (white space). See docs/niches.md.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from diffscan.analyses.competitors import Competitor, find_competitors
from diffscan.analyses.usps import (
    TABLE_STAKES_MIN_SHARE,
    USP_MAX_SHARE,
    Point,
    Stated,
    count_keys,
    listing_attributes,
    listing_stated,
    pick_common,
    stated,
    table_stakes,
    title_brand,
    usps,
)
from diffscan.core.attributes import (
    attribute_keys,
)
from diffscan.core.similarity import COSINE_SCALE
from diffscan.core.text import tokens
from diffscan.errors import QueryError
from diffscan.index.store import Index

LEADER_MIN_SHARE = 0.50  # a leaders' suggestion: stated by at least half of the leaders
NEAREST = 5  # the score's distance uses the mean similarity to this many nearest competitors


SCORE_WEIGHTS = {"distance": 0.60, "unique_share": 0.25, "no_near_duplicates": 0.15}
WIDER = 5  # white-space suggestions look at competitors ranked k+1 .. WIDER*k
MARKET_SHARE = 0.25  # ... in the categories holding at least this share of the close competitors


@dataclass
class Suggestion:
    """Something to add to the listing, and why."""

    text: str
    key: str
    kind: str
    reason: str  # "leaders", "table stakes" or "white space"
    detail: str  # one sentence a seller can act on
    share: float  # share of the close competitors that state it
    examples: list[str] = field(default_factory=list)  # listing ids that state it

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Differentiation:
    """How far one listing stands from its nearest competitors, and on what."""

    listing_id: str | None
    title: str
    text: str
    score: float  # 0-100, see SCORE_WEIGHTS and docs/niches.md
    components: dict[str, float]  # the score's parts, each 0-1
    nearest_similarity: float  # mean cosine to the NEAREST closest competitors
    compared: int  # how many competitors the shares are computed over
    near_duplicates: int
    demand_source: str | None  # what ranked the leaders: "reviews", "rating" or None
    table_stakes: list[Point]
    usps: list[Point]
    suggestions: list[Suggestion]
    competitors: list[Competitor]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["schema"] = "diffscan.differentiation/1"
        return data


def _demand(listings, rows: list[int]) -> tuple[np.ndarray, str | None]:
    """Demand of the given rows: review counts where any exist, else ratings (0 means unrated)."""
    if not rows:
        return np.zeros(0), None
    reviews = listings["review_count"].to_numpy(dtype=float)[rows]
    if np.isfinite(reviews).any() and np.nansum(reviews) > 0:
        return np.nan_to_num(reviews, nan=0.0), "reviews"
    ratings = listings["rating"].to_numpy(dtype=float)[rows]
    ratings = np.where(ratings > 0, ratings, np.nan)
    if np.isfinite(ratings).any():
        return np.nan_to_num(ratings, nan=0.0), "rating"
    return np.zeros(len(rows)), None


def _title_claims(comp_stated: list[Stated]) -> set[str]:
    """Keys fit for suggestions: attributes, and phrases of 2+ words some competitor puts in its title."""
    out: set[str] = set()
    for s in comp_stated:
        out |= set(s.attributes)
        out |= {f"phrase:{p}" for p in s.title_phrases if len(p.split()) >= 2}
    return out


def _leader_suggestions(own: Stated, comp_stated: list[Stated], demand: np.ndarray, source: str | None,
                        ids: list[str], counts: Counter) -> list[Suggestion]:
    """What most of the best-rated / most-reviewed competitors state and the listing does not."""
    n = len(comp_stated)
    if source is None or n == 0:
        return []
    top = max(3, math.ceil(n / 4))
    leaders = [int(i) for i in np.argsort(-demand, kind="stable")[:top] if demand[i] > 0]
    if len(leaders) < 2:
        return []
    lead_counts = count_keys([comp_stated[i] for i in leaders])
    claims = _title_claims([comp_stated[i] for i in leaders])
    mine = own.keys()
    wanted = {k for k, c in lead_counts.items()
              if c >= LEADER_MIN_SHARE * len(leaders) and k not in mine and k in claims and not _said_otherwise(k, own)}
    label = "most-reviewed" if source == "reviews" else "best-rated"
    out = []
    for pt in pick_common(wanted, counts, n, _wordings(comp_stated, wanted))[:5]:
        examples = [ids[i] for i in leaders if pt.key in comp_stated[i].keys()][:3]
        detail = f"{lead_counts[pt.key]} of the {len(leaders)} {label} competitors state '{pt.text}'; this listing does not."
        out.append(Suggestion(pt.text, pt.key, pt.kind, "leaders", detail, pt.share, examples))
    return out


def _said_otherwise(key: str, own: Stated) -> bool:
    """A phrase naming an attribute the listing already states in other words ('stainless steel' vs '不锈钢')."""
    return key.startswith("phrase:") and any(k in own.attributes for k in attribute_keys(key[len("phrase:"):]))


def _wordings(stated_list: list[Stated], keys: set[str]) -> dict[str, str]:
    """The first wording of each attribute key among the texts."""
    out: dict[str, str] = {}
    for s in stated_list:
        for k, w in s.attributes.items():
            if k in keys:
                out.setdefault(k, w)
    return out


def _missing_table_stakes(own: Stated, counts: Counter, comp_stated: list[Stated]) -> list[Suggestion]:
    """What at least TABLE_STAKES_MIN_SHARE of the competitors state and the listing does not."""
    n = len(comp_stated)
    if n == 0:
        return []
    mine, claims = own.keys(), _title_claims(comp_stated)
    missing = {k for k, c in counts.items()
               if c >= TABLE_STAKES_MIN_SHARE * n and k not in mine and k in claims and not _said_otherwise(k, own)}
    return [
        Suggestion(pt.text, pt.key, pt.kind, "table stakes",
                   f"{pt.count} of {n} competitors state '{pt.text}'; shoppers may expect it.", pt.share)
        for pt in pick_common(missing, counts, n, _wordings(comp_stated, missing))[:5]
    ]


_KIND_ORDER = {"material": 0, "feature": 1, "audience": 2, "use": 3, "colour": 4, "size": 5, "quantity": 6}


def _white_space(own: Stated, counts: Counter, wider_attrs: list[dict[str, str]], wider_ids: list[str]) -> list[Suggestion]:
    """Attributes that listings a little further away state but no close competitor (nor the listing) does.

    A word the listing already says in another sense is not suggested ('green' to a green tea).
    """
    mine = own.keys()
    found: dict[str, list[int]] = {}
    for i, attrs in enumerate(wider_attrs):
        for key, wording in attrs.items():
            if key not in mine and counts.get(key, 0) == 0 and " ".join(tokens(wording)) not in own.phrases:
                found.setdefault(key, []).append(i)
    ranked = sorted(found.items(), key=lambda kv: (_KIND_ORDER.get(kv[0].split(":")[0], 9), -len(kv[1]), kv[0]))
    out = []
    for key, rows in ranked[:5]:
        wording = wider_attrs[rows[0]][key]
        detail = f"No close competitor offers '{wording}'; {len(rows)} listing(s) a little further away do."
        out.append(Suggestion(wording, key, key.split(":")[0], "white space", detail, 0.0, [wider_ids[i] for i in rows[:3]]))
    return out


def _market(close: list[Competitor], own_category: str | None) -> set[str]:
    """The categories a listing competes in: its own, its close competitors' most common, and any holding
    MARKET_SHARE of them. White space is read there only: a kettle's 'electric' or a camping pot's
    'titanium' a little further from a water bottle is another product, not an attribute to add."""
    counts = Counter(c.category for c in close)
    market = {cat for cat, n in counts.items() if n >= MARKET_SHARE * len(close)}
    market |= {cat for cat, _ in counts.most_common(1)}
    return market | ({own_category} if own_category is not None else set())


def differentiation_score(semantic: list[float], unique_share: float, near_duplicates: int) -> tuple[float, dict[str, float], float]:
    """(score 0-100, components 0-1, nearest similarity) from the competitors' cosine similarities.

    score = 100 x (0.60 distance + 0.25 unique_share + 0.15 no_near_duplicates), where distance maps
    the mean cosine of the 5 nearest competitors linearly from 0.95 (near-duplicates: 0) to 0.40 (1).
    """
    if not semantic:
        return 100.0, {"distance": 1.0, "unique_share": 1.0, "no_near_duplicates": 1.0}, 0.0
    nearest = float(np.mean(sorted(semantic, reverse=True)[:NEAREST]))
    distance = min(1.0, max(0.0, (COSINE_SCALE.near - nearest) / (COSINE_SCALE.near - COSINE_SCALE.far)))
    parts = {"distance": round(distance, 4), "unique_share": round(unique_share, 4),
             "no_near_duplicates": round(1 - near_duplicates / len(semantic), 4)}
    score = 100 * sum(SCORE_WEIGHTS[name] * value for name, value in parts.items())
    return round(score, 1), parts, round(nearest, 4)


def _unique_share(title: str, brand: str, counts: Counter, n: int) -> float:
    """Share of the title's phrases and attributes that fewer than USP_MAX_SHARE of the competitors state."""
    keys = stated(title, brand).candidates()
    if not keys or n == 0:
        return 1.0 if n == 0 else 0.0
    return sum(counts.get(k, 0) < USP_MAX_SHARE * n for k in keys) / len(keys)


def differentiate(
    index: Index,
    text: str | None = None,
    *,
    listing_id: str | None = None,
    k: int = 20,
    encoder=None,
) -> Differentiation:
    """Compare one listing (pasted `text` or a `listing_id` of the index) with its k nearest competitors.

    Shares are over the k competitors; white-space suggestions look at the next (WIDER-1) x k, those in
    the listing's market (`_market`).
    """
    if k < 1:
        raise QueryError("k must be at least 1.")
    result = find_competitors(index, text, listing_id=listing_id, k=WIDER * k, encoder=encoder, explain=False)
    close, wider = result.competitors[:k], result.competitors[k:]
    df = index.listings
    if listing_id is not None:
        row = index.row_of(str(listing_id))
        own = listing_stated(index, row)
        title, brand = title_brand(index, row)
        own_category = " > ".join(df["category_path"].iat[row])
    else:
        title, brand = result.query_text.split("\n", 1)[0].strip()[:500], ""
        own = stated(result.query_text, brand, title)
        own_category = None
    rows = [index.row_of(c.listing_id) for c in close]
    comp_stated = [listing_stated(index, r) for r in rows]
    n = len(close)
    counts = count_keys(comp_stated)
    near = sum(c.near_duplicate for c in close)
    score, parts, nearest = differentiation_score([c.semantic for c in close], _unique_share(title, brand, counts, n), near)
    demand, source = _demand(df, rows)
    market = _market(close, own_category)
    wider = [c for c in wider if c.category in market]
    wider_rows = [index.row_of(c.listing_id) for c in wider]
    wider_attrs = [listing_attributes(index, r) for r in wider_rows]
    suggestions = _dedupe(
        _leader_suggestions(own, comp_stated, demand, source, [c.listing_id for c in close], counts)
        + _missing_table_stakes(own, counts, comp_stated)
        + _white_space(own, counts, wider_attrs, [c.listing_id for c in wider])
    )
    return Differentiation(
        listing_id=None if listing_id is None else str(listing_id), title=title, text=result.query_text,
        score=score, components=parts, nearest_similarity=nearest, compared=n, near_duplicates=near,
        demand_source=source, table_stakes=table_stakes(own, counts, n, title), usps=usps(own, counts, n, title),
        suggestions=suggestions, competitors=close,
    )


def _dedupe(suggestions: list[Suggestion]) -> list[Suggestion]:
    """One suggestion per key, the first reason wins."""
    seen: set[str] = set()
    out = []
    for s in suggestions:
        if s.key not in seen:
            seen.add(s.key)
            out.append(s)
    return out
