"""How diffscan scales: build, memory, disk, query latency, ANN recall and analyses at 100k, 300k and 1M listings.

    python -m bench.scale                                 # 100k, 300k, 1M: static everywhere, MiniLM up to 100k
    python -m bench.scale --sizes 20000 --models static   # a quick look

The catalogs are synthetic (bench/synthetic.py: seeded, shaped by ../shared/datasets at run time) and
kept in bench/out/scale/. Every measurement runs in its own subprocess, so peak RSS is that step's alone:

- build: `build_index` of the CSV (streamed when >= 64 MB), wall and CPU time, peak RSS, size on disk;
- query: 300 pasted-listing queries (embedding included), p50/p95 wall and CPU; the same queries with
  exact candidate generation (a full matrix-vector product and a full sparse product) on the same index;
  their top-10 agreement; ANN recall@10 against exact cosine (the graph alone, and re-ranked as searched);
  recall of the pruned lexical postings against the exact lexical top-10; plain baselines in the same
  run: exact numpy search (vectors in RAM, matrix-vector product + argpartition) and rapidfuzz
  `process.extract` over all titles;
- analyses: `landscape.analyze_landscape` and `niches.find_niches` computed in one process (bounded
  by --analysis-timeout), with BERTopic's defaults on the same embeddings as the clustering baseline
  (up to --bertopic-max listings; `pip install bertopic`);
- fresh processes as a user runs them: `diffscan competitors` (median of 3), `saturation` and `niches`
  the first time (computed and kept in the index folder) and again (read back, median of 3).

Figures on a shared 2-core machine move with the other load: CPU seconds are printed next to wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import OUT, percentile, table

WORK = OUT / "scale"
QUERIES = 300
BASELINE_QUERIES = {"numpy": 100, "rapidfuzz": 20}
RECALL_QUERIES = 200


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _anon_mb() -> float:
    """Anonymous (non file-backed) resident memory now: RSS without mapped index pages, which are
    page cache the kernel can drop at will."""
    import re

    status = Path("/proc/self/status")
    match = re.search(r"RssAnon:\s+(\d+)", status.read_text()) if status.exists() else None
    return int(match.group(1)) / 1024 if match else float("nan")


def _emit(result: dict) -> None:
    print("RESULT " + json.dumps(result), flush=True)


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


# ---------------------------------------------------------------------------------------------
# Workers (each in its own process)
# ---------------------------------------------------------------------------------------------


def worker_build(catalog: Path, out: Path, model: str) -> dict:
    from diffscan.encoder.local import load_encoder
    from diffscan.index.build import build_index

    load_encoder(model)  # a model load is a one-off, not part of a build
    base_rss = _peak_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    index, report, stats = build_index(catalog, out, model=model)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    files = {name: meta["bytes"] for name, meta in index.manifest["files"].items()}
    return {"listings": len(index), "build_s": wall, "build_cpu_s": cpu, "peak_rss_mb": _peak_mb(),
            "rss_after_model_mb": base_rss, "disk_mb": _du(out) / 1e6, "files_mb": {k: v / 1e6 for k, v in files.items()},
            "search": index.manifest["search"]["semantic"], "embedded": stats["embedded"], "cached": stats["cached"],
            "streamed": Path(catalog).stat().st_size >= 64 * 2**20, "catalog_mb": Path(catalog).stat().st_size / 1e6}


def _exact_view(index):
    """The same index searched exactly: no graph, and the postings used as the full transposed matrix."""
    from dataclasses import replace

    return replace(index, ann=None, postings=None, _lexical_t=index.postings if index.postings is not None else None)


def worker_query(catalog: Path, out: Path) -> dict:
    from bench.synthetic import sample_queries
    from diffscan.analyses.competitors import find_competitors
    from diffscan.core.ann import recall_at_k
    from diffscan.core.lexical import lexical_candidates
    from diffscan.index.store import load_index

    wall = time.perf_counter()
    index = load_index(out)
    load_s = time.perf_counter() - wall
    encoder = index.encoder()
    rss_loaded = _peak_mb()
    queries = sample_queries(catalog, QUERIES)
    for q in queries[:10]:  # warm up
        find_competitors(index, q, k=10, encoder=encoder)
    lat, cpu, results = [], [], []
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        res = find_competitors(index, q, k=10, encoder=encoder)
        lat.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        results.append([x.listing_id for x in res.competitors])
    out_d = {"load_s": load_s, "rss_after_load_mb": rss_loaded, "rss_after_queries_mb": _peak_mb(),
             "anon_after_queries_mb": _anon_mb(),
             "query_p50_ms": percentile(lat, 50), "query_p95_ms": percentile(lat, 95),
             "query_cpu_p50_ms": percentile(cpu, 50), "query_cpu_p95_ms": percentile(cpu, 95),
             "search": index.manifest["search"]["semantic"]}
    qvecs = encoder.encode(queries)
    if index.ann is not None:
        exact = _exact_view(index)
        elat, agree = [], []
        for q, got in zip(queries[:100], results):
            t = time.perf_counter()
            res = find_competitors(exact, q, k=10, encoder=encoder)
            elat.append((time.perf_counter() - t) * 1000)
            agree.append(len(set(got) & {x.listing_id for x in res.competitors}) / 10)
        out_d.update(exact_query_p50_ms=percentile(elat, 50), exact_query_p95_ms=percentile(elat, 95),
                     top10_agreement=float(np.mean(agree)))
        sample = qvecs[:RECALL_QUERIES]
        out_d["ann_recall10_graph"] = recall_at_k(index.ann, index.vectors, sample, k=10)
        out_d["ann_recall10_searched"] = recall_at_k(index.ann, index.vectors, sample, k=10, pool=100)
        lex_hits = 0
        for q in queries[:RECALL_QUERIES]:
            qrow = index.query_lexical(q)
            scores = np.asarray((qrow @ index.postings).todense()).ravel()
            top = np.argpartition(-scores, 9)[:10]
            kth = scores[top].min()
            found = lexical_candidates(qrow, index.postings, 100)
            lex_hits += min(10, int(np.sum(scores[found] >= kth - 1e-6))) if len(found) else 0
        out_d["lexical_recall10_pruned"] = lex_hits / (10 * RECALL_QUERIES)
    out_d["peak_rss_mb"] = _peak_mb()
    return out_d


def worker_baselines(catalog: Path, out: Path) -> dict:
    """Plain baselines on the same data: exact numpy cosine search, rapidfuzz over all titles."""
    import pandas as pd
    from rapidfuzz import fuzz, process

    from bench.synthetic import sample_queries
    from diffscan.encoder.local import load_encoder
    from diffscan.index.store import load_index

    index = load_index(out, verify=False)
    encoder = load_encoder(index.manifest["model"]["spec"])
    vectors = np.array(index.vectors)  # in RAM, as a plain script would hold them
    queries = sample_queries(catalog, BASELINE_QUERIES["numpy"])
    lat = []
    for q in queries:
        t = time.perf_counter()
        v = encoder.encode_one(q)
        scores = vectors @ v
        np.argpartition(-scores, 10)[:10]
        lat.append((time.perf_counter() - t) * 1000)
    del vectors
    titles = pd.read_parquet(index.path / "listings.parquet", columns=["title"])["title"].tolist()
    flat = []
    for q in queries[: BASELINE_QUERIES["rapidfuzz"]]:
        t = time.perf_counter()
        process.extract(q, titles, scorer=fuzz.token_set_ratio, limit=10)
        flat.append((time.perf_counter() - t) * 1000)
    return {"numpy_p50_ms": percentile(lat, 50), "numpy_p95_ms": percentile(lat, 95),
            "rapidfuzz_p50_ms": percentile(flat, 50), "rapidfuzz_p95_ms": percentile(flat, 95),
            "peak_rss_mb": _peak_mb()}


def worker_analyses(out: Path) -> dict:
    from diffscan.index.store import load_index

    try:
        from diffscan.analyses.landscape import analyze_landscape
    except ImportError:
        return {"landscape": "module absent"}
    index = load_index(out, verify=False)
    t = time.perf_counter()
    land = analyze_landscape(index)
    result = {"landscape_s": time.perf_counter() - t}
    try:
        from diffscan.analyses.niches import find_niches
    except ImportError:
        result["niches"] = "module absent"
    else:
        t = time.perf_counter()
        find_niches(index, land)
        result["niches_s"] = time.perf_counter() - t
    result["peak_rss_mb"] = _peak_mb()
    return result


def _wall(command: list[str], env: dict | None = None) -> float:
    """Wall seconds of one fresh `diffscan` process (output discarded); NaN when it fails."""
    t = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          cwd=Path(__file__).resolve().parent.parent, env=env)
    return time.perf_counter() - t if done.returncode == 0 else float("nan")


def worker_cli(catalog: Path, out: Path) -> dict:
    """Fresh processes, as a user runs them: `competitors` (median of 3), then `saturation` and `niches`
    the first time (computed and kept in the index folder) and again (median of 3, read back)."""
    from bench.synthetic import sample_queries
    from diffscan.index.results import RESULTS_DIR

    cli = [sys.executable, "-m", "diffscan.cli"]
    query = sample_queries(catalog, 1)[0]
    result = {"competitors_s": float(np.median([_wall([*cli, "competitors", query, "--index", str(out)])
                                                for _ in range(3)]))}
    shutil.rmtree(out / RESULTS_DIR, ignore_errors=True)  # an earlier run's analyses: unlisted files, swept
    for command in ("saturation", "niches"):
        result[f"{command}_first_s"] = _wall([*cli, command, "--index", str(out)])
        result[f"{command}_again_s"] = float(np.median([_wall([*cli, command, "--index", str(out)]) for _ in range(3)]))
    return result


def worker_bertopic(out: Path) -> dict:
    """Baseline: BERTopic with its defaults (UMAP, HDBSCAN, c-TF-IDF) on the index's own embeddings."""
    try:
        from bertopic import BERTopic
    except ImportError:
        return {"error": "bertopic not installed (pip install bertopic)"}
    from diffscan.index.store import load_index

    index = load_index(out, verify=False)
    titles = index.listings["title"].astype(str).tolist()
    vectors = np.asarray(index.vectors, dtype=np.float32)
    t = time.perf_counter()
    topics, _ = BERTopic(verbose=False).fit_transform(titles, embeddings=vectors)
    topics = np.asarray(topics)
    return {"bertopic_s": time.perf_counter() - t, "topics": int(len(set(topics.tolist())) - (-1 in topics)),
            "outliers": float(np.mean(topics == -1)), "peak_rss_mb": _peak_mb()}


WORKERS = {"build": worker_build, "query": worker_query, "baselines": worker_baselines, "analyses": worker_analyses,
           "cli": worker_cli, "bertopic": worker_bertopic}


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------


def run_worker(name: str, *args: str, timeout: float | None = None) -> dict:
    """Run one worker in a fresh interpreter; its RESULT line is the answer."""
    cmd = [sys.executable, "-m", "bench.scale", "--worker", name, *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=Path(__file__).resolve().parent.parent)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": " / ".join(tail) or f"exit {proc.returncode}"}


def _fmt(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}{unit}"


def measure(size: int, model: str, args) -> dict:
    from bench.synthetic import default_path, generate

    catalog = generate(size, default_path(size, args.seed), seed=args.seed)
    out = WORK / f"index-{size}-{model}"
    print(f"\n[{size:,} listings, model {model}] building...", flush=True)
    res = {"size": size, "model": model, "build": run_worker("build", str(catalog), str(out), model)}
    print(f"  build: {res['build']}", flush=True)
    res["query"] = run_worker("query", str(catalog), str(out))
    print(f"  query: {res['query']}", flush=True)
    res["baselines"] = run_worker("baselines", str(catalog), str(out))
    print(f"  baselines: {res['baselines']}", flush=True)
    if not args.skip_analyses:
        res["analyses"] = run_worker("analyses", str(out), timeout=args.analysis_timeout)
        print(f"  analyses: {res['analyses']}", flush=True)
        res["cli"] = run_worker("cli", str(catalog), str(out), timeout=4 * args.analysis_timeout)
        print(f"  cli: {res['cli']}", flush=True)
        if size <= args.bertopic_max and model == "static":  # one baseline per size: the same embeddings' clusters
            res["bertopic"] = run_worker("bertopic", str(out), timeout=args.analysis_timeout)
            print(f"  bertopic: {res['bertopic']}", flush=True)
    if not args.keep_indexes:
        shutil.rmtree(out, ignore_errors=True)
    return res


def report(results: list[dict]) -> None:
    """The tables: one column per (size, model), baselines next to diffscan."""
    header = ["measure"] + [f"{r['size']:,} / {r['model']}" for r in results]

    def row(label, get):
        return [label] + [get(r) for r in results]

    b = lambda r: r["build"]  # noqa: E731
    q = lambda r: r["query"]  # noqa: E731
    base = lambda r: r["baselines"]  # noqa: E731
    rows = [
        row("catalog CSV", lambda r: _fmt(b(r).get("catalog_mb"), " MB", 0) + (" (streamed)" if b(r).get("streamed") else "")),
        row("build, wall", lambda r: _fmt(b(r).get("build_s"), " s")),
        row("build, CPU", lambda r: _fmt(b(r).get("build_cpu_s"), " s")),
        row("embedded / from cache", lambda r: f"{b(r).get('embedded', 0):,} / {b(r).get('cached', 0):,}"),
        row("build peak RSS", lambda r: _fmt(b(r).get("peak_rss_mb"), " MB", 0)),
        row("  of which model + libraries", lambda r: _fmt(b(r).get("rss_after_model_mb"), " MB", 0)),
        row("index on disk", lambda r: _fmt(b(r).get("disk_mb"), " MB", 0)),
        row("search", lambda r: b(r).get("search", b(r).get("error", "?"))),
        row("index load (checksums verified)", lambda r: _fmt(q(r).get("load_s"), " s", 2)),
        row("query process peak RSS (load + 300 queries)", lambda r: _fmt(q(r).get("rss_after_queries_mb"), " MB", 0)),
        row("  of which not mapped index pages", lambda r: _fmt(q(r).get("anon_after_queries_mb"), " MB", 0)),
        row("competitor query p50 / p95 (wall)",
            lambda r: f"{_fmt(q(r).get('query_p50_ms'), '', 1)} / {_fmt(q(r).get('query_p95_ms'), ' ms', 1)}"),
        row("competitor query p50 / p95 (CPU)",
            lambda r: f"{_fmt(q(r).get('query_cpu_p50_ms'), '', 1)} / {_fmt(q(r).get('query_cpu_p95_ms'), ' ms', 1)}"),
        row("same, exact candidates p50 / p95",
            lambda r: f"{_fmt(q(r).get('exact_query_p50_ms'), '', 1)} / {_fmt(q(r).get('exact_query_p95_ms'), ' ms', 1)}"),
        row("top-10 agreement ANN vs exact", lambda r: _fmt(q(r).get("top10_agreement"), "", 3)),
        row("ANN recall@10: graph / as searched",
            lambda r: f"{_fmt(q(r).get('ann_recall10_graph'), '', 3)} / {_fmt(q(r).get('ann_recall10_searched'), '', 3)}"),
        row("lexical recall@10, pruned postings", lambda r: _fmt(q(r).get("lexical_recall10_pruned"), "", 3)),
        row("baseline: exact numpy search p50 / p95",
            lambda r: f"{_fmt(base(r).get('numpy_p50_ms'), '', 1)} / {_fmt(base(r).get('numpy_p95_ms'), ' ms', 1)}"),
        row("baseline: rapidfuzz extract p50 / p95",
            lambda r: f"{_fmt(base(r).get('rapidfuzz_p50_ms'), '', 0)} / {_fmt(base(r).get('rapidfuzz_p95_ms'), ' ms', 0)}"),
        row("landscape (saturation)", lambda r: _fmt(r.get("analyses", {}).get("landscape_s",
                                                                                r.get("analyses", {}).get("error", r.get("analyses", {}).get("landscape"))), " s")),
        row("niches", lambda r: _fmt(r.get("analyses", {}).get("niches_s",
                                                               r.get("analyses", {}).get("error", r.get("analyses", {}).get("niches"))), " s")),
        row("baseline: BERTopic defaults, same embeddings", lambda r: (
            _fmt(r["bertopic"].get("bertopic_s", r["bertopic"].get("error")), " s")
            + (f" ({r['bertopic']['topics']:,} topics, {r['bertopic']['outliers']:.0%} outliers)" if "topics" in r["bertopic"] else "")
        ) if "bertopic" in r else "–"),
        row("fresh `diffscan competitors` process", lambda r: _fmt(r.get("cli", {}).get("competitors_s"), " s", 2)),
        row("fresh `saturation`: first / again (kept)", lambda r: f"{_fmt(r.get('cli', {}).get('saturation_first_s'), '', 1)} / "
                                                              f"{_fmt(r.get('cli', {}).get('saturation_again_s'), ' s', 2)}"),
        row("fresh `niches`: first / again (kept)", lambda r: f"{_fmt(r.get('cli', {}).get('niches_first_s'), '', 1)} / "
                                                          f"{_fmt(r.get('cli', {}).get('niches_again_s'), ' s', 2)}"),
    ]
    table("Scale benchmark (synthetic catalogs, 2 shared CPU cores)", header, rows)
    by_model: dict[str, list[dict]] = {}
    for r in results:
        by_model.setdefault(r["model"], []).append(r)
    for model, rs in by_model.items():
        if len(rs) < 2:
            continue
        lo, hi = rs[0], rs[-1]
        factor = hi["size"] / lo["size"]

        def growth(get):
            a, c = get(lo), get(hi)
            return "n/a" if not isinstance(a, (int, float)) or not isinstance(c, (int, float)) or not a else f"x{c / a:.1f}"

        table(f"Growth from {lo['size']:,} to {hi['size']:,} listings (x{factor:.0f}), model {model}",
              ["measure", "growth"], [
                  ["build wall", growth(lambda r: r["build"].get("build_s"))],
                  ["build peak RSS", growth(lambda r: r["build"].get("peak_rss_mb"))],
                  ["index on disk", growth(lambda r: r["build"].get("disk_mb"))],
                  ["query p95", growth(lambda r: r["query"].get("query_p95_ms"))],
                  ["exact numpy search p95", growth(lambda r: r["baselines"].get("numpy_p95_ms"))],
                  ["rapidfuzz extract p95", growth(lambda r: r["baselines"].get("rapidfuzz_p95_ms"))],
                  ["landscape", growth(lambda r: r.get("analyses", {}).get("landscape_s"))],
              ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--models", nargs="+", default=None,
                        help="models to measure at every size (default: static everywhere, minilm up to --minilm-max)")
    parser.add_argument("--minilm-max", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-analyses", action="store_true")
    parser.add_argument("--analysis-timeout", type=float, default=1200)
    parser.add_argument("--keep-indexes", action="store_true")
    parser.add_argument("--bertopic-max", type=int, default=100_000, help="run the BERTopic baseline up to this size")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("worker_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        fn = WORKERS[args.worker]
        params = [Path(a) if i < 2 or args.worker in ("analyses", "bertopic") else a for i, a in enumerate(args.worker_args)]
        _emit(fn(*params))
        return 0
    from bench.common import DATASETS

    if not DATASETS.is_dir():
        print(f"SKIP: real catalogs not found at {DATASETS}; the synthetic catalogs draw from ../shared/datasets.")
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results = []
    for size in sorted(args.sizes):
        models = args.models or (["static", "minilm"] if size <= args.minilm_max else ["static"])
        for model in models:
            results.append(measure(size, model, args))
            (WORK / "results.json").write_text(json.dumps(results, indent=2))
    results.sort(key=lambda r: (r["model"], r["size"]))
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
