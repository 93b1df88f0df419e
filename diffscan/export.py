"""Writers for what the analyses return: CSV (spreadsheet-safe), JSON, JSON Lines and Markdown."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

# A spreadsheet runs a cell starting with these as a formula (CSV/formula injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Neutralize a cell a spreadsheet would run as a formula by prefixing a single quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _flat(value):
    """Lists become '; '-joined text so one CSV cell holds them."""
    if isinstance(value, (list, tuple, set)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def to_csv(frame: pd.DataFrame, target: str | Path | None = None) -> str:
    """CSV text (and file when target is given) with lists flattened and formulas neutralized."""
    safe = frame.copy()
    for col in safe.columns:
        safe[col] = safe[col].map(lambda v: safe_cell(_flat(v)))
    text = safe.to_csv(index=False, lineterminator="\n")
    if target is not None:
        Path(target).write_text(text, encoding="utf-8")
    return text


def _jsonable(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    return value


def to_json(data, target: str | Path | None = None) -> str:
    """Pretty JSON (NaN becomes null) and file when target is given."""
    text = json.dumps(_jsonable(data), ensure_ascii=False, indent=2)
    if target is not None:
        Path(target).write_text(text + "\n", encoding="utf-8")
    return text


def to_jsonl(records: Iterable[dict], target: str | Path | None = None) -> str:
    """One JSON object per line."""
    buf = io.StringIO()
    for rec in records:
        buf.write(json.dumps(_jsonable(rec), ensure_ascii=False) + "\n")
    text = buf.getvalue()
    if target is not None:
        Path(target).write_text(text, encoding="utf-8")
    return text


def records(frame: pd.DataFrame) -> list[dict]:
    """DataFrame rows as JSON-able dicts."""
    return [_jsonable(r) for r in frame.to_dict(orient="records")]
