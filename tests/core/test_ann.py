"""Approximate search above the threshold: same results API, same scores, checksummed files.

The threshold is lowered so a few hundred listings get the ANN graph and the lexical postings; an
exact build of the same catalog is the reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffscan.analyses.competitors import Filters, find_competitors
from diffscan.core.ann import (
    ANN_FILE,
    AnnBuilder,
    AnnIndex,
    AnnParams,
    ann_threshold,
    recall_at_k,
)
from diffscan.core.lexical import (
    LexicalParams,
    lexical_candidates,
    lexical_matrix,
    lexical_query,
    row_dots,
)
from diffscan.errors import IndexFormatError
from diffscan.index.build import build_index
from diffscan.index.store import load_index

PRODUCTS = ["ceramic coffee mug", "insulated water bottle", "yoga mat", "bluetooth speaker", "usb-c charger",
            "led desk lamp", "wireless mouse", "running shoes", "cotton t-shirt", "chef knife", "cutting board",
            "phone case", "laptop stand", "hiking backpack", "tea kettle", "bamboo toothbrush"]
BRANDS = ["Zenflow", "HydroPeak", "Acme", "Nordica", "Solace", "Vertex", "Kumo", "Brava"]
COLOURS = ["black", "white", "red", "blue", "green", "grey"]


def make_catalog(path, n: int = 480, seed: int = 0):
    """A seeded catalog of look-alike listings: product x brand x colour x size, with model codes."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        product = PRODUCTS[rng.integers(len(PRODUCTS))]
        brand = BRANDS[rng.integers(len(BRANDS))]
        code = f"{brand[:2].upper()}{rng.integers(100, 999)}"
        title = f"{brand} {product} {COLOURS[rng.integers(len(COLOURS))]} {rng.choice([250, 500, 750, 1000])} {code}"
        rows.append({"id": f"L{i:04d}", "title": title, "brand": brand, "category": f"Home > {product.split()[-1].title()}",
                     "price": f"{rng.uniform(5, 80):.2f}"})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(ANN index, exact index) of the same catalog."""
    root = tmp_path_factory.mktemp("ann")
    catalog = make_catalog(root / "catalog.csv")
    ann, _, _ = build_index(catalog, root / "ann", ann=True)
    exact, _, _ = build_index(catalog, root / "exact", ann=False)
    return ann, exact


def test_threshold_from_environment(monkeypatch):
    monkeypatch.setenv("DIFFSCAN_ANN_THRESHOLD", "123")
    assert ann_threshold() == 123
    monkeypatch.delenv("DIFFSCAN_ANN_THRESHOLD")
    assert ann_threshold() == 50_000


def test_auto_threshold_picks_the_search_kind(tmp_path, monkeypatch):
    catalog = make_catalog(tmp_path / "c.csv", n=120)
    monkeypatch.setenv("DIFFSCAN_ANN_THRESHOLD", "100")
    index, _, _ = build_index(catalog, tmp_path / "big", stream=True, chunk_rows=50)  # passes 100 mid-stream
    assert index.manifest["search"]["semantic"] == "ann" and len(index.ann) == 120
    monkeypatch.setenv("DIFFSCAN_ANN_THRESHOLD", "500")
    index, _, _ = build_index(catalog, tmp_path / "small")
    assert index.manifest["search"]["semantic"] == "exact" and index.ann is None
    assert set(index.manifest["files"]) == {"listings.parquet", "vectors.npy", "lexical.npz", "idf.npy"}


def test_manifest_records_and_checksums_the_ann_files(pair):
    ann, _ = pair
    search = ann.manifest["search"]
    assert search["semantic"] == "ann" and search["lexical"] == "postings"
    assert search["ann"]["dtype"] == AnnParams().dtype
    assert {ANN_FILE, "postings.npz"} <= set(ann.manifest["files"])
    assert isinstance(ann.vectors, np.memmap) or isinstance(ann.vectors.base, np.memmap)
    import mmap

    base = ann.lexical.data  # large indexes stay on disk until rows are used
    while getattr(base, "base", None) is not None and not isinstance(base, mmap.mmap):
        base = base.base
    assert isinstance(base, mmap.mmap)


def test_postings_are_the_transposed_lexical_matrix(pair):
    ann, exact = pair
    ref = exact.lexical.T.tocsr()
    assert np.array_equal(np.asarray(ann.postings.indptr), ref.indptr)
    assert np.array_equal(np.asarray(ann.postings.indices), ref.indices)
    assert np.allclose(np.asarray(ann.postings.data), ref.data)


def test_ann_and_exact_give_the_same_competitors(pair):
    ann, exact = pair
    encoder = exact.encoder()
    queries = exact.listings["title"].tolist()[::12]
    agree = 0
    for q in queries:
        vec = encoder.encode_one(q)
        a = find_competitors(ann, q, k=5, query_vector=vec).competitors
        e = find_competitors(exact, q, k=5, query_vector=vec).competitors
        agree += [c.listing_id for c in a] == [c.listing_id for c in e]
        scores = {c.listing_id: (c.score, c.semantic, c.lexical) for c in e}
        for c in a:  # a candidate's score never depends on how it was found
            if c.listing_id in scores:
                assert np.allclose((c.score, c.semantic, c.lexical), scores[c.listing_id], atol=2e-4)
    assert agree / len(queries) >= 0.95


def test_query_by_id_and_filters_on_an_ann_index(pair):
    ann, _ = pair
    lid = ann.listings["listing_id"][3]
    result = find_competitors(ann, listing_id=lid, k=10)
    assert lid not in [c.listing_id for c in result.competitors] and len(result.competitors) == 10
    f = Filters(max_price=20, exclude_brands=("Acme",))
    result = find_competitors(ann, "Zenflow yoga mat blue", k=10, filters=f)
    assert result.competitors
    assert all(c.price <= 20 and c.brand != "Acme" for c in result.competitors)


def test_altered_ann_file_is_reported(pair, tmp_path):
    import shutil

    ann, _ = pair
    copy = tmp_path / "copy"
    shutil.copytree(ann.path, copy)
    data = bytearray((copy / ANN_FILE).read_bytes())
    data[-5] ^= 0xFF
    (copy / ANN_FILE).write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match="ann.usearch .* altered or is corrupt"):
        load_index(copy)


def test_graph_recall_on_clustered_vectors(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 32))
    vectors = (centres[rng.integers(20, size=2000)] + 0.3 * rng.normal(size=(2000, 32))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    builder = AnnBuilder(32)
    for start in range(0, 2000, 500):
        builder.add(start, vectors[start : start + 500])
    builder.save(tmp_path / "g.usearch")
    graph = AnnIndex(tmp_path / "g.usearch", AnnParams())
    assert len(graph) == 2000
    rows = graph.search(vectors[7], 5)
    assert rows[0] == 7
    queries = vectors[:50] + 0.01
    assert recall_at_k(graph, vectors, queries, k=10) >= 0.85  # the graph's own int8 ranking
    assert recall_at_k(graph, vectors, queries, k=10, pool=100) >= 0.98  # re-ranked exactly, as searched


def test_pruned_postings_still_find_model_numbers():
    texts = [f"Brand{i % 7} speaker model XK{i:04d} black" for i in range(400)]
    m, idf = lexical_matrix(texts)
    postings = m.T.tocsr()
    q = lexical_query("xk0123 speaker", idf)
    rows = lexical_candidates(q, postings, pool=5, params=LexicalParams(postings_budget=50))  # far below the common grams' postings
    assert 123 in rows
    exact = row_dots(m, rows, q)
    assert np.allclose(exact, (m[rows] @ q.T).toarray().ravel(), atol=1e-6)
