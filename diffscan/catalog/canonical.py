"""The canonical listings of one raw chunk: mapped columns parsed and cleaned, and why each row is skipped.

The rules every load applies, whole-file or chunked (`chunks.CatalogChunks` runs them per chunk).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from diffscan.catalog.cleaning import clean_text, split_category
from diffscan.catalog.limits import LOAD_LIMITS
from diffscan.catalog.report import RowWarning
from diffscan.catalog.values import ValueParser, read_count, read_price, read_rating

MAX_TITLE_CHARS = 500
NUMERIC_FIELDS: dict[str, ValueParser] = {
    "price": read_price, "rating": read_rating, "review_count": read_count, "sales": read_count,
}


class Notes:
    """Collects warnings while columns are parsed, keyed by row number; column-wide ones wait for
    `settle` to learn which rows are used."""

    def __init__(self) -> None:
        self.items: list[RowWarning] = []
        self._column_wide: list[tuple[pd.Index, str, str]] = []

    def add_column_wide(self, rows: pd.Index, mask: np.ndarray, column: str, message: str) -> None:
        """One warning standing for every row where ``mask`` is true (see `RowWarning.rows`)."""
        self._column_wide.append((rows[mask], column, message))

    def settle(self, table: pd.DataFrame) -> None:
        """Column-wide warnings counted over the rows of ``table`` that have a title and a first id (the
        others are skipped) and named by the first of them, so the warning is kept when its rows are."""
        if not self._column_wide:
            return
        usable = table.index[((table["title"] != "") & ~table["listing_id"].duplicated()).to_numpy()]
        for rows, column, message in self._column_wide:
            rows = rows[rows.isin(usable)]
            if len(rows):
                self.items.append(RowWarning(int(rows[0]), column, message, len(rows)))
        self._column_wide.clear()

    def add(self, rows: pd.Index, mask: np.ndarray, column: str, messages: list[str] | str) -> None:
        """Add a warning for each row where ``mask`` is true (one message, or one per flagged row)."""
        flagged = rows[mask]
        texts = [messages] * len(flagged) if isinstance(messages, str) else messages
        self.items.extend(RowWarning(int(r), column, m) for r, m in zip(flagged, texts))


def _shown(value: str) -> str:
    """A value quoted for a message, shortened to 40 characters."""
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _cleaned(values: pd.Series) -> pd.Series:
    """``clean_text`` over a column, computed once per distinct value."""
    return values.map({v: clean_text(v) for v in values.unique()})


def _cut(values: pd.Series, limit: int, column: str, notes: Notes, why: str = "") -> pd.Series:
    """Cut texts longer than ``limit`` characters, with a warning per cut row."""
    long = (values.str.len() > limit).to_numpy()
    if long.any():
        notes.add(values.index, long, column, f"{column} cut to {limit:,} characters{why}")
        values = values.where(~long, values.str.slice(0, limit))
    return values


def _numbers(values: pd.Series, parse: ValueParser, column: str, notes: Notes) -> np.ndarray:
    """Parse a numeric column once per distinct value; problems become warnings and NaN, notes on kept
    values (a range, a lower bound) one column-wide warning per kind with an example."""
    parsed = {v: parse(v) for v in values.unique()}
    numbers = values.map({v: (np.nan if n is None else n) for v, (n, _) in parsed.items()}).to_numpy(dtype=float)
    problems = values.map({v: p or "" for v, (_, p) in parsed.items()})
    flagged = (problems != "").to_numpy()
    bad = flagged & np.isnan(numbers)
    if bad.any():
        messages = [f"{column} {p} ({_shown(v.strip())})" for v, p in zip(values[bad], problems[bad])]
        notes.add(values.index, bad, column, messages)
    noted = flagged & ~bad
    if noted.any():
        for kind in problems[noted].unique():
            mask = noted & (problems == kind).to_numpy()
            example, number = values[mask].iloc[0].strip(), numbers[mask][0]
            message = f"{column} {kind} (e.g. {_shown(example)} read as {number:,g})"
            notes.add_column_wide(values.index, mask, column, message)
    return numbers


def _category_paths(frame: pd.DataFrame, columns: list[str], separator: str | None) -> list[list[str]]:
    """Category levels per row: one path column split on its separator, or one level per column."""
    if not columns:
        return [[] for _ in range(len(frame))]
    if len(columns) == 1:
        values = frame[columns[0]]
        paths = {v: split_category(v, separator or _cjk_separator(v)) for v in values.unique()}
        return [list(paths[v]) for v in values]
    levels = [_cleaned(frame[c]).tolist() for c in columns]
    return [[level for level in row if level] for row in zip(*levels)]


# Separators that split a category path only between Chinese or Japanese levels ("美妆/面霜",
# "3C数码-手机"): "T-Shirts" or "Tools/Hardware" stay one level. split_category finds the others (">").
_CJK_SEPARATORS = ("＞", "／", "/", "－", "-", "—")
_STANDARD_SEPARATORS = (">", " / ", "|", "»")
_HAN = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _cjk_separator(value: str) -> str | None:
    """The separator of a Chinese category path that split_category would not split, else None."""
    if not _HAN.search(value) or value.lstrip().startswith("[") or any(s in value for s in _STANDARD_SEPARATORS):
        return None
    for separator in _CJK_SEPARATORS:
        parts = [p for p in value.split(separator) if p.strip()]
        if len(parts) > 1 and all(_HAN.search(p) for p in parts):
            return separator
    return None


_JSON = json.JSONEncoder(ensure_ascii=False)


def _extra_json(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Unmapped columns of each row as a JSON object string (empty values omitted), built column-wise."""
    body = pd.Series("", index=frame.index, dtype=str)
    for column in columns:
        values = frame[column].str.strip()
        pairs = f", {_JSON.encode(column)}: " + values.map(_JSON.encode).astype(str)
        body = body + pairs.where(values != "", "")
    return "{" + body.str.slice(2) + "}"


def _listing_ids(frame: pd.DataFrame, column: str | None, notes: Notes) -> pd.Series:
    """Ids from the id column (whitespace stripped), or ``row-<n>`` where absent or empty."""
    generated = pd.Series([f"row-{r}" for r in frame.index], index=frame.index, dtype=str)
    if column is None:
        return generated
    ids = frame[column].str.strip()
    empty = (ids == "").to_numpy()
    if empty.any():
        notes.add(frame.index, empty, "listing_id", [f"listing_id empty (generated {g})" for g in generated[empty]])
    return ids.where(~empty, generated)


def skips(frame: pd.DataFrame, titles: pd.Series, ids: pd.Series) -> pd.Series:
    """Reason each row is skipped ("" when used): blank row, empty title, duplicate listing_id."""
    reasons = pd.Series("", index=frame.index, dtype=str)
    blank = frame.apply(lambda column: column.str.strip() == "").all(axis=1)
    reasons[blank] = "blank row"
    reasons[(reasons == "") & (titles == "")] = "empty title"
    usable = reasons == ""
    duplicate = ids[usable].duplicated(keep="first")
    if duplicate.any():
        first_row = pd.Series(ids[usable][~duplicate].index, index=ids[usable][~duplicate].to_numpy())
        dup_rows = duplicate[duplicate].index
        reasons[dup_rows] = [f"duplicate listing_id (first at row {first_row[i]})" for i in ids[dup_rows]]
    return reasons


def _capped(frame: pd.DataFrame, columns: list[str], limit: int, notes: Notes) -> pd.DataFrame:
    """Cells of ``columns`` longer than the max_cell_chars limit cut to it, with a warning per cell."""
    why = " (the max_cell_chars limit)"
    long = {c: frame[c] for c in columns if (frame[c].str.len() > limit).any()}
    if not long:
        return frame
    frame = frame.copy()
    for column, values in long.items():
        frame[column] = _cut(values, limit, column, notes, why)
    return frame


def canonical_table(
    frame: pd.DataFrame, sources: dict[str, list[str]], notes: Notes, separator: str | None, max_description: int,
    max_cell_chars: int = LOAD_LIMITS.max_cell_chars,
) -> pd.DataFrame:
    """All canonical columns for every row (same index as ``frame``), before rows are skipped."""
    empty = pd.Series("", index=frame.index, dtype=str)
    nan = np.full(len(frame), np.nan)

    def one(name: str) -> str | None:
        return sources[name][0] if name in sources else None

    # Titles, descriptions and numbers have their own cuts and checks; every other text is held to
    # max_cell_chars.
    own = {one(n) for n in ("title", "description", *NUMERIC_FIELDS)}
    frame = _capped(frame, [c for c in frame.columns if c not in own], max_cell_chars, notes)

    def text(name: str) -> pd.Series:
        return _cleaned(frame[one(name)]) if one(name) else empty

    numbers = {n: (_numbers(frame[one(n)], p, n, notes) if one(n) else nan) for n, p in NUMERIC_FIELDS.items()}
    used = {c for cols in sources.values() for c in cols}
    table = pd.DataFrame(
        {
            "listing_id": _listing_ids(frame, one("listing_id"), notes),
            "title": _cut(text("title"), min(MAX_TITLE_CHARS, max_cell_chars), "title", notes),
            "description": _cut(text("description"), min(max_description, max_cell_chars), "description", notes),
            "category_path": pd.Series(
                _category_paths(frame, sources.get("category_path", []), separator), index=frame.index, dtype=object
            ),
            "brand": text("brand"),
            "price": numbers["price"],
            "rating": numbers["rating"],
            "review_count": numbers["review_count"],
            "sales": numbers["sales"],
            "shop": text("shop"),
            "url": frame[one("url")].str.strip() if one("url") else empty,
            "extra": _extra_json(frame, [c for c in frame.columns if c not in used]),
        },
        index=frame.index,
    )
    notes.settle(table)
    return table.astype({c: str for c in ("listing_id", "title", "description", "brand", "shop", "url", "extra")})
