"""Attribute extraction: vocabularies, sizes, quantities, ages, Chinese text, and what is not an attribute."""

from __future__ import annotations

import pytest

from diffscan.core.attributes import (
    attribute_keys,
    attributes_of,
    describe,
    extract_attributes,
)


def keys(text: str) -> set[str]:
    return attribute_keys(text)


def test_english_title_gives_material_size_colour_and_features():
    found = keys("Stainless Steel Insulated Water Bottle 750ml - Leak-Proof, BPA Free, Navy Blue")
    assert {"material:stainless steel", "size:750ml", "colour:navy", "feature:insulated",
            "feature:leak proof", "feature:bpa free"} <= found
    # "stainless steel" is not also reported as plain "steel", nor "navy blue" as "blue".
    assert "material:steel" not in found and "colour:blue" not in found


@pytest.mark.parametrize("text, key", [
    ("1.0 L kettle", "size:1l"),
    ("1 litre kettle", "size:1l"),
    ("Rice 1,5 kg", "size:1.5kg"),
    ("26\" foil balloon", "size:26 inch"),
    ("Pack of 6 cat toys", "quantity:6 pack"),
    ("6 Pack cat toys", "quantity:6 pack"),
    ("Building set, 100 Pieces", "quantity:100 pieces"),
    ("4 Person Dome Tent", "quantity:4 person"),
    ("Ages 3+ building blocks", "audience:ages 3+"),
    ("for 8-12 year olds", "audience:ages 8-12"),
    ("Kids' toothbrush", "audience:kids"),
    ("Children's toothbrush", "audience:kids"),
    ("Toothbrushes for toddlers", "audience:toddlers"),
    ("Wooden puzzle", "material:wood"),
    ("Travel Size shampoo", "size:travel size"),
    ("Camping lantern, hiking", "use:camping"),
    ("Self-Cleaning UV-C bottle", "feature:self cleaning"),
    ("Collapsible silicone kettle", "feature:collapsible"),
    ("Foldable yoga mat", "feature:collapsible"),
])
def test_wordings_map_to_one_canonical_key(text, key):
    assert key in keys(text)


def test_chinese_titles():
    found = extract_attributes("儿童竹制牙刷 4支装 软毛 不锈钢保温杯 500毫升 黑色")
    by_key = {a.key: a.text for a in found}
    assert by_key["material:bamboo"] == "竹"
    assert by_key["audience:kids"] == "儿童"
    assert by_key["material:stainless steel"] == "不锈钢"
    assert by_key["feature:insulated"] == "保温"
    assert by_key["colour:black"] == "黑色"
    assert "quantity:4 pieces" in by_key
    assert "size:500ml" in by_key
    assert keys("宝宝 3岁以上 玩具") >= {"audience:baby", "audience:ages 3+"}


def test_mixed_chinese_and_latin_forms():
    by_key = {a.key: a.text for a in extract_attributes("运动水壶 1L 不含BPA 带吸管 户外健身")}
    assert by_key["feature:bpa free"] == "不含bpa"
    assert by_key["use:gym"] == "健身" and by_key["use:outdoor"] == "户外"
    assert "feature:bpa free" in keys("BPA-free bottle")


def test_same_key_across_languages():
    assert "material:stainless steel" in keys("不锈钢保温杯") & keys("Stainless steel bottle")
    assert "material:bamboo" in keys("竹盖") & keys("bamboo lid")


def test_food_words_are_not_colours_and_model_names_are_not_audiences():
    assert not any(k.startswith("colour:") for k in keys("Roasted Flaxseed - Black Salt, Green Tea, Black Pepper"))
    assert keys("Case for iPhone 15 Pro") == set()
    assert "use:car" not in keys("Kettle with auto shut-off")


def test_wording_is_what_the_text_said():
    attrs = {a.key: a.text for a in extract_attributes("BAMBOO Toothbrush for Toddlers")}
    assert attrs == {"material:bamboo": "bamboo", "audience:toddlers": "toddlers"}


def test_attributes_of_many_and_empty_text():
    out = attributes_of(["bamboo lid", "", "plain words only"])
    assert out == [{"material:bamboo": "bamboo"}, {}, {}]
    assert extract_attributes("") == []


@pytest.mark.parametrize("text, key", [
    ("兰蔻精华肌底液50ml 补水保湿", "size:50ml"),  # a size glued to Chinese text
    ("面膜30片", "quantity:30 pieces"),
    ("水乳两支装", "quantity:2 pieces"),
    ("护肤三件套", "quantity:3 pieces"),
    ("十二支装 口红", "quantity:12 pieces"),
    ("二十四片", "quantity:24 pieces"),
    ("水乳套装", "quantity:set"),
    ("男士洗面奶", "audience:men"),
    ("孕妇可用 保湿霜", "audience:pregnant women"),
    ("敏感肌 舒缓喷雾", "audience:sensitive skin"),
    ("油皮控油洁面", "feature:oil control"),
    ("补水保湿", "feature:moisturizing"),
    ("美白淡斑精华", "feature:whitening"),
    ("防晒霜 SPF50", "feature:sun protection"),
    ("抗皱紧致眼霜", "feature:anti wrinkle"),
    ("蚕丝面膜", "material:silk"),
    ("酒红色口红", "colour:maroon"),
    ("旅行装小样", "size:travel size"),
    ("礼盒装", "use:gift"),
])
def test_chinese_marketplace_lexicon(text, key):
    assert key in keys(text)


def test_chinese_numbers_and_latin_context_are_not_misread():
    assert not any(k.startswith("quantity:") for k in keys("一件代发"))  # dropshipping, not a count of one
    assert keys("café500ml") == set()  # a number glued to a Latin word is no size (as before)
    assert "size:500ml" in keys("杯500ml")


def test_chinese_claims_share_keys_with_english():
    assert "audience:men" in keys("男士洁面") & keys("face wash for men")
    assert "audience:dry skin" in keys("干皮面霜") & keys("cream for dry skin")


def test_describe_reads_like_a_phrase():
    assert describe("audience:kids") == "for kids"
    assert describe("use:travel") == "for travel"
    assert describe("material:bamboo") == "bamboo"
    assert describe("audience:ages 3+") == "ages 3+"
