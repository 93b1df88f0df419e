"""Putting an index in place: `--out` checked before any work, a swap that never leaves `out` without an
index, one build of an `out` at a time, leftovers of killed builds cleaned, and embedding work kept when a
build is killed. A fake embedder (the build takes its embedder as an object) keeps these fast."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd
import pytest

from diffscan.encoder import local
from diffscan.errors import CatalogError, IndexFormatError
from diffscan.index import swap
from diffscan.index.build import build_index
from diffscan.index.store import load_index


class FakeEmbedder:
    """Deterministic 8-d vectors from a text's hash; counts the texts it embedded."""

    model_id = "fake@1"
    dimension = 8
    caches = True

    def __init__(self) -> None:
        self.embedded = 0

    def encode(self, texts, *, progress=None, cache=None):
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        keys = [local.text_key(t) for t in texts] if cache is not None else []
        hits = cache.get(keys) if cache is not None else {}
        todo = [i for i in range(len(texts)) if not keys or keys[i] not in hits]
        for i, k in enumerate(keys):
            if k in hits:
                out[i] = hits[k]
        for n, i in enumerate(todo, 1):
            v = np.frombuffer(hashlib.sha256(texts[i].encode()).digest()[:32], dtype=np.uint8)[:8]
            out[i] = (v.astype(np.float32) + 1) / np.linalg.norm(v.astype(np.float32) + 1)
            self.embedded += 1
            if cache is not None:
                cache.put([keys[i]], out[i : i + 1])
            if progress:
                progress(len(texts) - len(todo) + n, len(texts))
        return out


@pytest.fixture()
def fake():
    embedder = FakeEmbedder()
    opened = []

    def open_embedder(spec):
        opened.append(spec)
        return embedder

    open_embedder.opened = opened
    open_embedder.embedder = embedder
    return open_embedder


def _catalog(path, n=12, word="mug"):
    pd.DataFrame({"id": [f"L{i}" for i in range(n)], "title": [f"ceramic {word} number {i}" for i in range(n)],
                  "brand": ["Kiln"] * n}).to_csv(path, index=False)
    return path


def test_out_that_is_a_file_is_refused_before_the_model_loads(tmp_path, fake):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    with pytest.raises(IndexFormatError, match="is a file") as caught:
        build_index(_catalog(tmp_path / "c.csv"), target, embedder=fake, cache_dir=tmp_path / "cache")
    assert caught.value.parameter == "out"
    assert fake.opened == [] and target.read_text() == "keep me"


def test_foreign_folder_with_a_manifest_is_never_replaced(tmp_path, fake):
    site = tmp_path / "webapp"
    site.mkdir()
    (site / "manifest.json").write_text('{"name": "my web app", "icons": []}')
    (site / "index.html").write_text("<html></html>")
    with pytest.raises(IndexFormatError, match="not a diffscan index"):
        build_index(_catalog(tmp_path / "c.csv"), site, embedder=fake, cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "manifest.json"] and fake.opened == []


def test_empty_folder_and_existing_index_are_replaced(tmp_path, fake):
    out = tmp_path / "idx"
    out.mkdir()
    build_index(_catalog(tmp_path / "a.csv", 5), out, embedder=fake, cache_dir=tmp_path / "cache")
    assert len(load_index(out)) == 5
    build_index(_catalog(tmp_path / "b.csv", 7), out, embedder=fake, cache_dir=tmp_path / "cache")
    assert len(load_index(out)) == 7
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".idx.") and not p.name.endswith(".lock")]


def test_bad_catalog_fails_before_the_model_loads(tmp_path, fake):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,colour\n1,red\n")
    with pytest.raises(CatalogError, match="no title column"):
        build_index(bad, tmp_path / "idx", embedder=fake, cache_dir=tmp_path / "cache")
    assert fake.opened == []


def test_second_build_of_one_out_stops_with_a_message(tmp_path, fake):
    out = tmp_path / "idx"
    with swap.BuildLock(out), pytest.raises(IndexFormatError, match="Another build is writing"):
        build_index(_catalog(tmp_path / "c.csv"), out, embedder=fake, cache_dir=tmp_path / "cache")
    build_index(_catalog(tmp_path / "c.csv"), out, embedder=fake, cache_dir=tmp_path / "cache")  # lock released
    assert len(load_index(out)) == 12


def test_leftovers_of_killed_builds_are_cleaned(tmp_path, fake):
    out = tmp_path / "idx"
    build_index(_catalog(tmp_path / "c.csv"), out, embedder=fake, cache_dir=tmp_path / "cache")
    for kind in ("tmp", "spill", "old"):
        leftover = swap.sibling(out, kind, pid=999_999)
        leftover.mkdir()
        (leftover / "vectors.npy").write_bytes(b"\0" * 1000)
    build_index(_catalog(tmp_path / "c.csv"), out, embedder=fake, cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".idx")) == [".idx.lock"]


def test_swap_exchanges_folders(tmp_path, fake):
    out = tmp_path / "idx"
    build_index(_catalog(tmp_path / "a.csv", 5), out, embedder=fake, cache_dir=tmp_path / "cache")
    new = tmp_path / "new"
    build_index(_catalog(tmp_path / "b.csv", 9), new, embedder=fake, cache_dir=tmp_path / "cache")
    swap.swap_into_place(new, out)
    assert len(load_index(out)) == 9 and not new.exists()


def test_interrupted_two_step_swap_is_recovered_by_the_next_load(tmp_path, fake, monkeypatch):
    out = tmp_path / "idx"
    build_index(_catalog(tmp_path / "a.csv", 5), out, embedder=fake, cache_dir=tmp_path / "cache")
    monkeypatch.setattr(swap, "_exchange", lambda a, b: False)  # a system without renameat2
    real_replace = os.replace

    def killed_after_first_rename(src, dst):
        if str(src).startswith(str(swap.sibling(out, "tmp"))):
            raise KeyboardInterrupt  # the process dies between the two renames
        real_replace(src, dst)

    monkeypatch.setattr(swap.os, "replace", killed_after_first_rename)
    with pytest.raises(KeyboardInterrupt):
        build_index(_catalog(tmp_path / "b.csv", 9), out, embedder=fake, cache_dir=tmp_path / "cache")
    monkeypatch.setattr(swap.os, "replace", real_replace)
    assert not out.exists()  # the old index is stranded beside it
    assert len(load_index(out)) == 5  # ... and put back by the next load
    build_index(_catalog(tmp_path / "b.csv", 9), out, embedder=fake, cache_dir=tmp_path / "cache")
    assert len(load_index(out)) == 9


def test_killed_build_keeps_its_embedding_work(tmp_path, monkeypatch):
    """The real encoder writes its cache every CACHE_FLUSH_TEXTS texts, not only at the end."""
    monkeypatch.setattr(local, "CACHE_FLUSH_TEXTS", 16)
    catalog = _catalog(tmp_path / "c.csv", 300)

    class Killed(Exception):
        pass

    def kill_midway(stage, done, total):
        if stage == "embed" and total and 150 <= done < total:
            raise Killed

    with pytest.raises(Killed):
        build_index(catalog, tmp_path / "idx", cache_dir=tmp_path / "cache", progress=kill_midway)
    assert not (tmp_path / "idx").exists()
    _, _, stats = build_index(catalog, tmp_path / "idx", cache_dir=tmp_path / "cache")
    assert stats["cached"] >= 128 and stats["embedded"] + stats["cached"] == 300
