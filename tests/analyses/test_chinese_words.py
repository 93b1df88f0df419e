"""Chinese marketplaces first-class: phrases, USPs, table stakes and cluster names are whole words.

Small hand-written Taobao-style titles for the rules, and the real Product1M cosmetics listings
(../shared/datasets/product1m_dev) for the landscape's cluster names.
"""

from __future__ import annotations

import re

import pytest

from diffscan.analyses.usps import count_keys, display, stated, table_stakes, usps
from diffscan.core.text import MARKETING_FILLER, Segmenter, normalize, words

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_OR_NUMBER = re.compile(r"[^\W_]+(?:[.,'][^\W_]+)*")

COMPETITORS = [
    "雅诗兰黛小棕瓶精华 补水保湿 修护 50ml 包邮正品",
    "雅诗兰黛特润修护精华露 补水保湿 官方旗舰店",
    "兰蔻小黑瓶精华肌底液 补水保湿 30ml 新款",
    "资生堂红腰子精华 补水保湿 修护 专柜正品",
    "欧莱雅复颜精华 补水保湿 抗皱 特价",
]
BRANDS = ["雅诗兰黛", "兰蔻", "资生堂", "欧莱雅"]
OWN = "兰蔻小黑瓶精华肌底液50ml 补水保湿 孕妇可用 敏感肌 两支装 包邮正品"


@pytest.fixture(scope="module")
def segmenter():
    return Segmenter(BRANDS)


def _points(seg):
    own = stated(OWN, "兰蔻", OWN, segmenter=seg)
    comp = [stated(t, segmenter=seg) for t in COMPETITORS]
    return own, count_keys(comp), len(comp)


def test_usps_of_a_chinese_listing_are_words_and_attributes(segmenter):
    own, counts, n = _points(segmenter)
    points = usps(own, counts, n, OWN)
    keys = {p.key for p in points}
    assert {"audience:pregnant women", "audience:sensitive skin", "quantity:2 pieces"} <= keys
    texts = [p.text for p in points]
    assert "孕妇" in texts and "敏感肌" in texts
    for p in points:
        if p.kind == "phrase":
            assert not any(len(w) == 1 for w in p.key.removeprefix("phrase:").split() if _HAN.match(w)), p
    assert not {t for t in texts} & MARKETING_FILLER
    assert "兰蔻" not in texts  # the listing's own brand says nothing about the product


def test_table_stakes_of_chinese_listings(segmenter):
    own, counts, n = _points(segmenter)
    stakes = {p.key: p.text for p in table_stakes(own, counts, n, OWN)}
    assert stakes["feature:moisturizing"] == "保湿" and stakes["feature:hydrating"] == "补水"
    assert "phrase:精华" in stakes
    assert not any(k.removeprefix("phrase:") in MARKETING_FILLER for k in stakes)  # every seller's 包邮正品


def test_chinese_phrases_read_without_spaces():
    assert display("补水 保湿") == "补水保湿"
    assert display("精华 50ml") == "精华 50ml"
    assert display("sk ii 神仙水") == "sk ii 神仙水"


# --- the Product1M landscape -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def product1m(datasets_dir, tmp_path_factory):
    from diffscan.analyses.landscape import analyze_landscape
    from diffscan.index.build import build_index

    path = datasets_dir / "product1m_dev" / "products.csv"
    if not path.exists():
        pytest.skip(f"Product1M listings not found at {path}")
    index, _report, _stats = build_index(path, tmp_path_factory.mktemp("product1m") / "index")
    return index, analyze_landscape(index)


@pytest.mark.datasets
def test_product1m_cluster_names_are_whole_words(product1m):
    from diffscan.analyses.landscape import ALL, SINGLETONS
    from diffscan.analyses.usps import catalog_segmenter

    index, land = product1m
    titles = index.listings["title"].astype(str).tolist()
    seg = catalog_segmenter(index)
    vocabulary = {w for t in titles for w in words(t, seg)}
    whole_titles = {normalize(t) for t in titles}
    clusters = land.clusters[~land.clusters["is_singletons"]]
    named = [kw for kws in clusters["keywords"] for kw in kws]
    named += [kw for c in land.categories["category"] for kw in c.removeprefix(f"{ALL} > ").split(", ")]
    assert len(clusters) >= 10 and len(named) >= 30
    for keyword in named:
        assert keyword not in whole_titles, keyword
        for part in keyword.split():
            if _HAN.search(part):
                assert len(part) >= 2 and part in vocabulary, (keyword, part)  # a word the segmenter cut out
                assert part not in MARKETING_FILLER, keyword
            else:
                assert _LATIN_OR_NUMBER.fullmatch(part), (keyword, part)
    for label in clusters["label"]:
        assert label != SINGLETONS and normalize(label) not in whole_titles
        assert all(p in named for p in label.split(", ")), label  # labels are keywords, never a cut title


def test_competitor_explanations_are_chinese_words(tmp_path):
    """What a competitor shares with a pasted Chinese listing, and what is unique, reads as words."""
    import pandas as pd

    from diffscan.analyses.competitors import find_competitors
    from diffscan.index.build import build_index

    catalog = tmp_path / "cjk.csv"
    pd.DataFrame({"id": [f"L{i}" for i in range(len(COMPETITORS))], "title": COMPETITORS,
                  "brand": ["雅诗兰黛", "雅诗兰黛", "兰蔻", "资生堂", "欧莱雅"]}).to_csv(catalog, index=False)
    index, _, _ = build_index(catalog, tmp_path / "index", cache_dir=tmp_path / "cache")
    result = find_competitors(index, text=OWN, k=3)
    top = result.competitors[0]
    assert top.title.startswith("兰蔻小黑瓶")
    assert "补水保湿" in top.shared_phrases  # written together, as a shopper reads it
    shown = top.shared_phrases + top.unique_to_query + top.unique_to_competitor
    assert shown and all(len(part) >= 2 for p in shown for part in p.split() if _HAN.search(part))
