"""Competitor search: ranking, exclusion of the query listing, filters, explanations, batch mode."""

from __future__ import annotations

import pytest

from diffscan.analyses.competitors import (
    Filters,
    Weights,
    find_competitors,
    find_competitors_batch,
)
from diffscan.core.text import model_codes, phrases, tokens
from diffscan.errors import QueryError


def test_water_bottle_query_finds_water_bottles(demo_index):
    result = find_competitors(demo_index, "Insulated stainless steel water bottle 750ml leak proof", k=10)
    assert len(result.competitors) == 10
    assert [c.rank for c in result.competitors] == list(range(1, 11))
    scores = [c.score for c in result.competitors]
    assert scores == sorted(scores, reverse=True)
    assert all("Water Bottles" in c.category for c in result.competitors)
    top = result.competitors[0]
    assert "water bottle" in " ".join(top.shared_phrases) or "bottle" in top.shared_phrases


def test_query_by_id_excludes_itself_and_finds_its_near_duplicates(demo_index):
    df = demo_index.listings
    lid = df[df["category_path"].map(lambda p: p[-1] == "Water Bottles")]["listing_id"].iloc[0]
    result = find_competitors(demo_index, listing_id=lid, k=15)
    ids = [c.listing_id for c in result.competitors]
    assert lid not in ids
    assert any(c.near_duplicate for c in result.competitors)
    assert all(c.same_category == (c.category == " > ".join(df.loc[df.listing_id == lid, "category_path"].iloc[0]))
               for c in result.competitors)


def test_score_components_combine_with_weights(demo_index):
    w = Weights(semantic=1, lexical=0, fuzzy=0, code=0, category=0)
    result = find_competitors(demo_index, "cork yoga mat", k=5, weights=w)
    for c in result.competitors:
        assert c.score == pytest.approx(c.semantic, abs=1e-3)


def test_filters(demo_index):
    f = Filters(category="Home & Kitchen > Drinkware", max_price=20, exclude_brands=("HydroPeak",))
    result = find_competitors(demo_index, "water bottle", k=20, filters=f)
    assert result.competitors
    for c in result.competitors:
        assert c.category.startswith("Home & Kitchen > Drinkware")
        assert c.price is not None and c.price <= 20
        assert c.brand != "HydroPeak"


def test_filters_that_match_nothing_return_empty(demo_index):
    result = find_competitors(demo_index, "water bottle", filters=Filters(min_price=1e9))
    assert result.competitors == []


def test_unique_and_shared_phrases_are_consistent(demo_index):
    result = find_competitors(demo_index, "Bamboo toothbrush for kids, charcoal bristles", k=5)
    q = phrases(result.query_text)
    for c in result.competitors:
        assert set(c.shared_phrases) <= q
        assert set(c.unique_to_query) <= q
        assert not set(c.shared_phrases) & set(c.unique_to_query)


def test_bad_queries(demo_index):
    with pytest.raises(QueryError, match="empty"):
        find_competitors(demo_index, "   ")
    with pytest.raises(QueryError, match="not in the index"):
        find_competitors(demo_index, listing_id="nope")


def test_chinese_query(demo_index):
    result = find_competitors(demo_index, "不锈钢保温杯 500ml", k=5)
    assert result.competitors
    assert any("Drinkware" in c.category for c in result.competitors)


def test_batch_one_row_per_query_and_rank(demo_index):
    queries = demo_index.listings.head(3)
    frame = find_competitors_batch(demo_index, queries, k=4)
    assert len(frame) == 12
    assert list(frame.groupby("query_id")["rank"].apply(list)) == [[1, 2, 3, 4]] * 3
    assert {"query_id", "listing_id", "rank", "score", "semantic", "lexical", "fuzzy"} <= set(frame.columns)


def test_text_helpers():
    assert model_codes("Sony Turntable - PSLX350H, 500ml, 1080p") == {"PSLX350H"}
    assert model_codes("Samsung KDL-40V4100") == {"KDL40V4100"}
    assert tokens("保温杯") == ["保温", "温杯"]
    assert "steel water bottle" in phrases("Stainless Steel Water Bottle")
    assert "the" not in phrases("the bottle")


def test_weights_state_their_formula():
    from diffscan.analyses.competitors import DEFAULT_WEIGHTS

    assert DEFAULT_WEIGHTS.formula("·") == "0.45·semantic + 0.40·lexical + 0.15·fuzzy + 0.25·[same model no.] + 0.10·[same category]"
    assert DEFAULT_WEIGHTS.maximum == pytest.approx(1.35)
    assert Weights(semantic=1, lexical=0, fuzzy=0, code=0, category=0).formula().startswith("1.00 x semantic + 0.00 x lexical")


def test_query_errors_name_the_parameter(demo_index):
    for kwargs, parameter in (({"k": 0, "text": "mug"}, "k"), ({"listing_id": "nope"}, "listing_id"), ({"text": "  "}, "text")):
        with pytest.raises(QueryError) as caught:
            find_competitors(demo_index, **kwargs)
        assert caught.value.parameter == parameter and "--" not in str(caught.value)
