"""diffscan.core.similarity: the near-duplicate rule, the cosine scale and top_rows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from diffscan.core.similarity import (
    COSINE_SCALE,
    NEAR_DUPLICATE,
    CosineScale,
    NearDuplicateRule,
    is_near_duplicate,
    top_rows,
)

# --- NearDuplicateRule ----------------------------------------------------------------------------------


def test_high_cosine_is_a_near_duplicate_whatever_the_titles():
    assert is_near_duplicate(0.97, "Ceramic coffee mug", "Garden hose 30m")
    assert is_near_duplicate(NEAR_DUPLICATE.cosine, "a", "b")  # at the threshold


def test_same_words_reordered_are_near_duplicates_even_at_low_cosine():
    assert is_near_duplicate(0.1, "Wireless Earbuds Black", "black wireless earbuds")


def test_trivial_edit_of_a_title_is_a_near_duplicate():
    assert is_near_duplicate(0.5, "Stainless Steel Travel Mug 500ml", "Stainless Steel Travel Mug 500 ml")


def test_different_listings_are_not_near_duplicates():
    assert not is_near_duplicate(0.5, "Ceramic coffee mug", "Garden hose 30m")
    assert not is_near_duplicate(0.9, "Ceramic coffee mug", "Garden hose 30m")


def test_extra_attributes_count_only_with_enough_cosine():
    a, b = "Wireless Earbuds", "Wireless Earbuds Black Noise Cancelling Case Included"
    assert is_near_duplicate(0.85, a, b)  # token_set_ratio 100, cosine >= set_min_cosine
    assert not is_near_duplicate(0.70, a, b)  # same titles, cosine too low


def test_a_custom_rule_is_used():
    strict = NearDuplicateRule(cosine=0.99, title_ratio=100.0, title_set_ratio=100.0, set_min_cosine=0.99)
    assert is_near_duplicate(0.97, "Ceramic coffee mug", "Garden hose 30m")
    assert not is_near_duplicate(0.97, "Ceramic coffee mug", "Garden hose 30m", rule=strict)
    assert strict(0.995, "x", "y")


def test_rule_is_frozen_and_described():
    with pytest.raises(dataclasses.FrozenInstanceError):
        NEAR_DUPLICATE.cosine = 0.5  # type: ignore[misc]
    text = NEAR_DUPLICATE.describe()
    assert "cosine >= 0.95" in text and "token_sort_ratio >= 92" in text and "cosine >= 0.80" in text


# --- CosineScale ------------------------------------------------------------------------------------------


def test_closeness_endpoints_and_midpoint():
    assert COSINE_SCALE.closeness(COSINE_SCALE.far) == 0.0
    assert COSINE_SCALE.closeness(COSINE_SCALE.near) == pytest.approx(1.0)
    assert COSINE_SCALE.closeness((COSINE_SCALE.far + COSINE_SCALE.near) / 2) == pytest.approx(0.5)


def test_closeness_is_clipped():
    assert COSINE_SCALE.closeness(-1.0) == 0.0
    assert COSINE_SCALE.closeness(0.2) == 0.0
    assert COSINE_SCALE.closeness(0.99) == 1.0
    assert COSINE_SCALE.closeness(1.5) == 1.0


def test_closeness_of_a_custom_scale_is_linear_and_a_float():
    scale = CosineScale(far=0.0, near=0.5)
    value = scale.closeness(np.float32(0.25))
    assert type(value) is float
    assert value == pytest.approx(0.5)
    assert scale.closeness(0.1) == pytest.approx(0.2)


# --- top_rows -----------------------------------------------------------------------------------------------


def test_top_rows_are_the_n_largest_positions():
    scores = np.array([0.1, 0.9, 0.3, 0.8, 0.2])
    assert set(top_rows(scores, 2).tolist()) == {1, 3}


def test_top_rows_ignore_non_finite_scores():
    scores = np.array([0.5, np.nan, 0.2, -np.inf, 0.7])
    assert set(top_rows(scores, 3).tolist()) == {0, 2, 4}
    assert set(top_rows(scores, 5).tolist()) == {0, 2, 4}  # NaN and -inf are never returned
    with_inf = np.array([0.5, np.inf, 0.7])
    assert 1 not in top_rows(with_inf, 3).tolist()


def test_top_rows_of_only_minus_infinity_is_empty():
    assert len(top_rows(np.array([-np.inf, -np.inf]), 2)) == 0


def test_top_rows_map_positions_to_rows():
    scores = np.array([0.1, 0.9, 0.3, 0.8])
    rows = np.array([40, 41, 42, 43])
    assert set(top_rows(scores, 2, rows).tolist()) == {41, 43}


def test_top_rows_clamps_n_and_handles_empty_input():
    scores = np.array([0.3, 0.1])
    assert set(top_rows(scores, 10).tolist()) == {0, 1}
    out = top_rows(scores, 0)
    assert len(out) == 0 and out.dtype == np.int64
    assert len(top_rows(np.array([]), 3)) == 0
