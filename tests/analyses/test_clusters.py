"""diffscan.analyses.clusters: neighbours, near-duplicate groups, agglomerative clusters and their names."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from diffscan.analyses.clusters import (
    CLUSTERING,
    ClusterParams,
    agglomerate,
    cluster_offers,
    combined_similarity,
    compact_columns,
    ctfidf_keywords,
    gather,
    group_labels,
    mean_rows,
    near_duplicate_pairs,
    coarse_groups,
    nearest_neighbours,
    product_types,
    release_pages,
    representatives,
)
from diffscan.core.text import tokens


def _unit(rows) -> np.ndarray:
    x = np.asarray(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _same_partition(labels, expected) -> bool:
    """Whether two labelings group the rows the same way (label numbers may differ)."""
    pairs = set(zip(np.asarray(labels).tolist(), list(expected)))
    return len(pairs) == len(set(labels.tolist())) == len(set(expected))


# --- group_labels -------------------------------------------------------------------------------------


def test_group_labels_join_connected_pairs():
    labels = group_labels(6, np.array([0, 1, 4]), np.array([1, 2, 5]))
    assert labels[0] == labels[1] == labels[2]
    assert labels[4] == labels[5]
    assert len({labels[0], labels[3], labels[4]}) == 3
    assert labels.dtype == np.int64


def test_group_labels_join_through_a_chain_in_any_direction():
    labels = group_labels(4, np.array([3, 1]), np.array([1, 0]))  # 3-1 and 1-0: one group
    assert labels[0] == labels[1] == labels[3]
    assert labels[2] != labels[0]


def test_group_labels_without_pairs_are_all_distinct():
    labels = group_labels(3, np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    assert sorted(labels.tolist()) == [0, 1, 2]


# --- nearest_neighbours ---------------------------------------------------------------------------------------


def test_nearest_neighbours_on_tiny_vectors():
    x = _unit([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    idx, sim = nearest_neighbours(x, 2)
    assert idx.shape == sim.shape == (4, 2)
    assert idx[:, 0].tolist() == [1, 0, 3, 2]
    assert all(i not in row for i, row in enumerate(idx.tolist()))  # never its own neighbour
    assert (sim[:, 0] >= sim[:, 1]).all()  # best first
    np.testing.assert_allclose(sim[0, 0], float(x[0] @ x[1]), rtol=1e-6)


def test_nearest_neighbours_pad_when_there_are_too_few_rows():
    x = _unit([[1, 0], [0, 1]])
    idx, sim = nearest_neighbours(x, 3)
    assert idx.shape == (2, 3)
    assert idx[:, 0].tolist() == [1, 0]
    assert (idx[:, 1:] == -1).all()
    assert np.isnan(sim[:, 1:]).all()
    one_idx, one_sim = nearest_neighbours(_unit([[1, 0]]), 2)
    assert (one_idx == -1).all() and np.isnan(one_sim).all()


def test_nearest_neighbours_use_a_given_similarity_matrix():
    x = _unit([[1, 0], [0, 1], [1, 1]])
    sims = np.array([[1.0, 0.2, 0.1], [0.2, 1.0, 0.9], [0.1, 0.9, 1.0]], dtype=np.float32)
    idx, sim = nearest_neighbours(x, 1, sims=sims)
    assert idx[:, 0].tolist() == [1, 2, 1]
    np.testing.assert_allclose(sim[:, 0], [0.2, 0.9, 0.9])
    assert sims[0, 0] == 1.0  # the caller's matrix is not modified


# --- near-duplicate pairs ------------------------------------------------------------------------------------


def test_near_duplicate_pairs_find_reordered_titles_and_identical_meaning():
    titles = ["Ceramic Coffee Mug Blue", "Blue Ceramic Coffee Mug", "Garden Hose 30m", "Cast Iron Pan"]
    x = _unit([[1, 0, 0], [0.6, 0.8, 0], [0, 0, 1], [0, 1, 0.02]])
    idx, sim = nearest_neighbours(x, 2)
    a, b = near_duplicate_pairs(x, titles, idx, sim)
    assert sorted(zip(a.tolist(), b.tolist())) == [(0, 1)]  # same words, though the vectors differ
    labels = group_labels(len(titles), a, b)
    assert labels[0] == labels[1] and len(set(labels.tolist())) == 3


# --- ctfidf_keywords --------------------------------------------------------------------------------------------


def test_ctfidf_keywords_name_distinct_groups_with_their_own_whole_words():
    titles = ["Ceramic Coffee Mug", "Ceramic Coffee Mug Large", "Coffee Mug Ceramic Blue",
              "Garden Hose 30m", "Garden Hose Reel", "Expandable Garden Hose"]
    labels = np.array([0, 0, 0, 1, 1, 1])
    keywords = ctfidf_keywords(titles, ["Acme"] * 6, labels, 2, top=3)
    assert len(keywords) == 2
    assert keywords[0][0] in {"coffee mug", "ceramic coffee"}
    assert keywords[1][0] == "garden hose"
    for group, words in enumerate(keywords):
        assert 1 <= len(words) <= 3
        vocabulary = {t for title, lab in zip(titles, labels) if lab == group for t in tokens(title)}
        for kw in words:
            assert set(kw.split()) <= vocabulary  # whole words of the group's own titles
            assert not any(ch.isdigit() for ch in kw)  # sizes do not name a cluster
    assert not any("hose" in kw for kw in keywords[0])
    assert not any("mug" in kw for kw in keywords[1])


def test_ctfidf_keywords_leave_out_the_brand_and_handle_empty_groups():
    titles = ["Acme Kettle Steel", "Acme Kettle Glass"]
    keywords = ctfidf_keywords(titles, ["Acme", "Acme"], np.array([0, 0]), 2)
    assert "acme" not in keywords[0]
    assert "kettle" in " ".join(keywords[0]).split()
    assert keywords[1] == []
    assert ctfidf_keywords(["12", "34"], ["", ""], np.array([0, 1]), 2) == [[], []]


def test_ctfidf_keywords_of_chinese_titles_are_single_words():
    keywords = ctfidf_keywords(["蓝牙耳机", "蓝牙耳机 黑色"], ["", ""], np.array([0, 0]), 1)
    assert set(keywords[0]) == {"蓝牙", "耳机", "黑色"}


def test_ctfidf_keywords_of_chinese_titles_leave_out_brand_filler_and_single_characters():
    titles = ["兰蔻小黑瓶精华肌底液50ml 补水保湿 包邮正品", "兰蔻精华肌底液 补水 官方旗舰店",
              "雅诗兰黛小棕瓶精华露 修护", "雅诗兰黛小棕瓶 修护 新款"]
    brands = ["兰蔻", "兰蔻", "雅诗兰黛", "雅诗兰黛"]
    keywords = ctfidf_keywords(titles, brands, np.array([0, 0, 1, 1]), 2)
    assert "补水" in keywords[0] and "修护" in keywords[1]
    found = {w for kw in keywords for p in kw for w in p.split()}
    assert not found & {"兰蔻", "雅诗兰黛", "包邮", "正品", "官方", "旗舰店", "新款"}
    assert all(len(w) >= 2 for w in found)


# --- agglomerate ----------------------------------------------------------------------------------------------


def test_agglomerate_separates_two_clearly_separated_groups():
    x = _unit([[1, 0.05], [1, -0.05], [0.98, 0.0], [0.05, 1], [-0.05, 1], [0.0, 0.97]])
    labels = agglomerate(x @ x.T)
    assert _same_partition(labels, [0, 0, 0, 1, 1, 1])
    assert labels.dtype == np.int64


def test_agglomerate_keeps_one_group_of_similar_rows_and_handles_tiny_inputs():
    sim = np.full((4, 4), 0.9)
    np.fill_diagonal(sim, 1.0)
    assert len(set(agglomerate(sim).tolist())) == 1
    assert agglomerate(np.ones((1, 1))).tolist() == [0]
    assert agglomerate(np.ones((0, 0))).tolist() == []


def test_agglomerate_threshold_decides_the_cut():
    sim = np.array([[1.0, 0.5], [0.5, 1.0]])
    assert len(set(agglomerate(sim, distance_threshold=0.7).tolist())) == 1  # distance 0.5 < 0.7
    assert len(set(agglomerate(sim, distance_threshold=0.3).tolist())) == 2


# --- mean rows and representatives -------------------------------------------------------------------------


def test_mean_rows_and_representatives():
    x = _unit([[1, 0], [0.8, 0.6], [0.9, 0.3], [0, 1]])
    labels = np.array([0, 0, 0, 1])
    means = mean_rows(labels, x, 2)
    np.testing.assert_allclose(means[0], x[:3].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(means[1], x[3], rtol=1e-6)
    assert representatives(x, labels, 2).tolist() == [2, 3]


# --- parameters -----------------------------------------------------------------------------------------------


def test_cluster_parameters_default_to_the_documented_numbers():
    from diffscan.core.similarity import NEAR_DUPLICATE

    assert CLUSTERING == ClusterParams(
        semantic_weight=0.8, cluster_distance=0.70, exact_limit=4000, micro_cluster_size=8, max_micro_clusters=1000,
        pca_dimensions=64, candidates=10, title_window=4, near_duplicate=NEAR_DUPLICATE, cell_size=250, probes=8,
        max_candidates=2400, block_elements=1 << 22, release_rows=2048, type_neighbours=5, type_distance=2.5,
        type_limit=30_000, seed=0)
    assert CLUSTERING.cluster_similarity == pytest.approx(0.30)
    assert CLUSTERING.similarity_rule() == ("similarity = 0.8 x semantic cosine + 0.2 x lexical cosine; clusters merge "
                                            "while the mean similarity stays >= 0.30")
    with pytest.raises(dataclasses.FrozenInstanceError):
        CLUSTERING.cluster_distance = 0.5


def test_semantic_weight_mixes_the_two_cosines():
    x = _unit([[1, 0], [0, 1]])
    lexical = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32))  # lexically identical
    default = combined_similarity(x, lexical)
    assert default[0, 1] == pytest.approx(0.2)
    assert combined_similarity(x, lexical, params=ClusterParams(semantic_weight=1.0))[0, 1] == pytest.approx(0.0)
    assert combined_similarity(x, lexical, params=ClusterParams(semantic_weight=0.0))[0, 1] == pytest.approx(1.0)


def test_cluster_distance_and_the_big_category_path():
    rng = np.random.default_rng(2)
    x = _unit(np.repeat(np.eye(8)[:4], 30, axis=0) + rng.normal(scale=0.2, size=(120, 8)))
    lexical = sp.csr_matrix((120, 4), dtype=np.float32)
    planted = np.repeat(np.arange(4), 30)
    exact = cluster_offers(x, lexical)
    assert _same_partition(exact, planted)
    tight = cluster_offers(x, lexical, params=ClusterParams(cluster_distance=0.2))
    assert len(set(tight.tolist())) > 4
    # above exact_limit: micro-clusters of about micro_cluster_size rows, merged by the same rule
    micro = cluster_offers(x, lexical, params=ClusterParams(exact_limit=50, micro_cluster_size=5))
    assert _same_partition(micro, planted)


def test_title_window_and_the_near_duplicate_rule_decide_the_pairs():
    from diffscan.core.similarity import NearDuplicateRule

    titles = ["Ceramic Coffee Mug Blue", "Blue Ceramic Coffee Mug", "Garden Hose 30m", "Cast Iron Pan"]
    x = _unit([[1, 0, 0], [0.6, 0.8, 0], [0, 0, 1], [0, 1, 0.02]])
    idx, sim = nearest_neighbours(x, 2)
    assert len(near_duplicate_pairs(x, titles, idx, sim)[0]) == 1
    no_window = near_duplicate_pairs(x, titles, idx, sim, params=ClusterParams(title_window=0))
    assert len(no_window[0]) == 0  # cosine 0.6: only the sorted-title window finds the reordered pair
    strict = ClusterParams(near_duplicate=NearDuplicateRule(title_ratio=101, title_set_ratio=101))
    assert len(near_duplicate_pairs(x, titles, idx, sim, params=strict)[0]) == 0


def test_exact_limit_switches_to_the_inverted_file():
    rng = np.random.default_rng(3)
    x = _unit(np.repeat(rng.normal(size=(6, 8)), 40, axis=0) + rng.normal(scale=0.3, size=(240, 8)))
    exact_idx, _ = nearest_neighbours(x, 5)
    ivf = ClusterParams(exact_limit=100, cell_size=40, probes=3)
    approx_idx, _ = nearest_neighbours(x, 5, params=ivf)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact_idx, approx_idx)])
    assert 0.8 < recall
    assert all(i not in row for i, row in enumerate(approx_idx.tolist()))
    again, _ = nearest_neighbours(x, 5, params=ivf)
    assert (again == approx_idx).all()  # seeded: an analysis repeats exactly


# --- block-wise computation: the same numbers as the whole matrices -------------------------------------


def _sklearn_average_linkage(similarity: np.ndarray, threshold: float) -> np.ndarray:
    """What agglomerate computed before it cut scipy's tree itself: scikit-learn on the full distance matrix."""
    from sklearn.cluster import AgglomerativeClustering

    distance = np.clip(1.0 - similarity.astype(np.float64), 0.0, None)
    np.fill_diagonal(distance, 0.0)
    distance = (distance + distance.T) / 2
    model = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average", distance_threshold=threshold)
    return model.fit_predict(distance).astype(np.int64)


def test_agglomerate_gives_scikit_learns_labels_numbered_as_it_numbers_them():
    rng = np.random.default_rng(5)
    for trial in range(40):
        n, kinds = int(rng.integers(2, 120)), int(rng.integers(1, 12))
        x = rng.normal(size=(kinds, 8))[rng.integers(0, kinds, n)] + rng.normal(scale=rng.uniform(0.2, 1.2), size=(n, 8))
        x = _unit(x)
        sims = x @ x.T
        if trial % 3 == 0:
            sims = np.round(sims, 1)  # ties
        if trial % 4 == 0:
            sims = sims + rng.normal(scale=0.01, size=sims.shape).astype(np.float32)  # not symmetric
        for threshold in (0.3, 0.5, 0.7):
            assert agglomerate(sims, threshold).tolist() == _sklearn_average_linkage(sims, threshold).tolist()


def test_nearest_neighbours_of_a_given_matrix_are_the_same_in_blocks_of_any_size():
    rng = np.random.default_rng(6)
    x = _unit(np.repeat(rng.normal(size=(5, 8)), 12, axis=0) + rng.normal(scale=0.2, size=(60, 8)))
    sims = np.round(x @ x.T, 2)  # ties between neighbours
    whole_idx, whole_val = nearest_neighbours(x, 7, sims=sims)
    for block_elements in (1, 60, 7 * 60, 1000):
        idx, val = nearest_neighbours(x, 7, sims=sims, params=ClusterParams(block_elements=block_elements))
        assert (idx == whole_idx).all() and np.array_equal(val, whole_val, equal_nan=True)
    assert all(i not in row for i, row in enumerate(whole_idx.tolist()))


def test_compact_columns_keep_every_product():
    rng = np.random.default_rng(7)
    m = sp.random(30, 1 << 20, density=2e-5, format="csr", dtype=np.float32, random_state=8)
    m.data = rng.uniform(0.1, 1, size=m.nnz).astype(np.float32)
    c = compact_columns(m)
    assert c.shape[0] == 30 and c.shape[1] == len(np.unique(m.indices)) < m.shape[1]
    assert np.array_equal((c @ c.T).toarray(), (m @ m.T).toarray())
    sem = _unit(rng.normal(size=(30, 4)))
    assert np.array_equal(combined_similarity(sem, m), combined_similarity(sem, c))


def test_ctfidf_keywords_do_not_depend_on_how_many_titles_are_remembered(monkeypatch):
    import diffscan.analyses.clusters as clusters

    titles = ["Bamboo toothbrush soft", "Bamboo toothbrush soft", "Bamboo toothbrush kids", "Steel bottle 1L",
              "Steel bottle 750ml", "Steel bottle 1L", "Glass jar with lid", "Glass jar with lid"] * 3
    brands = ["Acme", "Acme", "", "Bolt", "Bolt", "", "Cora", "Cora"] * 3
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2] * 3)
    whole = ctfidf_keywords(titles, brands, labels, 3)
    seen = []
    monkeypatch.setattr(clusters, "_SEEN_TITLES", 1)
    assert ctfidf_keywords(titles, brands, labels, 3, progress=lambda done, total: seen.append((done, total))) == whole
    assert seen[-1] == (len(titles), len(titles))


def test_representatives_in_blocks(monkeypatch):
    import diffscan.analyses.clusters as clusters

    rng = np.random.default_rng(9)
    x = _unit(rng.normal(size=(50, 8)))
    labels = rng.integers(0, 6, 50)
    whole = representatives(x, labels, 6)
    monkeypatch.setattr(clusters, "CLUSTERING", ClusterParams(block_elements=8 * 3))  # 3 rows a block
    assert representatives(x, labels, 6).tolist() == whole.tolist()


def test_release_pages_lets_go_of_mapped_pages_and_leaves_other_arrays_alone(tmp_path):
    x = np.arange(40_000, dtype=np.float32).reshape(1000, 40)
    np.save(tmp_path / "x.npy", x)
    mapped = np.asarray(np.load(tmp_path / "x.npy", mmap_mode="r"))
    total = float(mapped.sum())
    release_pages(mapped, mapped[10:20], x, sp.csr_matrix(x).data)
    assert float(mapped.sum()) == total  # read again from the page cache
    assert float(x.sum()) == total


def test_gather_reads_rows_in_steps_as_one_fancy_index(tmp_path):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    mapped = np.asarray(np.load(tmp_path / "x.npy", mmap_mode="r"))
    m = sp.random(300, 50, density=0.1, format="csr", dtype=np.float32, random_state=11)
    rows = np.sort(rng.choice(300, size=77, replace=False))
    for step in (1, 5, 77, 1000):
        assert np.array_equal(gather(mapped, rows, step), x[rows])
        got = gather(m, rows, step)
        assert sp.issparse(got) and np.array_equal(got.toarray(), m[rows].toarray())
    assert gather(m, rows[:0], 5).shape == (0, 50)


# --- product types (a catalog without categories) -------------------------------------------------------


def _blobs(sizes, spread, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around len(sizes) random directions of 64 dimensions, and each row's blob."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), 64))
    truth = np.repeat(np.arange(len(sizes)), sizes)
    return _unit(centres[truth] + spread * rng.normal(size=(len(truth), 64))), truth


def test_product_types_find_the_number_of_kinds_from_the_data():
    for sizes in ([40, 40, 40], [60, 25, 10, 80, 30, 45]):  # no k is given: the cut finds 3, then 6
        x, truth = _blobs(sizes, spread=0.08)
        labels = product_types(x)
        assert _same_partition(labels, truth.tolist()), (sizes, np.bincount(labels))
        assert labels.min() == 0 and labels.max() == len(sizes) - 1  # every listing assigned, labels 0..k-1


def test_product_types_repeat_exactly_and_handle_tiny_catalogs():
    x, _ = _blobs([30, 30], spread=0.1, seed=3)
    assert np.array_equal(product_types(x), product_types(x))
    assert product_types(x[:2]).tolist() == [0, 0]
    assert product_types(x[:0]).tolist() == []


def test_type_distance_decides_how_far_types_merge():
    x, _ = _blobs([50, 50, 50, 50], spread=0.08, seed=1)
    assert len(set(product_types(x, params=ClusterParams(type_distance=1000.0)).tolist())) == 1
    assert len(set(product_types(x).tolist())) == 4
    assert len(set(product_types(x, params=ClusterParams(type_distance=0.05)).tolist())) > 4


def test_coarse_groups_use_product_types_up_to_the_limit_and_k_means_above_it():
    x, truth = _blobs([40, 40, 40], spread=0.08, seed=2)
    assert _same_partition(coarse_groups(x), truth.tolist())
    above = coarse_groups(x, params=ClusterParams(type_limit=50))
    assert len(set(above.tolist())) == round((len(x) / 2) ** 0.5)  # k-means with k = sqrt(n / 2)


def test_top_k_is_a_full_sort_cut_at_k_with_ties_to_the_lower_column():
    from diffscan.analyses.clusters import _top_k

    rng = np.random.default_rng(0)
    for rows, cols, k in ((50, 300, 5), (7, 64, 10), (3, 5, 5), (20, 1000, 1)):
        sims = rng.integers(0, 6, size=(rows, cols)).astype(np.float32)  # many ties
        sims[0, 0] = -np.inf
        idx, val = _top_k(sims, k)
        order = np.lexsort((np.tile(np.arange(cols), (rows, 1)), -sims), axis=1)[:, :k]
        assert np.array_equal(idx, order) and np.array_equal(val, np.take_along_axis(sims, order, axis=1))
    with_nan = rng.normal(size=(4, 100)).astype(np.float32)
    with_nan[1, 3] = np.nan  # rare, but it must not shift rows: the plain path takes over
    idx, _ = _top_k(with_nan, 3)
    assert idx.shape == (4, 3) and set(idx[0]) == set(np.argsort(-with_nan[0])[:3])
