"""Analyses kept in the index folder: read back equal to a fresh computation, checked, keyed, bounded."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from diffscan.analyses import kept
from diffscan.analyses import landscape as landscape_module
from diffscan.analyses import niches as niches_module
from diffscan.analyses.landscape import SATURATION, analyze_landscape
from diffscan.analyses.projection import ProjectionParams
from diffscan.errors import IndexFormatError
from diffscan.index import results
from diffscan.index.store import load_index


@pytest.fixture
def index(demo_index, tmp_path):
    """A private copy of the demo index without what other tests kept, so each test writes its own."""
    shutil.copytree(demo_index.path, tmp_path / "index")
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    manifest.pop("analyses", None)
    (tmp_path / "index" / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(tmp_path / "index" / results.RESULTS_DIR, ignore_errors=True)
    return load_index(tmp_path / "index")


def _forbid(monkeypatch, module, name):
    def refuse(*args, **kwargs):
        raise AssertionError(f"{name} ran although its result was kept")

    monkeypatch.setattr(module, name, refuse)


def test_kept_landscape_reads_back_equal_and_is_not_computed_again(index, monkeypatch):
    first = kept.landscape(index)
    fresh = analyze_landscape(index)
    again_index = load_index(index.path)  # a new process would load the folder again
    _forbid(monkeypatch, kept, "analyze_landscape")
    again = kept.landscape(again_index)
    for name in ("assignments", "clusters", "categories"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(fresh, name))
        pd.testing.assert_frame_equal(getattr(first, name), getattr(fresh, name))
    assert (again.level, again.note) == (fresh.level, fresh.note)
    assert isinstance(again.clusters["keywords"].iloc[0], list)


def test_kept_entries_are_listed_in_the_manifest_and_the_index_still_loads(index):
    kept.landscape(index)
    manifest = json.loads((index.path / "manifest.json").read_text())
    key = kept.landscape_key(index)
    entry = manifest["analyses"][key]
    assert key.startswith("landscape-") and entry["kind"] == "landscape"
    for name, listed in entry["files"].items():
        path = index.path / results.RESULTS_DIR / name
        assert path.stat().st_size == listed["bytes"]
    reloaded = load_index(index.path)
    assert key in [e["key"] for e in results.kept_entries(reloaded)]


def test_an_altered_kept_file_is_computed_again(index, monkeypatch):
    expected = kept.landscape(index).categories
    folder = index.path / results.RESULTS_DIR
    victim = next(folder.glob("*.categories.parquet"))
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    calls = []
    real = kept.analyze_landscape
    monkeypatch.setattr(kept, "analyze_landscape", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = kept.landscape(load_index(index.path))
    assert calls == [1]
    pd.testing.assert_frame_equal(again.categories, expected)
    assert kept.landscape(load_index(index.path)) is not None and calls == [1]  # kept again, read this time


def test_other_parameters_or_levels_are_kept_apart(index):
    a = kept.landscape_key(index, None)
    assert kept.landscape_key(index, 1) != a
    stricter = type(SATURATION)(knn=SATURATION.knn + 1)
    assert kept.landscape_key(index, None, params=stricter) != a
    assert kept.landscape_key(load_index(index.path), None) == a  # the same index and parameters: the same key


def test_the_key_changes_with_the_index_files(index):
    before = kept.landscape_key(index)
    index.manifest["files"]["vectors.npy"] = {**index.manifest["files"]["vectors.npy"], "sha256": "0" * 64}
    assert kept.landscape_key(index) != before


def test_kept_niches_and_pool_read_back_equal(index, monkeypatch):
    land = kept.landscape(index)
    chosen, pool = kept.niches_and_pool(index, land, top=5)
    fresh, fresh_pool = niches_module.niches_and_pool(index, land, top=5)
    again_index = load_index(index.path)
    _forbid(monkeypatch, niches_module, "niches_and_pool")
    _forbid(monkeypatch, landscape_module, "analyze_landscape")
    again, again_pool = kept.niches_and_pool(again_index, kept.landscape(again_index), top=5)
    assert [n.to_dict() for n in again] == [n.to_dict() for n in fresh] == [n.to_dict() for n in chosen]
    assert all(type(u).__name__ == "Point" for n in again for u in n.usps)
    pd.testing.assert_frame_equal(again_pool.drop(columns="rows"), fresh_pool.drop(columns="rows"))
    assert all(np.array_equal(a, b) and a.dtype == np.int64 for a, b in zip(again_pool["rows"], fresh_pool["rows"]))
    assert kept.niches(again_index, top=5)[0].to_dict() == fresh[0].to_dict()


def test_map_coordinates_are_kept(index, monkeypatch):
    params = ProjectionParams(sample=200, tsne_iterations=250)
    xy = kept.map_coordinates(index, params)
    _forbid(monkeypatch, kept, "project")
    again = kept.map_coordinates(load_index(index.path), params)
    assert again.shape == (len(index), 2) and np.array_equal(again, xy)


def test_a_folder_that_cannot_be_written_keeps_nothing_but_answers(index):
    (index.path / results.RESULTS_DIR).write_text("not a folder")  # mkdir fails as it would on a read-only disk
    land = kept.landscape(index)
    assert len(land.assignments) == len(index)
    assert kept.landscape_key(index) not in json.loads((index.path / "manifest.json").read_text()).get("analyses", {})


def test_nothing_is_kept_for_an_index_rebuilt_under_the_reader(index):
    manifest = json.loads((index.path / "manifest.json").read_text())
    manifest["files"]["vectors.npy"]["sha256"] = "f" * 64  # the folder now holds another index
    (index.path / "manifest.json").write_text(json.dumps(manifest))
    assert not results.keep(index, "landscape-x", results.Kept(meta={"level": 1}))


def test_entries_are_bounded_and_dropped_files_removed(index, monkeypatch):
    monkeypatch.setattr(results, "MAX_KEPT", 2)
    for i in range(4):
        assert results.keep(index, f"map-{i}", results.Kept(arrays={"xy": np.full((3, 2), i)}))
    assert sorted(results._entries(json.loads((index.path / "manifest.json").read_text()))) == ["map-2", "map-3"]
    assert sorted(p.name for p in (index.path / results.RESULTS_DIR).iterdir()) == ["map-2.xy.npy", "map-3.xy.npy"]
    assert results.read_kept(index, "map-1") is None
    assert results.read_kept(index, "map-3").arrays["xy"][0, 0] == 3


def test_a_kept_file_outside_the_folder_is_refused_at_load(index):
    manifest = json.loads((index.path / "manifest.json").read_text())
    manifest["analyses"] = {"map-x": {"kind": "map", "files": {"../../etc/passwd": {"sha256": "0", "bytes": 1}}}}
    (index.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="outside the index folder"):
        load_index(index.path)


def test_a_malformed_analyses_section_is_one_sentence(index):
    manifest = json.loads((index.path / "manifest.json").read_text())
    manifest["analyses"] = {"map-x": {"kind": 3, "files": {}}}
    (index.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="analyses"):
        load_index(index.path)


def test_an_update_recomputes_only_the_categories_whose_listings_changed(tmp_path, monkeypatch):
    from diffscan.catalog.demo import DEMO_CATALOG
    from diffscan.index.build import build_index

    frame = pd.read_csv(DEMO_CATALOG, dtype=str)
    frame.to_csv(tmp_path / "old.csv", index=False)
    first, _, _ = build_index(tmp_path / "old.csv", tmp_path / "index")
    before = kept.landscape(first)
    categories = before.categories["category"].tolist()
    assert kept.kept_entries(first)[0]["meta"]["categories_reused"] == 0
    # Edit the titles of one leaf category's listings: only that category's clusters may change.
    leaf = frame["category"].value_counts().index[0]
    edited = frame["category"] == leaf
    frame.loc[edited, "title"] = frame.loc[edited, "title"] + " (new edition)"
    frame.to_csv(tmp_path / "new.csv", index=False)
    updated, _, stats = build_index(tmp_path / "new.csv", tmp_path / "index", update=True)
    assert stats["changed"] == int(edited.sum())
    assert any(e["kind"] == "landscape" for e in kept.kept_entries(updated))  # carried over by the update
    seen = []
    real = kept.CategoryReuse.__call__
    monkeypatch.setattr(kept.CategoryReuse, "__call__",
                        lambda self, c, rows: (lambda r: seen.append((c, r is not None)) or r)(real(self, c, rows)))
    after = kept.landscape(updated)
    recomputed = [c for c, reused in seen if not reused]
    assert len(recomputed) == 1 and recomputed[0].endswith(leaf.split(" > ")[-1])
    assert len(seen) == len(categories)
    meta = next(e for e in kept.kept_entries(load_index(updated.path)) if e["key"] == kept.landscape_key(updated))["meta"]
    assert (meta["categories_reused"], meta["categories_computed"]) == (len(categories) - 1, 1)
    # Unchanged categories keep their clusters and groups; the whole equals a fresh analysis of the update.
    fresh = analyze_landscape(updated)
    pd.testing.assert_frame_equal(after.assignments, fresh.assignments)
    pd.testing.assert_frame_equal(after.categories, fresh.categories)
