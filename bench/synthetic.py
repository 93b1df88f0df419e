"""A deterministic synthetic catalog of any size, shaped like the real catalogs in ../shared/datasets.

Nothing is copied into the repository: vocabulary and structure are drawn at run time from the real
catalogs (BigBasket groceries, Amazon UK toys, Abt/Buy electronics). Each synthetic listing starts from
a real listing (its category path, brand and price level) and gets a title made one of three ways:

- *variant* (50%): the real title with edits a seller makes: another brand of the same category, a
  changed size or count, a dropped word, an inserted attribute word, a pack/colour suffix;
- *new* (35%): a title walked from a word-bigram chain of the real titles of the same department;
- *look-alike* (15%): a near copy of an earlier synthetic listing (case, one word, a suffix), which is
  the homogenization diffscan measures.

About `description_share` of listings get a description: the source's own (Abt/Buy) cut at a random
length, else a few word walks of its department.
Prices follow the source price with log-normal noise, ratings and review counts the real spreads.
The same (n, seed) always gives the same file, byte for byte.

    python -m bench.synthetic 100000 --out bench/out/scale/synthetic-100000.csv
"""

from __future__ import annotations

import argparse
import csv
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import DATASETS, OUT
from diffscan.catalog.values import parse_count, parse_price, parse_rating

COLUMNS = ["id", "title", "description", "category", "brand", "price", "rating", "reviews"]
_WORD = re.compile(r"\S+")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_SIZES = ["50 g", "100 g", "200 g", "250 g", "500 g", "1 kg", "2 kg", "100 ml", "250 ml", "500 ml", "750 ml",
          "1 L", "2 L", "Pack of 2", "Pack of 3", "Pack of 6", "Set of 4", "XL", "Large", "Mini"]
_COLOURS = ["Black", "White", "Red", "Blue", "Green", "Pink", "Grey", "Silver", "Gold", "Yellow", "Purple"]


@dataclass
class Source:
    """One real listing a synthetic one starts from."""

    title: str
    brand: str
    path: tuple[str, ...]
    price: float
    description: str = ""


@dataclass
class Sources:
    """What the generator draws from: real listings, brands and words per department, bigram chains."""

    listings: list[Source]
    brands_by_path: dict[tuple[str, ...], list[str]]
    words_by_department: dict[str, list[str]]
    chain: dict[str, dict[str, list[str]]]
    starts: dict[str, list[str]]
    ratings: np.ndarray
    reviews: np.ndarray
    departments: list[str] = field(default_factory=list)


def load_sources(datasets: Path = DATASETS) -> Sources:
    """Read the real catalogs (as text) and index their structure for the generator."""
    rows: list[Source] = []
    bb = pd.read_csv(datasets / "bigbasket" / "products.csv", dtype=str, keep_default_na=False)
    for t, c, s, ty, b, p in zip(bb["product"], bb["category"], bb["sub_category"], bb["type"], bb["brand"],
                                 bb["sale_price"]):
        rows.append(Source(t.strip(), b.strip(), tuple(x.strip() for x in (c, s, ty) if x.strip()), parse_price(p) or 0))
    toys = pd.read_csv(datasets / "amazon_uk_toys" / "products.csv", dtype=str, keep_default_na=False)
    for t, c, b, p in zip(toys["product_name"], toys["category"], toys["manufacturer"], toys["price"]):
        path = tuple(x.strip() for x in c.split(">") if x.strip()) or ("Toys & Games",)
        rows.append(Source(t.strip(), b.strip(), path, parse_price(p) or 0))
    for name in ("abt.csv", "buy.csv"):
        raw = (datasets / "abt_buy" / name).read_bytes().decode("cp1252", errors="replace")
        shop = pd.read_csv(pd.io.common.StringIO(raw), dtype=str, keep_default_na=False)
        brands = shop["manufacturer"] if "manufacturer" in shop else [""] * len(shop)
        for t, b, p, d in zip(shop["name"], brands, shop["price"], shop["description"]):
            brand = b.strip() or t.split(" ", 1)[0]
            text = re.sub(r"\s+", " ", d).strip() if len(d) > 40 else ""
            rows.append(Source(t.strip(), brand, ("Electronics", brand or "Other"), parse_price(p) or 0, text))
    rows = [r for r in rows if r.title]
    brands_by_path: dict[tuple[str, ...], set[str]] = defaultdict(set)
    words: dict[str, list[str]] = defaultdict(list)
    chain: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    starts: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r.brand:
            brands_by_path[r.path[:2]].add(r.brand)
        toks = _WORD.findall(r.title)
        dept = r.path[0]
        words[dept].extend(t for t in toks if t.isalpha() and len(t) > 2)
        starts[dept].append(toks[0])
        for a, b in zip(toks, toks[1:] + ["</s>"]):
            chain[dept][a].append(b)
    ratings = np.array([x for x in (parse_rating(v) for v in toys["average_review_rating"]) if x is not None]
                       + [x for x in (parse_rating(v) for v in bb["rating"]) if x])
    reviews = np.array([x for x in (parse_count(v) for v in toys["number_of_reviews"]) if x is not None])
    return Sources(
        listings=rows,
        brands_by_path={k: sorted(v) for k, v in brands_by_path.items()},
        words_by_department={k: v for k, v in words.items()},
        chain={d: dict(c) for d, c in chain.items()},
        starts=dict(starts),
        ratings=ratings,
        reviews=reviews,
        departments=sorted(starts),
    )


class Generator:
    """Makes synthetic listings one at a time from a seeded numpy Generator (deterministic)."""

    def __init__(self, sources: Sources, seed: int = 0, description_share: float = 0.2) -> None:
        self.s = sources
        self.rng = np.random.default_rng(seed)
        self.description_share = description_share
        self.recent: list[dict] = []

    def _pick(self, items: list):
        return items[int(self.rng.integers(len(items)))]

    def _variant(self, src: Source) -> tuple[str, str]:
        toks = _WORD.findall(src.title)
        brand = src.brand
        brands = self.s.brands_by_path.get(src.path[:2], [])
        if brands and self.rng.random() < 0.5:
            new = self._pick(brands)
            if brand and brand.split()[0] in toks:
                toks = [new if t == brand.split()[0] else t for t in toks]
            brand = new
        toks = [str(round(float(t) * float(self.rng.choice([0.5, 2, 3, 1.5])), 1)).removesuffix(".0")
                if _NUMBER.match(t) and self.rng.random() < 0.5 else t for t in toks]
        if len(toks) > 3 and self.rng.random() < 0.3:
            toks.pop(int(self.rng.integers(1, len(toks))))
        if self.rng.random() < 0.5:
            pool = self.s.words_by_department.get(src.path[0]) or ["new"]
            toks.insert(int(self.rng.integers(1, len(toks) + 1)), self._pick(pool))
        title = " ".join(toks)
        if self.rng.random() < 0.3:
            title += f", {self._pick(_SIZES if self.rng.random() < 0.6 else _COLOURS)}"
        return title, brand

    def _new(self, src: Source) -> str:
        dept = src.path[0]
        chain = self.s.chain[dept]
        word = self._pick(self.s.starts[dept])
        toks = [word]
        for _ in range(int(self.rng.integers(5, 14))):
            nxt = chain.get(word)
            if not nxt:
                break
            word = self._pick(nxt)
            if word == "</s>":
                break
            toks.append(word)
        return " ".join(toks)

    def _description(self, src: Source) -> str:
        """The source's own description cut at a random length, else a word walk of its department."""
        if src.description:
            return src.description[: int(self.rng.integers(60, 400))]
        return " ".join(self._new(src) for _ in range(int(self.rng.integers(2, 5))))

    def _look_alike(self) -> dict:
        row = dict(self._pick(self.recent))
        title = row["title"]
        r = self.rng.random()
        if r < 0.3:
            title = title.upper() if self.rng.random() < 0.2 else title.title()
        elif r < 0.6:
            title = f"{title} - {self._pick(_COLOURS)}"
        elif r < 0.8:
            toks = title.split()
            if len(toks) > 3:
                toks.pop(int(self.rng.integers(1, len(toks))))
            title = " ".join(toks)
        else:
            title = f"{title} ({self._pick(_SIZES)})"
        row["title"] = title
        return row

    def listing(self, number: int) -> dict:
        """The synthetic listing number `number` (call in order: look-alikes copy earlier ones)."""
        mode = self.rng.random()
        if mode < 0.15 and len(self.recent) > 100:
            row = self._look_alike()
        else:
            src = self._pick(self.s.listings)
            title, brand = self._variant(src) if mode < 0.65 else (self._new(src), src.brand)
            price = src.price * math.exp(self.rng.normal(0, 0.25)) if src.price else float(self.rng.lognormal(3, 1))
            rating = "" if self.rng.random() < 0.3 else f"{float(self._pick(self.s.ratings)):.1f}"
            if rating and self.rng.random() < 0.2:
                rating += " out of 5 stars"
            reviews = "" if self.rng.random() < 0.3 else str(int(self._pick(self.s.reviews)))
            description = self._description(src) if self.rng.random() < self.description_share else ""
            row = {"title": title, "description": description, "category": " > ".join(src.path), "brand": brand,
                   "price": f"${price:.2f}", "rating": rating, "reviews": reviews}
        row["id"] = f"SYN-{number:07d}"
        if len(self.recent) < 5000:
            self.recent.append(row)
        else:
            self.recent[int(self.rng.integers(5000))] = row
        return row


def generate(n: int, out: Path, *, seed: int = 0, description_share: float = 0.2,
             datasets: Path = DATASETS) -> Path:
    """Write n synthetic listings to a CSV (streamed: memory does not grow with n); reuse an existing file."""
    out = Path(out)
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    gen = Generator(load_sources(datasets), seed=seed, description_share=description_share)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for i in range(n):
            writer.writerow(gen.listing(i))
    tmp.replace(out)
    return out


def default_path(n: int, seed: int = 0) -> Path:
    """Where the scale benchmark keeps the synthetic catalog of n listings."""
    return OUT / "scale" / f"synthetic-{n}-seed{seed}.csv"


def sample_queries(catalog: Path, count: int, *, seed: int = 1, n_rows: int | None = None) -> list[str]:
    """Query texts as a seller would paste them: titles of random listings with one word dropped."""
    rng = np.random.default_rng(seed)
    titles = pd.read_csv(catalog, usecols=["title"], dtype=str, keep_default_na=False)["title"].tolist()
    picks = rng.choice(len(titles), size=min(count, len(titles)), replace=False)
    out = []
    for i in picks:
        toks = titles[i].split()
        if len(toks) > 3:
            toks.pop(int(rng.integers(1, len(toks))))
        out.append(" ".join(toks))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--description-share", type=float, default=0.2)
    args = parser.parse_args(argv)
    if not DATASETS.is_dir():
        print(f"SKIP: real catalogs not found at {DATASETS}; the generator draws from ../shared/datasets.")
        return
    path = generate(args.n, args.out or default_path(args.n, args.seed), seed=args.seed,
                    description_share=args.description_share)
    print(path)


if __name__ == "__main__":
    main()
