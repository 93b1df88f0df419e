"""The Streamlit app: each page through AppTest (no browser), and the functions behind its downloads."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from diffscan.analyses.competitors import Competitor, CompetitorResult
from diffscan.errors import CatalogError
from diffscan.ui import catalog as catalog_page
from diffscan.ui import competitors as competitors_page
from diffscan.ui import state

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app.py"
TIMEOUT = 180  # the first run in a process loads the model


def open_app(page: str | None = None) -> AppTest:
    """Run app.py once, then switch to `page` (a file under diffscan/ui/pages/) and run it."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    if page is not None:
        at.switch_page(f"diffscan/ui/pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at: AppTest, label: str):
    """The button (or form submit button) with this label."""
    return next(b for b in at.button if b.label == label)


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def shown(elements) -> list[str]:
    """Element texts as the reader sees them: the Markdown escapes of `ui.common.plain` removed."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in elements]


@pytest.fixture
def app_env(demo_index, monkeypatch, tmp_path):
    """The app opens on the session's demo index; .diffscan/ (uploads, built indexes) goes to tmp_path."""
    monkeypatch.setenv("DIFFSCAN_INDEX", str(demo_index.path))
    monkeypatch.chdir(tmp_path)
    return demo_index


def paste(at: AppTest, text: str) -> AppTest:
    at.text_area(key="paste_text").input(text)
    return button(at, "Find competitors").click().run()


# ---------------------------------------------------------------------------------------------
# Startup: which index, demo build
# ---------------------------------------------------------------------------------------------


def test_startup_index_sources():
    assert state.startup_index(["--index", "/x/idx"], {"DIFFSCAN_INDEX": "/y"}) == state.Startup(Path("/x/idx"), "--index")
    assert state.startup_index([], {"DIFFSCAN_INDEX": "/y"}) == state.Startup(Path("/y"), "DIFFSCAN_INDEX")
    assert state.startup_index(["-q", "tests"], {}) == state.Startup(state.DEMO_INDEX, "demo")
    assert state.startup_index(["--index"], {}).source == "demo"  # a dangling flag is not a crash


def test_demo_builds_on_first_run_and_loads(demo_index, monkeypatch, tmp_path):
    monkeypatch.delenv("DIFFSCAN_INDEX", raising=False)
    monkeypatch.chdir(tmp_path)
    at = open_app()
    assert (tmp_path / ".diffscan" / "demo" / "manifest.json").exists()
    assert texts(at.title) == ["Competitors"]
    index_picker = at.sidebar.selectbox(key=state.ACTIVE_KEY)
    assert index_picker.value == str(state.DEMO_INDEX)
    assert f"demo · {len(demo_index):,} listings" in index_picker.format_func(index_picker.value)
    assert not at.error


def test_missing_index_is_an_error_in_the_page(monkeypatch, tmp_path):
    monkeypatch.setenv("DIFFSCAN_INDEX", str(tmp_path / "nowhere"))
    monkeypatch.chdir(tmp_path)
    at = open_app()
    assert any("No index at" in e for e in texts(at.error))
    assert any("Catalog" in i for i in texts(at.info))


# ---------------------------------------------------------------------------------------------
# Competitors page
# ---------------------------------------------------------------------------------------------


def test_pasted_listing_yields_a_competitors_table(app_env):
    at = open_app()
    assert texts(at.title) == ["Competitors"]
    at = paste(at, "Stainless Steel Insulated Water Bottle 750ml, leak proof")
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert len(table) == 10
    assert list(table["rank"]) == list(range(1, 11))
    shown = {"match", "title", "brand", "price", "score", "semantic", "lexical", "fuzzy", "shared_phrases"}
    assert shown <= set(table.columns)
    assert table["title"].str.contains("bottle", case=False).sum() >= 5
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Differentiation score"].endswith("/ 100")
    assert {"CSV", "JSON", "Differentiation JSON"} <= {d.label for d in at.download_button}
    assert any("Table stakes" in m for m in texts(at.markdown)) and any("USPs" in m for m in texts(at.markdown))


def test_query_survives_reruns_and_filters_apply(app_env):
    at = paste(open_app(), "cork yoga mat non slip")
    brand = at.dataframe[0].value["brand"].iloc[0]
    at.multiselect(key="filter_brands").select(brand).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 10 and brand not in set(table["brand"])
    at.number_input(key="filter_k").set_value(3).run()
    assert len(at.dataframe[0].value) == 3


def test_empty_paste_warns(app_env):
    at = paste(open_app(), "   ")
    assert any("Paste a listing title" in w for w in texts(at.warning))
    assert not at.dataframe


def test_pick_a_listing_of_the_index(app_env):
    at = open_app()
    at.radio(key="competitor_mode").set_value(competitors_page.PICK).run()
    at.text_input(key="pick_words").input("yoga").run()
    picked = at.selectbox(key="pick_listing").value
    assert "yoga" in app_env.listings.set_index("listing_id").at[picked, "title"].lower()
    table = at.dataframe[0].value
    assert len(table) == 10 and picked not in set(table["listing_id"])
    at.text_input(key="pick_words").input("no listing has this title zzz").run()
    assert any("No listing" in w for w in texts(at.warning))


def _result(title: str = "=HYPERLINK(\"http://x\")") -> CompetitorResult:
    comp = Competitor(rank=1, listing_id="L1", title=title, brand="Acme", price=9.5, category="A > B", score=0.9,
                      semantic=0.8, lexical=0.7, fuzzy=0.6, code_match=False, same_category=True, near_duplicate=True,
                      kind="twin", shared_phrases=["steel bottle"], unique_to_query=["750ml"], unique_to_competitor=["1l"])
    return CompetitorResult(query_text="steel bottle 750ml", query_id=None, competitors=[comp])


def test_competitor_downloads_carry_the_table():
    downloads = {d.file_name: d for d in competitors_page.competitor_downloads(_result())}
    rows = list(csv.DictReader(io.StringIO(downloads["competitors.csv"].data.decode("utf-8"))))
    assert rows[0]["listing_id"] == "L1" and rows[0]["shared_phrases"] == "steel bottle"
    assert rows[0]["title"].startswith("'=")  # formula injection neutralized
    assert downloads["competitors.csv"].mime == "text/csv"
    doc = json.loads(downloads["competitors.json"].data)
    assert doc["query"] == "steel bottle 750ml" and doc["competitors"][0]["title"].startswith("=")
    assert doc["competitors"][0]["near_duplicate"] is True


def test_competitor_frame_badges():
    frame = competitors_page.competitor_frame(_result("Steel bottle"))
    assert frame.loc[0, "match"] == "near-duplicate"
    assert competitors_page.match_badge(False, "twin", True) == "twin · same model no."
    assert competitors_page.match_badge(False, "substitute", False) == "substitute"
    assert "background-color" in competitors_page.badge_style("twin · same model no.")


def test_price_band_filter():
    assert competitors_page.price_filter(20.0, "±25%") == (15.0, 25.0)
    assert competitors_page.price_filter(None, "±25%") == (None, None)
    assert competitors_page.price_filter(20.0, "any price") == (None, None)


def test_differentiation_download(app_env):
    diff = state.differentiation_of(str(app_env.path), state.stamp(app_env.path), "bamboo toothbrush", None, 20)
    download = competitors_page.differentiation_download(diff)
    doc = json.loads(download.data)
    assert doc["schema"] == "diffscan.differentiation/1" and doc["score"] == diff.score
    assert len(doc["competitors"]) == diff.compared


# ---------------------------------------------------------------------------------------------
# Caching: a rerun does not reload the index or recompute an analysis
# ---------------------------------------------------------------------------------------------


def test_reruns_do_not_reload_or_recompute(demo_index, monkeypatch, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(demo_index.path, copy)  # a path no other test has cached
    monkeypatch.setenv("DIFFSCAN_INDEX", str(copy))
    monkeypatch.chdir(tmp_path)
    calls = {"load_index": 0, "find_competitors": 0}
    real_load, real_find = state.load_index, state.find_competitors

    def counting_load(*a, **kw):
        calls["load_index"] += 1
        return real_load(*a, **kw)

    def counting_find(*a, **kw):
        calls["find_competitors"] += 1
        return real_find(*a, **kw)

    monkeypatch.setattr(state, "load_index", counting_load)
    monkeypatch.setattr(state, "find_competitors", counting_find)
    at = paste(open_app(), "dog bed orthopedic memory foam")
    at.run()
    at.run()
    assert not at.exception
    assert calls == {"load_index": 1, "find_competitors": 1}


# ---------------------------------------------------------------------------------------------
# Catalog page
# ---------------------------------------------------------------------------------------------

GOOD_CSV = (
    b"sku,product_name,maker,cat1,cat2,price\n"
    b"A1,Red ceramic mug 350ml,Acme,Home,Kitchen,$5\n"
    b"A2,,Acme,Home,Kitchen,$6\n"
    b"A3,Blue enamel mug 350ml,Mugco,Home,Kitchen,abc\n"
    b"A4,Green tea 100 bags,Leafy,Food,Tea,3.50\n"
)


def test_bad_upload_shows_the_error(app_env):
    at = open_app("catalog")
    assert texts(at.title) == ["Catalog"]
    at.file_uploader(key="catalog_upload").set_value(("broken.json", b'{"products": [1, 2', "application/json")).run()
    assert not at.exception
    errors = shown(at.error)
    assert errors and "broken.json is not valid JSON" in errors[0]
    assert ".diffscan/uploads" not in errors[0]  # names the user's file, not the staging copy
    assert not [b for b in at.button if b.label == "Build index"]


def test_stage_upload_handler_rejects_bad_files(tmp_path):
    with pytest.raises(CatalogError, match="header.csv has a header but no data rows"):
        catalog_page.stage_upload("header.csv", b"id,title\n", root=tmp_path)
    with pytest.raises(CatalogError, match="empty"):
        catalog_page.stage_upload("empty.csv", b"", root=tmp_path)
    staged = catalog_page.stage_upload("Shop Export.CSV.gz", __import__("gzip").compress(GOOD_CSV), root=tmp_path)
    assert staged.rows == 4 and staged.path.name == "Shop-Export.csv.gz"
    assert staged.detected["title"] == "product_name" and staged.detected["category_path"] == "cat1,cat2"


def test_old_uploads_are_pruned(tmp_path):
    import os

    old = catalog_page.stage_upload("old.csv", GOOD_CSV, root=tmp_path).path.parent
    day_ago = old.stat().st_mtime - catalog_page.UPLOAD_KEEP_SECONDS - 60
    os.utime(old, (day_ago, day_ago))
    fresh = catalog_page.stage_upload("new.csv", GOOD_CSV + b"\n", root=tmp_path).path.parent
    assert fresh.exists() and not old.exists()


def test_upload_map_build_report_and_switch(app_env):
    at = open_app("catalog")
    assert "MB" in at.file_uploader(key="catalog_upload").label
    limit = catalog_page.upload_limit_mb()
    assert any(f"Files up to {limit:,} MB can be uploaded here" in c for c in texts(at.caption))
    at.file_uploader(key="catalog_upload").set_value(("my shop.csv", GOOD_CSV, "text/csv")).run()
    assert not at.error
    file_id = at.session_state[catalog_page.STAGED_KEY].file_id
    assert at.selectbox(key=f"map-title-{file_id}").value == "product_name"
    assert at.multiselect(key=f"map-category_path-{file_id}").value == ["cat1", "cat2"]
    at.selectbox(key=f"map-brand-{file_id}").set_value(catalog_page.NONE)  # adjust the detected mapping
    at.text_input(key=f"index-name-{file_id}").input("shop")
    button(at, "Build index").click().run()
    assert not at.exception and not at.error
    assert any("Index 'shop' built: 3 listings" in s for s in texts(at.success))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows read"] == "4" and metrics["Rows skipped"] == "1" and metrics["Warnings"] == "1"
    summary = texts(at.text)[0]
    assert summary.startswith("my shop.csv (csv") and "brand" not in summary.split("columns:")[1]
    reasons = next(d.value for d in at.dataframe if "skipped because" in d.value.columns)
    assert reasons.to_dict("records") == [{"skipped because": "empty title", "rows": 1}]
    built = Path(".diffscan/indexes/shop")
    assert (built / "manifest.json").exists()
    assert at.sidebar.selectbox(key=state.ACTIVE_KEY).value == str(built)  # the new index is active
    at.switch_page("diffscan/ui/pages/competitors.py").run()
    at = paste(at, "blue mug")
    assert set(at.dataframe[0].value["listing_id"]) <= {"A1", "A3", "A4"}


def test_switch_between_indexes(app_env, tmp_path):
    from diffscan.index.build import build_index

    catalog = tmp_path / "tea.csv"
    catalog.write_bytes(GOOD_CSV)
    build_index(catalog, state.INDEXES_DIR / "tea")
    at = open_app("catalog")
    options = at.selectbox(key="catalog_switch").options
    assert len(options) == 2
    at.selectbox(key="catalog_switch").set_value(str(state.INDEXES_DIR / "tea")).run()
    button(at, "Switch").click().run()
    assert at.sidebar.selectbox(key=state.ACTIVE_KEY).value == str(state.INDEXES_DIR / "tea")
    at.sidebar.selectbox(key=state.ACTIVE_KEY).set_value(str(app_env.path)).run()
    assert not at.exception


def test_mapping_from_choices():
    choices = {"title": "name", "brand": catalog_page.NONE, "category_path": ["a", "b"], "price": "cost"}
    mapping = catalog_page.mapping_from_choices(choices)
    assert mapping["title"] == "name" and mapping["brand"] == "-" and mapping["category_path"] == "a,b"
    assert mapping["description"] == "-" and mapping["price"] == "cost"


def test_upload_limit_matches_config():
    import tomllib

    from diffscan.catalog.limits import UPLOAD_LIMIT_MB

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == UPLOAD_LIMIT_MB


def test_no_unsafe_html_anywhere():
    sources = [APP, *sorted((REPO / "diffscan" / "ui").rglob("*.py"))]
    assert not [p.name for p in sources if "unsafe_allow_html" in p.read_text()]
    from diffscan.ui.common import plain

    assert plain("[click](http://x) <b>*x*</b> $1 :red[a]") == (
        r"\[click\]\(http://x\) \<b\>\*x\*\</b\> \$1 \:red\[a\]".replace("http://x", r"http\://x"))


# ---------------------------------------------------------------------------------------------
# Saturation map page
# ---------------------------------------------------------------------------------------------


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first dataframe on the page that has this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_saturation_page_map_ranking_and_drill_down(app_env):
    from diffscan.ui import saturation

    at = open_app("saturation")
    assert texts(at.title) == ["Saturation map"] and not at.error
    assert len(at.get("plotly_chart")) == 2  # the map and the saturation bars
    ranked = frame_with(at, "saturation_score")
    assert list(ranked["rank"]) == list(range(1, len(ranked) + 1))
    from diffscan.analyses.landscape import TOO_FEW

    judged = ranked["verdict"] != TOO_FEW
    assert judged.is_monotonic_decreasing  # too few listings to judge: ranked last, and said so
    assert ranked.loc[judged, "saturation_score"].is_monotonic_decreasing
    assert set(ranked["verdict"]) <= {"crowded", "not crowded", TOO_FEW} and (ranked["verdict"] == "crowded").any()
    top = ranked["category"].iloc[0]
    assert at.selectbox(key=saturation.DRILL_KEY).value == top
    other = ranked["category"].iloc[-1]
    at.selectbox(key=saturation.DRILL_KEY).set_value(other).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Listings"] == f"{int(ranked.set_index('category').at[other, 'listings']):,}"
    clusters = frame_with(at, "representative_title")
    listings = frame_with(at, "near_duplicate_group")
    assert clusters["size"].sum() == int(ranked.set_index("category").at[other, "listings"])
    assert len(listings) == min(saturation.SAMPLE_LISTINGS, clusters["size"].iloc[0])
    at.radio(key="map_colour").set_value("crowding").run()
    assert not at.exception and len(at.get("plotly_chart")) == 2
    assert {"Categories CSV", "Clusters CSV"} <= {d.label for d in at.download_button}


def test_saturation_level_picker(app_env):
    at = open_app("saturation")
    at.selectbox(key="landscape_level").set_value(1).run()
    assert not at.exception and not at.error
    assert not frame_with(at, "saturation_score")["category"].str.contains(" > ").any()


def test_saturation_downloads_and_map_escape(app_env):
    from diffscan.ui import saturation

    path, key = str(app_env.path), state.stamp(app_env.path)
    landscape = state.landscape_of(path, key, None)
    files = {d.file_name: d.data.decode("utf-8") for d in saturation.saturation_downloads(landscape)}
    categories = list(csv.DictReader(io.StringIO(files["categories.csv"])))
    assert len(categories) == len(landscape.categories) and "saturation_score" in categories[0]
    assert len(list(csv.DictReader(io.StringIO(files["clusters.csv"])))) == len(landscape.clusters)
    points = state.landscape_map_of(path, key, None, "category").copy()
    points.loc[0, "title"] = "<a href='http://x'>click</a>"
    fig = saturation.map_figure(points, "category")
    hover = [name for trace in fig.data for name in trace.hovertext if name is not None]
    assert any("&lt;a href=&#x27;http://x&#x27;&gt;click&lt;/a&gt;" in h for h in hover) and not any("<a " in h for h in hover)
    assert any("look-alike listing" in h for h in hover)  # hover says why a point is crowded


def test_formulas_are_drawn_once_their_expander_opens(app_env):
    from diffscan.analyses.landscape import SATURATION_FORMULA
    from diffscan.analyses.niches import OPPORTUNITY_FORMULA

    for page, key, formula in (("saturation", "saturation_formula", SATURATION_FORMULA),
                               ("niches", "niche_formula", OPPORTUNITY_FORMULA.replace("; ", ";\n"))):
        at = open_app(page)
        assert formula not in texts(at.code)  # closed: the browser starts no code highlighter
        at.session_state[key] = True  # what opening the expander sets
        at.run()
        assert not at.exception and formula in texts(at.code)


def test_downloads_are_made_when_asked_for():
    from diffscan.ui.common import Download, once

    made = []
    document = once(lambda: made.append(1) or b"{}")
    download = Download("JSON", document, "x.json", "application/json")
    assert made == []  # building the page's buttons makes no file
    assert download.data == b"{}" and download.data == b"{}" and made == [1]


# ---------------------------------------------------------------------------------------------
# Niches page
# ---------------------------------------------------------------------------------------------


def test_niches_page_shortlist_detail_and_filters(app_env):
    from diffscan.ui import niches

    at = open_app("niches")
    assert texts(at.title) == ["Niches"] and not at.error
    shortlist = frame_with(at, "opportunity")
    assert 0 < len(shortlist) <= 20 and list(shortlist["rank"]) == list(range(1, len(shortlist) + 1))
    assert {"CSV", "JSON", "Markdown"} <= {d.label for d in at.download_button}
    assert texts(at.subheader)[-1].startswith("1. ")
    assert any(i for i in texts(at.info))  # the positioning line
    second = int(shortlist["rank"].iloc[1])
    at.selectbox(key=niches.PICK_KEY).set_value(second).run()
    assert texts(at.subheader)[-1].startswith(f"{second}. ")
    word = shortlist["category"].iloc[0].split(" > ")[-1].split()[0]
    at.text_input(key="niche_filter").input(word).run()
    shown = frame_with(at, "opportunity")
    assert 0 < len(shown) <= len(shortlist)
    assert (shown["name"] + shown["category"] + shown["usps"].map(" ".join)).str.lower().str.contains(word.lower()).all()
    category = shortlist["category"].iloc[0]
    at.selectbox(key="niche_category").set_value(category).run()
    assert not at.exception
    assert (frame_with(at, "opportunity")["category"].str.startswith(category)).all()


def test_niche_downloads_carry_the_shortlist(app_env):
    from diffscan.ui import niches

    path, key = str(app_env.path), state.stamp(app_env.path)
    found = state.niches_of(path, key, 5, None, None)
    query = {"top": 5, "category": None, "min_demand": None}
    files = {d.file_name: d for d in niches.niche_downloads(found, app_env, query)}
    rows = list(csv.DictReader(io.StringIO(files["niches.csv"].data.decode("utf-8"))))
    assert [r["name"] for r in rows] == [n.name for n in found]
    doc = json.loads(files["niches.json"].data)
    assert doc["schema"] == "diffscan.niches/1" and doc["query"]["top"] == 5 and len(doc["niches"]) == len(found)
    markdown = files["niches.md"].data.decode("utf-8")
    assert markdown.startswith("# Niches in") and files["niches.md"].mime == "text/markdown"
    assert niches.filter_shortlist(niches.shortlist_frame(found), "", ["cluster"])["kind"].eq("cluster").all()


def test_landscape_is_computed_once_across_pages_and_reruns(demo_index, monkeypatch, tmp_path):
    import diffscan.analyses.kept

    copy = tmp_path / "copy"
    shutil.copytree(demo_index.path, copy)
    shutil.rmtree(copy / "analyses", ignore_errors=True)  # what other tests kept: listed, now unreadable
    monkeypatch.setenv("DIFFSCAN_INDEX", str(copy))
    monkeypatch.chdir(tmp_path)
    calls = []
    real = diffscan.analyses.kept.analyze_landscape
    monkeypatch.setattr(diffscan.analyses.kept, "analyze_landscape", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    at = open_app("saturation")
    at.run()
    at.switch_page("diffscan/ui/pages/niches.py").run()
    at.run()
    assert not at.exception and not at.error
    assert len(calls) == 1


# ---------------------------------------------------------------------------------------------
# `diffscan app`
# ---------------------------------------------------------------------------------------------


def test_cli_app_command_line(tmp_path):
    from diffscan.catalog.limits import UPLOAD_LIMIT_MB
    from diffscan.cli import app_command_line

    command = app_command_line(tmp_path / "idx", 8600, True)
    assert command[1:5] == ["-m", "streamlit", "run", str(APP)]
    assert command[-3:] == ["--", "--index", str((tmp_path / "idx").resolve())]
    assert command[command.index("--server.maxUploadSize") + 1] == str(UPLOAD_LIMIT_MB)
    assert command[command.index("--server.port") + 1] == "8600" and "--server.headless" in command
    assert "--" not in app_command_line(None, None, False)
    assert command[command.index("--server.address") + 1] == "127.0.0.1"  # this machine only, no address probing
    assert command[command.index("--browser.serverAddress") + 1] == "localhost"


def test_cli_app_refuses_a_missing_index(tmp_path):
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "diffscan.cli", "app", "--index", str(tmp_path / "none")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "No index at" in res.stderr and "Traceback" not in res.stderr


# ---------------------------------------------------------------------------------------------
# Wording a seller reads, and what the app keeps across pages
# ---------------------------------------------------------------------------------------------


def test_the_listing_box_keeps_its_text_across_pages(app_env):
    at = open_app()
    at = paste(at, "Stainless steel water bottle 750ml")
    at.selectbox(key="paste_category").set_value(at.selectbox(key="paste_category").options[1])
    at.switch_page("diffscan/ui/pages/saturation.py").run()
    at.switch_page("diffscan/ui/pages/competitors.py").run()
    assert not at.exception
    assert at.text_area(key="paste_text").value == "Stainless steel water bottle 750ml"
    assert any("Ranked competitors" in s for s in texts(at.subheader) + texts(at.markdown))


def test_no_command_line_phrases_in_the_app(app_env):
    phrases = ("--level", "overrides it", "server.maxUploadSize", "config.toml", "diffscan build --", "(s)")
    for page in ("competitors", "saturation", "niches", "catalog"):
        at = open_app(page)
        seen = " ".join(texts(at.caption) + texts(at.markdown) + texts(at.info) + texts(at.title))
        seen += " ".join(str(getattr(w, "label", "")) + str(getattr(w, "help", "") or "") for w in at.get("file_uploader"))
        assert not [p for p in phrases if p in seen], (page, [p for p in phrases if p in seen])
    from diffscan.ui.common import CONTROLS

    assert not any("`diffscan" in text or "--" in text for text in CONTROLS.values())


# ---------------------------------------------------------------------------------------------
# Tables a seller reads
# ---------------------------------------------------------------------------------------------


def test_competitor_table_reads_like_a_seller_wants(app_env):
    at = open_app()
    at.text_area(key="paste_text").input("Stainless Steel Insulated Water Bottle 750ml, leak proof")
    at.number_input(key="paste_price").set_value(20.0)
    at = button(at, "Find competitors").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    columns = list(table.columns)
    assert columns[:8] == ["rank", "match", "title", "price", "price_vs_query", "rating", "review_count", "brand"]
    assert columns[-1] == "listing_id" and "url" in columns  # the id last, the link when the catalog has one
    assert table["url"].str.startswith("https://").all()
    assert table["price_vs_query"].str.contains(r"^(?:\d+% (?:cheaper|dearer)|same price)$").all()
    # shown as text so an unknown one is a dash: Streamlit writes a missing number as "None"
    ratings = table["rating"][table["rating"] != "—"].astype(float)
    assert len(ratings) and ratings.between(0, 5).all()
    assert table["review_count"].str.fullmatch(r"[\d,]+|—").all() and table["price"].str.fullmatch(r"[\d,.]+|—").all()
    assert "None" not in table.astype(str).to_numpy() and "nan" not in table.astype(str).to_numpy()
    suggestions = frame_with(at, "examples")
    if len(suggestions):  # "stated by e.g." names listings by their titles, not their ids
        ids = set(app_env.listings["listing_id"])
        titles = set(app_env.listings["title"])
        examples = [e for row in suggestions["examples"] for e in row]
        assert examples and not set(examples) & ids and set(examples) <= titles


def test_competitor_table_leaves_a_missing_price_blank():
    from diffscan.analyses.competitors import Competitor, CompetitorResult
    from diffscan.present import export
    from diffscan.ui import competitors as page

    base = dict(listing_id="0f" * 16, title="Mug", brand="", category="Home", score=0.5, semantic=0.5, lexical=0.1,
                fuzzy=0.2, code_match=False, same_category=True, near_duplicate=False, kind="substitute")
    result = CompetitorResult("mug", None, [Competitor(rank=1, price=None, **base), Competitor(rank=2, price=3.5, **base)])
    frame = page.competitor_frame(result)
    assert frame["price"].isna().iloc[0] and frame["price"].iloc[1] == 3.5 and "url" not in frame  # no links: no column
    csv_text = export.to_csv(frame)
    assert "None" not in csv_text and csv_text.splitlines()[0].startswith("rank,match,title,price,price_vs_query")
    downloads = {d.file_name: d.data.decode("utf-8") for d in page.competitor_downloads(result)}
    assert "None" not in downloads["competitors.csv"] and '"price": null' in downloads["competitors.json"]


def test_niche_detail_lists_competitors_by_title_with_price_position(app_env):
    at = open_app("niches")
    top = frame_with(at, "price_vs_niche")
    assert list(top.columns[:4]) == ["title", "price", "price_vs_niche", "rating"] and top.columns[-1] == "listing_id"
    assert top["title"].isin(set(app_env.listings["title"])).all()
    positions = top["price_vs_niche"][top["price"] != "—"]
    assert positions.str.contains(r"^(?:\d+% (?:cheaper|dearer)|same price)$").all()
    every = frame_with(at, "brand")
    assert list(at.dataframe[-1].value.columns)[0] == "title" or "title" in every.columns


def test_map_search_highlights_matching_listings(app_env):
    at = open_app("saturation")
    at.text_input(key="map_search").input("yoga mat").run()
    assert not at.exception
    assert any("listings match" in c and "yoga mat" in c for c in texts(at.caption))
    at.text_input(key="map_search").input("zzzz-no-such-listing").run()
    assert any("No listing matches" in c for c in texts(at.caption))


def test_a_selection_on_the_map_lists_its_listings(app_env):
    from diffscan.ui import saturation, state

    path, key = str(app_env.path), state.stamp(app_env.path)
    points = state.landscape_map_of(path, key, None, "category")
    fig = saturation.map_figure(points, "category", "yoga mat")
    ids = [i for t in fig.data if t.customdata is not None for i in t.customdata]
    assert len(ids) == saturation.search_mask(points, "yoga mat").sum()  # only the highlighted points are pickable
    picked = [{"curve_number": 1, "point_index": 0, "customdata": ids[0]}, {"customdata": ids[1]}, {"x": 0.0}]
    chosen = saturation.selected_listings(points, picked)
    assert list(chosen.columns) == saturation.SELECTED_COLUMNS and set(chosen["listing_id"]) == {ids[0], ids[1]}
    assert saturation.selected_listings(points, []).empty
    at = open_app("saturation")
    assert not at.exception and any("Drag a box" in c for c in texts(at.caption))
