"""catalog: every format, encoding and mapping becomes the canonical table; every unused row is reported."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from diffscan.catalog.cleaning import clean_text
from diffscan.catalog.mapping import CANONICAL_FIELDS, detect_mapping, parse_mapping
from diffscan.catalog.readers import read_table
from diffscan.catalog.report import LoadReport
from diffscan.catalog.table import load_catalog
from diffscan.catalog.values import parse_count, parse_price, parse_rating
from diffscan.errors import CatalogError, MappingError

ROWS = [
    {"sku": "00123", "title": "Red mug", "price": "$5.00", "category": "Home > Kitchen", "colour": "red"},
    {"sku": "A2", "title": "Blue mug", "price": "6", "category": "Home | Mugs", "colour": ""},
]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """Write a small catalog file (text as UTF-8) and return its path."""
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def write_format(tmp_path: Path, fmt: str, rows: list[dict]) -> Path:
    """Write ``rows`` in one of the supported formats."""
    frame = pd.DataFrame(rows)
    if fmt == "csv":
        frame.to_csv(path := tmp_path / "cat.csv", index=False)
    elif fmt == "csv.gz":
        (path := tmp_path / "cat.csv.gz").write_bytes(gzip.compress(frame.to_csv(index=False).encode()))
    elif fmt == "tsv":
        frame.to_csv(path := tmp_path / "cat.TSV", index=False, sep="\t")
    elif fmt == "json":
        (path := tmp_path / "cat.json").write_text(json.dumps(rows))
    elif fmt == "json-wrapped":
        (path := tmp_path / "cat.json").write_text(json.dumps({"count": 2, "products": rows}))
    elif fmt == "jsonl":
        (path := tmp_path / "cat.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    elif fmt == "parquet":
        frame.to_parquet(path := tmp_path / "cat.parquet")
    elif fmt == "xlsx":
        frame.to_excel(path := tmp_path / "cat.xlsx", index=False)
    elif fmt == "txt-semicolon":
        frame.to_csv(path := tmp_path / "cat.txt", index=False, sep=";")
    return path


def load_text(tmp_path: Path, text: str, name: str = "cat.csv", **kwargs):
    """Load a CSV given as text."""
    return load_catalog(write(tmp_path, name, text), **kwargs)


# ---------------------------------------------------------------------------------------------
# Formats and encodings
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "reported"),
    [
        ("csv", "csv"),
        ("csv.gz", "csv"),
        ("tsv", "tsv"),
        ("json", "json"),
        ("json-wrapped", "json"),
        ("jsonl", "jsonl"),
        ("parquet", "parquet"),
        ("xlsx", "xlsx"),
        ("txt-semicolon", "csv"),
    ],
)
def test_every_format_round_trips(tmp_path, fmt, reported):
    result = load_catalog(write_format(tmp_path, fmt, ROWS))
    listings = result.listings
    assert result.report.format == reported
    assert listings["listing_id"].tolist() == ["00123", "A2"]
    assert listings["title"].tolist() == ["Red mug", "Blue mug"]
    assert listings["price"].tolist() == [5.0, 6.0]
    assert listings["category_path"].tolist() == [["Home", "Kitchen"], ["Home", "Mugs"]]
    assert json.loads(listings["extra"][0]) == {"colour": "red"}
    assert json.loads(listings["extra"][1]) == {}
    assert result.report.rows_read == result.report.rows_used == 2
    assert not result.report.skipped and not result.report.warnings


def test_unknown_extension_with_json_lines_is_sniffed(tmp_path):
    path = write(tmp_path, "export.dat", "\n".join(json.dumps(r) for r in ROWS))
    result = load_catalog(path)
    assert result.report.format == "jsonl"
    assert result.listings["title"].tolist() == ["Red mug", "Blue mug"]


def test_json_file_holding_json_lines_is_read_as_json_lines(tmp_path):
    path = write(tmp_path, "cat.json", "\n".join(json.dumps(r) for r in ROWS))
    assert load_catalog(path).report.format == "jsonl"


def test_json_nested_values_become_dotted_columns_and_lists_become_levels(tmp_path):
    rows = [{"id": 7, "name": "Kite", "offer": {"price": 12.5}, "categories": ["Toys", "Outdoor"]}]
    path = write(tmp_path, "cat.json", json.dumps(rows))
    result = load_catalog(path, {"price": "offer.price"})
    row = result.listings.iloc[0]
    assert (row["listing_id"], row["price"], row["category_path"]) == ("7", 12.5, ["Toys", "Outdoor"])


def test_parquet_numbers_and_named_index_become_text(tmp_path):
    frame = pd.DataFrame({"id": [1, 2], "title": ["a", "b"], "price": [1.5, None], "reviews": [3.0, None]})
    frame.set_index("id").to_parquet(path := tmp_path / "cat.parquet")
    table, fmt, encoding = read_table(path)
    assert (fmt, encoding) == ("parquet", None)
    assert table.to_dict("list") == {"id": ["1", "2"], "title": ["a", "b"], "price": ["1.5", ""], "reviews": ["3", ""]}
    assert load_catalog(path).listings["listing_id"].tolist() == ["1", "2"]


def test_json_values_become_text(tmp_path):
    rows = [{"id": 123, "title": "A", "price": 15.0, "in_stock": True, "note": None}]
    table, _, _ = read_table(write(tmp_path, "cat.json", json.dumps(rows)))
    assert table.to_dict("records") == [{"id": "123", "title": "A", "price": "15", "in_stock": "true", "note": ""}]


def test_utf8_bom_is_stripped_from_first_header(tmp_path):
    result = load_text(tmp_path, "\ufefftitle,price\nMug,1\n")
    assert result.report.encoding == "utf-8-sig"
    assert result.report.column_mapping["title"] == "title"
    assert result.listings["title"][0] == "Mug"


def test_windows_1252_bytes_are_decoded(tmp_path):
    path = write(tmp_path, "cat.csv", b"id,name,price\n1,Remote Commander\xae Control,\xa310\n")
    result = load_catalog(path)
    assert result.report.encoding == "cp1252"
    assert result.listings["title"][0] == "Remote Commander® Control"
    assert result.listings["price"][0] == 10.0


def test_utf16_with_bom_is_read(tmp_path):
    path = write(tmp_path, "cat.tsv", "title\tprice\nTasse für Kaffee\t3\n".encode("utf-16"))
    result = load_catalog(path)
    assert result.report.encoding == "utf-16"
    assert result.listings["title"][0] == "Tasse für Kaffee"


def test_read_table_keeps_text_and_numbers_rows_as_a_user_sees_them(tmp_path):
    frame, fmt, encoding = read_table(write(tmp_path, "cat.csv", "id,title,price\n00123,Mug,1.50\n007,Cup,\n"))
    assert (fmt, encoding) == ("csv", "utf-8")
    assert frame.index.tolist() == [2, 3]
    assert frame.to_dict("list") == {"id": ["00123", "007"], "title": ["Mug", "Cup"], "price": ["1.50", ""]}


# ---------------------------------------------------------------------------------------------
# Whole-file errors
# ---------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(CatalogError, match="not found: .*nope.csv"):
        load_catalog(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    with pytest.raises(CatalogError, match=r"empty \(0 bytes\)"):
        load_catalog(write(tmp_path, "cat.csv", b""))


def test_header_only(tmp_path):
    with pytest.raises(CatalogError, match="has a header but no data rows"):
        load_text(tmp_path, "title,price\n")


def test_missing_title_column_names_columns_and_map_option(tmp_path):
    with pytest.raises(CatalogError) as info:
        load_text(tmp_path, "sku,cost\n1,2\n")
    message = str(info.value)
    assert "cat.csv" in message and "sku, cost" in message and "title=COLUMN" in message
    assert "--map" not in message and info.value.parameter == "mapping"


def test_binary_file(tmp_path):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"
    with pytest.raises(CatalogError, match="looks like a binary file, not a CSV"):
        load_catalog(write(tmp_path, "cat.csv", png))


def test_truncated_parquet(tmp_path):
    path = write_format(tmp_path, "parquet", ROWS)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CatalogError, match="could not read .*cat.parquet: file is truncated or not a Parquet file"):
        load_catalog(path)


def test_corrupt_xlsx(tmp_path):
    path = write_format(tmp_path, "xlsx", ROWS)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CatalogError, match="file is truncated or not an Excel .xlsx file"):
        load_catalog(path)


def test_malformed_json_names_line(tmp_path):
    path = write(tmp_path, "cat.json", '[\n {"title": "a"},\n {"title": "b",,}\n]')
    with pytest.raises(CatalogError, match="not valid JSON .*line 3"):
        load_catalog(path)


def test_json_without_a_list_of_listings(tmp_path):
    with pytest.raises(CatalogError, match="does not hold a list of listings"):
        load_catalog(write(tmp_path, "cat.json", '{"title": "a"}'))


def test_unclosed_quote_names_row(tmp_path):
    with pytest.raises(CatalogError, match=r"quote that is never closed \(starting at row 3\)"):
        load_text(tmp_path, 'title,price\nMug,1\n"Cup,2\nBowl,3\n')


def test_old_xls_is_refused_with_fix(tmp_path):
    with pytest.raises(CatalogError, match="save it as .xlsx or .csv"):
        load_catalog(write(tmp_path, "cat.XLS", b"\xd0\xcf\x11\xe0"))


def test_only_blank_rows_after_header(tmp_path):
    with pytest.raises(CatalogError, match=r"no usable listings: 1 row skipped \(blank row: 1\)"):
        load_text(tmp_path, "title,price\n,\n")


def test_all_rows_skipped(tmp_path):
    with pytest.raises(CatalogError, match=r"no usable listings: 10 rows skipped \(empty title: 10\)"):
        load_text(tmp_path, "id,title\n" + "".join(f"{i},\n" for i in range(10)))


# ---------------------------------------------------------------------------------------------
# Rows: skipped, warned, cleaned
# ---------------------------------------------------------------------------------------------


def test_huge_description_is_cut_with_warning(tmp_path):
    result = load_text(tmp_path, "title,description\nMug," + "x" * 5_000_000 + "\n")
    assert len(result.listings) == 1
    assert len(result.listings["description"][0]) == 5000
    assert [(w.row, w.column, w.message) for w in result.report.warnings] == [
        (2, "description", "description cut to 5,000 characters")
    ]


def test_long_title_is_cut_at_500(tmp_path):
    result = load_text(tmp_path, "title\n" + "t" * 600 + "\n")
    assert len(result.listings["title"][0]) == 500
    assert result.report.warnings_by_kind() == {"title cut to 500 characters": 1}


def test_html_and_emoji(tmp_path):
    result = load_text(tmp_path, 'title,description\n"<b>Bold</b> Mug &amp; Cup 🎉","<p>Line</p><p>two</p>&nbsp;"\n')
    row = result.listings.iloc[0]
    assert (row["title"], row["description"]) == ("Bold Mug & Cup 🎉", "Line two")


def test_chinese_titles(tmp_path):
    result = load_text(tmp_path, "title,brand\n不锈钢保温杯 500ml,象印\n")
    assert (result.listings["title"][0], result.listings["brand"][0]) == ("不锈钢保温杯 500ml", "象印")


def test_duplicate_ids_keep_first_and_are_counted(tmp_path):
    result = load_text(tmp_path, "id,title\n1,A\n2,B\n1,C\n1,D\n")
    assert result.listings["title"].tolist() == ["A", "B"]
    assert [(s.row, s.listing_id, s.reason) for s in result.report.skipped] == [
        (4, "1", "duplicate listing_id (first at row 2)"),
        (5, "1", "duplicate listing_id (first at row 2)"),
    ]
    assert result.report.skipped_by_reason() == {"duplicate listing_id": 2}


def test_empty_titles_and_blank_rows_are_counted(tmp_path):
    result = load_text(tmp_path, "id,title,price\n1,A,1\n2,   ,2\n,,\n3,<b></b>,3\n4,B,4\n")
    assert result.listings["listing_id"].tolist() == ["1", "4"]
    assert result.report.skipped_by_reason() == {"empty title": 2, "blank row": 1}
    assert [s.row for s in result.report.skipped] == [3, 4, 5]
    assert result.report.rows_read == 5 and result.report.rows_used == 2


def test_rows_with_too_many_fields_are_skipped_and_later_rows_keep_their_numbers(tmp_path):
    result = load_text(tmp_path, "id,title\n1,A\n2,B,oops\n3,C\n4,\n")
    assert result.listings["title"].tolist() == ["A", "C"]
    assert [(s.row, s.kind) for s in result.report.skipped] == [(3, "wrong number of fields"), (5, "empty title")]


def test_malformed_json_lines_are_skipped_by_line_number(tmp_path):
    path = write(tmp_path, "cat.jsonl", '{"title": "A"}\n\n{"title": \n{"title": "B"}\n')
    result = load_catalog(path)
    assert result.listings["title"].tolist() == ["A", "B"]
    assert [(s.row, s.kind) for s in result.report.skipped] == [(3, "malformed JSON")]


def test_missing_id_column_generates_row_ids(tmp_path):
    result = load_text(tmp_path, "title\nA\nB\n")
    assert result.listings["listing_id"].tolist() == ["row-2", "row-3"]
    assert "listing_id" not in result.report.column_mapping


def test_empty_id_is_generated_with_warning(tmp_path):
    result = load_text(tmp_path, "id,title\n,A\n")
    assert result.listings["listing_id"][0] == "row-2"
    assert result.report.warnings[0].message == "listing_id empty (generated row-2)"


def test_unparseable_values_are_nan_with_warnings_not_drops(tmp_path):
    result = load_text(tmp_path, "title,price,rating,reviews\nA,call us,9,many\nB,-3,90%,-1\nC,,,\n")
    listings = result.listings
    assert len(listings) == 3
    assert listings[["price", "rating", "review_count"]].isna().all().all()
    assert result.report.warnings_by_kind() == {
        "price not a number": 1,
        "rating out of range 0-5": 1,
        "review_count not a number": 1,
        "price is negative": 1,
        "rating is a percentage": 1,
        "review_count is negative": 1,
    }
    assert result.report.warnings[0].message == "price not a number ('call us')"


def test_warnings_on_skipped_rows_are_not_reported(tmp_path):
    result = load_text(tmp_path, "title,price\nA,1\n,junk\n")
    assert not result.report.warnings and result.report.skipped_by_reason() == {"empty title": 1}


def test_canonical_dtypes_and_order(tmp_path):
    listings = load_text(tmp_path, "title,price\nB,1\nA,\n").listings
    assert list(listings.columns) == [*CANONICAL_FIELDS, "extra"]
    for column in ("listing_id", "title", "description", "brand", "url", "extra"):
        assert pd.api.types.is_string_dtype(listings[column]), column
    for column in ("price", "rating", "review_count"):
        assert listings[column].dtype == "float64"
    assert listings["category_path"].tolist() == [[], []]
    assert listings["title"].tolist() == ["B", "A"]
    assert listings.index.tolist() == [0, 1]


def test_extra_keeps_unmapped_columns_as_strings_without_empties(tmp_path):
    result = load_text(tmp_path, 'title,colour,size,note\nA,"red, ""deep""",00XL,\n')
    assert json.loads(result.listings["extra"][0]) == {"colour": 'red, "deep"', "size": "00XL"}


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def test_summary_and_to_dict(tmp_path):
    result = load_text(tmp_path, "id,title,price\n1,A,x\n2,,1\n3,B,y\n1,C,2\n")
    report = result.report
    lines = report.summary().splitlines()
    assert lines[1] == (
        "4 rows read, 2 used, 2 skipped (empty title: 1, duplicate listing_id: 1); "
        "2 warnings (price not a number: 2)"
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data["rows_used"] == 2 and data["skipped_by_reason"] == {"empty title": 1, "duplicate listing_id": 1}
    assert data["skipped"][1] == {"row": 5, "listing_id": "1", "reason": "duplicate listing_id (first at row 2)"}


def test_summary_of_a_clean_load():
    report = LoadReport("x.csv", "csv", "utf-8", 1081, 1081, {"title": "name"})
    assert report.summary().splitlines()[1] == "1,081 rows read, 1,081 used, 0 skipped; 0 warnings"


# ---------------------------------------------------------------------------------------------
# Value parsing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$399.00", 399.0),
        ("£16.99", 16.99),
        ("€1.234,56", 1234.56),
        ("1,299.00", 1299.0),
        ("$1,999.00", 1999.0),
        ("16,99", 16.99),
        ("Rs. 220", 220.0),
        ("Rs. 220/-", 220.0),
        ("₹220", 220.0),
        ("16.99 - 19.99", 16.99),
        ("£10 to £12", 10.0),
        ("USD 5", 5.0),
        ("16.99", 16.99),
        ("0", 0.0),
        ("", None),
        ("N/A", None),
        (None, None),
        ("call for price", None),
        ("-5", None),
    ],
)
def test_parse_price(value, expected):
    assert parse_price(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4.5", 4.5),
        ("4.5 out of 5 stars", 4.5),
        ("4,5", 4.5),
        ("5.0", 5.0),
        ("0", 0.0),
        ("8/10", 4.0),
        ("", None),
        ("90%", None),
        ("7", None),
        ("-1", None),
        ("great", None),
    ],
)
def test_parse_rating(value, expected):
    assert parse_rating(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1,234", 1234.0),
        ("1.234", 1234.0),
        ("1 234 reviews", 1234.0),
        ("5 new", 5.0),
        ("5\xa0new", 5.0),
        ("15", 15.0),
        ("15.0", 15.0),
        ("1.2k", 1200.0),
        ("(87)", 87.0),
        ("", None),
        ("many", None),
        ("-3", None),
    ],
)
def test_parse_count(value, expected):
    assert parse_count(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<b>x</b>", "x"),
        ("Fish &amp; Chips", "Fish & Chips"),
        ("&lt;b&gt; literal", "<b> literal"),
        ("<ul><li>one</li><li>two</li></ul>", "one two"),
        ("a\x00b\x07c", "abc"),
        ("  spaced \t\n out  ", "spaced out"),
        ("soft\u00adhyphen\u200b", "softhyphen"),
        ("Party 🎉 time 👨‍👩‍👧", "Party 🎉 time 👨‍👩‍👧"),
        ("不锈钢保温杯 500ml", "不锈钢保温杯 500ml"),
        ("size < 5 cm", "size < 5 cm"),
        (None, ""),
        (float("nan"), ""),
    ],
)
def test_clean_text(value, expected):
    assert clean_text(value) == expected


# ---------------------------------------------------------------------------------------------
# Column mapping and category paths
# ---------------------------------------------------------------------------------------------


def test_detect_mapping_ignores_case_spaces_and_underscores():
    mapping = detect_mapping(["Product Name", "SKU", "Brand_Name", "Sale Price", "Market Price", "Stars", "Reviews", "Link"])
    assert mapping == {
        "listing_id": "SKU",
        "title": "Product Name",
        "brand": "Brand_Name",
        "price": "Sale Price",
        "rating": "Stars",
        "review_count": "Reviews",
        "url": "Link",
    }


def test_detect_mapping_prefers_named_fields_in_order():
    mapping = detect_mapping(["name", "title", "price", "sale_price", "index", "id"])
    assert (mapping["title"], mapping["price"], mapping["listing_id"]) == ("title", "price", "id")


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["product", "category", "sub_category", "brand", "type"], "category,sub_category,type"),
        (["title", "category", "type"], "category"),
        (["title", "category_2", "Category_1", "category_3"], "Category_1,category_2,category_3"),
        (["title", "level1", "level2"], "level1,level2"),
        (["title", "department", "category"], "department,category"),
        (["title", "breadcrumb", "category"], "breadcrumb"),
        (["title", "amazon_category_and_sub_category"], "amazon_category_and_sub_category"),
    ],
)
def test_detect_category_columns(columns, expected):
    assert detect_mapping(columns)["category_path"] == expected


def test_multi_column_category_levels_and_empty_levels_dropped(tmp_path):
    result = load_text(tmp_path, "product,category,sub_category,type\nA,Food,Snacks,Chips\nB,Food,,Nuts\n")
    assert result.listings["category_path"].tolist() == [["Food", "Snacks", "Chips"], ["Food", "Nuts"]]


@pytest.mark.parametrize(
    ("value", "separator", "expected"),
    [
        ("Toys > Puzzles > 3D", None, ["Toys", "Puzzles", "3D"]),
        ("Toys>Puzzles", None, ["Toys", "Puzzles"]),
        ("Toys | Puzzles", None, ["Toys", "Puzzles"]),
        ("Toys / Puzzles", None, ["Toys", "Puzzles"]),
        ("Toys » Puzzles", None, ["Toys", "Puzzles"]),
        ("Office > Pens/Pencils", None, ["Office", "Pens/Pencils"]),
        ("Pens/Pencils", None, ["Pens/Pencils"]),
        ("Office/Pens", "/", ["Office", "Pens"]),
        ("Office;Pens", ";", ["Office", "Pens"]),
        ("Toys >  > Puzzles ", None, ["Toys", "Puzzles"]),
        ("", None, []),
    ],
)
def test_category_path_splitting(tmp_path, value, separator, expected):
    frame = pd.DataFrame({"title": ["A"], "category": [value]})
    frame.to_csv(path := tmp_path / "cat.csv", index=False)
    result = load_catalog(path, category_separator=separator)
    assert result.listings["category_path"][0] == expected


def test_explicit_mapping_overrides_detection(tmp_path):
    text = "title,name,cat_a,cat_b,price,rrp\nInternal,Shown,Toys,Kites,1,2\n"
    result = load_text(tmp_path, text, mapping={"title": "name", "category": "cat_a,cat_b", "price": "rrp"})
    row = result.listings.iloc[0]
    assert (row["title"], row["category_path"], row["price"]) == ("Shown", ["Toys", "Kites"], 2.0)
    assert result.report.column_mapping["category_path"] == "cat_a,cat_b"
    assert json.loads(row["extra"]) == {"title": "Internal", "price": "1"}


def test_mapping_to_empty_or_dash_disables_a_field(tmp_path):
    result = load_text(tmp_path, "title,price,brand\nA,5,Acme\n", mapping={"price": "-", "brand": ""})
    assert math.isnan(result.listings["price"][0]) and result.listings["brand"][0] == ""
    assert json.loads(result.listings["extra"][0]) == {"price": "5", "brand": "Acme"}


def test_mapping_to_missing_column_lists_available_columns(tmp_path):
    with pytest.raises(MappingError, match=r"column 'nope' \(mapped to title\) is not in .*available columns: id, name"):
        load_text(tmp_path, "id,name\n1,A\n", mapping={"title": "nope"})


def test_mapping_with_unknown_field(tmp_path):
    with pytest.raises(MappingError, match="unknown field 'colour'"):
        load_text(tmp_path, "id,name\n1,A\n", mapping={"colour": "name"})


def test_parse_mapping():
    assert parse_mapping(["title=product_name", "category=cat1, cat2,cat3", "id=sku", "price=-"]) == {
        "title": "product_name",
        "category_path": "cat1,cat2,cat3",
        "listing_id": "sku",
        "price": "-",
    }


@pytest.mark.parametrize(("item", "message"), [("colour=x", "unknown field 'colour'"), ("title", "FIELD=COLUMN")])
def test_parse_mapping_errors(item, message):
    with pytest.raises(MappingError, match=message):
        parse_mapping([item])


# ---------------------------------------------------------------------------------------------
# Real catalogs (../shared/datasets)
# ---------------------------------------------------------------------------------------------


@pytest.mark.datasets
def test_abt_windows_1252(datasets_dir):
    result = load_catalog(datasets_dir / "abt_buy" / "abt.csv")
    listings = result.listings.set_index("listing_id")
    assert result.report.encoding == "cp1252"
    assert (result.report.rows_read, result.report.rows_used) == (1081, 1081)
    # the guessed encoding is the only warning
    assert not result.report.skipped and result.report.warnings_by_kind() == {"encoding guessed as Windows-1252": 1}
    assert "Remote Commander® Remote Control" in listings.at["9071", "description"]
    assert listings.at["580", "price"] == 399.0
    assert (listings["price"] == 1999.0).sum() == 3  # "$1,999.00"
    assert listings["price"].isna().sum() == 663  # empty in the file


@pytest.mark.datasets
def test_bigbasket_three_level_categories_and_brand(datasets_dir):
    result = load_catalog(datasets_dir / "bigbasket" / "products.csv")
    mapping = result.report.column_mapping
    assert mapping["category_path"] == "category,sub_category,type"
    assert (mapping["title"], mapping["brand"], mapping["price"]) == ("product", "brand", "sale_price")
    first = result.listings.iloc[0]
    assert first["category_path"] == ["Beauty & Hygiene", "Hair Care", "Hair Oil & Serum"]
    assert (first["brand"], first["price"], first["rating"]) == ("Sri Sri Ayurveda", 220.0, 4.1)
    assert json.loads(first["extra"]) == {"market_price": "220"}
    assert result.listings["category_path"].map(len).eq(3).all()
    assert result.report.rows_used == 19_999
    assert [(s.row, s.listing_id, s.reason) for s in result.report.skipped] == [(14365, "14364", "empty title")]


@pytest.mark.datasets
def test_amazon_uk_toys_messy_fields(datasets_dir):
    result = load_catalog(datasets_dir / "amazon_uk_toys" / "products.csv")
    listings = result.listings
    first = listings.iloc[0]
    assert (first["price"], first["rating"], first["review_count"]) == (3.42, 4.9, 15.0)
    assert first["category_path"] == ["Hobbies", "Model Trains & Railway Sets", "Rail Vehicles", "Trains"]
    assert parse_count(json.loads(first["extra"])["number_available_in_stock"]) == 5.0  # "5 new"
    assert result.report.rows_used == 10_000 and not result.report.skipped
    assert listings["category_path"].map(len).eq(0).sum() == 690
    assert listings["price"].isna().sum() == 1435 and listings["rating"].isna().sum() == 18
    assert "price not a number" not in result.report.warnings_by_kind()
    assert listings["title"].str.contains("®").any()
