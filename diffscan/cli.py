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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from diffscan.errors import DiffscanError, QueryError

app = typer.Typer(
    help="diffscan: who competes with a listing, where a market is crowded, and where there is room to stand out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Wide enough for the tables when output goes to a file or a pipe.
console = Console(width=None if Console().is_terminal else 160)
err = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 160)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_CATALOG = REPO_ROOT / "corpus" / "catalog.csv"


def default_index() -> Path:
    """$DIFFSCAN_INDEX, else .diffscan/index in the current folder."""
    return Path(os.environ.get("DIFFSCAN_INDEX") or Path(".diffscan") / "index")


IndexOpt = typer.Option(None, "--index", "-i", help="Index folder (default: $DIFFSCAN_INDEX or .diffscan/index).")


def _open_index(path: Optional[Path]):
    from diffscan.index import load_index

    return load_index(path or default_index())


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=False, disable=not err.is_terminal and "CI" in os.environ,
    )


def run_build(catalog: Path, out: Path, model: Optional[str], mapping: list[str], description_chars: int):
    """Build an index with a progress bar and print what was loaded and skipped."""
    from diffscan.catalog import parse_mapping
    from diffscan.index import build_index

    start = time.perf_counter()
    with _progress() as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        index, report, stats = build_index(
            catalog, out, model=model, mapping=parse_mapping(mapping) if mapping else None,
            description_chars=description_chars, progress=progress,
        )
    seconds = time.perf_counter() - start
    console.print(report.summary())
    for reason, count in report.skipped_by_reason().items():
        console.print(f"  skipped {count:,}: {reason}")
    shown = report.skipped[:5]
    for s in shown:
        console.print(f"    row {s.row}: {s.reason}", style="dim")
    console.print(
        f"Index of {len(index):,} listings written to [bold]{out}[/] in {seconds:.1f} s "
        f"({stats['embedded']:,} embedded, {stats['cached']:,} from cache; model {index.model_id})."
    )
    return index


@app.command()
def build(
    catalog: Path = typer.Argument(..., help="Catalog file: .csv .tsv .json .jsonl .parquet .xlsx"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Index folder to write (default: $DIFFSCAN_INDEX or .diffscan/index)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="'minilm' (bundled default), 'static' (fast tier) or a local sentence-transformers folder."),
    map_: list[str] = typer.Option([], "--map", help="Column mapping FIELD=COLUMN, e.g. --map title=product_name --map category=cat1,cat2."),
    description_chars: int = typer.Option(300, help="How much of each description joins the title in the embedded text."),
) -> None:
    """Load a catalog, embed its listings and write an index folder."""
    run_build(catalog, out or default_index(), model, map_, description_chars)


def _competitor_table(result) -> Table:
    table = Table(title=f"Competitors of: {result.query_text[:90]}")
    table.add_column("#", justify="right")
    table.add_column("title (brand)", ratio=4)
    table.add_column("price", justify="right")
    table.add_column("score sem/lex/fuzzy", justify="right")
    table.add_column("match")
    table.add_column("shared phrases", ratio=2)
    table.add_column("unique to query", ratio=2)
    for c in result.competitors:
        table.add_row(
            str(c.rank),
            f"{c.title} [dim]({c.brand or 'no brand'}; {c.listing_id})[/]",
            "" if c.price is None else f"{c.price:,.2f}",
            f"{c.score:.3f} [dim]{c.semantic:.2f}/{c.lexical:.2f}/{c.fuzzy:.2f}[/]",
            ("near-duplicate" if c.near_duplicate else c.kind) + (" · same model no." if c.code_match else ""),
            ", ".join(c.shared_phrases[:3]),
            ", ".join(c.unique_to_query[:3]),
        )
    return table


@app.command()
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
) -> None:
    """Who competes with this listing? Ranked twins and substitutes with why they match."""
    from diffscan import export
    from diffscan.competitors import Filters, find_competitors, find_competitors_batch

    given = sum(x is not None for x in (text, listing_id, queries))
    if given != 1:
        raise QueryError("Give exactly one of: a TEXT argument, --id ID, or --queries FILE.")
    if fmt not in ("table", "json", "jsonl", "csv"):
        raise QueryError(f"Unknown --format '{fmt}': use table, json, jsonl or csv.")
    idx = _open_index(index)
    filters = Filters(category=category, min_price=min_price, max_price=max_price, exclude_brands=tuple(exclude_brand))
    if queries is not None:
        from diffscan.catalog import load_catalog, parse_mapping

        loaded = load_catalog(queries, parse_mapping(map_) if map_ else None)
        err.print(loaded.report.summary())
        frame = find_competitors_batch(idx, loaded.listings, k=k, filters=filters)
        if fmt == "table":
            fmt = "csv"
        text_out = {"csv": lambda: export.to_csv(frame), "json": lambda: export.to_json(export.records(frame)),
                    "jsonl": lambda: export.to_jsonl(export.records(frame))}[fmt]()
        _emit(text_out, out)
        return
    result = find_competitors(idx, text, listing_id=listing_id, k=k, filters=filters)
    rows = [c.to_dict() for c in result.competitors]
    if fmt == "table" and out is None:
        console.print(_competitor_table(result))
        if not rows:
            console.print("No competitor passes the filters.")
        return
    import pandas as pd

    frame = pd.DataFrame(rows)
    text_out = {"table": lambda: export.to_csv(frame), "csv": lambda: export.to_csv(frame),
                "json": lambda: export.to_json({"query": result.query_text, "query_id": result.query_id, "competitors": rows}),
                "jsonl": lambda: export.to_jsonl(rows)}[fmt]()
    _emit(text_out, out)


def _emit(text: str, out: Optional[Path]) -> None:
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        Path(out).write_text(text, encoding="utf-8")
        err.print(f"Wrote {out}")


@app.command()
def demo(
    out: Path = typer.Option(Path(".diffscan") / "demo", "--out", "-o", help="Where to write the demo index."),
    query: str = typer.Option("Stainless Steel Insulated Water Bottle 750ml, leak proof", help="The example listing to search with."),
) -> None:
    """Build an index of the bundled demo catalog (corpus/) and show what diffscan finds in it."""
    if not DEMO_CATALOG.exists():
        raise DiffscanError(f"The demo catalog {DEMO_CATALOG} is missing: regenerate it with `python -m diffscan.democorpus {DEMO_CATALOG}`.")
    idx = run_build(DEMO_CATALOG, out, None, [], 300)
    from diffscan.competitors import find_competitors

    console.print(_competitor_table(find_competitors(idx, query, k=8)))
    console.print(f"Next: `diffscan competitors \"...\" --index {out}` or `streamlit run app.py`.")


def main() -> None:
    """Entry point: user errors print one message and exit 2, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except DiffscanError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
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
