"""Incremental builds: what an index already holds that a new export of the same catalog can re-use.

`diffscan build CATALOG --update` reads the catalog as the new state of the market. A listing whose
listing_id and text (the embedded text, hashed) are both unchanged keeps its vector and lexical row
from the existing index; a new or edited listing is embedded (through the embedding cache); a listing
no longer in the export is deleted. Prices, ratings and other fields always come from the new export.
The result equals a full rebuild (up to float rounding), written atomically like any build.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from diffscan.core.lexical import unweigh
from diffscan.encoder.cache import text_key
from diffscan.index.store import Index


@dataclass
class UpdateCounts:
    """What an update did, by listing."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"added": self.added, "changed": self.changed, "unchanged": self.unchanged, "deleted": self.deleted}


@dataclass
class Reuse:
    """Looks up listings of a new export in the previous index by listing_id and text hash."""

    previous: Index
    counts: UpdateCounts = field(default_factory=UpdateCounts)

    def __post_init__(self) -> None:
        self._keys = [text_key(t) for t in self.previous.texts()]
        self._seen = np.zeros(len(self.previous), dtype=bool)

    def match(self, ids: list[str], texts: list[str]) -> np.ndarray:
        """Previous row of each listing whose id and text are unchanged, else -1; counts the rest."""
        rows = np.full(len(ids), -1, dtype=np.int64)
        for i, (lid, text) in enumerate(zip(ids, texts)):
            row = self.previous.row_of(lid)
            if row is None:
                self.counts.added += 1
                continue
            self._seen[row] = True
            if self._keys[row] == text_key(text):
                rows[i] = row
                self.counts.unchanged += 1
            else:
                self.counts.changed += 1
        return rows

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """Previous vectors of these rows (read in row order: the file is memory-mapped)."""
        order = np.argsort(rows)
        out = np.empty((len(rows), self.previous.vectors.shape[1]), dtype=np.float32)
        out[order] = self.previous.vectors[rows[order]]
        return out

    def lexical(self, rows: np.ndarray) -> sp.csr_matrix:
        """Previous lexical rows, un-weighed so the writer can weigh them with the new idf."""
        return unweigh(self.previous.lexical[rows], self.previous.idf)

    def finish(self) -> UpdateCounts:
        """Final counts: previous listings never seen in the export are deleted."""
        self.counts.deleted = int((~self._seen).sum())
        return self.counts
