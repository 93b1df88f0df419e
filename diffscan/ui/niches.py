"""Niches page: where is there room to stand out? The shortlist as a sortable, filterable table, one niche's
detail (competitors, USPs, positioning line), and downloads as CSV, JSON and Markdown."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from diffscan.present import export
from diffscan.ui import state
from diffscan.ui.common import Download, download_buttons, formula, guarded, once, plain, dashed, dashed_columns
from diffscan.ui.competitors import points_frame

ANY = "(any)"
TABLE_KEY, PICK_KEY = "niche_table", "niche_pick"
TABLE_COLUMNS = ["rank", "name", "category", "opportunity", "demand_label", "size", "distinct_offers",
                 "price_median", "usps", "kind"]


# ---------------------------------------------------------------------------------------------
# What the page shows and offers for download
# ---------------------------------------------------------------------------------------------


def niche_downloads(niches: list, index, query: dict, weights: tuple[tuple[str, float], ...] = ()) -> list[Download]:
    """The shortlist as CSV (spreadsheet-safe), JSON (schema diffscan.niches/1) and a Markdown report, with
    the weights the score was computed with.

    The same files as `diffscan niches --export FILE.csv|.json|.md`.
    """
    from diffscan.analyses.niches import OPPORTUNITY, niches_document, niches_frame, weighted

    params = weighted(OPPORTUNITY, dict(weights))
    document = once(lambda: niches_document(niches, index, params=params, **query))
    return [
        Download("CSV", lambda: export.to_csv(niches_frame(niches)).encode("utf-8"), "niches.csv", "text/csv"),
        Download("JSON", lambda: export.to_json(document()).encode("utf-8"), "niches.json", "application/json"),
        Download("Markdown", lambda: export.niches_report(document()).encode("utf-8"), "niches.md", "text/markdown"),
    ]


def shortlist_frame(niches: list) -> pd.DataFrame:
    """One row per niche as the page's table (USPs as a list of their wording)."""
    rows = [
        {"rank": n.rank, "name": n.name, "category": n.category, "opportunity": n.opportunity,
         "demand_label": n.demand_label, "size": n.size, "distinct_offers": n.distinct_offers,
         "price_median": n.price_median, "usps": [u.text for u in n.usps], "kind": n.kind}
        for n in niches
    ]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def filter_shortlist(frame: pd.DataFrame, words: str, kinds: list[str]) -> pd.DataFrame:
    """Rows whose name, category or USPs contain `words` (case-insensitive), of the chosen kinds."""
    shown = frame[frame["kind"].isin(kinds)] if kinds else frame
    words = words.strip().lower()
    if not words:
        return shown
    text = (shown["name"] + " " + shown["category"] + " " + shown["usps"].map(" ".join)).str.lower()
    return shown[text.str.contains(words, regex=False)]


def competitors_frame(niche) -> pd.DataFrame:
    """A niche's top competitors (most demand first)."""
    frame = pd.DataFrame(niche.top_competitors)
    columns = [c for c in ("title", "price", "price_vs_niche", "rating", "review_count", "brand", "url", "listing_id")
               if c in frame and (c != "url" or frame[c].astype(bool).any())]  # no links in the catalog: no column
    return frame[columns] if len(frame) else pd.DataFrame(columns=columns)


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------


def render() -> None:
    """The Niches page."""
    index, path, key = state.open_page(
        "Niches",
        "Where is there room to stand out? Narrow niches with demand and few look-alike offers, "
        "with the selling points that would set a new listing apart.")
    top, category, min_demand, weights = _controls(path, key)
    niches = guarded(state.with_progress, f"Finding niches among {len(index):,} listings…",
                     state.niches_of, path, key, top, category, min_demand, weights)
    if niches is None:
        return
    if not niches:
        st.info("No niche matches: loosen the category or the minimum demand.", icon=":material/info:")
        return
    _shortlist(niches)
    download_buttons(niche_downloads(niches, index, {"top": top, "category": category, "min_demand": min_demand},
                                     weights), key="niches")
    _detail(index, niches)


def _controls(path: str, key: str) -> tuple[int, str | None, float | None, tuple[tuple[str, float], ...]]:
    """How many niches, in which category, with at least how much demand, and the user's weights."""
    from diffscan.analyses.niches import OPPORTUNITY, OPPORTUNITY_FORMULA, ROOM_WEIGHTS, weighted

    c1, c2, c3 = st.columns([1, 3, 1])
    top = c1.number_input("How many", min_value=1, max_value=200, value=20, step=5, key="niche_top")
    category = c2.selectbox("Category", [ANY, *state.categories_of(path, key)], key="niche_category",
                            help="Only niches whose category path starts with this.")
    min_demand = c3.number_input("Minimum demand", min_value=0.0, value=None, step=1.0, key="niche_min_demand",
                                 help="In the unit of the demand source: median reviews, sales or rating per listing.")
    with st.expander("Weigh the score yourself", icon=":material/tune:"):
        st.caption("How much each part of a niche's room counts: few distinct offers (competition), varied offers "
                   "(homogenization), room to price below the crowd (price room). Scaled to add up to 1.")
        cols = st.columns(len(ROOM_WEIGHTS))
        chosen = {name: col.slider(name.replace("_", " "), 0.0, 1.0, float(getattr(OPPORTUNITY, name)), 0.05,
                                   key=f"niche_weight_{name}") for name, col in zip(ROOM_WEIGHTS, cols)}
    if sum(chosen.values()) <= 0:
        st.warning("At least one weight must be above 0: the default weights are used.", icon=":material/warning:")
        chosen = {}
    params = weighted(OPPORTUNITY, chosen)
    shown = OPPORTUNITY_FORMULA if params == OPPORTUNITY else params.formula()
    formula(shown.replace("; ", ";\n"), "How the opportunity score is computed", key="niche_formula")
    weights = tuple((k, getattr(params, k)) for k in ROOM_WEIGHTS) if params != OPPORTUNITY else ()
    return int(top), None if category == ANY else category, min_demand, weights


def _shortlist(niches: list) -> None:
    """The sortable, filterable shortlist; selecting a row opens that niche below."""
    st.subheader("Shortlist")
    frame = shortlist_frame(niches)
    left, right = st.columns([3, 1])
    words = left.text_input("Filter", key="niche_filter", placeholder="words of a name, category or USP")
    kinds = right.multiselect("Kind", sorted(frame["kind"].unique()), key="niche_kinds")
    shown = filter_shortlist(frame, words or "", kinds)
    st.caption(f"{len(shown):,} of {len(frame):,} niches. Click a column to sort; select a row for its detail.")
    ranks = shown["rank"].tolist()
    st.dataframe(
        shown, hide_index=True, key=TABLE_KEY, on_select=lambda: _select_niche(ranks), selection_mode="single-row",
        column_config={
            "rank": st.column_config.NumberColumn("#", width="small"),
            "name": st.column_config.TextColumn("niche", width="medium"),
            "opportunity": st.column_config.ProgressColumn("opportunity", min_value=0, max_value=100, format="%.1f"),
            "demand_label": st.column_config.TextColumn("demand"),
            "size": st.column_config.NumberColumn("listings"),
            "distinct_offers": st.column_config.NumberColumn("distinct offers"),
            "price_median": st.column_config.NumberColumn("median price", format="%.2f"),
            "usps": st.column_config.ListColumn("USPs"),
        },
    )


def _select_niche(ranks: list[int]) -> None:
    """Table row selected: open that niche in the detail."""
    rows = st.session_state[TABLE_KEY].selection.rows
    if rows:
        st.session_state[PICK_KEY] = ranks[rows[0]]


def _detail(index, niches: list) -> None:
    """One niche: figures, positioning line, USPs against its crowded neighbour, competitors, listings."""
    by_rank = {n.rank: n for n in niches}
    if st.session_state.get(PICK_KEY) not in by_rank:
        st.session_state[PICK_KEY] = niches[0].rank
    rank = st.selectbox("Niche", list(by_rank), key=PICK_KEY, format_func=lambda r: f"{r}. {by_rank[r].name}")
    n = by_rank[rank]
    st.subheader(f"{n.rank}. {plain(n.name)}")
    st.caption(f"{plain(n.category)} · {n.kind} niche · keywords: {plain(', '.join(n.keywords[:8]))}")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Opportunity", f"{n.opportunity:.1f}")
    m2.metric("Listings / distinct offers", f"{n.size:,} / {n.distinct_offers:,}")
    m3.metric("Demand", f"{n.components.get('demand', 0):.0%}", help=n.demand_label)
    m4.metric("Price band", export.price_band_text(n.to_dict()))
    st.caption(f"Demand: {plain(n.demand_label)} (from {plain(n.demand_source)}). Components: "
               + " · ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in n.components.items()))
    st.info(plain(n.positioning), icon=":material/campaign:")
    left, right = st.columns(2)
    with left:
        neighbour = n.neighbour
        against = (f" · vs '{plain(neighbour['label'])}' ({neighbour['compared']} of its {neighbour['size']:,} listings)"
                   if neighbour else "")
        st.markdown(f"**USPs**{against}")
        if n.usps:
            st.dataframe(points_frame(n.usps), hide_index=True, key="niche_usps", column_config={
                "share": st.column_config.ProgressColumn("stated by neighbours", min_value=0.0, max_value=1.0,
                                                         format="percent")})
        else:
            st.caption("No phrase sets this niche apart from its neighbours yet.")
    with right:
        st.markdown("**Top competitors** · most demand first")
        top = competitors_frame(n)
        st.dataframe(dashed(top), hide_index=True, key="niche_competitors",
                     column_config={"title": st.column_config.TextColumn("title", width="large"),
                                    **dashed_columns(top),
                                    "price_vs_niche": st.column_config.TextColumn(
                                        "vs the niche", help="Its price against the niche's median price."),
                                    "url": st.column_config.LinkColumn("link", display_text="open", width="small"),
                                    "listing_id": st.column_config.TextColumn("listing id", width="small")})
    with st.expander(f"All {n.size:,} listings of the niche", icon=":material/list:"):
        rows = [index.row_of(i) for i in n.listing_ids]
        st.dataframe(index.listings.iloc[[r for r in rows if r is not None]][["title", "brand", "price", "listing_id"]],
                     hide_index=True, key="niche_listings",
                     column_config={"title": st.column_config.TextColumn("title", width="large"),
                                    "listing_id": st.column_config.TextColumn("listing id", width="small")})
