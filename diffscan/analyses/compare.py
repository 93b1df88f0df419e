"""What changed between two snapshots of a catalog: listings, categories, clusters, niches, a watchlist.

Listings are matched by id, then (for ids that changed between exports) by the same text, then by a
near-duplicate match of the remaining ones (mutual best semantic match that passes the near-duplicate
rule). Everything else compares the two snapshots' own analyses (landscape at one category level,
niches) through that matching. Both indexes are only read.

A series of snapshots (`compare_series`) gives each category's saturation, listings and distinct offers
per snapshot: the trend lines of the "Changes" page and `diffscan compare A B C`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from diffscan.analyses.differentiation import differentiate
from diffscan.analyses.landscape import Landscape, analyze_landscape, choose_level
from diffscan.analyses.niches import Niche, catalog_demand, niches_and_pool, score_row_sets
from diffscan.core.similarity import NEAR_DUPLICATE, NearDuplicateRule
from diffscan.encoder.cache import text_key
from diffscan.errors import QueryError
from diffscan.index.store import Index

Progress = Callable[[str, int, int], None]

# Saturation parts whose change is reported per category (landscape's part_* columns).
PARTS = ("near_duplicates", "similarity", "crowding", "price", "brands", "labels")
# Listing fields whose edit makes a matched listing "changed".
COMPARED_FIELDS = ("title", "description", "brand", "price", "category_path")


@dataclass(frozen=True)
class CompareParams:
    """How two snapshots are compared.

    Parameters
    ----------
    rematch: match listings whose id is new to listings whose id is gone when their text is the same or
        they are near-duplicates (`rule`), as when an export rewrites its ids.
    rule: when two listings are the same offer (the near-duplicate rule of the landscape).
    block_rows: new listings scored against the old at a time when rematching (bounds memory).
    cluster_change: a cluster grew (shrank) when its size moved by at least this share of its old size...
    cluster_min_change: ...and by at least this many listings.
    price_change: a matched listing's price moved when it changed by at least this share.
    niches: how many niches of each snapshot are compared.
    niche_overlap: a new niche is an old one when this share of the smaller's listings are shared.
    opportunity_change: a niche's opportunity rose (fell) when it moved by at least this many points.
    watch_k: a watched listing's competitors are its top this many.
    examples: entrant titles shown per category, niche or watched listing.
    """

    rematch: bool = True
    rule: NearDuplicateRule = NEAR_DUPLICATE
    block_rows: int = 2048
    cluster_change: float = 0.2
    cluster_min_change: int = 2
    price_change: float = 0.01
    niches: int = 20
    niche_overlap: float = 0.5
    opportunity_change: float = 2.0
    watch_k: int = 10
    examples: int = 3


COMPARE = CompareParams()


@dataclass
class Comparison:
    """Two snapshots compared. Every table is plain data (`to_dict`); the front ends only present it.

    `listings`: one row per listing of either snapshot: status (added, removed, changed, unchanged),
        matched_by (id, text, near_duplicate or ""), old_id/new_id, title, category, prices and demand.
    `categories`: one row per category, ranked by rising saturation: then/now/change of the score, of
        each part, of listings, distinct offers, median price and top brand; entrants, leavers and cluster moves.
    `clusters`: one row per cluster of either snapshot that grew, shrank, appeared or went.
    `niches_opened` / `niches_closed`: niches of the new snapshot absent from the old shortlist (with why),
        and old niches gone from the new one (filled up by entrants, emptied, or outranked).
    `watchlist`: per watched listing, its differentiation then and now, new competitors and twins whose
        price moved.
    """

    old_path: str
    new_path: str
    level: int
    counts: dict[str, int]
    listings: pd.DataFrame
    categories: pd.DataFrame
    clusters: pd.DataFrame
    niches_opened: pd.DataFrame
    niches_closed: pd.DataFrame
    watchlist: pd.DataFrame
    note: str = ""
    params: CompareParams = COMPARE

    TABLES = ("listings", "categories", "clusters", "niches_opened", "niches_closed", "watchlist")

    def tables(self) -> dict[str, pd.DataFrame]:
        """The comparison's tables by name (the CSV and Markdown exports write one file each)."""
        return {name: getattr(self, name) for name in self.TABLES}

    def rising(self, n: int = 10) -> pd.DataFrame:
        """The categories whose saturation rose most."""
        c = self.categories
        return c[c["saturation_change"] > 0].head(n)

    def to_dict(self) -> dict:
        """The JSON document of `diffscan compare --format json`."""
        return {"schema": "diffscan.comparison/1", "old": self.old_path, "new": self.new_path, "level": self.level,
                "note": self.note, "counts": self.counts,
                **{name: frame.to_dict(orient="records") for name, frame in self.tables().items()}}


# ---- listings ---------------------------------------------------------------------------------------


def match_listings(old: Index, new: Index, *, params: CompareParams = COMPARE) -> pd.DataFrame:
    """Pairs of rows (old_row, new_row, matched_by): by id, else by the same text, else near-duplicates.

    Rows without a partner appear with -1 on the other side. Near-duplicate rematching needs both
    indexes to use one model (their vectors are compared); it is skipped otherwise.
    """
    old_ids = old.listings["listing_id"].astype(str).tolist()
    new_ids = new.listings["listing_id"].astype(str).tolist()
    old_row = {lid: i for i, lid in enumerate(old_ids)}
    pairs = [(old_row.get(lid, -1), j, "id") for j, lid in enumerate(new_ids)]
    if params.rematch:
        pairs = _rematch(old, new, pairs, params)
    matched_old = {o for o, _, _ in pairs if o >= 0}
    pairs += [(i, -1, "") for i in range(len(old_ids)) if i not in matched_old]
    frame = pd.DataFrame(pairs, columns=["old_row", "new_row", "matched_by"])
    frame.loc[frame["old_row"] < 0, "matched_by"] = ""
    return frame


def _rematch(old: Index, new: Index, pairs: list, params: CompareParams) -> list:
    """Give new-id listings the gone-id listing with the same text, else their near-duplicate."""
    free_old = set(range(len(old))) - {o for o, _, _ in pairs if o >= 0}
    free_new = [j for o, j, _ in pairs if o < 0]
    if not free_old or not free_new:
        return pairs
    found: dict[int, tuple[int, str]] = {}
    old_texts, new_texts = old.texts(), new.texts()
    by_text: dict[str, list[int]] = {}
    for i in sorted(free_old):
        by_text.setdefault(text_key(old_texts[i]), []).append(i)
    for j in free_new:
        rows = by_text.get(text_key(new_texts[j]))
        if rows:
            found[j] = (rows.pop(0), "text")
    free_old -= {o for o, _ in found.values()}
    rest = [j for j in free_new if j not in found]
    if free_old and rest and old.model_id == new.model_id:
        found.update(_near_duplicate_pairs(old, new, sorted(free_old), rest, params))
    return [(found[j][0], j, found[j][1]) if o < 0 and j in found else (o, j, m) for o, j, m in pairs]


def _near_duplicate_pairs(old: Index, new: Index, old_rows: list[int], new_rows: list[int],
                          params: CompareParams) -> dict[int, tuple[int, str]]:
    """Mutual best semantic matches between the two row sets that the near-duplicate rule accepts."""
    old_v = np.asarray(old.vectors[np.asarray(old_rows)], dtype=np.float32)
    best_old = np.empty(len(new_rows), dtype=np.int64)
    best_sim = np.empty(len(new_rows), dtype=np.float32)
    best_new_of_old = np.full(len(old_rows), -1, dtype=np.int64)
    best_sim_of_old = np.full(len(old_rows), -np.inf, dtype=np.float32)
    for start in range(0, len(new_rows), params.block_rows):
        block = np.asarray(new_rows[start:start + params.block_rows])
        sims = np.asarray(new.vectors[block], dtype=np.float32) @ old_v.T
        arg = sims.argmax(axis=1)
        best_old[start:start + len(block)] = arg
        best_sim[start:start + len(block)] = sims[np.arange(len(block)), arg]
        col_arg = sims.argmax(axis=0)
        col_best = sims[col_arg, np.arange(len(old_rows))]
        better = col_best > best_sim_of_old
        best_sim_of_old[better] = col_best[better]
        best_new_of_old[better] = col_arg[better] + start
    old_titles = old.listings["title"].astype(str).to_numpy()
    new_titles = new.listings["title"].astype(str).to_numpy()
    found = {}
    for k, j in enumerate(new_rows):
        o = int(best_old[k])
        if best_new_of_old[o] != k:
            continue
        if params.rule(float(best_sim[k]), new_titles[j], old_titles[old_rows[o]]):
            found[j] = (old_rows[o], "near_duplicate")
    return found


def _demand_values(index: Index) -> tuple[str, np.ndarray]:
    """The demand signal niches use (reviews, sales or rating), as one value per listing."""
    demand = catalog_demand(index)
    return demand.source, np.asarray(demand.values, dtype=float)


def listing_changes(old: Index, new: Index, matches: pd.DataFrame, old_categories: np.ndarray,
                    new_categories: np.ndarray, params: CompareParams = COMPARE) -> pd.DataFrame:
    """One row per listing of either snapshot: status, how it was matched, what moved."""
    o_df, n_df = old.listings, new.listings
    o_rows, n_rows = matches["old_row"].to_numpy(), matches["new_row"].to_numpy()
    has_o, has_n = o_rows >= 0, n_rows >= 0
    src_o, dem_o = _demand_values(old)
    src_n, dem_n = _demand_values(new)

    def col(df, rows, has, name, fill=None):
        values = df[name].to_numpy(dtype=object)
        return np.where(has, values[np.where(has, rows, 0)], fill)

    out = pd.DataFrame({
        "status": "",
        "matched_by": matches["matched_by"].to_numpy(),
        "old_id": col(o_df, o_rows, has_o, "listing_id", ""),
        "new_id": col(n_df, n_rows, has_n, "listing_id", ""),
        "title": np.where(has_n, col(n_df, n_rows, has_n, "title", ""), col(o_df, o_rows, has_o, "title", "")),
        "category": np.where(has_n, np.asarray(new_categories, dtype=object)[np.where(has_n, n_rows, 0)],
                             np.asarray(old_categories, dtype=object)[np.where(has_o, o_rows, 0)]),
        "old_price": pd.to_numeric(col(o_df, o_rows, has_o, "price", np.nan), errors="coerce"),
        "new_price": pd.to_numeric(col(n_df, n_rows, has_n, "price", np.nan), errors="coerce"),
        "old_demand": np.where(has_o, dem_o[np.where(has_o, o_rows, 0)], np.nan) if src_o != "market size" else np.nan,
        "new_demand": np.where(has_n, dem_n[np.where(has_n, n_rows, 0)], np.nan) if src_n != "market size" else np.nan,
        "changed_fields": "",
    })
    out["price_change"] = (out["new_price"] - out["old_price"]) / out["old_price"].where(out["old_price"] > 0)
    both = has_o & has_n
    edits = np.zeros(len(out), dtype=bool)
    fields_changed = [[] for _ in range(len(out))]
    for name in COMPARED_FIELDS:
        a = col(o_df, o_rows, both, name)
        b = col(n_df, n_rows, both, name)
        for i in np.flatnonzero(both):
            if not _same(a[i], b[i], name, params):
                fields_changed[i].append(name)
                edits[i] = True
    out["changed_fields"] = [", ".join(f) for f in fields_changed]
    out["status"] = np.select([~has_o, ~has_n, edits], ["added", "removed", "changed"], "unchanged")
    out["demand_source"] = src_n if src_n == src_o else f"{src_o} -> {src_n}"
    return out


def _same(a, b, name: str, params: CompareParams) -> bool:
    if name == "price":
        a, b = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
        if not (np.isfinite(a) and np.isfinite(b)):
            return np.isfinite(a) == np.isfinite(b)
        return abs(b - a) <= params.price_change * max(abs(a), 1e-9)
    if name == "category_path":
        return list(a if a is not None else []) == list(b if b is not None else [])
    a = "" if a is None or (isinstance(a, float) and np.isnan(a)) else str(a)
    b = "" if b is None or (isinstance(b, float) and np.isnan(b)) else str(b)
    return a == b


# ---- categories and clusters -----------------------------------------------------------------------


def _category_table(old_l: Landscape, new_l: Landscape, listings: pd.DataFrame, cluster_moves: pd.DataFrame,
                    params: CompareParams) -> pd.DataFrame:
    """Each category then and now, ranked by rising saturation (new and gone categories last)."""
    cols = ["listings", "distinct_offers", "saturation_score", *[f"part_{p}" for p in PARTS], "median_price",
            "top_brand", "crowded", "rank"]
    then = old_l.categories.set_index("category")[cols]
    now = new_l.categories.set_index("category")[cols]
    table = then.reset_index().merge(now.reset_index(), on="category", how="outer", suffixes=("_then", "_now"))
    table["status"] = np.select([table["listings_then"].isna(), table["listings_now"].isna()], ["new", "gone"], "both")
    table["saturation_change"] = table["saturation_score_now"] - table["saturation_score_then"]
    for p in PARTS:
        table[f"part_{p}_change"] = table[f"part_{p}_now"] - table[f"part_{p}_then"]
    table["listings_change"] = table["listings_now"].fillna(0) - table["listings_then"].fillna(0)
    table["distinct_offers_change"] = table["distinct_offers_now"].fillna(0) - table["distinct_offers_then"].fillna(0)
    added = listings[listings["status"] == "added"]
    removed = listings[listings["status"] == "removed"]
    # Demand per listing (reviews, sales or rating, as niches use it): the median of each snapshot's listings.
    table["median_demand_then"] = table["category"].map(listings[listings["status"] != "added"].groupby("category")["old_demand"].median())
    table["median_demand_now"] = table["category"].map(listings[listings["status"] != "removed"].groupby("category")["new_demand"].median())
    table["entrants"] = table["category"].map(added.groupby("category").size()).fillna(0).astype(int)
    table["leavers"] = table["category"].map(removed.groupby("category").size()).fillna(0).astype(int)
    examples = added.groupby("category")["title"].apply(lambda t: list(t.head(params.examples)))
    table["entrant_examples"] = table["category"].map(examples).apply(lambda v: v if isinstance(v, list) else [])
    for status in ("grew", "shrank", "new", "gone"):
        counts = cluster_moves[cluster_moves["status"] == status].groupby("category").size()
        table[f"clusters_{status}"] = table["category"].map(counts).fillna(0).astype(int)
    table = table.sort_values(["saturation_change", "listings_change", "category"], ascending=[False, False, True],
                              na_position="last").reset_index(drop=True)
    table.insert(0, "rising_rank", np.arange(1, len(table) + 1))
    for c in ("listings_then", "listings_now", "distinct_offers_then", "distinct_offers_now", "rank_then", "rank_now"):
        table[c] = table[c].astype("Int64")
    return table


def _cluster_moves(old_l: Landscape, new_l: Landscape, matches: pd.DataFrame, status: np.ndarray,
                   params: CompareParams) -> pd.DataFrame:
    """Clusters that grew, shrank, appeared or went, each new cluster paired with the old one most of
    its matched listings came from."""
    o_cluster = old_l.assignments["cluster_id"].to_numpy(dtype=object)
    n_cluster = new_l.assignments["cluster_id"].to_numpy(dtype=object)
    o_rows, n_rows = matches["old_row"].to_numpy(), matches["new_row"].to_numpy()
    both = (o_rows >= 0) & (n_rows >= 0)
    pair_counts = Counter(zip(n_cluster[n_rows[both]], o_cluster[o_rows[both]]))
    source: dict[str, tuple[str, int]] = {}
    for (nc, oc), k in pair_counts.items():
        if k > source.get(nc, ("", 0))[1]:
            source[nc] = (oc, k)
    entrants = Counter(n_cluster[n_rows[(status == "added") & (n_rows >= 0)]])
    leavers = Counter(o_cluster[o_rows[(status == "removed") & (o_rows >= 0)]])
    o_info = old_l.clusters.set_index("cluster_id")
    n_info = new_l.clusters.set_index("cluster_id")
    rows = []
    for nc, info in n_info.iterrows():
        oc = source.get(nc, ("", 0))[0]
        then = int(o_info.at[oc, "size"]) if oc else 0
        now = int(info["size"])
        rows.append(_move(info["category"], nc, oc, info["label"], then, now, entrants[nc], leavers[oc] if oc else 0,
                          params))
    claimed = {oc for oc, _ in source.values()}
    for oc, info in o_info.iterrows():
        if oc not in claimed:
            rows.append(_move(info["category"], "", oc, info["label"], int(info["size"]), 0, 0, leavers[oc], params))
    frame = pd.DataFrame(rows, columns=["category", "status", "new_cluster_id", "old_cluster_id", "label",
                                        "size_then", "size_now", "size_change", "entrants", "leavers"])
    return frame[frame["status"] != "same"].sort_values(["size_change", "category"], ascending=[False, True],
                                                        key=lambda s: s.abs() if s.name == "size_change" else s
                                                        ).reset_index(drop=True)


def _move(category, nc, oc, label, then, now, entrants, leavers, params: CompareParams) -> dict:
    change = now - then
    if not oc:
        status = "new"
    elif not nc:
        status = "gone"
    elif _enough(abs(change), then, params):
        status = "grew" if change > 0 else "shrank"
    else:
        status = "same"
    return {"category": category, "status": status, "new_cluster_id": nc, "old_cluster_id": oc, "label": label,
            "size_then": then, "size_now": now, "size_change": change, "entrants": int(entrants),
            "leavers": int(leavers)}


# ---- niches ---------------------------------------------------------------------------------------


@dataclass
class _Snapshots:
    """What the niche comparison reads of both snapshots, and the listing pairing between them."""

    old: Index
    new: Index
    old_l: Landscape
    new_l: Landscape
    listings: pd.DataFrame

    def __post_init__(self) -> None:
        pairs = self.listings[(self.listings["old_id"] != "") & (self.listings["new_id"] != "")]
        self.new_of_old = dict(zip(pairs["old_id"], pairs["new_id"]))
        self.old_of_new = dict(zip(pairs["new_id"], pairs["old_id"]))
        self.status_new = dict(zip(self.listings["new_id"], self.listings["status"]))
        self.status_old = dict(zip(self.listings["old_id"], self.listings["status"]))
        # Entrants, looked at by every closed niche: their rows and vectors once.
        self.added_rows = self.rows(self.new, self.listings.loc[self.listings["status"] == "added", "new_id"])
        self.added_vectors = np.asarray(self.new.vectors[self.added_rows], dtype=np.float32)
        self.new_titles = self.new.listings["title"].astype(str).to_numpy()

    def rows(self, index: Index, ids) -> np.ndarray:
        return np.asarray([r for r in (index.row_of(i) for i in ids) if r is not None], dtype=np.int64)

    def old_rows_of(self, new_ids) -> np.ndarray:
        return self.rows(self.old, [self.old_of_new[i] for i in new_ids if i in self.old_of_new])

    def new_rows_of(self, old_ids) -> np.ndarray:
        return self.rows(self.new, [self.new_of_old[i] for i in old_ids if i in self.new_of_old])


def _niche_changes(snap: _Snapshots, old_niches: tuple[list[Niche], pd.DataFrame],
                   new_niches: tuple[list[Niche], pd.DataFrame], params: CompareParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Niches opened and closed, with why and the niche's opportunity in the other snapshot (its listings
    that are there, scored the same way).

    Opened: on the new shortlist and not the old, or the best candidate niche left in a cluster that
    thinned out (listings left) whose opportunity rose. Closed: the mirror image (off the shortlist, or
    the best candidate of a cluster that entrants filled, whose opportunity fell)."""
    old_sets = [{snap.new_of_old[i] for i in n.listing_ids if i in snap.new_of_old} for n in old_niches[0]]
    new_sets = [set(n.listing_ids) for n in new_niches[0]]

    def overlaps(a: set, b: set) -> bool:
        return bool(a and b) and len(a & b) >= params.niche_overlap * min(len(a), len(b))

    opened = [_entry(n, ids) for n, ids in zip(new_niches[0], new_sets) if not any(overlaps(ids, o) for o in old_sets)]
    closed = [_entry(n, ids) for n, ids in zip(old_niches[0], old_sets) if not any(overlaps(ids, s) for s in new_sets)]
    # Thinned-out clusters (listings left) open room; clusters entrants filled close it.
    for regions, pool, index, found in ((_thinned(snap, params), new_niches[1], snap.new, opened),
                                        (_filled(snap, params), old_niches[1], snap.old, closed)):
        region_of = np.full(len(index), -1, dtype=np.int64)
        for k, region in enumerate(regions):
            region_of[region.members] = k
        taken: set[int] = set()
        ids_of = index.listings["listing_id"].to_numpy()
        for c in pool.itertuples():  # best first: each region's first candidate that lies mostly in it
            where = region_of[c.rows]
            k = int(np.bincount(where[where >= 0]).argmax()) if (where >= 0).any() else -1
            if k < 0 or k in taken or (where == k).sum() * 2 < len(c.rows):
                continue
            taken.add(k)
            ids = {str(i) for i in ids_of[c.rows]}
            mapped = ids if index is snap.new else {snap.new_of_old[i] for i in ids if i in snap.new_of_old}
            if not any(overlaps(mapped, e["_ids"]) for e in found):
                found.append({"rank": None, "niche_id": c.niche_id, "name": regions[k].label, "category": c.category,
                              "size": len(c.rows), "opportunity": c.opportunity, "listing_ids": sorted(ids),
                              "_ids": mapped, "_move": regions[k], "_other_rows": regions[k].other_rows})
    then = score_row_sets(snap.old, snap.old_l, [e["_other_rows"] if e["_move"] is not None
                                                 else snap.old_rows_of(e["listing_ids"]) for e in opened])
    now = score_row_sets(snap.new, snap.new_l, [e["_other_rows"] if e["_move"] is not None
                                                else snap.new_rows_of(e["listing_ids"]) for e in closed])
    opened = [_opened_why(e, t, snap, params) for e, t in zip(opened, then)]
    closed = [_closed_why(e, n, snap, params) for e, n in zip(closed, now)]
    opened = [e for e in opened if e is not None]
    closed = [e for e in closed if e is not None]
    cols = ["rank", "niche_id", "name", "category", "size", "opportunity_then", "opportunity", "why", "entrants",
            "listing_ids"]
    closed_cols = ["rank", "niche_id", "name", "category", "size", "opportunity", "opportunity_now", "why", "entrants",
                   "entrant_examples", "listing_ids"]
    return (pd.DataFrame(opened, columns=cols).sort_values("opportunity", ascending=False).reset_index(drop=True),
            pd.DataFrame(closed, columns=closed_cols).sort_values("opportunity", ascending=False).reset_index(drop=True))


@dataclass
class _Region:
    """A cluster that thinned out or filled up: its listings in the snapshot where niches are looked for
    (`members`), and the cluster in the other snapshot (`other_rows`), the region a niche's room is
    compared with."""

    label: str
    members: np.ndarray
    other_rows: np.ndarray
    size_then: int
    size_now: int
    leavers: int = 0
    entrants: int = 0


def _enough(moved: int, size: int, params: CompareParams) -> bool:
    return moved >= max(params.cluster_min_change, params.cluster_change * size)


def _thinned(snap: _Snapshots, params: CompareParams) -> list[_Region]:
    """Old clusters that listings left, with their survivors (new rows)."""
    return _moved_clusters(snap.old_l, snap.listings, "old_id", "removed", snap.new_rows_of, params)


def _filled(snap: _Snapshots, params: CompareParams) -> list[_Region]:
    """New clusters that entrants joined, with their listings that were already there (old rows)."""
    return _moved_clusters(snap.new_l, snap.listings, "new_id", "added", snap.old_rows_of, params)


def _moved_clusters(land: Landscape, listings: pd.DataFrame, id_col: str, moved: str,
                    rows_elsewhere: Callable, params: CompareParams) -> list[_Region]:
    """Clusters of one snapshot (not a category's leftover singletons) that enough listings left
    (`moved` "removed") or joined ("added"), each with its other listings' rows in the other snapshot."""
    a = land.assignments
    status = listings[listings[id_col] != ""].set_index(id_col)["status"]
    labels = land.clusters.set_index("cluster_id")["label"]
    regions = []
    for cluster, rows in a.groupby("cluster_id", sort=True).indices.items():
        if a["is_singleton"].iloc[rows].all():
            continue
        ids = a["listing_id"].iloc[rows]
        count = int((status.reindex(ids) == moved).sum())
        stayed = rows_elsewhere(ids)
        if not len(stayed) or not _enough(count, len(rows) if moved == "removed" else len(stayed), params):
            continue
        if moved == "removed":  # members: the survivors; then: the cluster as it was
            regions.append(_Region(str(labels[cluster]), stayed, rows, len(rows), len(stayed), leavers=count))
        else:  # members: the listings that were there; now: the cluster as it became
            regions.append(_Region(str(labels[cluster]), stayed, rows, len(stayed), len(rows), entrants=count))
    return regions


def _entry(n: Niche, ids: set) -> dict:
    return {"rank": n.rank, "niche_id": n.niche_id, "name": n.name, "category": n.category, "size": n.size,
            "opportunity": n.opportunity, "listing_ids": list(n.listing_ids), "_ids": ids, "_move": None}


def _opened_why(e: dict, then: float, snap: _Snapshots, params: CompareParams) -> dict | None:
    entrants = [i for i in e["listing_ids"] if snap.status_new.get(i) == "added"]
    move, now = e["_move"], e["opportunity"]
    if move is not None:  # a thinned-out cluster: it opened only if its opportunity rose
        if np.isfinite(then) and now - then < params.opportunity_change:
            return None
        why = (f"thinned out: {move.leavers} of the {move.size_then} listings of its cluster left "
               f"(opportunity {then:.0f} then, {now:.0f} now)")
    elif len(entrants) * 2 > len(e["listing_ids"]):
        why = f"new: {len(entrants)} of its {e['size']} listings entered since"
    elif np.isfinite(then) and now - then >= params.opportunity_change:
        why = f"rose: opportunity {then:.0f} then, {now:.0f} now"
    elif np.isfinite(then):
        why = f"crossed the shortlist's cut: opportunity {then:.0f} then, {now:.0f} now"
    else:
        why = "new on the shortlist"
    return {k: v for k, v in e.items() if not k.startswith("_")} | {
        "opportunity_then": then, "why": why, "entrants": len(entrants)}


def _closed_why(e: dict, now: float, snap: _Snapshots, params: CompareParams) -> dict | None:
    move, then = e["_move"], e["opportunity"]
    gone = sum(snap.status_old.get(i) == "removed" for i in e["listing_ids"])
    fillers = _fillers(snap, e["_ids"], params)
    if move is not None:
        if np.isfinite(now) and then - now < params.opportunity_change:
            return None
        why = (f"filled up: {move.entrants} entrants joined its cluster ({move.size_then} -> {move.size_now} listings; "
               f"opportunity {then:.0f} then, {now:.0f} now)")
    elif fillers:
        why = f"filled up: {len(fillers)} entrants copy its listings"
    elif gone * 2 > len(e["listing_ids"]):
        why = f"emptied: {gone} of its {e['size']} listings left"
    elif np.isfinite(now) and then - now >= params.opportunity_change:
        why = f"fell: opportunity {then:.0f} then, {now:.0f} now"
    elif np.isfinite(now):
        why = f"outranked: opportunity {then:.0f} then, {now:.0f} now, and other niches rose above it"
    else:
        why = "off the shortlist"
    return {k: v for k, v in e.items() if not k.startswith("_")} | {
        "opportunity_now": now, "why": why, "entrants": len(fillers), "entrant_examples": fillers[:params.examples]}


def _fillers(snap: _Snapshots, ids: set[str], params: CompareParams) -> list[str]:
    """Titles of entrants that are near-duplicates of an old niche's surviving listings."""
    rows = snap.rows(snap.new, ids)
    if not len(rows) or not len(snap.added_rows):
        return []
    sims = snap.added_vectors @ np.asarray(snap.new.vectors[rows], dtype=np.float32).T
    titles = snap.new_titles
    out = []
    for k, r in enumerate(snap.added_rows):
        j = int(sims[k].argmax())
        if params.rule(float(sims[k, j]), titles[r], titles[rows[j]]):
            out.append(titles[r])
    return out


# ---- watchlist -------------------------------------------------------------------------------------


def _watch(old: Index, new: Index, watch: Sequence[str], texts: Sequence[str], listings: pd.DataFrame,
           params: CompareParams) -> pd.DataFrame:
    """Per watched listing (an id of either snapshot, or a pasted text): what moved around it."""
    old_of_new = dict(zip(listings["new_id"], listings["old_id"]))
    new_of_old = dict(zip(listings["old_id"], listings["new_id"]))
    status_new = dict(zip(listings["new_id"], listings["status"]))
    price_change = dict(zip(listings["new_id"], listings["price_change"]))
    rows = []
    queries = [("id", str(w)) for w in watch] + [("text", t) for t in texts]
    for kind, q in queries:
        if kind == "id":
            new_id = q if new.row_of(q) is not None else new_of_old.get(q, "")
            old_id = q if old.row_of(q) is not None else old_of_new.get(q, "")
        else:
            new_id = old_id = ""
        now = _differentiation(new, q if kind == "text" else None, new_id or None, kind, params)
        then = _differentiation(old, q if kind == "text" else None, old_id or None, kind, params)
        now_ids = [c.listing_id for c in now.competitors] if now else []
        then_ids = {new_of_old.get(c.listing_id, "") for c in then.competitors} if then else set()
        entered = [c for c in (now.competitors if now else []) if c.listing_id not in then_ids]
        twins = [c for c in (now.competitors if now else []) if c.kind == "twin"]
        moved = [c for c in twins if np.isfinite(price_change.get(c.listing_id, np.nan))
                 and abs(price_change[c.listing_id]) >= params.price_change]
        new_twins = [c for c in entered if c.kind == "twin"]
        rows.append({
            "watched": q, "listing_id": new_id or old_id, "title": now.title if now else then.title,
            "in_new": bool(now and (kind == "text" or new_id)), "in_old": bool(then and (kind == "text" or old_id)),
            "differentiation_then": then.score if then else np.nan, "differentiation_now": now.score if now else np.nan,
            "competitors_now": len(now_ids),
            "new_competitors": [{"listing_id": c.listing_id, "title": c.title, "kind": c.kind, "score": c.score,
                                 "entrant": status_new.get(c.listing_id) == "added"} for c in entered],
            "new_twins": [c.title for c in new_twins],
            "twin_price_moves": [{"listing_id": c.listing_id, "title": c.title, "price": c.price,
                                  "change": float(price_change[c.listing_id])} for c in moved],
        })
    frame = pd.DataFrame(rows, columns=["watched", "listing_id", "title", "in_old", "in_new", "differentiation_then",
                                        "differentiation_now", "competitors_now", "new_competitors", "new_twins",
                                        "twin_price_moves"])
    frame.insert(7, "differentiation_change", frame["differentiation_now"] - frame["differentiation_then"])
    return frame


def _differentiation(index: Index, text: str | None, listing_id: str | None, kind: str, params: CompareParams):
    if kind == "id" and listing_id is None:
        return None
    return differentiate(index, text, listing_id=listing_id, k=params.watch_k)


# ---- the comparison --------------------------------------------------------------------------------


def compare_indexes(
    old: Index,
    new: Index,
    *,
    level: int | None = None,
    watch: Sequence[str] = (),
    watch_texts: Sequence[str] = (),
    params: CompareParams = COMPARE,
    landscapes: tuple[Landscape, Landscape] | None = None,
    niches: tuple[tuple[list[Niche], pd.DataFrame], tuple[list[Niche], pd.DataFrame]] | None = None,
    progress: Progress | None = None,
) -> Comparison:
    """Compare two snapshots (old, new) of a catalog; neither index is modified.

    `level` is the category depth of both landscapes (None: the new snapshot's default level).
    `watch` are listing ids (of either snapshot) and `watch_texts` pasted listings to follow.
    `landscapes` are the two snapshots' landscapes at that level, and `niches` their
    `niches.niches_and_pool(index, landscape, top=params.niches)`, when already computed.
    """
    for q in watch:  # before any work: an id of neither snapshot is a typo
        if old.row_of(str(q)) is None and new.row_of(str(q)) is None:
            raise QueryError(f"The watched listing '{q}' is in neither snapshot.", parameter="watch")
    if level is None:
        level, _ = choose_level(new.listings["category_path"].tolist())
    _step(progress, "match", 0, 5)
    matches = match_listings(old, new, params=params)
    _step(progress, "landscapes", 1, 5)
    if landscapes is None:
        landscapes = (analyze_landscape(old, level), analyze_landscape(new, level))
    old_l, new_l = landscapes
    old_cat = old_l.assignments["category"].to_numpy(dtype=object)
    new_cat = new_l.assignments["category"].to_numpy(dtype=object)
    listings = listing_changes(old, new, matches, old_cat, new_cat, params)
    moves = _cluster_moves(old_l, new_l, matches, listings["status"].to_numpy(), params)
    categories = _category_table(old_l, new_l, listings, moves, params)
    _step(progress, "niches", 2, 5)
    old_n, new_n = niches if niches is not None else (niches_and_pool(old, old_l, top=params.niches),
                                                      niches_and_pool(new, new_l, top=params.niches))
    opened, closed = _niche_changes(_Snapshots(old, new, old_l, new_l, listings), old_n, new_n, params)
    _step(progress, "watchlist", 3, 5)
    watched = _watch(old, new, watch, watch_texts, listings, params)
    _step(progress, "done", 5, 5)
    counts = {s: int((listings["status"] == s).sum()) for s in ("added", "removed", "changed", "unchanged")}
    counts.update({f"matched_by_{m}": int((listings["matched_by"] == m).sum()) for m in ("id", "text", "near_duplicate")})
    note = "" if old.model_id == new.model_id else (
        f"The snapshots use different models ({old.model_id} and {new.model_id}): listings whose id changed were "
        "matched by their text only.")
    if level == 0:
        note = (note + " " if note else "") + ("Neither snapshot has categories at this level: categories are "
                                               "clusters named from their titles, and a name that changed reads "
                                               "as a new category.")
    return Comparison(old_path=str(old.path), new_path=str(new.path), level=level, counts=counts, listings=listings,
                      categories=categories, clusters=moves, niches_opened=opened, niches_closed=closed,
                      watchlist=watched, note=note, params=params)


def _step(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress:
        progress(stage, done, total)


@dataclass
class Series:
    """Each category's saturation, listings and distinct offers in each of several snapshots."""

    snapshots: list[str]
    level: int
    trend: pd.DataFrame  # snapshot, order, category, saturation_score, listings, distinct_offers, crowded
    landscapes: list[Landscape] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        return {"schema": "diffscan.series/1", "snapshots": self.snapshots, "level": self.level,
                "trend": self.trend.to_dict(orient="records")}


def compare_series(indexes: Sequence[Index], *, names: Sequence[str] | None = None, level: int | None = None,
                   landscapes: Sequence[Landscape] | None = None) -> Series:
    """The trend of every category over snapshots in time order (oldest first), at one category level."""
    if len(indexes) < 2:
        raise QueryError("A series needs at least two snapshots.", parameter="indexes")
    names = list(names) if names is not None else [str(i.path) for i in indexes]
    if level is None:
        level, _ = choose_level(indexes[-1].listings["category_path"].tolist())
    if landscapes is None:
        landscapes = [analyze_landscape(i, level) for i in indexes]
    frames = []
    for order, (name, land) in enumerate(zip(names, landscapes)):
        c = land.categories[["category", "saturation_score", "listings", "distinct_offers", "crowded"]].copy()
        c.insert(0, "order", order)
        c.insert(0, "snapshot", name)
        frames.append(c)
    return Series(snapshots=names, level=level, trend=pd.concat(frames, ignore_index=True), landscapes=list(landscapes))


__all__ = ["COMPARE", "CompareParams", "Comparison", "Series", "compare_indexes", "compare_series",
           "listing_changes", "match_listings"]
