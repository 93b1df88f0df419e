"""Batch competitor queries: `find_competitors_batch` next to `find_competitors` query by query.

    python -m bench.batch                   # 5,000 BigBasket listings as queries (seed 0)
    python -m bench.batch --queries 1000 --no-encode

The index is BigBasket's (20,000 listings, MiniLM; built once into bench/out/niches/bigbasket/full, its
embeddings from the shared cache); the queries are a seeded sample of its own listings, searched by text
with their category path as the prior. Timed, each after a warm-up:

- per query: `find_competitors(index, text, category_path=..., query_vector=...)` in a loop, the vectors
  computed beforehand (what `find_competitors_batch` did before it was vectorized, encoding left out);
- batch, vectors given: `find_competitors_batch(..., query_vectors=...)` (encoding left out);
- batch, texts: `find_competitors_batch` as the CLI calls it; a query that is a listing's text takes
  that listing's vector, so nothing is encoded;
- batch, pasted texts (skip with --no-encode): the same listings pasted as "Brand Title", which is no
  listing's text, with $DIFFSCAN_CACHE pointing at an empty folder, so MiniLM encodes every query
  (~400 texts/s on 2 cores; the model already loaded); next to the old way: encoding those texts,
  then the per-query loop.

The per-query and batch rows must be identical (same competitors, order, scores and every field): the
script says so and exits 1 when they are not. Figures on a shared 2-core machine move with the other
load: CPU seconds are printed next to wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from bench.common import require_datasets, table
from diffscan.analyses.competitors import Competitor, find_competitors, find_competitors_batch
from diffscan.index.store import listing_texts


def timed(work):
    """(result, wall seconds, CPU seconds) of work()."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def per_query(index, queries: pd.DataFrame, texts: list[str], vectors: np.ndarray, k: int) -> pd.DataFrame:
    """The old batch: one `find_competitors` per query, vectors given."""
    rows = []
    for qid, text, path, vec in zip(queries["listing_id"], texts, queries["category_path"], vectors):
        result = find_competitors(index, text, k=k, category_path=list(path), query_vector=vec)
        rows.extend({"query_id": str(qid), "query_title": text.split(" | ", 1)[0], **c.to_dict()}
                    for c in result.competitors)
    return pd.DataFrame(rows, columns=["query_id", "query_title", *Competitor.__dataclass_fields__])


def differences(a: pd.DataFrame, b: pd.DataFrame) -> str:
    """'identical', or which columns differ in how many rows."""
    if a.equals(b):
        return "identical"
    if a.shape != b.shape:
        return f"DIFFERENT shapes {a.shape} vs {b.shape}"
    cols = {c: int((a[c].astype(str) != b[c].astype(str)).sum()) for c in a.columns}
    return "DIFFERENT: " + ", ".join(f"{c} in {n} rows" for c, n in cols.items() if n)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-encode", action="store_true", help="Skip the runs that encode with MiniLM.")
    args = parser.parse_args(argv)

    data = require_datasets()
    from bench.niches import CATALOGS, full_index

    index = full_index(data, "bigbasket", CATALOGS["bigbasket"])
    rng = np.random.default_rng(args.seed)
    picked = np.sort(rng.choice(len(index), size=min(args.queries, len(index)), replace=False))
    queries = index.listings.iloc[picked].reset_index(drop=True)
    texts = listing_texts(queries, index.manifest["text"]["description_chars"])
    n = len(queries)
    vectors = np.asarray(index.vectors[picked])  # a listing's vector is its row of the index
    encoder = index.encoder()
    print(f"BigBasket: {len(index):,} listings, {n:,} queries (seed {args.seed}), k={args.k}", flush=True)

    # Warm up both paths (first calls import and build lazily what every later call reuses).
    per_query(index, queries.head(20), texts[:20], vectors[:20], args.k)
    find_competitors_batch(index, queries.head(20), k=args.k, query_vectors=vectors[:20])

    results = []
    old, old_wall, old_cpu = timed(lambda: per_query(index, queries, texts, vectors, args.k))
    results.append(["per query (find_competitors loop), vectors given", old_wall, old_cpu, n / old_wall, "reference"])
    new, wall, cpu = timed(lambda: find_competitors_batch(index, queries, k=args.k, query_vectors=vectors))
    identical = [differences(old, new)]
    results.append(["batch, vectors given", wall, cpu, n / wall, identical[-1]])
    cached, wall, cpu = timed(lambda: find_competitors_batch(index, queries, k=args.k))
    identical.append(differences(old, cached))
    results.append(["batch, texts (the listings' own vectors)", wall, cpu, n / wall, identical[-1]])
    if not args.no_encode:
        # Pasted texts ("Brand Title") are no listing's text, and the cache folder is empty: MiniLM encodes all.
        pasted = queries.assign(title=[f"{b} {t}".strip() for t, b in zip(queries["title"], queries["brand"])], brand="")
        pasted_texts = listing_texts(pasted, index.manifest["text"]["description_chars"])
        previous = os.environ.get("DIFFSCAN_CACHE")
        with tempfile.TemporaryDirectory() as empty:
            os.environ["DIFFSCAN_CACHE"] = empty
            try:
                _, wall, cpu = timed(lambda: find_competitors_batch(index, pasted, k=args.k))
                results.append(["batch, pasted texts, MiniLM encodes (model loaded)", wall, cpu, n / wall, "(other texts)"])
                _, e_wall, e_cpu = timed(lambda: encoder.encode(pasted_texts))
            finally:
                if previous is None:
                    os.environ.pop("DIFFSCAN_CACHE", None)
                else:
                    os.environ["DIFFSCAN_CACHE"] = previous
        results.append(["old batch: encode them, then per query", e_wall + old_wall, e_cpu + old_cpu,
                        n / (e_wall + old_wall), f"(encoding alone {e_wall:.1f} s)"])
    results = [[name, round(w, 2), round(c, 2), round(qps), same] for name, w, c, qps, same in results]
    table(f"Batch competitor queries: {n:,} BigBasket listings against {len(index):,}, k={args.k}",
          ["run", "wall s", "CPU s", "queries/s", "rows vs per query"], results)
    print(f"\nspeed-up, vectors given: {old_wall / results[1][1]:.1f}x; rows: {len(old):,}")
    if any(s != "identical" for s in identical):
        print("FAIL: the batch rows differ from the per-query rows")
        sys.exit(1)


if __name__ == "__main__":
    main()
