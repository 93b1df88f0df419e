"""What a load tells the user: every skipped row with its reason, every warning, and the counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import pandas as pd

from diffscan.catalog.sniff import guessed_encoding_warning
from diffscan.core.text import plural


def reason_kind(text: str) -> str:
    """Group key of a reason or warning message: the text before its parenthesized detail."""
    return text.split(" (", 1)[0]


@dataclass
class SkippedRow:
    """A row that was not used. ``row`` is the row number a user sees (CSV/XLSX: header is row 1)."""

    row: int
    listing_id: str
    reason: str

    @property
    def kind(self) -> str:
        """The reason without its detail, e.g. ``duplicate listing_id``."""
        return reason_kind(self.reason)


@dataclass
class RowWarning:
    """A value in a used row that was changed or dropped, e.g. an unparseable price kept as NaN.

    ``rows`` is None for a warning about row ``row`` alone. A column-wide warning, for values read in a
    way the user should know but that are normal in the export (a Taobao ``1万+`` is a lower bound, a
    ``39-59`` price a range), stands for ``rows`` rows from ``row`` on: one line, not one per row. Row 0
    is the file itself (a guessed encoding).
    """

    row: int
    column: str
    message: str
    rows: int | None = None

    @property
    def kind(self) -> str:
        """The message without its detail, e.g. ``price not a number``."""
        return reason_kind(self.message)


def count_line(counts: dict[str, int]) -> str:
    """Render ``{"empty title": 2}`` as ``empty title: 2`` for the summary."""
    return ", ".join(f"{kind}: {n:,}" for kind, n in counts.items())


def visible(text: object) -> str:
    """User text (a column name, a mapping item) safe inside a one-line message: line breaks, tabs
    and invisible characters escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))


def name_list(names: list[str], limit: int = 30) -> str:
    """Column names for a message: escaped by `visible`, comma-joined, the first ``limit`` of them."""
    shown = ", ".join(visible(n) for n in names[:limit])
    return shown + (f", and {len(names) - limit:,} more" if len(names) > limit else "")


@dataclass
class LoadReport:
    """What was read from a catalog file, how columns were mapped, and every row not used."""

    path: str
    format: str
    encoding: str | None
    rows_read: int
    rows_used: int
    column_mapping: dict[str, str]
    skipped: list[SkippedRow] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Column-wide warnings come one per chunk: merged into one per column and kind. A guessed
        # encoding is the report's first warning.
        merged: dict[tuple[str, str], RowWarning] = {}
        warnings = []
        for w in self.warnings:
            if w.rows is None:
                warnings.append(w)
            elif (key := (w.column, w.kind)) in merged:
                merged[key].rows += w.rows
            else:
                merged[key] = RowWarning(w.row, w.column, w.message, w.rows)
                warnings.append(merged[key])
        guessed = guessed_encoding_warning(self.encoding)
        if guessed and not any(w.row == 0 and w.message == guessed for w in warnings):
            warnings.insert(0, RowWarning(0, "", guessed, None))
        self.warnings = warnings

    def skipped_by_reason(self) -> dict[str, int]:
        """Number of skipped rows per reason kind, most frequent first."""
        return dict(Counter(s.kind for s in self.skipped).most_common())

    @property
    def warning_count(self) -> int:
        """Warnings as rows warned: a column-wide warning counts the rows it stands for."""
        return sum(1 if w.rows is None else w.rows for w in self.warnings)

    def warnings_by_kind(self) -> dict[str, int]:
        """Number of warnings per kind, most frequent first."""
        counts: Counter[str] = Counter()
        for w in self.warnings:
            counts[w.kind] += 1 if w.rows is None else w.rows
        return dict(counts.most_common())

    def summary(self) -> str:
        """A few human lines: source, row counts with reasons, warnings, and the column mapping."""
        skipped = f"{len(self.skipped):,} skipped"
        if self.skipped:
            skipped += f" ({count_line(self.skipped_by_reason())})"
        warned = plural(self.warning_count, "warning")
        if self.warnings:
            warned += f" ({count_line(self.warnings_by_kind())})"
        encoding = f", encoding {self.encoding}" if self.encoding else ""
        mapping = ", ".join(f"{f} <- {c}" for f, c in self.column_mapping.items())
        return "\n".join(
            [
                f"{self.path} ({self.format}{encoding})",
                f"{plural(self.rows_read, 'row')} read, {self.rows_used:,} used, {skipped}; {warned}",
                f"columns: {mapping}",
                *(f"note: {w.message}" for w in self.warnings if w.row == 0 and not w.column),
                *(f"note: {w.message}, in {plural(w.rows, 'row')}" for w in self.warnings if w.rows is not None),
            ]
        )

    def to_dict(self) -> dict:
        """JSON-able form, with the per-reason and per-kind counts included."""
        data = asdict(self)
        data["skipped_by_reason"] = self.skipped_by_reason()
        data["warnings_by_kind"] = self.warnings_by_kind()
        return data


@dataclass
class LoadResult:
    """The canonical listings table and the report of how it was made."""

    listings: pd.DataFrame
    report: LoadReport
