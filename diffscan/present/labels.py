"""Words the front ends show for analysis results, written once."""

from __future__ import annotations

MATCH_KINDS = ("near-duplicate", "twin", "substitute")


def match_label(near_duplicate: bool, kind: str, code_match: bool = False) -> str:
    """How a competitor matches: near-duplicate, twin (same product) or substitute, and a shared model number."""
    label = "near-duplicate" if near_duplicate else ("twin" if kind == "twin" else "substitute")
    return label + (" · same model no." if code_match else "")
