"""A fresh `diffscan competitors TEXT` process imports none of torch, transformers, sentence-transformers
or scikit-learn: the query is embedded in numpy (encoder.light) and vectorized in pure Python
(core.lexical.query_counts). Timings are in docs/scale.md ("Cold start"), not asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn")


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory):
    from diffscan import build_index

    root = tmp_path_factory.mktemp("cold")
    lines = (REPO / "corpus" / "catalog.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    catalog = root / "catalog.csv"
    catalog.write_text("".join(lines[:41]), encoding="utf-8")  # the header and 40 listings
    index, _report, _stats = build_index(catalog, root / "index", cache_dir=root / "cache")
    return index


def _fresh_competitors(index_path: Path, text: str) -> tuple[list[dict], list[str]]:
    """Run `diffscan competitors TEXT --format json` in a new interpreter: its results and the heavy
    modules it imported."""
    code = f"""
import json, sys
sys.argv = ["diffscan", "competitors", {text!r}, "--index", {str(index_path)!r}, "-k", "5", "--format", "json"]
import diffscan.cli
try:
    diffscan.cli.main()
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print("HEAVY=" + json.dumps(heavy), file=sys.stderr)
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, timeout=300,
                          cwd=index_path.parent)
    assert done.returncode == 0, done.stderr
    heavy = json.loads(done.stderr.rsplit("HEAVY=", 1)[1])
    return json.loads(done.stdout)["competitors"], heavy


def test_a_fresh_competitors_query_imports_no_torch_and_no_sklearn(tiny_index):
    from diffscan import find_competitors

    text = "Dotted notebook A4 hardcover 160 pages"
    competitors, heavy = _fresh_competitors(tiny_index.path, text)
    assert heavy == []
    assert competitors, "the query found no competitor"
    # the same answer as this process gives (it has torch loaded, the query path still uses numpy)
    expected = find_competitors(tiny_index, text, k=5).competitors
    assert [c["listing_id"] for c in competitors] == [c.listing_id for c in expected]
