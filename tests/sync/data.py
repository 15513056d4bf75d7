"""Small, valid households in the interchange format for the sync tests (no personal data:
invented names, numbers with valid check digits)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.domain.identifiers import (
    juminhyo_code_check_digit,
    local_government_code_check_digit,
    my_number_check_digit,
)

MUNICIPALITY = "01208" + str(local_government_code_check_digit("01208"))
FAMILY = ["試験", "見本", "仮名", "例示"]
GIVEN = ["一郎", "花子", "次郎", "桜"]


def person(n: int, version: int = 1, relationship: str = "世帯主") -> dict[str, Any]:
    body = f"{n:010d}"
    jcode = body + str(juminhyo_code_check_digit(body))
    mbody = f"9{n:010d}"
    return {
        "person_id": f"P{n:07d}",
        "juminhyo_code": jcode,
        "my_number": mbody + str(my_number_check_digit(mbody)),
        "version": version,
        "status": "resident",
        "name": f"{FAMILY[n % 4]} {GIVEN[n % 4]}",
        "name_kana": "シケン イチロウ",
        "birth_date": f"{1950 + n % 50}-0{1 + n % 9}-1{n % 9}",
        "sex": "male" if n % 2 else "female",
        "relationship": relationship,
    }


def household(h: int, members: int = 2, version: int = 1) -> dict[str, Any]:
    people = [person(h * 10 + i, version, "世帯主" if i == 0 else "子") for i in range(members)]
    return {
        "household_id": f"H{h:07d}",
        "municipality_code": MUNICIPALITY,
        "postal_code": "090-0024",
        "address": f"北海道北見市北四条東{h % 9 + 1}丁目{h}番地",
        "katagaki": None,
        "head_person_id": people[0]["person_id"],
        "members": people,
    }


def households(count: int, members: int = 2, start: int = 1) -> list[dict[str, Any]]:
    return [household(h, members) for h in range(start, start + count)]


def bumped(data: dict[str, Any]) -> dict[str, Any]:
    """The same household after a change at the server (every member's version + 1)."""
    out = json.loads(json.dumps(data))
    for m in out["members"]:
        m["version"] += 1
        m["history"] = [*m.get("history", []), {"date": "2026-11-01", "kind": "転居", "note": ""}]
    return out


def write_jsonl(path: Path, items: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    return path
