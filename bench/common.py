"""Shared benchmark helpers: where the real catalogs are, tables, timing and memory."""

from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"
OUT = REPO / "bench" / "out"


def require_datasets() -> Path:
    """The real catalogs, or exit 0 with a clear message (a fresh clone has no ../shared)."""
    if not DATASETS.is_dir():
        print(f"SKIP: real catalogs not found at {DATASETS}; benchmarks need ../shared/datasets beside the checkout.")
        sys.exit(0)
    return DATASETS


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def timer():
    """`with timer() as t: ...; t()` gives the seconds spent inside."""
    start = time.perf_counter()
    box = {"end": None}
    yield lambda: (box["end"] or time.perf_counter()) - start
    box["end"] = time.perf_counter()


def table(title: str, header: list[str], rows: list[list]) -> str:
    """A Markdown table (pastes into issue notes and READMEs as is)."""
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = [f"\n### {title}\n", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def product1m_labels(raw) -> dict[str, frozenset[str]]:
    """Product1M dev's truth: each listing id's set of product labels (the file joins them with '|', in any
    order: the same set is the same product or kit)."""
    return dict(zip(raw["id"].astype(str), raw["product_labels"].map(lambda s: frozenset(x.strip() for x in s.split("|")))))


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), q))
