"""A deterministic mix of valid events in their JSON form, for benchmarks.

Variations of `schemas.examples`: fresh event ids, PINs consistent with birth date and sex,
varied Vietnamese names. Mix: births 30%, deaths 10%, permanent residence 25%, temporary
residence 15%, PIN issued 10%, identity cards 10%.
"""

from __future__ import annotations

import copy
import random
import uuid
from datetime import date, timedelta
from typing import Any

from schemas.domain import make_pin
from schemas.examples import EXAMPLES

MIX = [
    ("BirthRegistered", 30),
    ("DeathRegistered", 10),
    ("PermanentResidenceRegistered", 25),
    ("TemporaryResidenceRegistered", 15),
    ("PinIssued", 10),
    ("IdentityCardIssued", 10),
]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Ngọc", "Minh", "Thanh", "Quốc"]
GIVEN = ["Anh", "Ánh", "Bảo", "Dũng", "Đạt", "Hà", "Hằng", "Hương", "Linh", "Nam", "Quỳnh", "Tâm"]
PROVINCES = ["001", "031", "036", "048", "079", "092"]


def sample_events(count: int, seed: int = 6) -> list[dict[str, Any]]:
    """`count` valid events, the same for the same seed."""
    rng = random.Random(seed)
    types = [t for t, weight in MIX for _ in range(weight)]
    out = []
    for _ in range(count):
        event_type = rng.choice(types)
        event = copy.deepcopy(EXAMPLES[event_type])
        event["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        dob = date(1940, 1, 1) + timedelta(days=rng.randrange(30000))
        sex = rng.choice(["MALE", "FEMALE"])
        event["subject_pin"] = make_pin(rng.choice(PROVINCES), dob, sex, rng.randrange(10**6))
        payload = event["payload"]
        if event_type in ("BirthRegistered", "PinIssued"):
            payload["date_of_birth"], payload["sex"] = dob.isoformat(), sex
        if event_type == "BirthRegistered":
            payload["name"] = {
                "family_name": rng.choice(FAMILY),
                "middle_name": rng.choice(MIDDLE),
                "given_name": rng.choice(GIVEN),
            }
        if event_type == "PinIssued":
            payload["issued_on"] = max(dob, date(2016, 1, 1)).isoformat()
        if event_type == "IdentityCardIssued":
            payload["card"]["number"] = event["subject_pin"]
        out.append(event)
    return out
