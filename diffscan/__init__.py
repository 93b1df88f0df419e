"""diffscan: find competitors, crowded categories and niches in a product catalog."""

from diffscan.errors import (
    CatalogError,
    DiffscanError,
    IndexFormatError,
    MappingError,
    ModelError,
    QueryError,
)

__version__ = "0.1.0"

from diffscan.catalog import LoadReport, LoadResult, load_catalog  # noqa: E402
from diffscan.competitors import Competitor, CompetitorResult, Filters, find_competitors, find_competitors_batch  # noqa: E402
from diffscan.index import Index, build_index, load_index  # noqa: E402

# The analyses load on first use, so `import diffscan` (and every CLI command) does not pay for them.
_LAZY = {"Landscape": "landscape", "analyze_landscape": "landscape", "differentiate": "differentiation",
         "Niche": "niches", "find_niches": "niches"}


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
