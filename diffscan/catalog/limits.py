"""How much of a stranger's file diffscan will read: limits checked before the work, stated in errors."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from diffscan.errors import CatalogError, LimitError

# Catalog uploads into the app, in MB: mirrors server.maxUploadSize in .streamlit/config.toml, and
# `diffscan app` passes it as a flag so the limit holds whatever folder the app is started from.
UPLOAD_LIMIT_MB = 500


@dataclass(frozen=True)
class LoadLimits:
    """What one catalog file may hold. Each bound is checked before or while reading, so memory never
    grows past it; a file over a bound is one `LimitError` (parameter ``"limits"``) naming the field.

    max_bytes: bytes once decompressed: a text file's decompressed stream, the sum of an .xlsx's zip
        members (as the zip declares them, which bounds what unzipping yields), a Parquet file's
        uncompressed data. 2 GiB is about 5 million listings of 400 bytes; a whole-file load of that
        already needs 8-16 GB of RAM.
    max_rows: data rows, the header not counted. 5,000,000 is a large marketplace dump; beyond it the
        index alone (7.7 GB of vectors at 384 dimensions) outgrows a workstation.
    max_columns: 2,000. Catalog exports have tens of columns, wide marketplace flat files a few hundred.
    max_cell_chars: 1,000,000 characters per cell (Excel holds at most 32,767); a longer cell is cut
        to it with a warning. Titles and descriptions have their own, shorter cuts.
    max_sheet_cells: rows x columns that an .xlsx's first sheet declares as its dimension, checked
        before any row is read. 200,000,000 is Excel's full height at 190 columns.
    max_json_depth: levels of nested objects and arrays in one JSON listing. Listings nest 2-5 levels;
        100 stays clear of Python's own parser, which gives up near 1,000.
    max_compression_ratio: unpacked / packed size of an .xlsx member of 16 MB or more (a zip bomb
        unpacks hundreds of times its size). Real sheets compress 5-20 times; 100 leaves room.
    """

    max_bytes: int = 2 * 2**30
    max_rows: int = 5_000_000
    max_columns: int = 2_000
    max_cell_chars: int = 1_000_000
    max_sheet_cells: int = 200_000_000
    max_json_depth: int = 100
    max_compression_ratio: float = 100.0

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if not getattr(self, name) >= 1:
                raise ValueError(f"LoadLimits.{name} must be at least 1, got {getattr(self, name)!r}")


LOAD_LIMITS = LoadLimits()

_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "kb": 10**3, "mb": 10**6, "gb": 10**9,
          "kib": 2**10, "mib": 2**20, "gib": 2**30}
_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_limits(settings: list[str], base: LoadLimits = LOAD_LIMITS) -> LoadLimits:
    """``base`` with NAME=VALUE settings applied, e.g. ``["max_rows=10M", "max_bytes=4GiB"]``. NAME is
    a LoadLimits field (the ``max_`` prefix may be left out, dashes for underscores); VALUE a number
    with an optional k/M/G (x1000) or KiB/MiB/GiB (x1024) suffix. A bad setting is one CatalogError."""
    names = [f.name for f in dataclasses.fields(LoadLimits)]
    changes: dict[str, float] = {}
    for setting in settings:
        name, sep, text = setting.partition("=")
        name = name.strip().lower().replace("-", "_")
        name = name if name.startswith("max_") else f"max_{name}"
        match = _AMOUNT.match(text)
        if not sep or name not in names:
            raise CatalogError(f"Unknown load limit '{setting}': use NAME=VALUE with NAME one of "
                             f"{', '.join(names)}.", parameter="limits")
        if not match or match.group(2).lower() not in _UNITS:
            raise CatalogError(f"Load limit '{setting}' is not a number (e.g. {name}=5000000 or "
                             f"{name}=10M; sizes also take KiB, MiB, GiB).", parameter="limits")
        value = float(match.group(1)) * _UNITS[match.group(2).lower()]
        changes[name] = value if name == "max_compression_ratio" else int(value)
    try:
        return dataclasses.replace(base, **changes)
    except ValueError as exc:
        raise CatalogError(f"{exc}.", parameter="limits") from exc

# .xlsx members smaller than this are not held to max_compression_ratio: tiny parts compress oddly and
# cannot hurt.
RATIO_MIN_BYTES = 16 * 2**20


def shown(name: str, value: float) -> str:
    """A limit's value as a user reads it: bytes in GiB/MiB, counts with thousands separators."""
    if name == "max_bytes":
        for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if value >= size and value % size == 0:
                return f"{value // size:,} {unit}"
        return f"{value:,} bytes"
    return f"{value:,g}" if isinstance(value, float) else f"{value:,}"


def limit_error(path: object, found: str, name: str, limits: LoadLimits, fix: str) -> LimitError:
    """One sentence: what the file holds, the limit it passes (value, field, default) and the fix."""
    value, default = getattr(limits, name), getattr(LOAD_LIMITS, name)
    return LimitError(
        f"{path} {found}, over the limit of {shown(name, value)} ({name} in the load limits, default "
        f"{shown(name, default)}); {fix} or raise {name}.",
        parameter="limits",
        limit=name,
    )
