"""diffscan.encoder.cache: embeddings kept in .npy shards keyed by (model, text)."""

from __future__ import annotations

import hashlib

import numpy as np

from diffscan.encoder.cache import EmbeddingCache, default_cache_dir, text_key


def _vecs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)


def test_text_key_is_16_stable_bytes_of_sha1():
    key = text_key("Ceramic coffee mug")
    assert isinstance(key, bytes) and len(key) == 16
    assert key == text_key("Ceramic coffee mug")
    assert key == hashlib.sha1(b"Ceramic coffee mug").digest()[:16]
    assert text_key("无线蓝牙耳机") == hashlib.sha1("无线蓝牙耳机".encode()).digest()[:16]
    assert text_key("Ceramic coffee mug ") != key
    assert text_key("") == bytes.fromhex("da39a3ee5e6b4b0d3255bfef95601890")


def test_put_get_round_trip(tmp_path):
    cache = EmbeddingCache("org/model-a", tmp_path)
    keys = [text_key(t) for t in ("mug", "pan", "teapot")]
    vectors = _vecs(3)
    cache.put(keys, vectors)
    got = cache.get(keys + [text_key("absent")])
    assert set(got) == set(keys)
    for k, v in zip(keys, vectors):
        np.testing.assert_array_equal(got[k], v)
    # a fresh cache object reads the shard from disk
    again = EmbeddingCache("org/model-a", tmp_path).get(keys)
    np.testing.assert_array_equal(np.stack([again[k] for k in keys]), vectors)


def test_vectors_are_stored_as_float32(tmp_path):
    cache = EmbeddingCache("m", tmp_path)
    k = [text_key("x")]
    cache.put(k, np.array([[0.5, 0.25]], dtype=np.float64))
    got = EmbeddingCache("m", tmp_path).get(k)[k[0]]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [0.5, 0.25])


def test_put_after_get_registers_the_new_shard(tmp_path):
    cache = EmbeddingCache("m", tmp_path)
    first = [text_key("a"), text_key("b")]
    cache.put(first, _vecs(2, 1))
    assert set(cache.get(first)) == set(first)  # the index is loaded now
    second = [text_key("c")]
    cache.put(second, _vecs(1, 2))
    got = cache.get(first + second)
    assert set(got) == set(first + second)
    np.testing.assert_array_equal(got[second[0]], _vecs(1, 2)[0])
    assert cache.info()["shards"] == 2


def test_models_do_not_share_vectors(tmp_path):
    keys = [text_key("mug")]
    EmbeddingCache("model-a", tmp_path).put(keys, _vecs(1))
    assert EmbeddingCache("model-b", tmp_path).get(keys) == {}
    assert EmbeddingCache("model-a", tmp_path).folder != EmbeddingCache("model-b", tmp_path).folder


def test_a_torn_shard_is_ignored(tmp_path):
    cache = EmbeddingCache("m", tmp_path)
    good = [text_key("good")]
    cache.put(good, _vecs(1, 3))
    torn_keys = [text_key("torn-1"), text_key("torn-2")]
    cache.put(torn_keys, _vecs(2, 4))
    vec_files = sorted(cache.folder.glob("shard-*.vecs.npy"))
    assert len(vec_files) == 2
    # truncate the second shard's vectors, as a crash mid-write would
    torn = next(f for f in vec_files if f.name.startswith("shard-000001"))
    torn.write_bytes(torn.read_bytes()[:20])
    got = EmbeddingCache("m", tmp_path).get(good + torn_keys)
    assert set(got) == set(good)
    np.testing.assert_array_equal(got[good[0]], _vecs(1, 3)[0])


def test_a_shard_whose_keys_and_vectors_disagree_is_ignored(tmp_path):
    cache = EmbeddingCache("m", tmp_path)
    keys = [text_key("a"), text_key("b")]
    cache.put(keys, _vecs(2))
    (vec_file,) = cache.folder.glob("shard-*.vecs.npy")
    np.save(vec_file, _vecs(3))  # three vectors for two keys
    assert EmbeddingCache("m", tmp_path).get(keys) == {}


def test_a_shard_missing_its_vectors_is_ignored(tmp_path):
    cache = EmbeddingCache("m", tmp_path)
    keys = [text_key("a")]
    cache.put(keys, _vecs(1))
    (vec_file,) = cache.folder.glob("shard-*.vecs.npy")
    vec_file.unlink()
    assert EmbeddingCache("m", tmp_path).get(keys) == {}


def test_no_temporary_files_are_left_and_info_counts_shards(tmp_path):
    cache = EmbeddingCache("m", tmp_path)
    assert cache.info() == {"folder": str(cache.folder), "shards": 0, "bytes": 0}
    cache.put([text_key("a")], _vecs(1))
    assert not list(cache.folder.glob(".*"))
    info = cache.info()
    assert info["shards"] == 1
    assert info["bytes"] == sum(f.stat().st_size for f in cache.folder.glob("shard-*.npy"))


def test_empty_cache_folder_gets_nothing(tmp_path):
    assert EmbeddingCache("m", tmp_path / "missing").get([text_key("a")]) == {}


def test_default_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSCAN_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    assert EmbeddingCache("m").folder.parent.parent == tmp_path / "c"
    monkeypatch.delenv("DIFFSCAN_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "diffscan")


def test_keys_ending_in_zero_bytes_are_found_again(tmp_path):
    # numpy's S16 strips trailing NULs when read back; such keys (1 text in 256) must still hit.
    keys = [b"\x01" * 15 + b"\x00", b"\x02" * 14 + b"\x00\x00", text_key("mug")]
    EmbeddingCache("m", tmp_path).put(keys, _vecs(3))
    got = EmbeddingCache("m", tmp_path).get(keys)
    assert set(got) == set(keys)
