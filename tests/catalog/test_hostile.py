"""Hostile catalog files: each is one sentence (a LimitError naming the limit) or a counted skip/warning,
read within bounded memory. The files are generated here, small; bombs are built cheaply (one
compressed block repeated) and most tests lower `LoadLimits` to stay fast."""

from __future__ import annotations

import dataclasses
import gzip
import json
import tracemalloc
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from bench.hostile import cell, xlsx
from diffscan.catalog.chunks import iter_catalog
from diffscan.catalog.limits import LOAD_LIMITS, LoadLimits, parse_limits
from diffscan.catalog.readers import read_table
from diffscan.catalog.table import load_catalog
from diffscan.catalog.values import MAX_COUNT, parse_count, parse_price, read_count, read_price
from diffscan.errors import CatalogError, LimitError

# ---------------------------------------------------------------------------------------------
# Hand-made files
# ---------------------------------------------------------------------------------------------



def listing_rows(n: int, filler: str = "") -> list[str]:
    """A header (title, description) and ``n`` listing rows as sheet XML."""
    rows = [f'<row r="1">{cell("A1", "title")}{cell("B1", "description")}</row>']
    rows += [f'<row r="{i}">{cell(f"A{i}", f"mug {i}")}{cell(f"B{i}", filler)}</row>' for i in range(2, n + 2)]
    return rows


def gzip_repeated(path: Path, head: bytes, block: bytes, times: int) -> Path:
    """A .gz whose members are ``head`` then ``block`` ``times`` times: gigabytes out of a few KB, made at
    once (one block compressed, its member repeated)."""
    member = gzip.compress(block, compresslevel=9)
    with open(path, "wb") as f:
        f.write(gzip.compress(head))
        for _ in range(times):
            f.write(member)
    return path


def small(**changes) -> LoadLimits:
    return dataclasses.replace(LOAD_LIMITS, **changes)


def assert_names_limit(error: LimitError, name: str) -> None:
    """The one-sentence form every limit error shares: the field, its default and the parameter."""
    message = str(error)
    assert error.limit == name and error.parameter == "limits"
    assert f"({name} in the load limits, default " in message and f"raise {name}." in message
    assert "\n" not in message and message.count("; ") == 1


# ---------------------------------------------------------------------------------------------
# XLSX: zip bombs, far cells, declared dimensions
# ---------------------------------------------------------------------------------------------


def test_a_sheet_xml_bomb_is_refused_before_unpacking_at_default_limits(tmp_path):
    path = xlsx(tmp_path / "bomb.xlsx", listing_rows(5_000, "lorem ipsum " * 400))  # ~25 MB of XML
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(LimitError) as info:
            load_catalog(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_names_limit(info.value, "max_compression_ratio")
    assert "xl/worksheets/sheet1.xml" in str(info.value)
    assert peak < 50 * 2**20


def test_xlsx_members_over_max_bytes_are_refused_by_their_declared_size(tmp_path):
    path = xlsx(tmp_path / "big.xlsx", listing_rows(200, "x" * 100))
    with pytest.raises(LimitError) as info:
        load_catalog(path, limits=small(max_bytes=10_000))
    assert_names_limit(info.value, "max_bytes")
    assert "10,000 bytes" in str(info.value)


def test_one_cell_at_xfd1048576_is_refused_from_the_declared_dimension(tmp_path):
    rows = [f'<row r="1">{cell("A1", "title")}</row>', f'<row r="2">{cell("A2", "ceramic mug")}</row>',
            f'<row r="1048576">{cell("XFD1048576", "x")}</row>']
    path = xlsx(tmp_path / "far.xlsx", rows, ref="A1:XFD1048576")
    assert path.stat().st_size < 5_000
    with pytest.raises(LimitError) as info:
        load_catalog(path)
    assert_names_limit(info.value, "max_columns")
    assert "A1:XFD1048576" in str(info.value) and "16,384 columns" in str(info.value)


def test_a_far_cell_behind_a_false_dimension_is_found_while_reading(tmp_path):
    rows = [f'<row r="1">{cell("A1", "title")}</row>', f'<row r="2">{cell("A2", "ceramic mug")}</row>',
            f'<row r="1048576">{cell("XFD1048576", "x")}</row>']
    path = xlsx(tmp_path / "lying.xlsx", rows, ref="A1:A2")
    with pytest.raises(LimitError) as info:
        load_catalog(path)
    assert_names_limit(info.value, "max_columns")
    assert "row 1,048,576" in str(info.value)


def test_the_declared_sheet_size_is_held_to_max_sheet_cells(tmp_path):
    path = xlsx(tmp_path / "tall.xlsx", listing_rows(3), ref="A1:Z1048576")
    with pytest.raises(LimitError) as info:
        load_catalog(path, limits=small(max_sheet_cells=1_000_000))
    assert_names_limit(info.value, "max_sheet_cells")
    assert len(load_catalog(path).listings) == 3  # within the defaults the real extent is read


def test_xlsx_rows_over_max_rows(tmp_path):
    path = xlsx(tmp_path / "rows.xlsx", listing_rows(30))
    with pytest.raises(LimitError) as info:
        load_catalog(path, limits=small(max_rows=20))
    assert_names_limit(info.value, "max_rows")


# ---------------------------------------------------------------------------------------------
# Compressed text
# ---------------------------------------------------------------------------------------------


def test_a_csv_gz_past_max_bytes_stops_while_streaming(tmp_path):
    rows = b"M1,ceramic mug," + b"x" * 200 + b"\n"
    path = gzip_repeated(tmp_path / "bomb.csv.gz", b"id,title,description\n", rows * 4_000, 40)  # 35 MB unpacked
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(LimitError) as info:
            load_catalog(path, limits=small(max_bytes=8 * 2**20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_names_limit(info.value, "max_bytes")
    assert "once decompressed" in str(info.value) and "8 MiB" in str(info.value)
    assert peak < 64 * 2**20


def test_gigabytes_of_gzipped_zeros_are_refused_as_binary_at_once(tmp_path):
    path = gzip_repeated(tmp_path / "zeros.csv.gz", b"", bytes(1 << 20), 3_000)  # 3 GB of NULs
    with pytest.raises(CatalogError, match="looks like a binary file, not a CSV"):
        load_catalog(path)


def test_a_truncated_gzip_is_one_sentence(tmp_path):
    data = gzip.compress(b"title\n" + b"mug\n" * 50_000)
    (path := tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CatalogError, match="could not decompress .*truncated or corrupt"):
        load_catalog(path)


def test_rows_and_columns_over_the_limits_in_text_formats(tmp_path):
    (csv := tmp_path / "rows.csv").write_text("title\n" + "mug\n" * 50)
    with pytest.raises(LimitError) as info:
        load_catalog(csv, limits=small(max_rows=49))
    assert_names_limit(info.value, "max_rows")
    assert len(load_catalog(csv, limits=small(max_rows=50)).listings) == 50
    (wide := tmp_path / "wide.csv").write_text(",".join(["title", *(f"c{i}" for i in range(30))]) + "\n" + "mug\n")
    with pytest.raises(LimitError) as info:
        load_catalog(wide, limits=small(max_columns=20))
    assert_names_limit(info.value, "max_columns")
    lines = [json.dumps({"title": f"mug {i}", f"k{i}": "v"}) for i in range(30)]
    (keys := tmp_path / "keys.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(LimitError, match="max_columns"):
        load_catalog(keys, limits=small(max_columns=20))
    (items := tmp_path / "items.json").write_text(json.dumps([{"title": f"mug {i}"} for i in range(30)]))
    with pytest.raises(LimitError, match="max_rows"):
        load_catalog(items, limits=small(max_rows=10))


def test_parquet_metadata_is_checked_before_rows_are_read(tmp_path):
    pd.DataFrame({"title": [f"mug {i}" for i in range(100)], "x": range(100)}).to_parquet(path := tmp_path / "c.parquet")
    with pytest.raises(LimitError, match="max_rows"):
        load_catalog(path, limits=small(max_rows=99))
    with pytest.raises(LimitError, match="max_columns"):
        load_catalog(path, limits=small(max_columns=1))
    with pytest.raises(LimitError, match="max_bytes"):
        load_catalog(path, limits=small(max_bytes=100))


def test_a_cell_over_max_cell_chars_is_cut_with_a_warning(tmp_path):
    (path := tmp_path / "long.csv").write_text("title,brand,notes\nmug,acme," + "n" * 5_000 + "\n")
    result = load_catalog(path, limits=small(max_cell_chars=1_000))
    assert len(json.loads(result.listings["extra"][0])["notes"]) == 1_000
    assert [(w.row, w.column, w.kind) for w in result.report.warnings] == [(2, "notes", "notes cut to 1,000 characters")]
    assert "max_cell_chars" in result.report.warnings[0].message


def test_load_limits_are_frozen_and_validated():
    with pytest.raises(dataclasses.FrozenInstanceError):
        LOAD_LIMITS.max_rows = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="max_rows"):
        LoadLimits(max_rows=0)


def test_limits_are_set_by_name_with_units():
    limits = parse_limits(["max_rows=10M", "bytes=4GiB", "json-depth=50", "max_compression_ratio=2.5"])
    assert (limits.max_rows, limits.max_bytes, limits.max_json_depth) == (10_000_000, 4 * 2**30, 50)
    assert limits.max_compression_ratio == 2.5 and limits.max_columns == LOAD_LIMITS.max_columns
    assert parse_limits([]) == LOAD_LIMITS


@pytest.mark.parametrize("setting, message", [
    ("rows", "Unknown load limit 'rows'"),
    ("max_colour=3", "Unknown load limit"),
    ("max_rows=lots", "is not a number"),
    ("max_rows=5TB", "is not a number"),
    ("max_rows=0", "must be at least 1"),
])
def test_a_bad_limit_setting_is_one_sentence(setting, message):
    with pytest.raises(CatalogError, match=message) as caught:
        parse_limits([setting])
    assert caught.value.parameter == "limits"


# ---------------------------------------------------------------------------------------------
# JSON nesting
# ---------------------------------------------------------------------------------------------


def test_json_nested_100000_deep_is_one_sentence(tmp_path):
    (path := tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(LimitError) as info:
        load_catalog(path)
    assert_names_limit(info.value, "max_json_depth")
    (unknown := tmp_path / "deep.dat").write_text("{" + '"a":{' * 100_000 + "}" * 100_001)
    with pytest.raises(CatalogError):
        load_catalog(unknown)


def test_one_deep_json_lines_line_is_a_counted_skip(tmp_path):
    good = [json.dumps({"id": f"M{i}", "title": f"ceramic mug {i}"}) for i in range(3)]
    deep = '{"id": "X", "title": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (path := tmp_path / "deep.jsonl").write_text("\n".join([good[0], deep, *good[1:]]) + "\n")
    result = load_catalog(path)
    assert result.listings["listing_id"].tolist() == ["M0", "M1", "M2"]
    assert [(s.row, s.reason) for s in result.report.skipped] == [(2, "nested deeper than 100 levels")]


def test_max_json_depth_counts_objects_and_arrays(tmp_path):
    records = [{"id": "ok", "title": "mug", "a": {"b": [1]}},       # 3 levels
               {"id": "deep", "title": "cup", "a": {"b": [[1]]}},   # 4 levels
               {"id": "obj", "title": "pan", "a": {"b": {"c": {"d": 1}}}}]
    (lines := tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    (array := tmp_path / "d.json").write_text(json.dumps(records))
    for path in (lines, array):
        result = load_catalog(path, limits=small(max_json_depth=3))
        assert result.listings["listing_id"].tolist() == ["ok"]
        assert [(s.row, s.reason) for s in result.report.skipped] == [
            (2, "nested deeper than 3 levels"), (3, "nested deeper than 3 levels")]


# ---------------------------------------------------------------------------------------------
# NUL bytes: one rule wherever they are
# ---------------------------------------------------------------------------------------------


def nul_csv(tmp_path: Path) -> Path:
    """A NUL byte in row 3 (within the first 64 KB) and another far past it."""
    rows = [b"id,title"] + [f"M{i},ceramic mug {i}".encode() for i in range(5000)]
    rows[2] = rows[2] + b"\x00"
    rows[4000] = rows[4000].replace(b"mug", b"m\x00ug")
    (path := tmp_path / "nul.csv").write_bytes(b"\n".join(rows) + b"\n")
    return path


def test_nul_bytes_early_and_late_are_removed_with_a_warning_each(tmp_path):
    result = load_catalog(nul_csv(tmp_path))
    titles = result.listings.set_index("listing_id")["title"]
    assert (titles["M1"], titles["M3999"]) == ("ceramic mug 1", "ceramic mug 3999")
    assert [(w.row, w.column, w.message) for w in result.report.warnings] == [
        (3, "title", "NUL characters removed from title"), (4001, "title", "NUL characters removed from title")]
    assert not result.report.skipped and result.report.rows_used == 5000


def test_nul_rule_is_the_same_in_every_format_and_in_chunks(tmp_path):
    rows = [{"id": "A", "title": "Mu\x00g", "colour": "re\x00d"}, {"id": "B", "title": "Cup", "colour": "blue"}]
    frame = pd.DataFrame(rows)
    frame.to_parquet(parquet := tmp_path / "n.parquet")
    (lines := tmp_path / "n.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (raw_nul := tmp_path / "raw.json").write_text('[{"id": "A", "title": "Mu\x00g", "colour": "re\x00d"},'
                                                  ' {"id": "B", "title": "Cup", "colour": "blue"}]')
    (tsv := tmp_path / "n.tsv").write_text("id\ttitle\tcolour\nA\tMu\x00g\tre\x00d\nB\tCup\tblue\n")
    for path in (parquet, lines, raw_nul, tsv):
        for result in (load_catalog(path), _collected(path, chunk_rows=1)):
            assert result.listings["title"].tolist() == ["Mug", "Cup"], path
            assert json.loads(result.listings["extra"][0]) == {"colour": "red"}
            assert result.report.warnings_by_kind() == {
                "NUL characters removed from title": 1, "NUL characters removed from colour": 1}


def _collected(path: Path, **options):
    chunks = iter_catalog(path, **options)
    frames = list(chunks)
    return type("Loaded", (), {"listings": pd.concat(frames, ignore_index=True), "report": chunks.report})


def test_binary_files_are_still_refused(tmp_path):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"
    (path := tmp_path / "pic.csv").write_bytes(png)
    with pytest.raises(CatalogError, match=r"looks like a binary file, not a CSV \(it starts like a PNG image\)"):
        load_catalog(path)
    (path := tmp_path / "blob.jsonl").write_bytes(bytes(range(256)) * 64)
    with pytest.raises(CatalogError, match="looks like a binary file, not a JSON Lines file"):
        load_catalog(path)


# ---------------------------------------------------------------------------------------------
# XLSX formulas without saved values
# ---------------------------------------------------------------------------------------------


def formula_workbook(path: Path, title_formula_rows=(), price_formula_rows=(), n: int = 5) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "title", "price"])
    for i in range(n):
        title = f'=CONCATENATE("ceramic mug ", {i})' if i in title_formula_rows else f"ceramic mug {i}"
        sheet.append([f"M{i}", title, f"={i}+5" if i in price_formula_rows else 3.5])
    book.save(path)  # openpyxl writes formulas without saved values, as generated workbooks do
    return path


def test_formulas_without_saved_values_are_reported_per_column(tmp_path):
    path = formula_workbook(tmp_path / "f.xlsx", title_formula_rows={2}, price_formula_rows={1, 3})
    result = load_catalog(path)
    assert result.listings["listing_id"].tolist() == ["M0", "M1", "M3", "M4"]
    assert result.report.skipped_by_reason() == {"title is a formula without a saved value": 1}
    assert result.report.warnings_by_kind() == {"price is a formula without a saved value": 2}
    assert [w.row for w in result.report.warnings] == [3, 5]
    streamed = _collected(path, chunk_rows=2)
    pd.testing.assert_frame_equal(streamed.listings, result.listings)
    assert streamed.report.to_dict() == result.report.to_dict()


def test_a_workbook_of_formula_titles_says_to_save_it_with_values(tmp_path):
    path = formula_workbook(tmp_path / "f.xlsx", title_formula_rows=range(5), price_formula_rows=range(5))
    with pytest.raises(CatalogError, match=r"no usable listings: 5 rows skipped \(title is a formula without a "
                                           r"saved value: 5\); open the workbook in Excel or LibreOffice and save it"):
        load_catalog(path)


def test_formulas_with_saved_values_are_plain_values(tmp_path):
    rows = [f'<row r="1">{cell("A1", "title")}{cell("B1", "price")}{cell("C1", "note")}</row>',
            '<row r="2"><c r="A2" t="str"><f>"mug"&amp;" one"</f><v>mug one</v></c><c r="B2"><f>2*3</f><v>6</v></c>'
            '<c r="C2" t="str"><f>IF(B2&gt;9,"big","")</f><v></v></c></row>']
    result = load_catalog(xlsx(tmp_path / "cached.xlsx", rows))
    assert (result.listings["title"][0], result.listings["price"][0]) == ("mug one", 6.0)
    assert not result.report.warnings and not result.report.skipped


# ---------------------------------------------------------------------------------------------
# Numbers with rules
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "problem"),
    [
        ("1e9", 1e9, None),
        ("1.5E6", 1.5e6, None),
        ("1e23", None, "is above 10,000,000,000"),
        ("1" + "0" * 400, None, "is above 10,000,000,000"),
        ("12 34", None, "not a number"),
        ("1 234", 1234.0, None),
        ("1\u202f234\u202f567", 1_234_567.0, None),
        ("1\u2009234 reviews", 1234.0, None),
        ("1\xa0234", 1234.0, None),
        ("1'234", 1234.0, None),
        ("1,234", 1234.0, None),
        ("1.234", 1234.0, None),
        ("12.5", None, "is not a whole number"),
        ("1e-3", None, "is not a whole number"),
        ("1.2k", 1200.0, None),
        ("2.5万", 25000.0, None),
        ("1万+", 10000.0, "is a lower bound"),  # kept, noted once per column
        ("3,000+ bought", 3000.0, "is a lower bound"),
        ("-3", None, "is negative"),
        (str(MAX_COUNT), float(MAX_COUNT), None),
    ],
)
def test_counts_are_whole_non_negative_and_capped(value, expected, problem):
    assert read_count(value) == (expected, problem)
    assert parse_count(value) == expected


@pytest.mark.parametrize(
    ("value", "expected", "problem"),
    [
        ("12 34", None, "not a number"),
        ("1 299.00", 1299.0, None),
        ("1\u202f299,50", 1299.5, None),
        ("¥12.5", 12.5, None),
        ("$1,299.00", 1299.0, None),
        ("1.234,56", 1234.56, None),
        ("-5", None, "is negative"),
        ("9" * 400, None, "not a number"),
        ("inf", None, "not a number"),
        ("nan", None, None),  # how pandas writes a missing value: absent, not a problem
    ],
)
def test_prices_are_finite_and_not_negative(value, expected, problem):
    assert read_price(value) == (expected, problem)
    assert parse_price(value) == expected


def test_odd_numbers_in_a_file_are_warnings(tmp_path):
    (path := tmp_path / "n.csv").write_text("id,title,price,review_count\nM1,mug one,12 34,1e9\n"
                                           "M2,mug two,5.00,1e23\nM3,mug three,4,-3\n")
    result = load_catalog(path)
    assert result.listings["review_count"].tolist()[:1] == [1e9]
    assert result.listings["price"].isna().tolist() == [True, False, False]
    assert result.report.warnings_by_kind() == {"price not a number": 1, "review_count is above 10,000,000,000": 1,
                                                "review_count is negative": 1}


# ---------------------------------------------------------------------------------------------
# Every entry point takes the limits
# ---------------------------------------------------------------------------------------------


def test_read_table_and_iter_catalog_share_the_limits(tmp_path):
    (path := tmp_path / "rows.csv").write_text("title\n" + "mug\n" * 50)
    with pytest.raises(LimitError, match="max_rows"):
        read_table(path, limits=small(max_rows=10))
    with pytest.raises(LimitError, match="max_rows"):
        list(iter_catalog(path, chunk_rows=7, limits=small(max_rows=10)))
