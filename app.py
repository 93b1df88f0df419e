"""diffscan in the browser: `streamlit run app.py` (demo corpus), `streamlit run app.py -- --index DIR`,
or `diffscan app --index DIR`. $DIFFSCAN_INDEX also picks the index.

This file only routes: it picks the index, draws the index switcher and runs the page chosen in the
navigation. The pages (diffscan/ui/) lay out what the diffscan core returns.
"""

from __future__ import annotations

import streamlit as st

from diffscan import __version__
from diffscan.catalog.demo import DEMO_CATALOG
from diffscan.ui import state
from diffscan.ui.common import guarded, plain, stage_progress

PAGES = [
    ("diffscan/ui/pages/competitors.py", "Competitors", ":material/group:"),
    ("diffscan/ui/pages/saturation.py", "Saturation map", ":material/bubble_chart:"),
    ("diffscan/ui/pages/niches.py", "Niches", ":material/explore:"),
    ("diffscan/ui/pages/changes.py", "Changes", ":material/compare_arrows:"),
    ("diffscan/ui/pages/catalog.py", "Catalog", ":material/upload_file:"),
]


def build_demo(startup: state.Startup) -> None:
    """First run on the demo corpus: build .diffscan/demo from corpus/catalog.csv with a progress bar."""
    bar = st.progress(0.0, text=f"First run: building the demo index from {DEMO_CATALOG.name}…")
    guarded(state.build_with_lock, DEMO_CATALOG, startup.path, progress=stage_progress(bar))
    bar.empty()


def index_switcher(startup: state.Startup) -> None:
    """The sidebar's index picker: the startup index and every index under .diffscan/indexes/."""
    if state.SWITCH_KEY in st.session_state:  # a page asked for another index (e.g. after a build)
        st.session_state[state.ACTIVE_KEY] = st.session_state.pop(state.SWITCH_KEY)
    entries = state.available_indexes(startup)
    by_path = {e.path: e for e in entries}
    if st.session_state.get(state.ACTIVE_KEY) not in by_path:
        st.session_state[state.ACTIVE_KEY] = entries[0].path
    with st.sidebar:
        chosen = st.selectbox("Index", list(by_path), format_func=lambda p: by_path[p].label, key=state.ACTIVE_KEY)
        entry = by_path[chosen]
        if entry.listings is not None:
            st.caption(f"{plain(entry.source)} · built {entry.created_at[:16].replace('T', ' ')} · {plain(entry.model)}")
        st.caption(f"diffscan {__version__}")


def main() -> None:
    """Pick the index, draw the frame shared by all pages, run the chosen page."""
    st.set_page_config(page_title="diffscan", page_icon=":material/search:", layout="wide")
    startup = state.startup_index()
    if state.demo_missing(startup):
        build_demo(startup)
    index_switcher(startup)
    pages = [st.Page(path, title=title, icon=icon, default=(i == 0)) for i, (path, title, icon) in enumerate(PAGES)]
    st.navigation(pages).run()
    # After the page: the model loads in the background while the user reads or types, not while the
    # page draws (a page that stops early, e.g. with no index, needs no model).
    state.warm_encoder(state.active_path(startup))


main()
