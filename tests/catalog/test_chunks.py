"""diffscan.catalog.chunks: a catalog read in chunks gives load_catalog's listings and report."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from diffscan.catalog.chunks import can_stream, iter_catalog
from diffscan.catalog.table import load_catalog
from diffscan.errors import CatalogError

CSV = """listing_id,title,brand,price,category
A1,Ceramic Coffee Mug 350ml,Acme,$9.99,Home > Mugs
A2,Stainless Travel Mug,Thermo,12.50,Home > Mugs
A3,,Acme,3.00,Home > Mugs
A4,Bamboo Cutting Board,Woodly,not a price,Home > Kitchen
,,,,
A1,Ceramic Coffee Mug again,Acme,8.00,Home > Mugs
A5,Glass Teapot 1L,Brewco,24.00,Home > Tea
A2,Travel Mug copy,Thermo,12.00,Home > Mugs
A6,Cast Iron Pan 28cm,Ironworks,39.90,Home > Kitchen
"""

RECORDS = [
    {"listing_id": "J1", "title": "Wireless Earbuds", "brand": "Sonix", "price": "29.99"},
    {"listing_id": "J2", "title": "Wired Earbuds", "brand": "Sonix", "price": "9.99"},
    {"listing_id": "J1", "title": "Wireless Earbuds duplicate", "brand": "Sonix", "price": "25.00"},
    {"listing_id": "J3", "title": "", "brand": "Sonix"},
    {"listing_id": "J4", "title": "无线蓝牙耳机", "price": "19.00"},
    {"listing_id": "J5", "title": "Earbud Case"},
]


def _write_csv(tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def _write_jsonl(tmp_path):
    path = tmp_path / "catalog.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in RECORDS) + "\n", encoding="utf-8")
    return path


def _streamed(path, chunk_rows):
    chunks = iter_catalog(path, chunk_rows=chunk_rows)
    frames = list(chunks)
    return frames, chunks.report


def _skips(report):
    return [(s.row, s.listing_id, s.reason) for s in report.skipped]


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 100])
def test_csv_chunks_equal_load_catalog(tmp_path, chunk_rows):
    path = _write_csv(tmp_path)
    whole = load_catalog(path)
    frames, report = _streamed(path, chunk_rows)
    assert all(len(f) <= chunk_rows for f in frames)
    assert all(list(f.index) == list(range(len(f))) for f in frames)
    streamed = pd.concat(frames, ignore_index=True)
    pd.testing.assert_frame_equal(streamed, whole.listings)
    assert report.rows_read == whole.report.rows_read == 9
    assert report.rows_used == whole.report.rows_used == len(streamed) == 5
    assert report.format == whole.report.format == "csv"
    assert report.column_mapping == whole.report.column_mapping
    assert _skips(report) == _skips(whole.report)
    assert [(w.row, w.column, w.message) for w in report.warnings] == \
        [(w.row, w.column, w.message) for w in whole.report.warnings] == [(5, "price", "price not a number ('not a price')")]


def test_csv_duplicate_ids_across_chunks_are_skipped_with_the_first_row(tmp_path):
    path = _write_csv(tmp_path)
    frames, report = _streamed(path, chunk_rows=2)
    assert len(frames) > 2
    ids = pd.concat(frames)["listing_id"].tolist()
    assert ids == ["A1", "A2", "A4", "A5", "A6"]
    by_row = {s.row: s for s in report.skipped}
    # header is row 1: A1 is at row 2, its repeat at row 7; A2 at row 3, its repeat at row 9
    assert by_row[7].listing_id == "A1" and by_row[7].reason == "duplicate listing_id (first at row 2)"
    assert by_row[9].listing_id == "A2" and by_row[9].reason == "duplicate listing_id (first at row 3)"
    assert by_row[4].reason == "empty title"
    assert by_row[6].reason == "blank row" and by_row[6].listing_id == ""
    assert report.skipped_by_reason() == {"duplicate listing_id": 2, "empty title": 1, "blank row": 1}
    assert [s.row for s in report.skipped] == sorted(s.row for s in report.skipped)


@pytest.mark.parametrize("chunk_rows", [1, 2, 4])
def test_jsonl_chunks_equal_load_catalog(tmp_path, chunk_rows):
    path = _write_jsonl(tmp_path)
    assert can_stream(path)
    whole = load_catalog(path)
    frames, report = _streamed(path, chunk_rows)
    streamed = pd.concat(frames, ignore_index=True)
    pd.testing.assert_frame_equal(streamed, whole.listings)
    assert streamed["listing_id"].tolist() == ["J1", "J2", "J4", "J5"]
    assert "无线蓝牙耳机" in streamed["title"].tolist()
    assert report.format == whole.report.format == "jsonl"
    assert report.rows_read == whole.report.rows_read
    assert report.rows_used == whole.report.rows_used == 4
    assert _skips(report) == _skips(whole.report)
    kinds = {s.listing_id: s.reason for s in report.skipped}
    assert kinds["J1"] == "duplicate listing_id (first at row 1)"
    assert kinds["J3"] == "empty title"


def test_report_is_none_until_iteration_ends(tmp_path):
    chunks = iter_catalog(_write_csv(tmp_path), chunk_rows=2)
    assert chunks.report is None
    it = iter(chunks)
    next(it)
    assert chunks.report is None
    list(it)
    assert chunks.report is not None and chunks.report.rows_used == 5


def test_a_file_without_usable_listings_raises_catalog_error(tmp_path):
    path = tmp_path / "empty_titles.csv"
    path.write_text("listing_id,title\nX1,\nX2,\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="no usable listings"):
        list(iter_catalog(path, chunk_rows=1))


def test_a_file_without_a_title_column_raises_catalog_error(tmp_path):
    path = tmp_path / "no_title.csv"
    path.write_text("sku,colour\nX1,red\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="no title column"):
        list(iter_catalog(path, chunk_rows=1))


def test_can_stream_knows_the_formats(tmp_path):
    assert can_stream(_write_csv(tmp_path))
    tsv = tmp_path / "c.tsv"
    tsv.write_text("title\tprice\nMug\t3\n", encoding="utf-8")
    assert can_stream(tsv)
    whole = tmp_path / "c.json"
    whole.write_text(json.dumps(RECORDS), encoding="utf-8")
    assert not can_stream(whole)


def test_a_json_array_is_loaded_whole_and_handed_out_in_chunks(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(RECORDS, ensure_ascii=False), encoding="utf-8")
    whole = load_catalog(path)
    frames, report = _streamed(path, chunk_rows=2)
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole.listings)
    assert _skips(report) == _skips(whole.report)
    assert report.rows_used == whole.report.rows_used == 4
