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
from diffscan.landscape import Landscape, analyze_landscape  # noqa: E402
from diffscan.differentiation import differentiate  # noqa: E402
from diffscan.niches import Niche, find_niches  # noqa: E402

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
