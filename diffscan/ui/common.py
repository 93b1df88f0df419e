"""Layout helpers shared by the pages: user errors in the page, safe text, progress bars, downloads."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd
import streamlit as st

from diffscan.errors import DiffscanError

T = TypeVar("T")

STAGE_LABELS = {"embed": "Embedding listings", "lexical": "Building the lexical matrix"}
# Characters Streamlit's Markdown would interpret: emphasis, links, images, headings, tables,
# LaTeX ($), colour/icon directives (:red[...], :material/x:) and HTML-looking tags.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: object) -> str:
    """Catalog text made inert for Markdown: shown literally, never as links, images or HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


# Where each library parameter named by an error (DiffscanError.parameter) is set in the app.
CONTROLS = {
    "mapping": "Set the columns under **Column mapping** on the Catalog page.",
    "index": "Build or pick an index on the **Catalog** page.",
    "out": "Choose another index name on the **Catalog** page.",
    "model": "Rebuild the index on the **Catalog** page with this app's model.",
    "limits": "Split the file into smaller ones, or ask whoever set diffscan up to build it with a higher limit.",
}


def error_text(exc: DiffscanError) -> str:
    """A user error as Markdown: its message kept literal (it quotes file and column names), then where
    to fix it in the app."""
    hint = CONTROLS.get(exc.parameter or "")
    return plain(exc) + (f"  \n{hint}" if hint else "")


def guarded(fn: Callable[..., T], *args, **kwargs) -> T | None:
    """Call `fn`; a DiffscanError (a user error) is shown in the page with st.error and gives None."""
    try:
        return fn(*args, **kwargs)
    except DiffscanError as exc:
        st.error(error_text(exc), icon=":material/error:")
        return None


def stage_progress(bar) -> Callable[[str, int, int], None]:
    """A `progress(stage, done, total)` callback for build_index that moves an st.progress bar."""

    def report(stage: str, done: int, total: int) -> None:
        label = STAGE_LABELS.get(stage, stage)
        fraction = done / total if total else 1.0
        bar.progress(min(1.0, max(0.0, fraction)), text=f"{label}: {done:,} / {total:,}")

    return report


@dataclass(frozen=True)
class Download:
    """One file offered by a download button: how to make its bytes, its file name and MIME type.

    `make` runs only when the file is asked for: exporting a 20,000-listing comparison to JSON, Markdown
    and CSVs took seconds, on every rerun of the page, for files that are rarely downloaded.
    """

    label: str
    make: Callable[[], bytes]
    file_name: str
    mime: str

    @property
    def data(self) -> bytes:
        """The file's bytes (made now)."""
        return self.make()


def once(make: Callable[[], T]) -> Callable[[], T]:
    """`make`, run at most once: a document that several downloads are written from is built once."""
    return functools.cache(make)


def download_buttons(downloads: list[Download], key: str) -> None:
    """A row of download buttons; clicking one does not rerun the page, and makes its file then
    (Streamlit's deferred download: the callable runs on the click, outside the script run)."""
    with st.container(horizontal=True, key=f"{key}-downloads"):
        for d in downloads:
            st.download_button(
                d.label, d.make, file_name=d.file_name, mime=d.mime, key=f"{key}-{d.file_name}",
                on_click="ignore", icon=":material/download:",
            )


def formula(text: str, label: str, key: str) -> None:
    """A score's formula as a code block in a closed expander, drawn only once the expander is opened:
    the browser's code highlighter takes ~0.4 s to start, on a page that rarely needs it (opening
    the expander reruns the page, whose analyses are cached)."""
    with st.expander(label, icon=":material/functions:", key=key, on_change="rerun") as box:
        if box.open:
            st.code(text, language=None)


def slug(text: str, default: str = "catalog") -> str:
    """A file or folder name from free text: letters, digits, dot, dash and underscore."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-_")
    return cleaned[:60] or default


_KEPT = "kept:"  # session-state prefix of the copies `remember` makes


def restore(key: str, allowed=None) -> str:
    """Put a widget's remembered value back before it is drawn (and return its key): Streamlit forgets
    the state of every widget a run did not draw, so a listing pasted on Competitors would be gone after
    a visit to another page. `allowed` (the widget's options) drops a value that no longer fits."""
    copy = st.session_state.get(_KEPT + key)
    if key not in st.session_state and (_KEPT + key) in st.session_state and (allowed is None or copy in allowed):
        st.session_state[key] = copy
    return key


def remember(*keys: str) -> None:
    """Copy these widgets' values to keys Streamlit keeps while the widgets are not drawn (`restore`)."""
    for key in keys:
        if key in st.session_state:
            st.session_state[_KEPT + key] = st.session_state[key]


# How prices, ratings and review counts read in tables; `dashed` writes an unknown one as a dash.
NUMBER_FORMATS = {"price": "{:,.2f}", "rating": "{:.1f}", "review_count": "{:,.0f}"}


def dashed(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its price, rating and review columns as text, an unknown one a dash: Streamlit's
    table writes a missing number as "None" whatever the format or Styler says. (Sorting those columns
    then sorts text; the CSV and JSON downloads keep the numbers.)"""
    out = frame.copy()
    for column, fmt in NUMBER_FORMATS.items():
        if column in out:
            out[column] = [("—" if v is None or v != v else fmt.format(v)) for v in out[column]]
    return out


def dashed_columns(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> dict:
    """Column configs for the columns `dashed` made text: right-aligned like numbers."""
    labels = {"review_count": "reviews", **(labels or {})}
    return {c: st.column_config.TextColumn(labels.get(c, c), alignment="right") for c in NUMBER_FORMATS if c in frame}
