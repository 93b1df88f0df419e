"""Hostile catalog files: each probe loaded in a fresh process, timed, its peak memory measured.

    python -m bench.hostile          # prints the table; exits 1 if a probe fails

Each probe file is generated here (nothing is downloaded). A probe passes when loading it gives a
one-sentence DiffscanError or a result whose skips and warnings account for every odd row, never a
traceback, within 1 GB of peak memory and 120 s. The "before" column is what the same probe did at
the issue's filing (issue 14). The plain baseline is pandas reading the same file the way a script
would (`pd.read_csv` / `pd.read_excel` / `json.load`), with the same memory cap.
"""

from __future__ import annotations

import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench.common import table

MEMORY_CAP = 3 << 30  # a runaway probe hits MemoryError here instead of taking the machine down
PASS_MB = 1024
TIMEOUT_S = 120

XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"'
        '/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'),
}


def cell(ref: str, text: str) -> str:
    """An inline-string cell of sheet XML."""
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def xlsx(path: Path, rows, ref: str | None = None) -> Path:
    """A minimal workbook whose sheet XML is streamed from ``rows`` (strings of <row> elements)."""
    dimension = f'<dimension ref="{ref}"/>' if ref else ""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in XLSX_PARTS.items():
            z.writestr(name, text)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                         f'spreadsheetml/2006/main">{dimension}<sheetData>').encode())
            for row in rows:
                sheet.write(row.encode())
            sheet.write(b"</sheetData></worksheet>")
    return path


def sheet_xml_bomb(folder: Path) -> Path:
    """~370 MB of sheet XML in a file of about a megabyte."""
    head = f'<row r="1">{cell("A1", "title")}{cell("B1", "description")}</row>'
    filler = "lorem ipsum " * 400
    n = 75_000

    def rows():
        yield head
        for i in range(2, n + 2):
            yield f'<row r="{i}">{cell(f"A{i}", f"mug {i}")}{cell(f"B{i}", filler)}</row>'

    return xlsx(folder / "sheet-bomb.xlsx", rows(), f"A1:B{n + 1}")


def far_cell(folder: Path) -> Path:
    """A 5 KB workbook with one cell at the last column of the last row."""
    rows = [f'<row r="1">{cell("A1", "title")}</row>', f'<row r="2">{cell("A2", "ceramic mug")}</row>',
            f'<row r="1048576">{cell("XFD1048576", "x")}</row>']
    return xlsx(folder / "far-cell.xlsx", rows, "A1:XFD1048576")


def gzip_bomb(folder: Path) -> Path:
    """A .csv.gz of a few MB that decompresses to 3 GB."""
    path = folder / "bomb.csv.gz"
    row = b"M1,ceramic mug," + b"x" * 1000 + b"\n"
    block = row * 1000
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(b"id,title,description\n")
        for _ in range(3 * (1 << 30) // len(block)):
            f.write(block)
    return path


def deep_json(folder: Path) -> Path:
    path = folder / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    return path


def deep_jsonl_line(folder: Path) -> Path:
    path = folder / "deep-line.jsonl"
    good = [json.dumps({"id": f"M{i}", "title": f"ceramic mug {i}"}) for i in range(3)]
    deep = '{"id": "X", "title": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path.write_text("\n".join([good[0], deep, *good[1:]]) + "\n")
    return path


def nul_bytes(folder: Path) -> Path:
    """A NUL byte in row 2 and another far past the first 64 KB."""
    path = folder / "nul.csv"
    rows = [b"id,title"] + [f"M{i},ceramic mug {i}".encode() for i in range(5000)]
    rows[2] = rows[2] + b"\x00"
    rows[4000] = rows[4000].replace(b"mug", b"m\x00ug")
    path.write_bytes(b"\n".join(rows) + b"\n")
    return path


def formulas_without_values(folder: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "title", "price"])
    for i in range(5):
        ws.append([f"M{i}", f'=CONCATENATE("ceramic mug ", {i})', f"={i}+5"])
    path = folder / "formulas.xlsx"
    wb.save(path)  # openpyxl writes formulas without cached values, as a generated workbook would
    return path


def odd_numbers(folder: Path) -> Path:
    path = folder / "numbers.csv"
    path.write_text("id,title,price,review_count\nM1,mug one,12 34,1e9\nM2,mug two,5.00,1e23\nM3,mug three,4,-3\n")
    return path


def _refused(now: dict) -> bool:
    return now["outcome"] == "error"


def _rows_kept_and_flagged(listings: int, flagged: int):
    """Loaded with `listings` listings and at least `flagged` skips + warnings (nothing silent)."""
    return lambda now: (now["outcome"] == "loaded" and now["listings"] == listings
                        and now["skipped"] + now["warnings"] >= flagged)


def _formulas_reported(now: dict) -> bool:
    return "formula" in (now.get("message") or "").lower() or (now["outcome"] == "loaded" and now["warnings"] > 0)


def _numbers_ruled(now: dict) -> bool:
    if now["outcome"] != "loaded":
        return False
    (_, price1, reviews1), (_, _, reviews2), (_, _, reviews3) = now["values"][:3]
    return _missing(price1) and float(reviews1) == 1e9 and _missing(reviews2) and _missing(reviews3) \
        and now["warnings"] >= 3


def _missing(value) -> bool:
    """An empty value as the child printed it: null, NaN or the text 'nan'."""
    return value is None or str(value).lower() == "nan"


PROBES = [
    # name, generator, what it did at the filing, what passing means
    ("xlsx: 370 MB of sheet XML in ~1 MB", sheet_xml_bomb, "469 s, 2.4 GB peak", _refused),
    ("xlsx: one cell at XFD1048576", far_cell, "unbounded memory (stopped at 15 GB)", _refused),
    ("csv.gz: 3 GB decompressed", gzip_bomb, "MemoryError traceback", _refused),
    ("json: nested 100,000 deep", deep_json, "RecursionError traceback", _refused),
    ("jsonl: one line nested 100,000 deep", deep_jsonl_line, "whole file rejected", _rows_kept_and_flagged(3, 1)),
    ("csv: NUL bytes early and late", nul_bytes, "rejected early / dropped silently late",
     _rows_kept_and_flagged(5000, 1)),
    ("xlsx: formulas without cached values", formulas_without_values, "titles 'empty', prices emptied, silent",
     _formulas_reported),
    ("csv: 12 34 / 1e9 / 1e23 / -3", odd_numbers, "1234 / 1 / 1e23 accepted", _numbers_ruled),
]

_CHILD = r"""
import atexit, json, resource, sys
atexit.register(lambda: print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})))
from diffscan.errors import DiffscanError
from diffscan.catalog.table import load_catalog
try:
    r = load_catalog(sys.argv[1])
except DiffscanError as exc:
    print(json.dumps({"outcome": "error", "message": str(exc)}))
else:
    rep = r.report
    print(json.dumps({"outcome": "loaded", "listings": len(r.listings), "skipped": len(rep.skipped),
                      "warnings": len(rep.warnings), "rows_read": rep.rows_read,
                      "values": r.listings[[c for c in ("title", "price", "review_count") if c in r.listings]]
                      .astype(str).values.tolist()[:4]}, ensure_ascii=False))
"""

_BASELINE = r"""
import atexit, json, resource, sys, pandas as pd
atexit.register(lambda: print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})))
p = sys.argv[1]
try:
    if p.endswith(".xlsx"):
        n = len(pd.read_excel(p))
    elif p.endswith(".json"):
        n = len(json.load(open(p)))
    elif p.endswith(".jsonl"):
        n = len(pd.read_json(p, lines=True))
    else:
        n = len(pd.read_csv(p))
    print(json.dumps({"outcome": "loaded", "listings": n}))
except Exception as exc:
    print(json.dumps({"outcome": "exception", "message": type(exc).__name__}))
"""


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_probe(code: str, path: Path) -> dict:
    """Run `code` on `path` in a fresh process: its JSON answer, seconds and peak RSS (MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_limit_memory, text=True)
    try:
        out, errs = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"outcome": "timeout", "seconds": TIMEOUT_S, "peak_mb": float("nan")}
    seconds = time.perf_counter() - start
    answer: dict = {"peak_mb": float("nan")}
    for line in out.strip().splitlines():  # the answer, then the peak (printed at exit)
        try:
            answer.update(json.loads(line))
        except ValueError:
            continue
    if "outcome" not in answer:
        last = (errs.strip().splitlines() or ["?"])[-1]
        answer.update(outcome="traceback", message=last[:80])
    answer["seconds"] = seconds
    return answer


def _one_sentence(message: str) -> bool:
    return "\n" not in message.strip() and "Traceback" not in message and len(message) < 600


def main() -> int:
    rows, failed = [], 0
    with tempfile.TemporaryDirectory(prefix="diffscan-hostile-") as tmp:
        folder = Path(tmp)
        for name, make, before, expected in PROBES:
            path = make(folder)
            size = path.stat().st_size
            now = run_probe(_CHILD, path)
            base = run_probe(_BASELINE, path)
            ok = (now["outcome"] in ("error", "loaded") and now["peak_mb"] < PASS_MB and expected(now)
                  and (now["outcome"] != "error" or _one_sentence(now.get("message", ""))))
            failed += not ok
            if now["outcome"] == "error":
                shown = now["message"][:110]
            elif now["outcome"] == "loaded":
                shown = (f"{now['listings']} listings, {now['skipped']} skipped, {now['warnings']} warnings; "
                         f"{now['values']}")[:110]
            else:
                shown = f"{now['outcome']}: {now.get('message', '')}"
            rows.append([name, f"{size / 1e6:.2f} MB", before, f"{base['outcome']} {base['seconds']:.1f} s",
                         shown.replace("|", "/"), f"{now['seconds']:.1f}", f"{now['peak_mb']:.0f}",
                         "PASS" if ok else "FAIL"])
            path.unlink()
    table("Hostile catalog files (each in a fresh process, memory capped at 3 GB)",
          ["probe", "file", "before (issue 14)", "pandas baseline", "diffscan now", "s", "peak MB", "result"],
          rows)
    print(f"\n{len(rows) - failed}/{len(rows)} probes pass.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
