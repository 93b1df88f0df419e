"""The command line: exit codes, formats, batch mode, and user errors without tracebacks."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from diffscan.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_competitors_json(demo_index):
    res = run("competitors", "cork yoga mat", "--index", str(demo_index.path), "-k", "3", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["competitors"]) == 3
    assert {"score", "semantic", "lexical", "fuzzy", "near_duplicate", "shared_phrases"} <= set(data["competitors"][0])


def test_competitors_by_id_table(demo_index):
    res = run("competitors", "--id", "DS-0005", "--index", str(demo_index.path), "-k", "3")
    assert res.exit_code == 0, res.output
    assert "Competitors of" in res.stdout


def test_batch_csv(demo_index, tmp_path):
    queries = tmp_path / "q.csv"
    queries.write_text("sku,name\nA1,bamboo toothbrush\nA2,dog bed orthopedic\n")
    out = tmp_path / "out.csv"
    res = run("competitors", "--queries", str(queries), "--index", str(demo_index.path), "-k", "2",
              "--format", "csv", "--out", str(out))
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["query_id"], r["rank"]) for r in rows] == [("A1", "1"), ("A1", "2"), ("A2", "1"), ("A2", "2")]


def _cli(*args, cwd=None):
    """Run the installed entry point as a user would: checks exit code and that no traceback shows."""
    return subprocess.run([sys.executable, "-m", "diffscan.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize(
    "args, message",
    [
        (["competitors", "x", "--index", "/nonexistent/index"], "No index at"),
        (["competitors", "--index", "/nonexistent/index"], "exactly one of"),
        (["build", "/nonexistent/catalog.csv", "--out", "/tmp/never"], "not found"),
    ],
)
def test_user_errors_exit_2_without_traceback(args, message):
    res = _cli(*args)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_unknown_format_and_unknown_id(demo_index):
    res = _cli("competitors", "x", "--index", str(demo_index.path), "--format", "xml")
    assert res.returncode == 2 and "Unknown --format" in res.stderr
    res = _cli("competitors", "--id", "NOPE", "--index", str(demo_index.path))
    assert res.returncode == 2 and "not in the index" in res.stderr and "Traceback" not in res.stderr


def test_build_reports_skips(tmp_path):
    cat = tmp_path / "c.csv"
    cat.write_text("id,title,price\n1,Red mug,$5\n2,,$6\n1,Blue mug,7\n3,Green mug,abc\n")
    res = _cli("build", str(cat), "--out", str(tmp_path / "idx"))
    assert res.returncode == 0, res.stderr
    assert "skipped 1: empty title" in res.stdout
    assert "duplicate listing_id" in res.stdout
    assert "Index of 2 listings" in res.stdout


def test_help_lists_commands():
    res = _cli("--help")
    assert res.returncode == 0
    for command in ("build", "competitors", "demo"):
        assert command in res.stdout


HOSTILE_TITLES = [
    "[link=https://example.invalid]click[/link] ceramic mug",
    "[/bold] ceramic mug with lid",
    "ceramic mug [red]sale[/red] ends\\",
]


def test_catalog_markup_is_printed_as_text(tmp_path):
    """Rich markup in catalog text is data: shown literally, never a live link, never a crash."""
    catalog = tmp_path / "c.csv"
    rows = [{"id": f"M{i}", "title": t, "brand": "[b]Kiln[/b]"} for i, t in enumerate(HOSTILE_TITLES)]
    rows += [{"id": f"P{i}", "title": f"plain ceramic mug {i}", "brand": "Kiln"} for i in range(5)]
    import pandas as pd

    pd.DataFrame(rows).to_csv(catalog, index=False)
    index = tmp_path / "idx"
    assert run("build", str(catalog), "--out", str(index)).exit_code == 0
    wide = CliRunner(env={"COLUMNS": "400"})
    for args in (["competitors", "ceramic mug", "-k", "8"], ["differentiate", "--id", "M0"],
                 ["differentiate", "--id", "M1"]):
        res = wide.invoke(app, [*args, "--index", str(index)])
        assert res.exit_code == 0, res.output
        assert "\x1b]8;" not in res.stdout  # no OSC 8 terminal hyperlink
    res = wide.invoke(app, ["competitors", "ceramic mug", "-k", "8", "--index", str(index)])
    assert "[link=https://example.invalid]click[/link]" in res.stdout
    assert "[/bold] ceramic mug" in res.stdout


def test_error_messages_are_text_and_name_the_flag(tmp_path):
    """A file name with markup is printed as is; a library error's parameter becomes the CLI flag."""
    bad = tmp_path / "[bold]x[red].csv"
    bad.write_text("id,colour\n1,red\n")
    res = _cli("build", str(bad), "--out", str(tmp_path / "idx"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "[bold]x[red].csv" in res.stderr and "--map" in res.stderr
    target = tmp_path / "notes.txt"
    target.write_text("keep")
    res = _cli("build", str(bad), "--out", str(target))
    assert res.returncode == 2 and "--out" in res.stderr and target.read_text() == "keep"


def test_build_takes_load_limits(tmp_path):
    """--limit lowers or raises a load limit; a file over it is one sentence naming the limit and the flag."""
    catalog = tmp_path / "c.csv"
    catalog.write_text("title\n" + "".join(f"ceramic mug {i}\n" for i in range(8)))
    res = _cli("build", str(catalog), "--out", str(tmp_path / "idx"), "--limit", "max_rows=5")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "max_rows" in res.stderr and "--limit" in res.stderr
    res = _cli("build", str(catalog), "--out", str(tmp_path / "idx"), "--limit", "max_rows=lots")
    assert res.returncode == 2 and "is not a number" in res.stderr
    assert run("build", str(catalog), "--out", str(tmp_path / "idx"), "--limit", "max_rows=8").exit_code == 0


def test_niches_take_the_users_weights_and_record_them(demo_index, tmp_path):
    out = tmp_path / "n.json"
    res = run("niches", "--index", str(demo_index.path), "--top", "5", "--weights", "competition=1,homogenization=1,price_room=2",
              "--export", str(out))
    assert res.exit_code == 0, res.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["weights"] == {"competition": 0.25, "homogenization": 0.25, "price_room": 0.5}
    assert document["formula"].startswith("opportunity = 100 x demand x (0.25 x (1 - competition) + 0.25 x")
    assert all(n["size"] >= 5 and n["brand_leader_share"] <= 0.5 for n in document["niches"])
    bad = _cli("niches", "--index", str(demo_index.path), "--weights", "demand=2")
    assert bad.returncode == 2 and "Unknown weight 'demand'" in bad.stderr and "Traceback" not in bad.stderr


def test_help_shows_no_value_type_after_flags_and_keeps_the_install_extra(monkeypatch):
    """`--update`, `--headless` and `--help` take no value: no `<bool>` after them; rich markup must not eat
    `[distributed]` from the install hint."""
    from typer.testing import CliRunner

    from diffscan.cli import app

    monkeypatch.setenv("COLUMNS", "200")  # one line per option: the hint is not wrapped
    runner = CliRunner()
    for args in ([], ["build"], ["app"], ["competitors"], ["saturation"], ["niches"], ["compare"], ["models"],
                 ["models", "distill"], ["differentiate"], ["demo"]):
        res = runner.invoke(app, [*args, "--help"])
        assert res.exit_code == 0, (args, res.output)
        assert "<bool>" not in res.output, args
    build = runner.invoke(app, ["build", "--help"]).output
    assert "pip install -e '.[distributed]'" in build
    assert "<int>" in build  # options that take a value still say which


def test_competitors_say_the_category_guessed_for_a_pasted_listing(demo_index):
    res = run("competitors", "Insulated stainless steel water bottle 750ml leak proof", "--index", str(demo_index.path), "-k", "3")
    assert res.exit_code == 0, res.output
    assert "category guessed: " in res.stdout and "Water Bottles (confidence " in res.stdout
    res = run("competitors", "Insulated stainless steel water bottle 750ml", "--index", str(demo_index.path), "-k", "3",
              "--format", "json")
    data = json.loads(res.stdout)
    assert data["category_guessed"].endswith("Water Bottles") and 0.4 <= data["category_confidence"] <= 1
