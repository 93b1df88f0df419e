"""Landscape quality and speed on BigBasket: diffscan's clusters next to MiniBatchKMeans and BERTopic, in one run.

    python -m bench.landscape           # 20,000 listings; BERTopic and HDBSCAN-on-UMAP where installed; Product1M
    python -m bench.landscape --quick   # a 5,000-listing sample, no BERTopic, UMAP or Product1M

The index maps category_path to `category > sub_category` only: the `type` column (424 values) is held
out as the ground truth of "the same kind of offer". Clusters are scored against `type` with NMI, AMI and ARI
(NMI rises with the number of clusters, so k-means also runs at diffscan's own number of types).
The planted-homogenization check clones 300 listings of a mid-ranked category with small edits (word
order, case, a size, a colour), re-analyzes, then removes the clones and re-analyzes again.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score, normalized_mutual_info_score

from bench.common import OUT, peak_rss_mb, product1m_labels, require_datasets, table, timer
from diffscan.analyses.landscape import analyze_landscape
from diffscan.analyses.projection import landscape_map
from diffscan.core.lexical import term_counts, weigh
from diffscan.core.text import listing_text
from diffscan.index.build import build_index
from diffscan.index.store import Index, load_index
from diffscan.present.figures import write_map

MAPPING = {"category_path": "category,sub_category"}  # `type` is held out as ground truth
TYPES = 424
CLONES = 300
SIZES = ["100 g", "250 g", "500 g", "1 kg", "200 ml", "500 ml", "1 L", "Pack of 2", "Pack of 6"]
COLOURS = ["Red", "Blue", "Green", "Black", "White", "Yellow", "Pink"]


def bigbasket_index(data, quick: bool) -> tuple[Index, pd.Series]:
    """The BigBasket index (built once under bench/out; embeddings cached) and the held-out `type` per row."""
    raw = pd.read_csv(data / "bigbasket" / "products.csv", dtype=str, keep_default_na=False)
    catalog = data / "bigbasket" / "products.csv"
    name = "bigbasket"
    if quick:
        raw = raw.sample(5000, random_state=0)
        catalog = OUT / "landscape" / "bigbasket-quick.csv"
        catalog.parent.mkdir(parents=True, exist_ok=True)
        raw.to_csv(catalog, index=False)
        name = "bigbasket-quick"
    folder = OUT / "landscape" / name
    try:
        index = load_index(folder, verify=False)
        if index.manifest.get("column_mapping", {}).get("category_path") not in (["category", "sub_category"], "category,sub_category"):
            raise ValueError("built with another mapping")
    except Exception:  # noqa: BLE001 - any problem: rebuild (embeddings come from the cache)
        index, _, _ = build_index(catalog, folder, mapping=MAPPING)
    types = dict(zip(raw["index"].astype(str), raw["type"]))
    return index, index.listings["listing_id"].astype(str).map(types)


def scores(truth: pd.Series, labels, seconds: float, method: str, unassigned: np.ndarray | None = None) -> list:
    """One row of the quality table."""
    labels = np.asarray(labels).astype(str)
    singles = pd.Series(labels).map(pd.Series(labels).value_counts()).eq(1).mean()
    return [method, len(set(labels)), normalized_mutual_info_score(truth, labels),
            adjusted_mutual_info_score(truth, labels), adjusted_rand_score(truth, labels), float(unassigned.mean()) if unassigned is not None else 0.0, float(singles), f"{seconds:.1f}"]


def bertopic_row(truth: pd.Series, index: Index) -> list:
    """BERTopic with default settings on the same embeddings (documents = the embedded texts)."""
    try:
        from bertopic import BERTopic
    except ImportError:
        return ["BERTopic defaults: not installed: pip install bertopic", "", "", "", "", "", "", ""]
    start = time.perf_counter()
    topics, _ = BERTopic().fit_transform(index.texts(), embeddings=np.asarray(index.vectors))
    topics = np.asarray(topics)
    return scores(truth, topics, time.perf_counter() - start, "BERTopic defaults (outliers = topic -1)", topics == -1)


def quality(index: Index, truth: pd.Series, land, analysis_seconds: float, with_bertopic: bool) -> list[list]:
    """Cluster quality of diffscan (already analyzed) and of the baselines, on the same embeddings."""
    rows = []
    cats = index.listings["category_path"].map(" > ".join)
    rows.append(scores(truth, cats, 0.0, "categories alone (category > sub_category, the input)"))
    rows.append(scores(truth, land.assignments["cluster_id"], analysis_seconds, f"diffscan clusters (level {land.level})"))
    rows.extend(without_categories(index, truth, TYPES, with_umap=with_bertopic))
    if with_bertopic:
        rows.append(bertopic_row(truth, index))
    return rows


def without_categories(index: Index, truth: pd.Series, n_truth: int, with_umap: bool = True) -> list[list]:
    """Categories ignored: diffscan's product types and clusters (level 0), next to k-means at the true number
    of types and at diffscan's own number of types, and HDBSCAN on UMAP-reduced vectors (what BERTopic runs)."""
    from sklearn.cluster import MiniBatchKMeans

    vectors = np.asarray(index.vectors, dtype=np.float32)
    with timer() as t:
        flat = analyze_landscape(index, level=0)
    seconds = t()
    types = flat.assignments["category"].astype(str)
    rows = [scores(truth, types, seconds, "diffscan product types, categories ignored (level 0 categories)"),
            scores(truth, flat.assignments["cluster_id"], seconds, "diffscan clusters, categories ignored (level 0)")]
    for k, why in ((n_truth, "the true number of types"), (types.nunique(), "diffscan's number of types")):
        with timer() as t:
            km = MiniBatchKMeans(k, random_state=0).fit_predict(vectors)
        rows.append(scores(truth, km, t(), f"MiniBatchKMeans k={k} ({why})"))
    if not with_umap:
        return rows
    try:
        import hdbscan
        import umap
    except ImportError:
        rows.append(["HDBSCAN on UMAP: not installed: pip install umap-learn hdbscan", "", "", "", "", "", "", ""])
    else:
        with timer() as t:
            reduced = umap.UMAP(n_neighbors=15, n_components=5, metric="cosine", min_dist=0.0,
                                random_state=0).fit_transform(vectors)
            labels = hdbscan.HDBSCAN(min_cluster_size=10).fit_predict(reduced)
        rows.append(scores(truth, labels, t(), "HDBSCAN mcs=10 on UMAP-5 (outliers = -1)", labels == -1))
    return rows


def product1m_rows(data) -> list[list]:
    """Product1M dev (Chinese Taobao titles, no categories): label sets as the truth of 'the same product'."""
    raw = pd.read_csv(data / "product1m_dev" / "products.csv", dtype=str, keep_default_na=False)
    folder = OUT / "landscape" / "product1m"
    try:
        index = load_index(folder, verify=False)
    except Exception:  # noqa: BLE001 - any problem: rebuild (embeddings come from the cache)
        index, _, _ = build_index(data / "product1m_dev" / "products.csv", folder,
                                  mapping={"listing_id": "id", "title": "title"})
    sets = product1m_labels(raw)  # a set has no order: joined sorted, as one label per listing
    truth = index.listings["listing_id"].astype(str).map(lambda i: " | ".join(sorted(sets[i])))
    return without_categories(index, truth, truth.nunique())


def maps(index: Index, land) -> list[list]:
    """Time of the map data and of the HTML and PNG exports."""
    out = OUT / "landscape"
    with timer() as t_data:
        frame = landscape_map(index, land)
    with timer() as t_html:
        write_map(frame, land, out / "map.html")
    with timer() as t_png:
        write_map(frame, land, out / "map.png")
    size = (out / "map.html").stat().st_size / 2**20
    return [["map data (PCA + t-SNE on 3,000, the rest placed)", f"{t_data():.1f}"],
            [f"HTML export ({size:.1f} MB, plotly.js inlined)", f"{t_html():.1f}"],
            ["PNG export", f"{t_png():.1f}"],
            ["map total (target <= 30 s)", f"{t_data() + t_html() + t_png():.1f}"]]


# ---- planted homogenization --------------------------------------------------------------------------


def _edit(title: str, rng: random.Random) -> str:
    """A small edit a seller makes to copy a listing: word order, case, a size, a colour."""
    words = title.split()
    if len(words) > 2:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    text = " ".join(words)
    text = rng.choice([str.lower, str.upper, str.title, lambda s: s])(text)
    text = re.sub(r"\b\d+(\.\d+)?\s*(g|kg|ml|l|gm|pcs)\b", "", text, flags=re.I).strip()
    return f"{text} {rng.choice(SIZES)} {rng.choice(COLOURS)}"


def with_clones(index: Index, category: str, n: int, seed: int = 0) -> Index:
    """The index plus n edited clones of listings of one category (embedded with the index's model)."""
    df = index.listings
    rows = np.flatnonzero(df["category_path"].map(" > ".join).to_numpy() == category)
    rng = random.Random(seed)
    picks = [int(rng.choice(rows)) for _ in range(n)]
    clones = df.iloc[picks].copy()
    clones["title"] = [_edit(t, rng) for t in clones["title"]]
    clones["listing_id"] = [f"clone-{i}" for i in range(n)]
    chars = index.manifest["text"]["description_chars"]
    texts = [listing_text(t, b, d, chars) for t, b, d in zip(clones["title"], clones["brand"], clones["description"])]
    vectors = index.encoder().encode(texts)
    lexical = weigh(term_counts(texts), index.idf)
    import scipy.sparse as sp

    return Index(path=index.path, manifest=index.manifest, listings=pd.concat([df, clones], ignore_index=True),
                 vectors=np.vstack([np.asarray(index.vectors), vectors]), lexical=sp.vstack([index.lexical, lexical]).tocsr(),
                 idf=index.idf)


def without_rows(index: Index, keep: np.ndarray) -> Index:
    return Index(path=index.path, manifest=index.manifest, listings=index.listings.iloc[keep].reset_index(drop=True),
                 vectors=np.asarray(index.vectors)[keep], lexical=index.lexical[keep], idf=index.idf)


def planted(index: Index, land) -> tuple[list[list], bool]:
    """Clone CLONES listings of a mid-ranked category; it must rank first and gain >= 0.2 near-duplicate share."""
    cats = land.categories[land.categories["listings"] >= 30].reset_index(drop=True)
    target = cats.iloc[len(cats) // 2]
    name = target["category"]
    before = target
    planted_index = with_clones(index, name, CLONES)
    after = analyze_landscape(planted_index, level=land.level).categories.set_index("category").loc[name]
    restored_index = without_rows(planted_index, np.arange(len(index)))
    restored = analyze_landscape(restored_index, level=land.level).categories.set_index("category").loc[name]
    rise = after["near_duplicate_share"] - before["near_duplicate_share"]
    ok = after["rank"] == 1 and rise >= 0.2 and restored["rank"] == before["rank"]
    rows = [[f"{label}", int(r["rank"]), int(r["listings"]), float(r["near_duplicate_share"]), f"{r['saturation_score']:.1f}"]
            for label, r in ((f"{name}: as published", before), (f"+ {CLONES} edited clones", after),
                             ("clones removed again", restored))]
    return rows, bool(ok)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 5,000-listing sample, no BERTopic")
    args = parser.parse_args(argv)
    data = require_datasets()
    print("BigBasket index: category_path = category > sub_category; `type` held out as ground truth.", flush=True)
    index, truth = bigbasket_index(data, args.quick)
    print(f"{len(index):,} listings, {truth.nunique()} types, {index.listings['category_path'].map(tuple).nunique()} sub-categories.", flush=True)
    with timer() as t:
        land = analyze_landscape(index)
    analysis_seconds = t()
    map_rows = maps(index, land)
    rss = peak_rss_mb()  # before the baselines run: this is diffscan's own peak
    results = {}
    rows = quality(index, truth, land, analysis_seconds, with_bertopic=not args.quick)
    columns = ["method", "clusters", "NMI", "AMI", "ARI", "unassigned share", "singleton share", "seconds"]
    results["quality"] = table(f"Clusters vs BigBasket `type` ({len(index):,} listings)", columns, rows)
    if not args.quick:
        results["product1m"] = table("Clusters vs Product1M dev label sets (no categories; Chinese titles)", columns,
                                     product1m_rows(data))
    speed = [["saturation analysis after the index exists (target <= 15 s)", f"{analysis_seconds:.1f}"], *map_rows,
             ["peak RSS after analysis and map, MB (target < 2,048)", f"{rss:,.0f}"]]
    results["speed"] = table("Speed (2 shared cores; timings are noisy)", ["what", "seconds / MB"], speed)
    print(f"\n{land.note}  Crowded categories: {int(land.categories['crowded'].sum())} of {len(land.categories)}.")
    planted_rows, ok = planted(index, land)
    results["planted"] = table("Planted homogenization (rank 1 = most saturated)",
                               ["catalog", "rank", "listings", "near-duplicate share", "saturation"], planted_rows)
    print(f"\nplanted check: {'PASS' if ok else 'FAIL'} (rank 1 with the clones, near-duplicate share +0.2 or more, "
          "back to its rank without them)")
    (OUT / "landscape" / ("results-quick.json" if args.quick else "results.json")).write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
