"""Synthetic administrative units: every place exists under both schemes, VN-63 and VN-34.

The 63 provinces and the 34 they became are real (`schemes.domain`); districts and communes are
synthetic but shaped like the real code lists: district codes run 001, 002, ... and commune codes
00001, 00004, 00007, ... across the provinces in code order, and a province has more districts the
more people live there. On 1 July 2025 the districts disappeared and communes were merged (about
three into one); a merged VN-34 commune keeps the code of the first commune it absorbed, as most
did in the real reorganisation. A *location* (an index into `Places`) is one VN-63 commune; it
renders under whichever scheme is in force on a date, so one household keeps one place across the
cutover.

The table is built from a fixed seed: it is the same whatever the generator's seed.
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Final

from producers.generator.records import below, between
from schemas.domain import PIN_PROVINCE_CODES, VN34_PROVINCES, VN63_PROVINCES, VN63_TO_VN34

TABLE_SEED: Final = 20250701

# Population in thousands (GSO, about 2023), by VN-63 province code: who lives where.
PROVINCE_POPULATION: Final[dict[str, int]] = {
    "01": 8436, "02": 900, "04": 545, "06": 325, "08": 800, "10": 770, "11": 640, "12": 480,
    "14": 1300, "15": 840, "17": 875, "19": 1330, "20": 800, "22": 1380, "24": 1900,
    "25": 1510, "26": 1200, "27": 1490, "30": 1950, "31": 2100, "33": 1290, "34": 1880,
    "35": 880, "36": 1880, "37": 1010, "38": 3740, "40": 3440, "42": 1330, "44": 910,
    "45": 650, "46": 1170, "48": 1230, "49": 1520, "51": 1250, "52": 1500, "54": 880,
    "56": 1250, "58": 600, "60": 1250, "62": 580, "64": 1590, "66": 1920, "67": 670,
    "68": 1330, "70": 1020, "72": 1190, "74": 2760, "75": 3250, "77": 1180, "79": 9460,
    "80": 1730, "82": 1790, "83": 1300, "84": 1020, "86": 1030, "87": 1600, "89": 1910,
    "91": 1750, "92": 1250, "93": 730, "94": 1200, "95": 920, "96": 1200,
}  # fmt: skip

# Where people move to for work and study (weights), besides moves within their own province.
MIGRATION_TARGETS: Final[dict[str, int]] = {
    "79": 30, "01": 20, "74": 12, "75": 6, "27": 5, "31": 3, "48": 3, "80": 2, "24": 2,
    "19": 2, "26": 2, "92": 2, "56": 1, "22": 1, "77": 1,
}  # fmt: skip

_STREETS: Final = (
    "Lê Lợi", "Trần Hưng Đạo", "Nguyễn Huệ", "Hai Bà Trưng", "Lý Thường Kiệt", "Quang Trung",
    "Hùng Vương", "Lê Duẩn", "Điện Biên Phủ", "Nguyễn Trãi", "Phan Chu Trinh", "Phan Bội Châu",
    "Ngô Quyền", "Lê Thánh Tông", "Bạch Đằng", "Nguyễn Văn Cừ", "Lạc Long Quân", "Võ Thị Sáu",
    "Cách Mạng Tháng Tám", "Trường Chinh", "Nguyễn Thị Minh Khai", "Tôn Đức Thắng",
    "Lê Hồng Phong", "Nguyễn Du", "Hoàng Diệu", "Phạm Văn Đồng", "Võ Văn Kiệt",
    "Nguyễn Đình Chiểu", "Lê Văn Sỹ", "Trần Phú", "Hoàng Hoa Thám", "Nguyễn Chí Thanh",
)  # fmt: skip
_HAMLET_WORDS: Final = ("Thôn", "Xóm", "Tổ dân phố")
_SOUTH_HAMLETS: Final = (
    "Ấp Bình Thạnh", "Ấp Tân Hòa", "Ấp Mỹ Lợi", "Ấp Long Hưng", "Ấp Phú Thọ", "Ấp An Lạc",
    "Ấp Hòa Bình", "Ấp Thạnh Phú", "Ấp Tân Lập", "Ấp Vĩnh Hòa",
)  # fmt: skip
_MOUNTAIN_HAMLETS: Final = (
    "Bản Na Hang", "Bản Pá Khoang", "Bản Lóng Luông", "Bản Nà Cà", "Bản Phiêng Lanh",
    "Bản Ta Cơ", "Bản Hua Nà", "Bản Co Mạ", "Bản Sín Chải", "Bản Lũng Cú",
)  # fmt: skip
_MOUNTAIN: Final = frozenset(("02", "04", "06", "10", "11", "12", "14", "15", "17", "20"))
_SOUTH_FROM: Final = 70


@dataclass(frozen=True, slots=True)
class _Province:
    code63: str
    first: int  # first location index
    count: int  # number of locations (communes)
    urban: int  # the first `urban` locations are in the provincial city


class Places:
    """The synthetic commune table under both schemes, and address helpers."""

    def __init__(self) -> None:
        rng = random.Random(TABLE_SEED)
        self.province63: list[str] = []
        self.unit63: list[dict[str, Any]] = []
        self.unit34: list[dict[str, Any]] = []
        self.province34: list[str] = []
        self._provinces: dict[str, _Province] = {}
        district_code = 0
        commune_code = 1
        for code63 in sorted(VN63_PROVINCES):
            code34 = VN63_TO_VN34[code63]
            first = len(self.unit63)
            districts = max(4, min(30, round(PROVINCE_POPULATION[code63] / 120)))
            urban = 0
            for district in range(districts):
                district_code += 1
                d3 = f"{district_code:03d}"
                communes = between(rng, 8, 20)
                merged_code = ""
                left_in_merge = 0
                for _ in range(communes):
                    c5 = f"{commune_code:05d}"
                    if left_in_merge == 0:
                        merged_code = c5
                        left_in_merge = between(rng, 2, 4)
                    left_in_merge -= 1
                    self.province63.append(code63)
                    self.province34.append(code34)
                    self.unit63.append(
                        {
                            "scheme": "VN-63",
                            "province_code": code63,
                            "district_code": d3,
                            "commune_code": c5,
                        }
                    )
                    self.unit34.append(
                        {
                            "scheme": "VN-34",
                            "province_code": code34,
                            "district_code": None,
                            "commune_code": merged_code,
                        }
                    )
                    commune_code += rng.choice((1, 2, 3, 3, 3))
                if district == 0:
                    urban = len(self.unit63) - first
            self._provinces[code63] = _Province(code63, first, len(self.unit63) - first, urban)
        codes = sorted(PROVINCE_POPULATION)
        self._province_codes = codes
        self._province_cum = list(accumulate(PROVINCE_POPULATION[c] for c in codes))
        targets = sorted(MIGRATION_TARGETS)
        self._target_codes = targets
        self._target_cum = list(accumulate(MIGRATION_TARGETS[c] for c in targets))

    def __len__(self) -> int:
        return len(self.unit63)

    def random_province(self, rng: random.Random) -> str:
        """A VN-63 province code, weighted by population."""
        cum = self._province_cum
        return self._province_codes[bisect(cum, rng.random() * cum[-1])]

    def migration_province(self, rng: random.Random, home: str) -> str:
        """Where someone from `home` moves: the same province half the time, else a magnet."""
        if rng.random() < 0.5:
            return home
        cum = self._target_cum
        return self._target_codes[bisect(cum, rng.random() * cum[-1])]

    def random_location(self, rng: random.Random, province: str) -> int:
        """A location (commune) in a VN-63 province; the provincial city is over-weighted."""
        p = self._provinces[province]
        if p.urban and rng.random() < 0.35:
            return p.first + below(rng, p.urban)
        return p.first + below(rng, p.count)

    def unit(self, location: int, vn34: bool) -> dict[str, Any]:
        """The administrative unit of a location under VN-34 (`vn34`) or VN-63. Do not mutate."""
        return self.unit34[location] if vn34 else self.unit63[location]

    def pin_place_code(self, location: int, vn34: bool) -> str:
        """The PIN place code of a birth registered at `location` under the scheme in force."""
        return "0" + (self.province34[location] if vn34 else self.province63[location])

    def province_name(self, location: int, vn34: bool) -> str:
        """The province's name under the scheme in force."""
        if vn34:
            return VN34_PROVINCES[self.province34[location]]
        return PIN_PROVINCE_CODES["0" + self.province63[location]]

    def is_urban(self, location: int) -> bool:
        """Whether the location is in its province's city."""
        p = self._provinces[self.province63[location]]
        return location - p.first < p.urban

    def street(self, rng: random.Random, location: int) -> str:
        """A street-level address: house and street in town, hamlet in the countryside."""
        code = self.province63[location]
        if self.is_urban(location) or rng.random() < 0.25:
            number = between(rng, 1, 350)
            street = _STREETS[below(rng, len(_STREETS))]
            if rng.random() < 0.3:
                return f"Số {number} ngõ {between(rng, 1, 200)} {street}"
            return f"{number} {street}"
        if code in _MOUNTAIN and rng.random() < 0.6:
            return _MOUNTAIN_HAMLETS[below(rng, len(_MOUNTAIN_HAMLETS))]
        if int(code) >= _SOUTH_FROM and rng.random() < 0.7:
            return _SOUTH_HAMLETS[below(rng, len(_SOUTH_HAMLETS))]
        return f"{_HAMLET_WORDS[below(rng, len(_HAMLET_WORDS))]} {between(rng, 1, 15)}"

    def place_of_birth(self, rng: random.Random, location: int, year: int, vn34: bool) -> str:
        """Place of birth as written on a birth certificate of that year."""
        province = self.province_name(location, vn34)
        draw = rng.random()
        if year < 1980 and draw < 0.7:
            return province
        if draw < 0.55:
            return f"Bệnh viện Đa khoa {province}"
        if draw < 0.75:
            return f"Bệnh viện Phụ sản {province}"
        if draw < 0.92:
            return f"Trạm Y tế xã, {province}"
        return province
