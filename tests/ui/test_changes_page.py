"""The Changes page: an older snapshot against the active index, through AppTest; its downloads."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytest.importorskip("streamlit.testing.v1", reason="the app is tested with Streamlit's AppTest (streamlit >= 1.28)")

from diffscan.catalog.demo import DEMO_CATALOG  # noqa: E402 - after the skip
from diffscan.ui import changes as changes_page  # noqa: E402
from diffscan.ui import state  # noqa: E402

from tests.ui.test_app import app_env, open_app  # noqa: E402, F401 - the fixture is used by name

if not DEMO_CATALOG.exists():
    pytest.skip(f"the demo catalog {DEMO_CATALOG} is not in this checkout", allow_module_level=True)

DROPPED = 12
LISTINGS = len(pd.read_csv(DEMO_CATALOG, dtype=str, keep_default_na=False))  # the demo index's listings


@pytest.fixture
def older_snapshot(app_env, tmp_path):  # noqa: F811
    """An older export of the demo catalog: without its last DROPPED listings, first one repriced."""
    from diffscan.index.build import build_index

    df = pd.read_csv(DEMO_CATALOG, dtype=str, keep_default_na=False).iloc[:-DROPPED]
    df.loc[0, "price"] = "$1.00"
    df.to_csv(tmp_path / "older.csv", index=False)
    build_index(tmp_path / "older.csv", state.INDEXES_DIR / "older")
    return str(state.INDEXES_DIR / "older")


def test_one_index_says_how_to_get_a_second(app_env):  # noqa: F811
    at = open_app("changes")
    assert [t.value for t in at.title] == ["Changes"]
    assert any(changes_page.ONE_INDEX in i.value for i in at.info)


def test_changes_page_counts_tables_and_downloads(older_snapshot):
    at = open_app("changes")
    assert at.selectbox(key=changes_page.OLD_KEY).value == older_snapshot
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Added": f"{DROPPED}", "Removed": "0", "Changed": "1", "Unchanged": f"{LISTINGS - DROPPED - 1}"}
    categories = next(d.value for d in at.dataframe if "saturation_change" in d.value.columns)
    assert categories["entrants"].sum() == DROPPED and categories["rising_rank"].tolist()[0] == 1
    assert [s.value for s in at.subheader][:3] == ["Categories by rising saturation", "Niches opened", "Niches closed"]
    assert len(at.get("plotly_chart")) == 1  # the saturation change bars: the entrants moved some category
    clusters = next(d.value for d in at.dataframe if "size_change" in d.value.columns)
    assert f"Clusters that moved ({len(clusters):,})" in [e.label for e in at.expander]
    assert (clusters["leavers"] == 0).all() and clusters["entrants"].sum() <= DROPPED  # nothing was removed
    watched = pd.read_csv(DEMO_CATALOG, dtype=str)["listing_id"].iat[0]
    at.text_area(key=changes_page.WATCH_KEY).input(f"{watched}\n\n{watched}\n").run()
    assert not at.exception and "Watchlist" in [s.value for s in at.subheader]
    table = next(d.value for d in at.dataframe if "differentiation_now" in d.value.columns)
    assert table["watched"].tolist() == [watched]


def test_comparison_downloads(older_snapshot, demo_index):
    from diffscan.analyses.compare import compare_indexes
    from diffscan.index.store import load_index

    comparison = compare_indexes(load_index(older_snapshot), demo_index)
    files = {d.file_name: d for d in changes_page.comparison_downloads(comparison)}
    assert {"changes.json", "changes.md", *(f"changes.{t}.csv" for t in comparison.TABLES)} == set(files)
    assert json.loads(files["changes.json"].data)["counts"]["added"] == DROPPED
    assert files["changes.md"].data.decode().startswith("# Changes from")
    assert changes_page.watch_ids(" a \n\nb\na\n") == ("a", "b")


def test_trend_over_three_snapshots(older_snapshot, tmp_path):
    from diffscan.index.build import build_index

    df = pd.read_csv(DEMO_CATALOG, dtype=str, keep_default_na=False).iloc[:-2 * DROPPED]
    df.to_csv(tmp_path / "oldest.csv", index=False)
    build_index(tmp_path / "oldest.csv", state.INDEXES_DIR / "oldest")
    at = open_app("changes")
    at.selectbox(key=changes_page.OLD_KEY).set_value(older_snapshot).run()
    at.multiselect(key=changes_page.TREND_KEY).set_value([str(state.INDEXES_DIR / "oldest")]).run()
    assert not at.exception
    trend = next(d.value for d in at.dataframe if "order" in d.value.columns)
    assert trend["snapshot"].unique().tolist() == ["oldest", "older", "this index"]
    assert trend.groupby("order")["listings"].sum().tolist() == [LISTINGS - 2 * DROPPED, LISTINGS - DROPPED, LISTINGS]
