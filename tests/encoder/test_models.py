"""The static tier: distilled offline from the bundled MiniLM, saved without pickle, loaded like any model.

A full 256-d distillation takes 1-3 minutes on 2 cores, so the session fixture runs the same code path
with a 1-layer, 32-d setting (`layers=1`); the real model is checked where it already exists.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from diffscan.encoder.local import load_encoder, resolve_model
from diffscan.encoder.models import (
    STATIC_NAME,
    distill_static_model,
    is_model_folder,
    list_models,
    models_dir,
    static_model_path,
)
from diffscan.errors import ModelError


@pytest.fixture(scope="session")
def tiny_static(tmp_path_factory):
    """A static model made by the real distillation code, in its tiny test setting."""
    out = tmp_path_factory.mktemp("models") / "static-tiny"
    return distill_static_model(out, pca_dims=32, layers=1)


def test_distilled_folder_is_a_pickle_free_sentence_transformers_model(tiny_static):
    assert is_model_folder(tiny_static)
    names = {p.name for p in tiny_static.rglob("*") if p.is_file()}
    assert {"modules.json", "model.safetensors", "tokenizer.json", "diffscan_model.json"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pkl", ".pickle", ".pt", ".joblib"))]
    recipe = json.loads((tiny_static / "diffscan_model.json").read_text())
    assert recipe["pca_dims"] == 32 and recipe["layers"] == 1
    assert recipe["source_model"].startswith("all-MiniLM-L6-v2@")
    modules = json.loads((tiny_static / "modules.json").read_text())
    assert modules[0]["type"].endswith("StaticEmbedding")


def test_static_model_loads_and_encodes(tiny_static):
    encoder = load_encoder(str(tiny_static))
    assert encoder.static and not encoder.caches
    assert encoder.dimension == 32
    vectors = encoder.encode(["Stainless steel water bottle 750ml", "steel water bottle", "", "保温杯"])
    assert vectors.shape == (4, 32) and vectors.dtype == np.float32
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms[[0, 1, 3]], 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > 0.5  # shared tokens: a static model's mean is close


def test_static_spec_resolves_through_models_dir(tiny_static, tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSCAN_MODELS", str(tmp_path))
    assert models_dir() == tmp_path
    with pytest.raises(ModelError, match="diffscan models distill"):
        static_model_path(distill_if_missing=False)
    shutil.copytree(tiny_static, tmp_path / STATIC_NAME)
    assert resolve_model("static") == tmp_path / STATIC_NAME
    rows = {r["spec"]: r for r in list_models()}
    assert rows["static"]["ready"] and rows["static"]["dimension"] == 32
    assert rows["minilm"]["ready"]


def test_index_built_with_static_model_answers_queries(tiny_static, tmp_path, monkeypatch):
    from diffscan.analyses.competitors import find_competitors
    from diffscan.index.build import build_index

    monkeypatch.setenv("DIFFSCAN_MODELS", str(tmp_path / "models"))
    shutil.copytree(tiny_static, tmp_path / "models" / STATIC_NAME)
    rows = [{"id": f"M{i}", "title": f"{c} ceramic mug {s} oz", "price": 5 + i}
            for i, (c, s) in enumerate([(c, s) for c in ("red", "blue", "green") for s in (8, 12, 16)])]
    pd.DataFrame(rows).to_csv(tmp_path / "c.csv", index=False)
    index, _, stats = build_index(tmp_path / "c.csv", tmp_path / "idx", model="static", cache_dir=tmp_path / "cache")
    assert index.manifest["model"]["spec"] == "static"
    assert index.vectors.shape == (9, 32)
    assert stats == {"embedded": 9, "cached": 0}  # a static model skips the embedding cache
    assert not (tmp_path / "cache" / "embeddings").exists()
    result = find_competitors(index, "blue ceramic mug 12 oz", k=3)
    assert result.competitors[0].listing_id == "M4"


def test_models_cli(tmp_path, monkeypatch):
    from diffscan.cli import app

    monkeypatch.setenv("DIFFSCAN_MODELS", str(tmp_path))
    res = CliRunner().invoke(app, ["models", "list"])
    assert res.exit_code == 0, res.output
    assert "minilm" in res.stdout and "static" in res.stdout


def test_the_real_static_model_where_made():
    path = models_dir() / STATIC_NAME
    if not is_model_folder(path):
        pytest.skip(f"the 256-d static model is not made on this machine ({path}); `diffscan models distill`")
    encoder = load_encoder("static")
    assert encoder.static and encoder.dimension == 256
    a, b, c = encoder.encode(["Sony turntable PSLX350H", "Sony PS-LX350H belt drive turntable", "organic honey 500 g"])
    assert float(a @ b) > float(a @ c)
