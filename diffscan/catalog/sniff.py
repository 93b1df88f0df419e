"""Which format and text encoding a catalog file is in, from its name, its magic bytes and its text."""

from __future__ import annotations

import codecs
import csv
import json
from pathlib import Path
from typing import Callable

import charset_normalizer

from diffscan.errors import CatalogError

_EXTENSION_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}


_FORMAT_NAMES = {"csv": "a CSV", "tsv": "a TSV", "json": "a JSON file", "jsonl": "a JSON Lines file"}
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz")
_MAGIC_NAMES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP or XLSX file",
    b"PAR1": "a Parquet file",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls or Word file",
}


_EXPORT_HINT = "export the catalog as CSV, TSV, JSON, JSON Lines, Parquet or XLSX"
# charset-normalizer guesses among these Latin-script single-byte code pages (and BOM-less UTF-16/32)
# are unreliable on catalog text; Windows-1252 is by far the most common of them in exports.
_WESTERN_GUESSES = {
    "ascii", "cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "latin_1", "iso8859_2", "iso8859_3",
    "iso8859_4", "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16",
    "mac_roman", "mac_latin2", "mac_iceland", "mac_turkish", "cp437", "cp850", "cp852", "cp858",
    "utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le",
}  # fmt: skip


_CENTRAL_EUROPEAN = {"Polish", "Czech", "Slovak", "Hungarian", "Croatian", "Slovene", "Romanian"}


def format_from_name(path: Path) -> str | None:
    """Format implied by the extension (case-insensitive, compression suffix ignored), or None."""
    name = path.name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        name = name.removesuffix(suffix)
    suffix = Path(name).suffix
    if suffix == ".xls":
        raise CatalogError(f"{path} is an old Excel .xls file, which is not supported; save it as .xlsx or .csv.")
    return _EXTENSION_FORMATS.get(suffix)


def sniff_binary_format(data: bytes) -> str | None:
    """For unknown extensions: recognize Parquet and XLSX by their magic bytes."""
    if data.startswith(b"PAR1"):
        return "parquet"
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    return None


def detect_encoding(
    data: bytes, path: Path, fmt: str, decodes: Callable[[str], bool] | None = None
) -> str:
    """UTF-8 (with or without BOM), a BOM'd UTF-16/32, else charset-normalizer's guess, cp1252, latin-1.

    ``data`` is the file or its first part; ``decodes(encoding)`` says whether the whole file decodes
    strictly (by default ``data`` is the whole file).
    """
    if decodes is None:
        def decodes(encoding: str) -> bool:
            return _decodes(data, encoding)
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            if not decodes(encoding):
                raise CatalogError(f"{path} starts like {encoding.upper()} text but does not decode as it; "
                                   "export the catalog again, as UTF-8.")
            return encoding
    if looks_binary(data):
        kind = next((name for magic, name in _MAGIC_NAMES.items() if data.startswith(magic)), None)
        detail = f" (it starts like {kind})" if kind else ""
        raise CatalogError(
            f"{path} looks like a binary file, not {_FORMAT_NAMES.get(fmt, 'a CSV')}{detail}; {_EXPORT_HINT}."
        )
    if decodes("utf-8"):
        return "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    for candidate in (guess_legacy_encoding(data), "cp1252", "latin-1"):
        if candidate and decodes(candidate):
            return candidate
    return "latin-1"  # latin-1 decodes any bytes


# Bytes no text catalog holds (C0 controls but tab, newline, vertical tab, form feed, carriage return, escape).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20)])


def looks_binary(data: bytes) -> bool:
    """Whether the first 64 KB are binary: control bytes (NUL and the like) more than 8 in number and 1%
    of the bytes, or any with a known binary signature. A stray NUL in a text file is not binary: such
    NULs are removed from the cells they are in, with a warning (see readers)."""
    head = data[:65536]
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls and any(head.startswith(magic) for magic in _MAGIC_NAMES):
        return True
    return controls > 8 and controls * 100 > len(head)


def guess_legacy_encoding(data: bytes) -> str | None:
    """charset-normalizer's guess, except Western guesses become cp1252 (see ``_WESTERN_GUESSES``)."""
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        return None
    if best.encoding in {"cp1250", "iso8859_2"} and best.language in _CENTRAL_EUROPEAN:
        return best.encoding
    return "cp1252" if best.encoding in _WESTERN_GUESSES else best.encoding


def _decodes(data: bytes, encoding: str) -> bool:
    """True when ``data`` decodes strictly with ``encoding``."""
    try:
        data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def sniff_text_format(sample: str) -> str | None:
    """For unknown extensions: JSON or JSON Lines by the first character, else None (delimited)."""
    text = sample.lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        first_line = text.split("\n", 1)[0]
        try:
            json.loads(first_line)
        except json.JSONDecodeError:
            return "json"
        except RecursionError:  # a first line nested too deep to parse: read line by line, it is skipped
            return "jsonl"
        return "jsonl"
    return None


def guess_delimiter(sample: str, *, sniff: bool) -> str:
    """Delimiter of a delimited file: csv.Sniffer when asked (unknown extensions), else the header's."""
    if sniff:
        lines = "\n".join(sample.splitlines()[:50])
        try:
            return csv.Sniffer().sniff(lines, delimiters=",\t;|").delimiter
        except csv.Error:
            pass
    header = sample.lstrip("\ufeff").split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])  # ties keep the first, i.e. comma
    return best if counts[best] else ","
