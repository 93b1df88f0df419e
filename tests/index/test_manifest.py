"""The manifest is read through a schema: every wrong shape is one IndexFormatError naming the field."""

from __future__ import annotations

import json
import os
import re
import shutil

import pandas as pd
import pytest

from diffscan.errors import IndexFormatError
from diffscan.index.build import build_index
from diffscan.index.store import MAX_MANIFEST_BYTES, load_index, read_manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small valid index, built once; each test tampers a copy."""
    root = tmp_path_factory.mktemp("manifest")
    rows = [{"id": f"P{i}", "title": f"Steel water bottle {i} l", "category": "Sport > Bottles", "price": f"{3 + i}.50"}
            for i in range(12)]
    pd.DataFrame(rows).to_csv(root / "cat.csv", index=False)
    index, _report, _stats = build_index(root / "cat.csv", root / "idx", cache_dir=root / "cache")
    return index.path


@pytest.fixture
def copy(built, tmp_path):
    target = tmp_path / "idx"
    shutil.copytree(built, target)
    return target


def _edit(folder, change):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest = change(manifest) or manifest
    path.write_text(json.dumps(manifest), encoding="utf-8")


def _refused(folder, match: str) -> str:
    """load_index fails with one sentence matching `match`; read_manifest (listing indexes) gives None."""
    with pytest.raises(IndexFormatError, match=match) as caught:
        load_index(folder)
    message = str(caught.value)
    assert "\n" not in message and message.endswith(".") and "--" not in message
    if "manifest" in match or "schema" in match:
        assert read_manifest(folder) is None
    return message


def test_a_valid_manifest_reads_back(copy):
    index = load_index(copy)
    assert read_manifest(copy) == index.manifest
    assert index.manifest["counts"]["listings"] == 12 == len(index)


def _set(*keys, value):
    def change(m):
        target = m
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


def _drop(*keys):
    def change(m):
        target = m
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return change


@pytest.mark.parametrize(("change", "field"), [
    (_set("files", value=["listings.parquet"]), "`files` as a list"),
    (_set("counts", value="40"), "`counts` as text"),
    (_drop("model"), "no `model` field"),
    (_drop("model", "id"), "no `model.id` field"),
    (_set("model", "dimension", value="384"), "`model.dimension` as text"),
    (_drop("text"), "no `text` field"),
    (_set("counts", "listings", value=None), "`counts.listings` as null"),
    (_set("counts", "listings", value=-1), "`counts.listings` = -1"),
    (_set("counts", "listings", value=True), "`counts.listings` as true/false"),
    (_set("files", "vectors.npy", value="abc"), '`files\\["vectors.npy"\\]` as text'),
    (_set("files", "vectors.npy", "bytes", value=1.5), '`files\\["vectors.npy"\\].bytes` as a number'),
    (_drop("files", "idf.npy", "sha256"), '`files\\["idf.npy"\\].sha256`'),
    (_set("search", value=[]), "`search` as a list"),
    (_set("search", value={"semantic": "ann", "ann": {"connectivity": "16"}}), "`search.ann.connectivity` as text"),
    (_set("column_mapping", value=["title"]), "`column_mapping` as a list"),
    (_set("source", value="cat.csv"), "`source` as text"),
    (_drop("files"), "no `files` field"),
    (_drop("schema_version"), "no `schema_version` field"),
])
def test_wrong_shapes_name_the_field(copy, change, field):
    _edit(copy, change)
    message = _refused(copy, "manifest")
    assert re.search(field, message), message


@pytest.mark.parametrize("version", ["1", 2, None, True])
def test_wrong_schema_versions(copy, version):
    _edit(copy, _set("schema_version", value=version))
    _refused(copy, "schema version")


@pytest.mark.parametrize(("data", "match"), [
    (b"[1, 2]", "is a list, not a JSON object"),
    (b'"manifest"', "is text, not a JSON object"),
    (b"null", "is null, not a JSON object"),
    (b"{not json", "not valid JSON"),
    (b"", "not valid JSON"),
    (b'{"schema_version": 1, "model": "\xff\xfe"}', "not valid JSON"),
    (b"[" * 200_000 + b"]" * 200_000, "not valid JSON"),
])
def test_unreadable_manifests(copy, data, match):
    (copy / "manifest.json").write_bytes(data)
    _refused(copy, match)


def test_huge_manifest_is_not_read(copy):
    manifest = (copy / "manifest.json").read_text(encoding="utf-8")
    (copy / "manifest.json").write_text(manifest + " " * MAX_MANIFEST_BYTES, encoding="utf-8")
    _refused(copy, "MB, far more than any index's manifest")


def test_listed_file_outside_the_folder(copy):
    def change(m):
        m["files"]["../../etc/passwd"] = {"sha256": "0" * 64, "bytes": 1}
    _edit(copy, change)
    _refused(copy, "outside the index folder")


def test_planted_folder_under_a_listed_name(copy):
    (copy / "idf.npy").unlink()
    (copy / "idf.npy").mkdir()
    _refused(copy, "idf.npy .* is not a regular file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_planted_device_under_a_listed_name(copy):
    (copy / "idf.npy").unlink()
    (copy / "idf.npy").symlink_to("/dev/zero")  # size 0, endless to hash
    _edit(copy, _set("files", "idf.npy", "bytes", value=0))
    _refused(copy, "is not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_planted_fifo_as_the_manifest(copy):
    (copy / "manifest.json").unlink()
    os.mkfifo(copy / "manifest.json")  # reading it would block forever
    _refused(copy, "manifest of .* is not a regular file")


def test_large_index_must_list_its_graph(copy):
    _edit(copy, _set("search", "semantic", value="ann"))
    _refused(copy, "missing ann.usearch")
    (copy / "ann.usearch").write_bytes(b"planted")
    _refused(copy, "does not list ann.usearch")


def test_counts_and_dimension_must_match_the_files(copy):
    _edit(copy, _set("counts", "listings", value=13))
    _refused(copy, "disagree on the number of listings")
    _edit(copy, _set("counts", "listings", value=12))
    _edit(copy, lambda m: m["model"].update(dimension=m["model"]["dimension"] + 1))
    _refused(copy, "model dimension")


def test_no_index_names_the_parameter_not_a_flag(tmp_path):
    with pytest.raises(IndexFormatError, match="No index at") as caught:
        load_index(tmp_path / "nowhere")
    assert caught.value.parameter == "index" and "diffscan build" not in str(caught.value)
