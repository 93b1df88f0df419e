"""diffscan.present.export: spreadsheet-safe CSV, JSON / JSON Lines and escaped Markdown."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from diffscan.present.export import (
    md_text,
    niches_report,
    price_band_text,
    records,
    safe_cell,
    to_csv,
    to_json,
    to_jsonl,
    to_markdown,
)

# --- CSV ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_safe_cell_neutralizes_formula_starts(start):
    assert safe_cell(f"{start}SUM(A1:A9)") == f"'{start}SUM(A1:A9)"


@pytest.mark.parametrize("value", ["SUM(A1)", "a=b", "", "'quoted"])
def test_safe_cell_keeps_ordinary_text(value):
    assert safe_cell(value) == value


def test_safe_cell_keeps_numbers():
    assert safe_cell(-3) == -3
    assert safe_cell(-2.5) == -2.5
    assert safe_cell(None) is None


def _parse(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_to_csv_neutralizes_cells_flattens_lists_and_writes_the_file(tmp_path):
    frame = pd.DataFrame({
        "title": ["=HYPERLINK(\"http://x\")", "@cmd", "Plain mug"],
        "usps": [["-10% off", "gift"], ("a", "b"), []],
        "meta": [{"k": "ü"}, {}, {"n": 1}],
        "price": [-1.5, 2.0, 3.0],
    })
    target = tmp_path / "out.csv"
    text = to_csv(frame, target)
    assert target.read_text(encoding="utf-8") == text
    rows = _parse(text)
    assert [r["title"] for r in rows] == ["'=HYPERLINK(\"http://x\")", "'@cmd", "Plain mug"]
    assert rows[0]["usps"] == "'-10% off; gift"  # the joined cell starts with "-": neutralized too
    assert rows[1]["usps"] == "a; b"
    assert rows[2]["usps"] == ""
    assert json.loads(rows[0]["meta"]) == {"k": "ü"}
    assert rows[0]["price"] == "-1.5"  # numbers are not text: a negative price stays a number
    assert "\r" not in text
    # the caller's frame is not modified
    assert frame.loc[0, "title"].startswith("=")


def test_to_csv_neutralizes_a_flattened_list_that_starts_a_formula():
    text = to_csv(pd.DataFrame({"usps": [["=1+1", "b"]]}))
    assert _parse(text)[0]["usps"] == "'=1+1; b"


# --- JSON / JSON Lines -------------------------------------------------------------------------------------


def test_to_json_turns_nan_into_null_and_numpy_into_plain_values(tmp_path):
    data = {"a": float("nan"), "b": np.float32(1.5), "c": np.int64(3), "d": [np.int32(1), np.float64("nan")], "e": ("x", "ü"), 4: "k"}
    target = tmp_path / "out.json"
    text = to_json(data, target)
    assert "NaN" not in text
    assert json.loads(text) == {"a": None, "b": 1.5, "c": 3, "d": [1, None], "e": ["x", "ü"], "4": "k"}
    assert "ü" in text  # not escaped to \\u00fc
    assert target.read_text(encoding="utf-8") == text + "\n"


def test_to_jsonl_writes_one_object_per_line(tmp_path):
    target = tmp_path / "out.jsonl"
    text = to_jsonl([{"id": "A", "score": np.float64(0.5)}, {"id": "B", "score": math.nan}], target)
    lines = text.splitlines()
    assert [json.loads(line) for line in lines] == [{"id": "A", "score": 0.5}, {"id": "B", "score": None}]
    assert target.read_text(encoding="utf-8") == text
    assert to_jsonl([]) == ""


def test_records_are_jsonable_rows():
    frame = pd.DataFrame({"id": ["A", "B"], "price": [1.0, np.nan], "n": [1, 2]})
    out = records(frame)
    assert out == [{"id": "A", "price": 1.0, "n": 1}, {"id": "B", "price": None, "n": 2}]
    assert type(out[0]["n"]) is int
    json.dumps(out)  # serializable as is


# --- Markdown ------------------------------------------------------------------------------------------------


def test_md_text_escapes_markup_and_html():
    assert md_text("**bold** _x_ `code` [link](http://x) a|b #tag \\") == (
        "\\*\\*bold\\*\\* \\_x\\_ \\`code\\` \\[link\\](http://x) a\\|b \\#tag \\\\"
    )
    assert md_text("<script>alert(1)</script>") == "&lt;script>alert(1)&lt;/script>"
    assert md_text("Toys > Puzzles") == "Toys > Puzzles"  # ">" inside a line stays plain


def test_md_text_keeps_a_cell_on_one_line_and_formats_values():
    assert md_text("line one\nline two\r\nthree") == "line one line two  three"
    assert md_text(float("nan")) == ""
    assert md_text(None) == ""
    assert md_text(1234.5) == "1,234.50"
    assert md_text(["a_b", "c"]) == "a\\_b; c"
    assert md_text(7) == "7"


def test_to_markdown_writes_an_escaped_table(tmp_path):
    frame = pd.DataFrame({"title": ["Mug | 2 pack", "<b>x</b>"], "price": [3.0, np.nan]})
    target = tmp_path / "t.md"
    text = to_markdown(frame, target)
    assert target.read_text(encoding="utf-8") == text
    lines = text.splitlines()
    assert lines == [
        "| title | price |",
        "|---|---|",
        "| Mug \\| 2 pack | 3.00 |",
        "| &lt;b>x&lt;/b> |  |",
    ]


def test_price_band_is_made_of_real_prices_and_gives_quartiles_from_four():
    from diffscan.analyses.niches import price_band as band_of

    two = band_of(np.array([14.99, 16.80, np.nan]))  # the quoted case: no "15.44-16.35" between them
    assert two == {"min": 14.99, "max": 16.80, "count": 2, "low": None, "median": 14.99, "high": None}
    assert price_band_text({"price_min": 14.99, "price_max": 16.80, "price_count": 2, "price_median": 14.99,
                       "price_low": None, "price_high": None}) == "14.99–16.80 (2 prices)"
    four = band_of(np.array([4.0, 1.0, 3.0, 2.0]))
    assert (four["low"], four["median"], four["high"]) == (1.0, 2.0, 3.0) and {four["min"], four["max"]} == {1.0, 4.0}
    assert band_of(np.array([np.nan]))["median"] is None and price_band_text({"price_median": None}) == "no prices"
    assert price_band_text({"price_min": 3.0, "price_max": 3.0, "price_count": 1, "price_median": 3.0}) == "3.00 (1 price)"


def _niche(rank: int, name: str) -> dict:
    return {
        "rank": rank, "name": name, "category": "Home > Mugs", "opportunity": 72.345, "demand_label": "high",
        "demand_source": "reviews", "size": 12, "distinct_offers": 9,
        "price_min": 2.5, "price_low": 5.0, "price_median": 9.5, "price_high": 1200.0, "price_max": 1500.0,
        "price_count": 12, "components": {"demand": 0.9, "competition": 0.3, "homogenization": 0.5, "price_room": 0.25},
        "usps": [{"text": "dishwasher *safe*", "share": 0.25}],
        "neighbour": {"label": "Travel mugs", "compared": 5, "size": 20},
        "positioning": "The only mug with a <lid>",
        "top_competitors": [{"title": "Mug [best]", "brand": "Acme", "price": 9.5, "review_count": 1500,
                             "rating": 4.56}],
    }


def test_niches_report_ranks_details_and_escapes(tmp_path):
    document = {"catalog": "shop_*export*.csv", "listings": 1234, "formula": "opportunity = demand x room",
                "query": {"category": "Home", "min_size": None},
                "niches": [_niche(1, "Lidded_mugs"), _niche(2, "Big mugs")]}
    target = tmp_path / "niches.md"
    text = niches_report(document, target, detailed=1)
    assert target.read_text(encoding="utf-8") == text
    assert text.startswith("# Niches in shop\\_\\*export\\*.csv\n")
    assert "2 niches ranked by opportunity among 1,234 listings." in text
    assert "Filters: category = Home." in text and "min_size" not in text
    assert "## 1. Lidded\\_mugs — opportunity 72.3" in text
    assert "## 2." not in text  # only the `detailed` best get a section
    assert "| 2 | Big mugs |" in text  # ...but every niche is in the table
    assert "2.50–1,500.00 (middle half 5.00–1,200.00, median 9.50)" in text
    assert "dishwasher \\*safe\\* (25%)" in text
    assert "vs 'Travel mugs' (5 of its 20 listings compared)" in text
    assert "> The only mug with a &lt;lid>" in text
    assert "- Mug \\[best\\] (Acme, 9.50, 1,500 reviews, 4.6★)" in text
    assert "<lid>" not in text


def test_niches_report_of_an_empty_document():
    text = niches_report({"niches": []})
    assert text.startswith("# Niches in the catalog\n")
    assert "0 niches ranked by opportunity." in text


def test_to_json_writes_numpy_arrays_as_lists():
    assert json.loads(to_json({"d": np.array([1, 2]), "f": np.array([0.5, np.nan])})) == {"d": [1, 2], "f": [0.5, None]}
