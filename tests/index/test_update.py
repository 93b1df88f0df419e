"""`build --update`: add, change and delete listings against an existing index, embedding only what changed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from diffscan.analyses.competitors import find_competitors
from diffscan.encoder.local import Encoder
from diffscan.errors import IndexFormatError, MappingError, ModelError
from diffscan.index.build import build_index
from diffscan.index.store import load_index


def rows(n: int = 30) -> list[dict]:
    colours = ["red", "blue", "green", "black", "white"]
    return [{"sku": f"S{i:03d}", "label": f"{colours[i % 5]} steel water bottle {500 + 10 * i} ml",
             "maker": f"Maker{i % 3}", "cost": f"{10 + i}.50"} for i in range(n)]


def write(path, data) -> str:
    pd.DataFrame(data).to_csv(path, index=False)
    return str(path)


MAPPING = {"listing_id": "sku", "title": "label", "brand": "maker", "price": "cost"}


@pytest.fixture
def spy(monkeypatch):
    """Every text that reaches a model's encode()."""
    seen: list[str] = []
    original = Encoder.encode

    def encode(self, texts, **kwargs):
        seen.extend(texts)
        return original(self, texts, **kwargs)

    monkeypatch.setattr(Encoder, "encode", encode)
    return seen


def new_export():
    data = rows()
    data[4]["label"] = "titanium camping mug 350 ml"  # changed text
    data[9]["cost"] = "99.00"  # changed price only
    del data[20]  # deleted
    data.append({"sku": "N001", "label": "bamboo lunch box", "maker": "Maker9", "cost": "7.00"})  # added
    data.insert(0, {"sku": "N002", "label": "glass water bottle 1 l", "maker": "Maker1", "cost": "8.00"})
    return data


def test_update_adds_changes_deletes_and_embeds_only_the_changed(tmp_path, spy):
    first = write(tmp_path / "a.csv", rows())
    build_index(first, tmp_path / "idx", mapping=MAPPING, cache_dir=tmp_path / "cache")
    before = load_index(tmp_path / "idx")
    spy.clear()
    second = write(tmp_path / "b.csv", new_export())
    index, report, stats = build_index(second, tmp_path / "idx", update=True, cache_dir=tmp_path / "cache2")
    assert stats == {"embedded": 3, "cached": 0, "added": 2, "changed": 1, "unchanged": 28, "deleted": 1}
    assert sorted(t.split(" | ")[0] for t in spy) == ["bamboo lunch box", "glass water bottle 1 l",
                                                      "titanium camping mug 350 ml"]
    ids = index.listings["listing_id"].tolist()
    assert ids[0] == "N002" and ids[-1] == "N001" and "S020" not in ids and len(ids) == 31
    assert index.listings.set_index("listing_id").at["S009", "price"] == pytest.approx(99.0)
    assert index.manifest["update"]["deleted"] == 1
    for lid in ("S000", "S013", "S029"):  # unchanged listings keep their vectors bit for bit
        assert np.array_equal(index.vectors[index.row_of(lid)], before.vectors[before.row_of(lid)])


def test_update_equals_a_full_rebuild(tmp_path):
    build_index(write(tmp_path / "a.csv", rows()), tmp_path / "idx", mapping=MAPPING)
    second = write(tmp_path / "b.csv", new_export())
    updated, _, _ = build_index(second, tmp_path / "idx", update=True)
    full, _, _ = build_index(second, tmp_path / "full", mapping=MAPPING)
    pd.testing.assert_frame_equal(updated.listings, full.listings)
    assert np.allclose(updated.vectors, full.vectors, atol=1e-5)
    assert np.allclose(updated.idf, full.idf)
    assert np.array_equal(updated.lexical.indices, full.lexical.indices)
    assert np.allclose(updated.lexical.data, full.lexical.data, atol=1e-6)
    query = "steel bottle 600 ml"
    a = find_competitors(updated, query, k=5).competitors
    b = find_competitors(full, query, k=5).competitors
    assert [c.listing_id for c in a] == [c.listing_id for c in b]


def test_update_keeps_the_model_and_refuses_another(tmp_path):
    first = write(tmp_path / "a.csv", rows(5))
    build_index(first, tmp_path / "idx", mapping=MAPPING)
    import shutil

    from diffscan.encoder.local import load_encoder

    other = tmp_path / "other-model"
    shutil.copytree(load_encoder().path, other)
    cfg = other / "config_sentence_transformers.json"
    cfg.write_text(cfg.read_text().replace("{", '{"note": "changed",', 1))
    with pytest.raises(ModelError, match="An update keeps the index's model"):
        build_index(first, tmp_path / "idx", update=True, model=str(other))


def test_update_without_an_index_says_so(tmp_path):
    with pytest.raises(IndexFormatError, match="No index"):
        build_index(write(tmp_path / "a.csv", rows(3)), tmp_path / "missing", update=True)


def test_failed_update_keeps_the_old_index(tmp_path):
    build_index(write(tmp_path / "a.csv", rows(6)), tmp_path / "idx", mapping=MAPPING)
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,colour\n1,red\n")
    with pytest.raises(MappingError, match="column 'label' .* is not in"):
        build_index(bad, tmp_path / "idx", update=True)
    assert len(load_index(tmp_path / "idx")) == 6


def test_update_of_a_large_index_rebuilds_its_graph(tmp_path):
    build_index(write(tmp_path / "a.csv", rows()), tmp_path / "idx", mapping=MAPPING, ann=True)
    index, _, stats = build_index(write(tmp_path / "b.csv", new_export()), tmp_path / "idx", update=True, ann=True)
    assert index.manifest["search"]["semantic"] == "ann" and len(index.ann) == len(index) == 31
    assert stats["added"] == 2
    top = find_competitors(index, "bamboo lunch box", k=1).competitors[0]
    assert top.listing_id == "N001"


def test_cli_update(tmp_path):
    from diffscan.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["build", write(tmp_path / "a.csv", rows(8)), "--out", str(tmp_path / "idx"),
                              "--map", "title=label", "--map", "id=sku"])
    assert res.exit_code == 0, res.output
    data = rows(8)
    data[2]["label"] = "copper kettle"
    res = runner.invoke(app, ["build", write(tmp_path / "b.csv", data[:7]), "--out", str(tmp_path / "idx"), "--update"])
    assert res.exit_code == 0, res.output
    assert "0 added, 1 changed, 1 deleted, 6 unchanged" in res.stdout
