"""Pictures of a comparison: the saturation change bars and the trend, in HTML and PNG, catalog text as text."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("plotly", reason="the change charts are drawn with plotly (pip install plotly)")
pytest.importorskip("matplotlib", reason="the PNG change chart is drawn with matplotlib (pip install matplotlib)")

from diffscan.analyses.compare import Comparison, Series  # noqa: E402 - after the skips
from diffscan.errors import QueryError  # noqa: E402
from diffscan.present import figures  # noqa: E402

# Markup for plotly (<b>), rich ([bold]) and, with its two "$", math text that crashes a matplotlib draw.
HOSTILE = "Deals $\\frac{ <b>x</b> [bold] $5"


def _comparison() -> Comparison:
    cats = pd.DataFrame({
        "category": ["Toys > Cars", HOSTILE, "家居 > 水杯", "Flat", "New one"],
        "status": ["both", "both", "both", "both", "new"],
        "saturation_score_then": [40.0, 60.0, 50.0, 30.0, float("nan")],
        "saturation_score_now": [55.0, 52.0, 51.0, 30.0, 70.0],
        "listings_then": [10, 20, 30, 5, pd.NA], "listings_now": [40, 12, 31, 5, 9],
        "entrants": [30, 0, 1, 0, 9], "leavers": [0, 8, 0, 0, 0],
    })
    cats["saturation_change"] = cats["saturation_score_now"] - cats["saturation_score_then"]
    cats["listings_then"] = cats["listings_then"].astype("Int64")
    empty = pd.DataFrame()
    return Comparison(old_path="nov", new_path="dec <i>", level=2, counts={}, listings=empty, categories=cats,
                      clusters=empty, niches_opened=empty, niches_closed=empty, watchlist=empty)


def _series() -> Series:
    trend = pd.DataFrame({"snapshot": ["a", "a", "b", "b"], "order": [0, 0, 1, 1],
                          "category": ["_Sale", "家居 > 水杯", "_Sale", "家居 > 水杯"],
                          "saturation_score": [40.0, 50.0, 45.0, 48.0], "listings": [1, 2, 3, 4],
                          "distinct_offers": [1, 2, 3, 4], "crowded": [False] * 4})
    return Series(snapshots=["a", "b"], level=1, trend=trend)


def test_chart_keeps_changed_categories_of_both_snapshots_largest_rise_first():
    chart = figures.change_chart(_comparison())
    assert chart["category"].tolist() == ["Toys > Cars", "家居 > 水杯", HOSTILE]  # no "Flat" (0), no "New one"


def test_bars_colour_rises_and_falls_and_show_catalog_text_literally():
    fig = figures.saturation_change_bars(_comparison())
    bar = fig.data[0]
    assert list(bar.x) == [-8.0, 1.0, 15.0]  # plotly draws the first bar at the bottom
    assert list(bar.marker.color) == [figures.FALLING, figures.RISING, figures.RISING]
    assert bar.y[0] == figures.plotly_text(HOSTILE) and "<b>" not in bar.y[0] and "$" not in bar.y[0]
    assert "家居 &gt; 水杯" in bar.y[1]
    rise = bar.hovertext[2]  # then -> now of the score and the listings, and the entrants
    assert "40.0 → 55.0" in rise and "10 → 40" in rise and "30 entrants" in rise
    assert "<b>x</b>" not in bar.hovertext[0] and figures.plotly_text(HOSTILE) in bar.hovertext[0]


def test_top_keeps_the_largest_absolute_changes():
    chart = figures.change_chart(_comparison(), top=2)
    assert chart["category"].tolist() == ["Toys > Cars", HOSTILE]  # +15 and -8 beat +1


def test_trend_has_a_line_per_category():
    fig = figures.trend_figure(_series())
    assert sorted(t.name for t in fig.data) == sorted(figures.plotly_text(c) for c in ["_Sale", "家居 > 水杯"])
    assert list(fig.data[0].x) == ["a", "b"]


def test_html_and_png_are_written(tmp_path):
    html_path = figures.write_change_chart(_comparison(), tmp_path / "c.html", series=_series())
    page = html_path.read_text(encoding="utf-8")
    assert "dec &lt;i&gt;" in page and "<b>x</b>" not in page and "Saturation over the snapshots" in page
    png = figures.write_change_chart(_comparison(), tmp_path / "c.png", series=_series())
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    fig = figures.change_figure(_comparison(), _series())
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert HOSTILE in labels  # drawn as text: math text off, so "$\frac{ ... $" neither renders nor crashes
    assert not any(t.get_parse_math() for t in fig.axes[0].get_yticklabels())
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["家居 > 水杯", "_Sale"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.html", "c.png"]  # written atomically: no temp left


@pytest.mark.parametrize("name, message", [("c.gif", "name a .html"), ("missing/c.png", "does not exist")])
def test_bad_chart_paths_are_one_sentence(tmp_path, name, message):
    with pytest.raises(QueryError, match=message):
        figures.write_change_chart(_comparison(), tmp_path / name)
