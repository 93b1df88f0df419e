"""Text helpers shared by the analyses: what gets embedded, tokens, words, phrases and model codes.

Two cuts of text written without spaces: `tokens` (character bigrams: fast, for matching and keys)
and `words` (Chinese cut into words by jieba through a `Segmenter`: for everything people read,
i.e. phrases, cluster names, USPs and table stakes).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# CJK ideographs, kana and hangul: scripts written without spaces.
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# Han ideographs only: what the Chinese segmenter cuts (kana and hangul stay in bigrams).
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A Latin word stops where CJK starts ("ahc水乳" is "ahc" and "水乳"): CJK letters are word characters too.
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+(?:[.,'][^\W_{_CJK}]+)*", re.UNICODE)
_CJK_RE = re.compile(rf"^[{_CJK}]+$")
_HAN_PARTS_RE = re.compile(rf"[{_HAN}]+|[^{_HAN}]+")
_HAN_RUN_RE = re.compile(rf"[{_HAN}]+")
# Model numbers such as "PSLX350H", "KDL-40V4100" or "AM53BK": letters and digits mixed, 4+ chars.
_CODE_RE = re.compile(r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9-]{2,}[A-Za-z0-9]\b")

STOPWORDS = frozenset(
    """a an and are as at be by for from has have in into is it its of on or our the this to with
    your you new pack pcs set pc per x w""".split()
)


# Marketing filler of Chinese marketplace titles (Taobao, Tmall, JD): shop, price, authenticity, shipping
# and urgency words every seller adds. They say nothing about the product, so no phrase starts or ends
# with one (they never name a cluster nor become a USP). Kept to commerce words on purpose: claims about
# the product (进口 imported, 保湿 moisturizing) are not filler.
MARKETING_FILLER = frozenset(
    """包邮 免邮 顺丰 发货 现货 直邮 保税 代购 正品 正装 原装 授权 官方 官网 旗舰店 旗舰 专柜 专卖店
    店铺 品牌 新款 新品 上新 热卖 热销 爆款 特价 特惠 优惠 折扣 促销 清仓 秒杀 限时 抢购 活动 同款
    网红 推荐 好用 赠品 包装""".split()
)

# Chinese function words of two or more characters (single characters never end a phrase anyway):
# the "for", "with" and "and" of Chinese, as STOPWORDS are of English.
CJK_STOPWORDS = frozenset(
    """适合 适用 用于 可以 以及 或者 还是 一个 一款 这款 这个 那个 我们 你的 您的 非常 特别 采用 带有 具有""".split()
)


@dataclass(frozen=True)
class SegmenterParams:
    """How Chinese text is cut into words (docs/architecture.md, core/text).

    Parameters
    ----------
    filler: words no phrase starts or ends with, besides the English `STOPWORDS` and Chinese
        `CJK_STOPWORDS` (default `MARKETING_FILLER`); lower case.
    hmm: let jieba's HMM join characters its dictionary does not know into words: new brand and
        product names ('兰蔻', '肌活') come out whole instead of as loose characters.
    min_chars: a Chinese word shorter than this is not a phrase on its own and does not start or end
        one: single characters are mostly particles and fragments ('的', '款', '液').
    """

    filler: frozenset[str] = MARKETING_FILLER
    hmm: bool = True
    min_chars: int = 2


SEGMENTATION = SegmenterParams()


def cache_dir() -> Path:
    """diffscan's cache folder: $DIFFSCAN_CACHE, else ~/.cache/diffscan."""
    return Path(os.environ.get("DIFFSCAN_CACHE") or Path.home() / ".cache" / "diffscan")


_JIEBA_LOCK = threading.Lock()
_JIEBA_BASE: list = []  # the one read-only jieba dictionary of the process (see _base_tokenizer)


def _quiet_jieba(fn):
    """Run fn with jieba's logger silenced: it prints its loading chatter (and cache write failures) to stderr."""
    logger = logging.getLogger("jieba")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        return fn()
    finally:
        logger.setLevel(level)


def _base_tokenizer():
    """jieba's bundled dictionary, loaded once per process on first Chinese text (~1 s; its prefix cache
    is kept under `cache_dir()/jieba`, not the shared temp folder).

    This is reference data like a vocabulary, not something derived from an index: it is never
    modified (catalog words go to a `Segmenter`'s own copy), so sharing it leaks nothing.
    """
    with _JIEBA_LOCK:
        if not _JIEBA_BASE:
            import jieba

            tokenizer = jieba.Tokenizer()
            folder = cache_dir() / "jieba"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                tokenizer.tmp_dir = str(folder)
            except OSError:  # a read-only home: jieba builds the dictionary without its cache
                tokenizer.tmp_dir = None
            _quiet_jieba(tokenizer.initialize)
            _JIEBA_BASE.append(tokenizer)
        return _JIEBA_BASE[0]


class Segmenter:
    """Cuts Chinese into words with jieba, knowing a catalog's own words (its brand names).

    The words go to this segmenter's own copy of the dictionary, so the words of one catalog never
    change how another is cut. jieba loads on the first Chinese text, not before: English text never
    pays for it. The analyses keep one per index in `Index.memo`.
    """

    def __init__(self, words: Iterable[str] = (), *, params: SegmenterParams = SEGMENTATION):
        self.params = params
        # Only the Chinese parts of a name are dictionary words ('兰蔻 Lancôme' -> '兰蔻').
        self.words = frozenset(run for w in words if w for run in _HAN_RUN_RE.findall(normalize(str(w)))
                               if len(run) >= 2)
        self.stopwords = STOPWORDS | CJK_STOPWORDS | params.filler
        self._tokenizer = None
        self._lock = threading.Lock()

    def _jieba(self):
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = self._load()
        return self._tokenizer

    def _load(self):
        base = _base_tokenizer()
        if not self.words:
            return base
        import jieba

        own = jieba.Tokenizer()
        own.FREQ, own.total, own.tmp_dir = dict(base.FREQ), base.total, base.tmp_dir  # a 20 ms copy, not a 1 s load
        own.initialized = True
        for word in sorted(self.words):
            own.add_word(word)  # jieba's suggested frequency: high enough that the word is cut out whole
        return own

    def cut(self, han: str) -> list[str]:
        """Words of a run of Han characters."""
        return [w for w in self._jieba().cut(han, HMM=self.params.hmm) if w.strip()]


DEFAULT_SEGMENTER = Segmenter()  # no catalog words; jieba itself loads on first use


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 row``, ``1,081 rows`` (``nouns``: an irregular plural): front ends never write "offer(s)"."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


def listing_text(title: str, brand: str = "", description: str = "", max_description_chars: int = 300) -> str:
    """The text that represents a listing for embedding and lexical matching.

    Title first (it carries the product), brand when the title does not already say it, and the head
    of the description: long descriptions dilute the title and slow encoding.
    """
    parts = [title.strip()]
    if brand and brand.strip().lower() not in title.lower():
        parts.append(brand.strip())
    if description and max_description_chars > 0:
        parts.append(description.strip()[:max_description_chars])
    return " | ".join(p for p in parts if p)


def normalize(text: str) -> str:
    """Lower-case, NFKC-normalized text (full-width digits become ASCII, ligatures split)."""
    return unicodedata.normalize("NFKC", text).lower()


def tokens(text: str) -> list[str]:
    """Tokens for matching: Latin words; runs of CJK characters become overlapping character bigrams."""
    out: list[str] = []
    for match in _TOKEN_RE.findall(normalize(text)):
        if _CJK_RE.match(match):
            out.extend([match] if len(match) == 1 else [match[i : i + 2] for i in range(len(match) - 1)])
        else:
            out.append(match)
    return out


# Chinese counters and units written right after a number ("2支装", "30片", "3件套", "50毫升"): kept with
# the number as one word, so no "支装" or "件套" is left over to name a cluster.
NUMBER_SUFFIXES = frozenset(
    """个 只 件 支 片 包 袋 瓶 罐 套 盒 双 对 粒 颗 条 张 块 枚 根 卷 毫升 升 克 千克 公斤 斤 毫米 厘米 米 寸 英寸
    岁 年 天 小时 分钟 色 号""".split()
)
_SUFFIX_MAX = max(map(len, NUMBER_SUFFIXES))
_PACKED = ("装", "套", "件套", "入")  # "...支装", "...件套": how many come in the pack
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?")


def words(text: str, segmenter: Segmenter | None = None) -> list[str]:
    """Words for reading: Latin words as `tokens` gives them, Chinese cut into words by `segmenter`
    (default `DEFAULT_SEGMENTER`), kana and hangul in character bigrams; a number keeps the Chinese
    counter written right after it ("2支装")."""
    out: list[str] = []
    glue_at = -1  # where a number ended: a CJK run starting there may begin with its counter
    norm = normalize(text)
    for m in _TOKEN_RE.finditer(norm):
        match = m.group(0)
        if not _CJK_RE.match(match):
            out.append(match)
            glue_at = m.end() if _NUMBER_RE.fullmatch(match) else -1
            continue
        if m.start() == glue_at:
            suffix = _number_suffix(match)
            if suffix:
                out[-1] += suffix
                match = match[len(suffix):]
        glue_at = -1
        for part in _HAN_PARTS_RE.findall(match):
            if _HAN_RUN_RE.fullmatch(part):
                out.extend((segmenter or DEFAULT_SEGMENTER).cut(part))
            else:
                out.extend([part] if len(part) == 1 else [part[i : i + 2] for i in range(len(part) - 1)])
    return out


def _number_suffix(run: str) -> str:
    """The counter or unit (and a following '装'/'套') at the start of a CJK run, or ''."""
    unit = next((run[:n] for n in range(min(_SUFFIX_MAX, len(run)), 0, -1) if run[:n] in NUMBER_SUFFIXES), "")
    if unit:
        unit += next((p for p in sorted(_PACKED, key=len, reverse=True) if run[len(unit):].startswith(p)), "")
    return unit


def content_words(text: str, segmenter: Segmenter | None = None) -> set[str]:
    """The words of a text as a set (`words`, without stopwords and marketing filler): what two listings
    compare when word order does not matter ('basmati rice premium' says what 'Premium Basmati Rice' says)."""
    seg = segmenter or DEFAULT_SEGMENTER
    return {w for w in words(text, seg) if w not in seg.stopwords}


def has_cjk(text: str) -> bool:
    """Whether a text has CJK characters (ideographs, kana or hangul)."""
    return _CJK_ANY_RE.search(text) is not None


_CJK_ANY_RE = re.compile(rf"[{_CJK}]")
# Phrases never run across punctuation: "creative builds. Builds fine" is two segments; Chinese
# punctuation (full-width, no space after it) ends a segment too: "陶瓷磨芯，粗细可调"; so does a line break.
_SEGMENT_RE = re.compile(r"[,.](?=\s|$)|[;!?|:()\[\]{}\\\n]+|\s/\s|\s[-–—]\s|\s[-–—]|[-–—]\s"
                         r"|[，。、；：！？（）【】《》「」『』〈〉〔〕［］｛｝｜…·]+")


def phrases(text: str, max_n: int = 3, *, segmenter: Segmenter | None = None) -> set[str]:
    """Content phrases of 1..max_n words (`words`, joined by spaces) that neither start nor end with a
    stopword, marketing filler or a Chinese word shorter than `SegmenterParams.min_chars`."""
    seg = segmenter or DEFAULT_SEGMENTER
    found: set[str] = set()
    for segment in _SEGMENT_RE.split(text):
        found |= _segment_phrases(words(segment, seg), max_n, seg)
    return found


def _segment_phrases(toks: list[str], max_n: int, seg: Segmenter) -> set[str]:
    found: set[str] = set()
    stop, short = seg.stopwords, seg.params.min_chars
    for n in range(1, max_n + 1):
        for i in range(len(toks) - n + 1):
            gram = toks[i : i + n]
            first, last = gram[0], gram[-1]
            if first in stop or last in stop:
                continue
            if n == 1 and len(first) < 2 and not _CJK_RE.match(first):
                continue
            if (len(first) < short and _CJK_RE.match(first)) or (len(last) < short and _CJK_RE.match(last)):
                continue
            found.add(" ".join(gram))
    return found


def model_codes(text: str) -> set[str]:
    """Model numbers and SKUs in a text, normalized (upper case, no hyphens) for exact matching."""
    codes = {m.replace("-", "").upper() for m in _CODE_RE.findall(text)}
    # Units such as "500ML" or "24V" are attributes, not model numbers.
    return {c for c in codes if len(c) >= 4 and not re.fullmatch(r"\d+(ML|MM|CM|KG|GB|TB|MB|MAH|W|V|L|G|OZ|IN|FT|PCS|PC|HZ|P|K|X\d+)", c)}


def maximal(phrase_set: Iterable[str]) -> list[str]:
    """Drop phrases contained in a longer phrase of the same set, longest first."""
    ordered = sorted(set(phrase_set), key=lambda p: (-len(p.split()), p))
    kept: list[str] = []
    for p in ordered:
        if not any(f" {p} " in f" {k} " for k in kept):
            kept.append(p)
    return kept
