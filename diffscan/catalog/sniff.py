"""Which format and text encoding a catalog file is in, from its name, its magic bytes and its text."""

from __future__ import annotations

import codecs
import csv
import functools
import json
import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class EncodingSample:
    """How much of a text file its encoding is judged on, so a file of gigabytes is never read whole
    to guess it (a guess is then confirmed by decoding the whole file a block at a time).

    head_bytes: the start, read whole; a file no longer than it is judged whole. 16 MiB.
    blocks: further blocks, spread evenly over the rest of a plain file (read with seeks); through
        gzip/bz2/xz, the first that hold non-ASCII bytes (the stream cannot seek). 64.
    block_bytes: size of each further block, cut to whole lines. 64 KiB.
    judged_bytes: lines with non-ASCII bytes decoded to judge between the Chinese and Japanese
        encodings; a few thousand titles tell them apart. 1 MiB.
    """

    head_bytes: int = 16 << 20
    blocks: int = 64
    block_bytes: int = 64 << 10
    judged_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if not getattr(self, name) >= 1:
                raise ValueError(f"EncodingSample.{name} must be at least 1, got {getattr(self, name)!r}")


ENCODING_SAMPLE = EncodingSample()

# Encodings known from the bytes (UTF-8 decodes, or a byte order mark): every other one is a guess,
# which the load report says.
CERTAIN_ENCODINGS = frozenset({"utf-8", "utf-8-sig", "utf-16", "utf-32"})
_ENCODING_LABELS = {
    "gb18030": "GB18030/GBK", "big5": "Big5", "cp950": "Big5 (cp950)", "big5hkscs": "Big5-HKSCS",
    "shift_jis": "Shift-JIS", "cp932": "Shift-JIS (cp932)", "cp1252": "Windows-1252", "cp1250": "Windows-1250",
    "latin-1": "Latin-1", "utf-16-le": "UTF-16 LE without byte order mark",
    "utf-16-be": "UTF-16 BE without byte order mark",
}  # fmt: skip


def encoding_label(encoding: str) -> str:
    """The name a user knows an encoding by: ``gb18030`` -> ``GB18030/GBK``."""
    return _ENCODING_LABELS.get(encoding, encoding.upper().replace("_", "-"))


def guessed_encoding_warning(encoding: str | None) -> str | None:
    """The load report's warning for a guessed encoding (None when it is certain or there is none)."""
    if not encoding or encoding in CERTAIN_ENCODINGS:
        return None
    return (f"encoding guessed as {encoding_label(encoding)} (the file is not UTF-8; if any text looks "
            "garbled, save the file as UTF-8 and load it again)")


def detect_encoding(
    data: bytes, path: Path, fmt: str, decodes: Callable[[str], bool] | None = None,
    spread: Callable[[], bytes] | None = None, sample: EncodingSample = ENCODING_SAMPLE,
) -> str:
    """UTF-8 (with or without BOM), UTF-16/32 with a BOM, UTF-16 without one (by its NUL bytes), else
    GB18030, Big5 or Shift-JIS when the non-ASCII bytes read as common characters of one of them, else
    charset-normalizer's guess, cp1252, latin-1.

    ``data`` is the file or its first part; ``decodes(encoding)`` says whether the whole file decodes
    strictly (by default ``data`` is the whole file); ``spread()`` gives whole lines from across the
    rest of the file, asked for only when ``data`` is not UTF-8, so that a file whose first megabytes
    are ASCII is still judged on its Chinese rows; ``sample`` bounds the judgment.
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
    utf16 = utf16_without_bom(data)
    if utf16 and decodes(utf16):
        return utf16
    if looks_binary(data):
        kind = next((name for magic, name in _MAGIC_NAMES.items() if data.startswith(magic)), None)
        detail = f" (it starts like {kind})" if kind else ""
        raise CatalogError(
            f"{path} looks like a binary file, not {_FORMAT_NAMES.get(fmt, 'a CSV')}{detail}; {_EXPORT_HINT}."
        )
    if decodes("utf-8"):
        return "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    judged = data
    if spread:  # half the judgment from the start, half from across the rest
        half = sample.judged_bytes // 2
        judged = high_lines(data, half) + b"\n" + high_lines(spread(), half)
    cjk = guess_cjk_encodings(judged, sample.judged_bytes)
    for candidate in (*cjk, guess_legacy_encoding(data), "cp1252", "latin-1"):
        if candidate and decodes(candidate):
            return candidate
    return "latin-1"  # latin-1 decodes any bytes


def utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` when the first 64 KB hold NUL bytes at alternate positions, as the
    ASCII characters of UTF-16 text do (commas, digits, line ends), and decode to text with lines."""
    head = data[: min(len(data), 65536) // 2 * 2]
    if len(head) < 4:
        return None
    at_even, at_odd = head[0::2].count(0), head[1::2].count(0)
    # ASCII characters put their NUL in the high byte: odd positions in LE, even ones in BE. Chinese
    # text has few ASCII characters, so 2% of the positions is enough, if nearly all NULs agree.
    least = max(2, len(head) // 100)
    if at_odd >= least and at_even * 20 <= at_odd:
        encoding = "utf-16-le"
    elif at_even >= least and at_odd * 20 <= at_even:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = codecs.getincrementaldecoder(encoding)(errors="strict").decode(head, final=False)
    except UnicodeDecodeError:
        return None
    controls = len(text) - len(text.translate(_CONTROL_CHARS))
    has_lines = "\n" in text or "\r" in text or len(head) == len(data)
    return encoding if has_lines and controls * 100 <= len(text) else None


# Bytes no text catalog holds (C0 controls but tab, newline, vertical tab, form feed, carriage return, escape).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_CONTROL_CHARS = dict.fromkeys(_CONTROL_BYTES)


def looks_binary(data: bytes) -> bool:
    """Whether the first 64 KB are binary: control bytes (NUL and the like) more than 8 in number and 1%
    of the bytes, or any with a known binary signature. A stray NUL in a text file is not binary: such
    NULs are removed from the cells they are in, with a warning (see readers)."""
    head = data[:65536]
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls and any(head.startswith(magic) for magic in _MAGIC_NAMES):
        return True
    return controls > 8 and controls * 100 > len(head)


# Candidates for non-ASCII bytes in the double-byte patterns of East Asian code pages, each with the
# set of common characters its text is made of; a superset decoder follows its base for rare characters.
_CJK_CANDIDATES = (("gb18030", "gb"), ("big5", "big5"), ("cp950", "big5"), ("big5hkscs", "big5"),
                   ("shift_jis", "sjis"), ("cp932", "sjis"))
# Share of the non-ASCII characters that must be common ones. Measured on 2,674 Taobao titles one by one:
# GBK read as GB18030 scores 0.79-1 (0.97 together), read as Big5 0.5 on average (a few titles 0.85,
# always below their GB18030 score); traditional titles in Big5 score 1, read as GB18030 0.2-0.5.
# Candidates are ranked, and this floor keeps out Western text whose accents happen to pair up.
_CJK_MIN_COMMON = 0.5
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def guess_cjk_encodings(data: bytes, judged_bytes: int = 0) -> list[str]:
    """GB18030, Big5 or Shift-JIS decoders whose text of ``data``'s non-ASCII lines is mostly common
    characters (GB2312 level 1 hanzi, Big5's frequent hanzi, kana and JIS level 1 kanji, CJK
    punctuation), best first; [] for Western or other text. GBK and GB2312 are read as GB18030, their
    superset. Judged on at most ``judged_bytes`` of lines (EncodingSample.judged_bytes by default)."""
    sample = high_lines(data, judged_bytes or ENCODING_SAMPLE.judged_bytes)
    if not sample:
        return []
    scores: dict[str, float] = {}
    for encoding, kind in _CJK_CANDIDATES:
        if any(_CJK_KIND[e] == kind for e in scores):
            continue  # its base decoder read the sample, and a superset reads it the same
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        foreign = len(text) - len(text.encode("ascii", errors="ignore"))
        if foreign:
            common = len(text) - len(text.translate(_common_chars(kind)))
            scores[encoding] = common / foreign
    ranked = sorted(scores, key=lambda e: -scores[e])  # stable: GB18030 first on a tie
    return [e for e in ranked if scores[e] >= _CJK_MIN_COMMON]


_CJK_KIND = dict(_CJK_CANDIDATES)


def high_lines(data: bytes, budget: int) -> bytes:
    """The lines of ``data`` holding non-ASCII bytes, the first ``budget`` bytes' worth of them."""
    lines, size, at = [], 0, 0
    while size < budget and (high := _NON_ASCII.search(data, at)):
        start = data.rfind(b"\n", 0, high.start()) + 1
        end = data.find(b"\n", high.start())
        end = len(data) if end < 0 else end
        lines.append(data[start:end])
        size += end - start
        at = end + 1
    return b"\n".join(lines)


@functools.cache
def _common_chars(kind: str) -> dict[int, None]:
    """A str.translate table deleting the common characters of one script's code page."""
    def cells(encoding: str, leads: range, trails: list[int]) -> set[str]:
        chars = set()
        for lead in leads:
            for trail in trails:
                try:
                    chars.add(bytes([lead, trail]).decode(encoding))
                except UnicodeDecodeError:
                    pass
        return chars

    trails = [*range(0x40, 0x7F), *range(0x80, 0xFD)]
    if kind == "gb":  # GB2312 level 1: the 3,755 hanzi of everyday text
        chars = cells("gb2312", range(0xB0, 0xD8), list(range(0xA1, 0xFF)))
    elif kind == "big5":  # Big5's 5,401 frequent hanzi (A440-C67E)
        chars = {c for c in cells("big5", range(0xA4, 0xC7), trails) if c.encode("big5") <= b"\xc6\x7e"}
    else:  # kana and JIS level 1 kanji (889F-9872)
        chars = {chr(c) for c in range(0x3041, 0x3100)}
        kanji = cells("shift_jis", range(0x88, 0x99), trails)
        chars |= {c for c in kanji if b"\x88\x9f" <= c.encode("shift_jis") <= b"\x98\x72"}
    chars |= {chr(c) for c in (*range(0x3000, 0x3040), *range(0xFF01, 0xFF5F), 0xFFE5, 0x2014, 0x2026, 0x201C,
                               0x201D, 0x2018, 0x2019, 0x00B7)}  # CJK and fullwidth punctuation
    return dict.fromkeys(map(ord, chars))


def guess_legacy_encoding(data: bytes) -> str | None:
    """charset-normalizer's guess, except Western guesses become cp1252 (see ``_WESTERN_GUESSES``), as
    do guesses it finds no language for (a few accents in a short file: "Café ® 5€" came out cp775)."""
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        return None
    if best.encoding in {"cp1250", "iso8859_2"} and best.language in _CENTRAL_EUROPEAN:
        return best.encoding
    unknown = best.language in ("", "Unknown")
    return "cp1252" if unknown or best.encoding in _WESTERN_GUESSES else best.encoding


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
