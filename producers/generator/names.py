"""Vietnamese names and ethnic groups, with realistic frequencies.

Family names follow the published shares of the Kinh majority (Nguyễn about 38%, Trần, Lê, Phạm,
Hoàng/Huỳnh, Phan, Vũ/Võ, Đặng, Bùi, Đỗ, Hồ, Ngô, Dương, Lý, ...), with the southern and central
variants Huỳnh and Võ where they are common. Middle and given names depend on sex and on the
generation (Văn/Thị dominate before 1975 and fade after 2000). Ethnic minorities get their own
family names (Lò, Cầm and Quàng for the Thái, Giàng and Sùng for the Mông, Thạch and Danh for the
Khmer, Niê and Ksor in the Central Highlands, ...) and some their own naming patterns. The ethnic
mix of each province follows the 2019 census in broad strokes.

Every string is Unicode NFC (normalised at import, whatever the source file's form).
"""

from __future__ import annotations

import random
import unicodedata
from bisect import bisect
from collections.abc import Sequence
from itertools import accumulate
from typing import Final

MALE: Final = "MALE"
FEMALE: Final = "FEMALE"

KINH: Final = "Kinh"


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


class Weighted:
    """A weighted choice over strings, drawn with one `random()` call and a bisection."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, pairs: Sequence[tuple[str, float]]) -> None:
        if not pairs:
            raise ValueError("a weighted choice needs at least one item")
        self._items = tuple(_nfc(item) for item, _ in pairs)
        self._cum = tuple(accumulate(weight for _, weight in pairs))
        self._total = self._cum[-1]

    @classmethod
    def zipf(cls, items: Sequence[str], exponent: float = 0.8) -> Weighted:
        """Items in order of frequency, weighted 1/(rank^exponent)."""
        return cls([(item, 1.0 / (rank + 1) ** exponent) for rank, item in enumerate(items)])

    def pick(self, rng: random.Random) -> str:
        """One item, drawn by weight."""
        return self._items[bisect(self._cum, rng.random() * self._total)]

    @property
    def items(self) -> tuple[str, ...]:
        """Every item, in the order given."""
        return self._items


# --- Family names -----------------------------------------------------------------------------

KINH_FAMILY: Final = Weighted(
    [
        ("Nguyễn", 38.4),
        ("Trần", 11.0),
        ("Lê", 9.5),
        ("Phạm", 7.1),
        ("Hoàng", 5.1),  # Huỳnh in the centre and south, see family_name()
        ("Phan", 4.5),
        ("Vũ", 3.9),  # Võ in the centre and south
        ("Đặng", 2.1),
        ("Bùi", 2.0),
        ("Đỗ", 1.4),
        ("Hồ", 1.3),
        ("Ngô", 1.3),
        ("Dương", 1.0),
        ("Lý", 0.5),
        ("Đinh", 0.7),
        ("Trương", 0.7),
        ("Đào", 0.6),
        ("Đoàn", 0.5),
        ("Mai", 0.5),
        ("Trịnh", 0.5),
        ("Lâm", 0.4),
        ("Cao", 0.4),
        ("Lương", 0.4),
        ("Hà", 0.4),
        ("Tạ", 0.3),
        ("Lưu", 0.3),
        ("Tô", 0.2),
        ("Thái", 0.2),
        ("Chu", 0.2),
        ("Phùng", 0.2),
        ("Châu", 0.2),
        ("Vương", 0.2),
        ("Triệu", 0.2),
        ("Văn", 0.15),
        ("Kiều", 0.1),
        ("La", 0.1),
        ("Quách", 0.1),
        ("Tăng", 0.1),
        ("Lại", 0.1),
        ("Từ", 0.1),
        ("Nghiêm", 0.1),
        ("Tống", 0.1),
        ("Hứa", 0.1),
        ("Thân", 0.1),
        ("Kim", 0.1),
        ("Đồng", 0.1),
        ("Khúc", 0.05),
        ("Mạc", 0.05),
        ("Diệp", 0.05),
        ("Giáp", 0.05),
        ("Âu", 0.05),
        ("Khổng", 0.05),
        ("Ông", 0.05),
        ("Cù", 0.05),
        ("Bạch", 0.05),
        ("Lã", 0.05),
        ("Mẫn", 0.03),
    ]
)

_MINORITY_FAMILY: Final[dict[str, Weighted]] = {
    "Tày": Weighted.zipf(
        ["Hoàng", "Nông", "Lương", "Hà", "Vi", "Lý", "Đinh", "Ma", "Bế", "Triệu", "Lục", "Hứa"]
    ),
    "Nùng": Weighted.zipf(
        ["Hoàng", "Nông", "Lương", "Vi", "Lăng", "Chu", "Hứa", "Mông", "Lộc", "Đàm", "Lục", "Bế"]
    ),
    "Thái": Weighted.zipf(
        ["Lò", "Lường", "Quàng", "Cầm", "Vì", "Hà", "Lộc", "Tòng", "Điêu", "Lù", "Bạc", "Sầm"]
    ),
    "Mường": Weighted.zipf(["Bùi", "Đinh", "Quách", "Hà", "Xa", "Bạch", "Cao", "Trương"]),
    "Mông": Weighted.zipf(
        ["Giàng", "Sùng", "Thào", "Vàng", "Lý", "Hạng", "Vừ", "Mùa", "Lầu", "Ly", "Hầu", "Tráng"]
    ),
    "Dao": Weighted.zipf(["Triệu", "Bàn", "Lý", "Đặng", "Chảo", "Phùng", "Tẩn", "Dương"]),
    "Khmer": Weighted.zipf(["Thạch", "Danh", "Sơn", "Kim", "Lâm", "Lý", "Trịnh", "Châu"]),
    "Hoa": Weighted.zipf(
        ["Lâm", "Trương", "Lý", "Quách", "Mã", "Tăng", "Lưu", "Vương", "Châu", "Diệp", "Hứa"]
    ),
    "Gia Rai": Weighted.zipf(["Ksor", "Rơ Châm", "Siu", "Rah Lan", "Nay", "Kpă", "Rơ Mah"]),
    "Ê Đê": Weighted.zipf(["Niê", "Mlô", "Êban", "Ayun", "Byă", "Knul", "Buôn Yă"]),
    "Ba Na": Weighted.zipf(["Đinh", "Siu", "Y", "A"]),
    "Xơ Đăng": Weighted.zipf(["A", "Y", "Đinh"]),
    "Cơ Ho": Weighted.zipf(["K'", "Ka", "Cil", "Liêng", "Kră"]),
    "Chăm": Weighted.zipf(["Đàng", "Lưu", "Thành", "Quảng", "Bá", "Thiên", "Hán"]),
    "Sán Chay": Weighted.zipf(["Lâm", "Hoàng", "Trần", "Lưu", "Đặng"]),
    "Sán Dìu": Weighted.zipf(["Trương", "Lý", "Diệp", "Bàn", "Lưu"]),
    "Raglai": Weighted.zipf(["Pinăng", "Chamaléa", "Katơr", "Mấu"]),
    "Hrê": Weighted.zipf(["Đinh", "Phạm", "Huỳnh"]),
    "Bru-Vân Kiều": Weighted.zipf(["Hồ", "Lê", "Hồ Văn"]),
    "Cơ Tu": Weighted.zipf(["Bhling", "Alăng", "Zơ Râm", "Arất"]),
    "Giáy": Weighted.zipf(["Hoàng", "Lù", "Vàng", "Sần"]),
    "Khơ Mú": Weighted.zipf(["Lò", "Cụt", "Vi", "Lầu"]),
    "Hà Nhì": Weighted.zipf(["Lý", "Phu", "Chu", "Pờ"]),
    "Xtiêng": Weighted.zipf(["Điểu", "Thị"]),
    "Mnông": Weighted.zipf(["Điểu", "Y", "H'"]),
}

# --- Middle and given names, by sex and generation ---------------------------------------------
# Generations: 0 = born before 1975, 1 = 1975-1999, 2 = from 2000.

_MALE_MIDDLE: Final = (
    Weighted(
        [
            ("Văn", 55),
            ("Đức", 6),
            ("Hữu", 6),
            ("Đình", 5),
            ("Xuân", 4),
            ("Quang", 4),
            ("Công", 4),
            ("Ngọc", 3),
            ("Minh", 3),
            ("Thanh", 3),
            ("Bá", 2),
            ("Thế", 2),
            ("Trọng", 2),
            ("Duy", 1),
        ]
    ),
    Weighted(
        [
            ("Văn", 35),
            ("Minh", 8),
            ("Đức", 7),
            ("Quang", 6),
            ("Hữu", 5),
            ("Thanh", 5),
            ("Ngọc", 4),
            ("Đình", 4),
            ("Công", 4),
            ("Quốc", 4),
            ("Tuấn", 3),
            ("Hoàng", 3),
            ("Xuân", 3),
            ("Thành", 3),
            ("Anh", 2),
            ("Trung", 2),
        ]
    ),
    Weighted(
        [
            ("Minh", 14),
            ("Văn", 10),
            ("Gia", 10),
            ("Đức", 8),
            ("Quang", 6),
            ("Hoàng", 6),
            ("Bảo", 6),
            ("Anh", 5),
            ("Tuấn", 4),
            ("Đăng", 4),
            ("Nhật", 4),
            ("Quốc", 4),
            ("Duy", 4),
            ("Hữu", 3),
            ("Trung", 3),
            ("Thành", 3),
            ("Khánh", 3),
            ("Hải", 3),
            ("Phúc", 2),
        ]
    ),
)

_FEMALE_MIDDLE: Final = (
    Weighted(
        [
            ("Thị", 80),
            ("Ngọc", 4),
            ("Thu", 3),
            ("Kim", 3),
            ("Thanh", 3),
            ("Hồng", 2),
            ("Xuân", 2),
            ("Bích", 2),
            ("Minh", 1),
        ]
    ),
    Weighted(
        [
            ("Thị", 50),
            ("Ngọc", 8),
            ("Thu", 6),
            ("Thanh", 6),
            ("Hồng", 4),
            ("Kim", 4),
            ("Thùy", 4),
            ("Minh", 3),
            ("Phương", 3),
            ("Mai", 2),
            ("Hải", 2),
            ("Diệu", 2),
            ("Bích", 2),
            ("Khánh", 2),
            ("Mỹ", 2),
        ]
    ),
    Weighted(
        [
            ("Thị", 15),
            ("Ngọc", 12),
            ("Bảo", 8),
            ("Khánh", 7),
            ("Minh", 7),
            ("Phương", 5),
            ("Gia", 5),
            ("Thu", 4),
            ("Thanh", 4),
            ("Hà", 3),
            ("Mai", 3),
            ("Quỳnh", 3),
            ("Thảo", 3),
            ("Diệu", 3),
            ("Thùy", 3),
            ("An", 2),
            ("Tú", 2),
            ("Hoài", 2),
            ("Yến", 2),
            ("Kim", 2),
        ]
    ),
)

# fmt: off
_MALE_GIVEN: Final = (
    Weighted.zipf(
        [
            "Hùng", "Dũng", "Hải", "Minh", "Tuấn", "Thắng", "Bình", "Sơn", "Long", "Nam",
            "Cường", "Thành", "Quang", "Hòa", "Hưng", "Tâm", "Trung", "Lợi", "Phúc", "Tùng",
            "Chiến", "Thanh", "Vinh", "Lâm", "Toàn", "Hiếu", "Khánh", "Tiến", "Lộc", "Sang",
            "Tài", "Định", "Quý", "Đông", "Hậu", "Thịnh", "Việt", "Hiển", "Tư", "Năm", "Sáu",
            "Bảy", "Tám",
        ]
    ),
    Weighted.zipf(
        [
            "Tuấn", "Hùng", "Dũng", "Minh", "Hải", "Nam", "Long", "Huy", "Thắng", "Cường",
            "Đức", "Trung", "Sơn", "Hiếu", "Tùng", "Quân", "Phong", "Hoàng", "Duy", "Thành",
            "Vũ", "Khoa", "Tú", "Hưng", "Tài", "Phát", "Lộc", "Quý", "Vinh", "Việt", "Đạt",
            "Tín", "Nghĩa", "Thái", "Bảo", "Hậu",
        ]
    ),
    Weighted.zipf(
        [
            "Minh", "Khang", "Phúc", "An", "Bảo", "Huy", "Khôi", "Nam", "Đăng", "Duy", "Quân",
            "Long", "Hoàng", "Phong", "Kiên", "Khoa", "Thịnh", "Lâm", "Đức", "Hiếu", "Vinh",
            "Nhật", "Tùng", "Tuấn", "Trí", "Khải", "Thiện", "Tín", "Nguyên", "Hưng", "Sơn",
            "Vũ", "Thành", "Đạt", "Kiệt", "Lộc", "Tài", "Dương",
        ]
    ),
)

_FEMALE_GIVEN: Final = (
    Weighted.zipf(
        [
            "Lan", "Hương", "Hoa", "Mai", "Hằng", "Thủy", "Nga", "Hà", "Thu", "Hạnh", "Loan",
            "Dung", "Liên", "Phượng", "Tuyết", "Xuân", "Hồng", "Huệ", "Cúc", "Đào", "Lý",
            "Nhung", "Oanh", "Sen", "Tâm", "Thanh", "Vân", "Yến", "Bích", "Hiền", "Lụa", "Tư",
            "Sáu", "Bảy",
        ]
    ),
    Weighted.zipf(
        [
            "Hương", "Trang", "Linh", "Hằng", "Thảo", "Huyền", "Nga", "Lan", "Anh", "Phương",
            "Hà", "Thủy", "Ngọc", "Dung", "Hạnh", "Nhung", "Yến", "Vân", "Mai", "Hiền", "Loan",
            "Tuyết", "Quyên", "Giang", "Oanh", "Trinh", "Diễm", "Thúy", "Liên", "Nhàn", "Uyên",
        ]
    ),
    Weighted.zipf(
        [
            "Linh", "Anh", "Ngọc", "Trang", "Chi", "Vy", "Thảo", "My", "An", "Nhi", "Hân",
            "Ngân", "Quỳnh", "Hà", "Châu", "Trâm", "Uyên", "Yến", "Nhung", "Giang", "Mai",
            "Thư", "Khánh", "Hương", "Phương", "Diệp", "Tâm", "Như", "Hoa", "Vân", "Thy", "Ly",
        ]
    ),
)

# fmt: on

# Naming patterns of some minorities.
_MONG_MALE_GIVEN: Final = Weighted.zipf(
    ["Páo", "Súa", "Chứ", "Dình", "Sính", "Lử", "Pó", "Chá", "Tủa", "Nhìa", "Chớ", "Sử", "Tếnh"]
)
_MONG_FEMALE_GIVEN: Final = Weighted.zipf(
    ["Mỷ", "Dế", "Sua", "Mai", "Pà", "Chở", "Dua", "Sinh", "Xía", "Say", "Páy", "Mua", "Lia"]
)
_MONG_MALE_MIDDLE: Final = Weighted([("A", 70), ("Seo", 15), ("Mí", 10), ("Văn", 5)])
_MONG_FEMALE_MIDDLE: Final = Weighted([("Thị", 65), ("Mí", 25), ("Seo", 10)])
_KHMER_MALE_GIVEN: Final = Weighted.zipf(
    ["Sô Phát", "Sóc", "Sa Rươn", "Chanh", "Ết", "Rin", "Sang", "Sóc Kha", "Phol", "Vanh", "Chum"]
)
_KHMER_FEMALE_GIVEN: Final = Weighted.zipf(
    ["Sô Phi", "Sa Rinh", "Srey", "Sóc Thi", "Ny", "Chanh Thi", "Sa Ly", "Kim Thoa", "Rươl"]
)
_HIGHLAND_MALE_GIVEN: Final = Weighted.zipf(
    ["Y Bih", "Y Jut", "Y Ngông", "Y Moan", "Y Khuê", "Y Thanh", "Y Nuê", "Y Ly", "Y Blơk"]
)
_HIGHLAND_FEMALE_GIVEN: Final = Weighted.zipf(
    ["H'Hen", "H'Ngoan", "H'Bia", "H'Linh", "H'Mai", "H'Xíu", "H'Ben", "H'Yăm", "H'Nhi"]
)
_HIGHLAND: Final = frozenset(("Gia Rai", "Ê Đê"))

# --- Ethnic groups by province (VN-63 province codes) -----------------------------------------

_DEFAULT_ETHNIC: Final = Weighted([(KINH, 98.6), ("Hoa", 0.6), ("Mường", 0.4), ("Tày", 0.4)])
_ETHNIC_BY_PROVINCE: Final[dict[str, Weighted]] = {
    code: Weighted(pairs)
    for code, pairs in {
        "02": [("Mông", 33), ("Tày", 23), ("Dao", 15), (KINH, 13), ("Nùng", 10), ("Giáy", 6)],
        "04": [("Tày", 41), ("Nùng", 31), ("Mông", 10), ("Dao", 10), (KINH, 8)],
        "06": [("Tày", 52), ("Dao", 17), (KINH, 12), ("Nùng", 10), ("Mông", 9)],
        "08": [(KINH, 47), ("Tày", 25), ("Dao", 11), ("Sán Chay", 8), ("Mông", 2), ("Nùng", 7)],
        "10": [(KINH, 35), ("Mông", 25), ("Tày", 15), ("Dao", 14), ("Giáy", 5), ("Nùng", 6)],
        "11": [("Thái", 38), ("Mông", 35), (KINH, 19), ("Khơ Mú", 4), ("Dao", 4)],
        "12": [("Thái", 32), ("Mông", 25), (KINH, 16), ("Dao", 13), ("Hà Nhì", 7), ("Giáy", 7)],
        "14": [("Thái", 54), (KINH, 17), ("Mông", 17), ("Mường", 8), ("Khơ Mú", 4)],
        "15": [(KINH, 54), ("Tày", 18), ("Mông", 11), ("Dao", 10), ("Thái", 7)],
        "17": [("Mường", 63), (KINH, 28), ("Thái", 4), ("Tày", 3), ("Dao", 2)],
        "19": [(KINH, 72), ("Tày", 11), ("Nùng", 6), ("Sán Dìu", 4), ("Sán Chay", 4), ("Dao", 3)],
        "20": [("Nùng", 42), ("Tày", 35), (KINH, 17), ("Dao", 6)],
        "22": [(KINH, 88), ("Dao", 5), ("Tày", 4), ("Sán Dìu", 3)],
        "24": [(KINH, 88), ("Nùng", 5), ("Tày", 3), ("Sán Chay", 2), ("Sán Dìu", 2)],
        "25": [(KINH, 85), ("Mường", 13), ("Dao", 2)],
        "38": [(KINH, 84), ("Mường", 9), ("Thái", 7)],
        "40": [(KINH, 86), ("Thái", 11), ("Khơ Mú", 2), ("Mông", 1)],
        "44": [(KINH, 98), ("Bru-Vân Kiều", 2)],
        "45": [(KINH, 89), ("Bru-Vân Kiều", 11)],
        "49": [(KINH, 92), ("Cơ Tu", 5), ("Xơ Đăng", 3)],
        "51": [(KINH, 88), ("Hrê", 12)],
        "52": [(KINH, 98), ("Ba Na", 2)],
        "56": [(KINH, 95), ("Raglai", 5)],
        "58": [(KINH, 77), ("Chăm", 12), ("Raglai", 11)],
        "60": [(KINH, 95), ("Chăm", 3), ("Raglai", 2)],
        "62": [(KINH, 46), ("Xơ Đăng", 30), ("Ba Na", 16), ("Gia Rai", 8)],
        "64": [(KINH, 52), ("Gia Rai", 34), ("Ba Na", 14)],
        "66": [(KINH, 66), ("Ê Đê", 20), ("Nùng", 5), ("Tày", 5), ("Mông", 2), ("Gia Rai", 2)],
        "67": [(KINH, 65), ("Mnông", 10), ("Mông", 9), ("Nùng", 8), ("Tày", 8)],
        "68": [(KINH, 78), ("Cơ Ho", 14), ("Nùng", 3), ("Tày", 3), ("Chăm", 2)],
        "70": [(KINH, 84), ("Xtiêng", 9), ("Nùng", 3), ("Tày", 2), ("Khmer", 2)],
        "75": [(KINH, 93), ("Hoa", 4), ("Nùng", 2), ("Tày", 1)],
        "79": [(KINH, 94), ("Hoa", 5), ("Khmer", 1)],
        "84": [(KINH, 67), ("Khmer", 32), ("Hoa", 1)],
        "89": [(KINH, 94), ("Khmer", 4), ("Hoa", 1), ("Chăm", 1)],
        "91": [(KINH, 85), ("Khmer", 13), ("Hoa", 2)],
        "92": [(KINH, 97), ("Khmer", 2), ("Hoa", 1)],
        "93": [(KINH, 96), ("Khmer", 4)],
        "94": [(KINH, 64), ("Khmer", 30), ("Hoa", 6)],
        "95": [(KINH, 90), ("Khmer", 8), ("Hoa", 2)],
        "96": [(KINH, 97), ("Khmer", 2), ("Hoa", 1)],
    }.items()
}

_HUYNH_FROM: Final = 48  # Đà Nẵng southwards: Hoàng is mostly written Huỳnh
_VO_FROM: Final = 40  # Nghệ An southwards: Vũ is mostly written Võ


def generation_of(year: int) -> int:
    """Naming generation of a birth year: 0 before 1975, 1 until 1999, 2 from 2000."""
    return 0 if year < 1975 else 1 if year < 2000 else 2


def ethnicity_for(rng: random.Random, province: str) -> str:
    """An ethnic group drawn with the mix of a VN-63 province (two-digit code)."""
    return _ETHNIC_BY_PROVINCE.get(province, _DEFAULT_ETHNIC).pick(rng)


def family_name(rng: random.Random, ethnicity: str, province: str) -> str:
    """A family name for someone of `ethnicity` from a VN-63 province (two-digit code)."""
    pool = _MINORITY_FAMILY.get(ethnicity)
    if pool is not None and (ethnicity != "Hoa" or rng.random() < 0.8):
        return pool.pick(rng)
    name = KINH_FAMILY.pick(rng)
    code = int(province)
    if name == "Hoàng" and code >= _HUYNH_FROM and rng.random() < 0.85:
        return "Huỳnh"
    if name == "Vũ" and code >= _VO_FROM and rng.random() < 0.85:
        return "Võ"
    return name


def middle_and_given(
    rng: random.Random, sex: str, year: int, ethnicity: str
) -> tuple[str | None, str]:
    """A middle name (or None) and a given name for a person of this sex, birth year, group."""
    male = sex == MALE
    if ethnicity == "Mông" and rng.random() < 0.8:
        if male:
            return _MONG_MALE_MIDDLE.pick(rng), _MONG_MALE_GIVEN.pick(rng)
        return _MONG_FEMALE_MIDDLE.pick(rng), _MONG_FEMALE_GIVEN.pick(rng)
    if ethnicity == "Khmer" and rng.random() < 0.5:
        if male:
            return None, _KHMER_MALE_GIVEN.pick(rng)
        return ("Thị" if rng.random() < 0.5 else None), _KHMER_FEMALE_GIVEN.pick(rng)
    if ethnicity in _HIGHLAND and rng.random() < 0.7:
        return None, (_HIGHLAND_MALE_GIVEN if male else _HIGHLAND_FEMALE_GIVEN).pick(rng)
    generation = generation_of(year)
    middles = (_MALE_MIDDLE if male else _FEMALE_MIDDLE)[generation]
    middle: str | None = middles.pick(rng)
    draw = rng.random()
    if draw < 0.02:
        middle = None
    elif generation == 2 and draw < 0.12:
        second = middles.pick(rng)
        if second != middle:
            middle = f"{middle} {second}"
    given = (_MALE_GIVEN if male else _FEMALE_GIVEN)[generation].pick(rng)
    return middle, given


def other_given(rng: random.Random, sex: str, year: int, current: str) -> str:
    """A given name different from `current`, for a name change."""
    pool = (_MALE_GIVEN if sex == MALE else _FEMALE_GIVEN)[generation_of(max(year, 1975))]
    for _ in range(20):
        name = pool.pick(rng)
        if name != current:
            return name
    return "An" if current != "An" else "Bình"
