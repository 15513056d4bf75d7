"""A small register at Kitami addresses and a valid draft of each procedure, for the tests.

Each test starts from a draft that passes every check and changes one thing, so that the
finding it expects is the one that change causes.
"""

from __future__ import annotations

from datetime import date

from msgspec.structs import replace

from app.domain.certificates import IdentityDocument
from app.domain.identifiers import juminhyo_code_check_digit, my_number_check_digit
from app.domain.notifications import (
    Address,
    Filer,
    FilerKind,
    HouseholdPlan,
    MoveOutCertificate,
    MoveOutPerson,
    Mover,
    NotificationDraft,
    Procedure,
    Register,
    Role,
    towns,
)
from app.domain.records import HistoryEntry, Household, Person, SupportMeasure

TODAY = date(2026, 4, 20)  # a Monday
KITAMI = "012084"
SAPPORO_CHUO = "011011"
ADDRESS_H1 = "北海道北見市北5条東2丁目1番地"
KATAGAKI_H1 = "コーポ北見101号"


def code(n: int) -> str:
    body = f"{n:010d}"
    return body + str(juminhyo_code_check_digit(body))


def number(n: int) -> str:
    body = f"{n:011d}"
    return body + str(my_number_check_digit(body))


def person(pid: str, name: str, kana: str, born: date, sex: str, rel: str, **kw: object) -> Person:
    n = int(pid[1:])
    p = Person(
        person_id=pid,
        juminhyo_code=code(20_000 + n),
        my_number=number(70_000_000 + n),
        version=2 + n % 3,
        status="resident",
        name=name,
        name_kana=kana,
        birth_date=born,
        sex=sex,  # type: ignore[arg-type]
        relationship=rel,
        became_resident_on=date(2010, 4, 1),
        became_resident_reported_on=date(2010, 4, 5),
        address_set_on=date(2010, 4, 1),
        address_set_reported_on=date(2010, 4, 5),
        previous_address="北海道網走市南6条東1丁目1番地",
        history=(HistoryEntry(date(2010, 4, 1), "転入", "網走市から転入"),),
    )
    return replace(p, **kw)  # type: ignore[arg-type]


def household(hid: str, address: str, katagaki: str | None, postal: str, *members: Person):
    head = next(p.person_id for p in members if p.relationship == "世帯主")
    return Household(hid, KITAMI, postal, address, katagaki, head, tuple(members))


H1 = household(
    "H1",
    ADDRESS_H1,
    KATAGAKI_H1,
    "090-0025",
    person("P1", "北見　太郎", "キタミ タロウ", date(1970, 5, 1), "male", "世帯主"),
    person("P2", "北見　花子", "キタミ ハナコ", date(1972, 8, 3), "female", "妻"),
    person("P3", "北見　一郎", "キタミ イチロウ", date(2000, 1, 9), "male", "子"),
    person("P4", "北見　二葉", "キタミ フタバ", date(2005, 11, 30), "female", "子"),
    person(
        "P10",
        "北見　三郎",
        "キタミ サブロウ",
        date(2003, 2, 2),
        "male",
        "子",
        status="removed",
        removed_on=date(2024, 3, 31),
        removal_reason="転出",
        moved_out_to="東京都千代田区千代田1番1号",
    ),
)
# The grandfather's own household at the same address (for 世帯合併).
H2 = household(
    "H2",
    ADDRESS_H1,
    KATAGAKI_H1,
    "090-0025",
    person("P5", "北見　一男", "キタミ カズオ", date(1945, 1, 20), "male", "世帯主"),
)
# Another address in the town (a 転居 into an existing household).
H3 = household(
    "H3",
    "北海道北見市幸町3丁目4番5号",
    None,
    "090-0036",
    person("P6", "幸　三郎", "サイワイ サブロウ", date(1980, 6, 6), "male", "世帯主"),
)
# A 支援措置 case: P7 is protected from P9 (registered in H5).
H4 = household(
    "H4",
    "北海道北見市寿町1丁目2番3号",
    None,
    "090-0065",
    person(
        "P7",
        "寿　春子",
        "コトブキ ハルコ",
        date(1990, 3, 3),
        "female",
        "世帯主",
        support_measure=SupportMeasure(date(2027, 3, 31), ("P9",)),
    ),
)
H5 = household(
    "H5",
    "北海道北見市泉町1丁目1番1号",
    None,
    "090-0811",
    person("P9", "泉　次郎", "イズミ ジロウ", date(1985, 9, 9), "male", "世帯主"),
)
REGISTER = Register.of([H1, H2, H3, H4, H5])
TOWNS = towns.load()


def relied(*households: Household) -> dict[str, int]:
    return {p.person_id: p.version for h in households for p in h.members if p.status == "resident"}


def mover(p: Person, relationship: str | None = None) -> Mover:
    return Mover(
        key=p.person_id,
        name=p.name,
        name_kana=p.name_kana,
        birth_date=p.birth_date,
        sex=p.sex,
        relationship=relationship or p.relationship,
    )


def filer_self(p: Person) -> Filer:
    return Filer(kind=FilerKind.SELF, name=p.name, person_id=p.person_id)


DOCS = (IdentityDocument.DRIVERS_LICENSE,)
OLD_H1 = Address(text=ADDRESS_H1, katagaki=KATAGAKI_H1, postal_code="090-0025")
NEW_IN_TOWN = Address(text="北海道北見市北進町123番地4", katagaki=None, postal_code="090-0052")


def _base(procedure: Procedure, **kw: object) -> NotificationDraft:
    fields: dict[str, object] = {
        "notification_id": "7d3f6c1e-0d5a-4f55-9d0e-5b3f1c2a9e01",
        "procedure": procedure,
        "municipality_code": KITAMI,
        "office": "端野総合支所",
        "filed_on": TODAY,
        "moved_on": date(2026, 4, 12),
        "identity_documents": DOCS,
    }
    fields.update(kw)
    return NotificationDraft(**fields)  # type: ignore[arg-type]


def move_within_part() -> NotificationDraft:
    """転居: the 世帯主 and his wife move to 北進町; the children stay, 一郎 becomes 世帯主."""
    p1, p2 = H1.members[:2]
    return _base(
        Procedure.MOVE_WITHIN,
        filer=filer_self(p1),
        movers=(mover(p1), mover(p2)),
        households=(
            HouseholdPlan(
                household_id=None,
                roles=(Role(key="P1", relationship="世帯主"), Role(key="P2", relationship="妻")),
                at_new_address=True,
            ),
            HouseholdPlan(
                household_id="H1",
                roles=(Role(key="P3", relationship="世帯主"), Role(key="P4", relationship="妹")),
            ),
        ),
        old_address=OLD_H1,
        new_address=NEW_IN_TOWN,
        source_household_id="H1",
        relied_versions=relied(H1),
    )


def move_within_whole() -> NotificationDraft:
    p1, p2, p3, p4 = H1.members[:4]
    return _base(
        Procedure.MOVE_WITHIN,
        filer=filer_self(p1),
        movers=tuple(mover(p) for p in (p1, p2, p3, p4)),
        households=(
            HouseholdPlan(
                household_id="H1",
                roles=tuple(
                    Role(key=p.person_id, relationship=p.relationship) for p in H1.members[:4]
                ),
                at_new_address=True,
            ),
        ),
        old_address=OLD_H1,
        new_address=NEW_IN_TOWN,
        source_household_id="H1",
        relied_versions=relied(H1),
    )


def certificate(source: str = "paper", planned_on: date = date(2026, 4, 12)) -> MoveOutCertificate:
    return MoveOutCertificate(
        source=source,  # type: ignore[arg-type]
        issuing_municipality="北海道札幌市中央区",
        issuing_municipality_code=SAPPORO_CHUO,
        certificate_no="中央-2026-00123" if source == "paper" else None,
        address="北海道札幌市中央区北1条西2丁目1番地",
        katagaki="札幌タワー1201",
        head_name="札幌　健一",
        destination="北海道北見市北進町123番地4",
        planned_on=planned_on,
        reported_on=date(2026, 4, 1),
        persons=(
            MoveOutPerson(
                name="札幌　健一",
                name_kana="サッポロ ケンイチ",
                birth_date=date(1988, 7, 7),
                sex="male",
                relationship="世帯主",
                juminhyo_code=code(31_001),
                my_number=number(81_000_001),
                honseki="北海道札幌市中央区北1条西2丁目",
                hittosha="札幌　健一",
                card_holder=True,
            ),
            MoveOutPerson(
                name="札幌　由美",
                name_kana="サッポロ ユミ",
                birth_date=date(1990, 12, 24),
                sex="female",
                relationship="妻",
                juminhyo_code=code(31_002),
                my_number=number(81_000_002),
                honseki="北海道札幌市中央区北1条西2丁目",
                hittosha="札幌　健一",
            ),
        ),
    )


def move_in(special: bool = False) -> NotificationDraft:
    c = certificate("jukinet" if special else "paper")
    movers = tuple(
        Mover(
            key=f"new-{i + 1}",
            name=p.name,
            name_kana=p.name_kana,
            birth_date=p.birth_date,
            sex=p.sex,
            relationship=p.relationship,
            juminhyo_code=p.juminhyo_code,
            my_number=p.my_number,
            honseki=p.honseki,
            hittosha=p.hittosha,
            card_continued=special and p.card_holder,
        )
        for i, p in enumerate(c.persons)
    )
    return _base(
        Procedure.SPECIAL_MOVE_IN if special else Procedure.MOVE_IN,
        filer=Filer(kind=FilerKind.SELF, name="札幌　健一"),
        movers=movers,
        households=(
            HouseholdPlan(
                household_id=None,
                roles=(
                    Role(key="new-1", relationship="世帯主"),
                    Role(key="new-2", relationship="妻"),
                ),
                at_new_address=True,
            ),
        ),
        old_address=Address(text=c.address, katagaki=c.katagaki),
        new_address=NEW_IN_TOWN,
        move_out_certificate=c,
        card_presented=special,
        identity_documents=(IdentityDocument.MY_NUMBER_CARD,) if special else DOCS,
    )


def move_out(special: bool = False) -> NotificationDraft:
    """転出 of the whole household H1 to 札幌, on a day after the 届出."""
    p1, p2, p3, p4 = H1.members[:4]
    return _base(
        Procedure.SPECIAL_MOVE_OUT if special else Procedure.MOVE_OUT,
        moved_on=date(2026, 5, 1),
        filer=filer_self(p1),
        movers=tuple(mover(p) for p in (p1, p2, p3, p4)),
        old_address=OLD_H1,
        new_address=Address(
            text="北海道札幌市北区北24条西5丁目1番1号", katagaki="北24条マンション305"
        ),
        source_household_id="H1",
        relied_versions=relied(H1),
        card_presented=special,
        destination_head_name="北見　太郎",
    )


def head_change() -> NotificationDraft:
    p1, p2 = H1.members[:2]
    return _base(
        Procedure.HEAD_CHANGE,
        filer=filer_self(p2),
        movers=(mover(p2, "世帯主"), mover(p1, "夫")),
        households=(
            HouseholdPlan(
                household_id="H1",
                roles=(
                    Role(key="P2", relationship="世帯主"),
                    Role(key="P1", relationship="夫"),
                    Role(key="P3", relationship="子"),
                    Role(key="P4", relationship="子"),
                ),
            ),
        ),
        source_household_id="H1",
        relied_versions=relied(H1),
    )


def separation() -> NotificationDraft:
    p3 = H1.members[2]
    return _base(
        Procedure.SEPARATION,
        filer=filer_self(p3),
        movers=(mover(p3, "世帯主"),),
        households=(
            HouseholdPlan(
                household_id="H1",
                roles=tuple(
                    Role(key=p.person_id, relationship=p.relationship)
                    for p in H1.members[:4]
                    if p.person_id != "P3"
                ),
            ),
            HouseholdPlan(household_id=None, roles=(Role(key="P3", relationship="世帯主"),)),
        ),
        source_household_id="H1",
        relied_versions=relied(H1),
    )


def merger() -> NotificationDraft:
    """The grandfather's household H2 joins his son's H1 at the same address."""
    p5 = H2.members[0]
    return _base(
        Procedure.MERGER,
        filer=filer_self(p5),
        movers=(mover(p5, "父"),),
        households=(
            HouseholdPlan(
                household_id="H1",
                roles=(
                    *(Role(key=p.person_id, relationship=p.relationship) for p in H1.members[:4]),
                    Role(key="P5", relationship="父"),
                ),
            ),
        ),
        source_household_id="H2",
        relied_versions=relied(H1, H2),
    )


def special_move_out() -> NotificationDraft:
    return move_out(special=True)


def special_move_in() -> NotificationDraft:
    return move_in(special=True)


VALID = {
    "move_within_part": move_within_part,
    "move_within_whole": move_within_whole,
    "move_in": move_in,
    "special_move_in": special_move_in,
    "move_out": move_out,
    "special_move_out": special_move_out,
    "head_change": head_change,
    "separation": separation,
    "merger": merger,
}
