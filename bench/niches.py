"""Niche finder validation on real catalogs: held-out entrant lift next to plain baselines, and speed.

    python -m bench.niches                      # Amazon UK toys (5 seeds) and BigBasket (ratings), timings
    python -m bench.niches --catalog toys --seeds 0 1 2 3 4 5 6 7

Held-out entrant lift (the yardstick of issue 15). The catalog is split 50/50 at random (numpy seed) into
A (seen) and B (entrants, unseen). The index, landscape and top-20 niches are made from A alone. Each B
listing is placed at its nearest A listing (cosine of their title embeddings >= PLACE_SIMILARITY), and so
in that listing's niches and category; B listings with no A listing that close are not placed. For each
niche that received entrants,

    delta = mean log(1 + reviews) of its entrants - mean log(1 + reviews) of all entrants of its category

and lift = exp(mean delta over those niches): how much more demand a listing entering a recommended niche
gets than one entering its category at large. On the same split, three baselines: the 20 clusters of A
with the highest mean demand (demand only, no competition); the same among open markets (clusters of
OPEN_SIZE+ listings where no brand holds more than half); 20 random clusters. Coverage = share of the 20
that received an entrant; brand-owned = share where one brand holds more than half of the listings;
median size in listings. Lift is noisy with few entrants per niche: the summary gives the geometric mean
over seeds and the spread.

BigBasket has ratings, not review counts: the same protocol runs with the mean rating as demand (delta in
stars, lift = exp of it), a weak signal (most listings are rated 3.5-4.5) kept apart from the reviews
figures.

Also: the wall time of `diffscan niches` on BigBasket after the index exists (target <= 20 s) and the warm
latency of `differentiate` (target <= 200 ms).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.common import OUT, require_datasets, table
from diffscan.index.build import build_index
from diffscan.index.store import Index, load_index

TOP = 20
PLACE_SIMILARITY = 0.70  # an entrant is placed only at an A listing of (nearly) the same product type
OPEN_SIZE = 5  # the open-market baseline: clusters of at least this many listings ...
BRAND_SHARE = 0.5  # ... where no brand holds more than this share (also the brand-owned test)
WORK = OUT / "niches"


@dataclass(frozen=True)
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


def entrant_demand(listings: pd.DataFrame, column: str) -> np.ndarray:
    """Per-listing demand on the lift's scale: log(1 + reviews) (missing = 0 reviews), or the rating (0 or
    missing = not rated, NaN)."""
    values = pd.to_numeric(listings[column], errors="coerce").to_numpy(dtype=float)
    if column == "rating":
        return np.where(values > 0, values, np.nan)
    return np.log1p(np.nan_to_num(np.maximum(values, 0.0), nan=0.0))


def full_index(data, key: str, spec: Catalog) -> Index:
    """The full catalog's index, built once (embeddings come from the shared cache)."""
    out = WORK / key / "full"
    try:
        return load_index(out, verify=False)
    except Exception:
        index, _, _ = build_index(data / spec.file, out, mapping=spec.mapping)
        return index


def split_index(data, key: str, spec: Catalog, full: Index, seed: int) -> tuple[Index, np.ndarray]:
    """Index of A, a seeded random half of the catalog, and the full index's rows of B (the other half)."""
    order = np.random.default_rng(seed).permutation(len(full))
    seen, entrants = np.sort(order[: len(full) // 2]), np.sort(order[len(full) // 2:])
    folder = WORK / key / f"seed-{seed}"
    try:
        return load_index(folder / "index", verify=False), entrants
    except Exception:
        pass
    raw = pd.read_csv(data / spec.file, dtype=str, keep_default_na=False)
    keep = set(full.listings["listing_id"].to_numpy()[seen])
    folder.mkdir(parents=True, exist_ok=True)
    raw[raw[spec.id_column].isin(keep)].to_csv(folder / "catalog.csv", index=False)
    index, _, _ = build_index(folder / "catalog.csv", folder / "index", mapping=spec.mapping)
    return index, entrants


def place(seen: Index, full: Index, entrants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A row of each placed entrant, full-index rows of those entrants): nearest A listing by cosine."""
    vectors = np.asarray(full.vectors[entrants], dtype=np.float32)
    base = np.asarray(seen.vectors, dtype=np.float32)
    best, score = np.empty(len(entrants), dtype=np.int64), np.empty(len(entrants), dtype=np.float32)
    for start in range(0, len(entrants), 1024):
        s = vectors[start:start + 1024] @ base.T
        best[start:start + 1024] = s.argmax(axis=1)
        score[start:start + 1024] = s.max(axis=1)
    placed = score >= PLACE_SIMILARITY
    return best[placed], entrants[placed]


def lift(groups: list[tuple[np.ndarray, str]], at: np.ndarray, demand: np.ndarray, category_of: np.ndarray) -> dict:
    """Held-out lift of a list of (A rows, category) groups; `at` = A row of each placed entrant, `demand`
    its demand, `category_of` = category of each A row."""
    known = np.isfinite(demand)
    at, demand = at[known], demand[known]
    placed_category = category_of[at]
    category_mean = pd.Series(demand).groupby(placed_category).mean()
    deltas = []
    for rows, category in groups:
        inside = np.isin(at, rows)
        if inside.any():
            deltas.append(float(demand[inside].mean() - category_mean[category]))
    return {"lift": math.exp(float(np.mean(deltas))) if deltas else math.nan,
            "coverage": len(deltas) / max(1, len(groups))}


def brand_owned(listings: pd.DataFrame, rows: np.ndarray) -> bool:
    """One brand holds more than BRAND_SHARE of the rows' listings (listings without a brand hold none)."""
    brands = listings["brand"].iloc[rows].fillna("").astype(str).str.strip().str.casefold()
    brands = brands[brands != ""]
    return bool(len(brands)) and brands.value_counts().iloc[0] > BRAND_SHARE * len(rows)


def baselines(seen: Index, landscape, demand: np.ndarray, seed: int) -> dict[str, list[tuple[np.ndarray, str]]]:
    """The three baselines' 20 clusters of A: by mean demand, by mean demand among open markets, at random."""
    a = landscape.assignments
    groups = [(np.asarray(rows), str(a["category"].iloc[rows[0]]))
              for cid, rows in a.groupby(a["cluster_id"].astype(str), sort=True).indices.items()
              if not a["is_singleton"].iloc[rows[0]] and len(rows) >= 2]
    mean = np.array([np.nanmean(demand[rows]) if np.isfinite(demand[rows]).any() else -np.inf for rows, _ in groups])
    by_demand = [groups[i] for i in np.argsort(-mean, kind="stable")]
    open_markets = [g for g in by_demand if len(g[0]) >= OPEN_SIZE and not brand_owned(seen.listings, g[0])]
    pick = np.random.default_rng(seed).choice(len(groups), size=min(TOP, len(groups)), replace=False)
    return {"demand only": by_demand[:TOP], "demand only, open markets": open_markets[:TOP],
            "random clusters": [groups[i] for i in pick]}


def run_seed(data, key: str, spec: Catalog, full: Index, seed: int) -> list[dict]:
    """Lift, coverage, brand-owned share and median size of diffscan's top 20 and of the baselines, one split."""
    from diffscan.analyses.landscape import analyze_landscape
    from diffscan.analyses.niches import find_niches

    seen, entrants = split_index(data, key, spec, full, seed)
    landscape = analyze_landscape(seen)
    niches = find_niches(seen, landscape, top=TOP)
    at, placed = place(seen, full, entrants)
    demand = entrant_demand(full.listings, spec.demand)[placed]
    category_of = landscape.assignments["category"].astype(str).to_numpy()
    seen_demand = entrant_demand(seen.listings, spec.demand)
    methods = {"diffscan niches": [(np.array([seen.row_of(i) for i in n.listing_ids]), n.category) for n in niches]}
    methods.update(baselines(seen, landscape, seen_demand, seed))
    out = []
    for method, groups in methods.items():
        figures = lift(groups, at, demand, category_of)
        out.append({"seed": seed, "method": method, **figures, "placed": len(placed), "entrants": len(entrants),
                    "brand_owned": float(np.mean([brand_owned(seen.listings, rows) for rows, _ in groups])) if groups else math.nan,
                    "median_size": float(np.median([len(rows) for rows, _ in groups])) if groups else math.nan,
                    "niches": len(groups)})
    print(f"  {spec.name} seed {seed}: " + ", ".join(f"{r['method']} {r['lift']:.2f}" for r in out), flush=True)
    return out


def summary_rows(name: str, results: list[dict]) -> list[list]:
    """Per method: geometric mean of the seeds' lifts, their range, mean coverage, brand-owned share, median size."""
    rows = []
    for method in dict.fromkeys(r["method"] for r in results):
        mine = [r for r in results if r["method"] == method]
        lifts = np.array([r["lift"] for r in mine if math.isfinite(r["lift"])])
        rows.append([name, method, len(mine), f"{math.exp(np.log(lifts).mean()):.2f}" if len(lifts) else "-",
                     f"{lifts.min():.2f}-{lifts.max():.2f}" if len(lifts) else "-",
                     " ".join(f"{r['lift']:.2f}" for r in mine),
                     f"{np.mean([r['coverage'] for r in mine]):.2f}", f"{np.mean([r['brand_owned'] for r in mine]):.2f}",
                     f"{np.median([r['median_size'] for r in mine]):g}"])
    return rows


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", choices=["toys", "bigbasket", "all"], default="all")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--no-timing", action="store_true", help="Skip the `diffscan niches` and differentiate timings.")
    args = parser.parse_args(argv)
    data = require_datasets()
    keys = ["toys", "bigbasket"] if args.catalog == "all" else [args.catalog]
    results, summary = {}, []
    for key in keys:
        spec = CATALOGS[key]
        full = full_index(data, key, spec)
        results[key] = [r for seed in args.seeds for r in run_seed(data, key, spec, full, seed)]
        unit = "reviews" if spec.demand == "review_count" else "ratings (weak signal: delta in stars)"
        summary += summary_rows(f"{spec.name} ({unit})", results[key])
    table(f"Held-out entrant lift of the top {TOP} (50/50 random splits; entrants placed at cosine >= {PLACE_SIMILARITY})",
          ["catalog", "method", "seeds", "lift (geo. mean)", "range", "per seed", "coverage", "brand-owned", "median size"],
          summary)
    if not args.no_timing and "bigbasket" in keys:
        index_dir = WORK / "bigbasket" / "full"
        latency = differentiate_ms(full_index(data, "bigbasket", CATALOGS["bigbasket"]))
        table("Speed on BigBasket (index exists)", ["what", "p50 ms", "p95 ms", "s"],
              [["`diffscan niches --top 20`, fresh process", "", "", f"{cli_seconds(index_dir):.1f}"]]
              + [[what, f"{p50:.1f}", f"{p95:.1f}", ""] for what, (p50, p95) in latency.items()])
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
