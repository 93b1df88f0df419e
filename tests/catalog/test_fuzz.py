"""Property-based fuzzing of the catalog loader: random bytes and random CSV/JSON/JSON Lines files load
to a LoadResult or raise a DiffscanError subclass, never anything else; well-formed CSVs keep every
title (cleaned by the documented rule, or reported); chunked loads equal whole-file ones."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffscan.catalog.chunks import iter_catalog
from diffscan.catalog.cleaning import clean_text
from diffscan.catalog.limits import LOAD_LIMITS
from diffscan.catalog.mapping import CANONICAL_FIELDS
from diffscan.catalog.report import LoadResult
from diffscan.catalog.table import MAX_TITLE_CHARS, load_catalog
from diffscan.errors import CatalogError, DiffscanError

_FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fuzz(examples: int) -> settings:
    """Settings of one fuzz test: ``examples`` cases (2,000 in all), no deadline."""
    return settings(_FUZZ, max_examples=examples)

TINY = dataclasses.replace(LOAD_LIMITS, max_bytes=2_000, max_rows=5, max_columns=4, max_cell_chars=8,
                           max_json_depth=2, max_sheet_cells=20)
LIMITS = st.sampled_from([LOAD_LIMITS, LOAD_LIMITS, TINY])

# Text a catalog may hold: any character but surrogates and the C0 controls that make a file binary.
_CONTROLS = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r\x0b\x0c\x1b")
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters=_CONTROLS), max_size=30)
SPICY = st.sampled_from([
    "", " ", "\x00", '"', '""', "'", "\n", "\r\n", "\r", ",", ";", "\t", "|", "=SUM(A1:A2)", "+1", "-1", "@x",
    "<b>bold</b>", "<script>x</script>", "&amp;", "&#0;", "&nbsp;", "🎉", "👨‍👩‍👧", "不锈钢保温杯", "\ufeff", "\u200b",
    "１２３", "1e23", "1e9", "12 34", "$1,299.00", "¥12.5", "1.234,56", "N/A", "nan", "-", "[1,2]", '{"a":1}',
    "\\", "\u2028", "\x85", "Home > Mugs", "4.5 out of 5 stars", "1.2万+",
])
CELL = st.one_of(TEXT, SPICY, st.lists(st.one_of(SPICY, TEXT), max_size=4).map("".join))
# Without NUL, so that a file of many short cells never reads as binary.
PLAIN = SPICY.filter(lambda s: s != "\x00")
NOTE = st.one_of(TEXT, PLAIN, st.lists(st.one_of(PLAIN, TEXT), max_size=4).map("".join))
HEADER = st.one_of(st.sampled_from(["id", "title", "name", "price", "rating", "reviews", "brand", "category",
                                    "description", "url", "sales", "月销量", "sku", ""]), TEXT)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check(path: Path, limits=LOAD_LIMITS) -> LoadResult | None:
    """Load ``path``: a DiffscanError is an answer; anything else fails. A result is consistent."""
    try:
        result = load_catalog(path, limits=limits)
    except DiffscanError as exc:
        assert str(exc).strip() and "\n" not in str(exc), repr(exc)
        return None
    listings, report = result.listings, result.report
    assert list(listings.columns) == [*CANONICAL_FIELDS, "extra"]
    assert report.rows_used == len(listings) > 0
    assert report.rows_read == report.rows_used + len(report.skipped)
    assert listings["listing_id"].is_unique and (listings["title"] != "").all()
    assert all(isinstance(json.loads(e), dict) for e in listings["extra"])
    return result


def same_as_chunked(path: Path, whole: LoadResult, chunk_rows: int) -> None:
    """Chunks collected equal the whole-file load whenever the first chunk maps the same columns."""
    chunks = iter_catalog(path, chunk_rows=chunk_rows)
    frames = list(chunks)
    if chunks.report.column_mapping != whole.report.column_mapping:
        return  # a JSON Lines key first seen after the first chunk is mapped by the whole-file load only
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole.listings)
    assert chunks.report.to_dict() == whole.report.to_dict()


# ---------------------------------------------------------------------------------------------
# Random bytes
# ---------------------------------------------------------------------------------------------

PREFIXES = st.sampled_from([b"", b"", b"PK\x03\x04", b"PAR1", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\xff\xfe",
                            b"\xef\xbb\xbf", b"[", b"{", b"title\n", b"id,title\n1,", b"\x89PNG\r\n\x1a\n"])
SUFFIXES = st.sampled_from([".csv", ".tsv", ".json", ".jsonl", ".xlsx", ".parquet", ".dat", ".csv.gz", ".txt"])


@fuzz(850)
@given(prefix=PREFIXES, body=st.binary(max_size=3000), suffix=SUFFIXES, compress=st.booleans(), limits=LIMITS)
def test_random_bytes_load_or_raise_a_diffscan_error(folder, prefix, body, suffix, compress, limits):
    data = prefix + body
    if compress:
        data = gzip.compress(data)
    path = folder / f"bytes{suffix}"
    path.write_bytes(data)
    check(path, limits)


# ---------------------------------------------------------------------------------------------
# Random delimited text
# ---------------------------------------------------------------------------------------------


@fuzz(400)
@given(header=st.lists(HEADER, min_size=1, max_size=6), rows=st.lists(st.lists(CELL, max_size=7), max_size=12),
       delimiter=st.sampled_from([",", "\t", ";", "|"]), quoting=st.sampled_from(["csv", "raw"]),
       suffix=st.sampled_from([".csv", ".tsv", ".txt", ".dat"]), encoding=st.sampled_from(["utf-8", "utf-16", "gbk"]),
       limits=LIMITS)
def test_random_delimited_files_load_or_raise_a_diffscan_error(folder, header, rows, delimiter, quoting, suffix,
                                                               encoding, limits):
    buffer = io.StringIO()
    if quoting == "csv":
        csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows([header, *rows])
    else:
        buffer.write("\n".join(delimiter.join(r) for r in [header, *rows]) + "\n")
    path = folder / f"table{suffix}"
    path.write_bytes(buffer.getvalue().encode(encoding, errors="replace"))
    check(path, limits)


TITLE = st.one_of(TEXT, st.lists(st.one_of(PLAIN, TEXT), max_size=5).map("".join))


@fuzz(250)
@given(rows=st.lists(st.tuples(TITLE, NOTE), min_size=1, max_size=20), nul_at=st.integers(-1, 19),
       delimiter=st.sampled_from([",", "\t", ";"]),
       dialect=st.sampled_from([(csv.QUOTE_MINIMAL, "\r\n"), (csv.QUOTE_ALL, "\n"), (csv.QUOTE_ALL, "\r\n")]),
       chunk_rows=st.integers(6, 15))
def test_well_formed_csv_keeps_every_title(folder, rows, nul_at, delimiter, dialect, chunk_rows):
    titles = [t[:5] + "\x00" + t[5:] if i == nul_at else t for i, (t, _) in enumerate(rows)]
    buffer = io.StringIO()
    # csv quotes a lone "\r" only when it ends lines: with "\n" endings every field is quoted
    writer = csv.writer(buffer, delimiter=delimiter, quoting=dialect[0], lineterminator=dialect[1])
    writer.writerow(["id", "title", "note"])
    writer.writerows([f"L{i}", title, note] for i, (title, (_, note)) in enumerate(zip(titles, rows)))
    path = folder / ("titles.tsv" if delimiter == "\t" else "titles.csv")
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    expected = [clean_text(title.replace("\x00", "")) for title in titles]
    if not any(expected):
        with pytest.raises(CatalogError, match=r"no usable listings: .* \(empty title: "):
            load_catalog(path)
        return
    result = load_catalog(path)  # well-formed: never an error while a title survives cleaning
    loaded = dict(zip(result.listings["listing_id"], result.listings["title"]))
    skipped = {s.listing_id: s.reason for s in result.report.skipped}
    warned = {(w.row, w.message) for w in result.report.warnings if w.column == "title"}
    for i, (title, clean) in enumerate(zip(titles, expected)):
        if clean:
            assert loaded[f"L{i}"] == clean[:MAX_TITLE_CHARS], (title, loaded[f"L{i}"])
        else:
            assert skipped[f"L{i}"] == "empty title"
        if "\x00" in title and clean:
            assert (i + 2, "NUL characters removed from title") in warned
    assert result.report.rows_read == len(rows)
    same_as_chunked(path, result, chunk_rows)


# ---------------------------------------------------------------------------------------------
# Random JSON and JSON Lines
# ---------------------------------------------------------------------------------------------

SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(), CELL)
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(CELL, inner, max_size=3),
                     max_leaves=12)
KEY = st.one_of(st.sampled_from(["id", "title", "name", "price", "reviews", "brand", "categories", "sales", "url"]),
                CELL)
RECORD = st.dictionaries(KEY, VALUE, max_size=6)
RECORDS = st.lists(st.one_of(RECORD, RECORD, VALUE), max_size=8)


@fuzz(250)
@given(document=st.one_of(RECORDS, st.dictionaries(st.sampled_from(["products", "items", "data", "x"]), RECORDS,
                                                   max_size=2), VALUE),
       ascii_only=st.booleans(), limits=LIMITS)
def test_random_json_loads_or_raises_a_diffscan_error(folder, document, ascii_only, limits):
    path = folder / "doc.json"
    path.write_text(json.dumps(document, ensure_ascii=ascii_only), encoding="utf-8")
    check(path, limits)


@fuzz(250)
@given(lines=st.lists(st.one_of(RECORD.map(json.dumps), VALUE.map(json.dumps), CELL), max_size=10),
       chunk_rows=st.integers(1, 4), limits=LIMITS)
def test_random_json_lines_load_or_raise_and_chunk_alike(folder, lines, chunk_rows, limits):
    path = folder / "lines.jsonl"
    path.write_text("\n".join(line.replace("\n", " ") for line in lines) + "\n", encoding="utf-8")
    result = check(path, limits)
    if result is not None and limits is LOAD_LIMITS:
        same_as_chunked(path, result, chunk_rows)
