"""Changes page: what changed between an older snapshot of the catalog and the active index. Counts,
the saturation change chart, categories by rising saturation, clusters that moved, niches opened and
closed, a watchlist, and downloads (CSV per table, JSON, Markdown) — the same as `diffscan compare`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from diffscan.present import export, figures
from diffscan.ui import state
from diffscan.ui.common import Download, download_buttons, guarded, once, plain

OLD_KEY, WATCH_KEY, TREND_KEY = "changes_old", "changes_watch", "changes_trend_pick"
ONE_INDEX = ("There is only one index to compare: build another snapshot of the catalog (a newer or older "
             "export) on the Catalog page, then pick it here.")
CATEGORY_COLUMNS = ["rising_rank", "category", "status", "saturation_score_then", "saturation_score_now",
                    "saturation_change", "listings_then", "listings_now", "distinct_offers_then", "distinct_offers_now",
                    "entrants", "leavers", "clusters_grew", "clusters_shrank", "entrant_examples"]


# ---------------------------------------------------------------------------------------------
# What the page shows and offers for download
# ---------------------------------------------------------------------------------------------


def comparison_downloads(comparison) -> list[Download]:
    """JSON (schema diffscan.comparison/1), the Markdown report and one CSV per table, as
    `diffscan compare --export FILE.json|.md|.csv` writes them."""
    document = once(comparison.to_dict)
    downloads = [Download("JSON", lambda: export.to_json(document()).encode("utf-8"), "changes.json", "application/json"),
                 Download("Markdown", lambda: export.comparison_report(document()).encode("utf-8"), "changes.md",
                          "text/markdown")]
    downloads += [Download(f"{name.replace('_', ' ')} CSV", lambda frame=frame: export.to_csv(frame).encode("utf-8"),
                           f"changes.{name}.csv", "text/csv") for name, frame in comparison.tables().items()]
    return downloads


def watch_ids(text: str) -> tuple[str, ...]:
    """Watched listing ids, one per line (blank lines and repeats dropped, order kept)."""
    return tuple(dict.fromkeys(line.strip() for line in (text or "").splitlines() if line.strip()))


def watch_frame(watchlist: pd.DataFrame) -> pd.DataFrame:
    """The watchlist with its nested cells as lists of short texts."""
    out = watchlist.copy()
    out["new_competitors"] = out["new_competitors"].map(
        lambda cs: [c["title"] + (" (entrant)" if c["entrant"] else "") for c in cs])
    out["twin_price_moves"] = out["twin_price_moves"].map(lambda ms: [f"{m['title']} ({m['change']:+.0%})" for m in ms])
    return out[["watched", "title", "differentiation_then", "differentiation_now", "differentiation_change",
                "new_competitors", "new_twins", "twin_price_moves"]]


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------


def render() -> None:
    """The Changes page."""
    index, path, key = state.open_page(
        "Changes",
        "What changed since an older export of the catalog: which categories got more crowded, who entered, "
        "which niches opened or closed. The active index is the newer snapshot.")
    others = [e for e in state.available_indexes(state.startup_index()) if e.path != path and e.listings is not None]
    if not others:
        st.info(ONE_INDEX, icon=":material/info:")
        return
    by_path = {e.path: e for e in others}
    left, right = st.columns([2, 3])
    old_path = left.selectbox("Older snapshot", list(by_path), key=OLD_KEY, format_func=lambda p: by_path[p].label)
    watch = watch_ids(right.text_area("My listings to follow (ids, one per line)", key=WATCH_KEY, height=80))
    comparison = guarded(state.with_progress, f"Comparing {plain(by_path[old_path].name)} with this index…",
                         state.comparison_of, old_path, state.stamp(old_path), path, key, watch)
    if comparison is None:
        return
    _summary(comparison)
    _categories(comparison)
    _niches(comparison)
    _trend(by_path, old_path, path, key)
    if len(comparison.watchlist):
        st.subheader("Watchlist")
        st.dataframe(watch_frame(comparison.watchlist), hide_index=True, key="changes_watchlist", column_config={
            "new_competitors": st.column_config.ListColumn("new competitors"),
            "new_twins": st.column_config.ListColumn("new twins"),
            "twin_price_moves": st.column_config.ListColumn("twin price moves")})
    download_buttons(comparison_downloads(comparison), key="changes")


def _trend(by_path: dict, old_path: str, path: str, key: str) -> None:
    """With more snapshots picked, the trend of the most saturated categories over all of them."""
    earlier = [p for p in by_path if p != old_path]
    if not earlier:
        return
    with st.expander("Trend over more snapshots", icon=":material/timeline:"):
        picked = st.multiselect("Earlier snapshots (oldest first, before the older one above)", earlier,
                                key=TREND_KEY, format_func=lambda p: by_path[p].label)
        if not picked:
            st.caption("Pick earlier snapshots to see each category's saturation over time.")
            return
        chain = [*picked, old_path]
        snapshots = tuple((p, state.stamp(p)) for p in chain) + ((path, key),)
        names = tuple(by_path[p].name for p in chain) + ("this index",)
        series = guarded(state.series_of, snapshots, names)
        if series is not None:
            st.plotly_chart(figures.trend_figure(series), key="changes_trend")
            st.dataframe(series.trend, hide_index=True, key="changes_trend_table")


def _summary(comparison) -> None:
    c = comparison.counts
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Added", f"{c['added']:,}")
    m2.metric("Removed", f"{c['removed']:,}")
    m3.metric("Changed", f"{c['changed']:,}")
    m4.metric("Unchanged", f"{c['unchanged']:,}")
    st.caption(f"Listings paired by id {c['matched_by_id']:,}, by the same text {c['matched_by_text']:,}, as "
               f"near-duplicates {c['matched_by_near_duplicate']:,} · category level {comparison.level}")
    if comparison.note:
        st.info(plain(comparison.note), icon=":material/info:")


def _categories(comparison) -> None:
    st.subheader("Categories by rising saturation")
    if figures.change_chart(comparison).empty:
        st.caption("No category's saturation moved.")
    else:
        st.plotly_chart(figures.saturation_change_bars(comparison), key="changes_chart")
    st.dataframe(comparison.categories[CATEGORY_COLUMNS], hide_index=True, key="changes_categories", column_config={
        "rising_rank": st.column_config.NumberColumn("#", width="small"),
        "saturation_change": st.column_config.NumberColumn("saturation change", format="%+.1f"),
        "entrant_examples": st.column_config.ListColumn("entrants, e.g.")})
    with st.expander(f"Clusters that moved ({len(comparison.clusters):,})", icon=":material/bubble_chart:"):
        st.dataframe(comparison.clusters, hide_index=True, key="changes_clusters")


def _niches(comparison) -> None:
    columns = st.columns(2)
    for column, title, frame, none in (
            (columns[0], "Niches opened", comparison.niches_opened, "None: the shortlist holds the same niches."),
            (columns[1], "Niches closed", comparison.niches_closed, "None: no niche of the older shortlist is gone.")):
        with column:
            st.subheader(title)
            if frame.empty:
                st.caption(none)
                continue
            st.dataframe(frame.drop(columns=["listing_ids", "niche_id"]), hide_index=True,
                         key=f"changes_{title.split()[1]}", column_config={
                             "rank": st.column_config.NumberColumn("shortlist #", width="small"),
                             "entrant_examples": st.column_config.ListColumn("entrants, e.g.")})
