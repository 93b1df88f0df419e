"""The numpy query encoders: the same vectors as sentence-transformers (cosine >= 0.999), the same
identity, and a fallback to sentence-transformers for folders they do not run.

The static model is distilled in its 1-layer, 32-d test setting (about half a minute), once per module.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from diffscan.encoder.light import (
    LIGHT,
    LightEncoder,
    LightParams,
    load_light,
    read_safetensors,
)
from diffscan.encoder.local import Encoder, load_encoder, load_query_encoder
from diffscan.encoder.models import bundled_model_path, distill_static_model

TEXTS = [
    "basmati rice 5kg", "Basmati Rice/Basmati Akki - Premium", "Organic green tea bags, 100 pcs",
    "Stainless steel water bottle 750ml", "Wireless Earbuds Bluetooth 5.3 with charging case",
    "Sony WH-1000XM4 noise cancelling headphones", "Samsung KDL-40V4100 40\" LCD TV", "iPhone 13 Pro Max 256GB",
    "XK0042/B", "SKU 12-34-56 rev.B", "model no. A1B2C3D4", "1234567890", "3.5mm jack to USB-C adapter",
    "", " ", "\t\n", "x", ".", "!!!", "[CLS] [SEP] [PAD] [MASK] [UNK]", "##ing ##s",
    "😀", "😀🍚🔥 spicy rice", "👩‍👩‍👧 family pack", "🇮🇳 made in India",
    "有机绿茶 茶叶 500克", "无线蓝牙耳机", "SK-II 神仙水 230ml", "日本語のテキスト", "한국어 텍스트", "𠀀𠀁",
    "Москва водка 0.5 л", "café crème brûlée", "Ｆｕｌｌ ｗｉｄｔｈ", "İstanbul Straße ΣΑΣ", "عربى نص", "e\u0301\u200b",
    "a " * 400, "Stainless steel pressure cooker 5 L with induction base " * 30,
    "pneumonoultramicroscopicsilicovolcanoconiosis " * 20, "supercalifragilisticexpialidocious" * 12,
    "Dark chocolate 70% cocoa, 100 g bar: rich, smooth and not too sweet. " * 8,
    "shampoo anti dandruff 340ml", "Men's cotton t-shirt, size XL, navy blue", "LEGO Technic 42115 Lamborghini",
    "Nike Air Zoom Pegasus 39 — running shoes", "USB 3.0 hub (4 ports)", "A4 paper 500 sheets 80gsm",
    "Olive oil extra virgin 1 L", "Kids' puzzle 100 pieces", "Ceramic coffee mug 350ml",
]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def _agree(light: LightEncoder, reference: Encoder) -> None:
    ours, theirs = light.encode(TEXTS), reference.encode(TEXTS)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape == (len(TEXTS), reference.dimension)
    zero = np.linalg.norm(theirs, axis=1) < 1e-6  # a static model gives a text without tokens no vector
    np.testing.assert_array_equal(np.linalg.norm(ours, axis=1) < 1e-6, zero)
    cos = _cosines(ours[~zero], theirs[~zero])
    assert cos.min() >= 0.999, [t[:40] for t, c in zip(np.array(TEXTS)[~zero], cos) if c < 0.999]
    np.testing.assert_allclose(np.linalg.norm(ours[~zero], axis=1), 1.0, atol=1e-5)
    # one text alone (no padding) equals its row of a padded batch
    for i in (0, 13, 24, 37, 38):
        assert float(_cosines(light.encode_one(TEXTS[i])[None], ours[i][None])[0]) >= 0.99999 or zero[i]


@pytest.fixture(scope="module")
def minilm() -> LightEncoder:
    light = load_light(bundled_model_path())
    assert light is not None
    return light


def test_minilm_in_numpy_matches_sentence_transformers(minilm):
    reference = load_encoder("minilm")
    assert isinstance(reference, Encoder)
    assert (minilm.model_id, minilm.dimension, minilm.static) == (reference.model_id, reference.dimension, False)
    assert minilm.caches
    _agree(minilm, reference)


def test_long_texts_are_cut_at_max_seq_length(minilm):
    # MiniLM's tokenizer.json was saved cutting at 128; sentence-transformers cuts at max_seq_length 256
    assert minilm._model.max_length == 256
    long = "word " * 300
    longer = long + "entirely different tail " * 50
    assert float(minilm.encode_one(long) @ minilm.encode_one(longer)) > 0.99999


def test_any_batch_size_token_budget_and_threads_give_the_same_vectors(minilm):
    small = load_light(bundled_model_path(), LightParams(batch_size=3, token_budget=64, threads=None))
    assert _cosines(minilm.encode(TEXTS[:20]), small.encode(TEXTS[:20])).min() >= 0.99999


def test_read_safetensors_equals_the_safetensors_package():
    from safetensors.numpy import load_file

    path = bundled_model_path() / "model.safetensors"
    ours, theirs = read_safetensors(path), load_file(str(path))
    assert ours.keys() == theirs.keys()
    for name in theirs:
        np.testing.assert_array_equal(ours[name], theirs[name])


def test_query_encoder_is_light_for_minilm_and_the_same_model():
    query = load_query_encoder("minilm")
    assert isinstance(query, LightEncoder)
    assert query is load_query_encoder(None)  # loaded once per process
    assert query.model_id == load_encoder("minilm").model_id


def test_multilingual_tier_keeps_its_own_numpy_encoder():
    assert load_query_encoder("multilingual") is load_encoder("multilingual")


def _copy_model(tmp_path, name="copy"):
    """A copy of the bundled MiniLM whose weights are a link (its configs can be changed freely)."""
    source, out = bundled_model_path(), tmp_path / name
    shutil.copytree(source, out, ignore=shutil.ignore_patterns("model.safetensors"))
    (out / "model.safetensors").symlink_to(source / "model.safetensors")
    return out


def _edit(path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("change", ["roberta", "relative_key", "sqrt_len", "dense", "prompt", "lower_case", "fp16"])
def test_folders_it_does_not_run_are_refused(tmp_path, change):
    folder = _copy_model(tmp_path)
    assert load_light(folder) is not None  # the unchanged copy runs
    if change == "roberta":
        _edit(folder / "config.json", model_type="roberta")
    elif change == "relative_key":
        _edit(folder / "config.json", position_embedding_type="relative_key")
    elif change == "sqrt_len":
        _edit(folder / "1_Pooling" / "config.json", pooling_mode_mean_sqrt_len_tokens=True)
    elif change == "dense":
        modules = json.loads((folder / "modules.json").read_text())
        modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
        (folder / "modules.json").write_text(json.dumps(modules))
    elif change == "prompt":
        _edit(folder / "config_sentence_transformers.json", prompts={"query": "query: "}, default_prompt_name="query")
    elif change == "lower_case":
        _edit(folder / "sentence_bert_config.json", do_lower_case=True)
    else:  # weights in another dtype than float32: sentence-transformers would run them differently
        (folder / "model.safetensors").unlink()
        (folder / "model.safetensors").write_bytes(_fp16_copy(bundled_model_path() / "model.safetensors"))
    assert load_light(folder) is None


def _fp16_copy(path) -> bytes:
    from safetensors.numpy import load_file, save

    return save({k: (v.astype(np.float16) if v.dtype == np.float32 else v) for k, v in load_file(str(path)).items()})


def test_query_encoder_falls_back_to_sentence_transformers(tmp_path):
    folder = _copy_model(tmp_path, "sqrt-len")
    _edit(folder / "1_Pooling" / "config.json", pooling_mode_mean_tokens=False, pooling_mode_mean_sqrt_len_tokens=True)
    query = load_query_encoder(str(folder))
    assert isinstance(query, Encoder)
    assert query is load_encoder(str(folder))


def test_light_params_are_frozen_defaults():
    assert LIGHT == LightParams(batch_size=64, token_budget=4096, threads=1)
    with pytest.raises(AttributeError):
        LIGHT.threads = 2  # type: ignore[misc]


# ---- the static tier ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_static(tmp_path_factory):
    """A static model made by the real distillation code, in its 1-layer test setting."""
    return distill_static_model(tmp_path_factory.mktemp("models") / "static-tiny", pca_dims=32, layers=1)


def test_static_model_in_numpy_matches_sentence_transformers(tiny_static):
    light, reference = load_light(tiny_static), load_encoder(str(tiny_static))
    assert isinstance(light, LightEncoder) and light.static and not light.caches
    assert (light.model_id, light.dimension) == (reference.model_id, reference.dimension) == (light.model_id, 32)
    _agree(light, reference)
    assert isinstance(load_query_encoder(str(tiny_static)), LightEncoder)


def test_static_model_adds_no_special_tokens_and_keeps_the_files_truncation(tmp_path):
    """A StaticEmbedding saved with MiniLM's own tokenizer (special-token template, cut at 128 tokens)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
    weights = np.random.default_rng(0).normal(size=(tokenizer.get_vocab_size(), 16)).astype(np.float32)
    folder = tmp_path / "static-random"
    SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_weights=weights)], device="cpu").save(str(folder))
    light, reference = load_light(folder), load_encoder(str(folder))
    assert isinstance(light, LightEncoder) and light.static
    _agree(light, reference)
    ids = tokenizer.encode("rice", add_special_tokens=False).ids
    np.testing.assert_allclose(light.encode_one("rice"), weights[ids].mean(0) / np.linalg.norm(weights[ids].mean(0)),
                               rtol=1e-5)
