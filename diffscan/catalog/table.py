"""`load_catalog`: a whole catalog file as the canonical listings table, with its report.

It is `chunks.iter_catalog` collected, so a whole-file load and a chunked one read, map, parse and
skip through one path. The rules themselves live in `canonical`.
"""

from __future__ import annotations

from os import PathLike

import pandas as pd

from diffscan.catalog.canonical import MAX_TITLE_CHARS, Notes, canonical_table, skips
from diffscan.catalog.chunks import DEFAULT_CHUNK_ROWS, CatalogChunks
from diffscan.catalog.limits import LOAD_LIMITS, LoadLimits
from diffscan.catalog.report import LoadResult

__all__ = ["MAX_TITLE_CHARS", "Notes", "canonical_table", "load_catalog", "skips"]


def load_catalog(
    path: str | PathLike,
    mapping: dict[str, str] | None = None,
    *,
    category_separator: str | None = None,
    max_description_chars: int = 5000,
    limits: LoadLimits = LOAD_LIMITS,
) -> LoadResult:
    """Load a catalog file into the canonical listings table, with a report of skipped rows and warnings.

    Parameters: ``mapping`` maps canonical fields (or ``category``/``id``) to source columns and
    overrides automatic detection; ``""`` or ``"-"`` disables a field; ``category=a,b,c`` names level
    columns. ``category_separator`` forces the separator of a single category path column. ``limits``
    bounds what the file may hold (`LoadLimits`: bytes, rows, columns, cell length, sheet size, JSON
    depth); files past them raise LimitError, naming the limit.
    Raises CatalogError (or MappingError) with one sentence naming the file and the fix.
    """
    chunks = CatalogChunks(path, mapping, chunk_rows=DEFAULT_CHUNK_ROWS, category_separator=category_separator,
                           max_description_chars=max_description_chars, limits=limits)
    frames = list(chunks)
    listings = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return LoadResult(listings, chunks.report)
