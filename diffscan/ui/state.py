"""Which index the app shows, and the caches that keep a rerun from reloading, re-embedding or recomputing.

Every cache is keyed by the index folder and its `stamp` (manifest `created_at` plus the vectors'
checksum), so rebuilding an index under the same name is picked up and nothing else is recomputed.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from diffscan.analyses.competitors import CompetitorResult, Filters, find_competitors
from diffscan.errors import DiffscanError
from diffscan.index.store import MANIFEST, Index, load_index, read_manifest

APP_DIR = Path(".diffscan")
DEMO_INDEX = APP_DIR / "demo"
INDEXES_DIR = APP_DIR / "indexes"
UPLOADS_DIR = APP_DIR / "uploads"
ACTIVE_KEY = "active_index"  # session key of the sidebar index selectbox
SWITCH_KEY = "switch_index_to"  # set by the Catalog page after a build; applied before the selectbox draws

# Builds write `.<name>.tmp-<pid>` folders: two sessions of one server process must not build at once.
BUILD_LOCK = threading.Lock()

StageProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Startup:
    """The index the app opens on, and where that choice came from."""

    path: Path
    source: str  # "--index", "DIFFSCAN_INDEX" or "demo"


@dataclass(frozen=True)
class IndexEntry:
    """One index the user can switch to, described from its manifest."""

    path: str
    name: str
    listings: int | None
    created_at: str
    source: str
    model: str

    @property
    def label(self) -> str:
        """What the index selectbox shows."""
        if self.listings is None:
            return f"{self.name} (not built yet)"
        return f"{self.name} · {self.listings:,} listings"


def startup_index(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> Startup:
    """`--index DIR` after `--` in `streamlit run app.py -- --index DIR`, else $DIFFSCAN_INDEX, else the demo."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--index")
    try:
        known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    except SystemExit:  # `--index` without a value: fall through to the other sources
        known = argparse.Namespace(index=None)
    env = os.environ if environ is None else environ
    if known.index:
        return Startup(Path(known.index), "--index")
    if env.get("DIFFSCAN_INDEX"):
        return Startup(Path(env["DIFFSCAN_INDEX"]), "DIFFSCAN_INDEX")
    return Startup(DEMO_INDEX, "demo")


def stamp(path: str | Path) -> str:
    """Cache key part that changes whenever the index at `path` is rebuilt ("" when it has no manifest)."""
    manifest = read_manifest(path) or {}
    vectors = manifest.get("files", {}).get("vectors.npy", {}).get("sha256", "")
    return f"{manifest.get('created_at', '')}/{vectors[:16]}"


def describe_index(path: str | Path, name: str | None = None) -> IndexEntry:
    """An IndexEntry from the manifest at `path` (listings None when it is not built)."""
    manifest = read_manifest(path) or {}
    return IndexEntry(
        path=str(path),
        name=name or Path(path).name,
        listings=manifest.get("counts", {}).get("listings"),
        created_at=manifest.get("created_at", ""),
        source=manifest.get("source", {}).get("name", ""),
        model=manifest.get("model", {}).get("id", ""),
    )


def available_indexes(startup: Startup) -> list[IndexEntry]:
    """The startup index first, then every index kept under .diffscan/indexes/<name>."""
    entries = [describe_index(startup.path, "demo" if startup.source == "demo" else None)]
    seen = {Path(startup.path).resolve()}
    if INDEXES_DIR.is_dir():
        for folder in sorted(INDEXES_DIR.iterdir()):
            if folder.is_dir() and (folder / MANIFEST).exists() and folder.resolve() not in seen:
                seen.add(folder.resolve())
                entries.append(describe_index(folder))
    return entries


def active_path(startup: Startup | None = None) -> str:
    """The folder of the index the user is looking at (the sidebar choice, else the startup index)."""
    chosen = st.session_state.get(ACTIVE_KEY)
    if chosen:
        return str(chosen)
    return str((startup or startup_index()).path)


def build_with_lock(catalog: str | Path, out: str | Path, *, mapping: dict[str, str] | None = None,
                    progress: StageProgress | None = None):
    """`build_index` serialized across sessions (see BUILD_LOCK); returns (Index, LoadReport, stats)."""
    from diffscan.index.build import build_index

    with BUILD_LOCK:
        return build_index(catalog, out, mapping=mapping, progress=progress)


def demo_missing(startup: Startup) -> bool:
    """Whether the app opens on the demo and its index still has to be built."""
    return startup.source == "demo" and read_manifest(startup.path) is None


# ---------------------------------------------------------------------------------------------
# Cached resources: the index and the encoder are loaded once per process.
# ---------------------------------------------------------------------------------------------


@st.cache_resource(max_entries=4, show_spinner="Loading the index…")
def _cached_index(path: str, key: str) -> Index:
    return load_index(path)


def open_index(path: str | Path) -> Index:
    """The index at `path`, loaded once per build (raises IndexFormatError with the fix)."""
    return _cached_index(str(path), stamp(path))


_WARMUPS: dict[str, threading.Thread] = {}
_WARMUP_LOCK = threading.Lock()


def warm_encoder(path: str | Path) -> None:
    """Start loading the query encoder of the index at `path` in a background thread, once per model.

    The load takes most of a second: the first search waits only for what is left of it. app.py
    calls this after the page is drawn, so the load never competes with drawing it.
    """
    spec = (read_manifest(path) or {}).get("model", {}).get("spec")
    if not spec:
        return
    with _WARMUP_LOCK:
        if spec not in _WARMUPS:
            _WARMUPS[spec] = threading.Thread(target=_load_quietly, args=(spec,), daemon=True,
                                              name=f"diffscan-warm-{spec}")
            _WARMUPS[spec].start()


def _load_quietly(spec: str) -> None:
    """Load the query encoder `Index.encoder()` returns into the encoder module's per-process cache (not
    `load_encoder`: torch would take ~7 s of CPU for a model no query uses); errors surface later, in
    the page."""
    from diffscan.encoder.local import load_query_encoder

    try:
        load_query_encoder(spec)
    except Exception:  # noqa: BLE001 - encoder_for raises the same error as a readable message
        pass


@st.cache_resource(max_entries=2, show_spinner="Loading the model…")
def _cached_encoder(spec: str, model_id: str, dimension: int, _index: Index):
    warming = _WARMUPS.get(spec)
    if warming is not None:
        warming.join()
    return _index.encoder()


def encoder_for(index: Index):
    """The index's model, loaded once per process (never re-loaded on a rerun)."""
    model = index.manifest["model"]
    return _cached_encoder(str(model.get("spec")), index.model_id, int(index.vectors.shape[1]), index)


def require_index() -> Index:
    """The active index, or an error in the page and a stop (pages that need an index call this first)."""
    path = active_path()
    try:
        return open_index(path)
    except DiffscanError as exc:
        from diffscan.ui.common import plain

        st.error(plain(exc))
        st.info("Build or pick an index on the **Catalog** page.")
        st.stop()
        raise  # unreachable: st.stop() ends the run


def open_page(title: str, caption: str) -> tuple[Index, str, str]:
    """The opening of every page that reads an index: (the active index, its path, its cache stamp), then
    the page's title and caption."""
    index = require_index()
    st.title(title)
    st.caption(caption)
    return index, str(index.path), stamp(index.path)


# ---------------------------------------------------------------------------------------------
# Cached analyses, keyed by index path + stamp so a rerun never recomputes them.
# ---------------------------------------------------------------------------------------------


@st.cache_data(max_entries=512, show_spinner=False)
def competitors_of(
    path: str,
    key: str,
    text: str | None,
    listing_id: str | None,
    k: int,
    category_path: tuple[str, ...] | None,
    filters: tuple,
    price: float | None = None,
) -> CompetitorResult:
    """`find_competitors` for one query; `filters` is (category, min_price, max_price, exclude_brands),
    `price` the seller's own (what each competitor's price is compared with)."""
    index = _cached_index(path, key)
    category, min_price, max_price, brands = filters
    return find_competitors(
        index, text, listing_id=listing_id, k=k, encoder=encoder_for(index) if text else None,
        category_path=list(category_path) if category_path is not None else None,
        filters=Filters(category=category, min_price=min_price, max_price=max_price, exclude_brands=tuple(brands)),
        price=price,
    )


@st.cache_data(max_entries=512, show_spinner=False)
def differentiation_of(path: str, key: str, text: str | None, listing_id: str | None, k: int = 20):
    """`differentiate` for one query (score, table stakes, USPs, suggestions)."""
    from diffscan.analyses.differentiation import differentiate

    index = _cached_index(path, key)
    return differentiate(index, text, listing_id=listing_id, k=k, encoder=encoder_for(index) if text else None)


@st.cache_data(max_entries=8, show_spinner=False)
def categories_of(path: str, key: str) -> list[str]:
    """The index's category paths as 'A > B > C', most listings first (for pickers)."""
    paths = _cached_index(path, key).listings["category_path"].map(" > ".join)
    return [p for p in paths.value_counts().index if p]


@st.cache_data(max_entries=8, show_spinner=False)
def brands_of(path: str, key: str) -> list[str]:
    """The index's brands, most listings first (for the exclude-brand picker)."""
    brands = _cached_index(path, key).listings["brand"]
    return [b for b in brands.value_counts().index if b]


@st.cache_data(max_entries=64, show_spinner=False)
def find_listings(path: str, key: str, words: str, limit: int = 200) -> pd.DataFrame:
    """Listings whose id or title contains `words` (case-insensitive), for the listing picker."""
    df = _cached_index(path, key).listings[["listing_id", "title"]]
    words = words.strip()
    if words:
        mask = df["title"].str.contains(words, case=False, regex=False) | (df["listing_id"].str.lower() == words.lower())
        df = df[mask]
    return df.head(limit).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Long analyses: computed once per index in a worker thread while the page shows a progress bar
# ---------------------------------------------------------------------------------------------


@dataclass
class _Job:
    """One running analysis: its thread, the latest (stage, done, total) it reported, and its error."""

    thread: threading.Thread | None = None
    stage: tuple[str, int, int] | None = None  # None until the analysis reports
    error: BaseException | None = None


_JOBS: dict[tuple, _Job] = {}
_JOBS_LOCK = threading.Lock()
_READY: set[tuple] = set()  # analyses already in st.cache_data: called directly, no thread, no bar
STAGE_NAMES = {"clusters": "Clustering each category", "names": "Naming clusters", "metrics": "Measuring homogenization",
               "niches": "Scoring niches", "map": "Projecting the map", "match": "Pairing listings",
               "landscapes": "Analyzing both snapshots", "watchlist": "Following watched listings", "done": "Done"}


def with_progress(label: str, fn: Callable, *args):
    """`fn(*args)` (a cached analysis taking `_progress`), showing an st.progress bar the first time.

    The first call for given arguments runs `fn` in a worker thread (one per arguments, shared by
    sessions) and moves a bar from its progress reports; later calls are cache hits. A DiffscanError
    raised by `fn` is raised here.
    """
    job_key = (fn.__name__, *args)
    if job_key in _READY:
        return fn(*args)
    job = _start(job_key, fn, args)
    bar = st.progress(0.0, text=label)
    started = time.monotonic()
    while job.thread.is_alive():
        job.thread.join(0.25)
        elapsed = f"{time.monotonic() - started:.0f} s"
        if job.stage is None:
            bar.progress(0.0, text=f"{label} {elapsed}")
            continue
        stage, done, total = job.stage
        fraction = min(1.0, done / total) if total else 0.0
        bar.progress(fraction, text=f"{label} {STAGE_NAMES.get(stage, stage)}: {done:,} / {total:,} · {elapsed}")
    bar.empty()
    with _JOBS_LOCK:
        if _JOBS.get(job_key) is job:
            del _JOBS[job_key]
    if job.error is not None:
        raise job.error
    _READY.add(job_key)
    return fn(*args)


def _start(job_key: tuple, fn: Callable, args: tuple) -> _Job:
    """The running job for these arguments, started if there is none."""
    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    with _JOBS_LOCK:
        job = _JOBS.get(job_key)
        if job is None:
            job = _Job()

            def report(stage: str, done: int, total: int) -> None:
                job.stage = (stage, done, total)

            def work() -> None:
                try:
                    fn(*args, _progress=report)
                except BaseException as exc:  # noqa: BLE001 - handed to the page thread
                    job.error = exc

            job.thread = threading.Thread(target=work, daemon=True, name=f"diffscan-{fn.__name__}")
            add_script_run_ctx(job.thread, get_script_run_ctx())
            _JOBS[job_key] = job
            job.thread.start()
    return job


@st.cache_data(max_entries=4, show_spinner="Analyzing the market…")
def landscape_of(path: str, key: str, level: int | None = None, _progress: StageProgress | None = None):
    """`analyze_landscape` (clusters, near-duplicate groups, category saturation) at a category level, read
    from the index folder when it was kept there before."""
    from diffscan.analyses import kept

    return kept.landscape(_cached_index(path, key), level, progress=_progress)


@st.cache_data(max_entries=12, show_spinner="Projecting the map…")
def landscape_map_of(path: str, key: str, level: int | None, color_by: str,
                     _progress: StageProgress | None = None) -> pd.DataFrame:
    """`landscape_map` points (x, y, title, category, cluster, crowding) for the scatter."""
    from diffscan.analyses import kept
    from diffscan.analyses.projection import landscape_map

    index = _cached_index(path, key)
    return landscape_map(index, landscape_of(path, key, level), color_by=color_by, xy=kept.map_coordinates(index))


@st.cache_data(max_entries=16, show_spinner="Finding niches…")
def niches_of(path: str, key: str, top: int, category: str | None, min_demand: float | None,
              weights: tuple[tuple[str, float], ...] = (), _progress: StageProgress | None = None) -> list:
    """`find_niches` over the landscape at the default level (both kept in the index folder), with the
    user's room `weights` (`niches.weighted`; none: the defaults)."""
    from diffscan.analyses import kept
    from diffscan.analyses.niches import OPPORTUNITY, weighted

    landscape = landscape_of(path, key, None, _progress=_progress)  # a cache hit when the map page ran
    return kept.niches(_cached_index(path, key), landscape, top=top, category=category, min_demand=min_demand,
                       params=weighted(OPPORTUNITY, dict(weights)), progress=_progress)


@st.cache_data(max_entries=8, show_spinner=False)
def category_depth(path: str, key: str) -> int:
    """How many levels the index's deepest category path has (for the level picker)."""
    return int(_cached_index(path, key).listings["category_path"].map(len).max() or 0)


@st.cache_data(max_entries=4, show_spinner="Comparing the snapshots…")
def comparison_of(old_path: str, old_key: str, new_path: str, new_key: str, watch: tuple[str, ...],
                  _progress: StageProgress | None = None):
    """`compare_indexes` of two snapshots (oldest first), re-using both landscapes at the new one's level."""
    from diffscan.analyses import kept
    from diffscan.analyses.compare import COMPARE, compare_indexes
    from diffscan.analyses.landscape import choose_level

    old, new = _cached_index(old_path, old_key), _cached_index(new_path, new_key)
    level, _ = choose_level(new.listings["category_path"].tolist())
    lands = (landscape_of(old_path, old_key, level), landscape_of(new_path, new_key, level))
    shortlists = (kept.niches_and_pool(old, lands[0], top=COMPARE.niches), kept.niches_and_pool(new, lands[1], top=COMPARE.niches))
    return compare_indexes(old, new, level=level, watch=list(watch), landscapes=lands, niches=shortlists,
                           progress=_progress)


@st.cache_data(max_entries=4, show_spinner="Following the categories over the snapshots…")
def series_of(snapshots: tuple[tuple[str, str], ...], names: tuple[str, ...]):
    """`compare_series` of (path, stamp) snapshots oldest first, at the newest one's default level."""
    from diffscan.analyses.compare import compare_series
    from diffscan.analyses.landscape import choose_level

    indexes = [_cached_index(p, k) for p, k in snapshots]
    level, _ = choose_level(indexes[-1].listings["category_path"].tolist())
    lands = [landscape_of(p, k, level) for p, k in snapshots]
    return compare_series(indexes, names=list(names), level=level, landscapes=lands)
