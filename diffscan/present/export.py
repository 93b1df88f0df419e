"""Writers for what the analyses return: CSV (spreadsheet-safe), JSON, JSON Lines and Markdown."""

from __future__ import annotations

import io
import json
import math
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

# A spreadsheet runs a cell starting with these as a formula (CSV/formula injection). Look-alikes
# (fullwidth ＝, small ﹢, superscript ⁺ ...) are found through NFKC; U+2212 (minus sign) is listed
# because NFKC keeps it and some spreadsheets read it as "-". Importers may trim leading spaces first.
_FORMULA_CHARS = frozenset("=+-@\u2212")
_CONTROL_START = frozenset("\t\r")


def _formula_like(text: str) -> bool:
    """Whether a spreadsheet could read `text` as a formula: a tab or CR in its leading blanks, or a
    formula character (or a look-alike) as its first character after blanks and invisible format marks."""
    for ch in text:
        if ch in _CONTROL_START:
            return True
        if ch.isspace() or unicodedata.category(ch) == "Cf":  # spaces, NBSP, ideographic space, ZWSP, BOM
            continue
        return ch in _FORMULA_CHARS or unicodedata.normalize("NFKC", ch)[:1] in _FORMULA_CHARS
    return False


def safe_cell(value):
    """Neutralize a cell a spreadsheet would run as a formula by prefixing a single quote."""
    if isinstance(value, str) and _formula_like(value):
        return "'" + value
    return value


def _flat(value):
    """Lists become '; '-joined text so one CSV cell holds them."""
    if isinstance(value, (list, tuple, set)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


# The competitor table as a seller reads it: what it is and what it costs first, why it matches next, the
# score's parts and the listing id (32 hex characters in many catalogs) last.
COMPETITOR_COLUMNS = ["rank", "match", "title", "price", "price_vs_query", "rating", "review_count", "brand",
                      "shared_phrases", "unique_to_query", "unique_to_competitor", "url", "category", "score",
                      "semantic", "lexical", "fuzzy", "listing_id"]


def competitors_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Competitors (rows of `Competitor.to_dict`, or a batch's frame) in the seller's column order, with the
    match label; unknown prices, ratings and review counts are empty (NaN), never the text "None"."""
    from diffscan.present.labels import match_label

    out = frame.copy()
    if len(out) and "match" not in out:
        out["match"] = [match_label(bool(n), str(k), bool(c))
                        for n, k, c in zip(out["near_duplicate"], out["kind"], out["code_match"])]
    for col in ("price", "rating", "review_count"):
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce")
    if "url" in out and not out["url"].astype(bool).any():
        out = out.drop(columns="url")  # the catalog has no links: no empty column
    head = [c for c in out.columns if c.startswith("query_")]
    shown = [c for c in COMPETITOR_COLUMNS if c in out.columns]
    return out[head + shown].reset_index(drop=True)


def to_csv(frame: pd.DataFrame, target: str | Path | None = None) -> str:
    """CSV text (and file when target is given) with lists flattened and formulas neutralized."""
    safe = frame.copy()
    for col in safe.columns:
        safe[col] = safe[col].map(lambda v: safe_cell(_flat(v)))
    safe.columns = [safe_cell(str(c)) for c in safe.columns]  # extra columns are named by the catalog
    text = safe.to_csv(index=False, lineterminator="\n")
    if target is not None:
        Path(target).write_text(text, encoding="utf-8")
    return text


def _jsonable(value):
    if isinstance(value, float) and math.isnan(value) or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # numpy scalars (arrays go through tolist)
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


# Markdown: catalog text is data, not markup. Escape what would format, link or open an HTML tag ("<"),
# and "$" / "~" (GitHub and Streamlit render $math$ and ~~strike~~); a ">" inside a line is plain text
# (category paths use it).
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|#$~"} | {"<": "&lt;", "\n": " ", "\r": " "})


def md_text(value) -> str:
    """Catalog text safe inside Markdown: no formatting, links, HTML or table breaks; NaN is empty."""
    value = _flat(_jsonable(value))
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value).translate(_MD_SPECIAL)


def to_markdown(frame: pd.DataFrame, target: str | Path | None = None) -> str:
    """A GitHub-style Markdown table of a DataFrame (cells escaped, lists joined with '; ')."""
    header = "| " + " | ".join(md_text(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(md_text(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    text = "\n".join([header, rule, *rows]) + "\n"
    if target is not None:
        Path(target).write_text(text, encoding="utf-8")
    return text


def _money(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.2f}"


def price_band_text(n: dict) -> str:
    """A niche's price band in words: lowest–highest of its real prices, with the median and the quartiles
    when there are enough prices for them."""
    low, mid, high = n.get("price_low"), n.get("price_median"), n.get("price_high")
    lowest, highest = n.get("price_min", low), n.get("price_max", high)
    if mid is None:
        return "no prices"
    text = _money(lowest) if lowest == highest else f"{_money(lowest)}–{_money(highest)}"
    if low is not None and high is not None:
        return f"{text} (middle half {_money(low)}–{_money(high)}, median {_money(mid)})"
    count = n.get("price_count") or 0
    return f"{text} ({count} price{'' if count == 1 else 's'})" if count else text


def niches_report(document: dict, target: str | Path | None = None, *, detailed: int = 10) -> str:
    """A one-page Markdown report of a niches document (`niches.niches_document`): a ranked table, then
    the `detailed` best niches with their USPs, positioning line and top competitors."""
    niches = document.get("niches", [])
    catalog = md_text(document.get("catalog") or "the catalog")
    lines = [f"# Niches in {catalog}", ""]
    count = document.get("listings")
    lines.append(f"{len(niches)} niches ranked by opportunity" + (f" among {count:,} listings." if count else "."))
    query = {k: v for k, v in (document.get("query") or {}).items() if v is not None}
    if query:
        lines.append("Filters: " + ", ".join(f"{k} = {md_text(v)}" for k, v in query.items()) + ".")
    lines += ["", f"*{md_text(document.get('formula', ''))}*", ""]
    table = pd.DataFrame(
        [{"#": n["rank"], "niche": n["name"], "category": n["category"], "opportunity": f"{n['opportunity']:.1f}",
          "demand": n["demand_label"], "listings / offers": f"{n['size']} / {n['distinct_offers']}",
          "price band": price_band_text(n), "USPs": [u["text"] for u in n["usps"][:4]]} for n in niches],
        columns=["#", "niche", "category", "opportunity", "demand", "listings / offers", "price band", "USPs"],
    )
    lines.append(to_markdown(table))
    for n in niches[:detailed]:
        lines += _niche_section(n)
    text = "\n".join(lines).rstrip() + "\n"
    if target is not None:
        Path(target).write_text(text, encoding="utf-8")
    return text


def _niche_section(n: dict) -> list[str]:
    """One niche as a short Markdown section."""
    c = n["components"]
    out = [f"## {n['rank']}. {md_text(n['name'])} — opportunity {n['opportunity']:.1f}", ""]
    out.append(f"{md_text(n['category'])} · {n['size']} listings, {n['distinct_offers']} distinct offers · "
               f"{md_text(n['demand_label'])} (demand from {md_text(n['demand_source'])}) · price {price_band_text(n)}  ")
    out.append(f"Components: demand {c['demand']:.2f} · competition {c['competition']:.2f} · "
               f"homogenization {c['homogenization']:.2f} · price room {c['price_room']:.2f}")
    neighbour = n.get("neighbour")
    if n["usps"]:
        against = (f" vs '{md_text(neighbour['label'])}' ({neighbour['compared']} of its {neighbour['size']} listings compared)"
                   if neighbour else "")
        out.append("")
        out.append(f"**USPs**{against}: " + ", ".join(f"{md_text(u['text'])} ({u['share']:.0%})" for u in n["usps"][:6]))
    out += ["", f"> {md_text(n['positioning'])}", ""]
    if n["top_competitors"]:
        out.append("Top competitors:")
        for t in n["top_competitors"][:3]:
            facts = [md_text(t.get("brand")) or "no brand"]
            if t.get("price") is not None:
                facts.append(_money(t["price"]))
            if t.get("review_count") is not None:
                facts.append(f"{t['review_count']:,.0f} reviews")
            if t.get("rating") is not None:
                facts.append(f"{t['rating']:.1f}★")
            out.append(f"- {md_text(t['title'])} ({', '.join(facts)})")
        out.append("")
    return out


# ---- comparisons of two snapshots --------------------------------------------------------------------

# Columns each table of a comparison shows in the Markdown report (the CSV and JSON exports hold all).
COMPARISON_COLUMNS = {
    "categories": ["rising_rank", "category", "status", "saturation_score_then", "saturation_score_now",
                   "saturation_change", "listings_then", "listings_now", "distinct_offers_then",
                   "distinct_offers_now", "entrants", "leavers", "clusters_grew", "clusters_shrank", "entrant_examples"],
    "clusters": ["category", "status", "label", "size_then", "size_now", "entrants", "leavers"],
    "niches_opened": ["rank", "name", "category", "size", "opportunity_then", "opportunity", "why"],
    "niches_closed": ["rank", "name", "category", "size", "opportunity", "opportunity_now", "why", "entrant_examples"],
    "watchlist": ["watched", "title", "differentiation_then", "differentiation_now", "differentiation_change",
                  "new_competitors", "new_twins", "twin_price_moves"],
}
COMPARISON_TITLES = {
    "categories": "Categories by rising saturation", "clusters": "Clusters that moved",
    "niches_opened": "Niches opened", "niches_closed": "Niches closed", "watchlist": "Watchlist",
}


def _watch_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """The watchlist's nested cells as short text (titles of new competitors, price moves)."""
    out = frame.copy()
    if "new_competitors" in out:
        out["new_competitors"] = out["new_competitors"].map(
            lambda cs: [f"{c['title']} ({c['kind']}{', entrant' if c['entrant'] else ''})" for c in cs])
    if "twin_price_moves" in out:
        out["twin_price_moves"] = out["twin_price_moves"].map(
            lambda ms: [f"{m['title']} ({m['change']:+.0%})" for m in ms])
    return out


def comparison_csvs(tables: dict[str, pd.DataFrame], target: str | Path) -> list[Path]:
    """One CSV per table of a comparison, beside `target`: NAME.csv -> NAME.categories.csv, NAME.listings.csv..."""
    target = Path(target)
    written = []
    for name, frame in tables.items():
        path = target.with_name(f"{target.stem}.{name}.csv")
        to_csv(frame, path)
        written.append(path)
    return written


def comparison_report(document: dict, target: str | Path | None = None, *, top: int = 20) -> str:
    """A Markdown report of a comparison document (`Comparison.to_dict()`): counts, then the `top` rows of
    each table (categories by rising saturation, clusters, niches opened and closed, the watchlist)."""
    c = document.get("counts", {})
    lines = [f"# Changes from {md_text(document.get('old'))} to {md_text(document.get('new'))}", ""]
    lines.append(f"{c.get('added', 0):,} listings added, {c.get('removed', 0):,} removed, {c.get('changed', 0):,} changed, "
                 f"{c.get('unchanged', 0):,} unchanged (matched by id {c.get('matched_by_id', 0):,}, by text "
                 f"{c.get('matched_by_text', 0):,}, as near-duplicates {c.get('matched_by_near_duplicate', 0):,}). "
                 f"Category level {document.get('level')}.")
    if document.get("note"):
        lines += ["", f"*{md_text(document['note'])}*"]
    for name, columns in COMPARISON_COLUMNS.items():
        frame = pd.DataFrame(document.get(name, []))
        lines += ["", f"## {COMPARISON_TITLES[name]}", ""]
        if frame.empty:
            lines.append("None.")
            continue
        frame = _watch_cells(frame) if name == "watchlist" else frame
        lines.append(to_markdown(frame[[col for col in columns if col in frame]].head(top)))
    text = "\n".join(lines).rstrip() + "\n"
    if target is not None:
        Path(target).write_text(text, encoding="utf-8")
    return text
