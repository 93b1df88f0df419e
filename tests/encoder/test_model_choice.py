"""A build without a model picks it from the first chunk's titles; an update keeps the index's model."""

from __future__ import annotations

import pandas as pd

from diffscan.index.build import build_index

CJK_TITLES = ["韩国AHC黄金套盒蜗牛玻尿酸水乳精华套装", "SK-II 神仙水 230ml 嫩肤清莹露", "雅诗兰黛小棕瓶眼霜15ml",
              "自然堂雪域精粹套装冰肌水乳液", "碧欧泉男士水动力三件套", "Stainless steel water bottle 750ml"]


def _catalog(path, titles):
    pd.DataFrame({"id": [f"L{i}" for i in range(len(titles))], "title": titles}).to_csv(path, index=False)
    return path


def test_cjk_catalog_gets_the_multilingual_tier_and_a_note(tmp_path):
    catalog = _catalog(tmp_path / "cjk.csv", CJK_TITLES)
    index, _, stats = build_index(catalog, tmp_path / "index", cache_dir=tmp_path / "cache")
    assert index.manifest["model"]["spec"] == "multilingual"
    assert index.model_id.startswith("use-multilingual-v3@") and index.vectors.shape[1] == 512
    assert "multilingual" in stats["model_note"] and "83%" in stats["model_note"]
    assert index.encoder().model_id == index.model_id  # queries load the same tier


def test_english_catalog_keeps_minilm(demo_index):
    assert demo_index.manifest["model"]["spec"] == "minilm"
    assert demo_index.model_id.startswith("all-MiniLM-L6-v2@")


def test_update_keeps_the_index_model(tmp_path):
    english = _catalog(tmp_path / "en.csv", ["Stainless steel water bottle", "Cork yoga mat", "USB-C cable"])
    index, _, _ = build_index(english, tmp_path / "index", cache_dir=tmp_path / "cache")
    assert index.manifest["model"]["spec"] == "minilm"
    chinese = _catalog(tmp_path / "cjk.csv", CJK_TITLES)
    index, _, stats = build_index(chinese, tmp_path / "index", update=True, cache_dir=tmp_path / "cache")
    assert index.manifest["model"]["spec"] == "minilm" and "model_note" not in stats
