"""diffscan: find competitors, crowded categories and niches in a product catalog."""

from diffscan.analyses.competitors import (
    Competitor,
    CompetitorResult,
    Filters,
    find_competitors,
    find_competitors_batch,
)
from diffscan.catalog.report import LoadReport, LoadResult
from diffscan.catalog.table import load_catalog
from diffscan.errors import (
    CatalogError,
    DiffscanError,
    IndexFormatError,
    MappingError,
    ModelError,
    QueryError,
)
from diffscan.index.build import build_index
from diffscan.index.store import Index, load_index
from diffscan.version import __version__  # noqa: E402

# The analyses load on first use, so `import diffscan` (and every CLI command) does not pay for them.
_LAZY = {"Landscape": "analyses.landscape", "analyze_landscape": "analyses.landscape",
         "differentiate": "analyses.differentiation", "Niche": "analyses.niches", "find_niches": "analyses.niches",
         "Comparison": "analyses.compare", "compare_indexes": "analyses.compare", "compare_series": "analyses.compare"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"diffscan.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'diffscan' has no attribute {name!r}")


__all__ = [
    "Competitor",
    "CompetitorResult",
    "Filters",
    "Index",
    "Landscape",
    "Niche",
    "Comparison",
    "compare_indexes",
    "compare_series",
    "analyze_landscape",
    "differentiate",
    "find_niches",
    "LoadReport",
    "LoadResult",
    "build_index",
    "find_competitors",
    "find_competitors_batch",
    "load_catalog",
    "load_index",
    "CatalogError",
    "DiffscanError",
    "IndexFormatError",
    "MappingError",
    "ModelError",
    "QueryError",
    "__version__",
]
