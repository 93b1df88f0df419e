"""Snapshot comparison on real catalogs: planted changes between two snapshots made from one catalog.

    python -m bench.compare                    # Amazon UK toys and BigBasket, seed 0
    python -m bench.compare --catalog toys --seeds 0 1 2

The old snapshot is the catalog's index as built. The new one is made from it, in memory (the old index
folder is checksummed before and after: a comparison must not modify it), with four planted changes:
- 300 edited clones (word order, case, a size, a colour) of a mid-ranked category's listings added:
  that category must top the rising-saturation list;
- 80% of one cluster's listings removed (a real cluster of 15-300 listings, chosen at random): a niche
  made of its survivors (at least half of the niche's listings) must be among the niches opened;
- an edited clone of a watched listing added: it must be reported as the watched listing's new twin;
- every id rewritten (a second new snapshot): the same three must still be found, and the listings must
  still be paired with their old selves (share of correct pairs).

Baselines, in the same run: an id-only diff (what a spreadsheet VLOOKUP gives) for the pairing, and a
ranking of categories by listings gained for the rising-saturation check. Timing: `compare` once both
snapshots' analyses (landscape, niche shortlist and pool) exist, the analyses themselves, and the whole
comparison from scratch (the snapshot with rewritten ids).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bench.common import require_datasets, table
from bench.landscape import CLONES, _edit
from bench.niches import CATALOGS, MAX_CLUSTER, MIN_CLUSTER, full_index
from diffscan.analyses.compare import COMPARE, compare_indexes
from diffscan.analyses.landscape import analyze_landscape
from diffscan.analyses.niches import niches_and_pool
from diffscan.core.lexical import term_counts, weigh
from diffscan.core.text import listing_text
from diffscan.index.store import Index

REMOVED_SHARE = 0.8
SURVIVOR_SHARE = 0.5  # an opened niche "is" the thinned cluster when this share of its listings are survivors


def folder_digest(index: Index) -> str:
    """A checksum of every file of the index folder (names, sizes and bytes)."""
    h = hashlib.sha256()
    for path in sorted(p for p in index.path.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(index.path)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def derived(index: Index, keep: np.ndarray, added: pd.DataFrame) -> Index:
    """A new snapshot in memory: the index's rows `keep`, plus `added` listings embedded with its model."""
    chars = index.manifest["text"]["description_chars"]
    texts = [listing_text(t, b, d, chars) for t, b, d in zip(added["title"], added["brand"], added["description"])]
    vectors = index.encoder().encode(texts)
    lexical = weigh(term_counts(texts), index.idf)
    listings = pd.concat([index.listings.iloc[keep], added], ignore_index=True)
    return Index(path=index.path, manifest=index.manifest, listings=listings,
                 vectors=np.vstack([np.asarray(index.vectors)[keep], vectors]),
                 lexical=sp.vstack([index.lexical[keep], lexical]).tocsr(), idf=index.idf)


def rewritten(index: Index, seed: int) -> tuple[Index, dict[str, str]]:
    """The same snapshot with every id rewritten (as a re-export with new ids), and old id -> new id."""
    listings = index.listings.copy()
    rng = np.random.default_rng(seed)
    new_ids = [f"R{seed}-{i:07d}" for i in rng.permutation(len(listings))]
    mapping = dict(zip(listings["listing_id"], new_ids))
    listings["listing_id"] = new_ids
    return Index(path=index.path, manifest=index.manifest, listings=listings, vectors=index.vectors,
                 lexical=index.lexical, idf=index.idf), mapping


def plan(index: Index, land, seed: int):
    """The planted changes: the clone category, the thinned cluster, the watched listing."""
    rng = random.Random(seed)
    df = index.listings
    paths = df["category_path"].map(" > ".join).to_numpy()
    cats = land.categories[land.categories["listings"] >= 30].reset_index(drop=True)
    clone_category = cats.iloc[len(cats) // 2]["category"]
    a = land.assignments
    singles = set(a.loc[a["is_singleton"].astype(bool), "cluster_id"])
    sizes = a.groupby("cluster_id").size()
    eligible = sorted(c for c, n in sizes.items() if MIN_CLUSTER <= n <= MAX_CLUSTER and c not in singles
                      and a.loc[a["cluster_id"] == c, "category"].iat[0] != clone_category)
    cluster = rng.choice(eligible)
    rows = np.flatnonzero(a["cluster_id"].to_numpy() == cluster)
    removed = np.asarray(rng.sample(sorted(rows.tolist()), int(round(REMOVED_SHARE * len(rows)))))
    survivors = sorted(set(df["listing_id"].iloc[rows]) - set(df["listing_id"].iloc[removed]))
    others = np.flatnonzero((paths != clone_category) & ~np.isin(np.arange(len(df)), rows))
    watched = int(rng.choice(others.tolist()))
    category_rows = np.flatnonzero(paths == clone_category)
    clones = df.iloc[[int(rng.choice(category_rows.tolist())) for _ in range(CLONES)]].copy()
    clones["title"] = [_edit(t, rng) for t in clones["title"]]
    clones["listing_id"] = [f"clone-{i}" for i in range(CLONES)]
    twin = df.iloc[[watched]].copy()
    twin["title"] = [_edit(twin["title"].iat[0], rng)]
    twin["listing_id"] = ["twin-of-watched"]
    keep = np.setdiff1d(np.arange(len(df)), removed)
    return {"clone_category": clone_category, "cluster": cluster, "cluster_size": len(rows), "survivors": survivors,
            "watched": str(df["listing_id"].iat[watched]), "keep": keep,
            "added": pd.concat([clones, twin], ignore_index=True)}


def checks(comparison, p: dict, id_of=lambda x: x) -> dict:
    """Whether each planted change was found."""
    cats = comparison.categories
    rising_rank = int(cats.loc[cats["category"] == p["clone_category"], "rising_rank"].iat[0])
    survivors = {id_of(x) for x in p["survivors"]}
    opened = comparison.niches_opened
    hits = [(pos, r) for pos, r in enumerate(opened.itertuples(), start=1)
            if len(survivors & set(r.listing_ids)) >= SURVIVOR_SHARE * len(r.listing_ids)]
    twin = id_of("twin-of-watched")
    w = comparison.watchlist.iloc[0]
    found_twin = any(c["listing_id"] == twin for c in w["new_competitors"]) and len(w["new_twins"]) > 0
    return {"rising_rank": rising_rank, "opened": f"{hits[0][0]} of {len(opened)} ({hits[0][1].why})" if hits else None,
            "twin": found_twin, "new_competitors": len(w["new_competitors"])}


def run(key: str, seed: int) -> tuple[list[list], tuple]:
    data = require_datasets()
    spec = CATALOGS[key]
    old = full_index(data, key, spec)
    before = folder_digest(old)
    t0 = time.perf_counter()
    land_old = analyze_landscape(old)
    t_old = time.perf_counter() - t0
    p = plan(old, land_old, seed)
    new = derived(old, p["keep"], p["added"])
    t0 = time.perf_counter()
    land_new = analyze_landscape(new, land_old.level)
    pools = (niches_and_pool(old, land_old, top=COMPARE.niches), niches_and_pool(new, land_new, top=COMPARE.niches))
    t_analyses = time.perf_counter() - t0 + t_old
    t0 = time.perf_counter()
    comparison = compare_indexes(old, new, level=land_old.level, watch=[p["watched"]], landscapes=(land_old, land_new),
                                 niches=pools)
    t_compare = time.perf_counter() - t0
    found = checks(comparison, p)
    new_r, mapping = rewritten(new, seed)
    t0 = time.perf_counter()
    comparison_r = compare_indexes(old, new_r, level=land_old.level, watch=[p["watched"]])
    t_whole = time.perf_counter() - t0
    found_r = checks(comparison_r, p, id_of=lambda x: mapping.get(x, x))
    pairs = comparison_r.listings
    kept = pairs[(pairs["old_id"] != "") & (pairs["new_id"] != "")]
    truth_ids = set(old.listings["listing_id"].iloc[p["keep"]])
    correct = sum(mapping.get(o) == n for o, n in zip(kept["old_id"], kept["new_id"]) if o in truth_ids)
    pair_share = correct / len(truth_ids)
    id_only = len(set(mapping.values()) & set(old.listings["listing_id"])) / len(truth_ids)
    gained = (new.listings["category_path"].map(" > ".join).value_counts()
              .sub(old.listings["category_path"].map(" > ".join).value_counts(), fill_value=0)
              .sort_values(ascending=False))
    baseline_rank = int(list(gained.index).index(p["clone_category"]) + 1)
    untouched = folder_digest(old) == before
    name = f"{spec.name} (seed {seed})"
    return [
        [name, "planted clone category: rising-saturation rank (want 1)", found["rising_rank"], found_r["rising_rank"],
         f"listings gained: {baseline_rank}"],
        [name, f"thinned cluster ({p['cluster_size']} listings, 80% removed): among the niches opened",
         found["opened"] or "not found", found_r["opened"] or "not found", "–"],
        [name, "twin of the watched listing reported", found["twin"], found_r["twin"], "–"],
        [name, "listings paired with their old selves", "ids kept", f"{pair_share:.1%}", f"id-only diff: {id_only:.1%}"],
        [name, "old index folder unchanged", untouched, untouched, "–"],
        [name, "seconds: compare once both analyses exist (target <= 10) / compare from scratch", f"{t_compare:.1f}",
         f"{t_whole:.1f}", f"the analyses: 2 landscapes + 2 niche pools {t_analyses:.1f}"],
    ], (found, found_r, pair_share, untouched)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", choices=sorted(CATALOGS), action="append")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    rows, ok = [], True
    for key in args.catalog or ["toys", "bigbasket"]:
        for seed in args.seeds:
            print(f"{CATALOGS[key].name}, seed {seed}…", flush=True)
            r, (found, found_r, pair_share, untouched) = run(key, seed)
            rows += r
            for f in (found, found_r):
                ok &= f["rising_rank"] == 1 and f["opened"] is not None and f["twin"]
            ok &= pair_share >= 0.99 and untouched
    table("Planted changes between two snapshots", ["catalog", "check", "ids kept", "ids rewritten", "baseline"], rows)
    print(f"\nplanted changes: {'ALL FOUND' if ok else 'NOT ALL FOUND'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
