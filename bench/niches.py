"""Niche finder validation on real catalogs: planted niches, demand of the top niches, and speed.

    python -m bench.niches                     # both catalogs, 5 trials each
    python -m bench.niches --catalog toys --trials 3

Planted-niche check: pick a real cluster of the full catalog's landscape at random (fixed seed) among
clusters of a reasonable size, remove all its listings but the 3 with the most demand (reviews on
Amazon UK toys, ratings on BigBasket), rebuild the index, and look for those 3 listings among the
niche finder's top 10. A niche "is" the planted one when the Jaccard overlap of its listings with the
3 kept listings is at least 0.5 (e.g. the 3 alone, the 3 plus up to 3 others, or 2 of them alone).

Trials are also reported for the subset where all 3 kept listings have demand at or above the catalog's
90th percentile (a planted niche with strong demand); the population itself is not filtered by demand.

Reachable: a plant is reachable when fewer than 10 candidate niches, disjoint from each other and from
it, have at least its demand with no more distinct offers (`dominating_niches` below, taking the best of
the 3 kept listings and each pair of them, the smallest sets that count as a hit). A score that depends
only on demand and the number of offers (rising with one, falling with the other) ranks a plant below all
of those niches, so an unreachable plant is out of such a score's top 10 whatever its weights; only the
other components (homogenization, price room) can lift it. The count says whether a miss is the finder's
or the plant is hardly a niche by the definition (demand present, few offers).

Also: for the top 20 niches of the full catalog, the median demand per listing against the catalog
median, and the wall time of `diffscan niches` on BigBasket (target <= 20 s after the index exists).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from bench.common import OUT, require_datasets, table
from diffscan.index.build import build_index
from diffscan.index.store import Index, load_index

TOP = 10
JACCARD = 0.5
KEEP = 3
MIN_CLUSTER, MAX_CLUSTER = 15, 300  # "reasonable size": big enough to thin out, not a whole category
STRONG_PERCENTILE = 90  # a descriptive breakdown: trials whose 3 kept listings all have strong demand
WORK = OUT / "niches"

def dominating_niches(index: Index, landscape, row_sets: list[np.ndarray]) -> list[int]:
    """For each set of rows, how many candidate niches, disjoint from each other and from it, have at least
    its demand with no more distinct offers, and are better on one of the two (a greedy count, so a lower
    bound).

    A score that depends only on demand and the number of offers, rising with one and falling with the
    other, ranks the rows below all of them: with 10 or more, it cannot put them among its 10 best
    candidates. (The opportunity score also weighs homogenization and price room, which can lift rows
    over some of them.)
    """
    from diffscan.analyses.niches import candidate_scores

    scores = candidate_scores(index, landscape, given=list(row_sets))
    natural, targets = scores[~scores["given"]], scores[scores["given"]]
    counts = []
    for target in targets.itertuples():
        want = set(target.rows.tolist())
        d, n = target.demand, target.distinct_offers
        better = [set(s.rows.tolist()) for s in natural.itertuples()
                  if (s.demand > d and s.distinct_offers <= n) or (s.demand >= d and s.distinct_offers < n)]
        taken, count = set(want), 0
        for members in sorted(better, key=len):  # the smallest first: the most disjoint ones
            if not members & taken:
                taken |= members
                count += 1
        counts.append(count)
    return counts



@dataclass
class Catalog:
    """A real catalog: where it is, how to map it, and which demand signal it has."""

    name: str
    file: str
    mapping: dict[str, str]
    demand: str  # canonical column that measures demand: review_count or rating
    id_column: str


CATALOGS = {
    "toys": Catalog("Amazon UK toys", "amazon_uk_toys/products.csv",
                    {"listing_id": "uniq_id", "title": "product_name", "category_path": "category",
                     "brand": "manufacturer", "price": "price", "review_count": "number_of_reviews",
                     "rating": "average_review_rating"}, "review_count", "uniq_id"),
    # category_path = category > sub_category only: `type` is held out (it is the clustering ground truth).
    "bigbasket": Catalog("BigBasket", "bigbasket/products.csv",
                         {"listing_id": "index", "title": "product", "category_path": "category,sub_category",
                          "brand": "brand", "price": "sale_price", "rating": "rating"}, "rating", "index"),
}


def _demand(listings: pd.DataFrame, column: str) -> np.ndarray:
    """Per-listing demand; a 0 rating means 'not rated' and counts as missing."""
    values = listings[column].to_numpy(dtype=float)
    return np.where(values > 0, values, np.nan) if column == "rating" else values


def full_index(data, key: str, spec: Catalog) -> Index:
    """The full catalog's index, built once (embeddings come from the shared cache)."""
    out = WORK / key / "full"
    try:
        return load_index(out, verify=False)
    except Exception:
        index, _, _ = build_index(data / spec.file, out, mapping=spec.mapping)
        return index


def eligible_clusters(index: Index, landscape, spec: Catalog) -> list[str]:
    """Real clusters (not a category's pseudo-cluster of singletons) of MIN_CLUSTER..MAX_CLUSTER listings
    with at least KEEP listings that have demand."""
    a = landscape.assignments
    singles = set(a.loc[a["is_singleton"].astype(bool), "cluster_id"].astype(str))
    demand = _demand(index.listings, spec.demand)
    out = []
    for cid, rows in a.groupby("cluster_id", sort=True).indices.items():
        if str(cid) in singles or not MIN_CLUSTER <= len(rows) <= MAX_CLUSTER:
            continue
        if (np.nan_to_num(demand[rows], nan=0.0) > 0).sum() >= KEEP:
            out.append(str(cid))
    return out


def plant(data, key: str, spec: Catalog, index: Index, landscape, cluster_id: str, trial: int) -> tuple[Index, list[str]]:
    """Rebuild the index without the cluster's listings except its KEEP with the most demand."""
    a = landscape.assignments
    rows = np.where(a["cluster_id"].astype(str).to_numpy() == cluster_id)[0]
    demand = np.nan_to_num(_demand(index.listings, spec.demand)[rows], nan=-1.0)
    keep_rows = rows[np.argsort(-demand, kind="stable")[:KEEP]]
    drop = set(index.listings["listing_id"].to_numpy()[rows]) - set(index.listings["listing_id"].to_numpy()[keep_rows])
    raw = pd.read_csv(data / spec.file, dtype=str, keep_default_na=False)
    reduced = raw[~raw[spec.id_column].isin(drop)]
    folder = WORK / key / f"trial-{trial}"
    folder.mkdir(parents=True, exist_ok=True)
    reduced.to_csv(folder / "catalog.csv", index=False)
    small, _, _ = build_index(folder / "catalog.csv", folder / "index", mapping=spec.mapping)
    return small, [str(x) for x in index.listings["listing_id"].to_numpy()[keep_rows]]


def planted_rank(niches, kept: list[str]) -> tuple[int | None, float]:
    """Rank of the first niche whose listings overlap the kept ones with Jaccard >= JACCARD, and that overlap."""
    want = set(kept)
    best = 0.0
    for n in niches:
        have = set(n.listing_ids)
        jaccard = len(want & have) / len(want | have)
        best = max(best, jaccard)
        if jaccard >= JACCARD:
            return n.rank, jaccard
    return None, best


def hit_sets(kept_rows: list[int]) -> list[np.ndarray]:
    """The smallest row sets that count as finding the plant (Jaccard >= 0.5): the kept rows, and each pair of them (2/3)."""
    return [np.array(kept_rows)] + [np.array(p) for p in combinations(kept_rows, 2)]


def top_demand(index: Index, niches, spec: Catalog) -> tuple[float, float]:
    """(median demand per listing over the listings of the niches, catalog median)."""
    demand = _demand(index.listings, spec.demand)
    rows = [index.row_of(i) for n in niches for i in n.listing_ids]
    inside = demand[rows]
    return float(np.nanmedian(inside)), float(np.nanmedian(demand))


def differentiate_ms(index: Index, queries: int = 200, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Warm latency (p50, p95 in ms) of `differentiate` on pasted titles (embedding included), next to the
    competitor search it builds on (k=20), over the same random listings."""
    from diffscan.analyses.competitors import find_competitors
    from diffscan.analyses.differentiation import differentiate
    encoder = index.encoder()
    titles = index.listings["title"].to_numpy()
    picks = np.random.default_rng(seed).choice(len(titles), size=min(queries, len(titles)), replace=False)
    for i in picks[:5]:  # warm up: model, caches
        differentiate(index, str(titles[i]), encoder=encoder)
    out = {}
    for name, run in (("competitors k=20 (the search it builds on)", lambda t: find_competitors(index, t, k=20, encoder=encoder)),
                      ("differentiate", lambda t: differentiate(index, t, encoder=encoder))):
        times = []
        for i in picks:
            start = time.perf_counter()
            run(str(titles[i]))
            times.append(1000 * (time.perf_counter() - start))
        out[name] = (float(np.percentile(times, 50)), float(np.percentile(times, 95)))
    return out


def cli_seconds(index_dir) -> float:
    """Wall time of `diffscan niches --index DIR --top 20` in a fresh process (model loading included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "diffscan.cli", "niches", "--index", str(index_dir), "--top", "20"],
                   check=True, capture_output=True, env={**os.environ, "CI": "1"})
    return time.perf_counter() - start


def run_catalog(data, key: str, trials: int, seed: int) -> dict:
    """All checks on one catalog; returns the figures for the summary."""
    from diffscan.analyses.landscape import analyze_landscape
    from diffscan.analyses.niches import find_niches

    spec = CATALOGS[key]
    index = full_index(data, key, spec)
    start = time.perf_counter()
    landscape = analyze_landscape(index)
    landscape_s = time.perf_counter() - start
    start = time.perf_counter()
    top20 = find_niches(index, landscape, top=20)
    niches_s = time.perf_counter() - start
    inside, overall = top_demand(index, top20, spec)
    latency = differentiate_ms(index)
    eligible = eligible_clusters(index, landscape, spec)
    rng = np.random.default_rng(seed)
    chosen = [eligible[i] for i in rng.choice(len(eligible), size=min(trials, len(eligible)), replace=False)]
    known = _demand(index.listings, spec.demand)
    strong_bar = float(np.nanpercentile(known, STRONG_PERCENTILE))
    rows, hits, strong, strong_hits, kept_ids, category_hits, reachable, reachable_hits = [], 0, 0, 0, [], 0, 0, 0
    for trial, cluster_id in enumerate(chosen, start=1):
        label = _label(landscape, cluster_id)
        size = int((landscape.assignments["cluster_id"].astype(str) == cluster_id).sum())
        small, kept = plant(data, key, spec, index, landscape, cluster_id, trial)
        kept_rows = [small.row_of(i) for i in kept]
        small_landscape = analyze_landscape(small)
        found = find_niches(small, small_landscape, top=100)
        rank, jaccard = planted_rank(found, kept)
        kept_ids.append(kept)
        category = _category(landscape, cluster_id)
        in_category, _ = planted_rank(find_niches(small, small_landscape, top=TOP, category=category), kept)
        dominated = min(dominating_niches(small, small_landscape, hit_sets(kept_rows)))
        reachable += dominated < TOP
        hit = rank is not None and rank <= TOP
        hits += hit
        reachable_hits += hit and dominated < TOP
        kept_demand = _demand(small.listings, spec.demand)[kept_rows]
        is_strong = bool(np.nanmin(kept_demand) >= strong_bar)
        strong += is_strong
        strong_hits += hit and is_strong
        rows.append([spec.name, trial, label[:40], size, ", ".join(f"{v:g}" for v in kept_demand),
                     "yes" if is_strong else "no", rank if rank is not None else ">100", f"{jaccard:.2f}",
                     "yes" if hit else "no", in_category if in_category is not None else f">{TOP}", dominated])
        category_hits += in_category is not None
        print(f"  {spec.name} trial {trial}: cluster {cluster_id!r} ({size} listings) -> rank {rank}", flush=True)
    return {"catalog": spec.name, "demand": "reviews" if spec.demand == "review_count" else "ratings",
            "listings": len(index), "clusters": int(landscape.clusters.shape[0]), "eligible": len(eligible),
            "trials": len(chosen), "hits": hits, "rows": rows, "strong_bar": strong_bar, "strong": strong,
            "strong_hits": strong_hits, "category_hits": category_hits, "reachable": reachable,
            "reachable_hits": reachable_hits, "latency": latency, "top20_median": inside, "catalog_median": overall,
            "landscape_s": landscape_s, "niches_s": niches_s, "chosen": chosen, "kept": kept_ids,
            "index_dir": str(WORK / key / "full")}


def _category(landscape, cluster_id: str) -> str:
    """The category (at the landscape's level) the cluster belongs to."""
    a = landscape.assignments
    return str(a.loc[a["cluster_id"].astype(str) == cluster_id, "category"].iloc[0])


def _label(landscape, cluster_id: str) -> str:
    c = landscape.clusters
    match = c[c["cluster_id"].astype(str) == cluster_id]
    return str(match["label"].iloc[0]) if len(match) else cluster_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", choices=["toys", "bigbasket", "all"], default="all")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cli", action="store_true", help="Skip timing `diffscan niches` in a fresh process.")
    args = parser.parse_args(argv)
    data = require_datasets()
    keys = ["toys", "bigbasket"] if args.catalog == "all" else [args.catalog]
    print(f"Planted clusters: chosen uniformly at random (numpy seed {args.seed}) among the full catalog's landscape "
          f"clusters with {MIN_CLUSTER}-{MAX_CLUSTER} listings and at least {KEEP} with demand; none hand-picked. "
          f"Hit: a top-{TOP} niche whose listings overlap the {KEEP} kept ones with Jaccard >= {JACCARD}.", flush=True)
    results = [run_catalog(data, key, args.trials, args.seed) for key in keys]
    table("Planted niches: each trial", ["catalog", "trial", "cluster (label)", "listings", f"demand of the {KEEP} kept",
                                         f"all kept >= p{STRONG_PERCENTILE}", "rank found", "best Jaccard", f"in top {TOP}",
                                         f"rank in its category's top {TOP}", "disjoint niches with more demand, no more offers"],
          [row for r in results for row in r["rows"]])
    summary = []
    for r in results:
        cli = cli_seconds(r["index_dir"]) if (not args.no_cli and r["catalog"] == "BigBasket") else None
        r["cli_s"] = cli
        summary.append([r["catalog"], r["demand"], r["listings"], r["clusters"], r["eligible"], f"{r['hits']}/{r['trials']}",
                        f"{r['reachable']}/{r['trials']}", f"{r['reachable_hits']}/{r['reachable']}", f"{r['category_hits']}/{r['trials']}",
                        f"{r['strong_hits']}/{r['strong']} (p{STRONG_PERCENTILE} = {r['strong_bar']:g})",
                        f"{r['top20_median']:g}", f"{r['catalog_median']:g}", f"{r['landscape_s']:.1f}",
                        f"{r['niches_s']:.1f}", "" if cli is None else f"{cli:.1f}"])
    table("Niche finder on real catalogs", ["catalog", "demand", "listings", "clusters", "eligible clusters",
                                            f"planted in top {TOP}", f"reachable (< {TOP} dominating niches)", "found of the reachable",
                                            f"planted in its category's top {TOP}", f"of which all {KEEP} kept >= catalog p{STRONG_PERCENTILE}",
                                            "top-20 niches: median demand per listing",
                                            "catalog median", "landscape s", "find_niches s", "`diffscan niches` s"],
          summary)
    table("Differentiation of one pasted listing, warm (200 titles, query embedding included)",
          ["catalog", "what", "p50 ms", "p95 ms"],
          [[r["catalog"], what, f"{p50:.1f}", f"{p95:.1f}"] for r in results for what, (p50, p95) in r["latency"].items()])
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
