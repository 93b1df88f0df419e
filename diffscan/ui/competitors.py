"""Competitors page: paste a listing (or pick one of the index) and see who competes with it, and how it
stands apart (differentiation score, table stakes vs USPs, suggestions)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from diffscan.analyses.competitors import DEFAULT_WEIGHTS, RERANK, Competitor, CompetitorResult
from diffscan.core.lexical import NGRAM_RANGE
from diffscan.present import export
from diffscan.present.labels import match_label
from diffscan.ui import state
from diffscan.ui.common import Download, download_buttons, guarded, once, plain, dashed, dashed_columns, remember, restore

PASTE, PICK = "Paste a listing", "A listing of the index"
ANY = "(any)"
QUERY_KEY = "competitor_query"
PRICE_BANDS = {"any price": None, "±10%": 0.10, "±25%": 0.25, "±50%": 0.50}
MAX_SCORE = DEFAULT_WEIGHTS.maximum
DIFFERENTIATION_K = 20
LEXICAL_HELP = f"cosine of character {NGRAM_RANGE[0]}-{NGRAM_RANGE[1]}-gram TF-IDF"
EXAMPLE = "Stainless Steel Insulated Water Bottle 750ml, leak proof"


@dataclass(frozen=True)
class Query:
    """What the user searches with: pasted text or a listing id, plus an optional category and price."""

    text: str | None
    listing_id: str | None
    category_path: tuple[str, ...] | None
    price: float | None


# ---------------------------------------------------------------------------------------------
# What the page shows and offers for download (plain functions: tested without a browser)
# ---------------------------------------------------------------------------------------------


BADGE_COLOURS = {  # background, text: the match column reads at a glance
    "near-duplicate": ("#fde0dd", "#9f1d14"),
    "twin": ("#fdebd0", "#8a4b00"),
    "substitute": ("#e2f3e5", "#1e6b32"),
}


def match_badge(near_duplicate: bool, kind: str, code_match: bool) -> str:
    """The match column: near-duplicate, twin (same product) or substitute."""
    return match_label(near_duplicate, kind, code_match)


def badge_style(badge: str) -> str:
    """CSS for one cell of the match column (colours by the badge's first word)."""
    background, colour = BADGE_COLOURS.get(badge.split(" ·")[0], ("", ""))
    return f"background-color: {background}; color: {colour}" if background else ""


def competitor_frame(result: CompetitorResult) -> pd.DataFrame:
    """The ranked competitors as the page's table (`export.competitors_table`: the seller's columns first)."""
    rows = pd.DataFrame([c.to_dict() for c in result.competitors],
                        columns=list(Competitor.__dataclass_fields__))
    return export.competitors_table(rows)


def competitor_downloads(result: CompetitorResult) -> list[Download]:
    """CSV (spreadsheet-safe) and JSON of the competitors, the same content as `diffscan competitors`."""
    document = once(result.to_dict)
    return [
        Download("CSV", lambda: export.to_csv(competitor_frame(result)).encode("utf-8"), "competitors.csv", "text/csv"),
        Download("JSON", lambda: export.to_json(document()).encode("utf-8"), "competitors.json", "application/json"),
    ]


def differentiation_download(diff) -> Download:
    """The whole differentiation (score, parts, table stakes, USPs, suggestions) as JSON."""
    return Download("Differentiation JSON", lambda: export.to_json(diff.to_dict()).encode("utf-8"),
                    "differentiation.json", "application/json")


def points_frame(points) -> pd.DataFrame:
    """Table stakes or USPs as a table: the wording, its kind and the share of competitors stating it."""
    return pd.DataFrame([{"point": p.text, "kind": p.kind, "share": p.share, "count": p.count} for p in points],
                        columns=["point", "kind", "share", "count"])


def suggestions_frame(suggestions) -> pd.DataFrame:
    """Suggestions as a table: what to add, why, and example listings that state it."""
    return pd.DataFrame(
        [{"add": s.text, "why": s.reason, "detail": s.detail, "examples": s.example_titles or s.examples}
         for s in suggestions],
        columns=["add", "why", "detail", "examples"],
    )


def price_filter(price: float | None, band: str) -> tuple[float | None, float | None]:
    """(min_price, max_price) for 'only competitors within ±x% of my price', or no bound."""
    share = PRICE_BANDS.get(band)
    if price is None or share is None:
        return None, None
    return round(price * (1 - share), 2), round(price * (1 + share), 2)


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------


def render() -> None:
    """The Competitors page."""
    index, path, key = state.open_page(
        "Competitors",
        "Who competes with this listing? Ranked twins (the same product) and substitutes, "
        "with the score's parts, the phrases they share and what is unique to yours.")
    mode = st.radio("Search with", [PASTE, PICK], horizontal=True, key=restore("competitor_mode", [PASTE, PICK]),
                    label_visibility="collapsed")
    remember("competitor_mode")
    query = _paste_form(path, key) if mode == PASTE else _pick_listing(index, path, key)
    if query is None:
        return
    k, filters = _filter_controls(path, key, query)
    _show_competitors(path, key, query, k, filters)
    _show_differentiation(path, key, query)


def _paste_form(path: str, key: str) -> Query | None:
    """The paste form; the submitted query is kept in the session so other widgets can rerun the page."""
    categories = state.categories_of(path, key)
    with st.form("paste_listing"):
        text = st.text_area(
            "Listing", height=130, key=restore("paste_text"),
            placeholder=f"Title on the first line, then the description (optional), e.g.\n{EXAMPLE}",
        )
        left, right = st.columns([3, 1])
        category = left.selectbox("Category (optional)", [ANY, *categories], key=restore("paste_category", [ANY, *categories]),
                                  help=f"Listings of this category rank a little higher (+{DEFAULT_WEIGHTS.category:.2f}).")
        price = right.number_input("Your price (optional)", min_value=0.0, value=None, step=1.0, key=restore("paste_price"))
        submitted = st.form_submit_button("Find competitors", type="primary", icon=":material/search:")
    remember("paste_text", "paste_category", "paste_price")
    if submitted:
        if not text or not text.strip():
            st.warning("Paste a listing title first (its description may follow on the next lines).")
            st.session_state.pop(QUERY_KEY, None)
            return None
        st.session_state[QUERY_KEY] = Query(
            text=text.strip(), listing_id=None, price=price,
            category_path=None if category == ANY else tuple(category.split(" > ")),
        )
    query = st.session_state.get(QUERY_KEY)
    if query is None:
        st.info("Paste a listing and press **Find competitors**.", icon=":material/content_paste:")
    return query


def _pick_listing(index, path: str, key: str) -> Query | None:
    """Pick a listing of the index by words of its title or its id."""
    words = st.text_input("Find a listing of the index", key=restore("pick_words"),
                          placeholder="words of its title, or its listing id")
    remember("pick_words")
    matches = state.find_listings(path, key, words or "")
    if matches.empty:
        st.warning("No listing's title or id matches those words.")
        return None
    titles = dict(zip(matches["listing_id"], matches["title"]))
    listing_id = st.selectbox(f"Listing ({len(matches):,} shown)", list(titles), key="pick_listing",
                              format_func=lambda lid: f"{lid} — {titles.get(lid, '')}")
    row = index.listings.iloc[index.row_of(listing_id)]
    price = None if pd.isna(row["price"]) else float(row["price"])
    return Query(text=None, listing_id=str(listing_id), category_path=None, price=price)


def _filter_controls(path: str, key: str, query: Query) -> tuple[int, tuple]:
    """k and the filters (category prefix, price band around the query's price, excluded brands)."""
    with st.expander("Filters", icon=":material/filter_list:"):
        c1, c2, c3, c4 = st.columns([2, 1, 2, 1])
        category = c1.selectbox("Only this category", [ANY, *state.categories_of(path, key)], key="filter_category")
        band = c2.selectbox("Price band", list(PRICE_BANDS), key="filter_band", disabled=query.price is None,
                            help="Only competitors priced within this band around your price.")
        brands = c3.multiselect("Leave out brands", state.brands_of(path, key), key="filter_brands")
        k = c4.number_input("How many", min_value=1, max_value=200, value=10, step=5, key="filter_k")
    min_price, max_price = price_filter(query.price, band)
    return int(k), (None if category == ANY else category, min_price, max_price, tuple(brands))


def _show_competitors(path: str, key: str, query: Query, k: int, filters: tuple) -> None:
    """The ranked competitors table and its downloads."""
    result = guarded(state.competitors_of, path, key, query.text, query.listing_id, k, query.category_path, filters,
                     query.price)
    if result is None:
        return
    comps = result.competitors
    st.subheader("Ranked competitors")
    your_price = "" if query.price is None else f" · your price {query.price:,.2f}"
    st.caption(f"Query: {plain(result.query_text[:300])}{your_price}")
    if result.category_guessed is not None:
        st.caption(plain(result.category_guessed.describe()))
    if not comps:
        st.warning("No competitor passes the filters: widen them.")
        return
    m1, m2, m3 = st.columns(3)
    m1.metric("Near-duplicates", sum(c.near_duplicate for c in comps))
    m2.metric("Twins (same product)", sum(c.kind == "twin" for c in comps))
    m3.metric("Substitutes", sum(c.kind == "substitute" for c in comps))
    frame = competitor_frame(result)
    styled = dashed(frame).style.map(badge_style, subset=["match"])
    st.dataframe(
        styled, hide_index=True, key="competitor_table",
        column_config={
            "rank": st.column_config.NumberColumn("#", width="small"),
            "match": st.column_config.TextColumn("match", help="near-duplicate: a shopper could not tell them apart; "
                                                 "twin: the same product; substitute: another product for the same need"),
            "title": st.column_config.TextColumn("title", width="large"),
            **dashed_columns(frame),
            "price_vs_query": st.column_config.TextColumn(
                "vs your price", help="The competitor's price against yours (the price you gave, or your listing's)."),
            "url": st.column_config.LinkColumn("link", display_text="open", width="small"),
            "listing_id": st.column_config.TextColumn("listing id", width="small"),
            "score": st.column_config.ProgressColumn(
                "score", min_value=0.0, max_value=MAX_SCORE, format="%.3f",
                help=f'{DEFAULT_WEIGHTS.formula("·")}, then {RERANK.formula("·")}'),
            "semantic": st.column_config.NumberColumn("semantic", format="%.2f", help="cosine of MiniLM embeddings"),
            "lexical": st.column_config.NumberColumn("lexical", format="%.2f", help=LEXICAL_HELP),
            "fuzzy": st.column_config.NumberColumn("fuzzy", format="%.2f", help="token-set ratio of the titles"),
            "shared_phrases": st.column_config.ListColumn("shared phrases"),
            "unique_to_query": st.column_config.ListColumn("unique to yours"),
            "unique_to_competitor": st.column_config.ListColumn("unique to theirs"),
        },
    )
    download_buttons(competitor_downloads(result), key="competitors")


def _show_differentiation(path: str, key: str, query: Query) -> None:
    """Differentiation score and its parts, table stakes vs USPs side by side, and suggestions."""
    from diffscan.analyses.differentiation import DIFFERENTIATION

    diff = guarded(state.differentiation_of, path, key, query.text, query.listing_id, DIFFERENTIATION_K)
    if diff is None:
        return
    st.subheader("Differentiation")
    st.caption(f"Compared with the {diff.compared} closest listings of the whole index (filters do not apply).")
    weights = ", ".join(f"{w:.0%} {name.replace('_', ' ')}" for name, w in DIFFERENTIATION.weights)
    rule = DIFFERENTIATION.usp
    parts = diff.components
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Differentiation score", f"{diff.score:.0f} / 100", help=f"0-100: {weights}.")
    c2.metric("Distance from the nearest", f"{parts.get('distance', 0):.0%}",
              help=f"Mean similarity to the nearest competitors: {diff.nearest_similarity:.2f}")
    c3.metric("Title points that are USPs", f"{parts.get('unique_share', 0):.0%}")
    c4.metric("Near-duplicates", f"{diff.near_duplicates} of {diff.compared}")
    share = st.column_config.ProgressColumn("stated by", min_value=0.0, max_value=1.0, format="percent")
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Table stakes** · stated by at least {rule.table_stakes_min_share:.0%} of them")
        _points_table(diff.table_stakes, share, "Nothing yours states is common to most of them.")
    with right:
        st.markdown(f"**USPs** · stated by fewer than {rule.usp_max_share:.0%} of them")
        _points_table(diff.usps, share, "Nothing yours states is rare among them: it reads like the rest.")
    st.markdown("**Suggestions**")
    if diff.suggestions:
        st.dataframe(suggestions_frame(diff.suggestions), hide_index=True, key="suggestion_table",
                     column_config={"detail": st.column_config.TextColumn("detail", width="large"),
                                    "examples": st.column_config.ListColumn("stated by e.g.")})
    else:
        st.caption("No suggestion: the closest competitors state nothing this listing lacks.")
    download_buttons([differentiation_download(diff)], key="differentiation")


def _points_table(points, share_column, empty: str) -> None:
    """One side of the table stakes / USPs comparison."""
    if not points:
        st.caption(empty)
        return
    st.dataframe(points_frame(points), hide_index=True, column_config={"share": share_column})
