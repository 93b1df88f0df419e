"""The Ray embedder on a local single-node Ray cluster gives the same index as a local build.

Skipped where Ray (the optional `distributed` extra) is not installed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip("ray", reason="Ray is the optional extra: pip install -e '.[distributed]'")

from functools import partial

from diffscan.encoder.ray import RayEmbedder
from diffscan.index.build import build_index


@pytest.fixture(scope="module")
def local_cluster():
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def test_ray_build_equals_local_build(tmp_path, local_cluster):
    rows = [{"id": f"R{i}", "title": f"{c} cotton t-shirt size {s}", "brand": "Loom"}
            for i, (c, s) in enumerate([(c, s) for c in ("red", "navy", "olive", "white") for s in "SMLX"])]
    catalog = tmp_path / "c.csv"
    pd.DataFrame(rows).to_csv(catalog, index=False)
    local, _, _ = build_index(catalog, tmp_path / "local", cache_dir=tmp_path / "cache-a")
    remote, report, stats = build_index(catalog, tmp_path / "ray", embedder=partial(RayEmbedder), cache_dir=tmp_path / "cache-b",
                                        chunk_rows=6)
    assert stats == {"embedded": 16, "cached": 0}
    pd.testing.assert_frame_equal(local.listings, remote.listings)
    assert np.allclose(local.vectors, remote.vectors, atol=1e-5)
    assert set(local.manifest["files"]) == set(remote.manifest["files"])
    _, _, again = build_index(catalog, tmp_path / "ray", embedder=partial(RayEmbedder), cache_dir=tmp_path / "cache-b")
    assert again == {"embedded": 0, "cached": 16}  # the driver's cache answers before the cluster
