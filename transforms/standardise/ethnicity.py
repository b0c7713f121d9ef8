"""Ethnicity (民族) as the full GB 3304 name, e.g. `汉族`, from names, short names or 2-digit codes.

Statuses: `valid`, `repaired` (a short name or a code was expanded), `unrecognised` (kept as
written, cleaned), `missing`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from .status import MISSING, REPAIRED, UNRECOGNISED, VALID
from .text import compact, standardiser

STATUSES = (VALID, REPAIRED, UNRECOGNISED, MISSING)

# GB 3304-1991 order: the position is the 2-digit code.
GB3304 = (
    "汉族 蒙古族 回族 藏族 维吾尔族 苗族 彝族 壮族 布依族 朝鲜族 满族 侗族 瑶族 白族 土家族 哈尼族 哈萨克族 傣族 "
    "黎族 傈僳族 佤族 畲族 高山族 拉祜族 水族 东乡族 纳西族 景颇族 柯尔克孜族 土族 达斡尔族 仫佬族 羌族 布朗族 "
    "撒拉族 毛南族 仡佬族 锡伯族 阿昌族 普米族 塔吉克族 怒族 乌孜别克族 俄罗斯族 鄂温克族 德昂族 保安族 裕固族 "
    "京族 塔塔尔族 独龙族 鄂伦春族 赫哲族 门巴族 珞巴族 基诺族"
).split()


class EthnicityResult(NamedTuple):
    """The ethnicity's full name (or the cleaned text when unrecognised) and the status."""

    ethnicity: str | None
    status: str


@lru_cache(maxsize=1)
def _lookup() -> dict[str, str]:
    table = {name: name for name in GB3304}
    table.update({name.removesuffix("族"): name for name in GB3304 if len(name.removesuffix("族")) >= 1})
    table.update({f"{code:02d}": name for code, name in enumerate(GB3304, start=1)})
    table.update({"汉人": "汉族", "维族": "维吾尔族", "蒙族": "蒙古族"})
    return table


@standardiser(missing=EthnicityResult(None, MISSING), on_error=EthnicityResult(None, UNRECOGNISED))
def standardise_ethnicity(text: str) -> EthnicityResult:
    """Read one ethnicity value; never raises."""
    cleaned = compact(text)
    name = _lookup().get(cleaned)
    if name is None:
        return EthnicityResult(cleaned, UNRECOGNISED)
    return EthnicityResult(name, VALID if name == cleaned else REPAIRED)
