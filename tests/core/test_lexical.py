"""diffscan.core.lexical: hashed character n-gram counts, weighted rows, row_dots and the .npz on disk."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffscan.core.lexical import (
    LEXICAL,
    N_FEATURES,
    NGRAM_RANGE,
    CsrNpzWriter,
    LexicalParams,
    fit_idf,
    lexical_candidates,
    lexical_matrix,
    lexical_query,
    load_csr,
    log_tf,
    row_dots,
    term_counts,
    unweigh,
    weigh,
    weigh_log_tf,
)

TEXTS = [
    "Wireless Earbuds Bluetooth 5.3 KDL-40V4100",
    "Wired earbuds with microphone",
    "Ceramic coffee mug 350ml",
    "无线蓝牙耳机",
    "Stainless steel travel mug",
]


def _row_norms(m: sp.csr_matrix) -> np.ndarray:
    return np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())


def test_term_counts_are_hashed_character_ngram_counts():
    counts = term_counts(["abcabc", "xyz"])
    assert counts.shape == (2, N_FEATURES)
    assert counts.format == "csr"
    assert (counts.data > 0).all()
    # " abcabc " has 3-grams " ab", "abc", "bca", "cab", "abc", "bc " ...: "abc" occurs twice
    assert counts[0].max() >= 2
    # n-grams are 3..5 characters of a word padded with spaces: "xyz" -> " xy", "xyz", "yz ", " xyz", "xyz ", " xyz "
    assert counts[1].sum() == 6


def test_term_counts_lowercase_the_text():
    a, b = term_counts(["Coffee MUG"]), term_counts(["coffee mug"])
    assert (a != b).nnz == 0


def test_lexical_matrix_rows_are_l2_normalized():
    m, idf = lexical_matrix(TEXTS)
    assert m.shape == (len(TEXTS), N_FEATURES)
    assert idf.shape == (N_FEATURES,)
    np.testing.assert_allclose(_row_norms(m), 1.0, rtol=1e-5)


def test_lexical_matrix_of_an_empty_text_is_a_zero_row():
    m, _ = lexical_matrix(["coffee mug", ""])
    assert m[1].nnz == 0
    assert _row_norms(m)[0] == pytest.approx(1.0, rel=1e-5)


def test_idf_gives_rare_ngrams_more_weight():
    counts = term_counts(["mug red", "mug blue", "mug green"])
    idf = fit_idf(counts)
    common = term_counts(["mug"]).indices  # every text has these n-grams
    rare = term_counts(["green"]).indices
    assert idf[common].max() < idf[rare].min()
    assert idf[common] == pytest.approx(1.0)  # log((1+3)/(1+3)) + 1


def test_lexical_query_is_normalized_and_scores_the_matching_listing_highest():
    m, idf = lexical_matrix(TEXTS)
    q = lexical_query("ceramic mug", idf)
    assert q.shape == (1, N_FEATURES)
    assert _row_norms(q)[0] == pytest.approx(1.0, rel=1e-5)
    scores = (m @ q.T).toarray().ravel()
    assert int(np.argmax(scores)) == 2
    assert scores.max() <= 1.0 + 1e-5


def test_row_dots_equals_the_dense_product():
    m, idf = lexical_matrix(TEXTS)
    q = lexical_query("wireless earbuds mug 蓝牙", idf)
    dense = (m @ q.T).toarray().ravel()
    rows = np.array([4, 0, 2, 3])
    np.testing.assert_allclose(row_dots(m, rows, q), dense[rows], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(row_dots(m, np.arange(len(TEXTS)), q), dense, rtol=1e-5, atol=1e-6)


def test_row_dots_with_repeated_rows_and_no_overlap():
    m, idf = lexical_matrix(TEXTS)
    q = lexical_query("wired", idf)
    dense = (m @ q.T).toarray().ravel()
    np.testing.assert_allclose(row_dots(m, np.array([1, 1, 2]), q), dense[[1, 1, 2]], rtol=1e-5, atol=1e-6)
    assert dense[1] > 0
    empty = lexical_query("", idf)
    assert empty.nnz == 0
    np.testing.assert_array_equal(row_dots(m, np.array([0, 1]), empty), np.zeros(2, dtype=np.float32))


def test_weigh_equals_weigh_log_tf_and_unweigh_reweighs_for_a_new_idf():
    counts = term_counts(TEXTS)
    idf_old = fit_idf(counts[:3])
    idf_new = fit_idf(counts)
    old = weigh(counts, idf_old)
    assert abs(weigh_log_tf(log_tf(counts), idf_old) - old).max() == 0
    assert abs(old - weigh(counts, idf_new)).max() > 1e-4  # the idf matters, so the next check is not trivial
    reweighed = weigh_log_tf(unweigh(old, idf_old), idf_new)
    direct = weigh(counts, idf_new)
    assert abs(reweighed - direct).max() < 1e-5


def test_csr_npz_writer_round_trips_through_load_csr(tmp_path):
    m, _ = lexical_matrix(TEXTS)
    m.sort_indices()
    path = tmp_path / "lexical.npz"
    half = m.nnz // 2
    CsrNpzWriter(path).write(
        m.shape, m.nnz, m.indptr,
        iter([m.data[:half], m.data[half:]]), iter([m.indices[:half], m.indices[half:]]),
    )
    for mmap in (False, True):
        loaded = load_csr(path, mmap=mmap)
        assert loaded.shape == m.shape
        np.testing.assert_array_equal(np.asarray(loaded.indptr), m.indptr)
        np.testing.assert_array_equal(np.asarray(loaded.indices), m.indices)
        np.testing.assert_array_equal(np.asarray(loaded.data), m.data)
    # scipy reads the same file
    assert abs(sp.load_npz(path).tocsr() - m).max() == 0


def test_csr_npz_writer_refuses_a_wrong_announced_length(tmp_path):
    m, _ = lexical_matrix(TEXTS[:2])
    with pytest.raises(ValueError, match="announced"):
        CsrNpzWriter(tmp_path / "bad.npz").write(m.shape, m.nnz + 1, m.indptr, iter([m.data]), iter([m.indices]))


def test_lexical_params_default_to_the_documented_budget():
    assert LEXICAL == LexicalParams(postings_budget=400_000, min_query_grams=8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        LEXICAL.postings_budget = 1


def test_postings_budget_and_min_query_grams_bound_what_a_query_reads():
    texts = [f"speaker model XK{i:04d} black" for i in range(300)] + ["ceramic coffee mug"] * 5
    m, idf = lexical_matrix(texts)
    postings = m.T.tocsr()
    q = lexical_query("xk0042 speaker black", idf)
    everything = lexical_candidates(q, postings, pool=len(texts))
    assert 42 in everything and len(everything) == 300  # the full budget reads every speaker's common n-grams
    one_gram = lexical_candidates(q, postings, pool=len(texts), params=LexicalParams(postings_budget=0, min_query_grams=1))
    assert 0 < len(one_gram) < len(everything)  # only the rarest n-gram's postings
    assert 42 in one_gram
    wider = lexical_candidates(q, postings, pool=len(texts), params=LexicalParams(postings_budget=0, min_query_grams=40))
    assert len(one_gram) <= len(wider)


def test_cjk_runs_add_their_1_2_grams_and_other_text_is_unchanged():
    from sklearn.feature_extraction.text import HashingVectorizer

    from diffscan.core.lexical import cjk_grams, cjk_share

    plain = HashingVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, n_features=N_FEATURES,
                              alternate_sign=False, norm=None)
    english = ["Stainless steel bottle 750ml", "SK-II cream"]
    assert (term_counts(english) != plain.transform(english)).nnz == 0
    assert cjk_grams("SK-II 神仙水") == ["神", "仙", "水", "神仙", "仙水"]
    counts = term_counts(["神仙水 230ml"])
    assert counts.nnz > plain.transform(["神仙水 230ml"]).nnz
    # two titles sharing single characters but no 3-gram still match lexically
    m, _ = lexical_matrix(["大红瓶面霜", "面霜大瓶", "water bottle"])
    assert (m[0] @ m[1].T).toarray()[0, 0] > 0
    assert cjk_share("SK-II 神仙水 230ml") == 0.5 and cjk_share("Apple iPhone 12") == 0.0


# ---- a query's row without scikit-learn: equal to the HashingVectorizer path, entry for entry --------

ODD_TEXTS = [
    "", " ", "\t", "a", "ab", "abc", "abcd", "abcde", "abcdef", "Basmati Rice 5kg",
    "tab\tseparated\tvalues", "new\nline\r\nand\x0bvertical\x0cfeed", "double  space   and \t\n mixed",
    " leading and trailing ", "\u00a0no-break\u00a0space\u3000ideographic space", "\x1cfile\x1dgroup\x1erecord\x1funit",
    "SK-II 神仙水 230ml", "无线蓝牙耳机", "日本語のテキスト カタカナ ﾊﾝｶｸ", "한국어 텍스트", "𠀀𠀁 extension B",
    "😀🍚🔥 emoji", "👩‍👩‍👧 family zwj", "🇮🇳 flag", "e\u0301 combining", "İstanbul ß ΣΑΣ Straße",
    "Ｆｕｌｌ ｗｉｄｔｈ ＡＢＣ", "KDL-40V4100 XK0042/B model #12-34", "x" * 300, "pneumonoultramicroscopicsilicovolcanoconiosis",
    "Москва водка", "عربى نص", "עברית", "café crème brûlée", "\u200bzero\u200bwidth", "mixed 中文 and English 混合",
]


def _same_row(text: str) -> None:
    from diffscan.core.lexical import query_counts

    mine, sk = query_counts(text), term_counts([text])
    assert mine.shape == sk.shape == (1, N_FEATURES)
    np.testing.assert_array_equal(mine.indptr, sk.indptr)
    np.testing.assert_array_equal(mine.indices, sk.indices)
    np.testing.assert_array_equal(mine.data, sk.data)
    assert mine.data.dtype == sk.data.dtype == np.float32


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_query_counts_equal_the_scikit_learn_row(text):
    _same_row(text)


def test_lexical_query_equals_the_batch_rows():
    _, idf = lexical_matrix(TEXTS)
    batch = weigh(term_counts(ODD_TEXTS), idf)
    for i, text in enumerate(ODD_TEXTS):
        q = lexical_query(text, idf)
        np.testing.assert_array_equal(q.indices, batch[i].indices)
        np.testing.assert_array_equal(q.data, batch[i].data)


def test_murmurhash3_32_equals_scikit_learn():
    from sklearn.utils import murmurhash3_32 as reference

    from diffscan.core.lexical import murmurhash3_32

    rng = np.random.default_rng(0)
    for n in range(40):
        for _ in range(20):
            data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            assert murmurhash3_32(data) == reference(data, seed=0)
    assert murmurhash3_32(b"hello", seed=42) == reference(b"hello", seed=42)


def test_char_wb_grams_are_scikit_learns():
    from sklearn.feature_extraction.text import HashingVectorizer

    from diffscan.core.lexical import char_wb_grams

    analyzer = HashingVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, lowercase=True).build_analyzer()
    for text in ODD_TEXTS:
        assert char_wb_grams(text) == analyzer(text)
    assert char_wb_grams("ab") == [" ab", "ab ", " ab "]  # a short word counts once, not once per longer n


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=120) | st.text(alphabet=" \t\n\u3000abcXYZ神仙水😀-0", max_size=60))
def test_query_counts_equal_the_scikit_learn_row_for_any_text(text):
    _same_row(text)
