"""diffscan.core.text: the embedded listing text, tokens, phrases, model codes and maximal phrases."""

from __future__ import annotations

from diffscan.core.text import (
    STOPWORDS,
    listing_text,
    maximal,
    model_codes,
    normalize,
    phrases,
    tokens,
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


def test_phrases_of_chinese_text_without_spaces():
    assert phrases("蓝牙耳机") == {"蓝牙", "牙耳", "耳机", "蓝牙 牙耳", "牙耳 耳机", "蓝牙 牙耳 耳机"}
    assert "猫" in phrases("猫")  # a single CJK character is a phrase even though it is one character


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
