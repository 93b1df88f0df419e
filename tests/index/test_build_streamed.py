"""Streaming builds equal whole-file builds; the chunked index files are the standard formats.

Small files, forced into tiny chunks. The synthetic generator of the scale benchmark is checked for
determinism where ../shared/datasets is present.
"""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from diffscan.catalog.chunks import can_stream, iter_catalog
from diffscan.catalog.table import load_catalog
from diffscan.index.build import build_index
from diffscan.index.writer import NPY_HEADER_BYTES, _npy_header


def catalog_rows(n: int = 45) -> list[dict]:
    kinds = ["oak dining table", "pine bookshelf", "velvet sofa", "wool rug", "brass floor lamp"]
    return [{"id": f"F{i:03d}", "title": f"{kinds[i % 5]} {['small', 'large', 'xl'][i % 3]} #{i}",
             "description": "Solid wood, hand finished." if i % 4 == 0 else "",
             "category": f"Furniture > {kinds[i % 5].split()[-1].title()}", "brand": f"Casa{i % 4}",
             "price": f"${100 + 7 * i}.00", "rating": "4.5 out of 5 stars" if i % 2 else ""} for i in range(n)]


def assert_same_index(a, b):
    pd.testing.assert_frame_equal(a.listings, b.listings)
    assert np.allclose(a.vectors, b.vectors, atol=1e-5)
    assert np.array_equal(a.idf, b.idf)
    assert np.array_equal(a.lexical.indptr, b.lexical.indptr)
    assert np.array_equal(a.lexical.indices, b.lexical.indices)
    assert np.array_equal(a.lexical.data, b.lexical.data)
    for key in ("counts", "column_mapping", "model", "text"):
        assert a.manifest[key] == b.manifest[key]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "csv.gz", "parquet"])
def test_streaming_build_equals_normal_build(tmp_path, fmt):
    frame = pd.DataFrame(catalog_rows())
    path = tmp_path / f"catalog.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "csv.gz":
        path.write_bytes(gzip.compress(frame.to_csv(index=False).encode()))
    elif fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in frame.to_dict("records")) + "\n")
    else:
        frame.to_parquet(path, index=False)
    assert can_stream(path)
    whole, report_a, _ = build_index(path, tmp_path / "whole", stream=False)
    streamed, report_b, _ = build_index(path, tmp_path / "streamed", stream=True, chunk_rows=7)
    assert_same_index(whole, streamed)
    assert report_a.to_dict() == report_b.to_dict()


def test_chunks_of_a_messy_csv_match_load_catalog(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_bytes(
        b"id,title,price\n1,Red mug,$5\n2,,$6\n\n1,Blue mug,7\n3,Green mug,abc,extra\n"
        b'4,"Multi\nline mug",3\n5,Caf\xe9 mug,4\n6,Yellow mug,5\n1,Again a duplicate,5\n7,Teal mug,\xa36\n'
    )
    full = load_catalog(path)
    chunks = iter_catalog(path, chunk_rows=2)
    streamed = pd.concat(list(chunks), ignore_index=True)
    pd.testing.assert_frame_equal(full.listings, streamed)
    assert chunks.report.to_dict() == full.report.to_dict()
    assert chunks.report.encoding == "cp1252"
    assert [s.kind for s in chunks.report.skipped].count("duplicate listing_id") == 2


def test_formats_that_cannot_stream_are_loaded_whole(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"products": catalog_rows(10)}))
    assert not can_stream(path)
    chunks = iter_catalog(path, chunk_rows=3)
    assert sum(len(c) for c in chunks) == 10 and chunks.report.format == "json"


def test_chunked_build_of_an_index_equals_one_chunk(tmp_path):
    path = tmp_path / "c.csv"
    pd.DataFrame(catalog_rows(30)).to_csv(path, index=False)
    one, _, _ = build_index(path, tmp_path / "one")
    many, _, _ = build_index(path, tmp_path / "many", chunk_rows=4)
    assert_same_index(one, many)


def test_vectors_header_is_what_numpy_writes(tmp_path):
    for shape in [(3, 384), (1_000_000, 256), (10**11, 1024)]:
        header = _npy_header(shape)
        assert len(header) == NPY_HEADER_BYTES
    np.save(tmp_path / "ref.npy", np.zeros((40, 384), np.float32))
    assert (tmp_path / "ref.npy").read_bytes()[:NPY_HEADER_BYTES] == _npy_header((40, 384))


def test_lexical_file_loads_with_scipy(tmp_path):
    path = tmp_path / "c.csv"
    pd.DataFrame(catalog_rows(12)).to_csv(path, index=False)
    index, _, _ = build_index(path, tmp_path / "idx", chunk_rows=5)
    plain = sp.load_npz(index.path / "lexical.npz")
    assert (plain != index.lexical).nnz == 0


def test_synthetic_generator_is_deterministic(tmp_path, datasets_dir):
    from bench.synthetic import generate, sample_queries

    a = generate(300, tmp_path / "a.csv", seed=3, datasets=datasets_dir)
    b = generate(300, tmp_path / "b.csv", seed=3, datasets=datasets_dir)
    c = generate(300, tmp_path / "c.csv", seed=4, datasets=datasets_dir)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    loaded = load_catalog(a)
    assert len(loaded.listings) == 300 and not loaded.report.skipped
    assert loaded.listings["category_path"].map(len).min() >= 1
    assert loaded.listings["title"].nunique() > 250
    assert len(sample_queries(a, 20)) == 20
