"""diffscan.analyses.projection: the map's 2-D coordinates and colours (ProjectionParams)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from diffscan.analyses.landscape import analyze_landscape
from diffscan.analyses.projection import (
    PROJECTION,
    ProjectionParams,
    landscape_map,
    project,
    saturation_chart,
)
from diffscan.errors import QueryError


def _unit(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_defaults_are_the_documented_numbers():
    assert PROJECTION == ProjectionParams(sample=3000, pca_dimensions=50, tsne_iterations=500, perplexity=30.0,
                                          place_neighbours=5, seed=0, max_colours=20, chart_categories=30)
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROJECTION.sample = 10


def test_sample_and_seed_are_parameters():
    x = _unit(60)
    small = ProjectionParams(sample=30, tsne_iterations=250)
    a = project(x, params=small)
    assert a.shape == (60, 2) and np.isfinite(a).all()
    assert np.array_equal(a, project(x, params=small))  # seeded
    other = project(x, params=dataclasses.replace(small, seed=1))
    assert not np.array_equal(a, other)


def test_map_colours_and_chart_follow_the_parameters(demo_index):
    land = analyze_landscape(demo_index)
    few = ProjectionParams(max_colours=3, chart_categories=4)
    frame = landscape_map(demo_index, land, params=few)
    assert frame["colour"].nunique() == 4  # the 3 biggest categories and "other"
    assert len(landscape_map(demo_index, land)["colour"].unique()) > 4
    assert len(saturation_chart(land, top=few.chart_categories)) == 4
    assert len(saturation_chart(land)) == min(PROJECTION.chart_categories, len(land.categories))


def test_unknown_colouring_names_the_parameter(demo_index):
    land = analyze_landscape(demo_index)
    with pytest.raises(QueryError) as caught:
        landscape_map(demo_index, land, color_by="brand")
    assert caught.value.parameter == "color_by" and "--" not in str(caught.value)
