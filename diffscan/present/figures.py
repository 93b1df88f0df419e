"""Pictures of a landscape: the saturation map and chart as offline HTML (plotly) or PNG (matplotlib).

Catalog text is data in every picture: never markup, math or TeX. PNG pictures draw Chinese with a
CJK-capable font found on the system (`cjk_font`), as matplotlib's fallback after its usual font; where
none is installed, `font_note` says so in one sentence. HTML maps are drawn by the browser and its fonts.
"""

from __future__ import annotations

import html
import os
import re
import warnings
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from diffscan.analyses.projection import OTHER, saturation_chart
from diffscan.errors import QueryError

if TYPE_CHECKING:
    from diffscan.analyses.landscape import Landscape


# Families known to cover Chinese, preferred in this order (Simplified Chinese forms first); any other
# installed font with Chinese glyphs is used when none of these is.
CJK_FONT_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans CJK TC",
    "Noto Sans CJK JP", "Source Han Sans", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback",
    "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB", "Heiti SC", "Arial Unicode MS",
    "AR PL UMing CN", "AR PL UKai CN", "Noto Serif CJK SC",
)
_CJK_TEXT = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_PROBE = "中文"  # glyphs a font must have to draw Chinese


def _covers_cjk(path: str) -> bool:
    from matplotlib import ft2font

    try:
        font = ft2font.FT2Font(path)
        return all(font.get_char_index(ord(ch)) for ch in _PROBE)
    except (OSError, RuntimeError, ValueError):
        return False


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed font that draws Chinese, or None.

    Fonts matplotlib already knows come first (the known families in `CJK_FONT_FAMILIES` order, then
    any other with the glyphs); then system fonts installed after matplotlib built its font cache,
    which are registered with it. Remembered for the process: installed fonts do not change under it.
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    known = {}
    for entry in manager.ttflist:
        known.setdefault(entry.name, entry.fname)
    for family in CJK_FONT_FAMILIES:
        if family in known and _covers_cjk(known[family]):
            return family
    for family, fname in sorted(known.items()):
        if _covers_cjk(fname):
            return family
    seen = {entry.fname for entry in manager.ttflist}
    for fname in sorted(set(font_manager.findSystemFonts()) - seen):
        if _covers_cjk(fname):
            manager.addfont(fname)
            return font_manager.FontProperties(fname=fname).get_name()
    return None


CROWDED_RED, ROOM_BLUE, OTHER_GREY = "#d62728", "#1f77b4", "#c8c8c8"  # the chart's crowded / not crowded, "other"


def _lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB 0..255 rows to CIELAB (D65), where distances follow what eyes tell apart."""
    c = np.asarray(rgb, dtype=float) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = c @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.column_stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])])


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


@lru_cache(maxsize=8)
def distinct_colours(n: int) -> tuple[str, ...]:
    """`n` colours as far apart as eyes can tell (greedy max-min distance in CIELAB, as Glasbey et al.
    2007 build categorical palettes), none near the crowded red, the "other" grey or the white page, and
    neither too dark nor too pale to see on white."""
    levels = np.linspace(0, 255, 16)
    rgb = np.array(np.meshgrid(levels, levels, levels, indexing="ij")).reshape(3, -1).T
    lab = _lab(rgb)
    keep = (lab[:, 0] > 25) & (lab[:, 0] < 85)
    rgb, lab = rgb[keep], lab[keep]
    avoid = _lab(np.array([_rgb(CROWDED_RED), _rgb(OTHER_GREY), (255, 255, 255)]))
    far = np.min(np.linalg.norm(lab[:, None, :] - avoid[None], axis=2), axis=1)
    chosen = []
    for _ in range(n):
        i = int(np.argmax(far))
        chosen.append("#{:02x}{:02x}{:02x}".format(*(int(round(v)) for v in rgb[i])))
        far = np.minimum(far, np.linalg.norm(lab - lab[i], axis=1))
    return tuple(chosen)


def colour_map(frame: pd.DataFrame) -> dict[str, str]:
    """The colour of every group a map names (`colour` column, in legend order); "other" is grey."""
    order = [c for c in order_colours(frame) if c != OTHER]
    out = dict(zip(order, distinct_colours(len(order))))
    out[OTHER] = OTHER_GREY
    return out


def why_crowded(frame: pd.DataFrame) -> list[str]:
    """Per point, in words: its near-duplicate group, its cluster's share of the category, the category's verdict."""
    from diffscan.analyses.landscape import TOO_FEW
    from diffscan.core.text import plural

    out = []
    for look, share, crowded, verdict, score in zip(
            frame["look_alikes"], frame["cluster_share"], frame["crowded"], frame["verdict"], frame["saturation_score"]):
        twins = plural(int(look), "look-alike listing") if look else "no look-alike listing"
        kind = "an offer of its own kind" if share != share else f"its kind of offer is {share:.0%} of the category"
        if crowded:
            category = f"category crowded (saturation {score:.1f})"
        elif verdict == TOO_FEW:
            category = f"category: {TOO_FEW}"
        else:
            category = f"category saturation {score:.1f}"
        out.append(f"{twins}; {kind}; {category}")
    return out


def legend_name(group: str, crowded: bool, width: int = 60) -> str:
    """A legend entry: the group shortened by whole levels, marked when its category is crowded."""
    return short_category(group, width) + (" · crowded" if crowded else "")


def _catalog_text(frame: pd.DataFrame, landscape: Landscape) -> list[str]:
    """The catalog text a PNG shows: colour groups (legend) and the chart's categories."""
    return [str(c) for c in frame["colour"].unique()] + [str(c) for c in saturation_chart(landscape)["category"]]


def font_note(map_frame: pd.DataFrame, landscape: Landscape) -> str:
    """One sentence for the CLI and the app when a PNG map will draw Chinese as empty boxes, else ""."""
    if not any(_CJK_TEXT.search(t) for t in _catalog_text(map_frame, landscape)) or cjk_font():
        return ""
    return ("No font with Chinese characters is installed, so the PNG map shows them as empty boxes: "
            "install one (e.g. fonts-noto-cjk) or write the map as .html.")


def _font_rc() -> dict:
    """rcParams that add the CJK font as a fallback family after the usual ones (matplotlib >= 3.6)."""
    import matplotlib

    family = cjk_font()
    current = list(matplotlib.rcParams["font.family"])
    return {"font.family": current + [family]} if family and family not in current else {}


def write_map(map_frame: pd.DataFrame, landscape: Landscape, path: str | os.PathLike) -> Path:
    """Write the map and the saturation chart: `.html` (interactive, works offline) or `.png`.

    A PNG with Chinese text and no font to draw it still gets written; `font_note` says why it shows boxes.
    """
    path = _picture_path(path, "map")
    if path.suffix.lower() == ".png":
        _write_png(map_frame, landscape, path)
    else:
        _write_html(map_frame, landscape, path)
    return path


def _picture_path(path: str | os.PathLike, what: str) -> Path:
    """The path of a picture to write: a .html, .htm or .png file in a folder that exists, else one sentence."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm", ".png"):
        raise QueryError(f"Cannot write a {what} to '{path}': name a .html (interactive) or .png file.")
    if not path.parent.exists():
        raise QueryError(f"Cannot write the {what} to '{path}': the folder '{path.parent}' does not exist.")
    return path


def order_colours(frame: pd.DataFrame) -> list[str]:
    """Colour groups in legend order, 'other' last: by category, crowded first then most saturated (the
    saturation table's order); by cluster, biggest first."""
    named = frame[frame["colour"] != OTHER]
    by_category = (named["colour"] == named["category"]).all()
    if by_category and len(named) and "saturation_score" in named:
        groups = named.groupby("colour").agg(crowded=("crowded", "first"), score=("saturation_score", "first"),
                                             n=("colour", "size"))
        order = groups.sort_values(["crowded", "score", "n"], ascending=[False, False, False]).index.tolist()
    else:
        order = named["colour"].value_counts().index.tolist()
    return order + ([OTHER] if (frame["colour"] == OTHER).any() else [])


def plotly_text(text: str) -> str:
    """Catalog text as plotly shows it literally: plotly reads labels as HTML-like markup (escaped here)
    and a label between `$` signs as LaTeX when MathJax is on the page (`$` as an entity it decodes)."""
    return html.escape(text).replace("$", "&#36;")


def saturation_bars(landscape: Landscape, *, in_page: bool = True):
    """Horizontal bars of the most saturated categories (red: crowded), for the app (`in_page`: no title,
    tight margins) and the HTML export. Catalog text goes through `plotly_text`."""
    import plotly.graph_objects as go

    chart = saturation_chart(landscape)
    bars = go.Figure(go.Bar(
        x=chart["saturation_score"], y=[plotly_text(short_category(c, 60)) for c in chart["category"]],
        orientation="h", marker_color=[CROWDED_RED if c else ROOM_BLUE for c in chart["crowded"]],
        hovertext=[f"{plotly_text(c)}<br>score {s:.1f} · {n:,} listings · rank {r}"
                   for c, s, n, r in zip(chart["category"], chart["saturation_score"], chart["listings"], chart["rank"])],
        hoverinfo="text",
    ))
    if in_page:
        bars.update_layout(height=max(320, 22 * len(chart) + 80), margin={"l": 0, "r": 0, "t": 10, "b": 0},
                           xaxis={"range": [0, 100], "title": "saturation score (0-100); red = crowded"})
    else:
        bars.update_layout(title="Saturation score by category (red = crowded)", height=max(400, 22 * len(chart) + 120),
                           xaxis={"range": [0, 100], "title": "saturation score (0-100)"}, template="plotly_white",
                           margin={"l": 320})
    return bars


NOT_MATCHING = "not matching the search"


def map_scatter(frame: pd.DataFrame, *, colour_column: str = "colour", in_page: bool = False,
                highlight: np.ndarray | None = None):
    """The plotly map: one point per listing, a trace per named group in legend order (`colour_map`), or
    one trace on a sequential scale when `colour_column` is numeric ("crowding"); bigger = more crowded.
    Hover says the title, category, cluster and why the point is crowded (`why_crowded`); catalog text
    goes through `plotly_text`. `highlight` (a mask, `projection.search_mask`) keeps its points in colour
    and draws the rest grey underneath, still there to see where the matches sit."""
    import plotly.graph_objects as go

    scatter = go.Figure()
    numeric = pd.api.types.is_numeric_dtype(frame[colour_column])
    # colours and legend order of the whole map: a search must not repaint the groups it keeps
    colours, groups = ({}, []) if numeric else (colour_map(frame), order_colours(frame))
    if highlight is not None and not highlight.all():
        rest = frame[~highlight]
        scatter.add_trace(go.Scattergl(
            x=rest["x"], y=rest["y"], mode="markers", name=NOT_MATCHING, legendgroup=NOT_MATCHING,
            marker={"size": 4, "color": OTHER_GREY, "opacity": 0.25, "line": {"width": 0}}, hoverinfo="skip"))
        frame = frame[highlight]
    size = 4 + 8 * np.clip((frame["crowding"].to_numpy() - 40) / 55, 0, 1)
    why = np.array(why_crowded(frame), dtype=object)
    hover = np.array([
        f"<b>{plotly_text(t[:90])}</b><br>{plotly_text(c)}<br>cluster: {plotly_text(str(lab))}<br>"
        f"crowding {cr:.0f}: {w}<br>id {plotly_text(str(i))}"
        for t, c, lab, cr, w, i in zip(frame["title"], frame["category"], frame["cluster_label"], frame["crowding"], why,
                                       frame["listing_id"])
    ], dtype=object)
    if numeric:
        scatter.add_trace(go.Scattergl(
            x=frame["x"], y=frame["y"], mode="markers", name=colour_column, hovertext=hover, hoverinfo="text",
            customdata=frame["listing_id"].astype(str).to_numpy(),
            marker={"size": size, "color": frame[colour_column], "colorscale": "YlOrRd", "showscale": True,
                    "colorbar": {"title": colour_column}, "opacity": 0.8, "line": {"width": 0}}))
    else:
        crowded = frame.groupby("colour")["crowded"].first() if "crowded" in frame else {}
        for group in groups:
            part = (frame["colour"] == group).to_numpy()
            if not part.any():
                continue
            sub = frame[part]
            scatter.add_trace(go.Scattergl(
                x=sub["x"], y=sub["y"], mode="markers", legendgroup=plotly_text(str(group)),
                customdata=sub["listing_id"].astype(str).to_numpy(),  # a selection on the map names its listings
                name=plotly_text(group if group == OTHER else legend_name(str(group), bool(crowded.get(group, False)))),
                marker={"size": size[part], "color": colours[group], "opacity": 0.45 if group == OTHER else 0.8,
                        "line": {"width": 0}},
                hovertext=hover[part], hoverinfo="text",
            ))
    layout = {"xaxis": {"visible": False}, "yaxis": {"visible": False}, "legend": {"font": {"size": 10}, "itemsizing": "constant"}}
    if in_page:
        scatter.update_layout(height=640, margin={"l": 0, "r": 0, "t": 10, "b": 0}, **layout)
    else:
        scatter.update_layout(title="Saturation map: listings by similarity (t-SNE); bigger = more crowded",
                              height=750, template="plotly_white", **layout)
    return scatter


def _figures(frame: pd.DataFrame, landscape: Landscape):
    """The plotly scatter map and bar chart."""
    return map_scatter(frame), saturation_bars(landscape, in_page=False)


def _write_html(frame: pd.DataFrame, landscape: Landscape, path: Path) -> None:
    """One self-contained page (plotly.js inlined: it must open with no network)."""
    from diffscan.analyses.landscape import SATURATION_FORMULA

    scatter, bars = _figures(frame, landscape)
    body = (
        scatter.to_html(full_html=False, include_plotlyjs=True)
        + bars.to_html(full_html=False, include_plotlyjs=False)
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>diffscan saturation map</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5em}} pre{{background:#f6f6f6;padding:1em}}</style></head>
<body><h1>Where is the market crowded?</h1>
<p>{len(frame):,} listings in {len(landscape.categories):,} categories (level {landscape.level}). {html.escape(landscape.note)}</p>
{body}
<h2>How the saturation score is computed</h2><pre>{html.escape(SATURATION_FORMULA)}</pre>
</body></html>
"""
    _atomic_write(path, page.encode("utf-8"))


_NO_TEX = {"text.usetex": False}


def _save_png(make_figure, path: Path) -> None:
    """Draw `make_figure()` to PNG in memory (catalog text as text: TeX off, the CJK font as fallback) and
    write it atomically: a failed draw leaves no file."""
    import io

    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({**_NO_TEX, **_font_rc()}), warnings.catch_warnings():  # ticks made at draw time read rcParams too
        # A glyph no font has (an emoji; Chinese with no CJK font) is drawn as a box, not an error:
        # `font_note` says it once for Chinese instead of matplotlib warning once per glyph.
        warnings.simplefilter("ignore", UserWarning)
        make_figure().savefig(buffer, format="png")
    _atomic_write(path, buffer.getvalue())


def _write_png(frame: pd.DataFrame, landscape: Landscape, path: Path) -> None:
    """The picture of `map_figure`."""
    _save_png(lambda: map_figure(frame, landscape), path)


def map_figure(frame: pd.DataFrame, landscape: Landscape):
    """The PNG's two panels as a matplotlib Figure: the map (left) and the saturation chart (right).

    Catalog text is data: every Text gets `parse_math=False` (a category `$10-$20` is not math, and
    `$\\frac{` would crash the draw) and TeX is off whatever the user's matplotlibrc says. Chinese is drawn
    with `cjk_font` where one is installed.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    plain = {"parse_math": False}
    with matplotlib.rc_context({**_NO_TEX, **_font_rc()}):  # Text objects read usetex and fonts when created
        fig = Figure(figsize=(18, 9), dpi=110, layout="constrained")
        FigureCanvasAgg(fig)
        ax_map, ax_bar = fig.subplots(1, 2, width_ratios=[1.4, 1])
        colours = colour_map(frame)
        crowded = frame.groupby("colour")["crowded"].first() if "crowded" in frame else {}
        handles, names = [], []
        for colour in reversed(order_colours(frame)):  # "other" first, underneath
            sub = frame[frame["colour"] == colour]
            size = 3 + 25 * np.clip((sub["crowding"].to_numpy() - 40) / 55, 0, 1)
            other = colour == OTHER
            handles.append(ax_map.scatter(sub["x"], sub["y"], s=size, alpha=0.35 if other else 0.7, linewidths=0,
                                          color=colours[colour]))
            names.append(str(colour) if other else legend_name(str(colour), bool(crowded.get(colour, False)), 45))
        ax_map.set_title("Saturation map: listings by similarity (t-SNE); bigger = more crowded", **plain)
        ax_map.set_xticks([])
        ax_map.set_yticks([])
        # Handles passed explicitly: matplotlib would drop a label starting with "_" (a category "_Sale").
        legend = ax_map.legend(handles[::-1], names[::-1], fontsize=7, markerscale=2, loc="upper left",
                               bbox_to_anchor=(0, -0.01), ncol=3, frameon=False)
        for text in legend.get_texts():  # legend() takes no Text properties for its labels
            text.set_parse_math(False)
        chart = saturation_chart(landscape)
        ax_bar.barh(range(len(chart)), chart["saturation_score"],
                    color=[CROWDED_RED if c else ROOM_BLUE for c in chart["crowded"]])
        ax_bar.set_yticks(range(len(chart)), [short_category(c, 50) for c in chart["category"]], fontsize=7, **plain)
        ax_bar.set_xlim(0, 100)
        ax_bar.set_xlabel("saturation score (0-100); red = crowded", **plain)
        ax_bar.set_title("Most saturated categories", **plain)
    return fig


def short_category(text: str, width: int) -> str:
    """A long category path cut to its most specific whole levels ("… > Craft Kits > Bead Art"), a
    leaf too long by itself cut at its end: labels never start in the middle of a word."""
    if len(text) <= width:
        return text
    levels = text.split(" > ")
    kept = levels[-1]
    for level in reversed(levels[:-1]):
        if len(level) + len(kept) + 5 > width:
            break
        kept = f"{level} > {kept}"
    if len(levels) > 1 and len(kept) + 4 <= width:
        return f"… > {kept}"
    return kept if len(kept) <= width else kept[: width - 1].rstrip() + "…"




def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# ---- changes between snapshots ------------------------------------------------------------------------

RISING, FALLING = "#d62728", "#2ca02c"  # saturation up (more crowded) / down (room opening)


def change_chart(comparison, top: int = 20) -> pd.DataFrame:
    """The categories of both snapshots with the largest saturation change, largest rise on top."""
    c = comparison.categories
    both = c[(c["status"] == "both") & (c["saturation_change"].abs() > 0)]  # an unchanged category says nothing
    chosen = both.reindex(both["saturation_change"].abs().sort_values(ascending=False).index).head(top)
    return chosen.sort_values("saturation_change", ascending=False).reset_index(drop=True)


def saturation_change_bars(comparison, *, top: int = 20, in_page: bool = True):
    """Horizontal bars of saturation change per category (red: more crowded, green: less), for the app
    and the HTML export. Catalog text goes through `plotly_text`."""
    import plotly.graph_objects as go

    chart = change_chart(comparison, top).iloc[::-1]  # plotly draws the first bar at the bottom
    bars = go.Figure(go.Bar(
        x=chart["saturation_change"], y=[plotly_text(short_category(c, 60)) for c in chart["category"]], orientation="h",
        marker_color=[RISING if v > 0 else FALLING for v in chart["saturation_change"]],
        hovertext=[f"{plotly_text(r.category)}<br>saturation {r.saturation_score_then:.1f} → {r.saturation_score_now:.1f}"
                   f"<br>listings {r.listings_then:,} → {r.listings_now:,} · {r.entrants:,} entrants · {r.leavers:,} left"
                   for r in chart.itertuples()],
        hoverinfo="text",
    ))
    title = "saturation change (points); red = more crowded, green = room opening"
    bars.update_layout(height=max(320, 22 * len(chart) + 100), template="plotly_white", xaxis={"title": title},
                       margin={"l": 0, "r": 0, "t": 10, "b": 0} if in_page else {"l": 320},
                       title=None if in_page else "Saturation change by category")
    return bars


def trend_figure(series, *, top: int = 10):
    """One line per category (the `top` most saturated in the last snapshot): saturation over snapshots."""
    import plotly.graph_objects as go

    trend = series.trend
    last = trend[trend["order"] == trend["order"].max()].nlargest(top, "saturation_score")["category"]
    fig = go.Figure()
    for category in last:
        part = trend[trend["category"] == category].sort_values("order")
        fig.add_trace(go.Scatter(x=[plotly_text(series.snapshots[o]) for o in part["order"]], y=part["saturation_score"],
                                 mode="lines+markers", name=plotly_text(short_category(str(category), 50))))
    fig.update_layout(title="Saturation over the snapshots", yaxis={"title": "saturation score (0-100)"},
                      template="plotly_white", height=480)
    return fig


def write_change_chart(comparison, path: str | os.PathLike, *, series=None) -> Path:
    """Write the saturation change chart (and, given a `series`, the trend): `.html` (offline) or `.png`."""
    path = _picture_path(path, "chart")
    if path.suffix.lower() == ".png":
        _write_change_png(comparison, series, path)
        return path
    body = saturation_change_bars(comparison, in_page=False).to_html(full_html=False, include_plotlyjs=True)
    if series is not None:
        body += trend_figure(series).to_html(full_html=False, include_plotlyjs=False)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>diffscan changes</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5em}}</style></head>
<body><h1>What changed: {html.escape(comparison.old_path)} → {html.escape(comparison.new_path)}</h1>
<p>{html.escape(comparison.note)}</p>
{body}
</body></html>
"""
    _atomic_write(path, page.encode("utf-8"))
    return path


def change_figure(comparison, series=None, *, top: int = 20):
    """The PNG: saturation change per category, and the trend beside it given a `series` (matplotlib,
    catalog text drawn as text: no math, no TeX)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    plain = {"parse_math": False}
    chart = change_chart(comparison, top)
    with matplotlib.rc_context({**_NO_TEX, **_font_rc()}):
        fig = Figure(figsize=(16 if series is not None else 10, max(4, 0.3 * len(chart) + 1.5)), dpi=110,
                     layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2 if series is not None else 1, squeeze=False)[0]
        ax = axes[0]
        ax.barh(range(len(chart)), chart["saturation_change"],
                color=[RISING if v > 0 else FALLING for v in chart["saturation_change"]])
        ax.set_yticks(range(len(chart)), [short_category(c, 50) for c in chart["category"]], fontsize=7, **plain)
        ax.invert_yaxis()  # the largest rise on top
        ax.axvline(0, color="#888888", linewidth=0.8)
        ax.set_xlabel("saturation change (points); red = more crowded, green = room opening", **plain)
        ax.set_title("Saturation change by category", **plain)
        if series is not None:
            trend = series.trend
            last = trend[trend["order"] == trend["order"].max()].nlargest(10, "saturation_score")["category"]
            lines, names = [], []
            for category in last:
                part = trend[trend["category"] == category].sort_values("order")
                lines += axes[1].plot(part["order"], part["saturation_score"], marker="o")
                names.append(short_category(str(category), 40))
            axes[1].set_xticks(range(len(series.snapshots)), [short_category(Path(s).name, 20) for s in series.snapshots],
                               fontsize=8, **plain)
            axes[1].set_ylabel("saturation score (0-100)", **plain)
            axes[1].set_title("Saturation over the snapshots", **plain)
            legend = axes[1].legend(lines, names, fontsize=7, frameon=False)  # explicit: a "_Sale" label stays
            for text in legend.get_texts():
                text.set_parse_math(False)
    return fig


def _write_change_png(comparison, series, path: Path) -> None:
    """The picture of `change_figure`."""
    _save_png(lambda: change_figure(comparison, series), path)
