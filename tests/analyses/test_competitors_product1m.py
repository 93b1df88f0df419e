"""Competitor search on Chinese text (Product1M dev, Taobao cosmetics): the hybrid beats each of its
signals alone. Needs ../shared/datasets; quality only, no timing."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from diffscan.analyses.competitors import find_competitors
from diffscan.index.build import build_index


@pytest.fixture(scope="module")
def product1m(datasets_dir, tmp_path_factory):
    catalog = datasets_dir / "product1m_dev" / "products.csv"
    if not catalog.is_file():
        pytest.skip(f"Product1M dev not found at {catalog}")
    index, _, stats = build_index(catalog, tmp_path_factory.mktemp("p1m") / "index")
    raw = pd.read_csv(catalog, dtype=str)
    label_of = dict(zip(raw["id"], raw["product_labels"].map(lambda s: frozenset(x.strip() for x in s.split("|")))))
    labels = [label_of[i] for i in index.listings["listing_id"]]
    count = Counter(labels)
    return index, stats, np.array([hash(x) for x in labels]), [i for i, x in enumerate(labels) if count[x] > 1]


def _recall(rows: list[list[int]], labels: np.ndarray, queries: list[int]) -> tuple[float, float]:
    hits = [labels[r] == labels[q] for q, r in zip(queries, rows)]
    return float(np.mean([h[0] for h in hits])), float(np.mean([h.any() for h in hits]))


def _top(sim: np.ndarray, queries: list[int]) -> list[list[int]]:
    sim = sim[queries].copy()
    sim[np.arange(len(queries)), queries] = -np.inf
    return [np.argsort(-row)[:10].tolist() for row in sim]


def test_hybrid_beats_its_best_single_signal(product1m):
    index, stats, labels, queries = product1m
    assert index.manifest["model"]["spec"] == "multilingual" and "model_note" in stats
    ids = index.listings["listing_id"].tolist()
    hybrid = [[index.row_of(c.listing_id) for c in find_competitors(index, listing_id=ids[q], k=10, explain=False)
               .competitors] for q in queries]
    r1, r10 = _recall(hybrid, labels, queries)
    semantic = _recall(_top(index.vectors @ index.vectors.T, queries), labels, queries)
    lexical = _recall(_top((index.lexical @ index.lexical.T).toarray(), queries), labels, queries)
    assert r1 > max(semantic[0], lexical[0]) + 0.01
    assert r10 >= max(semantic[1], lexical[1])
