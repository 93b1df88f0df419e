"""diffscan.analyses.usps: what a listing states, and which of it is a USP or table stakes (UspParams)."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from diffscan.analyses.usps import (
    USP,
    UspParams,
    pick_common,
    pick_usps,
    stated,
    table_stakes,
    usps,
)

TITLE = "Bamboo Lid Stainless Steel Water Bottle 750ml, Leak Proof"


def _counts(n_competitors: int) -> Counter:
    """Competitors that all say 'stainless steel', 'water bottle'; 3 in 20 say 'leak proof'; none 'bamboo'."""
    return Counter({"material:stainless steel": n_competitors, "phrase:water bottle": n_competitors,
                    "phrase:stainless steel": n_competitors, "phrase:leak proof": 3, "phrase:leak": 3,
                    "phrase:proof": 3, "feature:leak proof": 3, "phrase:water": n_competitors, "phrase:bottle": n_competitors,
                    "phrase:steel": n_competitors, "phrase:stainless": n_competitors, "phrase:lid": 12})


def test_defaults_are_the_documented_numbers():
    assert USP == UspParams(usp_max_share=0.20, table_stakes_min_share=0.60, max_points=10)
    assert USP.describe() == ("a USP is stated by fewer than 20% of the competitors compared; table stakes by at "
                              "least 60% of them")
    with pytest.raises(dataclasses.FrozenInstanceError):
        USP.max_points = 3


def test_usp_max_share_decides_what_is_rare():
    own = stated(TITLE, title=TITLE)
    default = {p.text for p in usps(own, _counts(20), 20, TITLE)}
    assert "bamboo" in default and "leak proof" in default  # 3 of 20 = 15% < 20%
    strict = {p.text for p in usps(own, _counts(20), 20, TITLE, params=UspParams(usp_max_share=0.10))}
    assert "bamboo" in strict and "leak proof" not in strict


def test_table_stakes_min_share_decides_what_is_common():
    own = stated(TITLE, title=TITLE)
    counts = _counts(20)
    counts["phrase:water bottle"] = 13  # 65% of them
    default = {p.key for p in table_stakes(own, counts, 20, TITLE)}
    assert "phrase:water bottle" in default
    strict = {p.key for p in table_stakes(own, counts, 20, TITLE, params=UspParams(table_stakes_min_share=0.7))}
    assert "phrase:water bottle" not in strict and "material:stainless steel" in strict


def test_max_points_caps_the_lists():
    candidates = {f"phrase:word{i}": f"word{i}" for i in range(15)}
    assert len(pick_usps(candidates, Counter(), 10)) == 10
    assert len(pick_usps(candidates, Counter(), 10, params=UspParams(max_points=3))) == 3
    keys = set(candidates)
    counts = Counter({k: 10 for k in keys})
    assert len(pick_common(keys, counts, 10, {}, params=UspParams(max_points=4))) == 4
