"""Product attributes stated in listing text: material, size, quantity, colour, audience, use, feature.

Vocabularies map the many ways sellers say a thing ("BPA-free", "bpa free", "无BPA") to one canonical
value, and regexes read sizes and quantities ("750ml", "1.0 L", "Pack of 6", "500毫升"). Attributes are
what niches are made of (material x use x size x audience) and what USPs and table stakes are about.
Chinese and other text without spaces is matched by substring, Latin text on word boundaries. Chinese
forms map to the English canonical values ("不锈钢" and "stainless steel" are both
`material:stainless steel`); claims common on Chinese marketplaces with no English form here yet (功效
such as 补水, 保湿, 控油; skin types; 套装) get English canonical values too, so keys read the same in
every language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from diffscan.core.text import normalize

# CJK ideographs, kana and hangul (the same ranges text.tokens cuts into bigrams).
CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# A number may follow a CJK character directly ("精华液50ml", "装30片"), not a Latin letter or digit.
_NO_WORD_BEFORE = rf"(?<![^\W{CJK_CHARS}])(?<![.,])"

KINDS = ("material", "size", "quantity", "colour", "audience", "use", "feature")

# canonical value -> surface forms (lower case; Latin forms also match with a plural "s"/"es").
MATERIAL = {
    "stainless steel": ["stainless steel", "18/8 steel", "18/10 steel", "不锈钢"],
    "steel": ["steel", "钢"],
    "bamboo": ["bamboo", "竹"],
    "glass": ["glass", "borosilicate", "玻璃"],
    "silicone": ["silicone", "silicon", "硅胶"],
    "plastic": ["plastic", "塑料"],
    "wood": ["wood", "wooden", "pine", "oak", "beech", "walnut", "木质", "木制", "实木", "原木"],
    "cotton": ["cotton", "棉"],
    "leather": ["leather", "faux leather", "pu leather", "皮革", "真皮"],
    "ceramic": ["ceramic", "porcelain", "stoneware", "陶瓷", "瓷"],
    "titanium": ["titanium", "钛"],
    "aluminium": ["aluminium", "aluminum", "铝"],
    "copper": ["copper", "铜"],
    "brass": ["brass", "黄铜"],
    "cast iron": ["cast iron", "铸铁"],
    "cork": ["cork", "软木"],
    "jute": ["jute"],
    "wool": ["wool", "merino", "羊毛"],
    "felt": ["felt"],
    "foam": ["foam", "memory foam", "泡沫", "记忆棉"],
    "rubber": ["rubber", "natural rubber", "橡胶"],
    "latex": ["latex", "乳胶"],
    "polyester": ["polyester", "涤纶"],
    "nylon": ["nylon", "尼龙"],
    "linen": ["linen", "亚麻"],
    "silk": ["silk", "丝绸", "真丝", "蚕丝"],
    "paper": ["paper", "cardboard", "纸"],
    "metal": ["metal", "金属"],
    "tpu": ["tpu"],
    "tpe": ["tpe"],
    "pvc": ["pvc"],
    "acrylic": ["acrylic", "亚克力"],
    "melamine": ["melamine"],
    "resin": ["resin", "树脂"],
    "marble": ["marble", "大理石"],
    "fabric": ["fabric", "canvas", "布"],
    "plush": ["plush", "毛绒"],
    "vinyl": ["vinyl"],
    "wheat straw": ["wheat straw"],
    "charcoal": ["charcoal", "activated charcoal", "活性炭"],
}

COLOUR = {
    "black": ["black", "黑色"],
    "white": ["white", "白色"],
    "red": ["red", "红色", "正红", "大红"],
    "blue": ["blue", "蓝色"],
    "navy": ["navy", "navy blue", "藏青色", "藏蓝"],
    "green": ["green", "sage green", "绿色"],
    "yellow": ["yellow", "黄色"],
    "orange": ["orange", "橙色"],
    "purple": ["purple", "violet", "lilac", "lavender", "紫色"],
    "pink": ["pink", "粉色", "粉红色", "玫红", "玫瑰色"],
    "grey": ["grey", "gray", "stone grey", "charcoal grey", "灰色"],
    "brown": ["brown", "棕色", "咖啡色"],
    "beige": ["beige", "ivory", "米色", "卡其色", "裸色"],
    "gold": ["gold", "golden", "金色", "香槟色"],
    "silver": ["silver", "银色"],
    "clear": ["clear", "transparent", "frosted clear", "透明"],
    "multicolour": ["multicolour", "multicolor", "multi colour", "multi color", "assorted colour",
                    "assorted color", "rainbow", "彩色"],
    "teal": ["teal", "turquoise"],
    "olive": ["olive green"],
    "maroon": ["maroon", "burgundy", "酒红"],
}
# A colour word followed by one of these names a food or a flavour, not a colour ("black pepper").
_NOT_A_COLOUR_AFTER = frozenset(
    """pepper peppercorn peppercorns tea sugar rice chilli chillies chili chilies gram bean beans lentil
    lentils dal salt vinegar wine grape grapes apple apples peas cardamom olive olives onion onions
    capsicum juice flavour flavor peel coffee chocolate forest label sesame cabbage seed seeds moong poha
    pasta bread mustard oil quinoa raisin raisins marmalade squash sauce lemon bull""".split()
)

AUDIENCE = {
    "kids": ["kids", "kid", "children", "child", "childrens", "children's", "kid's", "儿童", "孩子", "小孩"],
    "toddlers": ["toddler", "toddlers", "幼儿"],
    "baby": ["baby", "babies", "infant", "newborn", "婴儿", "宝宝"],
    "boys": ["boys", "boy", "男孩"],
    "girls": ["girls", "girl", "女孩"],
    "men": ["men", "mens", "men's", "male", "gents", "男士", "男款", "男生", "男性"],
    "women": ["women", "womens", "women's", "ladies", "woman", "female", "女士", "女款", "女生", "女性"],
    "pregnant women": ["孕妇", "孕期", "孕妈"],
    "adults": ["adult", "adults", "成人"],
    "seniors": ["senior", "seniors", "elderly", "老人", "中老年"],
    "teens": ["teen", "teens", "teenager", "teenagers"],
    "dogs": ["dog", "dogs", "puppy", "puppies", "狗", "犬"],
    "cats": ["cat", "cats", "kitten", "kittens", "猫"],
    "left-handed": ["left handed", "lefty", "left hand", "左手"],
    "sensitive skin": ["sensitive skin", "敏感肌", "敏感皮肤"],
    "oily skin": ["oily skin", "油皮", "油性皮肤", "油性肌肤"],
    "dry skin": ["dry skin", "干皮", "干性皮肤", "干性肌肤"],
    "combination skin": ["混合皮", "混合肌", "混合性皮肤", "混合性肌肤"],
    "curly hair": ["curly hair"],
    "diabetic": ["diabetic", "diabetic friendly", "diabetes"],
    "beginners": ["beginner", "beginners", "初学者"],
    "professionals": ["professional", "professionals", "专业"],
    "collectors": ["collector", "collectors", "collectible", "collectable"],
}

USE = {
    "travel": ["travel", "travelling", "traveling", "旅行", "旅游"],
    "hiking": ["hiking", "trekking", "徒步"],
    "camping": ["camping", "campsite", "露营"],
    "outdoor": ["outdoor", "outdoors", "户外"],
    "gym": ["gym", "fitness", "workout", "exercise", "健身"],
    "yoga": ["yoga", "瑜伽"],
    "sports": ["sport", "sports", "运动"],
    "running": ["running", "jogging", "跑步"],
    "cycling": ["cycling", "bike", "bicycle", "骑行"],
    "swimming": ["swimming", "pool", "游泳"],
    "beach": ["beach", "沙滩"],
    "fishing": ["fishing", "钓鱼"],
    "office": ["office", "desk", "办公"],
    "school": ["school", "student", "students", "学生", "学校"],
    "home": ["home", "household", "家用"],
    "kitchen": ["kitchen", "cooking", "厨房"],
    "baking": ["baking", "bakery", "烘焙"],
    "bathroom": ["bathroom", "bath", "shower", "浴室"],
    "car": ["car", "vehicle", "车载"],
    "garden": ["garden", "gardening", "花园"],
    "party": ["party", "parties", "派对"],
    "birthday": ["birthday", "生日"],
    "christmas": ["christmas", "xmas", "圣诞"],
    "wedding": ["wedding", "婚礼"],
    "gift": ["gift", "gifts", "present", "礼物", "礼品", "礼盒", "送礼"],
    "makeup removal": ["卸妆"],
    "cleaning": ["cleaning", "cleaner", "清洁"],
    "laundry": ["laundry", "washing clothes", "洗衣"],
    "pooja": ["pooja", "puja"],
    "breakfast": ["breakfast", "早餐"],
    "snacking": ["snack", "snacks", "零食"],
    "cosplay": ["cosplay", "costume", "fancy dress"],
    "crafts": ["craft", "crafts", "arts and crafts", "diy", "手工艺"],
}

FEATURE = {
    "waterproof": ["waterproof", "water proof", "water resistant", "防水"],
    "leak proof": ["leak proof", "leakproof", "防漏"],
    "insulated": ["insulated", "vacuum insulated", "double wall", "thermal", "保温", "保冷"],
    "bpa free": ["bpa free", "无bpa", "不含bpa"],
    "non slip": ["non slip", "anti slip", "non skid", "防滑"],
    "rechargeable": ["rechargeable", "usb rechargeable", "usb c rechargeable", "可充电", "充电"],
    "wireless": ["wireless", "cordless", "无线"],
    "collapsible": ["collapsible", "foldable", "folding", "folds flat", "可折叠", "折叠"],
    "portable": ["portable", "compact", "便携"],
    "adjustable": ["adjustable", "可调"],
    "dishwasher safe": ["dishwasher safe", "洗碗机"],
    "microwave safe": ["microwave safe", "可微波"],
    "organic": ["organic", "有机"],
    "vegan": ["vegan", "plant based", "纯素"],
    "gluten free": ["gluten free", "无麸质"],
    "sugar free": ["sugar free", "no added sugar", "无糖"],
    "natural": ["natural", "100% natural", "all natural", "天然"],
    "eco friendly": ["eco friendly", "sustainable", "plastic free", "zero waste", "环保"],
    "biodegradable": ["biodegradable", "compostable", "可降解"],
    "reusable": ["reusable", "可重复使用"],
    "handmade": ["handmade", "hand made", "handcrafted", "手工"],
    "non toxic": ["non toxic", "无毒"],
    "fragrance free": ["fragrance free", "unscented", "无香"],
    "alcohol free": ["无酒精"],
    "paraben free": ["paraben free"],
    "sulfate free": ["sulfate free", "sulphate free"],
    "antibacterial": ["antibacterial", "anti bacterial", "germ protection", "抗菌"],
    "hypoallergenic": ["hypoallergenic"],
    "shockproof": ["shockproof", "shock proof", "drop protection", "防摔"],
    "led": ["led"],
    "solar": ["solar", "太阳能"],
    "magnetic": ["magnetic", "磁"],
    "electric": ["electric", "electronic", "电动"],
    "manual": ["manual", "hand crank", "手动"],
    "smart": ["smart", "app controlled", "智能"],
    "educational": ["educational", "stem", "learning", "益智"],
    "interactive": ["interactive", "互动"],
    "remote control": ["remote control", "rc", "radio controlled", "遥控"],
    "light up": ["light up", "lights and sounds", "glow in the dark", "发光"],
    "personalised": ["personalised", "personalized", "custom", "customised", "customized", "定制"],
    "ayurvedic": ["ayurvedic", "herbal", "草本"],
    "low fat": ["low fat", "fat free", "低脂"],
    "high protein": ["high protein", "protein rich", "高蛋白"],
    "whole grain": ["whole grain", "wholegrain", "whole wheat", "全麦"],
    "instant": ["instant", "ready to eat", "ready to cook", "速食"],
    "frozen": ["frozen", "冷冻"],
    "premium": ["premium", "luxury", "高端"],
    "scented": ["scented", "fragrance", "fragrant"],
    "refillable": ["refillable", "replaceable heads", "replaceable"],
    "filter": ["filter", "filtered", "water filter", "过滤"],
    "self cleaning": ["self cleaning", "uv c", "自清洁"],
    "keeps warm": ["keep warm", "keeps warm"],
    "thick": ["extra thick", "thick"],
    "extra long": ["extra long"],
    "lightweight": ["lightweight", "ultralight", "轻便", "轻量"],
    # Skin and hair care claims (功效) of Chinese listings.
    "hydrating": ["补水"],
    "moisturizing": ["保湿", "补湿"],
    "whitening": ["美白", "亮白", "透白"],
    "brightening": ["提亮", "亮肤"],
    "oil control": ["控油"],
    "sun protection": ["防晒"],
    "anti wrinkle": ["抗皱", "去皱", "淡纹"],
    "anti ageing": ["抗老", "抗衰", "抗初老"],
    "firming": ["紧致"],
    "anti acne": ["祛痘", "去痘", "痘痘"],
    "exfoliating": ["去角质"],
    "spot fading": ["淡斑", "祛斑"],
    "repairing": ["修护", "修复"],
    "soothing": ["舒缓"],
    "nourishing": ["滋润", "滋养"],
    "pore minimizing": ["毛孔"],
    "blackhead removal": ["黑头"],
    "concealing": ["遮瑕"],
    "long lasting": ["持久", "长效"],
    "anti dandruff": ["去屑"],
    "anti hair loss": ["防脱"],
}

# Sizes said in words; numeric sizes ("750ml") come from a regex below.
SIZE_WORDS = {
    "mini": ["mini", "迷你"],
    "small": ["small", "小号"],
    "medium": ["medium", "中号"],
    "large": ["large", "大号"],
    "extra large": ["extra large", "xl", "xxl", "特大"],
    "jumbo": ["jumbo", "giant", "oversized"],
    "king size": ["king size"],
    "a4": ["a4"],
    "a5": ["a5"],
    "travel size": ["travel size", "travel sized", "旅行装", "小样"],
    "family size": ["family size", "family pack"],
}

# Quantities said in words; counted ones ("6 pack", "3件套") come from a regex below.
QUANTITY_WORDS = {
    "set": ["套装", "套盒", "套组"],
}

VOCABULARIES: dict[str, dict[str, list[str]]] = {
    "size": SIZE_WORDS, "quantity": QUANTITY_WORDS, "material": MATERIAL, "colour": COLOUR, "audience": AUDIENCE,
    "use": USE, "feature": FEATURE,
}

# Sizes: a number and a unit. Units are canonicalized so "1.0 L", "1l" and "1 litre" agree.
_UNITS = {
    "ml": "ml", "millilitre": "ml", "milliliter": "ml", "毫升": "ml",
    "l": "l", "ltr": "l", "litre": "l", "liter": "l", "升": "l", "cl": "cl",
    "g": "g", "gm": "g", "gms": "g", "gram": "g", "gramme": "g", "克": "g",
    "kg": "kg", "kgs": "kg", "kilogram": "kg", "千克": "kg", "公斤": "kg",
    "mg": "mg", "oz": "oz", "fl oz": "fl oz", "lb": "lb", "lbs": "lb", "pound": "lb",
    "mm": "mm", "毫米": "mm", "cm": "cm", "厘米": "cm", "inch": "inch", '"': "inch", "英寸": "inch",
    "ft": "ft", "feet": "ft", "foot": "ft", "metre": "m", "meter": "m", "米": "m",
    "gsm": "gsm", "mah": "mah", "w": "w", "watt": "w", "v": "v", "volt": "v", "gb": "gb", "tb": "tb",
    "lumen": "lumen", "lm": "lumen",
}
_SPACED_UNITS = {"fl oz", "inch", "ft", "lumen"}
_NUMBER = r"(\d+(?:[.,]\d+)?)"
_SIZE_RE = re.compile(
    rf"{_NO_WORD_BEFORE}{_NUMBER}\s*("
    + "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True))
    + r")(?:e?s)?(?![a-z0-9])"
)
# Quantities: "pack of 6", "6 pack", "100 pieces", "2 person", "4个".
_QUANTITY_UNITS = {
    "pack": "pack", "pk": "pack", "packs": "pack", "pcs": "pieces", "pc": "pieces", "piece": "pieces",
    "pieces": "pieces", "count": "count", "ct": "count", "sheets": "sheets", "sheet": "sheets",
    "pages": "pages", "page": "pages", "tablets": "tablets", "capsules": "capsules", "bags": "bags",
    "sachets": "sachets", "rolls": "rolls", "pairs": "pairs", "pair": "pairs", "person": "person",
    "people": "person", "seater": "person", "cups": "cups", "slots": "slots", "compartments": "compartments",
    "tier": "tier", "steps": "steps", "lids": "lids", "heads": "heads",
    "个": "pieces", "只": "pieces", "件": "pieces", "支": "pieces", "片": "pieces", "包": "pack",
    "袋": "bags", "瓶": "bottles", "套": "sets", "盒": "boxes", "双": "pairs",
}
_QUANTITY_RE = re.compile(
    r"(?:(?<![\w.])(?:pack|set|box|bundle|case) of (\d+)(?![\w.]))"
    r"|(?:" + _NO_WORD_BEFORE + r"(\d+)\s*(?:x\s*)?("
    + "|".join(sorted((re.escape(u) for u in _QUANTITY_UNITS), key=len, reverse=True))
    + r")(?![a-z]))"
)
# Chinese numerals before a counter: "两支装", "三件套" (2 to 99; "一件" is mostly "一件代发", dropshipping).
_CJK_DIGITS = {"两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CJK_COUNTERS = [u for u in _QUANTITY_UNITS if not u.isascii()]
_CJK_QUANTITY_RE = re.compile(
    r"(?<![一二两三四五六七八九十百千万\d])([二两三四五六七八九]?十[二三四五六七八九]?|[两二三四五六七八九])("
    + "|".join(re.escape(u) for u in _CJK_COUNTERS) + ")"
)
_AGE_RE = re.compile(
    r"(?<![\w])(?:ages?|aged|for ages)\s*(\d+)\s*(?:(\+|plus)|(?:-|to|–)\s*(\d+))?(?:\s*(?:years?|yrs?))?"
    r"|(?<![\w.])(\d+)\s*(?:(\+)|(?:-|to|–)\s*(\d+))?\s*(?:years?|yrs?)(?:\s*old)?(?:\s*(\+|plus))?"
    r"|(\d+)\s*岁(?:以上)?"
)


@dataclass(frozen=True)
class Attribute:
    """One attribute a listing states: its kind, canonical value and the words the listing used."""

    kind: str
    value: str
    text: str

    @property
    def key(self) -> str:
        """`kind:value`, the identity used to compare listings (different wordings, same key)."""
        return f"{self.kind}:{self.value}"


def _is_cjk(form: str) -> bool:
    """Whether a vocabulary form has CJK characters (matched by substring, not on word boundaries)."""
    return bool(re.search(f"[{CJK_CHARS}]", form))


@lru_cache(maxsize=1)
def _vocabulary_tables() -> tuple[dict[str, tuple[str, str]], int, re.Pattern]:
    """Latin forms {words: (kind, value)} with their longest length in words, and one CJK regex."""
    latin: dict[str, tuple[str, str]] = {}
    cjk: dict[str, tuple[str, str]] = {}
    for kind, vocabulary in VOCABULARIES.items():
        for value, forms in vocabulary.items():
            for form in forms:
                if _is_cjk(form):
                    cjk.setdefault(_clean(form), (kind, value))
                else:
                    latin.setdefault(" ".join(_LATIN_WORD_RE.findall(_clean(form))), (kind, value))
    longest = max(len(f.split()) for f in latin)
    cjk_re = re.compile("(" + "|".join(re.escape(f) for f in sorted(cjk, key=len, reverse=True)) + ")")
    return {**latin, **cjk}, longest, cjk_re


_LATIN_WORD_RE = re.compile(r"[a-z0-9%/'][a-z0-9%/'.]*(?<![.'])")


def _clean(text: str) -> str:
    """Normalized text for matching: lower case, hyphens and underscores between letters become spaces."""
    text = normalize(text)
    text = re.sub(r"(?<=[^\W\d_])[-_]|[-_](?=[^\W\d_])", " ", text)
    return re.sub(r"\s+", " ", text)


def _number(text: str) -> str:
    """'1,5' -> '1.5', '1.0' -> '1', '0500' -> '500'."""
    value = float(text.replace(",", "."))
    return f"{value:g}"


def _sizes(text: str) -> list[Attribute]:
    out = []
    for m in _SIZE_RE.finditer(text):
        unit = _UNITS.get(m.group(2))
        if unit is None:
            continue
        joiner = " " if unit in _SPACED_UNITS else ""
        out.append(Attribute("size", f"{_number(m.group(1))}{joiner}{unit}", m.group(0).strip()))
    return out


def _quantities(text: str) -> list[Attribute]:
    out = []
    for m in _QUANTITY_RE.finditer(text):
        if m.group(1):
            out.append(Attribute("quantity", f"{int(m.group(1))} pack", m.group(0)))
        else:
            unit = _QUANTITY_UNITS[m.group(3)]
            out.append(Attribute("quantity", f"{int(m.group(2))} {unit}", m.group(0).strip()))
    return out


def _cjk_number(numeral: str) -> int:
    """'两' -> 2, '十二' -> 12, '二十' -> 20, '二十四' -> 24."""
    if "十" not in numeral:
        return _CJK_DIGITS[numeral]
    tens, _, ones = numeral.partition("十")
    return (_CJK_DIGITS[tens] if tens else 1) * 10 + (_CJK_DIGITS[ones] if ones else 0)


def _cjk_quantities(text: str) -> list[Attribute]:
    return [Attribute("quantity", f"{_cjk_number(m.group(1))} {_QUANTITY_UNITS[m.group(2)]}", m.group(0))
            for m in _CJK_QUANTITY_RE.finditer(text)]


def _ages(text: str) -> list[Attribute]:
    out = []
    for m in _AGE_RE.finditer(text):
        g = m.groups()
        if g[0] is not None:
            low, plus, high = g[0], g[1], g[2]
        elif g[3] is not None:
            low, plus, high = g[3], g[4] or g[6], g[5]
        else:
            low, plus, high = g[7], "+" if "以上" in m.group(0) else None, None
        value = f"ages {int(low)}-{int(high)}" if high else f"ages {int(low)}{'+' if plus else ''}"
        out.append(Attribute("audience", value, m.group(0).strip()))
    return out


def _vocabulary(text: str) -> list[Attribute]:
    """Vocabulary forms in a cleaned text: longest Latin word n-gram first (plural 's' optional), CJK by substring."""
    lookup, longest, cjk_re = _vocabulary_tables()
    words = _LATIN_WORD_RE.findall(text)
    out: list[Attribute] = []
    i = 0
    while i < len(words):
        hit = _match_at(words, i, lookup, longest)
        if hit is None:
            i += 1
            continue
        n, kind, value = hit
        out.append(Attribute(kind, value, " ".join(words[i:i + n])))
        i += n
    for m in cjk_re.finditer(text):
        kind, value = lookup[m.group(1)]
        out.append(Attribute(kind, value, m.group(0)))
    return out


def _match_at(words: list[str], i: int, lookup: dict[str, tuple[str, str]], longest: int) -> tuple[int, str, str] | None:
    """The longest vocabulary form starting at word i, as (length in words, kind, value)."""
    top = min(longest, len(words) - i) if words[i] in _multi_word_starts() else 1
    for n in range(top, 0, -1):
        gram = words[i:i + n]
        for last in _singulars(gram[-1]):
            found = lookup.get(" ".join(gram[:-1] + [last]))
            if found is None:
                continue
            if found[0] == "colour" and i + n < len(words) and words[i + n] in _NOT_A_COLOUR_AFTER:
                return None
            return n, found[0], found[1]
    return None


@lru_cache(maxsize=1)
def _multi_word_starts() -> frozenset[str]:
    """First words of the Latin forms of two or more words: only there is a longer match worth trying."""
    lookup, _, _ = _vocabulary_tables()
    return frozenset(f.split()[0] for f in lookup if " " in f)


def _singulars(word: str) -> tuple[str, ...]:
    """A word and its forms without a plural or possessive ending."""
    if word.endswith("'s"):
        return (word, word[:-2])
    if word.endswith("es"):
        return (word, word[:-1], word[:-2])
    if word.endswith("s"):
        return (word, word[:-1])
    return (word,)


def extract_attributes(text: str) -> list[Attribute]:
    """Attributes a text states, one per key (the first wording found), in kind order."""
    return list(_extract(text or ""))


# "male to female adapter", "male/female plug": the ends of a connector, not who the product is for.
_CONNECTOR_RE = re.compile(r"(?<![a-z])(?:fe)?male ?(?:to|/)? ?(?:fe)?male(?![a-z])")


@lru_cache(maxsize=65536)
def _extract(text: str) -> tuple[Attribute, ...]:
    """extract_attributes, remembered: catalogs repeat texts, and several analyses read the same ones."""
    clean = _clean(text)
    found: dict[str, Attribute] = {}
    words_only = _CONNECTOR_RE.sub(" ", clean)
    for attr in _sizes(clean) + _quantities(clean) + _cjk_quantities(clean) + _ages(clean) + _vocabulary(words_only):
        found.setdefault(attr.key, attr)
    _drop_implied(found)
    order = {k: i for i, k in enumerate(KINDS)}
    return tuple(sorted(found.values(), key=lambda a: (order[a.kind], a.value)))


def _drop_implied(found: dict[str, Attribute]) -> None:
    """'stainless steel' implies 'steel': keep the specific one only when the general one is its part."""
    for specific, general in (("material:stainless steel", "material:steel"), ("colour:navy", "colour:blue"),
                              ("material:cast iron", "material:metal")):
        if specific in found and general in found and found[general].text in found[specific].text:
            del found[general]


def attribute_keys(text: str) -> set[str]:
    """The `kind:value` keys of a text's attributes."""
    return {a.key for a in extract_attributes(text)}


def attributes_of(texts: Iterable[str]) -> list[dict[str, str]]:
    """For each text, its attributes as {key: wording}; the table niches and USPs are computed from."""
    return [{a.key: a.text for a in extract_attributes(t)} for t in texts]


def describe(key: str) -> str:
    """A key as a reader would say it: 'material:bamboo' -> 'bamboo', 'audience:kids' -> 'for kids'."""
    kind, _, value = key.partition(":")
    if kind == "audience" and not value.startswith("ages"):
        return f"for {value}"
    if kind == "use":
        return f"for {value}"
    return value


# Sizes in one unit per dimension, so "1l" and "1000ml" (or "1kg" and "1000g") are one size.
_BASE_UNITS = {"l": ("ml", 1000.0), "cl": ("ml", 10.0), "kg": ("g", 1000.0), "mg": ("g", 0.001),
               "cm": ("mm", 10.0), "m": ("mm", 1000.0), "tb": ("gb", 1000.0)}
_SIZE_VALUE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(.+)$")


def _base_size(value: str) -> str:
    """'1l' -> '1000ml', '2.5kg' -> '2500g', '750ml' stays."""
    m = _SIZE_VALUE_RE.match(value)
    if m is None or m.group(2) not in _BASE_UNITS:
        return value
    unit, factor = _BASE_UNITS[m.group(2)]
    return f"{float(m.group(1)) * factor:g}{unit}"


def identifying(text: str, kinds: Iterable[str] = ("size", "quantity", "colour")) -> dict[str, frozenset[str]]:
    """The values a text states of each of `kinds`: the attributes that tell one product from another
    (500ml is not 750ml). Sizes are in one unit per dimension; kinds the text does not state are left out."""
    wanted = set(kinds)
    out: dict[str, set[str]] = {}
    for a in extract_attributes(text):
        if a.kind in wanted and not a.value.startswith("ages"):
            out.setdefault(a.kind, set()).add(_base_size(a.value) if a.kind == "size" else a.value)
    return {kind: frozenset(values) for kind, values in out.items()}
