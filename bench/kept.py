"""Analyses kept in the index folder: computed once, read back; an update recomputes changed categories only.

    python -m bench.kept                  # BigBasket (20,000 listings, MiniLM)
    python -m bench.kept --edit 0.01      # share of listings whose title an update edits

On a copy of the BigBasket index (built into bench/out/kept once), in one process:
- landscape, niches and map coordinates computed (`analyze_landscape`, `niches_and_pool`, `project`:
  what every call did before they were kept) against read back from the folder (`analyses.kept`), with
  the check that what is read equals what was computed;
- an export with a share of titles edited (all in few categories, as real price/title edits cluster) is
  applied with `build --update`; the next landscape re-uses every unchanged category's clusters, against a
  full recompute of the updated index, and how far the two agree (re-used clusters were fitted with the
  earlier export's idf, which an update moves a little).
Fresh-process figures (`diffscan saturation` and `niches` the first time and again) are in bench.scale.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from bench.common import OUT, require_datasets, table

WORK = OUT / "kept"
MAPPING = {"listing_id": "index", "title": "product", "category_path": "category,sub_category", "brand": "brand",
           "price": "sale_price", "rating": "rating"}


def _timed(fn):
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edit", type=float, default=0.01, help="share of listings an update edits")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    datasets = require_datasets()
    from diffscan.analyses import kept
    from diffscan.analyses import niches as niche_analysis
    from diffscan.analyses.landscape import analyze_landscape
    from diffscan.analyses.projection import project
    from diffscan.index.build import build_index
    from diffscan.index.store import load_index

    WORK.mkdir(parents=True, exist_ok=True)
    source = pd.read_csv(datasets / "bigbasket" / "products.csv", dtype=str, keep_default_na=False)
    source.to_csv(WORK / "export-1.csv", index=False)
    index_dir = WORK / "index"
    shutil.rmtree(index_dir, ignore_errors=True)
    index, _, _ = build_index(WORK / "export-1.csv", index_dir, mapping=MAPPING)

    rows = []
    land, computed_s = _timed(lambda: analyze_landscape(index))
    _, first_s = _timed(lambda: kept.landscape(index))
    again, again_s = _timed(lambda: kept.landscape(load_index(index_dir)))
    same = all(getattr(again, t).equals(getattr(land, t)) for t in ("assignments", "categories"))
    rows.append(["landscape", computed_s, first_s, again_s, f"{computed_s / again_s:,.0f}x", same])
    (niches, pool), computed_s = _timed(lambda: niche_analysis.niches_and_pool(index, land))
    _, first_s = _timed(lambda: kept.niches_and_pool(index, land))
    fresh = load_index(index_dir)
    (again_n, _), again_s = _timed(lambda: kept.niches_and_pool(fresh, kept.landscape(fresh)))
    same = [n.to_dict() for n in again_n] == [n.to_dict() for n in niches]
    rows.append(["niches (over the kept landscape)", computed_s, first_s, again_s, f"{computed_s / again_s:,.0f}x", same])
    xy, computed_s = _timed(lambda: project(index.vectors))
    _, first_s = _timed(lambda: kept.map_coordinates(index))
    again_xy, again_s = _timed(lambda: kept.map_coordinates(load_index(index_dir)))
    rows.append(["map coordinates (t-SNE)", computed_s, first_s, again_s, f"{computed_s / again_s:,.0f}x",
                 bool(np.array_equal(again_xy, xy))])
    table("Analyses kept in the index folder (BigBasket, 19,999 listings, in-process seconds)",
          ["analysis", "computed (before)", "first call: computed + kept", "again: read back (after)", "speed-up",
           "read back = computed"], rows)

    # An update: edit titles in the categories of a few random listings until `edit` of the catalog changed.
    rng = np.random.default_rng(args.seed)
    edited = source.copy()
    leaf = edited["category"] + " > " + edited["sub_category"]
    target, picked = int(args.edit * len(edited)), []
    for name in rng.permutation(leaf.unique()):
        picked += list(np.flatnonzero(leaf.to_numpy() == name))
        if len(picked) >= target:
            break
    picked = np.array(picked[:max(target, 1)])
    edited.loc[picked, "product"] = edited.loc[picked, "product"] + " (new pack)"
    edited.to_csv(WORK / "export-2.csv", index=False)
    updated, update_s = _timed(lambda: build_index(WORK / "export-2.csv", index_dir, mapping=MAPPING, update=True)[0])
    reused, reused_s = _timed(lambda: kept.landscape(updated))
    meta = next(e["meta"] for e in kept.kept_entries(load_index(index_dir)) if e["key"] == kept.landscape_key(updated))
    full, full_s = _timed(lambda: analyze_landscape(updated))
    # Re-used categories keep the clusters fitted with the earlier export's idf: measure how far that is.
    a, b = reused.assignments, full.assignments
    same = float((a["cluster_id"] == b["cluster_id"]).mean())
    ari = adjusted_rand_score(a["cluster_id"], b["cluster_id"])
    groups = adjusted_rand_score(a["near_duplicate_group"], b["near_duplicate_group"])
    moved = a.loc[a["cluster_id"] != b["cluster_id"], "category"].nunique()
    table(f"build --update with {len(picked):,} titles edited ({len(picked) / len(edited):.1%}), then the landscape",
          ["step", "seconds", "categories computed / re-used", "agreement with a full recompute"], [
              ["build --update", update_s, "", ""],
              ["landscape after the update (unchanged categories re-used)", reused_s,
               f"{meta['categories_computed']} / {meta['categories_reused']}",
               f"same cluster for {same:.1%} of listings (ARI {ari:.3f}; {moved} re-used categories differ), "
               f"near-duplicate groups ARI {groups:.3f}"],
              ["baseline: full landscape of the updated index", full_s, f"{meta['categories_computed'] + meta['categories_reused']} / 0", "-"],
          ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
