"""diffscan.index.writer: chunks written into an index folder that load_index reads, and what it refuses."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from diffscan.catalog.table import load_catalog
from diffscan.core.lexical import fit_idf, lexical_matrix, log_tf, term_counts
from diffscan.errors import IndexFormatError
from diffscan.index.store import (
    MANIFEST,
    POSTINGS_FILE,
    SCHEMA_VERSION,
    listing_texts,
    load_index,
)
from diffscan.index.writer import IndexWriter

DIM = 8
TITLES = [
    "Ceramic coffee mug 350ml", "Stainless travel mug", "Bamboo cutting board", "Glass teapot 1L",
    "Cast iron pan 28cm", "Wireless earbuds", "无线蓝牙耳机", "Silicone baking mat",
]


@pytest.fixture
def listings(tmp_path):
    frame = pd.DataFrame({
        "listing_id": [f"L{i}" for i in range(len(TITLES))],
        "title": TITLES,
        "category": ["Home > Kitchen"] * 5 + ["Electronics > Audio"] * 2 + ["Home > Kitchen"],
        "brand": [f"B{i % 3}" for i in range(len(TITLES))],
        "price": [f"{5 + i}.50" for i in range(len(TITLES))],
    })
    path = tmp_path / "source.csv"
    frame.to_csv(path, index=False)
    return load_catalog(path).listings


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _manifest(n: int) -> dict:
    return {"schema_version": SCHEMA_VERSION, "model": {"id": "test/model", "spec": "test", "dimension": DIM},
            "text": {"description_chars": 300}, "counts": {"listings": n}}


def _write(out, listings, vectors, chunk=3, **kwargs):
    texts = listing_texts(listings, 300)
    with IndexWriter(out, dimension=DIM, **kwargs) as writer:
        for start in range(0, len(listings), chunk):
            stop = start + chunk
            writer.add(listings.iloc[start:stop], vectors[start:stop], log_tf(term_counts(texts[start:stop])))
        return writer.finish(_manifest(len(listings)))


def test_writer_output_is_an_index_load_index_reads(tmp_path, listings):
    out = tmp_path / "index"
    vectors = _vectors(len(listings))
    returned = _write(out, listings, vectors, ann=False)
    index = load_index(out)  # verifies every checksum
    assert len(index) == len(returned) == len(listings)
    assert index.model_id == "test/model"
    assert index.manifest["search"] == {"semantic": "exact", "lexical": "full", "ann_threshold": index.manifest["search"]["ann_threshold"]}
    assert set(index.manifest["files"]) == {"listings.parquet", "vectors.npy", "lexical.npz", "idf.npy"}
    assert index.listings["listing_id"].tolist() == listings["listing_id"].tolist()
    assert index.listings["title"].tolist() == TITLES
    assert index.listings["category_path"].tolist() == listings["category_path"].tolist()
    np.testing.assert_array_equal(index.vectors, vectors)
    assert index.ann is None and index.postings is None
    # chunked weighing equals weighing the whole catalog at once
    texts = listing_texts(listings, 300)
    expected, idf = lexical_matrix(texts)
    np.testing.assert_allclose(index.idf, idf, rtol=1e-6)
    np.testing.assert_allclose(index.idf, fit_idf(term_counts(texts)), rtol=1e-6)
    assert abs(index.lexical - expected).max() < 1e-6
    # nothing is left beside the folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "source.csv"]


def test_writer_with_ann_writes_the_graph_and_postings(tmp_path, listings):
    out = tmp_path / "index"
    _write(out, listings, _vectors(len(listings)), ann=True)
    index = load_index(out)
    assert index.manifest["search"]["semantic"] == "ann"
    assert index.manifest["search"]["lexical"] == "postings"
    assert POSTINGS_FILE in index.manifest["files"]
    assert index.ann is not None
    assert len(index.ann) == len(listings)
    # postings are the lexical matrix transposed
    assert abs(index.postings - index.lexical.T.tocsr()).max() < 1e-6


def test_writer_replaces_a_previous_index(tmp_path, listings):
    out = tmp_path / "index"
    _write(out, listings, _vectors(len(listings), seed=1), ann=False)
    smaller = listings.iloc[:4]
    _write(out, smaller, _vectors(4, seed=2), ann=False)
    index = load_index(out)
    assert index.listings["listing_id"].tolist() == ["L0", "L1", "L2", "L3"]
    np.testing.assert_array_equal(index.vectors, _vectors(4, seed=2))


def test_writer_into_an_empty_existing_folder(tmp_path, listings):
    out = tmp_path / "index"
    out.mkdir()
    _write(out, listings, _vectors(len(listings)), ann=False)
    assert len(load_index(out)) == len(listings)


def test_writer_refuses_a_folder_that_is_not_an_index(tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"not an index")
    with pytest.raises(IndexFormatError, match="exists and is not a diffscan index") as caught:
        IndexWriter(out, dimension=DIM)
    assert str(out) in str(caught.value)  # the message names the folder
    assert [p.name for p in out.iterdir()] == ["holiday.jpg"]
    assert (out / "holiday.jpg").read_bytes() == b"not an index"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]  # no temporary folders made


def test_finish_without_listings_raises_and_leaves_nothing(tmp_path):
    out = tmp_path / "index"
    with pytest.raises(IndexFormatError, match="No listings to write"), IndexWriter(out, dimension=DIM) as writer:
        writer.finish(_manifest(0))
    assert list(tmp_path.iterdir()) == []


def test_add_refuses_chunks_of_different_lengths(tmp_path, listings):
    out = tmp_path / "index"
    with IndexWriter(out, dimension=DIM) as writer:
        with pytest.raises(ValueError, match="same length"):
            writer.add(listings.iloc[:3], _vectors(2), log_tf(term_counts(["a", "b", "c"])))
        assert writer.n == 0


def test_an_error_while_writing_keeps_the_previous_index(tmp_path, listings):
    out = tmp_path / "index"
    _write(out, listings, _vectors(len(listings)), ann=False)
    before = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    texts = listing_texts(listings, 300)
    with pytest.raises(RuntimeError, match="boom"), IndexWriter(out, dimension=DIM, ann=False) as writer:
        writer.add(listings.iloc[:2], _vectors(2, seed=5), log_tf(term_counts(texts[:2])))
        raise RuntimeError("boom")
    assert json.loads((out / MANIFEST).read_text(encoding="utf-8")) == before
    assert len(load_index(out)) == len(listings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "source.csv"]


def test_finish_refuses_a_foreign_folder_made_while_writing(tmp_path, listings):
    out = tmp_path / "index"
    texts = listing_texts(listings, 300)
    with pytest.raises(IndexFormatError, match="is not a diffscan index"), IndexWriter(out, dimension=DIM, ann=False) as writer:
        writer.add(listings, _vectors(len(listings)), log_tf(term_counts(texts)))
        out.mkdir()
        (out / "notes.txt").write_text("mine", encoding="utf-8")
        writer.finish(_manifest(len(listings)))
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "source.csv"]
