"""Names: simplification, width, spaces, middle dots, placeholders, pinyin with surname readings."""

from __future__ import annotations

import pytest

from transforms.standardise.names import standardise_name


@pytest.mark.parametrize("raw, name, pinyin, initials", [
    ("张三", "张三", "zhang san", "zs"),
    ("吕布", "吕布", "lv bu", "lb"),
    ("李娜", "李娜", "li na", "ln"),
])
def test_valid_names(raw, name, pinyin, initials):
    assert standardise_name(raw) == (name, "valid", pinyin, initials, ())


@pytest.mark.parametrize("raw, name, repair", [
    ("張學友", "张学友", "traditional_to_simplified"),
    ("歐陽鋒", "欧阳锋", "traditional_to_simplified"),
    ("  王　小明 ", "王小明", "whitespace"),
    ("王 小 明", "王小明", "whitespace"),
    ("ＡＢＣ", "ABC", "full_width"),
    ("阿依古丽•买买提", "阿依古丽·买买提", "middle_dot"),
    ("阿依古丽.买买提", "阿依古丽·买买提", "middle_dot"),
    ("阿依古丽．买买提", "阿依古丽·买买提", "full_width"),
    ("阿依古丽‧买买提", "阿依古丽·买买提", "middle_dot"),
    ("阿依古丽・买买提", "阿依古丽·买买提", "middle_dot"),
    ("阿依古丽 · 买买提", "阿依古丽·买买提", "whitespace"),
    ("扎西\u200b顿珠", "扎西顿珠", "invisible_characters"),
])
def test_repaired_names(raw, name, repair):
    result = standardise_name(raw)
    assert result.name == name
    assert result.status == "repaired"
    assert repair in result.repairs


@pytest.mark.parametrize("raw, pinyin", [
    ("单雄信", "shan xiong xin"), ("曾国藩", "zeng guo fan"), ("解缙", "xie jin"), ("仇英", "qiu ying"),
    ("区志强", "ou zhi qiang"), ("查良镛", "zha liang yong"), ("朴树", "piao shu"), ("盖聪", "ge cong"),
    ("尉迟恭", "yu chi gong"), ("万俟卨", "mo qi xie"), ("长孙无忌", "zhang sun wu ji"), ("单于平", "chan yu ping"),
    ("欧阳修", "ou yang xiu"), ("司马光", "si ma guang"), ("诸葛亮", "zhu ge liang"), ("上官婉儿", "shang guan wan er"),
    ("乐嘉", "yue jia"), ("翟天临", "zhai tian lin"), ("覃雪", "qin xue"), ("缪斯", "miao si"),
])
def test_surname_readings(raw, pinyin):
    assert standardise_name(raw).pinyin == pinyin


def test_a_polyphonic_character_reads_as_a_surname_only_in_first_place():
    # 单 is shan as a surname, dan elsewhere
    assert standardise_name("王单").pinyin == "wang dan"


def test_names_with_a_middle_dot_have_no_surname_reading():
    assert standardise_name("单·买买提").pinyin == "dan mai mai ti"


def test_initials_follow_the_syllables():
    assert standardise_name("欧阳娜娜").initials == "oynn"
    assert standardise_name("阿依古丽·买买提").initials == "ayglmmt"


def test_latin_letters_are_kept_in_pinyin():
    result = standardise_name("Anna 李")
    assert result.name == "Anna李"
    assert result.pinyin == "anna li"


@pytest.mark.parametrize("raw", [None, "", "  ", "\u3000", "不详", "未知", "无", "NULL", "-", "???"])
def test_missing_names(raw):
    result = standardise_name(raw)
    assert result.name is None and result.status == "missing"


@pytest.mark.parametrize("raw", ["123", "·", "..", "#@!", "１２３"])
def test_malformed_names(raw):
    result = standardise_name(raw)
    assert result.name is None and result.status == "malformed"


def test_traditional_and_simplified_spellings_meet():
    assert standardise_name("孫七").name == standardise_name("孙七").name
    assert standardise_name("孫七").pinyin == standardise_name("孙七").pinyin
