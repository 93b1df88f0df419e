"""The `diffscan` command line: the same core as the app, presented as tables and files."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from diffscan.catalog.demo import DEMO_CATALOG, REPO_ROOT
from diffscan.core.text import plural
from diffscan.errors import DiffscanError, QueryError
from diffscan.present.labels import match_label

def _plain_flags(params: list) -> list:
    """Flags shown without a value type: typer 0.29 prints `<bool>` after `--update` or `--help`, which
    take no value and read as if they wanted one."""
    for param in params:
        if getattr(param, "is_flag", False):
            param.display_type_rich = lambda ctx: None  # no type column for a flag
    return params


class Command(typer.core.TyperCommand):
    """Every diffscan command: its help lists flags plainly (`_plain_flags`)."""

    def get_params(self, ctx):
        return _plain_flags(super().get_params(ctx))


class Group(typer.core.TyperGroup):
    """`diffscan` and `diffscan models`: their help lists flags plainly (`_plain_flags`)."""

    def get_params(self, ctx):
        return _plain_flags(super().get_params(ctx))


app = typer.Typer(
    cls=Group,
    help="diffscan: who competes with a listing, where a market is crowded, and where there is room to stand out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Wide enough for the tables when output goes to a file or a pipe.
console = Console(width=None if Console().is_terminal else 160)
err = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 160)



# Where each library parameter named by an error (DiffscanError.parameter) is set on the command line.
FLAGS = {
    "mapping": "set columns with --map FIELD=COLUMN",
    "out": "set the folder with --out",
    "index": "build one with `diffscan build CATALOG --out FOLDER`, or name one with --index",
    "model": "the model is chosen with `diffscan build --model`",
    "engine": "set with --engine",
    "top": "set with --top",
    "level": "set with --level",
    "category": "set with --category",
    "k": "set with -k",
    "listing_id": "set with --id",
    "text": "give the listing's text as the TEXT argument",
    "color_by": "set with --color-by",
    "watch": "set with --watch",
    "limits": "set with `diffscan build --limit NAME=VALUE`, e.g. --limit max_rows=10M",
}


def default_index() -> Path:
    """$DIFFSCAN_INDEX, else .diffscan/index in the current folder."""
    return Path(os.environ.get("DIFFSCAN_INDEX") or Path(".diffscan") / "index")


IndexOpt = typer.Option(None, "--index", "-i", help="Index folder (default: $DIFFSCAN_INDEX or .diffscan/index).")


def _open_index(path: Optional[Path]):
    from diffscan.index.store import load_index

    return load_index(path or default_index())


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=False, disable=not err.is_terminal and "CI" in os.environ,
    )


def run_build(catalog: Path, out: Path, model: Optional[str], mapping: list[str], description_chars: int, *,
              update: bool = False, embedder=None, limits=None):
    """Build (or with `update`, incrementally update) an index with a progress bar; print what was loaded
    and skipped."""
    from diffscan.catalog.limits import LOAD_LIMITS
    from diffscan.catalog.mapping import parse_mapping
    from diffscan.index.build import build_index

    start = time.perf_counter()
    index, report, stats = _run_with_progress(lambda progress: build_index(
        catalog, out, model=model, mapping=parse_mapping(mapping) if mapping else None,
        description_chars=description_chars, progress=progress, update=update, embedder=embedder,
        limits=limits or LOAD_LIMITS,
    ))
    seconds = time.perf_counter() - start
    console.print(escape(report.summary()))
    for reason, count in report.skipped_by_reason().items():
        console.print(f"  skipped {count:,}: {escape(reason)}")
    shown = report.skipped[:5]
    for s in shown:
        console.print(f"    row {s.row}: {escape(s.reason)}", style="dim")
    if stats.get("model_note"):
        console.print(f"{escape(stats['model_note'])} (--model chooses another).")
    if update:
        console.print(
            f"Update: {stats['added']:,} added, {stats['changed']:,} changed, {stats['deleted']:,} deleted, "
            f"{stats['unchanged']:,} unchanged (vectors re-used)."
        )
    search = index.manifest.get("search", {})
    mode = "approximate (HNSW) + exact rescoring" if search.get("semantic") == "ann" else "exact"
    console.print(
        f"Index of {len(index):,} listings written to [bold]{out}[/] in {seconds:.1f} s "
        f"({stats['embedded']:,} embedded, {stats['cached']:,} from cache; model {index.model_id}; "
        f"{mode} search)."
    )
    return index


@app.command(cls=Command)
def build(
    catalog: Path = typer.Argument(..., help="Catalog file: .csv .tsv .json .jsonl .parquet .xlsx"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Index folder to write (default: $DIFFSCAN_INDEX or .diffscan/index)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="'minilm' (English default), 'multilingual' (USE v3: Chinese and 15 more languages; the default when most titles are CJK), 'static' (fast tier) or a local sentence-transformers folder."),
    map_: list[str] = typer.Option([], "--map", help="Column mapping FIELD=COLUMN, e.g. --map title=product_name --map category=cat1,cat2."),
    description_chars: int = typer.Option(300, help="How much of each description joins the title in the embedded text."),
    update: bool = typer.Option(False, "--update", help="Update the existing index from this new export: embed only new and edited listings (by listing_id and text), drop listings no longer in it."),
    engine: str = typer.Option("local", "--engine", help="'local', or 'ray' to embed on a Ray cluster (needs the 'distributed' extra: pip install -e '.\\[distributed]')."),
    address: Optional[str] = typer.Option(None, "--address", help="With --engine ray: the cluster address (default: $RAY_ADDRESS, else a local single-node cluster)."),
    limit: list[str] = typer.Option([], "--limit", help="Raise or lower a load limit NAME=VALUE, e.g. --limit max_rows=10M --limit max_bytes=4GiB (names and defaults: README, 'Load limits')."),
) -> None:
    """Load a catalog, embed its listings and write an index folder (large files are read in chunks)."""
    from diffscan.catalog.limits import parse_limits

    if engine not in ("local", "ray"):
        raise QueryError(f"Unknown --engine '{engine}': use local or ray.")
    embedder = None
    if engine == "ray":
        from functools import partial

        from diffscan.encoder.ray import RayEmbedder

        embedder = partial(RayEmbedder, address=address)
    run_build(catalog, out or default_index(), model, map_, description_chars, update=update, embedder=embedder,
              limits=parse_limits(limit))


models_app = typer.Typer(cls=Group, help="Model tiers: the bundled MiniLM and the fast static tier distilled from it.",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list", cls=Command)
def models_list() -> None:
    """Show the models diffscan can use here and whether each is ready."""
    from diffscan.encoder.models import list_models, models_dir

    table = Table(title=f"Models (made ones live in {models_dir()})")
    for column in ("--model", "name", "dimension", "size MB", "ready", "note"):
        table.add_column(column)
    for m in list_models():
        table.add_row(m["spec"], m["name"], str(m["dimension"] or ""), f"{m['size_mb']:.1f}",
                      "yes" if m["ready"] else "no", m["note"])
    console.print(table)


@models_app.command("distill", cls=Command)
def models_distill(
    force: bool = typer.Option(False, "--force", help="Distill again even if the static model exists."),
    dims: int = typer.Option(256, "--dims", min=16, max=384, help="Output dimension (PCA)."),
) -> None:
    """Make the static tier from the bundled all-MiniLM-L6-v2 (offline; 1-3 minutes on 2 cores)."""
    from diffscan.encoder.models import STATIC_NAME, distill_static_model, models_dir

    start = time.perf_counter()
    out = distill_static_model(models_dir() / STATIC_NAME if dims == 256 else models_dir() / f"static-minilm-{dims}",
                               pca_dims=dims, force=force)
    console.print(f"Static model ready in [bold]{out}[/] ({time.perf_counter() - start:.0f} s); "
                  f"use it with --model {'static' if dims == 256 else out}.")


def _competitor_table(result) -> Table:
    your = "" if result.query_price is None else f" (your price {result.query_price:,.2f})"
    table = Table(title=f"Competitors of: {escape(result.query_text[:90])}{your}")
    table.add_column("#", justify="right")
    table.add_column("title (brand)", ratio=4)
    table.add_column("price", justify="right")
    table.add_column("rating (reviews)", justify="right")
    table.add_column("match")
    table.add_column("shared phrases", ratio=2)
    table.add_column("unique to yours", ratio=2)
    table.add_column("score sem/lex/fuzzy", justify="right")
    for c in result.competitors:
        price = "—" if c.price is None else f"{c.price:,.2f}"
        rating = "—" if c.rating is None else f"{c.rating:.1f}"
        reviews = "" if c.review_count is None else f" ({c.review_count:,})"
        table.add_row(
            str(c.rank),
            f"{escape(c.title)} [dim]({escape(c.brand or 'no brand')})[/]",
            price + (f"\n[dim]{c.price_vs_query}[/]" if c.price_vs_query else ""),
            rating + reviews,
            match_label(c.near_duplicate, c.kind, c.code_match),
            escape(", ".join(c.shared_phrases[:3])),
            escape(", ".join(c.unique_to_query[:3])),
            f"{c.score:.3f} [dim]{c.semantic:.2f}/{c.lexical:.2f}/{c.fuzzy:.2f}[/]",
        )
    return table


@app.command(cls=Command)
def competitors(
    text: Optional[str] = typer.Argument(None, help="Listing text to search with (title, optionally description)."),
    listing_id: Optional[str] = typer.Option(None, "--id", help="Search with a listing of the index (it is left out of its results)."),
    queries: Optional[Path] = typer.Option(None, "--queries", "-q", help="Batch: a catalog file of listings to search with."),
    index: Optional[Path] = IndexOpt,
    k: int = typer.Option(10, "-k", min=1, max=1000, help="How many competitors per query."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, jsonl or csv."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to this file instead of the screen."),
    category: Optional[str] = typer.Option(None, help="Only competitors whose category path starts with this (e.g. 'Home > Kitchen')."),
    min_price: Optional[float] = typer.Option(None, help="Only competitors priced at least this."),
    max_price: Optional[float] = typer.Option(None, help="Only competitors priced at most this."),
    exclude_brand: list[str] = typer.Option([], help="Leave out this brand (repeatable)."),
    map_: list[str] = typer.Option([], "--map", help="Column mapping for --queries, as for build."),
    price: Optional[float] = typer.Option(None, "--price", min=0, help="Your price: each competitor's price is compared with it (a listing of the index, --id, has its own)."),
) -> None:
    """Who competes with this listing? Ranked twins and substitutes with why they match."""
    from diffscan.analyses.competitors import (
        Competitor,
        Filters,
        find_competitors,
        find_competitors_batch,
    )
    from diffscan.present import export

    given = sum(x is not None for x in (text, listing_id, queries))
    if given != 1:
        raise QueryError("Give exactly one of: a TEXT argument, --id ID, or --queries FILE.")
    if fmt not in ("table", "json", "jsonl", "csv"):
        raise QueryError(f"Unknown --format '{fmt}': use table, json, jsonl or csv.")
    idx = _open_index(index)
    filters = Filters(category=category, min_price=min_price, max_price=max_price, exclude_brands=tuple(exclude_brand))
    if queries is not None:
        from diffscan.catalog.mapping import parse_mapping
        from diffscan.catalog.table import load_catalog

        loaded = load_catalog(queries, parse_mapping(map_) if map_ else None)
        err.print(loaded.report.summary())
        frame = _run_with_progress(lambda p: find_competitors_batch(
            idx, loaded.listings, k=k, filters=filters, progress=lambda done, total: p("queries", done, total)))
        if fmt == "table":
            fmt = "csv"
        text_out = {"csv": lambda: export.to_csv(export.competitors_table(frame)),
                    "json": lambda: export.to_json(export.records(frame)),
                    "jsonl": lambda: export.to_jsonl(export.records(frame))}[fmt]()
        _emit(text_out, out)
        return
    result = find_competitors(idx, text, listing_id=listing_id, k=k, filters=filters, price=price)
    rows = [c.to_dict() for c in result.competitors]
    if result.category_guessed is not None:  # the prior the ranking used; on stderr beside a file format
        (console if fmt == "table" and out is None else err).print(escape(result.category_guessed.describe()))
    if fmt == "table" and out is None:
        console.print(_competitor_table(result))
        if not rows:
            console.print("No competitor passes the filters.")
        return
    import pandas as pd

    frame = export.competitors_table(pd.DataFrame(rows, columns=list(Competitor.__dataclass_fields__)))
    text_out = {"table": lambda: export.to_csv(frame), "csv": lambda: export.to_csv(frame),
                "json": lambda: export.to_json(result.to_dict()),
                "jsonl": lambda: export.to_jsonl(rows)}[fmt]()
    _emit(text_out, out)


def _niches_help() -> str:
    """The `niches` help, with the opportunity formula (the same text as the JSON export and docs/niches.md)."""
    from diffscan.analyses.niches import OPPORTUNITY_FORMULA

    return (
        "Where is there room to stand out? Niches with demand and few distinct offers, ranked.\n\n"
        "Candidates are the landscape's clusters, sub-clusters, pockets (a listing with demand and its few "
        "look-alikes) and attribute combinations (material, audience, use, feature) inside a category. Demand "
        "comes from review counts, else a sales column, else ratings, else the size of the niche's category "
        "(market size); each niche says which it used. See docs/niches.md.\n\n"
        + OPPORTUNITY_FORMULA
    )


def _run_with_progress(work):
    """Run work(progress) under rich progress bars, one per stage."""
    with _progress() as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        return work(progress)


def _niches_table(niches) -> Table:
    from diffscan.present import export

    table = Table(title="Niches by opportunity")
    table.add_column("#", justify="right")
    table.add_column("niche (category)", ratio=3)
    table.add_column("opportunity [dim]D/C/H/P[/]", justify="right")
    table.add_column("demand", ratio=2)
    table.add_column("listings / offers", justify="right")
    table.add_column("price band", justify="right")
    table.add_column("USPs", ratio=2)
    for n in niches:
        c = n.components
        band = "" if n.price_median is None else export.price_band_text(n.to_dict())
        table.add_row(
            str(n.rank), f"{escape(n.name)} [dim]({escape(n.category)})[/]",
            f"{n.opportunity:.1f} [dim]{c['demand']:.2f}/{c['competition']:.2f}/{c['homogenization']:.2f}/{c['price_room']:.2f}[/]",
            n.demand_label, f"{n.size} / {n.distinct_offers}", band, escape(", ".join(u.text for u in n.usps[:4])),
        )
    return table


@app.command(cls=Command, help=_niches_help())
def niches(
    index: Optional[Path] = IndexOpt,
    top: int = typer.Option(20, "--top", "-n", min=1, max=500, help="How many niches to list."),
    category: Optional[str] = typer.Option(None, help="Only niches whose category path starts with this (e.g. 'Toys > Puzzles')."),
    min_demand: Optional[float] = typer.Option(None, help="Only niches whose demand figure (median reviews, sales or rating per listing) is at least this."),
    export_to: Optional[Path] = typer.Option(None, "--export", "-e", help="Write the shortlist to FILE.csv, FILE.json or FILE.md."),
    weights: Optional[str] = typer.Option(None, help="Your own weights of the score's room, e.g. 'competition=0.4,homogenization=0.3,price_room=0.3' (scaled to sum 1; recorded in exports)."),
) -> None:
    from diffscan.analyses import kept
    from diffscan.analyses.niches import OPPORTUNITY, niches_document, niches_frame, parse_weights, weighted
    from diffscan.present import export

    suffix = export_to.suffix.lower() if export_to is not None else None
    if suffix not in (None, ".csv", ".json", ".md"):
        raise QueryError(f"--export '{export_to}': the file name must end in .csv, .json or .md.")
    params = weighted(OPPORTUNITY, parse_weights(weights))
    idx = _open_index(index)
    found = _run_with_progress(lambda p: kept.niches(idx, top=top, category=category, min_demand=min_demand,
                                                     params=params, progress=p))
    if not found:
        console.print("No niche matches: loosen --category or --min-demand.")
    else:
        console.print(_niches_table(found))
        for n in found[:5]:
            console.print(f"[bold]{n.rank}.[/] {escape(n.positioning)}", highlight=False)
    if export_to is None:
        return
    document = niches_document(found, idx, params=params, top=top, category=category, min_demand=min_demand)
    if suffix == ".csv":
        export.to_csv(niches_frame(found), export_to)
    elif suffix == ".json":
        export.to_json(document, export_to)
    else:
        export.niches_report(document, export_to)
    err.print(f"Wrote {export_to}")


def _points_line(points, n: int, empty: str) -> str:
    return ", ".join(f"{escape(p.text)} [dim]({p.count}/{n})[/]" for p in points) or empty


def _differentiate_help() -> str:
    """The `differentiate` help, with the USP rule and the score's formula as the library states them."""
    from diffscan.analyses.differentiation import DIFFERENTIATION_FORMULA
    from diffscan.analyses.usps import USP

    return ("What sets this listing apart? Differentiation score (0-100), USPs, table stakes and "
            f"suggestions.\n\nOf its k nearest competitors: {USP.describe()}. See docs/niches.md.\n\n"
            + DIFFERENTIATION_FORMULA)


@app.command(cls=Command, help=_differentiate_help())
def differentiate(
    text: Optional[str] = typer.Argument(None, help="Listing text (title, optionally a description)."),
    listing_id: Optional[str] = typer.Option(None, "--id", help="A listing of the index instead of pasted text."),
    index: Optional[Path] = IndexOpt,
    k: int = typer.Option(20, "-k", min=1, max=500, help="How many nearest competitors to compare with."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """What sets this listing apart (help text: `_differentiate_help`)."""
    from diffscan.analyses.differentiation import differentiate as run
    from diffscan.present import export

    if (text is None) == (listing_id is None):
        raise QueryError("Give exactly one of: a TEXT argument or --id ID.")
    if fmt not in ("table", "json"):
        raise QueryError(f"Unknown --format '{fmt}': use table or json.")
    d = run(_open_index(index), text, listing_id=listing_id, k=k)
    if fmt == "json":
        _emit(export.to_json(d.to_dict()), None)
        return
    c = d.components
    console.print(f"[bold]{escape(d.title)}[/]", highlight=False)
    console.print(
        f"Differentiation score [bold]{d.score:.0f}[/]/100 (distance {c['distance']:.2f}, unique share "
        f"{c['unique_share']:.2f}, no near-duplicates {c['no_near_duplicates']:.2f}); compared with {d.compared} "
        f"competitors, {plural(d.near_duplicates, 'near-duplicate')}, mean similarity of the nearest {d.nearest_similarity:.2f}."
    )
    from diffscan.analyses.usps import USP

    console.print(f"[bold green]USPs[/] (stated by <{USP.usp_max_share:.0%}): {_points_line(d.usps, d.compared, 'none')}",
                  highlight=False)
    console.print(f"[bold]Table stakes[/] (stated by ≥{USP.table_stakes_min_share:.0%}): "
                  f"{_points_line(d.table_stakes, d.compared, 'none')}", highlight=False)
    table = Table(title="Suggestions")
    for col in ("add", "why"):
        table.add_column(col)
    for s in d.suggestions:
        table.add_row(escape(s.text), escape(s.detail))
    if d.suggestions:
        console.print(table)
    nearest = Table(title=f"Nearest of the {d.compared} competitors compared")
    for col, justify in (("#", "right"), ("title (brand; id)", "left"), ("price", "right"), ("similarity", "right"), ("match", "left")):
        nearest.add_column(col, justify=justify)
    for comp in d.competitors[:5]:
        nearest.add_row(str(comp.rank), f"{escape(comp.title)} [dim]({escape(comp.brand or 'no brand')}; {escape(comp.listing_id)})[/]",
                        "" if comp.price is None else f"{comp.price:,.2f}", f"{comp.semantic:.2f}",
                        match_label(comp.near_duplicate, comp.kind))
    console.print(nearest)


# What keeps the app on this machine (the same as .streamlit/config.toml, which Streamlit reads only when
# started in the repository): no usage statistics, served on loopback, and a named address, so Streamlit
# does not probe 8.8.8.8 and checkip.amazonaws.com for its "Network URL" and "External URL".
OFFLINE_FLAGS = ("--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1",
                 "--browser.serverAddress", "localhost")


def app_command_line(index: Optional[Path], port: Optional[int], headless: bool) -> list[str]:
    """The `streamlit run app.py` command for `diffscan app` (the index goes after `--`)."""
    from diffscan.catalog.limits import UPLOAD_LIMIT_MB

    command = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"),
               "--server.maxUploadSize", str(UPLOAD_LIMIT_MB), *OFFLINE_FLAGS]
    if port is not None:
        command += ["--server.port", str(port)]
    if headless:
        command += ["--server.headless", "true"]
    if index is not None:
        command += ["--", "--index", str(index.resolve())]
    return command


@app.command("app", cls=Command)
def app_command(
    index: Optional[Path] = typer.Option(None, "--index", "-i", help="Index folder to open (default: $DIFFSCAN_INDEX, else the demo corpus, built on first run)."),
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, help="Port to serve on (default 8501)."),
    headless: bool = typer.Option(False, "--headless", help="Serve without opening a browser."),
) -> None:
    """Open the Streamlit app: competitors, saturation map, niches and catalog upload."""
    import subprocess

    from diffscan.errors import IndexFormatError

    if not (REPO_ROOT / "app.py").exists():
        raise DiffscanError(f"{REPO_ROOT / 'app.py'} is missing: the app ships with the source; install from a clone with `pip install -e .`.")
    if index is not None and not (index / "manifest.json").exists():
        raise IndexFormatError(f"No index at '{index}': build one with `diffscan build CATALOG --out {index}`.")
    raise typer.Exit(subprocess.call(app_command_line(index, port, headless)))


def _saturation_help() -> str:
    """The `saturation` help, with the score's formula (the same text as docs/saturation.md)."""
    from diffscan.analyses.landscape import SATURATION, SATURATION_FORMULA

    return (
        "Where is the market crowded? Categories ranked by saturation score, with their clusters.\n\n"
        "Each category (at --level; by default the deepest level whose categories mostly hold "
        f"{SATURATION.min_category_listings}+ listings) "
        "is split into clusters of the same kind of offer, named by c-TF-IDF keywords, and into "
        "near-duplicate groups (listings shoppers could not tell apart). See docs/saturation.md.\n\n"
        + SATURATION_FORMULA
    )


def _saturation_table(landscape, top: int) -> Table:
    from diffscan.analyses.landscape import TOO_FEW

    table = Table(title=f"Saturation by category (level {landscape.level})",
                  caption=f"{landscape.note} --level N picks another level.")
    for name, justify in (("#", "right"), ("category", "left"), ("listings", "right"), ("offers", "right"),
                          ("near-dup", "right"), ("kNN sim", "right"), ("eff. clusters", "right"),
                          ("top brand", "right"), ("price spread", "right"), ("labels", "right"),
                          ("score", "right"), ("", "left")):
        table.add_column(name, justify=justify, min_width=28 if name == "category" else None)
    for r in landscape.categories.head(top).itertuples():
        table.add_row(
            str(r.rank), escape(r.category), f"{r.listings:,}", f"{r.distinct_offers:,}", f"{r.near_duplicate_share:.2f}",
            _fmt(r.mean_knn_similarity), f"{r.effective_clusters:.1f}", _fmt(r.top_brand_share), _fmt(r.price_spread),
            f"{r.label_completeness:.2f}",
            f"[bold]{r.saturation_score:.1f}[/]" if r.judged else f"[dim]{r.saturation_score:.1f}[/]",
            "[red]crowded[/]" if r.crowded else ("" if r.judged else f"[dim]{TOO_FEW}[/]"),
        )
    return table


def _fmt(value: float) -> str:
    return "–" if value != value else f"{value:.2f}"  # NaN: not measurable


@app.command(cls=Command, help=_saturation_help())
def saturation(
    index: Optional[Path] = IndexOpt,
    level: Optional[int] = typer.Option(None, "--level", "-l", min=0, help="Category depth to analyze; 0 ignores categories (default: chosen from the catalog)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json (categories and clusters) or csv (categories)."),
    top: int = typer.Option(30, "--top", "-n", min=1, help="Categories shown in the table (json and csv hold all)."),
    map_to: Optional[Path] = typer.Option(None, "--map", help="Write the saturation map and chart to FILE.html (interactive, offline) or FILE.png."),
    color_by: str = typer.Option("category", "--color-by", help="Colour the map by category or cluster."),
    clusters_out: Optional[Path] = typer.Option(None, "--clusters-out", help="Write one row per listing (listing_id, category, cluster_id, cluster_label, near_duplicate_group) to FILE.csv."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the table (as CSV), json or csv to this file instead of the screen."),
) -> None:
    from diffscan.analyses import kept
    from diffscan.analyses.projection import landscape_map
    from diffscan.present import export
    from diffscan.present.figures import font_note, write_map

    if fmt not in ("table", "json", "csv"):
        raise QueryError(f"Unknown --format '{fmt}': use table, json or csv.")
    if color_by not in ("category", "cluster"):
        raise QueryError(f"Unknown --color-by '{color_by}': use category or cluster.")
    if map_to is not None and map_to.suffix.lower() not in (".html", ".htm", ".png"):
        raise QueryError(f"--map '{map_to}': the file name must end in .html (interactive) or .png.")
    if clusters_out is not None and clusters_out.suffix.lower() != ".csv":
        raise QueryError(f"--clusters-out '{clusters_out}': the file name must end in .csv.")
    idx = _open_index(index)
    landscape = _run_with_progress(lambda p: kept.landscape(idx, level, progress=p))
    if fmt == "table" and out is None:
        console.print(_saturation_table(landscape, top))
        console.print(f"{landscape.crowded_count()} of {len(landscape.categories):,} categories are crowded "
                      f"({landscape.params.crowded_rule()}).", highlight=False)
    elif fmt == "json":
        _emit(export.to_json(landscape.to_dict()), out)
    else:
        _emit(export.to_csv(landscape.categories), out)
    if clusters_out is not None:
        cols = ["listing_id", "category", "cluster_id", "cluster_label", "near_duplicate_group"]
        export.to_csv(landscape.assignments[cols], clusters_out)
        err.print(f"Wrote {clusters_out}")
    if map_to is not None:
        err.print("Projecting the listings for the map…")
        frame = landscape_map(idx, landscape, color_by=color_by, xy=kept.map_coordinates(idx))
        write_map(frame, landscape, map_to)
        err.print(f"Wrote {escape(str(map_to))}")
        if map_to.suffix.lower() == ".png" and (note := font_note(frame, landscape)):
            err.print(note)


def _compare_help() -> str:
    return (
        "What changed between snapshots of a catalog (indexes built from two exports, oldest first).\n\n"
        "Listings are matched by id, else by the same text, else as near-duplicates (ids rewritten between "
        "exports). Per category: saturation then and now with the change of each part, entrants, clusters "
        "that grew or shrank; niches opened and closed; for watched listings, new competitors, twins whose "
        "price moved and the differentiation score then and now. With three or more snapshots the last two "
        "are compared and the trend of every category is shown. Neither index is modified. See docs/compare.md."
    )


def _change(then, now, digits: int = 1) -> str:
    if then != then or then is None:
        return f"– → {now:,.{digits}f}" if now == now and now is not None else "–"
    if now != now or now is None:
        return f"{then:,.{digits}f} → –"
    return f"{then:,.{digits}f} → {now:,.{digits}f} [bold]({now - then:+,.{digits}f})[/]"


def _rank_text(rank) -> str:
    """A shortlist rank, or "–" for a niche seen off the shortlist (a thinned-out or filled cluster)."""
    return "–" if rank is None or rank != rank else str(int(rank))


def _compare_tables(comparison, top: int) -> list[Table]:
    """The comparison as Rich tables (catalog text escaped)."""
    cats = Table(title=f"Categories by rising saturation (level {comparison.level})", caption=comparison.note or None)
    for name in ("#", "category", "saturation", "listings", "offers", "entrants", "left", "clusters +/-"):
        cats.add_column(name, justify="left" if name == "category" else "right")
    for r in comparison.categories.head(top).itertuples():
        cats.add_row(str(r.rising_rank), escape(r.category) + ("" if r.status == "both" else f" [dim]({r.status})[/]"),
                     _change(r.saturation_score_then, r.saturation_score_now),
                     _change(r.listings_then, r.listings_now, 0), _change(r.distinct_offers_then, r.distinct_offers_now, 0),
                     str(r.entrants), str(r.leavers), f"{r.clusters_grew + r.clusters_new}/{r.clusters_shrank + r.clusters_gone}")
    tables = [cats]
    if comparison.clusters.empty:
        return tables + _niche_and_watch_tables(comparison, top)
    moves = Table(title="Clusters that moved")
    for name in ("category", "cluster", "status", "size", "entrants", "left"):
        moves.add_column(name, justify="right" if name in ("size", "entrants", "left") else "left")
    for r in comparison.clusters.head(top).itertuples():
        moves.add_row(escape(r.category), escape(str(r.label)), r.status, f"{r.size_then} → {r.size_now}",
                      str(r.entrants), str(r.leavers))
    return tables + [moves] + _niche_and_watch_tables(comparison, top)


def _niche_and_watch_tables(comparison, top: int) -> list[Table]:
    tables = []
    for title, frame, then, now in (("Niches opened", comparison.niches_opened, "opportunity_then", "opportunity"),
                                    ("Niches closed", comparison.niches_closed, "opportunity", "opportunity_now")):
        t = Table(title=title)
        for name in ("#", "niche (category)", "listings", "opportunity", "why"):
            t.add_column(name, justify="right" if name in ("#", "listings", "opportunity") else "left")
        for r in frame.head(top).to_dict(orient="records"):
            t.add_row(_rank_text(r["rank"]), f"{escape(r['name'])} [dim]({escape(r['category'])})[/]", str(r["size"]),
                      _change(r[then], r[now]), escape(r["why"]))
        tables.append(t)
    if len(comparison.watchlist):
        w = Table(title="Watchlist")
        for name in ("listing", "differentiation", "new competitors", "new twins", "twin price moves"):
            w.add_column(name)
        for r in comparison.watchlist.to_dict(orient="records"):
            w.add_row(escape(r["title"]), _change(r["differentiation_then"], r["differentiation_now"]),
                      escape("; ".join(c["title"] + (" (entrant)" if c["entrant"] else "") for c in r["new_competitors"][:5])),
                      escape("; ".join(r["new_twins"][:5])),
                      escape("; ".join(f"{m['title']} ({m['change']:+.0%})" for m in r["twin_price_moves"][:5])))
        tables.append(w)
    return tables


def _trend_table(series, top: int) -> Table:
    trend = series.trend.pivot_table(index="category", columns="order", values="saturation_score")
    trend = trend.sort_values(trend.columns[-1], ascending=False, na_position="last").head(top)
    t = Table(title="Saturation over the snapshots")
    t.add_column("category")
    for name in series.snapshots:
        t.add_column(escape(Path(name).name), justify="right")
    for category, row in trend.iterrows():
        t.add_row(escape(str(category)), *["–" if v != v else f"{v:.1f}" for v in row.tolist()])
    return t


@app.command(cls=Command, help=_compare_help())
def compare(
    snapshots: list[Path] = typer.Argument(..., help="Two or more index folders, oldest first."),
    level: Optional[int] = typer.Option(None, "--level", "-l", min=0, help="Category depth of both snapshots (default: chosen from the newest)."),
    watch: list[str] = typer.Option([], "--watch", "-w", help="A listing id (of either snapshot) to follow; repeatable."),
    watch_file: Optional[Path] = typer.Option(None, "--watch-file", help="A text file of my listings, one pasted listing per line, to follow."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    top: int = typer.Option(15, "--top", "-n", min=1, help="Rows shown per table (exports hold all)."),
    export_to: Optional[Path] = typer.Option(None, "--export", "-e", help="Write every table to FILE.json, FILE.md, or FILE.csv (one FILE.TABLE.csv per table)."),
    chart: Optional[Path] = typer.Option(None, "--chart", help="Write the saturation change chart (and the trend, with 3+ snapshots) to FILE.html or FILE.png."),
) -> None:
    from diffscan.analyses import kept
    from diffscan.analyses.compare import COMPARE, compare_indexes, compare_series
    from diffscan.analyses.landscape import choose_level
    from diffscan.catalog.readers import read_listing_lines
    from diffscan.present import export

    if len(snapshots) < 2:
        raise QueryError("Name at least two index folders to compare, oldest first.")
    if fmt not in ("table", "json"):
        raise QueryError(f"Unknown --format '{fmt}': use table or json.")
    suffix = export_to.suffix.lower() if export_to is not None else None
    if suffix not in (None, ".csv", ".json", ".md"):
        raise QueryError(f"--export '{export_to}': the file name must end in .csv, .json or .md.")
    if chart is not None and chart.suffix.lower() not in (".html", ".htm", ".png"):
        raise QueryError(f"--chart '{chart}': the file name must end in .html or .png.")
    texts = read_listing_lines(watch_file) if watch_file is not None else []
    indexes = [_open_index(p) for p in snapshots]

    def work(progress):
        # Every snapshot's landscape at the newest one's level, read from its folder when kept there.
        at = level if level is not None else choose_level(indexes[-1].listings["category_path"].tolist())[0]
        lands = [kept.landscape(i, at) for i in indexes]
        series = (compare_series(indexes, names=[str(p) for p in snapshots], level=at, landscapes=lands)
                  if len(indexes) > 2 else None)
        shortlists = tuple(kept.niches_and_pool(i, land, top=COMPARE.niches) for i, land in zip(indexes[-2:], lands[-2:]))
        result = compare_indexes(indexes[-2], indexes[-1], level=at, watch=watch, watch_texts=texts,
                                 landscapes=tuple(lands[-2:]), niches=shortlists, progress=progress)
        return result, series

    comparison, series = _run_with_progress(work)
    if fmt == "json":
        document = comparison.to_dict() | ({"series": series.to_dict()} if series else {})
        _emit(export.to_json(document), None)
    else:
        c = comparison.counts
        console.print(f"{c['added']:,} added · {c['removed']:,} removed · {c['changed']:,} changed · {c['unchanged']:,} unchanged "
                      f"(matched by id {c['matched_by_id']:,}, text {c['matched_by_text']:,}, near-duplicate "
                      f"{c['matched_by_near_duplicate']:,})", highlight=False)
        for table in _compare_tables(comparison, top):
            console.print(table)
        if series:
            console.print(_trend_table(series, top))
    if export_to is not None:
        if suffix == ".json":
            export.to_json(comparison.to_dict() | ({"series": series.to_dict()} if series else {}), export_to)
            err.print(f"Wrote {escape(str(export_to))}")
        elif suffix == ".md":
            export.comparison_report(comparison.to_dict(), export_to, top=max(top, 20))
            err.print(f"Wrote {escape(str(export_to))}")
        else:
            tables = comparison.tables() | ({"trend": series.trend} if series else {})
            for path in export.comparison_csvs(tables, export_to):
                err.print(f"Wrote {escape(str(path))}")
    if chart is not None:
        from diffscan.present.figures import write_change_chart

        write_change_chart(comparison, chart, series=series)
        err.print(f"Wrote {escape(str(chart))}")


def _emit(text: str, out: Optional[Path]) -> None:
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        Path(out).write_text(text, encoding="utf-8")
        err.print(f"Wrote {out}")


@app.command(cls=Command)
def demo(
    out: Path = typer.Option(Path(".diffscan") / "demo", "--out", "-o", help="Where to write the demo index."),
    query: str = typer.Option("Stainless Steel Insulated Water Bottle 750ml, leak proof", help="The example listing to search with."),
) -> None:
    """Build an index of the bundled demo catalog (corpus/) and show what diffscan finds in it."""
    if not DEMO_CATALOG.exists():
        raise DiffscanError(f"The demo catalog {DEMO_CATALOG} is missing: regenerate it with `python -m diffscan.catalog.demo {DEMO_CATALOG}`.")
    idx = run_build(DEMO_CATALOG, out, None, [], 300)
    from diffscan.analyses.competitors import find_competitors

    console.print(_competitor_table(find_competitors(idx, query, k=8)))
    console.print(f"Next: `diffscan competitors \"...\" --index {out}` or `streamlit run app.py`.")


def main() -> None:
    """Entry point: user errors print one message and exit 2, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except DiffscanError as exc:
        hint = FLAGS.get(exc.parameter or "")
        err.print(f"[bold red]error:[/] {escape(str(exc))}" + (f" ({hint})" if hint else ""), highlight=False)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err.print("Aborted.")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
