"""Personal names: simplified characters, no spaces, one middle dot, toneless pinyin and initials.

Statuses: `valid`, `repaired` (characters changed: traditional → simplified, full-width, spaces,
middle-dot variants), `missing` (empty or a placeholder such as 不详), `malformed` (no letters).
Pinyin uses the surname reading for polyphonic surnames (单 shan, 曾 zeng, …) and two-character
surnames (欧阳, 尉迟, …), which a dictionary reading would get wrong.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from .status import MALFORMED, MISSING, REPAIRED, VALID
from .text import Repairs, drop_junk, fold_width, remove_whitespace, standardiser

STATUSES = (VALID, REPAIRED, MISSING, MALFORMED)

MIDDLE_DOT = "·"
# Dots people type between the parts of Uygur, Tibetan and foreign names; NFKC has already turned
# the full-width ones into their half-width forms.
_DOT_VARIANTS = re.compile(r"[.·•‧・･∙⋅⸱ᐧ。﹒︒˙●◦]+")
_PLACEHOLDERS = frozenset({"不详", "未知", "无", "无名", "无名氏", "空", "null", "none", "nan", "n/a", "na", "unknown", "-", "?", "??", "???", "xxx", "某某"})

# Two-character surnames, with the reading where the dictionary's default reading is wrong.
COMPOUND_SURNAMES: dict[str, tuple[str, str] | None] = {
    "欧阳": None, "司马": None, "诸葛": None, "上官": None, "东方": None, "皇甫": None,
    "尉迟": ("yu", "chi"), "公孙": None, "慕容": None, "长孙": ("zhang", "sun"), "宇文": None,
    "司徒": None, "夏侯": None, "轩辕": None, "令狐": ("ling", "hu"), "钟离": None, "南宫": None,
    "西门": None, "独孤": None, "端木": None, "百里": None, "呼延": None, "万俟": ("mo", "qi"),
    "澹台": ("tan", "tai"), "公冶": None, "太史": None, "申屠": None, "闻人": None,
    "单于": ("chan", "yu"), "赫连": None, "拓跋": None, "第五": None, "司空": None, "东郭": None,
    "濮阳": None, "淳于": None, "仲孙": None, "左丘": None, "乐正": ("yue", "zheng"), "梁丘": None,
    "公羊": None, "谷梁": None, "闾丘": None, "亓官": ("qi", "guan"), "巫马": None, "司寇": None,
}

# Single-character surnames whose surname reading differs from the dictionary's first reading.
SURNAME_READINGS: dict[str, str] = {
    "单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao",
    "盖": "ge", "尉": "wei", "乐": "yue", "员": "yun", "繁": "po", "覃": "qin", "种": "chong",
    "翟": "zhai", "召": "shao", "缪": "miao", "谌": "chen", "秘": "bi", "宓": "mi", "隗": "wei",
    "句": "gou", "冼": "xian", "过": "guo", "蕃": "pi", "能": "nai", "眭": "sui", "牟": "mou",
    "粘": "nian", "蔚": "yu", "重": "chong", "便": "pian", "朝": "chao", "炅": "gui", "祭": "zhai",
    "柏": "bai", "藏": "zang", "莘": "shen", "沈": "shen", "折": "she", "华": "hua",
    "纪": "ji", "任": "ren", "薄": "bo", "万": "wan", "都": "du", "褚": "chu", "阚": "kan",
    "燕": "yan", "洗": "xian", "卜": "bu", "贾": "jia",
}


class NameResult(NamedTuple):
    """A cleaned name with its pinyin (space-separated syllables) and initials."""

    name: str | None
    status: str
    pinyin: str | None = None
    initials: str | None = None
    repairs: tuple[str, ...] = ()


_CONVERTER_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese with OpenCC's `t2s` configuration."""
    with _CONVERTER_LOCK:  # the converter is shared across pandas-UDF threads
        return _t2s().convert(text)


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def _unify_middle_dots(text: str) -> str:
    return _DOT_VARIANTS.sub(MIDDLE_DOT, text).strip(MIDDLE_DOT)


def clean_name(text: str) -> tuple[str, list[str]]:
    """Simplified, half-width, no whitespace, middle dots unified; returns the text and repair codes."""
    cleaned = Repairs(text)
    cleaned.apply(drop_junk, "invisible_characters")
    cleaned.apply(fold_width, "full_width")
    cleaned.apply(remove_whitespace, "whitespace")
    cleaned.apply(to_simplified, "traditional_to_simplified")
    cleaned.apply(_unify_middle_dots, "middle_dot")
    return cleaned.text, cleaned.codes


def _syllables(name: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    syllables: list[str] = []
    rest = name
    compound = name[:2]
    if MIDDLE_DOT in name:
        pass  # Uygur, Tibetan and foreign names: the parts are personal names, not a surname
    elif compound in COMPOUND_SURNAMES:
        syllables += list(COMPOUND_SURNAMES[compound] or lazy_pinyin(compound, style=Style.NORMAL))
        rest = name[2:]
    elif name[:1] in SURNAME_READINGS:
        syllables.append(SURNAME_READINGS[name[0]])
        rest = name[1:]
    for part in lazy_pinyin(rest, style=Style.NORMAL, errors=lambda chars: re.findall(r"[A-Za-z]+", chars)):
        syllables += re.findall(r"[a-z]+", part.lower())
    return syllables


def name_pinyin(name: str) -> tuple[str | None, str | None]:
    """Toneless pinyin (space-separated, lowercase) and initials of a cleaned name."""
    syllables = [s for s in _syllables(name) if s]
    if not syllables:
        return None, None
    return " ".join(syllables), "".join(s[0] for s in syllables)


@standardiser(missing=NameResult(None, MISSING), on_error=NameResult(None, MALFORMED, repairs=("unexpected_error",)))
def standardise_name(text: str) -> NameResult:
    """Clean one personal name and romanise it; never raises."""
    cleaned, repairs = clean_name(text)
    if cleaned.lower() in _PLACEHOLDERS:
        return NameResult(None, MISSING, repairs=(*repairs, "placeholder"))
    if not any(_is_letter(ch) for ch in cleaned):
        return NameResult(None, MALFORMED, repairs=tuple(repairs))
    pinyin, initials = name_pinyin(cleaned)
    return NameResult(cleaned, REPAIRED if repairs else VALID, pinyin, initials, tuple(repairs))
