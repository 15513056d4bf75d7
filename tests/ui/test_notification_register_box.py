"""The 異動届 tab's register hits: what a clerk must see survives a narrow list."""

from __future__ import annotations

from datetime import date

from app.store.search import SearchHit
from ui.notification_register_box import hit_text

LONG_ADDRESS = "北海道北見市留辺蘂町東町96番地 パークヒルズ美山 1203号室"


def _hit(status: str = "resident", protected: bool = False) -> SearchHit:
    return SearchHit(
        person_id="P1",
        household_id="H1",
        name="佐藤 和也",
        name_kana="サトウ カズヤ",
        birth_date=date(1985, 1, 12),
        sex="male",
        address=LONG_ADDRESS,
        katagaki=None,
        status=status,
        protected=protected,
        relationship="世帯主",
    )


def test_a_removed_persons_mark_comes_before_the_address_a_narrow_list_cuts() -> None:
    text = hit_text(_hit(status="removed"))
    assert text.index("【除票】") < text.index("佐藤 和也") < text.index(LONG_ADDRESS)
    assert text.startswith("【除票】")


def test_a_protected_persons_mark_leads_and_a_resident_has_none() -> None:
    assert hit_text(_hit(protected=True)).startswith("【支援措置】")
    plain = hit_text(_hit())
    assert plain.startswith("佐藤 和也") and "【" not in plain
    assert "昭和60年1月12日" in plain
