"""Analyses kept in the index folder: a landscape, a niche shortlist or map coordinates computed once per
index, parameters and diffscan version, then read back in a fraction of a second (`index.results`).

The front ends call these instead of the analyses themselves; the results are the same objects the
analyses return (a kept result is the analysis's own output, written and read back losslessly).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from diffscan.analyses.clusters import CLUSTERING, ClusterParams
from diffscan.analyses.landscape import SATURATION, Landscape, SaturationParams, analyze_landscape
from diffscan.analyses import niches as niche_analysis
from diffscan.analyses.niches import (
    CANDIDATES,
    NEIGHBOURS,
    OPPORTUNITY,
    CandidateParams,
    NeighbourParams,
    Niche,
    OpportunityParams,
)
from diffscan.analyses.projection import PROJECTION, ProjectionParams, project
from diffscan.analyses.usps import Point
from diffscan.index.results import Kept, code_digest, keep, kept_entries, read_kept, result_key
from diffscan.index.store import Index

_PACKAGE = Path(__file__).resolve().parent.parent


@functools.cache
def _code() -> str:
    """The digest of the code that computes analyses (analyses and core): a new version keeps anew."""
    return code_digest(_PACKAGE / "analyses", _PACKAGE / "core")


def _params(**named) -> dict:
    return {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for k, v in named.items()}


def landscape_key(index: Index, level: int | None = None, *, params: SaturationParams = SATURATION,
                  clustering: ClusterParams = CLUSTERING) -> str:
    """The key a landscape of this index, level and parameters is kept under."""
    return result_key(index, "landscape", _params(level=level, params=params, clustering=clustering), _code())


def landscape(index: Index, level: int | None = None, *, params: SaturationParams = SATURATION,
              clustering: ClusterParams = CLUSTERING, progress=None) -> Landscape:
    """`analyze_landscape`, read from the index folder when it was computed before with these parameters.

    Otherwise computed, re-using the clusters of every category whose listings are unchanged since a
    landscape of the previous export (carried over by `build --update`), and kept.
    """
    key = landscape_key(index, level, params=params, clustering=clustering)
    found = read_kept(index, key)
    if found is not None and {"assignments", "clusters", "categories"} <= found.frames.keys():
        clusters = found.frames["clusters"]
        clusters["keywords"] = clusters["keywords"].map(list)  # Parquet lists read back as arrays
        return Landscape(level=int(found.meta["level"]), assignments=found.frames["assignments"], clusters=clusters,
                         categories=found.frames["categories"], note=str(found.meta.get("note", "")),
                         params=params, clustering=clustering)
    basis = result_key(index, "basis", _params(level=level, params=params, clustering=clustering), _code(), files=False)
    reuse = CategoryReuse(index, _earlier(index, basis))
    result = analyze_landscape(index, level, params=params, clustering=clustering, progress=progress, reuse=reuse)
    digests = pd.DataFrame({"category": list(reuse.digests), "digest": list(reuse.digests.values())})
    keep(index, key, Kept(frames={"assignments": result.assignments, "clusters": result.clusters,
                                  "categories": result.categories, "digests": digests},
                          meta={"level": result.level, "note": result.note, "listings": len(result.assignments),
                                "basis": basis, "categories_reused": reuse.reused,
                                "categories_computed": len(reuse.digests) - reuse.reused}))
    return result


def _earlier(index: Index, basis: str) -> Kept | None:
    """A kept landscape of another export of this catalog with the same level, parameters and code."""
    for entry in kept_entries(index):
        if entry["kind"] == "landscape" and entry["meta"].get("basis") == basis:
            found = read_kept(index, entry["key"])
            if found is not None and {"assignments", "digests"} <= found.frames.keys():
                return found
    return None


class CategoryReuse:
    """`analyze_landscape`'s `reuse`: a category whose listings (ids, titles and vectors, in order) are
    those of an earlier landscape keeps that landscape's clusters, knn similarities and near-duplicate
    groups. Records every category's digest, for the next update.

    What is kept is what the earlier export's analysis found: the lexical weights of an update's
    catalog-wide idf move a little, and clusters of unchanged categories are not re-fitted to them.
    """

    def __init__(self, index: Index, earlier: Kept | None):
        self.index = index
        self.digests: dict[str, str] = {}
        self.reused = 0
        self._titles = index.listings["title"].astype(str).to_numpy()
        self._ids = index.listings["listing_id"].astype(str).to_numpy()
        self._earlier = None
        if earlier is not None:
            a = earlier.frames["assignments"]
            self._earlier = (dict(zip(earlier.frames["digests"]["category"], earlier.frames["digests"]["digest"])),
                             a.groupby("category", sort=False).indices, a)

    def digest(self, rows: np.ndarray) -> str:
        h = hashlib.sha256()
        h.update("\x00".join(self._ids[rows]).encode())
        h.update("\x00".join(self._titles[rows]).encode())
        h.update(np.ascontiguousarray(self.index.vectors[np.sort(rows)], dtype=np.float32).tobytes())
        return h.hexdigest()

    def __call__(self, category: str, rows: np.ndarray):
        digest = self.digests[category] = self.digest(rows)
        if self._earlier is None:
            return None
        digests, members, a = self._earlier
        if digests.get(category) != digest or category not in members:
            return None
        old = np.asarray(members[category])
        ids = a["cluster_id"].to_numpy()[old].astype(str)
        # Cluster ranks order clusters as their first labels did (size, then label), so they stand in for them.
        local = np.array([10**9 + i if cid.endswith(".s") else int(cid.rsplit(".", 1)[1]) for i, cid in enumerate(ids)])
        groups = a["near_duplicate_group"].to_numpy()[old]
        order = np.argsort(groups, kind="stable")
        same = groups[order][1:] == groups[order][:-1]
        self.reused += 1
        return local, a["knn_similarity"].to_numpy(dtype=np.float32)[old], order[:-1][same], order[1:][same]


def niches_and_pool(index: Index, base: Landscape | None = None, *, top: int = 20,
                         category: str | None = None, min_demand: float | None = None,
                         params: OpportunityParams = OPPORTUNITY, candidates: CandidateParams = CANDIDATES,
                         neighbours: NeighbourParams = NEIGHBOURS, progress=None) -> tuple[list[Niche], pd.DataFrame]:
    """`niches.niches_and_pool` over `base` (default: the kept default landscape), itself kept."""
    base = base if base is not None else landscape(index, progress=progress)
    key = result_key(index, "niches", _params(landscape=_landscape_basis(base), top=top, category=category,
                                              min_demand=min_demand, params=params, candidates=candidates,
                                              neighbours=neighbours), _code())
    found = read_kept(index, key)
    if found is not None and "niches" in found.documents and "pool" in found.frames:
        pool = found.frames["pool"]
        pool["rows"] = pool["rows"].map(lambda r: np.asarray(r, dtype=np.int64))
        return [_niche(d) for d in found.documents["niches"]], pool
    chosen, pool = niche_analysis.niches_and_pool(index, base, top=top, category=category, min_demand=min_demand, params=params,
                                   candidates=candidates, neighbours=neighbours, progress=progress)
    keep(index, key, Kept(frames={"pool": pool}, documents={"niches": [n.to_dict() for n in chosen]},
                          meta={"top": top, "niches": len(chosen)}))
    return chosen, pool


def niches(index: Index, base: Landscape | None = None, **options) -> list[Niche]:
    """`niches.find_niches`, kept (see `niches_and_pool`); `base` is the landscape (default: the kept one)."""
    return niches_and_pool(index, base, **options)[0]


def _landscape_basis(land: Landscape) -> dict:
    """What identifies a landscape inside a niche key: its level and parameters (the index is in the key)."""
    return _params(level=land.level, params=land.params, clustering=land.clustering)


def _niche(d: dict) -> Niche:
    d = dict(d)
    d["usps"] = [Point(**p) for p in d["usps"]]
    return Niche(**d)


def map_coordinates(index: Index, params: ProjectionParams = PROJECTION) -> np.ndarray:
    """The index's 2-D map projection (`projection.project`), kept: t-SNE takes seconds to minutes."""
    key = result_key(index, "map", _params(params=params), _code())
    found = read_kept(index, key)
    if found is not None and "xy" in found.arrays and len(found.arrays["xy"]) == len(index):
        return found.arrays["xy"]
    xy = project(index.vectors, params=params)
    keep(index, key, Kept(arrays={"xy": xy}, meta={"listings": len(xy)}))
    return xy
