"""Saturation maps: the projection as data, and the HTML (offline, escaped) and PNG exports."""

from __future__ import annotations

import io

import numpy as np
import pytest

from diffscan.analyses.landscape import analyze_landscape
from diffscan.analyses.projection import ProjectionParams, landscape_map, project, saturation_chart
from diffscan.errors import QueryError
from diffscan.present.figures import write_map

MAP_COLUMNS = ["x", "y", "listing_id", "title", "category", "cluster_id", "cluster_label", "crowding"]


@pytest.fixture(scope="module")
def demo_map(demo_index):
    land = analyze_landscape(demo_index)
    return land, landscape_map(demo_index, land)


def test_map_frame_has_one_point_per_listing(demo_index, demo_map):
    _land, frame = demo_map
    assert list(frame.columns[: len(MAP_COLUMNS)]) == MAP_COLUMNS
    assert frame["listing_id"].tolist() == demo_index.listings["listing_id"].tolist()
    assert np.isfinite(frame[["x", "y"]].to_numpy()).all()
    assert frame["crowding"].between(0, 100).all()
    assert frame["colour"].nunique() <= 21


def test_map_keeps_crowded_listings_together(demo_map):
    _, frame = demo_map
    bottles = frame[frame["category"].str.endswith("Water Bottles")][["x", "y"]].to_numpy()
    spread_inside = np.linalg.norm(bottles - bottles.mean(0), axis=1).mean()
    spread_all = np.linalg.norm(frame[["x", "y"]].to_numpy() - frame[["x", "y"]].to_numpy().mean(0), axis=1).mean()
    assert spread_inside < 0.6 * spread_all


def test_map_colour_by_cluster_and_unknown(demo_index, demo_map):
    land, _ = demo_map
    by_cluster = landscape_map(demo_index, land, color_by="cluster")
    assert by_cluster["colour"].iloc[0].startswith(by_cluster["cluster_id"].iloc[0]) or by_cluster["colour"].iloc[0] == "other"
    with pytest.raises(QueryError, match="colouring"):
        landscape_map(demo_index, land, color_by="brand")


def test_html_map_works_offline_and_escapes_titles(demo_map, tmp_path):
    land, frame = demo_map
    frame = frame.copy()
    frame.loc[0, "title"] = "</script><script>alert(1)</script>"
    path = write_map(frame, land, tmp_path / "map.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "Plotly.newPlot" in text
    assert "cdn.plot.ly" not in text.split("<body>")[0] and 'src="https://' not in text  # plotly.js is inlined
    assert "<script>alert(1)</script>" not in text
    assert "saturation = 100 x" in text


def test_png_map(demo_map, tmp_path):
    land, frame = demo_map
    path = write_map(frame, land, tmp_path / "map.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_write_map_rejects_other_formats(demo_map, tmp_path):
    land, frame = demo_map
    with pytest.raises(QueryError, match=".html"):
        write_map(frame, land, tmp_path / "map.pdf")
    with pytest.raises(QueryError, match="does not exist"):
        write_map(frame, land, tmp_path / "missing" / "map.png")


def test_saturation_chart_lists_top_categories(demo_map):
    land, _ = demo_map
    chart = saturation_chart(land, top=5)
    assert len(chart) == 5 and chart["rank"].tolist() == [5, 4, 3, 2, 1]  # bottom-up for a horizontal bar chart


def test_projection_of_tiny_and_sampled_sets():
    assert project(np.eye(3, dtype=np.float32)).shape == (3, 2)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    xy = project(x, params=ProjectionParams(sample=150))
    assert xy.shape == (400, 2) and np.isfinite(xy).all()


# --- Chinese text in PNG pictures ----------------------------------------------------------------------


def _chinese(frame):
    frame = frame.copy()
    frame["colour"] = np.where(np.arange(len(frame)) % 2 == 0, "美妆 > 面膜 补水保湿", "美妆 > 精华")
    return frame


def test_png_map_draws_chinese_with_an_installed_cjk_font(demo_map, tmp_path):
    import warnings

    from diffscan.present import figures

    if figures.cjk_font() is None:
        pytest.skip("no font with Chinese glyphs is installed (Debian: apt-get install fonts-noto-cjk)")
    land, frame = demo_map
    frame = _chinese(frame)
    assert write_map(frame, land, tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"
    assert figures.font_note(frame, land) == ""
    fig = figures.map_figure(frame, land)  # the figure write_map saves (it hides matplotlib's glyph warnings)
    assert all(figures.cjk_font() in t.get_fontfamily() for t in fig.axes[0].get_legend().get_texts())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    assert not [w for w in caught if "missing from" in str(w.message)]  # every Chinese glyph found


def test_png_map_without_a_cjk_font_says_so_once(demo_map, tmp_path, monkeypatch):
    import warnings

    from diffscan.present import figures

    monkeypatch.setattr(figures, "cjk_font", lambda: None)  # as on a system without Chinese fonts
    land, frame = demo_map
    frame = _chinese(frame)
    note = figures.font_note(frame, land)
    assert "Chinese" in note and "fonts-noto-cjk" in note and "\n" not in note  # one sentence
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_map(frame, land, tmp_path / "map.png")  # still written, boxes and all
    assert (tmp_path / "map.png").exists()
    assert not [w for w in caught if "missing from" in str(w.message)]  # the note, not one warning per glyph
    fig = figures.map_figure(frame, land)
    assert not any(t.get_fontfamily()[-1:] == [None] for t in fig.axes[0].get_legend().get_texts())
    assert figures.font_note(*demo_map[::-1]) == ""  # English text needs no note


def test_cjk_font_finds_fonts_by_their_glyphs(monkeypatch):
    from diffscan.present import figures

    assert not figures._covers_cjk("/nonexistent/font.ttf")
    found = figures.cjk_font()
    if found is None:
        pytest.skip("no font with Chinese glyphs is installed")
    from matplotlib import font_manager

    path = font_manager.findfont(font_manager.FontProperties(family=found), fallback_to_default=False)
    assert figures._covers_cjk(path)


# --- maps that answer "where is it crowded" ------------------------------------------------------------


def test_distinct_colours_are_told_apart_and_never_the_crowded_red():
    from diffscan.present import figures

    for n in (3, 20, 40):
        colours = figures.distinct_colours(n)
        assert len(set(colours)) == n
        lab = figures._lab(np.array([figures._rgb(c) for c in colours]))
        gaps = np.linalg.norm(lab[:, None] - lab[None], axis=2)[np.triu_indices(n, 1)]
        assert gaps.min() > (30 if n <= 20 else 15)  # CIELAB distance: 10+ is a plainly different colour
        red = figures._lab(np.array([figures._rgb(figures.CROWDED_RED)]))
        assert np.linalg.norm(lab - red, axis=1).min() > 25
        assert figures.CROWDED_RED not in colours and figures.OTHER_GREY not in colours


def _legend(fig):
    """(full group name, colour) of every named trace of a plotly map."""
    return [(t.legendgroup, t.marker.color) for t in fig.data if t.legendgroup != "other"]


def test_map_names_every_crowded_category_each_in_its_own_colour(demo_map):
    from diffscan.present import figures

    land, frame = demo_map
    fig = figures.map_scatter(frame)
    legend = _legend(fig)
    names = [n for n, _ in legend]
    colours = [c for _, c in legend]
    assert len(set(colours)) == len(colours) and figures.CROWDED_RED not in colours
    crowded = land.categories.loc[land.categories["crowded"], "category"].tolist()
    assert crowded and names[: len(crowded)] == [figures.plotly_text(c) for c in crowded]  # first in the legend
    chart = saturation_chart(land)
    assert {figures.plotly_text(c) for c in chart.loc[chart["crowded"], "category"]} <= set(names)
    # the PNG's legend names the same groups
    png = figures.map_figure(frame, land)
    labels = [t.get_text() for t in png.axes[0].get_legend().get_texts()]
    assert all(any(lab.startswith(figures.short_category(c, 45)) and "crowded" in lab for lab in labels) for c in crowded)


def test_every_crowded_category_is_named_even_past_the_colour_budget(demo_index, demo_map):
    from diffscan.analyses.projection import named_categories

    land, _ = demo_map
    tight = ProjectionParams(max_colours=1)
    crowded = land.categories.loc[land.categories["crowded"], "category"].tolist()
    assert len(crowded) > 1 and named_categories(land, tight) == crowded
    frame = landscape_map(demo_index, land, params=tight, xy=np.zeros((len(demo_index), 2)))
    assert set(frame["colour"]) - {"other"} == set(crowded)


def test_hover_says_why_a_point_is_crowded(demo_map):
    from diffscan.present import figures

    land, frame = demo_map
    bottles = frame[frame["category"].str.endswith("Water Bottles") & (frame["look_alikes"] > 1)].iloc[0]
    assert bottles["crowded"] and 0 < bottles["cluster_share"] <= 1
    hover = [h for t in figures.map_scatter(frame).data for h in t.hovertext]
    text = next(h for h in hover if f"id {bottles['listing_id']}" in h)
    assert f"{bottles['look_alikes']} look-alike listings" in text and "of the category" in text
    assert "category crowded" in text
    why = figures.why_crowded(frame.assign(look_alikes=1, cluster_share=np.nan, crowded=False, verdict="too few listings to judge"))
    assert why[0].startswith("1 look-alike listing;") and "an offer of its own kind" in why[0] and "too few listings" in why[0]


def test_labels_keep_whole_levels():
    from diffscan.present.figures import short_category

    path = "Arts & Crafts > Children's Craft Kits > Bead Art & Jewellery-Making"
    assert short_category(path, 80) == path
    assert short_category(path, 45) == "… > Bead Art & Jewellery-Making"
    assert short_category(path, 60) == "… > Children's Craft Kits > Bead Art & Jewellery-Making"
    assert short_category("A leaf that is far too long to fit", 12) == "A leaf that…"
    for width in (20, 30, 45, 50):
        cut = short_category(path, width)
        assert len(cut) <= width and (path.endswith(cut.removeprefix("… ")) or cut.endswith("…"))


def test_toys_map_names_every_crowded_category():
    """On the toys index (skipped where absent): every crowded category of the table has its own colour."""
    import os
    from pathlib import Path

    from diffscan.index.store import load_index
    from diffscan.present import figures

    path = Path(os.environ.get("DIFFSCAN_TOYS_INDEX", Path(__file__).resolve().parents[2] / "bench/out/niches/toys/full"))
    if not (path / "manifest.json").is_file():
        pytest.skip(f"no toys index at {path} (build it with python -m bench.niches, or set DIFFSCAN_TOYS_INDEX)")
    index = load_index(path)
    land = analyze_landscape(index)
    frame = landscape_map(index, land, xy=np.zeros((len(index), 2)))  # colours and legend need no projection
    legend = _legend(figures.map_scatter(frame))
    crowded = land.categories.loc[land.categories["crowded"], "category"]
    assert {figures.plotly_text(c) for c in crowded} <= {n for n, _ in legend}
    assert len({c for _, c in legend}) == len(legend) > 10


def test_search_greys_the_rest_and_keeps_the_colours(demo_map):
    from diffscan.analyses.projection import search_mask
    from diffscan.present import figures

    _land, frame = demo_map
    mask = search_mask(frame, "Yoga MAT")
    assert mask.any() and not mask.all()
    assert frame.loc[mask, "title"].str.lower().str.contains("yoga").all()
    assert frame.loc[mask, "title"].str.lower().str.contains("mat").all()
    assert search_mask(frame, "  ").all() and search_mask(frame, frame["listing_id"].iloc[3])[3]
    whole = {t.legendgroup: t.marker.color for t in figures.map_scatter(frame).data}
    found = figures.map_scatter(frame, highlight=mask)
    grey = found.data[0]
    assert grey.name == figures.NOT_MATCHING and len(grey.x) == (~mask).sum() and grey.marker.color == figures.OTHER_GREY
    assert sum(len(t.x) for t in found.data[1:]) == mask.sum()
    assert all(whole[t.legendgroup] == t.marker.color for t in found.data[1:])  # the same colour as without a search
