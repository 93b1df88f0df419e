"""Landscape: homogenization metrics with known answers, clusters, near-duplicate groups, saturation ranking."""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from diffscan.analyses import clusters as cl
from diffscan.analyses.landscape import (
    SATURATION,
    SaturationParams,
    ALL,
    SINGLETONS,
    analyze_landscape,
    brand_concentration,
    choose_level,
    distinct_offers,
    effective_number,
    is_crowded,
    label_flags,
    near_duplicate_share,
    price_spread,
    saturation_parts,
    saturation_score,
    shrink_scores,
)
from diffscan.catalog.demo import CROWDED_LEAVES, SPARSE_LEAVES
from diffscan.core.lexical import lexical_matrix
from diffscan.errors import QueryError
from diffscan.index.store import Index

ASSIGNMENT_COLUMNS = ["listing_id", "category", "cluster_id", "cluster_label", "near_duplicate_group", "is_singleton"]
CATEGORY_COLUMNS = ["category", "listings", "distinct_offers", "near_duplicate_share", "mean_knn_similarity",
                    "effective_clusters", "top_brand_share", "brand_hhi", "price_spread", "label_completeness",
                    "saturation_score", "crowded", "rank"]


def make_index(titles, *, categories=None, brands=None, prices=None, vectors=None, lexical=None) -> Index:
    """An in-memory index of hand-made listings (vectors random unless given)."""
    n = len(titles)
    if vectors is None:
        rng = np.random.default_rng(1)
        vectors = rng.normal(size=(n, 16)).astype(np.float32)
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    if lexical is None:
        lexical, idf = lexical_matrix(list(titles))
    else:
        idf = np.ones(lexical.shape[1], dtype=np.float32)
    listings = pd.DataFrame({
        "listing_id": [f"L{i}" for i in range(n)],
        "title": list(titles),
        "description": [""] * n,
        "category_path": [list(c) for c in (categories or [[] for _ in range(n)])],
        "brand": list(brands or [""] * n),
        "price": np.asarray(prices if prices is not None else [np.nan] * n, dtype=float),
        "rating": np.nan,
        "review_count": np.nan,
        "url": "",
        "extra": "{}",
    })
    manifest = {"text": {"description_chars": 300}, "model": {"id": "test", "spec": "test", "dimension": vectors.shape[1]}}
    return Index(path=Path("memory"), manifest=manifest, listings=listings, vectors=vectors, lexical=lexical, idf=idf)


def orthogonal(n: int) -> np.ndarray:
    return np.eye(n, dtype=np.float32)


# ---- metric functions ----------------------------------------------------------------------------


def test_all_identical_listings_are_one_offer():
    assert near_duplicate_share([7, 7, 7, 7]) == 1.0
    assert distinct_offers([7, 7, 7, 7]) == 1


def test_all_distinct_listings_have_no_near_duplicates():
    assert near_duplicate_share([1, 2, 3, 4]) == 0.0
    assert distinct_offers([1, 2, 3, 4]) == 4


def test_near_duplicate_share_uses_catalog_wide_group_sizes():
    # a listing whose look-alike sits in another cluster still has a near-duplicate
    assert near_duplicate_share([1, 2], group_sizes=[2, 1]) == 0.5


def test_one_brand_is_fully_concentrated():
    assert brand_concentration(["Acme", "acme ", "ACME"]) == (1.0, 1.0, "Acme")


def test_brand_concentration_of_two_equal_brands_and_of_none():
    top, hhi, _ = brand_concentration(["A", "B", "A", "B", ""])
    assert top == 0.5 and hhi == 0.5
    top, hhi, name = brand_concentration(["", "  "])
    assert math.isnan(top) and math.isnan(hhi) and name == ""


def test_effective_number_of_clusters():
    assert effective_number(["a", "a", "b", "b"]) == pytest.approx(2.0)
    assert effective_number(["a"] * 9 + ["b"]) == pytest.approx(1 / (0.81 + 0.01))
    assert effective_number(list("abcde")) == pytest.approx(5.0)


def test_price_spread():
    assert price_spread([10, 10, 10, 10]) == 0.0
    assert price_spread([10, 20, 30, 40, 50]) == pytest.approx((40 - 20) / 30)
    assert math.isnan(price_spread([10, np.nan, 20]))  # fewer than 3 known prices


def test_saturation_score_bounds_and_missing_parts():
    full = {"near_duplicates": 1, "similarity": 1, "crowding": 1, "price": 1, "brands": 1, "labels": 1}
    assert saturation_score(full) == 100.0
    assert saturation_score({k: 0 for k in full}) == 0.0
    # a part that cannot be measured is left out, the rest renormalized
    assert saturation_score({**full, "price": math.nan, "brands": math.nan}) == 100.0
    half = {"near_duplicates": 1, "similarity": 0, "crowding": 0, "price": math.nan, "brands": math.nan, "labels": 0}
    assert saturation_score(half) == pytest.approx(100 * 0.30 / 0.80, abs=0.1)


def test_saturation_parts_from_metrics():
    parts = saturation_parts({"listings": 201, "effective_clusters": 1.0, "near_duplicate_share": 0.5,
                              "mean_knn_similarity": 0.95, "price_spread": 0.0, "brand_hhi": 1.0,
                              "label_completeness": 0.25})
    assert parts == pytest.approx({"near_duplicates": 0.5, "similarity": 1.0, "crowding": 1.0, "price": 1.0,
                                   "brands": 0.0, "labels": 0.25})


def test_crowded_rule():
    assert is_crowded(60, 100)
    assert not is_crowded(60, 5)  # too small to call crowded
    assert not is_crowded(40, 1000)


def test_label_flags_read_brand_size_material_colour():
    flags = label_flags(["Stainless Steel Water Bottle 750ml Black", "Water bottle"], ["", ""], ["Acme", ""])
    assert flags.iloc[0].tolist() == [True, True, True, True]
    assert flags.iloc[1].tolist() == [False, False, False, False]


def test_choose_level():
    paths = [["A", f"B{i % 2}"] for i in range(60)]
    assert choose_level(paths)[0] == 2
    tiny = [["A", f"B{i}"] for i in range(60)]  # every leaf holds one listing
    assert choose_level(tiny)[0] == 1
    assert choose_level([[] for _ in range(5)])[0] == 0
    assert choose_level(paths, 1)[0] == 1
    with pytest.raises(QueryError, match="level 3 is outside"):
        choose_level(paths, 3)


# ---- the analysis on hand-made catalogs ----------------------------------------------------------


def test_identical_listings_one_brand():
    n = 30
    vectors = np.tile(np.arange(1, 17, dtype=np.float32), (n, 1))
    index = make_index(["Acme steel water bottle 750ml"] * n, categories=[["Drinkware"]] * n,
                       brands=["Acme"] * n, prices=[10.0] * n, vectors=vectors)
    land = analyze_landscape(index)
    cat = land.categories.iloc[0]
    assert cat["near_duplicate_share"] == 1.0
    assert cat["distinct_offers"] == 1
    assert cat["top_brand_share"] == 1.0 and cat["brand_hhi"] == 1.0
    assert cat["price_spread"] == 0.0
    assert cat["effective_clusters"] == pytest.approx(1.0)
    assert land.assignments["near_duplicate_group"].nunique() == 1
    assert land.assignments["cluster_id"].nunique() == 1
    assert cat["crowded"]


def test_distinct_listings():
    titles = ["red wool scarf", "garden hose reel", "usb microphone", "oak dining chair", "yoga block cork",
              "baby bath thermometer", "car phone mount", "cast iron skillet"]
    n = len(titles)
    index = make_index(titles, categories=[["Misc"]] * n, brands=[f"B{i}" for i in range(n)], vectors=orthogonal(n),
                       lexical=sp.identity(n, format="csr", dtype=np.float32))
    land = analyze_landscape(index)
    cat = land.categories.iloc[0]
    assert cat["near_duplicate_share"] == 0.0
    assert cat["distinct_offers"] == n
    assert land.assignments["near_duplicate_group"].nunique() == n  # a listing alone has its own group
    assert land.assignments["is_singleton"].all()
    assert land.clusters["label"].tolist() == [SINGLETONS]
    assert cat["effective_clusters"] == pytest.approx(n)  # singletons each count as their own kind of offer
    assert not cat["crowded"]


def test_category_of_one_listing():
    titles = ["Steel water bottle"] * 5 + ["Left-handed scissors"]
    cats = [["Bottles"]] * 5 + [["Scissors"]]
    vectors = np.vstack([np.tile(np.eye(16)[0], (5, 1)), np.eye(16)[1:2]])
    land = analyze_landscape(make_index(titles, categories=cats, vectors=vectors))
    one = land.categories.set_index("category").loc["Scissors"]
    assert one["listings"] == 1 and one["distinct_offers"] == 1 and one["near_duplicate_share"] == 0
    assert math.isnan(one["mean_knn_similarity"])
    assert 0 <= one["saturation_score"] <= 100
    row = land.assignments[land.assignments["category"] == "Scissors"].iloc[0]
    assert row["is_singleton"] and row["cluster_label"] == SINGLETONS
    assert land.categories.iloc[0]["category"] == "Bottles"


def test_catalog_without_categories_clusters_act_as_categories():
    rng = np.random.default_rng(0)
    centres = np.eye(16)[:3] * 5
    vectors = np.vstack([c + rng.normal(scale=0.3, size=(20, 16)) for c in centres])
    titles = [f"{kind} {i}" for kind in ("water bottle", "phone case", "yoga mat") for i in range(20)]
    land = analyze_landscape(make_index(titles, vectors=vectors))
    assert land.level == 0
    assert land.assignments["category"].str.startswith(f"{ALL} > ").all()
    assert len(land.categories) >= 2
    assert land.categories["category"].is_unique
    # the groups (k = sqrt(n / 2) = 5) never mix the planted kinds
    kinds = pd.Series(np.repeat([0, 1, 2], 20))
    assert (kinds.groupby(land.assignments["category"]).nunique() == 1).all()
    assert len(land.assignments) == 60 and land.assignments["cluster_id"].notna().all()


def test_fifty_thousand_near_identical_listings_stay_in_linear_memory():
    n = 50_000
    rng = np.random.default_rng(0)
    vectors = (np.ones((n, 8)) + rng.normal(scale=0.01, size=(n, 8))).astype(np.float32)
    lexical = sp.csr_matrix((np.ones(n, dtype=np.float32), (np.arange(n), np.zeros(n, dtype=int))), shape=(n, 4))
    titles = [f"Stainless steel water bottle {('750ml', '1L', '500ml')[i % 3]}" for i in range(n)]
    index = make_index(titles, categories=[["Bottles"]] * n, brands=["Acme", "Bolt"] * (n // 2), vectors=vectors, lexical=lexical)
    tracemalloc.start()
    try:
        land = analyze_landscape(index)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    quadratic = n * n * 4  # one float32 similarity matrix: 10 GB
    assert peak < 600 * 2**20 and peak < quadratic / 15
    cat = land.categories.iloc[0]
    assert cat["listings"] == n
    assert cat["near_duplicate_share"] == 1.0 and cat["distinct_offers"] == 1
    assert cat["mean_knn_similarity"] > 0.99


def test_nearest_neighbours_exact_and_inverted_file_agree():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(60, 16))  # embeddings come in kinds, not uniformly spread
    x = (np.repeat(centres, 100, axis=0) + rng.normal(scale=0.5, size=(6000, 16))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    exact_idx, exact_val = cl._exact_neighbours(x, 5, *cl._padded(len(x), 5))
    approx_idx, approx_val = cl.nearest_neighbours(x, 5)  # above ClusterParams.exact_limit: inverted file
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact_idx, approx_idx)])
    assert recall > 0.9
    assert np.all(approx_val <= exact_val + 1e-5)  # approximate never beats exact


def test_near_duplicate_pairs_catch_reordered_titles_and_use_documented_thresholds():
    titles = ["Insulated Water Bottle 750ml Black", "black water bottle insulated 750ml", "Garden hose 20m"]
    vectors = np.array([[1, 0, 0], [0.6, 0.8, 0], [0, 0, 1]], dtype=np.float32)  # cosine 0.6: text decides
    nbr, val = cl.nearest_neighbours(vectors, 2)
    a, b = cl.near_duplicate_pairs(vectors, titles, nbr, val)
    assert list(zip(a, b)) == [(0, 1)]


def test_cluster_keywords_are_c_tf_idf_of_titles():
    titles = ["steel water bottle", "insulated water bottle", "water bottle kids", "yoga mat thick", "yoga mat cork"]
    labels = np.array([0, 0, 0, 1, 1])
    kw = cl.ctfidf_keywords(titles, [""] * 5, labels, 2)
    assert kw[0][0] == "water bottle" and kw[1][0] == "yoga mat"
    assert not any(k in ("water", "bottle") for k in kw[0])  # contained in a better phrase


# ---- the demo corpus -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_landscape(demo_index):
    return analyze_landscape(demo_index)


def _leaf(category: str) -> str:
    return category.split(" > ")[-1]


def test_demo_crowded_leaves_rank_above_sparse_ones(demo_landscape):
    cats = demo_landscape.categories
    rank = {_leaf(c): r for c, r in zip(cats["category"], cats["rank"])}
    assert max(rank[leaf] for leaf in CROWDED_LEAVES) < min(rank[leaf] for leaf in SPARSE_LEAVES)
    assert sorted(rank[leaf] for leaf in CROWDED_LEAVES) == [1, 2, 3]
    crowded = {_leaf(c) for c in cats.loc[cats["crowded"], "category"]}
    assert set(CROWDED_LEAVES) <= crowded and not crowded & set(SPARSE_LEAVES)


def test_demo_contract(demo_index, demo_landscape):
    land = demo_landscape
    a = land.assignments
    assert list(a.columns[: len(ASSIGNMENT_COLUMNS)]) == ASSIGNMENT_COLUMNS
    assert a["listing_id"].tolist() == demo_index.listings["listing_id"].tolist()
    assert land.level == 3
    assert a["cluster_label"].str.len().gt(0).all()
    assert set(CATEGORY_COLUMNS) <= set(land.categories.columns)
    assert land.categories["rank"].tolist() == list(range(1, len(land.categories) + 1))
    judged = land.categories["judged"]
    assert judged.is_monotonic_decreasing  # every judged category ranks above the ones with too few listings
    for part in (land.categories[judged], land.categories[~judged]):
        assert part["saturation_score"].is_monotonic_decreasing
    assert land.categories["saturation_score"].between(0, 100).all()
    c = land.clusters
    assert {"cluster_id", "category", "size", "label", "keywords", "representative_id", "representative_title"} <= set(c.columns)
    assert c["cluster_id"].is_unique and c["size"].sum() == len(a)
    assert c.set_index("cluster_id")["size"].to_dict() == a["cluster_id"].value_counts().to_dict()
    rep_cluster = dict(zip(a["listing_id"], a["cluster_id"]))
    assert all(rep_cluster[r] == cid for r, cid in zip(c["representative_id"], c["cluster_id"]))
    # a cluster never spans categories; near-duplicate groups neither
    assert (a.groupby("cluster_id")["category"].nunique() == 1).all()
    assert (a.groupby("near_duplicate_group")["category"].nunique() == 1).all()


def test_demo_cluster_names(demo_landscape):
    clusters = demo_landscape.clusters
    bottles = clusters[clusters["category"].str.endswith("Water Bottles")].sort_values("size").iloc[-1]
    assert "water bottle" in bottles["keywords"]
    mats = clusters[clusters["category"].str.endswith("Yoga Mats")].sort_values("size").iloc[-1]
    assert "yoga mat" in mats["keywords"]


def test_demo_level_zero_still_finds_the_crowded_kinds(demo_index):
    land = analyze_landscape(demo_index, level=0)
    top = " ".join(land.categories.head(5)["category"])
    assert "water bottle" in top and "yoga mat" in top


# ---- the CLI ---------------------------------------------------------------------------------------


def _run(*args):
    from typer.testing import CliRunner

    from diffscan.cli import app

    return CliRunner().invoke(app, list(args))


def test_cli_saturation_table(demo_index):
    res = _run("saturation", "--index", str(demo_index.path), "--top", "5")
    assert res.exit_code == 0, res.output
    assert "Saturation by category (level 3)" in res.stdout and "Home & Kitchen" in res.stdout
    assert "3 of 20 categories are crowded" in res.stdout


def test_cli_and_exports_say_too_few_listings_to_judge(demo_index, tmp_path):
    import csv
    import json

    from diffscan.analyses.landscape import TOO_FEW

    res = _run("saturation", "--index", str(demo_index.path), "--top", "30")
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert "too few listings" in text  # the demo has categories under the documented size
    data = json.loads(_run("saturation", "--index", str(demo_index.path), "--format", "json").stdout)
    small = [c for c in data["categories"] if c["listings"] < SATURATION.min_judged_listings]
    assert small and all(c["verdict"] == TOO_FEW and not c["crowded"] for c in small)
    assert all("raw_saturation_score" in c for c in data["categories"])
    out = tmp_path / "cats.csv"
    assert _run("saturation", "--index", str(demo_index.path), "--format", "csv", "--out", str(out)).exit_code == 0
    verdicts = [r["verdict"] for r in csv.DictReader(out.open(encoding="utf-8"))]
    assert verdicts[-1] == TOO_FEW and verdicts[0] == "crowded"


def test_cli_saturation_json_and_csv(demo_index, tmp_path):
    import csv
    import json

    res = _run("saturation", "--index", str(demo_index.path), "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["level"] == 3 and "saturation =" in data["formula"]
    assert data["categories"][0]["rank"] == 1 and len(data["clusters"]) >= len(data["categories"])
    out = tmp_path / "cats.csv"
    res = _run("saturation", "--index", str(demo_index.path), "--format", "csv", "--out", str(out))
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == len(data["categories"]) and set(CATEGORY_COLUMNS) <= set(rows[0])


def test_cli_clusters_out_one_row_per_listing(demo_index, tmp_path):
    import csv

    target = tmp_path / "clusters.csv"
    res = _run("saturation", "--index", str(demo_index.path), "--level", "2", "--format", "csv", "--out",
               str(tmp_path / "c.csv"), "--clusters-out", str(target))
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert len(rows) == len(demo_index)
    assert list(rows[0]) == ["listing_id", "category", "cluster_id", "cluster_label", "near_duplicate_group"]
    assert all(r["category"].count(" > ") <= 1 for r in rows)  # level 2


def test_cli_user_errors_exit_2():
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "diffscan.cli", "saturation", "--index", "/nonexistent/x", "--format", "xml"],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 2 and "Unknown --format" in res.stderr and "Traceback" not in res.stderr


# ---- parameters ----------------------------------------------------------------------------------


def test_saturation_and_cluster_parameters_default_to_the_documented_numbers():
    from diffscan.analyses.landscape import SATURATION, SATURATION_FORMULA

    assert SATURATION.knn == 5 and "mean cosine to the 5 nearest listings" in SATURATION_FORMULA
    land = analyze_landscape(make_index(["a b", "a c", "d e"], categories=[["X"]] * 3))
    assert land.params == SATURATION and land.clustering == cl.CLUSTERING


def test_knn_sets_how_many_neighbours_the_similarity_part_reads():
    from diffscan.analyses.landscape import SaturationParams

    rng = np.random.default_rng(4)
    vectors = np.repeat(np.eye(16)[:4], 6, axis=0) + rng.normal(scale=0.3, size=(24, 16))
    index = make_index([f"listing {i}" for i in range(24)], categories=[["X"]] * 24, vectors=vectors)
    five = analyze_landscape(index).assignments["knn_similarity"]
    one = analyze_landscape(index, params=SaturationParams(knn=1)).assignments["knn_similarity"]
    assert (one >= five - 1e-6).all() and (one > five + 1e-3).any()  # the nearest is closer than the mean of 5
    twelve = analyze_landscape(index, params=SaturationParams(knn=12))  # more than clustering.candidates
    assert (twelve.assignments["knn_similarity"] < five + 1e-6).all()
    assert "to the 12 nearest listings" in twelve.to_dict()["formula"]


def test_cluster_distance_of_the_landscape_is_a_parameter():
    rng = np.random.default_rng(5)
    vectors = np.repeat(np.eye(16)[:3], 10, axis=0) + rng.normal(scale=0.35, size=(30, 16))
    index = make_index([f"listing {i}" for i in range(30)], categories=[["X"]] * 30, vectors=vectors)
    default = analyze_landscape(index)
    tight = analyze_landscape(index, clustering=cl.ClusterParams(cluster_distance=0.2))
    assert tight.clustering.cluster_distance == 0.2
    assert default.assignments["cluster_id"].nunique() == 3 and not default.assignments["is_singleton"].any()
    assert tight.assignments["is_singleton"].all()  # nothing is that alike: every listing its own kind of offer
    assert tight.categories.iloc[0]["effective_clusters"] > default.categories.iloc[0]["effective_clusters"]


def test_level_error_names_the_parameter():
    with pytest.raises(QueryError) as caught:
        choose_level([["A", "B"]], 5)
    assert caught.value.parameter == "level" and "--" not in str(caught.value)


# ---- block-wise computation --------------------------------------------------------------------------


def test_small_blocks_give_the_same_landscape_and_every_long_step_reports_progress(demo_index, demo_landscape,
                                                                                   monkeypatch):
    import diffscan.analyses.landscape as landscape_module

    monkeypatch.setattr(landscape_module, "_LABEL_ROWS", 7)
    seen: dict[str, list[tuple[int, int]]] = {}
    # Exact categories with top-k blocks of a few rows; then every category through micro-clusters and the
    # inverted file (whose blocks are whole cells at this size: smaller ones move similarities in the last bit).
    for exact_limit, block_elements, whole in (
            (cl.CLUSTERING.exact_limit, 64, demo_landscape),
            (40, 1 << 16, analyze_landscape(demo_index, clustering=cl.ClusterParams(exact_limit=40)))):
        tiny = cl.ClusterParams(exact_limit=exact_limit, block_elements=block_elements, release_rows=3)
        blocks = analyze_landscape(demo_index, clustering=tiny,
                                   progress=lambda stage, done, total: seen.setdefault(stage, []).append((done, total)))
        for name in ("assignments", "clusters", "categories"):
            pd.testing.assert_frame_equal(getattr(blocks, name), getattr(whole, name), check_exact=True)
    for stage in ("clusters", "names", "labels", "metrics"):
        done, total = seen[stage][-1]
        assert done == total > 0 and len(seen[stage]) > 1, stage


def test_label_flags_of_a_repeated_text_and_of_nothing():
    flags = label_flags(["Red cotton shirt 500 g", "Red cotton shirt 500 g"], ["", ""], ["Acme", " "])
    assert flags.to_dict("list") == {"label_brand": [True, False], "label_quantity": [True, True],
                                     "label_material": [True, True], "label_colour": [True, True]}
    empty = label_flags([], [], [])
    assert list(empty.columns) == [f"label_{k}" for k in ("brand", "quantity", "material", "colour")] and empty.empty


# ---- small categories cannot win the ranking ---------------------------------------------------------


def test_shrink_scores_pull_small_categories_to_the_mean():
    params = SaturationParams(prior_listings=10)
    # mean over listings: (100 x 40 + 2 x 90) / 102
    shrunk = shrink_scores([40.0, 90.0], [100, 2], params)
    mean = (100 * 40 + 2 * 90) / 102
    assert shrunk[1] == pytest.approx((2 * 90 + 10 * mean) / 12, abs=0.05)
    assert shrunk[0] == pytest.approx((100 * 40 + 10 * mean) / 110, abs=0.05)
    assert shrink_scores([70.0], [3], params)[0] == 70.0  # one category: its own mean
    assert (shrink_scores([40.0, 90.0], [100, 2], SaturationParams(prior_listings=0)) == [40.0, 90.0]).all()


def test_a_category_of_two_look_alikes_does_not_lead():
    # 40 varied listings in one category, 2 identical ones in another: the pair has the higher raw score
    rng = np.random.default_rng(3)
    big = rng.normal(size=(40, 16))
    pair = np.tile(np.eye(16)[0], (2, 1))
    titles = [f"wooden toy number {i} {w}" for i, w in enumerate(rng.choice(["car", "train", "boat", "plane"], 40))]
    titles += ["Acme pushchair rattle"] * 2
    cats = [["Toys", "Wooden"]] * 40 + [["Toys", "Pushchair"]] * 2
    land = analyze_landscape(make_index(titles, categories=cats, brands=["Acme"] * 42, vectors=np.vstack([big, pair])),
                             level=2)
    c = land.categories.set_index("category")
    small = c.loc["Toys > Pushchair"]
    assert small["raw_saturation_score"] > c.loc["Toys > Wooden", "raw_saturation_score"]
    assert not small["judged"] and not small["crowded"]
    assert land.categories.iloc[0]["category"] == "Toys > Wooden"
    assert small["saturation_score"] < small["raw_saturation_score"]


TOYS_INDEX = Path(__file__).resolve().parents[2] / "bench" / "out" / "niches" / "toys" / "full"


def test_toys_no_small_category_leads():
    """On the Amazon UK toys index (bench.niches builds it), no category under the documented size leads."""
    import os

    from diffscan.index.store import load_index

    path = Path(os.environ.get("DIFFSCAN_TOYS_INDEX", TOYS_INDEX))
    if not (path / "manifest.json").is_file():
        pytest.skip(f"no toys index at {path} (build it with python -m bench.niches, or set DIFFSCAN_TOYS_INDEX)")
    land = analyze_landscape(load_index(path))
    cats = land.categories
    top = cats.head(10)
    assert (top["listings"] >= SATURATION.min_judged_listings).all()
    assert top["judged"].all()
    # the documented size: a category under it is never crowded and never ranks above a judged one
    small = cats[cats["listings"] < SATURATION.min_judged_listings]
    assert len(small) and not small["crowded"].any()
    assert small["rank"].min() > cats.loc[cats["judged"], "rank"].max()
