"""Index on disk: atomic writes, manifest checks, model identity, embedding cache re-use."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from diffscan.encoder.cache import EmbeddingCache
from diffscan.encoder.local import load_encoder
from diffscan.errors import CatalogError, IndexFormatError, ModelError
from diffscan.index.build import build_index
from diffscan.index.store import load_index


def _catalog(path, n=40, edit=None):
    rows = [
        {"id": f"P{i:03d}", "title": f"Ceramic coffee mug {i} oz, colour {['red', 'blue', 'green'][i % 3]}",
         "category": "Kitchen > Mugs", "brand": f"Brand{i % 4}", "price": f"${5 + i}.99"}
        for i in range(n)
    ]
    if edit is not None:
        rows[edit]["title"] = "Edited title: bamboo travel mug with lid"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def small_index(tmp_path):
    catalog = _catalog(tmp_path / "cat.csv")
    index, _report, _stats = build_index(catalog, tmp_path / "idx", cache_dir=tmp_path / "cache")
    return index


def test_build_writes_manifest_and_aligned_files(small_index):
    m = small_index.manifest
    assert m["schema_version"] == 1
    assert m["counts"]["listings"] == 40 == len(small_index.listings)
    assert small_index.vectors.shape == (40, m["model"]["dimension"])
    assert np.allclose(np.linalg.norm(small_index.vectors, axis=1), 1.0, atol=1e-4)
    assert set(m["files"]) == {"listings.parquet", "vectors.npy", "lexical.npz", "idf.npy"}
    assert small_index.listings["category_path"][0] == ["Kitchen", "Mugs"]
    assert small_index.listings["price"][0] == pytest.approx(5.99)


def test_rebuild_after_one_edit_reembeds_one(tmp_path):
    cache = tmp_path / "cache"
    build_index(_catalog(tmp_path / "a.csv"), tmp_path / "idx", cache_dir=cache)
    _, _, stats = build_index(_catalog(tmp_path / "b.csv", edit=7), tmp_path / "idx", cache_dir=cache)
    assert stats == {"embedded": 1, "cached": 39}


def test_missing_file_is_reported(small_index):
    (small_index.path / "vectors.npy").unlink()
    with pytest.raises(IndexFormatError, match="missing vectors.npy"):
        load_index(small_index.path)


def test_altered_file_is_reported(small_index):
    target = small_index.path / "idf.npy"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match="altered or is corrupt"):
        load_index(small_index.path)


def test_wrong_schema_version(small_index):
    manifest = small_index.path / "manifest.json"
    m = json.loads(manifest.read_text())
    m["schema_version"] = 99
    manifest.write_text(json.dumps(m))
    with pytest.raises(IndexFormatError, match="schema version 99"):
        load_index(small_index.path)


def test_not_an_index(tmp_path):
    with pytest.raises(IndexFormatError, match="No index"):
        load_index(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexFormatError, match="no manifest.json"):
        load_index(tmp_path / "empty")


def test_failed_rebuild_keeps_old_index(small_index, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,colour\n1,red\n")
    with pytest.raises(CatalogError, match="no title column"):
        build_index(bad, small_index.path, cache_dir=tmp_path / "cache")
    assert len(load_index(small_index.path)) == 40


def test_query_model_must_match_index(small_index, tmp_path):
    # A copy of the bundled model with a changed config is another model to the index.
    other = tmp_path / "other-model"
    shutil.copytree(load_encoder().path, other)
    cfg = other / "config_sentence_transformers.json"
    cfg.write_text(cfg.read_text().replace("{", '{"note": "changed",', 1))
    with pytest.raises(ModelError, match="built with model"):
        small_index.encoder(str(other))


def test_unknown_model_name():
    with pytest.raises(ModelError, match="never downloads"):
        load_encoder("sentence-transformers/paraphrase-MiniLM-L3-v2")


def test_cache_ignores_torn_shard(tmp_path):
    cache = EmbeddingCache("m", tmp_path)
    cache.put([b"a" * 16], np.ones((1, 3), np.float32))
    (cache.folder / "shard-999999-x.keys.npy").write_bytes(b"garbage")
    (cache.folder / "shard-999999-x.vecs.npy").write_bytes(b"garbage")
    assert list(EmbeddingCache("m", tmp_path).get([b"a" * 16])) == [b"a" * 16]
