"""Catalog files in, one canonical listings table out, with a report of every row not used.

One module per job: `sniff` (format and encoding), `readers` (each format to an all-text table),
`mapping` (source columns to canonical fields), `values` (prices, ratings, counts), `cleaning` (HTML,
control characters, category paths), `canonical` (one chunk's canonical listings and skip reasons),
`chunks` (`iter_catalog`: a file as chunks of listings), `table` (`load_catalog`: those chunks
collected), `limits` (`LoadLimits`: what a file may hold), `report` (what a load tells the user),
`demo` (the demo catalog the project writes itself).
"""

from diffscan.catalog.chunks import iter_catalog
from diffscan.catalog.limits import LOAD_LIMITS, LoadLimits
from diffscan.catalog.mapping import CANONICAL_FIELDS, detect_mapping, parse_mapping
from diffscan.catalog.readers import read_listing_lines, read_table
from diffscan.catalog.report import LoadReport, LoadResult, RowWarning, SkippedRow
from diffscan.catalog.table import load_catalog

__all__ = ["CANONICAL_FIELDS", "LOAD_LIMITS", "LoadLimits", "LoadReport", "LoadResult", "RowWarning", "SkippedRow",
           "detect_mapping", "iter_catalog", "load_catalog", "parse_mapping", "read_listing_lines", "read_table"]
