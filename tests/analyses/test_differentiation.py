"""Differentiation of one listing: USPs, table stakes, suggestions and the 0-100 score."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from diffscan.analyses.differentiation import (
    DIFFERENTIATION,
    DIFFERENTIATION_FORMULA,
    DifferentiationParams,
    differentiate,
    differentiation_score,
)
from diffscan.analyses.usps import USP, UspParams, catalog_segmenter, display
from diffscan.core.attributes import attribute_keys
from diffscan.core.text import listing_text, phrases
from diffscan.errors import QueryError
from diffscan.index.build import build_index
from diffscan.present import export

BOTTLES = [
    # id, title, reviews
    ("B01", "Stainless Steel Water Bottle with Bamboo Lid 750ml", 40),
    ("B02", "Stainless Steel Water Bottle 500ml - Leak Proof, Sweat Proof", 9000),
    ("B03", "Insulated Stainless Steel Water Bottle 1L, Leak Proof", 7000),
    ("B04", "Stainless Steel Water Bottle 750ml Leak Proof - Keeps Cold 24 Hours", 8000),
    ("B05", "Stainless Steel Insulated Water Bottle 600ml - BPA Free", 30),
    ("B06", "Stainless Steel Water Bottle 1L for Gym", 25),
    ("B07", "Double Wall Stainless Steel Water Bottle 500ml, Black", 20),
    ("B08", "Stainless Steel Water Bottle 750ml with Straw Lid", 15),
    ("B09", "Stainless Steel Sports Water Bottle 1L - Navy", 12),
    ("B10", "Stainless Steel Water Bottle 350ml for School", 10),
    ("B11", "Stainless Steel Flask Water Bottle 500ml, Matte White", 8),
]

CHINESE = [
    ("C01", "竹盖不锈钢保温杯 500ml", 30),
    ("C02", "不锈钢保温杯 500ml 防漏", 900),
    ("C03", "不锈钢保温杯 750ml 黑色", 800),
    ("C04", "不锈钢真空保温杯 1L 大容量", 700),
    ("C05", "不锈钢保温杯 500ml 白色 便携", 50),
    ("C06", "不锈钢保温杯 350ml 儿童", 40),
    ("C07", "不锈钢保温杯 600ml 运动", 20),
    ("C08", "不锈钢保温杯 500ml 粉色", 10),
]


def _catalog(path, rows, category):
    frame = pd.DataFrame(
        [{"id": i, "title": t, "category": category, "brand": f"Brand{n % 4}", "price": 10 + n,
          "review_count": r, "rating": 4.0 + (r > 1000) * 0.6} for n, (i, t, r) in enumerate(rows)]
    )
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def bottles(tmp_path_factory):
    root = tmp_path_factory.mktemp("bottles")
    index, _, _ = build_index(_catalog(root / "bottles.csv", BOTTLES, "Home > Bottles"), root / "index")
    return index


@pytest.fixture(scope="session")
def chinese(tmp_path_factory):
    root = tmp_path_factory.mktemp("chinese")
    index, _, _ = build_index(_catalog(root / "cups.csv", CHINESE, "家居 > 保温杯"), root / "index")
    return index


def test_the_only_bamboo_listing_has_bamboo_as_usp_and_stainless_steel_as_table_stakes(bottles):
    d = differentiate(bottles, listing_id="B01", k=10)
    assert d.compared == 10
    usp = {p.text: p for p in d.usps}
    assert "bamboo" in usp and usp["bamboo"].count == 0 and usp["bamboo"].kind == "material"
    stakes = {p.text: p for p in d.table_stakes}
    assert "stainless steel" in stakes and stakes["stainless steel"].share == 1.0
    assert all(p.share >= USP.table_stakes_min_share for p in d.table_stakes)
    assert "stainless steel" not in usp and "water bottle" not in usp


def test_leaders_suggestion_names_what_the_most_reviewed_state(bottles):
    d = differentiate(bottles, listing_id="B01", k=10)
    assert d.demand_source == "reviews"
    leaders = {s.text: s for s in d.suggestions if s.reason == "leaders"}
    assert "leak proof" in leaders
    assert set(leaders["leak proof"].examples) <= {"B02", "B03", "B04"}
    # Nothing suggested is already in the listing.
    own = phrases(d.text) | attribute_keys(d.text)
    for s in d.suggestions:
        assert s.key not in own and s.key.removeprefix("phrase:") not in own


def test_a_pasted_listing_is_compared_with_the_whole_index(bottles):
    d = differentiate(bottles, "Bamboo water bottle for kids, glass, 400ml", k=5)
    assert d.listing_id is None and d.compared == 5
    assert {"for kids", "glass", "bamboo"} & {p.text for p in d.usps} or {"kids"} & {p.text for p in d.usps}
    assert 0 <= d.score <= 100
    assert set(d.components) == {"distance", "unique_share", "no_near_duplicates"}


def test_white_space_is_offered_by_no_close_competitor(bottles):
    d = differentiate(bottles, listing_id="B05", k=2)
    close = [listing_text(c.title, c.brand) for c in d.competitors]
    for s in (s for s in d.suggestions if s.reason == "white space"):
        assert not any(s.key in attribute_keys(t) for t in close)
        assert s.examples


def test_white_space_comes_from_the_listings_market(demo_index):
    """A glass water bottle is not told to add a kettle's 'electric' or a camping pot's 'titanium'."""
    d = differentiate(demo_index, "Glass water bottle with bamboo lid, 550ml")
    close = [c.category for c in d.competitors]
    market = {c for c in close if close.count(c) >= DIFFERENTIATION.market_share * len(close)}
    space = [s for s in d.suggestions if s.reason == "white space"]
    assert space and market == {"Home & Kitchen > Drinkware > Water Bottles"}
    categories = dict(zip(demo_index.listings["listing_id"], demo_index.listings["category_path"]))
    assert all(" > ".join(categories[e]) in market for s in space for e in s.examples)
    assert not {s.key for s in space} & {"feature:electric", "material:titanium", "material:copper"}


def test_white_space_does_not_suggest_a_word_the_listing_already_says():
    from collections import Counter

    from diffscan.analyses.differentiation import _white_space, stated
    from diffscan.core.attributes import attributes_of

    tea = stated("Organic Green Tea 100 bags, Tulsi", title="Organic Green Tea 100 bags, Tulsi")
    further = attributes_of(["Tea Caddy - Green, Cotton Bags"])
    keys = {s.key for s in _white_space(tea, Counter(), further, ["X1"], DIFFERENTIATION)}
    assert "colour:green" in further[0] and "colour:green" not in keys
    assert "material:cotton" in keys


def test_a_phrase_of_distinctive_words_is_one_usp_and_a_common_word_is_left_out():
    from collections import Counter

    from diffscan.analyses.usps import pick_usps

    listing = ["advent", "calendar", "advent calendar", "lego", "lego advent", "lego advent calendar",
               "bamboo", "lid", "bamboo lid"]
    candidates = {f"phrase:{p}": p for p in listing}
    counts = Counter({"phrase:lego": 15, "phrase:lid": 12, "phrase:advent": 1, "phrase:calendar": 2})
    shown = [p.text for p in pick_usps(candidates, counts, 20)]
    assert "advent calendar" in shown and "bamboo" in shown
    assert not {"advent", "calendar", "lego advent", "lego advent calendar", "bamboo lid", "lego"} & set(shown)


def test_chinese_listing_usps_and_table_stakes(chinese):
    d = differentiate(chinese, listing_id="C01", k=7)
    usp = {p.key: p for p in d.usps}
    assert "material:bamboo" in usp and usp["material:bamboo"].text == "竹"
    stakes = {p.key: p.text for p in d.table_stakes}
    assert stakes.get("material:stainless steel") == "不锈钢"
    assert stakes.get("feature:insulated") == "保温"
    # Phrases shown are whole words, never a bigram straddling two words.
    assert "钢保" not in {p.text for p in d.usps + d.table_stakes}


def test_chinese_pasted_text(chinese):
    d = differentiate(chinese, "竹盖保温杯 儿童 350ml", k=7)
    assert d.compared == 7  # C01 also has a bamboo lid: 1 of 7 competitors, under 20%
    assert any(p.key == "material:bamboo" and p.count == 1 for p in d.usps)


def test_display_joins_cjk_bigrams():
    assert display("不锈 锈钢") == "不锈钢"
    assert display("water bottle") == "water bottle"


def test_score_scale():
    assert differentiation_score([0.99] * 10, 0.0, 10)[0] == 0.0
    assert differentiation_score([0.2] * 10, 1.0, 0)[0] == 100.0
    mid, parts, nearest = differentiation_score([0.675] * 10, 0.5, 5)
    assert parts["distance"] == pytest.approx(0.5) and nearest == pytest.approx(0.675)
    assert mid == pytest.approx(100 * (0.6 * 0.5 + 0.25 * 0.5 + 0.15 * 0.5))
    assert differentiation_score([], 0.0, 0)[0] == 100.0


def test_errors():
    with pytest.raises(QueryError, match=r"\(k\) must be at least 1") as caught:
        differentiate(None, "x", k=0)
    assert caught.value.parameter == "k" and "--" not in str(caught.value)


# --- parameters ------------------------------------------------------------------------------------------


def test_default_parameters_are_the_documented_numbers():
    assert DIFFERENTIATION.weight == {"distance": 0.60, "unique_share": 0.25, "no_near_duplicates": 0.15}
    assert (DIFFERENTIATION.scale.far, DIFFERENTIATION.scale.near, DIFFERENTIATION.nearest) == (0.40, 0.95, 5)
    assert (DIFFERENTIATION.leader_share, DIFFERENTIATION.min_leaders, DIFFERENTIATION.leader_min_share) == (0.25, 3, 0.50)
    assert (DIFFERENTIATION.max_suggestions, DIFFERENTIATION.wider, DIFFERENTIATION.market_share) == (5, 5, 0.25)
    assert DIFFERENTIATION.usp == USP == UspParams(usp_max_share=0.20, table_stakes_min_share=0.60, max_points=10)
    assert DIFFERENTIATION_FORMULA.startswith(
        "score = 100 x (0.60 distance + 0.25 unique_share + 0.15 no_near_duplicates); "
        "distance = clip((0.95 - s) / (0.95 - 0.40), 0, 1), s = mean cosine to the 5 nearest competitors")
    assert "fewer than 20% of the competitors" in DIFFERENTIATION_FORMULA
    with pytest.raises(dataclasses.FrozenInstanceError):
        DIFFERENTIATION.nearest = 3


def test_score_weights_and_nearest_are_parameters():
    semantic = [0.95, 0.95, 0.40, 0.40, 0.40, 0.40]
    default = differentiation_score(semantic, 0.0, 0)
    distance_only = DifferentiationParams(weights=(("distance", 1.0), ("unique_share", 0.0), ("no_near_duplicates", 0.0)))
    score, parts, _ = differentiation_score(semantic, 0.0, 0, params=distance_only)
    assert score == pytest.approx(100 * parts["distance"]) == pytest.approx(60.0)
    assert default[0] == pytest.approx(100 * (0.60 * 0.6 + 0.15 * 1.0))
    nearest_two = differentiation_score(semantic, 0.0, 0, params=DifferentiationParams(nearest=2))
    assert nearest_two[2] == pytest.approx(0.95) and nearest_two[1]["distance"] == 0.0 < default[1]["distance"]


def test_a_stricter_usp_rule_finds_fewer_usps_and_more_table_stakes(bottles):
    default = differentiate(bottles, listing_id="B01", k=10)
    strict = differentiate(bottles, listing_id="B01", k=10,
                           params=DifferentiationParams(usp=UspParams(usp_max_share=0.01, table_stakes_min_share=0.3)))
    assert {p.key for p in strict.usps} <= {p.key for p in default.usps}
    assert all(p.count == 0 for p in strict.usps)
    assert len(strict.table_stakes) >= len(default.table_stakes)
    assert all(p.share >= 0.3 for p in strict.table_stakes)
    few = differentiate(bottles, listing_id="B01", k=10, params=DifferentiationParams(usp=UspParams(max_points=1)))
    assert len(few.usps) <= 1 and len(few.table_stakes) <= 1


def test_wider_sets_how_far_white_space_looks(bottles):
    none = differentiate(bottles, listing_id="B05", k=2, params=DifferentiationParams(wider=1))
    assert not [s for s in none.suggestions if s.reason == "white space"]  # nothing beyond the k compared
    capped = differentiate(bottles, listing_id="B01", k=10, params=DifferentiationParams(max_suggestions=1))
    assert all(sum(s.reason == r for s in capped.suggestions) <= 1 for r in ("leaders", "table stakes", "white space"))


def test_unknown_id_and_empty_text_are_query_errors(bottles):
    with pytest.raises(QueryError):
        differentiate(bottles, listing_id="nope")
    with pytest.raises(QueryError):
        differentiate(bottles, "   ")


def test_distinct_listing_scores_higher_than_a_crowded_one(demo_index):
    df = demo_index.listings
    distinct = df[df["title"].str.startswith("Glass Water Bottle with Silicone Sleeve")]["listing_id"].iloc[0]
    crowded = df[df["title"].str.startswith("Stainless Steel Insulated Water Bottle")]["listing_id"].iloc[0]
    a = differentiate(demo_index, listing_id=distinct)
    b = differentiate(demo_index, listing_id=crowded)
    assert a.score > b.score + 20
    assert {"bamboo", "glass"} <= {p.text for p in a.usps}


def _competitor_texts(index, d) -> list[str]:
    df = index.listings.set_index("listing_id")
    chars = index.manifest["text"]["description_chars"]
    return [listing_text(df.at[c.listing_id, "title"], df.at[c.listing_id, "brand"], df.at[c.listing_id, "description"], chars)
            for c in d.competitors]


def test_usp_invariant_on_the_demo_corpus(demo_index):
    """Every USP shown appears in the listing and in fewer than 20% of the competitors compared."""
    ids = demo_index.listings["listing_id"].tolist()[::9]
    checked = 0
    segmenter = catalog_segmenter(demo_index)  # the words the analysis cuts Chinese titles into
    for lid in ids:
        d = differentiate(demo_index, listing_id=lid, k=20)
        own = d.text
        comp = _competitor_texts(demo_index, d)
        assert len(comp) == d.compared == 20
        for u in d.usps:
            if u.kind == "phrase":
                phrase = u.key.removeprefix("phrase:")
                assert phrase in phrases(own, segmenter=segmenter), (lid, u)
                count = sum(phrase in phrases(t, segmenter=segmenter) for t in comp)
            else:
                assert u.key in attribute_keys(own), (lid, u)
                assert u.text in own.lower() or u.text in own, (lid, u)
                count = sum(u.key in attribute_keys(t) for t in comp)
            assert count == u.count and count < USP.usp_max_share * len(comp), (lid, u)
            checked += 1
    assert checked > 60  # about 100 USPs over 40 listings: the invariant is checked on many


def test_differentiation_exports_as_json(bottles):
    d = differentiate(bottles, listing_id="B01", k=5)
    data = json.loads(export.to_json(d.to_dict()))
    assert data["schema"] == "diffscan.differentiation/1"
    assert data["usps"] and data["competitors"]


def test_cli_differentiate_json_and_table(bottles):
    from typer.testing import CliRunner

    from diffscan.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["differentiate", "--id", "B01", "--index", str(bottles.path), "-k", "10", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["listing_id"] == "B01" and any(u["text"] == "bamboo" for u in data["usps"])
    result = runner.invoke(app, ["differentiate", "bamboo lid bottle", "--index", str(bottles.path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Differentiation score" in result.output and "USPs" in result.output
    result = runner.invoke(app, ["differentiate", "--index", str(bottles.path)])
    assert result.exit_code != 0 and isinstance(result.exception, QueryError)


# --- suggestions a seller would accept (issue 15) ---------------------------------------------------------


def test_suggestions_never_contradict_what_the_listing_is(bottles):
    """The quoted cases: a glass bottle is not told shoppers expect 'stainless steel', a 2000-piece puzzle is
    not told to add '24 pieces', a 750ml bottle not '500ml'."""
    from diffscan.analyses.differentiation import contradicts

    glass = differentiate(bottles, "Glass Water Bottle 750ml with Bamboo Lid, leak proof", k=10)
    assert glass.suggestions and not any(s.kind in ("material", "size") for s in glass.suggestions)
    assert all("stainless" not in s.text and "500ml" not in s.text for s in glass.suggestions)
    assert contradicts("quantity:24 pieces", {"quantity:2000 pieces": "2000 piece"})
    assert contradicts("material:stainless steel", {"material:glass": "glass"})
    assert not contradicts("material:bamboo", {"size:750ml": "750ml"})  # says no material: it may add one
    assert not contradicts("feature:leak proof", {"material:glass": "glass"})


def test_connector_ends_are_not_an_audience():
    """'Male to female adapter' (a train track part) is not for men and women."""
    keys = attribute_keys("Wooden Train Track Male to Female Adapter, 4 pcs")
    assert "audience:men" not in keys and "audience:women" not in keys and "material:wood" in keys
    assert {"audience:men", "audience:women"} <= attribute_keys("Gift set for male and female runners")


def test_suggestions_show_how_much_more_demand_their_competitors_carry(bottles):
    from diffscan.analyses.differentiation import demand_lift

    d = differentiate(bottles, listing_id="B01", k=10)
    leak = next(s for s in d.suggestions if s.text == "leak proof")
    assert leak.demand_lift is not None and leak.demand_lift > 5  # B02-B04 have thousands of reviews
    assert f"{leak.demand_lift:.2f}x the reviews" in leak.detail
    lifts = [s.demand_lift for s in d.suggestions if s.reason == "leaders" and s.demand_lift is not None]
    assert lifts == sorted(lifts, reverse=True)
    assert demand_lift("phrase:x", [], np.zeros(0), "reviews") is None
