"""Catalog text is data in every output: pictures (no math, TeX or markup), CSV (no formulas), Markdown."""

from __future__ import annotations

import csv
import dataclasses
import json
import html
import io
import warnings

import matplotlib
import pandas as pd
import pytest
from matplotlib.text import Text

from diffscan.analyses.landscape import analyze_landscape
from diffscan.analyses.projection import landscape_map
from diffscan.present.export import md_text, safe_cell, to_csv
from diffscan.present.figures import map_figure, plotly_text, saturation_bars, write_map

HOSTILE = [
    "Deals $\\frac{ > Under $5",  # broke matplotlib's math parser
    "$10-$20",                    # drawn as math
    "[/bold] Mugs",               # rich markup
    "<script>alert(1)</script>",
    "Mugs ☕🔥",
    "厨房 > 水杯",
    "_Sale",                      # matplotlib hides legend labels starting with "_"
    "=HYPERLINK(1)",
]


@pytest.fixture(scope="module")
def hostile_map(demo_index):
    """The demo landscape with its top categories and map colours renamed to hostile text."""
    land = analyze_landscape(demo_index)
    frame = landscape_map(demo_index, land).copy()
    categories = land.categories.copy()
    top = categories.index[: len(HOSTILE)]
    categories.loc[top, "category"] = HOSTILE[: len(top)]
    land = dataclasses.replace(land, categories=categories)
    colours = [c for c in frame["colour"].value_counts().index if c != "other"][: len(HOSTILE)]
    for colour, name in zip(colours, HOSTILE):
        part = frame["colour"] == colour
        frame.loc[part, "colour"] = name
        frame.loc[part, "category"] = name
        frame.loc[part, "title"] = name + " title"
    return land, frame


def _texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_text()]


def test_png_map_draws_hostile_text_literally(hostile_map, tmp_path):
    land, frame = hostile_map
    path = write_map(frame, land, tmp_path / "map.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = map_figure(frame, land)
    with warnings.catch_warnings():  # no CJK glyphs in the default font
        warnings.simplefilter("ignore", UserWarning)
        fig.canvas.draw()  # the draw that crashed on `$\frac{`
    texts = _texts(fig)
    for name in HOSTILE:
        shown = [t for t in texts if t.get_text() == name]
        assert len(shown) >= 2, name  # a bar label and a legend entry, each verbatim
    catalog = [t for t in texts if "$" in t.get_text() or t.get_text() in HOSTILE]
    assert catalog and all(not t.get_parse_math() and not t.get_usetex() for t in catalog)
    for t in fig.axes[1].get_yticklabels():
        assert not t.get_parse_math()


def test_png_map_ignores_a_tex_matplotlibrc(hostile_map, tmp_path):
    land, frame = hostile_map
    with matplotlib.rc_context({"text.usetex": True}):  # would need LaTeX and choke on `$\frac{`
        path = write_map(frame, land, tmp_path / "map.png")
    assert path.stat().st_size > 20_000


def test_html_map_escapes_markup_and_dollars(hostile_map, tmp_path):
    land, frame = hostile_map
    text = write_map(frame, land, tmp_path / "map.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in text
    assert "&#36;10-&#36;20" in text and "$10-$20" not in text
    for word in ("厨房", "☕"):  # raw UTF-8 with orjson installed, \uXXXX escapes with the json module
        assert word in text or json.dumps(word)[1:-1] in text


def test_plotly_labels_read_back_as_the_catalog_text(hostile_map):
    land, _ = hostile_map
    labels = list(saturation_bars(land).data[0].y)
    for name in HOSTILE:
        assert plotly_text(name) in labels
        assert html.unescape(plotly_text(name)) == name
    assert not any("$" in label or "<" in label for label in labels)


# --- CSV: formula look-alikes ---------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["＝", "＋", "－", "＠", "﹦", "﹢", "﹣", "﹫", "⁺", "₌", "\u2212"])
def test_safe_cell_neutralizes_look_alike_formula_starts(start):
    assert safe_cell(f"{start}SUM(A1:A9)") == f"'{start}SUM(A1:A9)"


@pytest.mark.parametrize("value", [" =1", "  +1", "\u00a0-1", "\u3000＝1", " @cmd", "\u200b=1", "\ufeff=1", "\n=1"])
def test_safe_cell_neutralizes_formulas_after_blanks(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["\tx", "\rx", " \tx", "\t", "\r\n"])
def test_safe_cell_neutralizes_tab_and_cr_starts(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["5% off", "a=b", "x－y", "  plain", " ", "℡ 24h", "½ price", "中文＝好"])
def test_safe_cell_keeps_look_alikes_inside_text(value):
    assert safe_cell(value) == value


def test_to_csv_neutralizes_look_alikes_and_headers():
    text = to_csv(pd.DataFrame({"=extra": ["＝cmd", " =cmd", "\t=cmd", "ok"]}))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["'=extra"]
    assert [r[0] for r in rows[1:]] == ["'＝cmd", "' =cmd", "'\t=cmd", "ok"]


# --- Markdown -----------------------------------------------------------------------------------------


def test_md_text_escapes_math_and_strikethrough():
    assert md_text("$10-$20 ~~sale~~") == "\\$10-\\$20 \\~\\~sale\\~\\~"
    assert md_text("<script>[x](y)") == "&lt;script>\\[x\\](y)"
