"""Chinese personal names: surnames weighted by frequency, given names, minority names, and name noise."""

from __future__ import annotations

import random
from functools import lru_cache

# Surnames with rough frequencies (per mille of the population, 2020 census order of magnitude).
SURNAMES: dict[str, float] = {
    "王": 71, "李": 70, "张": 68, "刘": 54, "陈": 46, "杨": 31, "黄": 22, "赵": 22, "吴": 20, "周": 19,
    "徐": 15, "孙": 14, "马": 13, "朱": 13, "胡": 12, "郭": 12, "何": 11, "林": 10, "高": 10, "罗": 9,
    "郑": 9, "梁": 8, "谢": 7, "宋": 7, "唐": 7, "许": 6, "韩": 6, "邓": 6, "冯": 6, "曹": 6,
    "彭": 5, "曾": 5, "肖": 5, "田": 5, "董": 5, "潘": 4, "袁": 4, "蔡": 4, "蒋": 4, "余": 4,
    "于": 4, "杜": 4, "叶": 4, "程": 4, "魏": 3, "苏": 3, "吕": 3, "丁": 3, "任": 3, "卢": 3,
    "姚": 3, "沈": 3, "钟": 3, "姜": 3, "崔": 3, "谭": 3, "陆": 3, "范": 2, "汪": 2, "廖": 2,
    "石": 2, "金": 2, "韦": 2, "贾": 2, "夏": 2, "付": 2, "方": 2, "邹": 2, "熊": 2, "白": 2,
    "孟": 2, "秦": 2, "邱": 2, "侯": 2, "江": 2, "尹": 2, "薛": 2, "闫": 2, "段": 2, "雷": 2,
    "龙": 1.5, "黎": 1.5, "史": 1.5, "陶": 1.5, "贺": 1.5, "毛": 1.5, "郝": 1.5, "顾": 1.5, "龚": 1.5, "邵": 1.5,
    "万": 1, "覃": 1, "武": 1, "钱": 1, "戴": 1, "严": 1, "莫": 1, "孔": 1, "向": 1, "常": 1,
    # Polyphonic surnames (read differently as surnames: 单 Shan, 解 Xie, 仇 Qiu, 区 Ou, 查 Zha, 曾 Zeng).
    "单": 0.6, "解": 0.4, "仇": 0.3, "区": 0.2, "查": 0.4, "盖": 0.2, "朴": 0.2, "缪": 0.3,
    # Two-character surnames.
    "欧阳": 0.6, "司马": 0.2, "诸葛": 0.15, "上官": 0.15, "司徒": 0.15, "东方": 0.1, "皇甫": 0.1, "慕容": 0.05,
}

MALE_CHARS = "伟强军磊勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆峰建国志海东林亮成晨博文睿泽轩浩然子豪振宏"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀英玲桂兰红梅琳燕萍雪莉婷颖倩欣悦瑶怡佳雨晴慧琪诗涵梓萱思彤妍蕾洁月"

# Uyghur names as written in Chinese, with the interpunct between personal and father's name.
UYGHUR_GIVEN = ("阿卜杜", "买买提", "艾力", "阿不都", "吐尔逊", "艾尔肯", "古丽", "阿依古丽", "热娜", "帕提古丽", "迪丽拜尔", "努尔")
UYGHUR_FATHER = ("热合曼", "艾买提", "阿不力克木", "吐尔洪", "玉素甫", "依明", "买合木提", "肉孜")
TIBETAN_NAMES = ("扎西多吉", "次仁卓玛", "格桑拉姆", "尼玛次仁", "达瓦", "央金", "索朗旺堆", "德吉卓嘎")
MINORITY_WITH_HAN_NAMES = {"回族": 6, "满族": 5, "壮族": 4, "土家族": 3, "苗族": 3, "畲族": 4}

# Homophones (same pinyin) that clerks type instead of the right character.
HOMOPHONES: dict[str, str] = {
    "伟": "玮", "明": "铭", "丽": "莉", "静": "婧", "华": "骅", "军": "君", "强": "墙", "红": "虹", "英": "瑛",
    "林": "琳", "杰": "洁", "涛": "滔", "斌": "彬", "峰": "锋", "霞": "侠", "燕": "艳", "萍": "平", "娟": "鹃",
    "建": "健", "国": "帼", "志": "智", "海": "嗨", "东": "冬", "亮": "靓", "成": "诚", "文": "雯", "宇": "雨",
    "芳": "方", "玲": "铃", "梅": "玫", "兰": "岚", "秀": "绣", "敏": "闽", "超": "潮", "勇": "永", "辉": "晖",
    "李": "理", "王": "汪", "张": "章", "刘": "柳", "陈": "程", "杨": "阳", "黄": "皇", "吴": "武", "周": "舟",
}


def pick_surname(rng: random.Random) -> str:
    """A surname drawn by frequency."""
    return rng.choices(_surname_list(), weights=_surname_weights())[0]


@lru_cache(maxsize=1)
def _surname_list() -> list[str]:
    return list(SURNAMES)


@lru_cache(maxsize=1)
def _surname_weights() -> list[float]:
    return list(SURNAMES.values())


def pick_given_name(rng: random.Random, gender: str) -> str:
    """A given name of one or two characters for the gender ('M'/'F')."""
    pool = MALE_CHARS if gender == "M" else FEMALE_CHARS
    if rng.random() < 0.22:
        return rng.choice(pool)
    return rng.choice(pool) + rng.choice(pool)


def han_name(rng: random.Random, gender: str, surname: str | None = None) -> str:
    """A full Han-style name, keeping a given surname (children take a parent's)."""
    return (surname or pick_surname(rng)) + pick_given_name(rng, gender)


def pick_ethnicity(rng: random.Random) -> str:
    """Ethnicity: mostly Han, some minorities."""
    roll = rng.random()
    if roll < 0.008:
        return "维吾尔族"
    if roll < 0.012:
        return "藏族"
    if roll < 0.05:
        groups = list(MINORITY_WITH_HAN_NAMES)
        return rng.choices(groups, weights=list(MINORITY_WITH_HAN_NAMES.values()))[0]
    return "汉族"


def minority_name(rng: random.Random, ethnicity: str, gender: str) -> str | None:
    """A name in the group's own tradition (middle dot for Uyghur names), or None for Han-style names."""
    if ethnicity == "维吾尔族":
        return f"{rng.choice(UYGHUR_GIVEN)}·{rng.choice(UYGHUR_FATHER)}"
    if ethnicity == "藏族":
        return rng.choice(TIBETAN_NAMES)
    return None


@lru_cache(maxsize=1)
def _to_traditional():
    import opencc

    return opencc.OpenCC("s2t")


def traditional(name: str) -> str:
    """The name written in traditional characters."""
    return _to_traditional().convert(name)


def homophone(rng: random.Random, name: str) -> str:
    """The name with one character replaced by a same-sounding one, or unchanged if none applies."""
    positions = [i for i, char in enumerate(name) if char in HOMOPHONES and i > 0]
    if not positions:
        return name
    i = rng.choice(positions)
    return name[:i] + HOMOPHONES[name[i]] + name[i + 1:]
