"""Which source columns feed which canonical listing fields: detected by common names or given explicitly."""

from __future__ import annotations

import re
from typing import Callable

from diffscan.catalog.report import name_list, visible
from diffscan.errors import MappingError

CANONICAL_FIELDS = (
    "listing_id",
    "title",
    "description",
    "category_path",
    "brand",
    "price",
    "rating",
    "review_count",
    "sales",
    "shop",
    "url",
)


_FIELD_ALIASES = {"category": "category_path", "id": "listing_id"}
# English names, then the simplified Chinese of Taobao/Tmall/JD/Pinduoduo exports, then a few traditional ones.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "listing_id": ("listing_id", "id", "uniq_id", "product_id", "item_id", "sku", "asin", "index",
                   "宝贝id", "商品id", "商品编号", "宝贝编号", "商品编码", "商品货号", "货号", "sku编码", "编号", "商品編號"),
    "title": ("title", "product_title", "product_name", "item_name", "item_title", "listing_title", "name", "product",
              "宝贝标题", "商品标题", "商品名称", "宝贝名称", "商品名", "产品名称", "标题", "名称", "商品名稱", "標題", "名稱"),
    "description": (
        "description", "product_description", "long_description", "desc", "body_html", "body",
        "details", "product_details", "about", "about_product", "about_this_item",
        "描述", "详情", "商品描述", "宝贝描述", "商品详情", "宝贝详情", "产品描述", "詳情", "商品詳情",
    ),
    "brand": ("brand", "brand_name", "manufacturer", "maker", "vendor", "品牌", "品牌名称", "品牌名"),
    "price": ("price", "sale_price", "current_price", "selling_price", "final_price", "discounted_price", "amount",
              # What a shopper pays first: after coupons, promotion, the current price, the list price.
              "到手价", "券后价", "促销价", "现价", "售价", "价格", "一口价", "商品价格", "单价", "售價", "價格"),
    "rating": (
        "rating", "average_review_rating", "average_rating", "avg_rating", "review_rating", "stars",
        "rating_value", "product_rating", "评分", "商品评分", "宝贝评分", "評分",
    ),
    "review_count": (
        "review_count", "reviews_count", "number_of_reviews", "num_reviews", "review_counts",
        "ratings_count", "rating_count", "number_of_ratings", "num_ratings", "reviews",
        "评价数", "评论数", "累计评价", "评价人数", "评价数量", "评论数量", "累计评论", "評價數", "評論數",
    ),
    # Units sold, exact names only: "sales rank" or "units per pack" are not sales.
    "sales": (
        "sales", "units_sold", "unit_sales", "sold", "total_sales", "monthly_sales", "sales_volume",
        "sales_count", "number_sold", "num_sold", "quantity_sold", "sold_count", "sold_quantity",
        "monthly_sold", "recent_sales", "orders", "order_count", "number_of_orders", "num_orders",
        "purchases", "purchase_count", "bought", "bought_in_past_month", "bought_past_month",
        "销量", "月销量", "月销", "总销量", "累计销量", "销售量", "付款人数", "已售", "已售件数",
        "成交量", "购买人数", "收货人数", "30天销量", "銷量", "月銷量",
    ),
    # The store a listing sells in: on Taobao/Tmall/JD many shops resell one brand.
    "shop": ("shop", "shop_name", "store", "store_name", "seller", "seller_name", "merchant", "merchant_name",
             "店铺", "店铺名称", "店铺名", "店名", "卖家", "卖家昵称", "商家", "商家名称", "掌柜", "店鋪", "店鋪名稱", "賣家"),
    "url": ("url", "product_url", "link", "product_link", "page_url", "href",
            "链接", "商品链接", "宝贝链接", "商品地址", "宝贝地址", "网址", "連結", "商品連結"),
}  # fmt: skip


_CATEGORY_PATH_NAMES = (
    "category_path", "categories", "breadcrumb", "breadcrumbs", "amazon_category_and_sub_category",
    "category_tree", "product_category_tree", "product_category",
    "类目", "商品类目", "宝贝类目", "分类", "商品分类", "类目路径", "所属类目", "类别", "類目", "分類", "類別",
    "category", "category_name",
)  # fmt: skip


# Named level columns from the top; a "type" level only counts below a sub-category (BigBasket).
_CATEGORY_CHAIN = (
    ("department", "main_category", "top_category", "division"),
    ("category", "category_name"),
    ("sub_category", "subcat", "sub_category_name"),
    ("sub_sub_category", "subsubcat"),
    ("type", "product_type", "item_type"),
)


_NUMBERED_LEVEL = re.compile(r"^(?:category|cat|categorylevel|catlevel|level|lvl)(\d+)(?:name)?$")
# 一级类目, 二级类目, ... (first-level category, second-level, ...)
_CHINESE_LEVEL = re.compile(r"^([一二三四五六])级(?:类目|分类)(?:名称)?$")
_CHINESE_DIGITS = "一二三四五六"


def _norm(name: str) -> str:
    """Name key that ignores case, spaces, underscores and punctuation: ``Product Name`` -> ``productname``."""
    return re.sub(r"[\W_]+", "", name.casefold())


def detect_mapping(columns: list[str]) -> dict[str, str]:
    """Map canonical fields to source columns by common names; multi-level categories join with commas."""
    return {f: ",".join(cols) for f, cols in _detect_sources(list(columns), taken=set()).items()}


def _detect_sources(
    columns: list[str], taken: set[str], fields: tuple[str, ...] = CANONICAL_FIELDS
) -> dict[str, list[str]]:
    """Source columns per field for ``fields``, never reusing a column in ``taken`` or across fields."""
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(_norm(column), column)
    used = set(taken)

    def pick(names: tuple[str, ...]) -> str | None:
        for name in names:
            column = by_key.get(_norm(name))
            if column is not None and column not in used:
                return column
        return None

    sources: dict[str, list[str]] = {}
    for name in fields:
        if name == "category_path":
            continue
        column = pick(_SYNONYMS[name])
        if column is not None:
            sources[name] = [column]
            used.add(column)
    if "category_path" in fields:
        levels = _detect_category_columns(columns, used, pick)
        if levels:
            sources["category_path"] = levels
    return {name: sources[name] for name in fields if name in sources}


def _detect_category_columns(
    columns: list[str], used: set[str], pick: Callable[[tuple[str, ...]], str | None]
) -> list[str]:
    """Category source columns: a path column, else numbered levels, else a named chain, else ``category``."""
    path_column = pick(_CATEGORY_PATH_NAMES[:-2])
    if path_column:
        return [path_column]
    numbered = sorted(
        ((int(m.group(1)), c) for c in columns if c not in used and (m := _NUMBERED_LEVEL.match(_norm(c)))),
    ) or sorted(
        (_CHINESE_DIGITS.index(m.group(1)), c) for c in columns
        if c not in used and (m := _CHINESE_LEVEL.match(_norm(c)))
    )
    if len(numbered) >= 2:
        return [c for _, c in numbered]
    chain = [pick(names) for names in _CATEGORY_CHAIN]
    if chain[4] and not chain[2]:
        chain[4] = None
    levels = [c for c in chain if c]
    if len(levels) >= 2:
        return levels
    single = pick(_CATEGORY_PATH_NAMES[-2:])
    return [single] if single else []


def _canonical_field(name: str, source: str) -> str:
    """Canonical field for a user-given name (``category`` and ``id`` accepted), else MappingError."""
    key = name.strip().lower()
    key = _FIELD_ALIASES.get(key, key)
    if key not in CANONICAL_FIELDS:
        known = ", ".join(CANONICAL_FIELDS)
        raise MappingError(f"unknown field '{visible(name)}' in {source}; fields are: {known} (or category, id).",
                           parameter="mapping")
    return key


def parse_mapping(items: list[str]) -> dict[str, str]:
    """Parse ``FIELD=COLUMN`` items of a column mapping (``category=cat1,cat2`` for levels; ``-`` disables
    a field), as front ends take them."""
    mapping: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise MappingError(f"a column mapping item is FIELD=COLUMN (e.g. title=product_name), got '{visible(item)}'.",
                               parameter="mapping")
        field_name = _canonical_field(name, f"the column mapping item '{visible(item)}'")
        mapping[field_name] = ",".join(part.strip() for part in value.split(",")) if value.strip() else ""
    return mapping


def resolve_mapping(columns: list[str], mapping: dict[str, str] | None, path: str) -> dict[str, list[str]]:
    """Explicit mapping first (validated against the columns), then automatic detection for the rest."""
    explicit: dict[str, list[str]] = {}
    disabled: set[str] = set()
    for name, value in (mapping or {}).items():
        field_name = _canonical_field(name, "the column mapping")
        value = (value or "").strip()
        if value in ("", "-"):
            disabled.add(field_name)
            continue
        explicit[field_name] = _explicit_columns(field_name, value, columns, path)
    taken = {c for cols in explicit.values() for c in cols}
    remaining = tuple(f for f in CANONICAL_FIELDS if f not in explicit and f not in disabled)
    detected = _detect_sources(columns, taken, remaining)
    return {f: (explicit.get(f) or detected[f]) for f in CANONICAL_FIELDS if f in explicit or f in detected}


def _explicit_columns(field_name: str, value: str, columns: list[str], path: str) -> list[str]:
    """Columns named in an explicit mapping value (a comma list only for category_path)."""
    whole = _find_column(value, columns)
    if whole is not None:
        return [whole]
    names = [part.strip() for part in value.split(",") if part.strip()]
    if len(names) > 1 and field_name != "category_path":
        raise MappingError(f"{field_name} takes one column, got '{visible(value)}'; only category can take several levels.",
                           parameter="mapping")
    found = []
    for name in names:
        column = _find_column(name, columns)
        if column is None:
            available = name_list(columns)
            raise MappingError(
                f"column '{visible(name)}' (mapped to {field_name}) is not in {path}; available columns: {available}.",
                parameter="mapping",
            )
        found.append(column)
    return found


def _find_column(name: str, columns: list[str]) -> str | None:
    """The column called ``name``, or the only one equal to it ignoring case, spaces and underscores."""
    if name in columns:
        return name
    matches = [c for c in columns if _norm(c) == _norm(name)]
    return matches[0] if len(matches) == 1 else None
