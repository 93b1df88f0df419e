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
    ctfidf_keywords,
    group_labels,
    mean_rows,
    near_duplicate_pairs,
    nearest_neighbours,
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
        max_candidates=2400, block_elements=1 << 22, seed=0)
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
