"""Niche finder: ranking, components, USPs against the crowded neighbour, filters and the three exports."""

from __future__ import annotations

import dataclasses
import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bench.niches import lift
from diffscan.analyses.clusters import CLUSTERING, ClusterParams
from diffscan.analyses.niches import (
    CANDIDATES,
    NEIGHBOURS,
    OPPORTUNITY,
    OPPORTUNITY_FORMULA,
    SCHEMA,
    CandidateParams,
    NeighbourParams,
    OpportunityParams,
    catalog_demand,
    find_niches,
    niches_document,
    niches_frame,
)
from diffscan.analyses.usps import USP, UspParams
from diffscan.core.attributes import attribute_keys
from diffscan.core.text import listing_text, phrases
from diffscan.index.build import build_index
from diffscan.present import export

# The mechanics tests below use hand-made markets of a few listings each, of one brand or two: niches of 2+
# listings of any brand, not the default market rule (5+ listings, no brand over half), which has tests of its own.
SMALL = dict(min_size=2, max_brand_share=1.0)
SMALL_CANDIDATES = CandidateParams(**SMALL)

HYPERLINK = '=HYPERLINK("http://evil.example","click")'


def _rows() -> list[dict]:
    """A crowded steel-bottle cluster, a small well-reviewed bamboo niche beside it, puzzles, and Chinese toothbrushes."""
    rows = []
    sizes, colours = ["500ml", "750ml", "1L"], ["Black", "White", "Blue", "Pink"]
    for i in range(24):
        rows.append(("bottles", "Home > Bottles", f"Stainless Steel Water Bottle {sizes[i % 3]} {colours[i % 4]} - Leak Proof",
                     10 + i % 5, 14.99 + i % 4, i // 6))
    rows += [
        ("bamboo", "Home > Bottles", "Bamboo Water Bottle with Glass Inner 500ml - Plastic Free, Tea Infuser", 4200, 29.99, 100),
        ("bamboo", "Home > Bottles", "Glass Water Bottle with Bamboo Lid and Tea Infuser 450ml", 3100, 27.50, 101),
        ("bamboo", "Home > Bottles", "Bamboo Sleeve Glass Bottle 600ml, Plastic Free", 2600, 31.00, 102),
        ("bamboo", "Home > Bottles", HYPERLINK + " Bamboo Glass Bottle", 900, 25.00, 103),
    ]
    for i in range(12):
        rows.append(("puzzles", "Toys > Puzzles", f"Jigsaw Puzzle {500 + 500 * (i % 3)} Pieces, {['Cats', 'Maps', 'Cars'][i % 3]}",
                     40 + i, 9.99 + i, 200 + i))
    for i in range(10):
        rows.append(("brushes", "Beauty > Toothbrushes", f"软毛牙刷 {i + 2}支装 {['白色', '蓝色'][i % 2]}", 15 + i, 3.5 + i % 3, 300 + i // 2))
    rows += [
        ("kidsbamboo", "Beauty > Toothbrushes", "儿童竹牙刷 4支装 软毛", 1800, 6.99, 400),
        ("kidsbamboo", "Beauty > Toothbrushes", "儿童竹柄牙刷 可降解 软毛", 2100, 7.49, 401),
        ("kidsbamboo", "Beauty > Toothbrushes", "竹炭儿童牙刷 软毛 6支装", 1500, 8.99, 402),
    ]
    return [{"id": f"N{n:03d}", "cluster": c, "category": cat, "title": t, "review_count": r, "price": p, "group": g}
            for n, (c, cat, t, r, p, g) in enumerate(rows)]


def hand_landscape(index, rows: list[dict], clustering: ClusterParams = CLUSTERING) -> SimpleNamespace:
    """A landscape with known clusters, in the shape `landscape.analyze_landscape` returns."""
    by_id = {r["id"]: r for r in rows}
    ids = index.listings["listing_id"].tolist()
    a = pd.DataFrame({
        "listing_id": ids,
        "category": [by_id[i]["category"] for i in ids],
        "cluster_id": [by_id[i]["cluster"] for i in ids],
        "cluster_label": [by_id[i]["cluster"] for i in ids],
        "near_duplicate_group": [by_id[i]["group"] for i in ids],
        "is_singleton": False,
    })
    g = a.groupby("cluster_id", sort=False)
    clusters = pd.DataFrame({
        "cluster_id": list(g.groups), "category": g["category"].first().tolist(), "size": g.size().tolist(),
        "label": [f"{c} cluster" for c in g.groups], "keywords": [[c, "kw"] for c in g.groups],
        "representative_id": g["listing_id"].first().tolist(), "representative_title": "", "is_singletons": False,
    })
    return SimpleNamespace(level=2, assignments=a, clusters=clusters, categories=pd.DataFrame(), clustering=clustering)


@pytest.fixture(scope="session")
def market(tmp_path_factory):
    root = tmp_path_factory.mktemp("niches")
    rows = _rows()
    pd.DataFrame(rows).drop(columns=["cluster", "group"]).to_csv(root / "catalog.csv", index=False)
    index, _, _ = build_index(root / "catalog.csv", root / "index")
    return index, hand_landscape(index, rows)


@pytest.fixture(scope="session")
def found(market):
    index, landscape = market
    return find_niches(index, landscape, top=20, candidates=SMALL_CANDIDATES)


def _texts(index) -> dict[str, str]:
    chars = index.manifest["text"]["description_chars"]
    df = index.listings
    return {i: listing_text(t, b, d, chars) for i, t, b, d in zip(df["listing_id"], df["title"], df["brand"], df["description"])}


def _states(text: str, key: str) -> bool:
    if key.startswith("phrase:"):
        return key.removeprefix("phrase:") in phrases(text)
    return key in attribute_keys(text)


def test_the_small_well_reviewed_clusters_rank_first(found):
    assert {n.niche_id for n in found[:2]} == {"cluster:bamboo", "cluster:kidsbamboo"}
    best = niches_by_id(found)["cluster:bamboo"]
    assert best.kind == "cluster"
    assert best.name == "bottle - plastic free - bamboo"  # the product its titles say, then what sets it apart
    assert best.keywords == ["bamboo", "kw"]  # the landscape's c-TF-IDF keywords
    assert best.size == 4 and best.distinct_offers == 4
    assert best.demand_source == "reviews" and best.demand == pytest.approx(2850.0)
    assert best.neighbour["cluster_id"] == "bottles"
    texts = {u.text for u in best.usps}
    assert "bamboo" in texts and "glass" in texts
    assert "water bottle" not in texts and "leak proof" not in texts
    assert "bamboo" in best.positioning
    crowded = next((n for n in found if n.niche_id == "cluster:bottles"), None)
    assert crowded is None or crowded.rank > best.rank
    assert [n.rank for n in found] == list(range(1, len(found) + 1))
    assert [n.opportunity for n in found] == sorted((n.opportunity for n in found), reverse=True)


def test_components_follow_the_written_formula(found):
    for n in found:
        c = n.components
        assert all(0.0 <= v <= 1.0 for v in c.values())
        room = (OPPORTUNITY.competition * (1 - c["competition"]) + OPPORTUNITY.homogenization * (1 - c["homogenization"])
                + OPPORTUNITY.price_room * c["price_room"])
        assert n.opportunity == pytest.approx(100 * c["demand"] * room, abs=0.05)
        assert c["homogenization"] == pytest.approx(1 - n.distinct_offers / n.size, abs=1e-3)
    bottles = niches_by_id(found).get("cluster:bottles")
    if bottles is not None:
        assert bottles.distinct_offers == 4 and bottles.components["homogenization"] > 0.8


def test_price_room_of_a_few_prices_is_pulled_toward_neutral(market, found):
    """Share of the neighbour's listings cheaper than the niche's median price, with two listings' weight on 0.5."""
    rows = {r["id"]: r for r in _rows()}
    bamboo = niches_by_id(found)["cluster:bamboo"]
    own = [rows[i]["price"] for i in bamboo.listing_ids]
    others = [r["price"] for r in rows.values() if r["cluster"] == bamboo.neighbour["cluster_id"]]
    share = (sum(p < np.median(own) for p in others) + sum(p == np.median(own) for p in others) / 2) / len(others)
    assert bamboo.components["price_room"] == pytest.approx((len(own) * share + 2 * 0.5) / (len(own) + 2), abs=1e-3)


def test_entrant_lift_compares_a_niches_entrants_with_their_categorys():
    # A rows 0-3 in category x (niche = rows 0-1), 4-5 in y (niche = row 4); entrants placed at A rows.
    category_of = np.array(["x", "x", "x", "x", "y", "y"])
    at = np.array([0, 1, 2, 3, 4, 5, 5])
    demand = np.log1p(np.array([99.0, 99.0, 0.0, 0.0, 9.0, 0.0, np.nan]))  # the unknown entrant is left out
    figures = lift([(np.array([0, 1]), "x"), (np.array([4]), "y"), (np.array([3]), "x")], at, demand, category_of)
    deltas = [np.log1p(99.0) - np.log1p(99.0) / 2, np.log1p(9.0) - np.log1p(9.0) / 2, 0.0 - np.log1p(99.0) / 2]
    assert figures["lift"] == pytest.approx(np.exp(np.mean(deltas)))
    assert figures["coverage"] == 1.0
    assert lift([(np.array([9]), "x")], at, demand, category_of) == {"lift": pytest.approx(float("nan"), nan_ok=True), "coverage": 0.0}


def test_unrated_listings_lower_a_rating_niche_as_zero_reviews_lower_a_review_niche():
    from diffscan.analyses.niches import _make_demand, demand_component
    catalog = np.array([5.0, 4.5, 4.0, 4.0, 3.5, np.nan, np.nan, np.nan, 5.0, 4.2])  # 7 of 10 rated
    ratings = _make_demand("rating", catalog)
    rated, half_rated = demand_component(np.array([5.0, 5.0, 5.0]), ratings), demand_component(np.array([5.0, 5.0, np.nan]), ratings)
    assert rated > half_rated > 0
    liked = demand_component(np.array([5.0, 5.0, 5.0]), _make_demand("rating", catalog[np.isfinite(catalog)]))  # all rated
    assert rated == pytest.approx(liked * (3 + 2 * 0.7) / (3 + 2))
    reviews = _make_demand("reviews", np.array([0, 1, 2, 5, 10, 50, 100, 3, 0, 8], dtype=float))
    assert demand_component(np.array([50.0, 50.0, 50.0]), reviews) > demand_component(np.array([50.0, 50.0, 0.0]), reviews)


def test_one_product_in_several_variant_listings_is_not_a_niche(tmp_path):
    """Three colours of one puppet (one near-duplicate group, one shared review count) are one offer."""
    rows = _rows() + [
        {"id": f"V{i}", "cluster": "puppet", "category": "Toys > Puppets", "title": f"Cow Hand Puppet, {c}",
         "review_count": 5000, "price": 12.0, "group": 500} for i, c in enumerate(["Brown", "Black", "White"])
    ] + [
        {"id": f"W{i}", "cluster": "kites", "category": "Toys > Kites", "title": t, "review_count": r, "price": 20.0,
         "group": 600 + i} for i, (t, r) in enumerate([("Delta Kite for Beach", 900), ("Stunt Kite, Dual Line", 700)])
    ]
    pd.DataFrame(rows).drop(columns=["cluster", "group"]).to_csv(tmp_path / "catalog.csv", index=False)
    index, _, _ = build_index(tmp_path / "catalog.csv", tmp_path / "index")
    found = niches_by_id(find_niches(index, hand_landscape(index, rows), top=20, candidates=SMALL_CANDIDATES))
    assert "cluster:kites" in found and found["cluster:kites"].distinct_offers == 2
    assert not any({"V0", "V1", "V2"} & set(n.listing_ids) for n in found.values())
    assert all(n.distinct_offers >= 2 for n in found.values())


def niches_by_id(niches):
    return {n.niche_id: n for n in niches}


def test_every_usp_is_in_the_niche_and_in_under_20_percent_of_those_compared(market, found):
    index, _ = market
    texts = _texts(index)
    checked = 0
    for n in found:
        if not n.usps:
            continue
        compared = n.neighbour["compared_ids"]
        assert len(compared) == n.neighbour["compared"] > 0
        assert not set(compared) & set(n.listing_ids)
        for u in n.usps:
            in_niche = sum(_states(texts[i], u.key) for i in n.listing_ids)
            assert in_niche >= min(2, n.size), (n.name, u)
            count = sum(_states(texts[i], u.key) for i in compared)
            assert count == u.count and count < USP.usp_max_share * len(compared), (n.name, u)
            checked += 1
    assert checked >= 3


def test_chinese_niche(found):
    kids = niches_by_id(found)["cluster:kidsbamboo"]
    assert kids.neighbour["cluster_id"] == "brushes"
    texts = {u.text for u in kids.usps}
    assert "儿童" in texts or "竹" in texts
    assert not any(len(t) == 2 and t in {"童竹", "竹牙"} for t in texts)  # no bigram straddling two words


def test_attribute_niches_are_narrow_and_named_by_their_attributes(market, found):
    for n in found:
        if n.kind == "attributes":
            assert n.attributes and n.size >= 2
            assert n.name.startswith(" · ".join(_describe(k) for k in n.attributes))


def _describe(key):
    from diffscan.core.attributes import describe

    return describe(key)


def test_category_and_min_demand_filters(market):
    index, landscape = market
    toys = find_niches(index, landscape, category="Toys", candidates=SMALL_CANDIDATES)
    assert toys and all(n.category.startswith("Toys") for n in toys)
    rich = find_niches(index, landscape, min_demand=1000, candidates=SMALL_CANDIDATES)
    assert rich and all(n.demand >= 1000 for n in rich)
    assert find_niches(index, landscape, min_demand=1e9, candidates=SMALL_CANDIDATES) == []
    assert len(find_niches(index, landscape, top=2, candidates=SMALL_CANDIDATES)) == 2


def test_demand_falls_back_to_ratings_then_market_size(market):
    index, landscape = market
    listings = index.listings.copy()
    no_reviews = dataclasses.replace(index, listings=listings.assign(review_count=float("nan"), rating=4.0))
    rated = find_niches(no_reviews, landscape, top=3, candidates=SMALL_CANDIDATES)
    assert {n.demand_source for n in rated} == {"rating"}
    nothing = dataclasses.replace(index, listings=listings.assign(review_count=float("nan"), rating=float("nan")))
    sized = find_niches(nothing, landscape, top=3, candidates=SMALL_CANDIDATES)
    assert {n.demand_source for n in sized} == {"market size"}
    assert "market size" in sized[0].demand_label


def test_csv_export_round_trips_and_neutralizes_formulas(found, tmp_path):
    frame = niches_frame(found)
    frame.loc[0, "name"] = HYPERLINK
    target = tmp_path / "niches.csv"
    export.to_csv(frame, target)
    back = pd.read_csv(target, keep_default_na=False, dtype=str)
    assert list(back.columns) == list(frame.columns) and len(back) == len(frame)
    assert back.loc[0, "name"] == "'" + HYPERLINK
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for col in back for cell in back[col])
    for col in frame.columns:
        for want, got in zip(frame[col], back[col]):
            _same_cell(want, got)


def _same_cell(want, got: str) -> None:
    if isinstance(want, list):
        want = "; ".join(str(v) for v in want)
    if want is None or (isinstance(want, float) and math.isnan(want)):
        assert got == ""
    elif isinstance(want, (int, float)) and not isinstance(want, bool):
        assert float(got) == pytest.approx(float(want))
    else:
        want = str(want)
        assert got == ("'" + want if want.startswith(("=", "+", "-", "@", "\t", "\r")) else want)


def test_json_export_has_the_schema_and_parses(market, found, tmp_path):
    index, _ = market
    target = tmp_path / "niches.json"
    export.to_json(niches_document(found, index, top=20, category=None, min_demand=None), target)
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["schema"] == SCHEMA == "diffscan.niches/1"
    assert data["formula"] == OPPORTUNITY_FORMULA and data["listings"] == len(index)
    assert len(data["niches"]) == len(found)
    first = data["niches"][0]
    for key in ("rank", "niche_id", "kind", "name", "keywords", "category", "size", "distinct_offers", "demand_source",
                "demand", "demand_label", "opportunity", "components", "price_low", "price_median", "price_high",
                "top_competitors", "neighbour", "usps", "positioning", "listing_ids"):
        assert key in first
    assert set(first["components"]) == {"demand", "competition", "homogenization", "price_room"}
    assert {"text", "key", "kind", "share", "count"} <= set(first["usps"][0])


def test_markdown_report_is_one_readable_page(market, found, tmp_path):
    index, _ = market
    target = tmp_path / "niches.md"
    text = export.niches_report(niches_document(found, index, top=20), target)
    assert target.read_text(encoding="utf-8") == text
    assert text.startswith("# Niches in catalog.csv")
    assert "## 1. " in text and "## 2. " in text and "**USPs**" in text and "\n> " in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == len(found) + 1
    columns = {line.replace("\\|", "").count("|") for line in table}
    assert len(columns) == 1  # no cell breaks the table
    assert "<" not in text.replace("&lt;", "")


def test_markdown_escapes_catalog_text():
    frame = pd.DataFrame({"title": ["a | b <script> *x* [l](u)"], "n": [1.5]})
    text = export.to_markdown(frame)
    row = text.splitlines()[2]
    assert row.count("|") - row.count("\\|") == 3
    assert "<script" not in text and "&lt;script" in text
    assert "\\*x\\*" in text and "\\[l\\]" in text


def test_top_must_be_positive(market):
    from diffscan.errors import QueryError

    index, landscape = market
    with pytest.raises(QueryError, match=r"\(top\) must be at least 1") as caught:
        find_niches(index, landscape, top=0, candidates=SMALL_CANDIDATES)
    assert caught.value.parameter == "top" and "--" not in str(caught.value)


def test_cli_help_states_the_formula():
    from typer.testing import CliRunner

    from diffscan.cli import app

    result = CliRunner().invoke(app, ["niches", "--help"], terminal_width=200)
    assert result.exit_code == 0
    flat = " ".join(result.output.split())
    assert OPPORTUNITY_FORMULA.split(";")[0] in flat  # the help and the code state the same formula
    assert "opportunity = 100 x demand x (0.60 x (1 - competition) + 0.20 x (1 - homogenization) + 0.20 x price_room)" in flat


SPARSE_LEAVES = {"Toddler Cups", "Left-Handed Supplies", "Dog Ramps", "Camp Cookware", "Bamboo Toothbrushes"}


@pytest.fixture(scope="session")
def demo_niches(demo_index):
    return find_niches(demo_index, top=20, candidates=SMALL_CANDIDATES)  # its designed niches are of 2-4 listings


def test_default_niches_are_markets_a_new_seller_can_enter(demo_index):
    """By default a niche has 5+ listings, no brand holds more than half of them, and no brand word names it."""
    from diffscan.analyses.niches import brand_codes, brand_share
    from diffscan.analyses.usps import catalog_brand_words
    from diffscan.core.text import words

    niches = find_niches(demo_index, top=20)
    brand_words = catalog_brand_words(demo_index)
    assert len(niches) == 20
    codes = brand_codes(demo_index.listings["brand"])
    for n in niches:
        rows = np.array([demo_index.row_of(i) for i in n.listing_ids])
        assert n.size >= 5 and brand_share(codes[rows]) <= 0.5 and n.brand_leader_share <= 0.5
        said = words(" ".join([n.name, *(u.text for u in n.usps)]))
        assert not set(said) & brand_words, (n.name, [u.text for u in n.usps])
        assert n.price_count == sum(np.isfinite(demo_index.listings["price"].to_numpy(dtype=float)[rows]))


def test_demo_corpus_niches_are_its_sparse_leaves_and_odd_ones_out(demo_niches):
    """The demo corpus is built with known niches: the sparse leaves and the odd ones out of crowded leaves."""
    leaves = {n.category.split(" > ")[-1] for n in demo_niches}
    assert len(leaves & SPARSE_LEAVES) >= 4
    assert all(n.size <= 10 for n in demo_niches[:10])  # no crowded template cluster near the top
    assert {n.demand_source for n in demo_niches} == {"reviews"}


def test_usp_invariant_on_demo_corpus_niches(demo_index, demo_niches):
    texts = _texts(demo_index)
    checked = 0
    for n in demo_niches:
        compared = n.neighbour["compared_ids"] if n.neighbour else []
        for u in n.usps:
            assert sum(_states(texts[i], u.key) for i in n.listing_ids) >= min(2, n.size), (n.name, u)
            count = sum(_states(texts[i], u.key) for i in compared)
            assert count == u.count and count < USP.usp_max_share * len(compared), (n.name, u)
            checked += 1
    assert checked >= 10


def test_a_cluster_of_another_category_is_a_neighbour_only_when_it_is_as_alike_as_one_cluster(demo_niches):
    """Toddler cups are next to water bottles; bamboo toothbrushes are not next to desk organizers (cosine 0.34)."""
    by_leaf = {n.category.split(" > ")[-1]: n for n in reversed(demo_niches)}
    cups, brushes = by_leaf["Toddler Cups"], by_leaf["Bamboo Toothbrushes"]
    assert "water bottle" in cups.neighbour["label"] and cups.usps
    assert brushes.neighbour is None and brushes.usps == []
    assert "no crowded look-alike cluster next to it" in brushes.positioning
    assert brushes.components["price_room"] == 0.5  # its own category's prices: its median is their middle


@pytest.mark.parametrize("suffix", [".csv", ".json", ".md"])
def test_cli_niches_exports(demo_index, tmp_path, suffix):
    from typer.testing import CliRunner

    from diffscan.cli import app

    target = tmp_path / f"shortlist{suffix}"
    result = CliRunner().invoke(app, ["niches", "--index", str(demo_index.path), "--top", "5", "--export", str(target)],
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Niches by opportunity" in result.output
    text = target.read_text(encoding="utf-8")
    if suffix == ".json":
        assert json.loads(text)["schema"] == SCHEMA and len(json.loads(text)["niches"]) == 5
    elif suffix == ".csv":
        assert len(pd.read_csv(target)) == 5
    else:
        assert text.startswith("# Niches in catalog.csv")


def test_cli_niches_refuses_an_unknown_export_format(demo_index, tmp_path):
    from typer.testing import CliRunner

    from diffscan.cli import app
    from diffscan.errors import QueryError

    result = CliRunner().invoke(app, ["niches", "--index", str(demo_index.path), "--export", str(tmp_path / "x.xlsx")])
    assert result.exit_code != 0 and isinstance(result.exception, QueryError)


def test_positioning_does_not_repeat_a_usp_inside_a_longer_one():
    from diffscan.analyses.differentiation import Point
    from diffscan.analyses.niches import positioning

    usps = [Point("natural", "material:natural", "material", 0.0, 0),
            Point("natural rubber", "material:natural rubber", "material", 0.0, 0)]
    line = positioning("yoga mat", "Sports > Yoga Mats", usps, 3, 2, "median 50 reviews per listing",
                       {"label": "yoga mat, extra thick", "size": 70})
    assert "natural rubber" in line
    assert "natural and natural rubber" not in line


def test_positioning_of_a_niche_without_a_category_starts_with_its_name():
    from diffscan.analyses.differentiation import Point
    from diffscan.analyses.landscape import NO_CATEGORY
    from diffscan.analyses.niches import positioning

    usps = [Point("catwoman", "phrase:catwoman", "phrase", 0.0, 0)]
    line = positioning("speed chase, catcycle city", NO_CATEGORY, usps, 2, 2, "median 75 reviews per listing",
                       {"label": "lego technic, lego city", "size": 84})
    assert line.startswith("speed chase, catcycle city that say 'catwoman'") and NO_CATEGORY not in line


# --- parameters ------------------------------------------------------------------------------------------

# The formula as it was typed before it was generated from OpportunityParams: the text must not drift.
TYPED_FORMULA = (
    "opportunity = 100 x demand x (0.60 x (1 - competition) + 0.20 x (1 - homogenization) + 0.20 x price_room); "
    "demand = r / (1 + r), r = exp(mean log(1 + reviews or sales) of the niche's listings, pulled toward the mean of "
    "its surroundings with the weight of two listings, minus that mean; surroundings = the other listings of its "
    "category, or the catalog when fewer than a niche's minimum size) (ratings: the mean rating, pulled toward the "
    "catalog median with the same weight: its percentile among all ratings times the niche's share of rated listings, "
    "pulled toward the catalog's share the same way; no signal: the percentile of its category's size); "
    "competition = log(1 + distinct offers) / log(1 + the 90th-percentile distinct offers of a cluster), capped at 1; "
    "homogenization = 1 - distinct offers / listings; "
    "price_room = share of the crowded neighbour cluster's listings priced below the niche's median price "
    "(its category when the neighbour has no prices; 0.5 without prices), pulled toward 0.5 with the weight of "
    "two listings."
)


def test_default_parameters_are_the_documented_numbers():
    assert OPPORTUNITY_FORMULA == TYPED_FORMULA
    assert OPPORTUNITY == OpportunityParams(competition=0.60, homogenization=0.20, price_room=0.20, prior_listings=2,
                                            demand_percentile=99, competition_percentile=90, competition_floor=10.0,
                                            signal_min_share=0.05, demand_reference="category")
    assert CANDIDATES == CandidateParams(
        min_size=5, min_offers=2, max_brand_share=0.5, min_demand_listings=3, min_quartile_prices=4, attribute_kinds=("material", "audience", "use", "feature"), max_attribute_keys=8,
        max_attribute_share=0.25, sub_cluster_distance=0.5, sub_cluster_min_parent=6, sub_cluster_max_share=0.5,
        pocket_max=10, dense_limit=5000, max_overlap=0.5, own_cluster_ratio=2.0, top_competitors=5)
    assert NEIGHBOURS == NeighbourParams(min_size=5, ratio=2.0, min_similarity=0.3, other_category_similarity=0.5,
                                         compared=200, usp_min_share=0.5, usp=USP)
    with pytest.raises(dataclasses.FrozenInstanceError):
        CANDIDATES.min_size = 1


def test_formula_text_follows_the_parameters():
    text = OpportunityParams(competition=0.5, homogenization=0.3, prior_listings=3, demand_percentile=95,
                             competition_percentile=80, demand_reference="catalog").formula()
    assert text.startswith("opportunity = 100 x demand x (0.50 x (1 - competition) + 0.30 x (1 - homogenization)")
    assert "the catalog's 95th percentile" in text and "the 80th-percentile distinct offers" in text
    assert "weight of three listings" in text
    assert niches_document([], params=OpportunityParams(competition=0.5))["formula"].startswith(
        "opportunity = 100 x demand x (0.50 x")


def test_opportunity_weights_are_parameters(market):
    index, landscape = market
    only_competition = OpportunityParams(competition=1.0, homogenization=0.0, price_room=0.0)
    for n in find_niches(index, landscape, top=10, params=only_competition, candidates=SMALL_CANDIDATES):
        c = n.components
        assert n.opportunity == pytest.approx(100 * c["demand"] * (1 - c["competition"]), abs=0.05)


def test_prior_listings_pull_a_small_niche_toward_the_catalog():
    from diffscan.analyses.niches import _make_demand, demand_component

    reviews = _make_demand("reviews", np.array([0, 1, 2, 5, 10, 50, 100, 3, 0, 8], dtype=float))
    hit = np.array([100.0, 100.0])
    light, heavy = OpportunityParams(prior_listings=0), OpportunityParams(prior_listings=20)
    assert (demand_component(hit, reviews, params=light) > demand_component(hit, reviews)
            > demand_component(hit, reviews, params=heavy))


def test_candidate_parameters_shape_the_candidates(market, found):
    index, landscape = market
    assert any(n.size < 5 for n in found)
    big = find_niches(index, landscape, top=20, candidates=CandidateParams(min_size=5, max_brand_share=1.0))
    assert big and all(n.size >= 5 for n in big)
    assert "cluster:bamboo" not in niches_by_id(big)
    fewer = find_niches(index, landscape, top=20, candidates=CandidateParams(**SMALL, top_competitors=2))
    assert all(len(n.top_competitors) <= 2 for n in fewer) and any(len(n.top_competitors) > 2 for n in found)
    no_attributes = find_niches(index, landscape, top=50, candidates=CandidateParams(attribute_kinds=()))
    assert not any(n.kind == "attributes" for n in no_attributes)


def test_pockets_use_the_landscapes_clustering(market):
    """Look-alikes are as similar as the landscape's clusters require: a tighter landscape, more sparse spots."""
    index, landscape = market
    tight = hand_landscape(index, _rows(), ClusterParams(cluster_distance=0.4))  # look-alikes at similarity 0.6
    pockets = [n for n in find_niches(index, landscape, top=100, candidates=SMALL_CANDIDATES) if n.kind == "pocket"]
    tight_pockets = [n for n in find_niches(index, tight, top=100, candidates=SMALL_CANDIDATES) if n.kind == "pocket"]
    assert len(tight_pockets) > len(pockets)


def test_neighbour_parameters_decide_the_crowd_and_its_usps(market, found):
    index, landscape = market
    far = NeighbourParams(min_similarity=0.999, other_category_similarity=0.999)
    alone = find_niches(index, landscape, top=20, neighbours=far, candidates=SMALL_CANDIDATES)
    assert all(n.neighbour is None and n.usps == [] for n in alone)
    few = find_niches(index, landscape, top=20, neighbours=NeighbourParams(compared=3), candidates=SMALL_CANDIDATES)
    assert all(n.neighbour is None or n.neighbour["compared"] <= 3 for n in few)
    strict = find_niches(index, landscape, top=20, neighbours=NeighbourParams(usp=UspParams(usp_max_share=0.05)),
                         candidates=SMALL_CANDIDATES)
    bamboo = niches_by_id(strict)["cluster:bamboo"]
    assert all(u.count < 0.05 * bamboo.neighbour["compared"] for u in bamboo.usps)
    assert "where under 5% say" in bamboo.positioning
    assert "where under 20% say" in niches_by_id(found)["cluster:bamboo"].positioning


# --- demand from the catalog's sales column -----------------------------------------------------------------


def _listings(**columns) -> SimpleNamespace:
    n = len(next(iter(columns.values())))
    base = {"review_count": [float("nan")] * n, "rating": [float("nan")] * n, "extra": ["{}"] * n}
    return SimpleNamespace(listings=pd.DataFrame({**base, **columns}))


def test_demand_reads_the_canonical_sales_column():
    sales = [120.0, 0.0, float("nan"), 40.0, 7.0, 3.0, float("nan"), 55.0, 1.0, 9.0]
    demand = catalog_demand(_listings(sales=sales, rating=[4.0] * 10))
    assert demand.source == "sales"
    np.testing.assert_array_equal(demand.values, np.array(sales))
    assert demand.median == pytest.approx(8.0)  # of the 8 known values


def test_reviews_come_before_sales_and_ratings_after():
    both = catalog_demand(_listings(review_count=[10.0, 20.0, 30.0], sales=[1.0, 2.0, 3.0]))
    assert both.source == "reviews"
    missing = catalog_demand(_listings(sales=[float("nan")] * 3, rating=[4.0, 4.5, 5.0]))
    assert missing.source == "rating"  # a sales column without any value is no sales signal
    absent = catalog_demand(_listings(rating=[4.0, 4.5, 5.0]))
    assert absent.source == "rating"


def test_sales_kept_only_among_the_extra_attributes_are_not_read():
    """The catalog maps sales to its canonical column; the analysis no longer parses `extra`."""
    extra = [json.dumps({"units_sold": str(v)}) for v in (100, 200, 300)]
    demand = catalog_demand(_listings(extra=extra, rating=[4.0, 4.5, 5.0]))
    assert demand.source == "rating"


def test_signal_min_share_decides_when_a_signal_counts():
    sales = [50.0] + [float("nan")] * 19  # 1 listing of 20 has sales: 5%
    assert catalog_demand(_listings(sales=sales)).source == "sales"
    strict = OpportunityParams(signal_min_share=0.10)
    assert catalog_demand(_listings(sales=sales), params=strict).source == "market size"


def test_a_catalog_with_a_sales_column_ranks_niches_by_sales(tmp_path):
    rows = [{k: v for k, v in r.items() if k not in ("cluster", "group", "review_count")} | {"units_sold": r["review_count"]}
            for r in _rows()]
    pd.DataFrame(rows).to_csv(tmp_path / "catalog.csv", index=False)
    index, _, _ = build_index(tmp_path / "catalog.csv", tmp_path / "index")
    if "sales" not in index.listings.columns:
        pytest.skip("this catalog layer has no canonical sales column yet")
    found = find_niches(index, hand_landscape(index, _rows()), top=5)
    assert {n.demand_source for n in found} == {"sales"}
    assert "sales per listing" in found[0].demand_label


# ---- block-wise computation --------------------------------------------------------------------------


def _pool_records(pool: pd.DataFrame) -> list[dict]:
    return [{**r, "rows": [int(x) for x in r["rows"]]} for r in pool.to_dict("records")]


@pytest.mark.parametrize("block_rows", [1, 3, 40])
def test_small_blocks_give_the_same_niches_and_pool(market, demo_index, block_rows):
    from diffscan.analyses.landscape import analyze_landscape
    from diffscan.analyses.niches import niches_and_pool

    demo = (demo_index, analyze_landscape(demo_index))
    for index, landscape in (market, demo):
        whole, whole_pool = niches_and_pool(index, landscape, top=20, candidates=SMALL_CANDIDATES)
        seen: dict[str, tuple[int, int]] = {}
        blocks, pool = niches_and_pool(index, landscape, top=20, candidates=CandidateParams(**SMALL, block_rows=block_rows),
                                       progress=lambda stage, done, total: seen.__setitem__(stage, (done, total)))
        assert [n.to_dict() for n in blocks] == [n.to_dict() for n in whole]
        assert _pool_records(pool) == _pool_records(whole_pool)
        for stage in ("pockets", "attributes", "scores", "niches"):
            assert seen[stage][0] == seen[stage][1] > 0, stage


def _dense_local_candidates(index, landscape, demand, params: CandidateParams) -> list[tuple[str, list[int]]]:
    """Pockets and sub-clusters as they were found before blocks: one dense similarity matrix per category."""
    from diffscan.analyses import clusters as cl

    clustering = landscape.clustering
    cluster_of = landscape.assignments["cluster_id"].astype(str).to_numpy()
    categories = landscape.assignments["category"].astype(str).to_numpy()
    singles = set(landscape.clusters.loc[landscape.clusters["is_singletons"].astype(bool), "cluster_id"].astype(str))
    ids = index.listings["listing_id"].to_numpy()
    out, seen = [], set()
    for category, rows in pd.Series(np.arange(len(categories))).groupby(categories, sort=True).indices.items():
        if not params.min_size <= len(rows) <= params.dense_limit:
            continue
        sims = cl.combined_similarity(np.asarray(index.vectors)[rows], index.lexical[rows], params=clustering)
        close = sims >= clustering.cluster_similarity
        counts = close.sum(axis=1)
        for i in np.flatnonzero((counts >= params.min_size) & (counts <= params.pocket_max) & (demand[rows] > 0)):
            members = np.sort(rows[close[i]])
            if frozenset(members.tolist()) not in seen:
                seen.add(frozenset(members.tolist()))
                out.append((f"pocket:{ids[rows[i]]}", members.tolist()))
        for cid, local in pd.Series(np.arange(len(rows))).groupby(cluster_of[rows], sort=False).indices.items():
            if cid in singles or len(local) < params.sub_cluster_min_parent:
                continue
            labels = cl.agglomerate(sims[np.ix_(local, local)], params.sub_cluster_distance)
            for label, size in enumerate(np.bincount(labels)):
                if params.min_size <= size <= params.sub_cluster_max_share * len(local):
                    out.append((f"sub-cluster:{cid}/{label}", rows[local][labels == label].tolist()))
    return out


def test_pockets_and_sub_clusters_are_those_of_the_dense_similarity_matrix(market, demo_index):
    from diffscan.analyses import niches as niche_module
    from diffscan.analyses.landscape import analyze_landscape

    kinds = set()
    for index, landscape in (market, (demo_index, analyze_landscape(demo_index))):
        demand = np.nan_to_num(catalog_demand(index).values, nan=0.0)
        categories = landscape.assignments["category"].astype(str).to_numpy()
        for params in (CANDIDATES, CandidateParams(block_rows=2, pocket_max=4)):
            found = niche_module._local_candidates(index, landscape, categories, demand, params)
            assert [(c.niche_id, c.rows.tolist()) for c in found] == _dense_local_candidates(index, landscape, demand, params)
            kinds |= {c.kind for c in found}
    assert kinds == {"pocket", "sub-cluster"}


def test_neighbours_searched_by_category_are_those_of_all_centroids(market, demo_index):
    """The rule applied to the full candidates x clusters cosine matrix picks the same crowded neighbours."""
    from diffscan.analyses import niches as niche_module
    from diffscan.analyses.landscape import analyze_landscape

    elsewhere = 0
    for index, landscape in (market, (demo_index, analyze_landscape(demo_index))):
        ctx, scored = niche_module._candidates_scored(index, landscape, params=OPPORTUNITY, candidates=CANDIDATES,
                                                      neighbours=NEIGHBOURS)
        ids, cents, sizes, cats, real = ctx.centroids
        vectors = np.asarray(index.vectors, dtype=np.float32)
        centres = np.stack([vectors[s.candidate.rows].mean(axis=0) for s in scored])
        centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9)
        sims, p = centres @ cents.T, NEIGHBOURS
        for s, row in zip(scored, sims):
            c = s.candidate
            others = sizes - np.bincount(ctx.codes[c.rows], minlength=len(ids))
            big = real & (others >= max(p.min_size, p.ratio * len(c.rows)))
            some, same = real & (others >= p.min_size), cats == c.category
            expected = None
            for pick, least in ((big & same, p.min_similarity), (some & same, p.min_similarity),
                                (big & ~same, p.other_category_similarity)):
                if pick.any():
                    best = int(np.argmax(np.where(pick, row, -np.inf)))
                    expected = best if row[best] >= least else None
                    elsewhere += least == p.other_category_similarity and expected is not None
                    break
            assert s.neighbour == expected, c.niche_id
    assert elsewhere > 0  # the other-category rule was exercised


# --- markets a new seller can enter (issue 15) ------------------------------------------------------------


def test_user_weights_are_checked_scaled_and_recorded():
    from diffscan.analyses.niches import parse_weights, weighted
    from diffscan.errors import QueryError

    mine = weighted(OPPORTUNITY, parse_weights("competition=2, price-room=1"))
    assert (mine.competition, mine.homogenization, mine.price_room) == pytest.approx((2 / 3.2, 0.2 / 3.2, 1 / 3.2), abs=1e-4)
    assert weighted(OPPORTUNITY, {}) is OPPORTUNITY
    assert niches_document([], params=mine)["weights"] == {"competition": mine.competition,
                                                          "homogenization": mine.homogenization, "price_room": mine.price_room}
    for bad in ("demand=1", "competition=-1", "competition", "competition=x", "competition=0,homogenization=0,price_room=0"):
        with pytest.raises(QueryError):
            weighted(OPPORTUNITY, parse_weights(bad))
    with pytest.raises(ValueError):
        OpportunityParams(demand_reference="planet")


def test_brand_and_product_line_words_are_found_and_generic_words_are_not():
    from diffscan.analyses.usps import brand_words

    titles, brands, categories = [], [], []
    for i in range(6):  # one brand's product line, in a category where it is one seller of several
        titles.append(f"Yahtzee Dice Game Edition {i}"), brands.append("Hasbro"), categories.append("Games")
    for b in ("Acme", "Zen", "Orbit", "Pip", "Quill", "Rook"):
        titles += [f"Wooden Dice Game {b}", f"Travel Dice Set {b}"]
        brands += [b.lower(), b.lower()]
        categories += ["Games", "Games"]
    for i in range(4):  # the brand's own name in its titles; its generic words ('toy') said by every brand
        titles.append(f"Le Toy Van Wooden Toy Bus {i}"), brands.append("le toy van"), categories.append("Games")
    for b in ("acme", "zen", "orbit", "pip", "quill", "rook"):
        titles.append(f"Wooden Toy Car by {b}"), brands.append(b), categories.append("Games")
    found = brand_words(titles, [b.lower() for b in brands], categories)
    assert {"yahtzee", "acme", "van"} <= found
    assert not {"dice", "game", "wooden", "toy", "travel", "set", "bus", "car"} & found


def test_a_multi_brand_market_outranks_one_brands_hit(tmp_path):
    """Ten listings of one brand with many reviews are that brand's product line, not a niche; five brands'
    well-reviewed listings of one product type are."""
    extras = ["rechargeable battery", "touch control", "warm white glow", "timer and remote", "USB charging port",
              "three brightness levels", "soft fabric shade", "foldable arm"]
    rows = [{"id": f"B{i}", "title": f"Lumo Galaxy Star Projector Night Light with {extras[i]}", "brand": "Lumo",
             "category": "Home > Lights", "reviews": 900, "price": 20 + i} for i in range(6)]
    rows += [{"id": f"M{i}", "title": f"Bamboo Bedside Table Lamp with {extras[i + 1]}", "brand": b,
              "category": "Home > Lights", "reviews": 400, "price": 30 + i}
             for i, b in enumerate(["Acme", "Zen", "Orbit", "Pip", "Quill", "Rook"])]
    rows += [{"id": f"C{i}", "title": f"LED Ceiling Light Panel {10 + i} Watt, {extras[i % 8]}", "brand": f"brand{i % 9}",
              "category": "Home > Lights", "reviews": 5, "price": 15 + i % 7} for i in range(30)]
    pd.DataFrame(rows).to_csv(tmp_path / "c.csv", index=False)
    index, _, _ = build_index(tmp_path / "c.csv", tmp_path / "idx", mapping={"listing_id": "id", "review_count": "reviews"})
    found = find_niches(index, top=10)
    assert all(sum(i.startswith("B") for i in n.listing_ids) <= n.size / 2 for n in found)  # never Lumo's own
    top = found[0]
    assert sorted(top.listing_ids) == [f"M{i}" for i in range(6)] and top.brand_leader_share <= 0.5
    assert all("lumo" not in n.name.lower() and all("lumo" not in u.text.lower() for u in n.usps) for n in found)
    assert top.demand_listings == top.size and not top.demand_weak and top.demand_vs_category > 1


def test_a_niche_is_named_by_the_product_its_titles_say_then_what_sets_it_apart():
    from diffscan.analyses.niches import product_phrase
    from diffscan.analyses.usps import stated

    titles = ["Family Dice Game Left Center Right", "Left Center Right Family Dice Game Tin",
              "Dice Game LCR for families", "Left Center Right dice game travel edition"]
    said = [stated(t, title=t) for t in titles]
    assert product_phrase(said, "Games > Dice & Dice Games") == "dice game"  # says the category's product
    assert product_phrase(said, "Games > Family Fun") == "family dice game"  # a word of the category first ...
    assert product_phrase(said, "Toys") == "left center right"  # ... else the longest of the most said
    assert product_phrase([stated("Red Ball", title="Red Ball"), stated("Blue Cube", title="Blue Cube")], "Toys") is None


def test_positioning_says_offer_and_offers_not_offer_s():
    from diffscan.analyses.niches import positioning

    one = positioning("cork yoga mat", "Sports > Yoga Mats", [], 3, 1, "12 reviews", None)
    many = positioning("cork yoga mat", "Sports > Yoga Mats", [], 3, 4, "12 reviews", None)
    assert "across 1 distinct offer," in one and "across 4 distinct offers," in many
    assert "(s)" not in one + many


def test_demand_interval_spreads_with_the_niches_listings():
    from diffscan.analyses.niches import _make_demand, demand_interval

    reviews = _make_demand("reviews", np.array([10.0, 12.0, 8.0, 1000.0, 0.0, 5.0, np.nan]))
    tight, wide = demand_interval(reviews, np.array([0, 1, 2])), demand_interval(reviews, np.array([0, 3, 4]))
    assert tight[0] < 10 < tight[1] and wide[1] - wide[0] > tight[1] - tight[0]
    assert demand_interval(reviews, np.array([5, 6])) is None  # one value: nothing to spread
    ratings = _make_demand("rating", np.array([4.0, 5.0, 4.5]))
    low, high = demand_interval(ratings, np.array([0, 1, 2]))
    assert low < 4.5 < high
