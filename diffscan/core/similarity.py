"""Shared similarity rules: when two listings are near-duplicates, the cosine scale, and top-k rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz


@dataclass(frozen=True)
class NearDuplicateRule:
    """A shopper could not tell two listings apart from the text: the meaning is nearly identical, or
    the titles are the same words with trivial edits, or the same words up to a few extra attributes
    (a size, a colour) with the same meaning.

    Parameters
    ----------
    cosine: semantic cosine at or above which two listings are near-duplicates whatever their titles.
    title_ratio: rapidfuzz ``token_sort_ratio`` of the titles at or above which they are.
    title_set_ratio, set_min_cosine: ``token_set_ratio`` at or above this, with cosine at least
        ``set_min_cosine``.
    """

    cosine: float = 0.95
    title_ratio: float = 92.0
    title_set_ratio: float = 90.0
    set_min_cosine: float = 0.80

    def __call__(self, semantic: float, title_a: str, title_b: str) -> bool:
        if semantic >= self.cosine:
            return True
        if fuzz.token_sort_ratio(title_a, title_b, processor=str.lower) >= self.title_ratio:
            return True
        return semantic >= self.set_min_cosine and (
            fuzz.token_set_ratio(title_a, title_b, processor=str.lower) >= self.title_set_ratio
        )

    def describe(self) -> str:
        """The rule in words, for help texts and docs."""
        return (f"cosine >= {self.cosine:.2f}, or title token_sort_ratio >= {self.title_ratio:g}, or title "
                f"token_set_ratio >= {self.title_set_ratio:g} with cosine >= {self.set_min_cosine:.2f}")


NEAR_DUPLICATE = NearDuplicateRule()


def is_near_duplicate(semantic: float, title_a: str, title_b: str, rule: NearDuplicateRule = NEAR_DUPLICATE) -> bool:
    """Whether a shopper could not tell two listings apart from their text (see NearDuplicateRule)."""
    return rule(semantic, title_a, title_b)


@dataclass(frozen=True)
class CosineScale:
    """Maps a mean cosine to 0..1: 0 at ``far`` and below (unrelated listings), 1 at ``near`` and above
    (near-duplicates). Homogenization reads it upward, a listing's distance from its competitors downward."""

    far: float = 0.40
    near: float = 0.95

    def closeness(self, cosine: float) -> float:
        """0 at ``far``, 1 at ``near``, linear between, clipped."""
        return float(min(max((cosine - self.far) / (self.near - self.far), 0.0), 1.0))


COSINE_SCALE = CosineScale()


def top_rows(scores: np.ndarray, n: int, rows: np.ndarray | None = None) -> np.ndarray:
    """The rows (default: positions) of the n largest finite scores, unordered; `rows` align with `scores`."""
    n = min(n, len(scores))
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    idx = np.argpartition(-scores, n - 1)[:n]
    idx = idx[np.isfinite(scores[idx])]
    return idx if rows is None else rows[idx]
