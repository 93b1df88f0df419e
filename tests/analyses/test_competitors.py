"""Competitor search: ranking, exclusion of the query listing, filters, explanations, batch mode."""

from __future__ import annotations

import pytest

from diffscan.analyses.competitors import (
    Filters,
    Weights,
    find_competitors,
    find_competitors_batch,
)
from diffscan.core.text import maximal, model_codes, phrases, tokens
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


# --- batch queries: the same rows as query by query ------------------------------------------------

def _per_query(index, queries, vectors, k, filters=None):
    """What find_competitors_batch returned before it was vectorized: find_competitors per query."""
    import pandas as pd

    from diffscan.analyses.competitors import Competitor, pasted_text

    chars = index.manifest["text"]["description_chars"]
    rows = []
    for (_, q), vec in zip(queries.iterrows(), vectors):
        text = pasted_text(q["title"], q["brand"], q["description"], chars)
        result = find_competitors(index, text, k=k, filters=filters, category_path=list(q["category_path"]), query_vector=vec,
                                  price=q.get("price"))
        guess = result.category_guessed
        head = {"query_id": str(q["listing_id"]), "query_title": text.split("\n", 1)[0].split(" | ", 1)[0],
                "category_guessed": "" if guess is None else " > ".join(guess.path),
                "category_confidence": float("nan") if guess is None else round(guess.confidence, 4)}
        rows.extend({**head, **c.to_dict()} for c in result.competitors)
    return pd.DataFrame(rows, columns=["query_id", "query_title", "category_guessed", "category_confidence",
                                       *Competitor.__dataclass_fields__])


def _pasted(index):
    """Queries that are not listings of the index: English, Chinese, a model number, no category."""
    import pandas as pd

    titles = ["Bamboo toothbrush for kids, charcoal bristles", "不锈钢保温杯 500ml 大容量", "Sony Turntable PSLX350H",
              "water bottle", "Yoga mat cork non slip 6mm"]
    frame = pd.DataFrame({"listing_id": [f"q{i}" for i in range(len(titles))], "title": titles,
                          "brand": ["", "", "Sony", "", "FlowFit"], "description": ["", "保温 保冷", "", "", "eco"],
                          "category_path": [[], [], ["Electronics"], [], ["Sports & Outdoors", "Yoga"]]})
    chars = index.manifest["text"]["description_chars"]
    from diffscan.core.text import listing_text

    texts = [listing_text(t, b, d, chars) for t, b, d in zip(frame["title"], frame["brand"], frame["description"])]
    return frame, index.encoder().encode(texts)


@pytest.mark.parametrize("k", [1, 10, 40])
def test_batch_rows_equal_single_queries(demo_index, monkeypatch, k):
    import numpy as np

    from diffscan.analyses import competitors

    monkeypatch.setattr(competitors, "_BLOCK_QUERIES", 7)  # several blocks, one of them short
    rows = np.random.default_rng(k).choice(len(demo_index), 30, replace=False)
    queries = demo_index.listings.iloc[rows].reset_index(drop=True)
    vectors = np.asarray(demo_index.vectors[rows])
    expected = _per_query(demo_index, queries, vectors, k)
    # Catalog texts: the batch takes their vectors from the index itself (no model, no cache needed).
    assert find_competitors_batch(demo_index, queries, k=k).equals(expected)
    pasted, pasted_vectors = _pasted(demo_index)
    assert find_competitors_batch(demo_index, pasted, k=k, query_vectors=pasted_vectors).equals(
        _per_query(demo_index, pasted, pasted_vectors, k))


def test_batch_rows_equal_single_queries_with_filters(demo_index):
    import numpy as np

    queries = demo_index.listings.iloc[::25].reset_index(drop=True)
    vectors = np.asarray(demo_index.vectors[::25])
    for filters in (Filters(category="Home & Kitchen", max_price=30), Filters(exclude_brands=("HydroPeak",)),
                    Filters(min_price=1e9)):
        frame = find_competitors_batch(demo_index, queries, k=5, filters=filters, query_vectors=vectors)
        assert frame.equals(_per_query(demo_index, queries, vectors, 5, filters))
    assert frame.empty


@pytest.fixture(scope="module")
def ann_demo_index(tmp_path_factory):
    """The demo corpus as a large index (HNSW graph and lexical postings) though it is small."""
    from diffscan.index.build import build_index
    from tests.conftest import DEMO_CATALOG

    index, _, _ = build_index(DEMO_CATALOG, tmp_path_factory.mktemp("ann-demo") / "index", ann=True)
    return index


def test_batch_on_a_large_index_equals_single_queries(ann_demo_index):
    import numpy as np

    assert ann_demo_index.ann is not None
    queries = ann_demo_index.listings.iloc[::40].reset_index(drop=True)
    vectors = np.asarray(ann_demo_index.vectors[::40])
    assert find_competitors_batch(ann_demo_index, queries, k=8, query_vectors=vectors).equals(
        _per_query(ann_demo_index, queries, vectors, 8))


def test_batch_reads_catalog_texts_from_the_cache_and_reports_progress(demo_index, monkeypatch):
    import pandas as pd

    from diffscan.index.store import Index

    def no_model(self, model=None):
        raise AssertionError("the model loaded although every query text is cached")

    monkeypatch.setattr(Index, "encoder", no_model)
    seen = []
    frame = find_competitors_batch(demo_index, demo_index.listings.head(300), k=2, progress=lambda d, t: seen.append((d, t)))
    assert len(frame) == 600 and seen[0] == (0, 300) and seen[-1] == (300, 300)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    empty = find_competitors_batch(demo_index, demo_index.listings.head(0))
    assert isinstance(empty, pd.DataFrame) and empty.empty and "query_id" in empty.columns
    with pytest.raises(QueryError) as caught:
        find_competitors_batch(demo_index, demo_index.listings.head(2), k=0)
    assert caught.value.parameter == "k"


def test_pool_selection_is_the_top_rows_with_ties_to_the_lower_row():
    import numpy as np

    from diffscan.analyses.competitors import _best, _contenders

    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(1, 3000))
        scores = rng.integers(0, 40, n).astype(np.float32) / 40  # many ties
        scores[rng.random(n) < rng.random() * 0.5] = -np.inf  # blocked rows
        pool = int(rng.integers(1, 120))
        finite = np.flatnonzero(np.isfinite(scores))
        expected = finite[np.lexsort((finite, -scores[finite]))][:pool]
        rows, values = _contenders(scores, pool)
        assert np.array_equal(np.sort(_best(rows, values, pool)), np.sort(expected)), trial
        if len(expected):
            margin = 0.06
            edge = np.sort(scores[finite])[::-1][min(pool, len(finite)) - 1]
            wide, _ = _contenders(scores, pool, margin)
            assert set(finite[scores[finite] >= edge - margin]) <= set(wide)


def test_maximal_phrases_of_a_subset_equal_maximal(demo_index):
    import numpy as np

    from diffscan.analyses.competitors import _Phrases
    from diffscan.analyses.usps import catalog_segmenter

    seg = catalog_segmenter(demo_index)
    rng = np.random.default_rng(0)
    for text in demo_index.texts()[::7]:
        found = _Phrases(phrases(text, segmenter=seg))
        ordered = sorted(found.all)
        for _ in range(5):
            subset = {p for p in ordered if rng.random() < rng.random()}
            assert found.maximal(subset) == maximal(subset)[:8]
            assert found.maximal(subset, n=100) == maximal(subset)


def test_price_position_in_words():
    from diffscan.analyses.competitors import PriceParams, price_position

    assert price_position(9.0, 10.0) == "10% cheaper" and price_position(12.0, 10.0) == "20% dearer"
    assert price_position(10.1, 10.0) == "same price"
    assert price_position(10.4, 10.0, PriceParams(same_within=0.05)) == "same price"
    assert price_position(None, 10.0) == "" and price_position(5.0, None) == "" and price_position(float("nan"), 1) == ""


def test_competitors_carry_rating_reviews_link_and_price_position(demo_index):
    row = demo_index.listings.iloc[0]
    result = find_competitors(demo_index, listing_id=row["listing_id"], k=5)
    assert result.query_price == row["price"]  # a listing of the index is compared at its own price
    c = result.competitors[0]
    source = demo_index.listings.set_index("listing_id").loc[c.listing_id]
    assert c.rating == source["rating"] and c.review_count == int(source["review_count"]) and c.url == source["url"]
    assert c.price_vs_query and all(k in result.to_dict()["competitors"][0] for k in ("rating", "review_count", "url"))
    given = find_competitors(demo_index, listing_id=row["listing_id"], k=5, price=c.price * 2)
    assert given.competitors[0].price_vs_query == "50% cheaper"


# --- twins by attributes, shared and unique as sets of words ------------------------------------------

def _tiny_index(tmp_path, titles, categories=None):
    """An index of a few titles (the demo's model; embeddings cached)."""
    import pandas as pd

    from diffscan.index.build import build_index

    frame = pd.DataFrame({"id": [f"l{i}" for i in range(len(titles))], "title": titles,
                          "category": categories or ["Kitchen > Bottles"] * len(titles)})
    path = tmp_path / "catalog.csv"
    frame.to_csv(path, index=False)
    index, _, _ = build_index(path, tmp_path / "index")
    return index


def test_the_same_words_with_the_same_attributes_are_a_twin_a_different_size_a_substitute(tmp_path):
    index = _tiny_index(tmp_path, [
        "Stainless Steel Insulated Water Bottle 750ml - Hot 12 Hours, Leak Proof",
        "Stainless Steel Insulated Water Bottle 500ml - Hot 12 Hours, Leak Proof",
        "Premium Basmati Rice 1 kg",
        "Glass Water Bottle with Bamboo Lid 1L",
    ])
    found = {c.title: c for c in find_competitors(index, "Stainless Steel Insulated Water Bottle 750ml, leak proof", k=4).competitors}
    twin = found["Stainless Steel Insulated Water Bottle 750ml - Hot 12 Hours, Leak Proof"]
    assert twin.kind == "twin" and twin.differences == []
    other = found["Stainless Steel Insulated Water Bottle 500ml - Hot 12 Hours, Leak Proof"]
    assert other.kind == "substitute" and other.differences == ["size: 750ml / 500ml"]
    assert found["Glass Water Bottle with Bamboo Lid 1L"].kind == "substitute"
    # Word order does not matter, and 1 kg is 1000 g.
    rice = find_competitors(index, "basmati rice premium 1000g", k=1).competitors[0]
    assert rice.title == "Premium Basmati Rice 1 kg" and rice.kind == "twin"


def test_shared_and_unique_are_sets_of_words(tmp_path):
    index = _tiny_index(tmp_path, ["Premium Basmati Rice", "Organic Brown Rice"], ["Food > Rice"] * 2)
    found = {c.title: c for c in find_competitors(index, "basmati rice premium", k=2).competitors}
    basmati = found["Premium Basmati Rice"]
    assert basmati.shared_phrases == ["basmati rice premium"]
    assert basmati.unique_to_query == [] and basmati.unique_to_competitor == []
    brown = found["Organic Brown Rice"]
    assert brown.shared_phrases == ["rice"]
    assert brown.unique_to_query == ["basmati", "premium"]
    assert "organic brown" in brown.unique_to_competitor


def test_chinese_twins_and_word_sets(tmp_path):
    index = _tiny_index(tmp_path, ["不锈钢保温杯 500毫升 黑色 大容量", "不锈钢保温杯 750毫升 黑色 大容量"], ["杯 > 保温杯"] * 2)
    found = {c.title: c for c in find_competitors(index, "大容量 黑色 不锈钢保温杯 500ml", k=2).competitors}
    assert found["不锈钢保温杯 500毫升 黑色 大容量"].kind == "twin"
    assert found["不锈钢保温杯 750毫升 黑色 大容量"].kind == "substitute"
    assert found["不锈钢保温杯 750毫升 黑色 大容量"].differences == ["size: 500ml / 750ml"]
    assert "不锈钢保温杯" in "".join(found["不锈钢保温杯 500毫升 黑色 大容量"].shared_phrases)


def test_rerank_demotes_a_different_size_or_model_number_and_lifts_agreement(tmp_path):
    from diffscan.analyses.competitors import RERANK, Rerank

    index = _tiny_index(tmp_path, [
        "Sony Bravia KDL-40V4100 40 inch LCD TV black",
        "Sony Bravia KDL-46V4100 46 inch LCD TV black",
        "Insulated Water Bottle 500ml blue",
        "Insulated Water Bottle 750ml blue",
    ])
    tv = find_competitors(index, "Sony Bravia LCD TV KDL-46V4100 black", k=2).competitors
    assert tv[0].title.startswith("Sony Bravia KDL-46V4100")
    assert tv[1].attributes < 0 and "model no." in tv[1].differences[-1]
    bottles = find_competitors(index, "Insulated Water Bottle 750ml blue", k=2).competitors
    assert bottles[0].title == "Insulated Water Bottle 750ml blue"
    assert bottles[0].attributes == pytest.approx(2 * RERANK.agree, abs=1e-4)  # size and colour agree
    assert bottles[1].attributes == pytest.approx(RERANK.agree - RERANK.conflict, abs=1e-4)  # colour agrees, size not
    plain = find_competitors(index, "Insulated Water Bottle 750ml blue", k=2, rerank=Rerank(agree=0, brand=0, conflict=0, model=0))
    assert all(c.attributes == 0 for c in plain.competitors)
    assert [round(c.score - c.attributes, 3) for c in bottles] == [round(c.score, 3) for c in plain.competitors]
    assert "different model no." in RERANK.formula()


def test_a_pasted_listing_gets_the_category_its_neighbours_vote_for(demo_index):
    from diffscan.analyses.competitors import CategoryGuess

    pasted = find_competitors(demo_index, "Insulated stainless steel water bottle 750ml leak proof", k=10)
    guess = pasted.category_guessed
    assert guess is not None and guess.path[-1] == "Water Bottles" and 0.4 <= guess.confidence <= 1
    assert guess.describe() == f"category guessed: {' > '.join(guess.path)} (confidence {guess.confidence:.2f})"
    assert pasted.to_dict()["category_guessed"] == " > ".join(guess.path)
    assert any(c.same_category for c in pasted.competitors)
    # A category given, or a listing's own, is the prior: nothing is guessed.
    known = find_competitors(demo_index, "Insulated stainless steel water bottle 750ml", category_path=list(guess.path))
    assert known.category_guessed is None
    lid = demo_index.listings["listing_id"].iloc[0]
    assert find_competitors(demo_index, listing_id=lid).category_guessed is None
    assert find_competitors(demo_index, listing_id=lid, category_path=[]).category_guessed is not None
    # No guess without a clear vote or when switched off; then no category prior at all.
    assert find_competitors(demo_index, "water bottle", guess=CategoryGuess(min_confidence=1.01)).category_guessed is None
    off = find_competitors(demo_index, "Insulated stainless steel water bottle 750ml leak proof", guess=None)
    assert off.category_guessed is None and not any(c.same_category for c in off.competitors)


def test_a_listing_matches_on_its_title_not_its_shops_description_template(tmp_path):
    """A shop's template words (and the model numbers its description cites) do not make its own
    listings the query's competitors; they still explain (phrases) and still count in the embedding."""
    import pandas as pd

    from diffscan.index.build import build_index

    template = ("Free next-day delivery from Volt Depot, 2 year warranty, 30 day returns, trade prices, "
                "fits the KT200 stand, see our other kitchen appliances")
    frame = pd.DataFrame({
        "id": ["query", "same-shop", "other-shop"],
        "title": ["Acme Cordless Kettle KX100 1.7L", "Acme Toaster KT200 4 Slice", "Acme KX100 Electric Kettle 1.7 Litre"],
        "description": [template, template, "Rapid boil, limescale filter"],
        "category": ["Kitchen"] * 3,
    })
    frame.to_csv(tmp_path / "catalog.csv", index=False)
    index, _, _ = build_index(tmp_path / "catalog.csv", tmp_path / "index")
    found = find_competitors(index, listing_id="query", k=2).competitors
    assert [c.listing_id for c in found] == ["other-shop", "same-shop"]
    assert found[0].code_match and not found[1].code_match  # KT200 is cited by the description, not sold
    assert "30 day returns" in found[1].shared_phrases  # the description still explains
    # A pasted text: its first line is the title, the lines below its description.
    pasted = find_competitors(index, "Acme Cordless Kettle KX100 1.7L\n" + template, k=2).competitors
    assert not any(c.code_match for c in pasted if c.listing_id == "same-shop")
