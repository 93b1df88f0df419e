"""Shared fixtures: the real datasets (skipped where absent) and a small index of the demo corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"
DEMO_CATALOG = REPO / "corpus" / "catalog.csv"


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """../shared/datasets beside the checkout; tests that need it skip where it is absent."""
    if not DATASETS.is_dir():
        pytest.skip(f"real catalogs not found at {DATASETS} (a fresh clone has no ../shared/datasets)")
    return DATASETS


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory):
    """An index of the bundled demo corpus, built once per test session (embeddings are cached)."""
    from diffscan.index.build import build_index

    out = tmp_path_factory.mktemp("demo") / "index"
    index, _report, _stats = build_index(DEMO_CATALOG, out)
    return index
