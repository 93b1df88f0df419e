"""Saturation map page: where is the market crowded? The 2-D map, the ranked category table with crowded
flags, and a drill-down into one category's clusters and listings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from diffscan.analyses.projection import PROJECTION, search_mask
from diffscan.present import export, figures
from diffscan.ui import state
from diffscan.ui.common import Download, download_buttons, formula, guarded, plain

# What the user colours by -> (landscape_map's color_by, the column that colours the points).
COLOUR_BY = {"category": ("category", "colour"), "cluster": ("cluster", "colour"), "crowding": ("category", "crowding")}
TABLE_KEY, DRILL_KEY, CLUSTER_KEY = "saturation_table", "drill_category", "drill_cluster"
SAMPLE_LISTINGS = 50
CATEGORY_COLUMNS = ["rank", "category", "saturation_score", "verdict", "listings", "clusters", "distinct_offers",
                    "near_duplicate_share", "mean_knn_similarity", "effective_clusters", "top_brand", "top_brand_share",
                    "median_price", "price_spread", "label_completeness"]
CLUSTER_COLUMNS = ["cluster_id", "label", "size", "keywords", "representative_title", "distinct_offers",
                   "near_duplicate_share", "mean_knn_similarity", "top_brand", "top_brand_share", "median_price",
                   "saturation_score"]


# ---------------------------------------------------------------------------------------------
# What the page shows and offers for download
# ---------------------------------------------------------------------------------------------


def categories_frame(landscape) -> pd.DataFrame:
    """The ranked category table as shown (rank 1 = most saturated)."""
    return landscape.categories[[c for c in CATEGORY_COLUMNS if c in landscape.categories.columns]]


def clusters_frame(landscape, category: str) -> pd.DataFrame:
    """One category's clusters, biggest first, as shown."""
    clusters = landscape.clusters_of(category)
    return clusters[[c for c in CLUSTER_COLUMNS if c in clusters.columns]].reset_index(drop=True)


def cluster_listings(index, landscape, cluster_id: str, limit: int = SAMPLE_LISTINGS) -> pd.DataFrame:
    """Listings of one cluster (assignments follow the index's row order), look-alikes side by side."""
    assignments = landscape.assignments
    rows = np.flatnonzero(assignments["cluster_id"].to_numpy() == cluster_id)
    listings = index.listings.iloc[rows][["listing_id", "title", "brand", "price"]].reset_index(drop=True)
    listings["near_duplicate_group"] = assignments["near_duplicate_group"].iloc[rows].to_numpy()
    listings["knn_similarity"] = assignments["knn_similarity"].iloc[rows].to_numpy()
    listings = listings.sort_values(["near_duplicate_group", "listing_id"], kind="stable").head(limit)
    return listings[["title", "brand", "price", "near_duplicate_group", "knn_similarity", "listing_id"]].reset_index(drop=True)


SELECTED_COLUMNS = ["title", "category", "cluster_label", "crowding", "look_alikes", "saturation_score", "listing_id"]


def selected_listings(points: pd.DataFrame, selection: list[dict]) -> pd.DataFrame:
    """The listings picked on the map (box, lasso or click): each selected point carries its listing id
    as `customdata` (`figures.map_scatter`); points of the grey "not matching" layer carry none."""
    ids = {str(p["customdata"]) for p in selection if p.get("customdata") is not None}
    if not ids:
        return pd.DataFrame(columns=SELECTED_COLUMNS)
    return points.loc[points["listing_id"].astype(str).isin(ids), SELECTED_COLUMNS].reset_index(drop=True)


def saturation_downloads(landscape) -> list[Download]:
    """The ranked categories and all clusters as spreadsheet-safe CSV."""
    return [
        Download("Categories CSV", lambda: export.to_csv(landscape.categories).encode("utf-8"), "categories.csv", "text/csv"),
        Download("Clusters CSV", lambda: export.to_csv(landscape.clusters).encode("utf-8"), "clusters.csv", "text/csv"),
    ]


def map_figure(points: pd.DataFrame, colour_by: str, search: str = ""):
    """The interactive scatter (`figures.map_scatter`): one point per listing, the named categories in
    distinct colours, hover saying why a point is crowded; listings matching `search` stay in colour,
    the rest turn grey."""
    highlight = search_mask(points, search) if search.strip() else None
    return figures.map_scatter(points, colour_column=COLOUR_BY[colour_by][1], in_page=True, highlight=highlight)


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------


def render() -> None:
    """The Saturation map page."""
    index, path, key = state.open_page(
        "Saturation map",
        "Where is the market crowded? Categories ranked by a 0-100 saturation score (near-duplicates, "
        "look-alike offers, crowding, alike prices, many brands, the same labels), and their clusters.")
    level = _level_picker(path, key)
    landscape = guarded(state.with_progress, f"Analyzing {len(index):,} listings (once per index)…",
                        state.landscape_of, path, key, level)
    if landscape is None:
        return
    if landscape.note:
        st.caption(f"Category level: {plain(landscape.note)} Pick another level above to compare.")
    map_slot = st.container()  # drawn last: the projection is slow the first time, the tables are not
    _categories_section(landscape)
    import os
    if "drill" not in os.environ.get("X_SKIP", ""):
        _drill_down(index, landscape)
    with map_slot:
        _map_section(path, key, level)


def _level_picker(path: str, key: str) -> int | None:
    """Which category level to analyze: automatic, 0 (clusters stand in for categories) or a depth."""
    depth = state.category_depth(path, key)
    labels = {None: "automatic", 0: "0 · no categories: clusters of the whole catalog"}
    options = [None, *range(depth + 1)]
    return st.selectbox("Category level", options, key="landscape_level",
                        format_func=lambda lv: labels.get(lv, f"{lv} of {depth}"))


def _map_section(path: str, key: str, level: int | None) -> None:
    """The 2-D map of every listing, coloured by category, cluster or crowding."""
    st.subheader("Map")
    left, right = st.columns([2, 3])
    colour_by = left.radio("Colour by", list(COLOUR_BY), horizontal=True, key="map_colour")
    search = right.text_input("Highlight listings", key="map_search", placeholder="words of a title, or a listing id",
                              help="Listings whose title has all these words stay in colour; the rest turn grey.")
    try:
        points = guarded(state.with_progress, "Projecting the listings onto a map (once per index)…",
                         state.landscape_map_of, path, key, level, COLOUR_BY[colour_by][0])
    except (ImportError, AttributeError):
        st.info("The map is not available yet in this version of diffscan (diffscan.maps is missing).")
        return
    if points is None or points.empty:
        return
    import os
    if "map" in os.environ.get("X_SKIP", ""):
        return
    if search.strip():
        found = int(search_mask(points, search).sum())
        st.caption(f"{found:,} of {len(points):,} listings match “{plain(search.strip())}”." if found else
                   f"No listing matches “{plain(search.strip())}”: every point is grey.")
    event = st.plotly_chart(_map_figure_of(path, key, level, colour_by, search.strip(), points), key="landscape_map",
                            config={"displaylogo": False}, on_select="rerun", selection_mode=("box", "lasso", "points"))
    chosen = selected_listings(points, list(getattr(getattr(event, "selection", None), "points", None) or []))
    if len(chosen):
        st.markdown(f"**{len(chosen):,} listings selected on the map**")
        st.dataframe(chosen, hide_index=True, key="map_selection",
                     column_config={"title": st.column_config.TextColumn("title", width="large"),
                                    "cluster_label": st.column_config.TextColumn("cluster"),
                                    "look_alikes": st.column_config.NumberColumn("look-alikes"),
                                    "saturation_score": st.column_config.NumberColumn("category saturation", format="%.1f"),
                                    "listing_id": st.column_config.TextColumn("listing id", width="small")})
        download_buttons([Download("Selected listings CSV", lambda: export.to_csv(chosen).encode("utf-8"),
                                   "selected-listings.csv", "text/csv")], key="map_selection")
    named = ("every crowded category and the most saturated ones" if colour_by == "category"
             else f"the {PROJECTION.max_colours} biggest clusters")
    st.caption(f"Each point is a listing; nearby points say similar things. Bigger points are more crowded. "
               f"{named.capitalize()} get a colour, the rest are grey. Hover a point to see why it is crowded: "
               "its look-alike listings and how much of its category sells the same kind of offer. Drag a box or "
               "a lasso on the map to list and download the listings inside it.")


@st.cache_resource(max_entries=6, show_spinner=False)
def _map_figure_of(path: str, key: str, level: int | None, colour_by: str, search: str, _points: pd.DataFrame):
    """`map_figure`, built once per index, level, colouring and search: a figure of 20,000 points takes a
    good part of a second, and every widget on this page reruns it (the chart only reads the figure)."""
    return map_figure(_points, colour_by, search)


def _categories_section(landscape) -> None:
    """The ranked category table; selecting a row drills into that category."""
    from diffscan.analyses.landscape import SATURATION_FORMULA

    table = categories_frame(landscape)
    st.subheader("Categories by saturation")
    crowded = landscape.crowded_count()
    too_few = int((~landscape.categories["judged"]).sum()) if "judged" in landscape.categories else 0
    st.caption(f"{len(table):,} categories, {crowded:,} crowded"
               + (f", {too_few:,} with too few listings to judge (ranked last)" if too_few else "")
               + ". Select a row to drill into it.")
    ranked = table["category"].tolist()
    percent = {"format": "percent"}
    st.dataframe(
        table, hide_index=True, key=TABLE_KEY, on_select=lambda: _select_category(ranked),
        selection_mode="single-row",
        column_config={
            "rank": st.column_config.NumberColumn("#", width="small"),
            "category": st.column_config.TextColumn("category", width="large"),
            "saturation_score": st.column_config.ProgressColumn("saturation", min_value=0, max_value=100, format="%.1f",
                                                                help=SATURATION_FORMULA),
            "verdict": st.column_config.TextColumn("verdict", width="medium"),
            "near_duplicate_share": st.column_config.NumberColumn("near-duplicates", **percent),
            "mean_knn_similarity": st.column_config.NumberColumn("similarity", format="%.2f"),
            "effective_clusters": st.column_config.NumberColumn("effective clusters", format="%.1f"),
            "top_brand_share": st.column_config.NumberColumn("top brand share", **percent),
            "median_price": st.column_config.NumberColumn("median price", format="%.2f"),
            "price_spread": st.column_config.NumberColumn("price spread", format="%.2f"),
            "label_completeness": st.column_config.NumberColumn("labels stated", **percent),
        },
    )
    download_buttons(saturation_downloads(landscape), key="saturation")
    st.markdown("**The most saturated categories**")
    import os
    if "bars" not in os.environ.get("X_SKIP", ""):
        st.plotly_chart(figures.saturation_bars(landscape), key="saturation_bars", config={"displaylogo": False})
    formula(SATURATION_FORMULA, "How the saturation score is computed", key="saturation_formula")


def _select_category(ranked: list[str]) -> None:
    """Table row selected: show that category in the drill-down."""
    rows = st.session_state[TABLE_KEY].selection.rows
    if rows:
        st.session_state[DRILL_KEY] = ranked[rows[0]]


def _drill_down(index, landscape) -> None:
    """One category: its figures, its clusters, and the listings of one cluster."""
    st.subheader("Drill-down")
    ranked = landscape.categories["category"].tolist()
    if st.session_state.get(DRILL_KEY) not in ranked:
        st.session_state[DRILL_KEY] = ranked[0]
    category = st.selectbox("Category", ranked, key=DRILL_KEY)
    row = landscape.categories.set_index("category").loc[category]
    m1, m2, m3, m4, m5 = st.columns(5)
    verdict = row.get("verdict", "crowded" if row.get("crowded") else "")
    m1.metric("Saturation", f"{row['saturation_score']:.1f}", verdict if verdict != "not crowded" else None,
              delta_color="inverse" if row.get("crowded") else "off")
    m2.metric("Listings", f"{int(row['listings']):,}")
    m3.metric("Distinct offers", f"{int(row['distinct_offers']):,}")
    m4.metric("Near-duplicate share", f"{row['near_duplicate_share']:.0%}")
    m5.metric("Clusters", f"{int(row['clusters']):,}")
    clusters = clusters_frame(landscape, category)
    st.dataframe(
        clusters, hide_index=True, key="cluster_table",
        column_config={
            "label": st.column_config.TextColumn("cluster", width="medium"),
            "keywords": st.column_config.ListColumn("keywords"),
            "representative_title": st.column_config.TextColumn("representative listing", width="large"),
            "near_duplicate_share": st.column_config.NumberColumn("near-duplicates", format="percent"),
            "mean_knn_similarity": st.column_config.NumberColumn("similarity", format="%.2f"),
            "top_brand_share": st.column_config.NumberColumn("top brand share", format="percent"),
            "median_price": st.column_config.NumberColumn("median price", format="%.2f"),
            "saturation_score": st.column_config.ProgressColumn("saturation", min_value=0, max_value=100, format="%.1f"),
        },
    )
    labels = dict(zip(clusters["cluster_id"], clusters["label"] + " (" + clusters["size"].astype(str) + ")"))
    cluster_id = st.selectbox("Listings of the cluster", list(labels), key=f"{CLUSTER_KEY}-{category}",
                              format_func=labels.get)
    st.dataframe(cluster_listings(index, landscape, cluster_id), hide_index=True, key="cluster_listings",
                 column_config={"title": st.column_config.TextColumn("title", width="large"),
                                "price": st.column_config.NumberColumn("price", format="%.2f"),
                                "near_duplicate_group": st.column_config.NumberColumn("look-alike group"),
                                "knn_similarity": st.column_config.NumberColumn("similarity", format="%.2f"),
                                "listing_id": st.column_config.TextColumn("listing id", width="small")})
    st.caption("Listings sharing a look-alike group are near-duplicates: a shopper could not tell them apart.")
