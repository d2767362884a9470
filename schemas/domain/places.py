"""Place codes: PIN place-of-registration codes and the provincial units of both schemes.

Sources:
- PIN place codes (``PPP``): DESIGN.md §4, after the PIN structure rules of the Ministry of
  Public Security (Decree 137/2015/NĐ-CP Art. 13 and Circular 59/2021/TT-BCA): province codes
  001-096, and country codes 101-295 for births registered abroad.
- VN-63: the 63 provincial units in force until 30 June 2025 (two-digit codes of Decision
  124/2004/QĐ-TTg, the same numbers as the PIN province codes without the leading 0).
- VN-34: the 34 provincial units in force since 1 July 2025 (Resolution 202/2025/QH15 on the
  rearrangement of provincial administrative units; codes per the administrative unit code list of
  Decision 19/2025/QĐ-TTg).

PIN prefixes are frozen history: a PIN keeps the code of the province where the birth was
registered, and PINs did not change in the 2025 merger. Never derive a current province from a
PIN; ``VN63_TO_VN34`` is for addresses, not for PINs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Final

PIN_PROVINCE_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "001": "Hà Nội",
        "002": "Hà Giang",
        "004": "Cao Bằng",
        "006": "Bắc Kạn",
        "008": "Tuyên Quang",
        "010": "Lào Cai",
        "011": "Điện Biên",
        "012": "Lai Châu",
        "014": "Sơn La",
        "015": "Yên Bái",
        "017": "Hòa Bình",
        "019": "Thái Nguyên",
        "020": "Lạng Sơn",
        "022": "Quảng Ninh",
        "024": "Bắc Giang",
        "025": "Phú Thọ",
        "026": "Vĩnh Phúc",
        "027": "Bắc Ninh",
        "030": "Hải Dương",
        "031": "Hải Phòng",
        "033": "Hưng Yên",
        "034": "Thái Bình",
        "035": "Hà Nam",
        "036": "Nam Định",
        "037": "Ninh Bình",
        "038": "Thanh Hóa",
        "040": "Nghệ An",
        "042": "Hà Tĩnh",
        "044": "Quảng Bình",
        "045": "Quảng Trị",
        "046": "Thừa Thiên Huế",
        "048": "Đà Nẵng",
        "049": "Quảng Nam",
        "051": "Quảng Ngãi",
        "052": "Bình Định",
        "054": "Phú Yên",
        "056": "Khánh Hòa",
        "058": "Ninh Thuận",
        "060": "Bình Thuận",
        "062": "Kon Tum",
        "064": "Gia Lai",
        "066": "Đắk Lắk",
        "067": "Đắk Nông",
        "068": "Lâm Đồng",
        "070": "Bình Phước",
        "072": "Tây Ninh",
        "074": "Bình Dương",
        "075": "Đồng Nai",
        "077": "Bà Rịa-Vũng Tàu",
        "079": "TP Hồ Chí Minh",
        "080": "Long An",
        "082": "Tiền Giang",
        "083": "Bến Tre",
        "084": "Trà Vinh",
        "086": "Vĩnh Long",
        "087": "Đồng Tháp",
        "089": "An Giang",
        "091": "Kiên Giang",
        "092": "Cần Thơ",
        "093": "Hậu Giang",
        "094": "Sóc Trăng",
        "095": "Bạc Liêu",
        "096": "Cà Mau",
    }
)
"""PIN place codes of the 63 pre-2025 provinces: three-digit code -> province name."""

PIN_COUNTRY_CODE_MIN: Final = 101
"""Lowest PIN place code for a birth registered abroad (a country code)."""
PIN_COUNTRY_CODE_MAX: Final = 295
"""Highest PIN place code for a birth registered abroad (a country code)."""

PIN_PLACE_CODES: Final[frozenset[str]] = frozenset(PIN_PROVINCE_CODES) | frozenset(
    f"{code:03d}" for code in range(PIN_COUNTRY_CODE_MIN, PIN_COUNTRY_CODE_MAX + 1)
)
"""Every valid PIN place code: the 63 province codes and the country codes 101-295."""


def is_pin_place_code(code: str) -> bool:
    """Whether ``code`` is a valid three-digit PIN place code (province or country)."""
    return code in PIN_PLACE_CODES


VN63_PROVINCES: Final[Mapping[str, str]] = MappingProxyType(
    {code[1:]: name for code, name in PIN_PROVINCE_CODES.items()}
)
"""The 63 provincial units before 1 July 2025: two-digit code -> name."""

VN34_PROVINCES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "01": "Hà Nội",
        "04": "Cao Bằng",
        "08": "Tuyên Quang",
        "11": "Điện Biên",
        "12": "Lai Châu",
        "14": "Sơn La",
        "15": "Lào Cai",
        "19": "Thái Nguyên",
        "20": "Lạng Sơn",
        "22": "Quảng Ninh",
        "24": "Bắc Ninh",
        "25": "Phú Thọ",
        "31": "Hải Phòng",
        "33": "Hưng Yên",
        "37": "Ninh Bình",
        "38": "Thanh Hóa",
        "40": "Nghệ An",
        "42": "Hà Tĩnh",
        "44": "Quảng Trị",
        "46": "Huế",
        "48": "Đà Nẵng",
        "51": "Quảng Ngãi",
        "52": "Gia Lai",
        "56": "Khánh Hòa",
        "66": "Đắk Lắk",
        "68": "Lâm Đồng",
        "75": "Đồng Nai",
        "79": "TP Hồ Chí Minh",
        "80": "Tây Ninh",
        "82": "Đồng Tháp",
        "86": "Vĩnh Long",
        "91": "An Giang",
        "92": "Cần Thơ",
        "96": "Cà Mau",
    }
)
"""The 34 provincial units since 1 July 2025: two-digit code -> name."""

VN63_TO_VN34: Final[Mapping[str, str]] = MappingProxyType(
    {
        # Unchanged.
        "01": "01",  # Hà Nội
        "04": "04",  # Cao Bằng
        "11": "11",  # Điện Biên
        "12": "12",  # Lai Châu
        "14": "14",  # Sơn La
        "20": "20",  # Lạng Sơn
        "22": "22",  # Quảng Ninh
        "38": "38",  # Thanh Hóa
        "40": "40",  # Nghệ An
        "42": "42",  # Hà Tĩnh
        "46": "46",  # Thừa Thiên Huế -> Huế
        # Merged: old code -> the code of the new province it became part of.
        "02": "08",  # Hà Giang -> Tuyên Quang
        "08": "08",  # Tuyên Quang
        "10": "15",  # Lào Cai -> Lào Cai (the code of Yên Bái)
        "15": "15",  # Yên Bái -> Lào Cai
        "06": "19",  # Bắc Kạn -> Thái Nguyên
        "19": "19",  # Thái Nguyên
        "17": "25",  # Hòa Bình -> Phú Thọ
        "25": "25",  # Phú Thọ
        "26": "25",  # Vĩnh Phúc -> Phú Thọ
        "24": "24",  # Bắc Giang -> Bắc Ninh (the code of Bắc Giang)
        "27": "24",  # Bắc Ninh
        "30": "31",  # Hải Dương -> Hải Phòng
        "31": "31",  # Hải Phòng
        "33": "33",  # Hưng Yên
        "34": "33",  # Thái Bình -> Hưng Yên
        "35": "37",  # Hà Nam -> Ninh Bình
        "36": "37",  # Nam Định -> Ninh Bình
        "37": "37",  # Ninh Bình
        "44": "44",  # Quảng Bình -> Quảng Trị (the code of Quảng Bình)
        "45": "44",  # Quảng Trị
        "48": "48",  # Đà Nẵng
        "49": "48",  # Quảng Nam -> Đà Nẵng
        "51": "51",  # Quảng Ngãi
        "62": "51",  # Kon Tum -> Quảng Ngãi
        "52": "52",  # Bình Định -> Gia Lai (the code of Bình Định)
        "64": "52",  # Gia Lai
        "56": "56",  # Khánh Hòa
        "58": "56",  # Ninh Thuận -> Khánh Hòa
        "54": "66",  # Phú Yên -> Đắk Lắk
        "66": "66",  # Đắk Lắk
        "60": "68",  # Bình Thuận -> Lâm Đồng
        "67": "68",  # Đắk Nông -> Lâm Đồng
        "68": "68",  # Lâm Đồng
        "70": "75",  # Bình Phước -> Đồng Nai
        "75": "75",  # Đồng Nai
        "74": "79",  # Bình Dương -> TP Hồ Chí Minh
        "77": "79",  # Bà Rịa-Vũng Tàu -> TP Hồ Chí Minh
        "79": "79",  # TP Hồ Chí Minh
        "72": "80",  # Tây Ninh -> Tây Ninh (the code of Long An)
        "80": "80",  # Long An -> Tây Ninh
        "82": "82",  # Tiền Giang -> Đồng Tháp (the code of Tiền Giang)
        "87": "82",  # Đồng Tháp
        "83": "86",  # Bến Tre -> Vĩnh Long
        "84": "86",  # Trà Vinh -> Vĩnh Long
        "86": "86",  # Vĩnh Long
        "89": "91",  # An Giang -> An Giang (the code of Kiên Giang)
        "91": "91",  # Kiên Giang -> An Giang
        "92": "92",  # Cần Thơ
        "93": "92",  # Hậu Giang -> Cần Thơ
        "94": "92",  # Sóc Trăng -> Cần Thơ
        "95": "96",  # Bạc Liêu -> Cà Mau
        "96": "96",  # Cà Mau
    }
)
"""Which VN-34 province each VN-63 province became (all or most of) part of on 1 July 2025.

For addresses only, and at province level only: the communes were rearranged and renumbered at
the same time, so a commune-level address needs the commune table, not this map.
"""

SCHEME_VN63: Final = "VN-63"
"""Administrative-unit scheme in force before 1 July 2025 (63 provinces, with districts)."""
SCHEME_VN34: Final = "VN-34"
"""Administrative-unit scheme in force since 1 July 2025 (34 provinces, no district level)."""
SCHEME_CUTOVER: Final = date(2025, 7, 1)
"""First day of the VN-34 scheme."""
SCHEMES: Final[frozenset[str]] = frozenset((SCHEME_VN63, SCHEME_VN34))
"""The known administrative-unit schemes."""


def scheme_for(day: date) -> str:
    """The administrative-unit scheme in force on ``day``: ``VN-63`` or ``VN-34``."""
    return SCHEME_VN34 if day >= SCHEME_CUTOVER else SCHEME_VN63
