"""Catalog page: upload a catalog file, review and adjust the detected column mapping, build an index
with a progress bar, read the load report, and switch between the indexes kept under .diffscan/indexes."""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st

from diffscan.catalog.mapping import CANONICAL_FIELDS, detect_mapping
from diffscan.catalog.readers import read_table
from diffscan.catalog.report import LoadReport
from diffscan.errors import CatalogError
from diffscan.ui import state
from diffscan.ui.common import guarded, slug, stage_progress

ACCEPTED_TYPES = ["csv", "tsv", "tab", "json", "jsonl", "ndjson", "parquet", "pq", "xlsx", "xlsm", "gz", "bz2", "xz"]
NONE = "(none)"
STAGED_KEY = "staged_catalog"
BUILT_KEY = "last_build"
PREVIEW_ROWS = 20
UPLOAD_KEEP_SECONDS = 24 * 3600  # staged uploads live a day: long enough to remap and rebuild
FIELD_LABELS = {
    "listing_id": "Listing id",
    "title": "Title (required)",
    "description": "Description",
    "category_path": "Category levels (top first, or one path column)",
    "brand": "Brand",
    "price": "Price",
    "rating": "Rating",
    "review_count": "Review count",
    "sales": "Sales (units sold, e.g. 月销量)",
    "shop": "Shop (店铺)",
    "url": "URL",
}


@dataclass
class StagedCatalog:
    """An uploaded file saved to disk and read as a raw table, with the mapping detected from its columns."""

    file_id: str
    name: str
    path: Path
    format: str
    encoding: str | None
    rows: int
    columns: list[str]
    preview: pd.DataFrame
    detected: dict[str, str]


@dataclass
class BuildOutcome:
    """What the last build on this page produced (kept in the session to show after the rerun)."""

    name: str
    path: str
    catalog: str  # the uploaded file's name
    listings: int
    seconds: float
    stats: dict
    report: LoadReport = field(repr=False)

    def summary(self) -> str:
        """The load report's summary, naming the uploaded file rather than its staging copy."""
        return self.report.summary().replace(self.report.path, self.catalog, 1)


# ---------------------------------------------------------------------------------------------
# Handlers (plain functions: tested without a browser)
# ---------------------------------------------------------------------------------------------


def stage_upload(name: str, data: bytes, file_id: str = "", root: Path | None = None) -> StagedCatalog:
    """Save uploaded bytes as .diffscan/uploads/<digest>/<name> and read them as a raw table.

    Raises CatalogError (naming the uploaded file, not the staging folder) when the file cannot be read.
    """
    digest = hashlib.sha256(data).hexdigest()[:12]
    folder = (root or state.UPLOADS_DIR) / digest
    prune_uploads(folder.parent, keep=folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem, suffixes = _split_name(name)
    path = folder / f"{slug(stem)}{suffixes}"
    path.write_bytes(data)
    try:
        frame, fmt, encoding = read_table(path)
    except CatalogError as exc:
        raise CatalogError(str(exc).replace(str(path), name)) from exc
    columns = [str(c) for c in frame.columns]
    return StagedCatalog(
        file_id=file_id or digest, name=name, path=path, format=fmt, encoding=encoding, rows=len(frame),
        columns=columns, preview=frame.head(PREVIEW_ROWS), detected=detect_mapping(columns),
    )


def prune_uploads(root: Path, keep: Path | None = None, max_age_s: float = UPLOAD_KEEP_SECONDS) -> int:
    """Remove staged uploads older than `max_age_s` (an index built from one no longer needs it), so a
    long-running server's disk does not fill; returns how many folders went."""
    if not root.is_dir():
        return 0
    cutoff = time.time() - max_age_s
    removed = 0
    for folder in root.iterdir():
        if folder.is_dir() and folder != keep and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _split_name(name: str) -> tuple[str, str]:
    """('catalog', '.csv.gz') from 'catalog.csv.gz': the suffixes tell the reader the format."""
    base = Path(name).name
    suffixes = "".join(s.lower() for s in Path(base).suffixes[-2:] if len(s) <= 8)
    stem = base[: len(base) - len(suffixes)] if suffixes and base.lower().endswith(suffixes) else Path(base).stem
    return stem, suffixes


def mapping_from_choices(choices: dict[str, str | list[str]]) -> dict[str, str]:
    """The explicit mapping for build_index: every field named; '-' switches a field off."""
    mapping: dict[str, str] = {}
    for name in CANONICAL_FIELDS:
        value = choices.get(name)
        if isinstance(value, list):
            mapping[name] = ",".join(value) if value else "-"
        else:
            mapping[name] = value if value and value != NONE else "-"
    return mapping


def skipped_frame(report: LoadReport, limit: int = 200) -> pd.DataFrame:
    """The first skipped rows: row number as a user sees it, listing id and reason."""
    rows = [{"row": s.row, "listing_id": s.listing_id, "reason": s.reason} for s in report.skipped[:limit]]
    return pd.DataFrame(rows, columns=["row", "listing_id", "reason"])


def warnings_frame(report: LoadReport, limit: int = 200) -> pd.DataFrame:
    """The first warnings: values changed or dropped in rows that were used."""
    rows = [{"row": w.row, "column": w.column, "warning": w.message} for w in report.warnings[:limit]]
    return pd.DataFrame(rows, columns=["row", "column", "warning"])


def counts_frame(counts: dict[str, int], what: str) -> pd.DataFrame:
    """A {reason: count} dict as a two-column table."""
    return pd.DataFrame({what: list(counts), "rows": list(counts.values())})


def upload_limit_mb() -> int:
    """The upload limit in force (server.maxUploadSize, in MB)."""
    return int(st.get_option("server.maxUploadSize"))


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------


def render() -> None:
    """The Catalog page."""
    st.title("Catalog")
    st.caption("Upload a catalog export, check how its columns map to listing fields, and build an index "
               "that every page can search.")
    staged = _upload()
    if staged is not None:
        _preview(staged)
        choices = _mapping_editor(staged)
        _build(staged, mapping_from_choices(choices), has_title=bool(choices.get("title")) and choices["title"] != NONE)
    outcome = st.session_state.get(BUILT_KEY)
    if outcome is not None:
        _show_outcome(outcome)
    _indexes()


def _upload() -> StagedCatalog | None:
    """The file uploader; the file is read once per upload and kept in the session."""
    limit = upload_limit_mb()
    uploaded = st.file_uploader(
        f"Catalog file: CSV, TSV, JSON, JSON Lines, Parquet or Excel (.xlsx), up to {limit:,} MB",
        type=ACCEPTED_TYPES, key="catalog_upload",
        help="Text files may be UTF-8, UTF-8 with BOM or Windows-1252; .gz/.bz2/.xz compressed files are read too.",
    )
    st.caption(f"Files up to {limit:,} MB can be uploaded here. For a bigger catalog, split it into smaller "
               "files, or ask whoever set diffscan up to build the index for you.")
    if uploaded is None:
        st.session_state.pop(STAGED_KEY, None)
        return None
    staged = st.session_state.get(STAGED_KEY)
    if staged is None or staged.file_id != uploaded.file_id:
        with st.spinner(f"Reading {uploaded.name}…"):
            staged = guarded(stage_upload, uploaded.name, uploaded.getvalue(), uploaded.file_id)
        if staged is None:
            st.session_state.pop(STAGED_KEY, None)
            return None
        st.session_state[STAGED_KEY] = staged
    return staged


def _preview(staged: StagedCatalog) -> None:
    """What was read: format, encoding, rows, and the first rows as text."""
    encoding = f", encoding {staged.encoding}" if staged.encoding else ""
    st.success(f"Read {staged.rows:,} rows and {len(staged.columns)} columns ({staged.format}{encoding}).",
               icon=":material/check_circle:")
    with st.expander(f"First {min(PREVIEW_ROWS, staged.rows)} rows", icon=":material/table:"):
        st.dataframe(staged.preview, width="stretch")


def _mapping_editor(staged: StagedCatalog) -> dict[str, str | list[str]]:
    """One picker per listing field, preset to the detected column."""
    st.subheader("Column mapping")
    st.caption("Detected from the column names; change any field, or set it to (none) to leave it out.")
    options = [NONE, *staged.columns]
    choices: dict[str, str | list[str]] = {}
    cols = st.columns(3)
    for i, name in enumerate(CANONICAL_FIELDS):
        detected = staged.detected.get(name, "")
        widget_key = f"map-{name}-{staged.file_id}"
        with cols[i % 3]:
            if name == "category_path":
                default = [c for c in detected.split(",") if c in staged.columns] if detected else []
                choices[name] = st.multiselect(FIELD_LABELS[name], staged.columns, default=default, key=widget_key)
            else:
                default = options.index(detected) if detected in staged.columns else 0
                choices[name] = st.selectbox(FIELD_LABELS[name], options, index=default, key=widget_key)
    if choices.get("title") in (None, NONE):
        st.warning("No title column is mapped: pick the column that holds the product titles.", icon=":material/warning:")
    return choices


def _build(staged: StagedCatalog, mapping: dict[str, str], has_title: bool) -> None:
    """Index name, the build button, and the build with a progress bar."""
    st.subheader("Build the index")
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    name = left.text_input("Index name", value=slug(_split_name(staged.name)[0]), key=f"index-name-{staged.file_id}",
                           help=f"Saved as {state.INDEXES_DIR}/<name>.")
    target = state.INDEXES_DIR / slug(name)
    clicked = right.button("Build index", type="primary", disabled=not has_title, icon=":material/build:")
    if state.read_manifest(target) is not None:
        st.caption(f"An index called '{slug(name)}' exists: building replaces it.")
    if not clicked:
        return
    bar = st.progress(0.0, text="Reading and mapping the catalog…")
    start = time.perf_counter()
    built = guarded(state.build_with_lock, staged.path, target, mapping=mapping, progress=stage_progress(bar))
    bar.empty()
    if built is None:
        return
    index, report, stats = built
    st.session_state[BUILT_KEY] = BuildOutcome(
        name=slug(name), path=str(target), catalog=staged.name, listings=len(index), seconds=time.perf_counter() - start,
        stats=stats, report=report,
    )
    st.session_state[state.SWITCH_KEY] = str(target)
    st.rerun()


def _show_outcome(outcome: BuildOutcome) -> None:
    """The load report of the last build: rows used, rows skipped and why, warnings, column mapping."""
    report = outcome.report
    st.subheader("Load report")
    st.success(
        f"Index '{outcome.name}' built: {outcome.listings:,} listings in {outcome.seconds:.1f} s "
        f"({outcome.stats.get('embedded', 0):,} embedded, {outcome.stats.get('cached', 0):,} from cache). "
        "It is now the active index.",
        icon=":material/check_circle:",
    )
    if outcome.stats.get("model_note"):
        st.info(f"{outcome.stats['model_note']} Whoever set diffscan up can build the index with another model.")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Rows read", f"{report.rows_read:,}")
    m2.metric("Rows used", f"{report.rows_used:,}")
    m3.metric("Rows skipped", f"{len(report.skipped):,}")
    m4.metric("Warnings", f"{report.warning_count:,}")
    st.text(outcome.summary())
    if report.skipped:
        left, right = st.columns([1, 2])
        left.dataframe(counts_frame(report.skipped_by_reason(), "skipped because"), hide_index=True)
        right.dataframe(skipped_frame(report), hide_index=True)
    if report.warnings:
        left, right = st.columns([1, 2])
        left.dataframe(counts_frame(report.warnings_by_kind(), "warning"), hide_index=True)
        right.dataframe(warnings_frame(report), hide_index=True)


def _indexes() -> None:
    """The indexes this app can open, and a switch to any of them."""
    st.subheader("Indexes")
    startup = state.startup_index()
    entries = state.available_indexes(startup)
    table = pd.DataFrame(
        [{"name": e.name, "listings": e.listings, "built": e.created_at, "catalog": e.source, "model": e.model,
          "folder": e.path} for e in entries]
    )
    st.dataframe(table, hide_index=True)
    built = [e for e in entries if e.listings is not None]
    if len(built) < 2:
        st.caption(f"Build a catalog above to add an index under {state.INDEXES_DIR}/.")
        return
    active = state.active_path(startup)
    paths = [e.path for e in built]
    labels = {e.path: e.label for e in built}
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    choice = left.selectbox("Open another index", paths, format_func=labels.get, key="catalog_switch",
                            index=paths.index(active) if active in paths else 0)
    if right.button("Switch", disabled=choice == active, icon=":material/swap_horiz:"):
        st.session_state[state.SWITCH_KEY] = choice
        st.rerun()
