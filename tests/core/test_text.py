"""diffscan.core.text: the embedded listing text, tokens, words (Chinese segmentation), phrases, model codes
and maximal phrases."""

from __future__ import annotations

import pytest

from diffscan.core.text import (
    MARKETING_FILLER,
    STOPWORDS,
    Segmenter,
    SegmenterParams,
    cache_dir,
    listing_text,
    maximal,
    model_codes,
    normalize,
    phrases,
    tokens,
    words,
)

# --- listing_text -----------------------------------------------------------------------------------


def test_listing_text_joins_title_brand_and_description():
    assert listing_text("  Wireless Earbuds ", " Sonix ", " Great bass ") == "Wireless Earbuds | Sonix | Great bass"


def test_listing_text_leaves_out_a_brand_the_title_already_names():
    assert listing_text("Anker Charger 20W", "anker") == "Anker Charger 20W"


def test_listing_text_cuts_the_description_head():
    text = listing_text("Mug", "", "abcdefghij" * 10, max_description_chars=5)
    assert text == "Mug | abcde"


def test_listing_text_without_description_or_with_zero_budget():
    assert listing_text("Mug", "Acme") == "Mug | Acme"
    assert listing_text("Mug", "Acme", "long text", max_description_chars=0) == "Mug | Acme"
    assert listing_text("Mug", "", "   ") == "Mug"


# --- normalize / tokens -----------------------------------------------------------------------------


def test_normalize_lowercases_and_folds_full_width_characters():
    assert normalize("ＡＢＣ１２３") == "abc123"
    assert normalize("Ｓｉｚｅ XL") == "size xl"
    assert normalize("ﬁne") == "fine"  # ligature split by NFKC


def test_tokens_keep_decimals_apostrophes_and_thousands_inside_a_token():
    assert tokens("It's 3.5mm, 1,000 Pieces") == ["it's", "3.5mm", "1,000", "pieces"]


def test_tokens_drop_punctuation_and_underscores():
    assert tokens("foo_bar -- baz!") == ["foo", "bar", "baz"]


def test_tokens_cut_chinese_without_spaces_into_bigrams():
    assert tokens("无线蓝牙耳机 Bluetooth 5.3") == ["无线", "线蓝", "蓝牙", "牙耳", "耳机", "bluetooth", "5.3"]


def test_tokens_of_a_single_cjk_character_is_that_character():
    assert tokens("猫 cat") == ["猫", "cat"]


def test_tokens_of_japanese_kana_are_bigrams():
    assert tokens("カメラ") == ["カメ", "メラ"]


# --- phrases -----------------------------------------------------------------------------------------


def test_phrases_do_not_start_or_end_with_a_stopword_and_do_not_cross_punctuation():
    found = phrases("Wireless Earbuds for Running, Black. Extra bass")
    assert found == {
        "wireless", "earbuds", "running", "black", "extra", "bass",
        "wireless earbuds", "earbuds for running", "extra bass",
    }
    assert "running black" not in found  # across ","
    assert "black extra" not in found  # across "."
    assert not any(p.split()[0] in STOPWORDS or p.split()[-1] in STOPWORDS for p in found)


def test_phrases_respect_max_n_and_drop_one_letter_words():
    found = phrases("big red fire truck b", max_n=2)
    assert "big red fire" not in found
    assert "fire truck" in found
    assert "b" not in found  # a one-letter single token is no phrase
    assert "truck b" in found


def test_phrases_of_chinese_text_are_whole_words():
    found = phrases("蓝牙耳机 黑色")
    assert {"蓝牙", "耳机", "黑色", "蓝牙 耳机"} <= found
    assert "牙耳" not in found and not any(len(p) == 1 for p in found)


def test_phrases_of_a_chinese_title_with_a_brand_added():
    seg = Segmenter(["兰蔻 Lancôme"])
    found = phrases("兰蔻小黑瓶精华肌底液50ml 补水保湿", segmenter=seg)
    assert {"兰蔻", "精华", "补水", "保湿", "50ml", "补水 保湿"} <= found
    assert "蔻小" not in found and "液" not in found
    ends = [w for p in found for w in (p.split()[0], p.split()[-1])]
    assert not any(len(w) == 1 for w in ends if _cjk(w))  # single characters never start or end a phrase


def test_brand_words_stay_in_their_segmenter():
    title = "悦诗风吟绿茶籽精萃水乳"
    assert "悦诗风吟" not in words(title)  # jieba alone cuts the brand apart
    assert "悦诗风吟" in words(title, Segmenter(["悦诗风吟"]))
    assert "悦诗风吟" not in words(title)  # and the default segmenter did not learn it


def test_marketing_filler_is_not_a_phrase():
    found = phrases("包邮 正品 官方旗舰店 新款 补水面膜")
    assert not found & MARKETING_FILLER
    assert "补水" in found and "面膜" in found
    assert not any(p.split()[0] in MARKETING_FILLER or p.split()[-1] in MARKETING_FILLER for p in found)
    assert "包邮" in phrases("包邮 补水", segmenter=Segmenter(params=SegmenterParams(filler=frozenset())))


def test_words_of_latin_text_are_tokens_and_never_load_jieba(monkeypatch):
    from diffscan.core import text

    monkeypatch.setattr(text, "_base_tokenizer", lambda: pytest.fail("jieba loaded for English text"))
    seg = Segmenter(["Acme"])
    for sample in ("It's 3.5mm, 1,000 Pieces", "Wireless Earbuds for Running, Black. Extra bass"):
        assert words(sample, seg) == tokens(sample)
        assert phrases(sample, segmenter=seg) == phrases(sample)
    assert words("カメラ") == ["カメ", "メラ"]  # kana stay in bigrams


def test_jieba_cache_goes_to_the_diffscan_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("DIFFSCAN_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path


def _cjk(word: str) -> bool:
    return all("\u4e00" <= ch <= "\u9fff" for ch in word)


# --- model_codes -------------------------------------------------------------------------------------


def test_model_codes_are_upper_case_without_hyphens():
    assert model_codes("Sony KDL-40V4100 TV, replaces pslx350h and AM53BK") == {"KDL40V4100", "PSLX350H", "AM53BK"}


def test_model_codes_ignore_units_words_and_numbers():
    assert model_codes("500ml bottle 24V 64GB 1080p 5000mAh 2000 pieces") == set()


def test_model_codes_need_letters_and_digits():
    assert model_codes("ABCDEF 123456") == set()
    assert model_codes("X1Y2") == {"X1Y2"}


# --- maximal -----------------------------------------------------------------------------------------


def test_maximal_drops_phrases_inside_longer_ones_longest_first():
    kept = maximal(["wireless", "earbuds", "wireless earbuds", "bass", "earbuds black"])
    assert kept == ["earbuds black", "wireless earbuds", "bass"]


def test_maximal_matches_whole_words_only():
    # "ear" is inside "earbuds" as characters but not as a word: it stays
    assert maximal(["ear", "earbuds black"]) == ["earbuds black", "ear"]


def test_maximal_deduplicates():
    assert maximal(["mug", "mug", "mug"]) == ["mug"]


def test_plural():
    from diffscan.core.text import plural

    assert plural(1, "offer") == "1 offer" and plural(0, "offer") == "0 offers"
    assert plural(1081, "row") == "1,081 rows" and plural(2, "family", "families") == "2 families"
