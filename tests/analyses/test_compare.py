"""Snapshot comparison: matching by id, text and near-duplicate; categories, clusters, niches, watchlist,
series; exports and the `compare` command; neither index modified."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from diffscan.analyses.compare import COMPARE, compare_indexes, compare_series, match_listings
from diffscan.catalog.readers import read_listing_lines
from diffscan.cli import app
from diffscan.errors import CatalogError, QueryError
from diffscan.index.build import build_index
from diffscan.present import export

from diffscan.catalog.demo import DEMO_CATALOG

CLONE_CATEGORY = "Pet Supplies > Dogs > Dog Beds"
CLONES = 40
MARKUP = '=HYPERLINK("http://evil.example") [bold]x[/bold] <b>$\\frac{1}$</b>'


def _digest(path) -> str:
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(path)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def snapshots(demo_index, tmp_path_factory):
    """The demo index (old) and a new export of it: 10 listings gone, 10 repriced, 10 with new ids, one with a
    new id and an edited title, CLONES edited clones of dog beds (one with markup) added."""
    df = pd.read_csv(DEMO_CATALOG, dtype=str, keep_default_na=False)
    new = df.iloc[10:].copy().reset_index(drop=True)
    new.loc[0:9, "price"] = "$199.00"
    new.loc[10:19, "listing_id"] = [f"NEWID-{i}" for i in range(10)]
    new.loc[20, "listing_id"] = "NEWID-edited"
    new.loc[20, "title"] = new.loc[20, "title"] + " (new)"
    beds = df.iloc[31:][df["category"].iloc[31:] == CLONE_CATEGORY]  # clones of listings that stay, ids kept
    rng = np.random.default_rng(0)
    clones = beds.iloc[rng.integers(0, len(beds), CLONES)].copy()
    watched = clones["listing_id"].iat[1]  # clone 0 carries markup; clone 1 is a plain twin of this listing
    clones["listing_id"] = [f"CLONE-{i}" for i in range(CLONES)]
    clones["title"] = [f"{t} Size {['S', 'M', 'L', 'XL'][i % 4]}" for i, t in enumerate(clones["title"])]
    clones.iloc[0, clones.columns.get_loc("title")] = MARKUP + " Orthopedic Dog Bed"
    folder = tmp_path_factory.mktemp("snapshots")
    pd.concat([new, clones], ignore_index=True).to_csv(folder / "new.csv", index=False)
    new_index, _, _ = build_index(folder / "new.csv", folder / "new")
    return demo_index, new_index, df, watched


@pytest.fixture(scope="module")
def comparison(snapshots):
    old, new, df, watched = snapshots
    before = (_digest(old.path), _digest(new.path))
    result = compare_indexes(old, new, watch=[watched], watch_texts=["Orthopedic memory foam dog bed, washable cover"])
    assert (_digest(old.path), _digest(new.path)) == before, "a comparison modified an index"
    return result


def test_listings_matched_by_id_text_and_near_duplicate(snapshots, comparison):
    old, new, df, _ = snapshots
    rows = comparison.listings.set_index(comparison.listings["old_id"].where(comparison.listings["old_id"] != "",
                                                                             comparison.listings["new_id"]))
    assert comparison.counts["removed"] == 10
    assert set(rows.index[rows["status"] == "removed"]) == set(df["listing_id"].iloc[:10])
    assert comparison.counts["added"] == CLONES
    repriced = rows.loc[df["listing_id"].iloc[10:20]]
    assert (repriced["status"] == "changed").all() and (repriced["changed_fields"] == "price").all()
    assert (repriced["new_price"] == 199.0).all()
    assert np.allclose(repriced["price_change"], 199.0 / repriced["old_price"] - 1)
    rewritten = rows.loc[df["listing_id"].iloc[20:30]]
    assert (rewritten["matched_by"] == "text").all() and (rewritten["status"] == "unchanged").all()
    assert rewritten["new_id"].tolist() == [f"NEWID-{i}" for i in range(10)]
    edited = rows.loc[df["listing_id"].iat[30]]
    assert edited["matched_by"] == "near_duplicate" and edited["new_id"] == "NEWID-edited"
    assert edited["status"] == "changed" and "title" in edited["changed_fields"]
    assert comparison.counts["unchanged"] == len(df) - 10 - 10 - 1
    assert sum(comparison.counts[k] for k in ("added", "removed", "changed", "unchanged")) == len(comparison.listings)


def test_without_rematching_rewritten_ids_are_added_and_removed(snapshots):
    old, new, _, _ = snapshots
    pairs = match_listings(old, new, params=COMPARE.__class__(rematch=False))
    assert (pairs["matched_by"] == "id").sum() == len(new) - 11 - CLONES
    assert ((pairs["old_row"] >= 0) & (pairs["new_row"] < 0)).sum() == 10 + 11


def test_cloned_category_rises_first(comparison):
    cats = comparison.categories.set_index("category")
    beds = cats.loc[CLONE_CATEGORY]
    assert beds["rising_rank"] == 1 and beds["saturation_change"] > 0
    assert beds["entrants"] == CLONES and beds["listings_now"] - beds["listings_then"] == CLONES - beds["leavers"]
    assert beds["part_near_duplicates_change"] > 0
    assert beds["saturation_change"] == pytest.approx(beds["saturation_score_now"] - beds["saturation_score_then"])
    assert len(beds["entrant_examples"]) == COMPARE.examples
    both = comparison.categories[comparison.categories["status"] == "both"]
    assert both["saturation_change"].is_monotonic_decreasing
    assert (both["listings_now"] == both["listings_then"] + both["entrants"] - both["leavers"]).all()
    moved = comparison.clusters[comparison.clusters["category"] == CLONE_CATEGORY]
    assert (moved["status"].isin(["grew", "new"])).any() and moved["entrants"].sum() > 0


def test_watchlist_reports_new_twins_and_entrants(comparison):
    by_id, by_text = comparison.watchlist.iloc[0], comparison.watchlist.iloc[1]
    assert by_id["in_old"] and by_id["in_new"]
    assert by_id["new_twins"], "an edited clone of the watched listing is a new twin"
    assert all(c["entrant"] for c in by_id["new_competitors"] if c["listing_id"].startswith("CLONE-"))
    assert by_id["differentiation_now"] < by_id["differentiation_then"]
    assert by_text["watched"].startswith("Orthopedic") and by_text["competitors_now"] == COMPARE.watch_k
    assert any(c["entrant"] for c in by_text["new_competitors"])


def test_an_unknown_watched_id_is_one_sentence(snapshots):
    old, new, _, _ = snapshots
    with pytest.raises(QueryError, match="in neither snapshot") as exc:
        compare_indexes(old, new, watch=["NO-SUCH-ID"])
    assert exc.value.parameter == "watch"


def test_a_snapshot_against_itself_changes_nothing(snapshots):
    old, _, _, _ = snapshots
    same = compare_indexes(old, old)
    assert same.counts["unchanged"] == len(old) and same.counts["added"] == same.counts["removed"] == 0
    assert (same.categories["saturation_change"] == 0).all() and (same.categories["entrants"] == 0).all()
    assert same.clusters.empty and same.niches_opened.empty and same.niches_closed.empty


def test_niche_tables_explain_each_change(comparison):
    for frame in (comparison.niches_opened, comparison.niches_closed):
        assert frame["why"].str.len().gt(0).all()
    opened = comparison.niches_opened
    assert opened["why"].str.match(r"^(new|thinned out|rose|crossed the shortlist's cut|new on the shortlist)").all()
    closed = comparison.niches_closed
    assert closed["why"].str.match(r"^(filled up|emptied|fell|outranked|off the shortlist)").all()


def test_series_of_three_snapshots(snapshots):
    old, new, _, _ = snapshots
    series = compare_series([old, new, new], names=["jan", "feb", "mar"])
    assert series.snapshots == ["jan", "feb", "mar"]
    beds = series.trend[series.trend["category"] == CLONE_CATEGORY].sort_values("order")
    assert beds["order"].tolist() == [0, 1, 2]
    assert beds["listings"].tolist()[1] == beds["listings"].tolist()[0] - 0 + CLONES - _removed_beds(old)
    with pytest.raises(QueryError, match="at least two"):
        compare_series([old])


def _removed_beds(old) -> int:
    return int((old.listings["category_path"].map(" > ".join).iloc[:10] == CLONE_CATEGORY).sum())


def test_exports_hold_every_table_and_keep_markup_as_text(comparison, tmp_path):
    document = json.loads(export.to_json(comparison.to_dict()))
    assert document["schema"] == "diffscan.comparison/1"
    assert {"listings", "categories", "clusters", "niches_opened", "niches_closed", "watchlist"} <= set(document)
    assert len(document["listings"]) == len(comparison.listings)
    written = export.comparison_csvs(comparison.tables(), tmp_path / "changes.csv")
    assert sorted(p.name for p in written) == sorted(f"changes.{t}.csv" for t in comparison.TABLES)
    listings_csv = (tmp_path / "changes.listings.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in listings_csv and '\n=HYPERLINK' not in listings_csv
    report = export.comparison_report(comparison.to_dict())
    assert "## Categories by rising saturation" in report and "<b>" not in report and "\\[bold\\]" in report


def test_cli_compare(snapshots, tmp_path):
    old, new, df, _ = snapshots
    runner = CliRunner()
    res = runner.invoke(app, ["compare", str(old.path), str(new.path), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["counts"]["added"] == CLONES
    watch = tmp_path / "mine.txt"
    watch.write_bytes("橙色狗窝 记忆棉 可拆洗\n\nOrthopedic dog bed\n".encode("gbk"))
    res = runner.invoke(app, ["compare", str(old.path), str(new.path), "--watch-file", str(watch), "--top", "3",
                              "--export", str(tmp_path / "c.md")])
    assert res.exit_code == 0, res.output
    assert "Categories by rising saturation" in res.stdout and "橙色狗窝" in res.stdout
    assert (tmp_path / "c.md").read_text(encoding="utf-8").startswith("# Changes from")
    res = runner.invoke(app, ["compare", str(old.path), str(new.path), str(new.path), "--export", str(tmp_path / "s.csv"),
                              "--chart", str(tmp_path / "s.html")])
    assert res.exit_code == 0, res.output
    assert "Saturation over the snapshots" in res.stdout and (tmp_path / "s.trend.csv").exists()
    assert "Saturation over the snapshots" in (tmp_path / "s.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("args, message", [
    (["compare", "OLD"], "at least two index folders"),
    (["compare", "OLD", "NEW", "--export", "x.xlsx"], "must end in .csv, .json or .md"),
    (["compare", "OLD", "NEW", "--chart", "x.gif"], "must end in .html or .png"),
    (["compare", "OLD", "NEW", "--format", "xml"], "Unknown --format"),
])
def test_cli_compare_errors_are_one_sentence(snapshots, args, message):
    old, new, _, _ = snapshots
    args = [str(old.path) if a == "OLD" else str(new.path) if a == "NEW" else a for a in args]
    res = CliRunner().invoke(app, args)
    assert res.exit_code != 0 and isinstance(res.exception, (QueryError, SystemExit))
    assert message in str(res.exception) or message in res.output


def test_listing_lines_read_any_encoding_and_refuse_what_is_not_one(tmp_path):
    f = tmp_path / "mine.txt"
    f.write_bytes("儿童竹牙刷 4支装\r\n\r\n  Bamboo toothbrush  \n".encode("gb18030"))
    assert read_listing_lines(f) == ["儿童竹牙刷 4支装", "Bamboo toothbrush"]
    f.write_text("x" * 2000 + "\n", encoding="utf-8")
    assert read_listing_lines(f, max_chars=500) == ["x" * 500]
    f.write_text("\n \n", encoding="utf-8")
    with pytest.raises(CatalogError, match="no listing"):
        read_listing_lines(f)
    f.write_text("a\n" * 10_001, encoding="utf-8")
    with pytest.raises(CatalogError, match="at most 10,000"):
        read_listing_lines(f)
    with pytest.raises(CatalogError, match="not found"):
        read_listing_lines(tmp_path / "missing.txt")
