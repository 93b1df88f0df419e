"""Results kept beside an index: analyses computed once and read back by every later call.

An analysis (a landscape, a niche shortlist, map coordinates) is stored in the index folder's
`analyses/` sub-folder as Parquet tables, `.npy` arrays and JSON documents, under a key that hashes the
index's own file checksums, the analysis parameters and the code that computes it. A rebuilt or updated
index, other parameters or another diffscan version give another key, so a kept result is never stale.
Each entry is listed in the manifest's `analyses` section with its files' sizes and SHA-256, and checked
on every read: an altered or missing file makes the entry unreadable and the analysis runs again.

Writes happen under a lock file, to temporary names renamed into place, the manifest last (written
whole and renamed), so a crash or a concurrent reader never sees half an entry. At most
`MAX_KEPT` entries stay; the least recently made go first. A read-only index folder simply keeps
nothing: the analysis is returned all the same.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import io
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from diffscan.errors import IndexFormatError
from diffscan.index.store import CORE_FILES, Index, parse_manifest
from diffscan.index.swap import MANIFEST

RESULTS_DIR = "analyses"
LOCK_FILE = ".analyses.lock"
MAX_KEPT = 24  # entries per index: levels x parameter sets a user tries; each landscape is ~2 MB per 20k listings
_SUFFIX = {"frames": ".parquet", "arrays": ".npy", "documents": ".json"}


@dataclass
class Kept:
    """One kept result: named tables, arrays and JSON documents, plus a small `meta` kept in the manifest."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    documents: dict[str, object] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


def code_digest(*packages: Path) -> str:
    """A short hash of the Python sources under these folders: the code that computes a kept result."""
    h = hashlib.sha256()
    for folder in packages:
        for f in sorted(Path(folder).rglob("*.py")):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def result_key(index: Index, kind: str, params: dict, code: str, *, files: bool = True) -> str:
    """`KIND-HASH`: the hash of the index's file checksums (unless not `files`), the analysis parameters
    and its code digest."""
    listed = index.manifest.get("files", {}) if files else {}
    basis = {"kind": kind, "files": {name: listed.get(name, {}).get("sha256") for name in sorted(listed)},
             "params": params, "code": code}
    digest = hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return f"{kind}-{digest}"


def _entries(manifest: dict) -> dict:
    return manifest.get("analyses", {}) or {}


def read_kept(index: Index, key: str) -> Kept | None:
    """The result kept under `key`, or None when there is none or any of its files fails its check."""
    entry = _entries(index.manifest).get(key)
    if entry is None:
        try:  # another process may have kept it since this index was loaded
            entry = _entries(parse_manifest(index.path)).get(key)
        except IndexFormatError:
            return None
        if entry is None:
            return None
        index.manifest.setdefault("analyses", {})[key] = entry
    folder = index.path / RESULTS_DIR
    kept = Kept(meta=dict(entry.get("meta", {})))
    try:
        for name, listed in entry["files"].items():
            path = folder / name
            data = path.read_bytes() if path.is_file() else None
            if data is None or len(data) != listed["bytes"] or hashlib.sha256(data).hexdigest() != listed["sha256"]:
                return None
            part, _, ext = name[len(key) + 1:].rpartition(".")
            if ext == "parquet":
                kept.frames[part] = pd.read_parquet(io.BytesIO(data))
            elif ext == "npy":
                kept.arrays[part] = np.load(io.BytesIO(data), allow_pickle=False)
            elif ext == "json":
                kept.documents[part] = json.loads(data.decode("utf-8"))
            else:
                return None
    except (OSError, ValueError, KeyError):  # unreadable or not what was written: compute again
        return None
    return kept


@contextlib.contextmanager
def _locked(index: Index) -> Iterator[None]:
    with open(index.path / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(path: Path, data: bytes) -> dict:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _encode(kind: str, value) -> bytes:
    buffer = io.BytesIO()
    if kind == "frames":
        value.to_parquet(buffer, index=False)
    elif kind == "arrays":
        np.save(buffer, np.asarray(value), allow_pickle=False)
    else:
        buffer.write(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))
    return buffer.getvalue()


def keep(index: Index, key: str, kept: Kept) -> bool:
    """Store `kept` under `key` in the index folder and list it in the manifest; False when the folder
    cannot be written (the caller has its result anyway)."""
    try:
        with _locked(index):
            manifest = parse_manifest(index.path)
            if not _unchanged(index, manifest):
                return False  # the index was rebuilt under us: this result belongs to the old one
            folder = index.path / RESULTS_DIR
            folder.mkdir(exist_ok=True)
            files = {}
            for kind in ("frames", "arrays", "documents"):
                for part, value in getattr(kept, kind).items():
                    name = f"{key}.{part}{_SUFFIX[kind]}"
                    files[name] = _write(folder / name, _encode(kind, value))
            entries = dict(_entries(manifest))
            entries[key] = {"kind": key.split("-", 1)[0], "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
                            "meta": kept.meta, "files": files}
            entries = dict(sorted(entries.items(), key=lambda kv: kv[1].get("created_at", ""))[-MAX_KEPT:])
            manifest["analyses"] = entries
            _write(index.path / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
            _sweep(folder, entries)
            index.manifest["analyses"] = entries
        return True
    except (OSError, IndexFormatError, ValueError, TypeError):
        return False


def _unchanged(index: Index, manifest: dict) -> bool:
    """Whether the folder still holds the index that was loaded (same core files)."""
    return all(manifest["files"].get(name) == index.manifest["files"].get(name) for name in CORE_FILES)


def _sweep(folder: Path, entries: dict) -> None:
    """Remove files of dropped entries and leftovers of killed writes."""
    listed = {name for entry in entries.values() for name in entry["files"]}
    for f in folder.iterdir():
        if f.is_file() and f.name not in listed:
            with contextlib.suppress(OSError):
                f.unlink()


def kept_entries(index: Index) -> list[dict]:
    """What the index keeps: key, kind, created_at, meta and size on disk of each entry, newest first."""
    rows = [{"key": key, "kind": entry.get("kind", ""), "created_at": entry.get("created_at", ""),
             "meta": entry.get("meta", {}), "bytes": sum(f["bytes"] for f in entry["files"].values())}
            for key, entry in _entries(index.manifest).items()]
    return sorted(rows, key=lambda r: r["created_at"], reverse=True)



def carry_over(previous: Index, folder: Path, kinds: tuple[str, ...] = ("landscape",)) -> dict:
    """Copy the kept entries of these kinds from `previous` into the index being written in `folder`
    (an update): their keys no longer match, but their parts stay reusable. Returns the manifest's
    `analyses` section for them; entries whose files fail their check are left behind."""
    entries = {}
    for key, entry in _entries(previous.manifest).items():
        if entry.get("kind") not in kinds or read_kept(previous, key) is None:
            continue
        (folder / RESULTS_DIR).mkdir(exist_ok=True)
        for name in entry["files"]:
            shutil.copyfile(previous.path / RESULTS_DIR / name, folder / RESULTS_DIR / name)
        entries[key] = entry
    return entries
