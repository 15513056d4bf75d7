"""Viewing the register beyond the household list: a withheld address shown with a reason, and
one person's detail (本籍・筆頭者, 前住所, 異動履歴, the dates).

A mixin on SessionCore (app.services.session puts it together). Each call checks its own
permission and writes its audit entry before anything is returned: if the chain cannot record
the viewing, nothing is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.auth.approval import normalise_reason
from app.auth.permissions import Permission
from app.domain.protected_address import full_address, is_withheld
from app.domain.records import HistoryEntry, Household, Person
from app.services.session_core import SessionCore
from app.store.audit import AuditAction


@dataclass(frozen=True, slots=True)
class PersonDetail:
    """One person as the detail view shows them (never the 個人番号: that has its own reveal).

    A protected address is withheld here as everywhere on screen (`address` and any 前住所,
    転出先 or 記事 naming it hold app.domain.protected_address.ADDRESS_WITHHELD)."""

    person_id: str
    household_id: str
    name: str
    name_kana: str
    birth_date: date
    sex: str
    relationship: str
    status: str  # resident | removed
    address: str  # 〒, 住所, 方書 of the household (or the placeholder)
    former_name: str | None = None
    alias: str | None = None
    alias_kana: str | None = None
    honseki: str | None = None  # 本籍
    hittosha: str | None = None  # 筆頭者
    became_resident_on: date | None = None
    became_resident_reported_on: date | None = None
    address_set_on: date | None = None
    address_set_reported_on: date | None = None
    previous_address: str | None = None  # 転入前住所
    previous_head_name: str | None = None
    removed_on: date | None = None
    removal_reason: str | None = None
    removal_reported_on: date | None = None
    moved_out_to: str | None = None  # 転出先
    moved_out_head_name: str | None = None
    nationality: str | None = None
    residence_status: str | None = None
    period_of_stay_until: date | None = None
    article_30_45: str | None = None
    support_until: date | None = None  # 支援措置 in force until (None: none in force)
    history: tuple[HistoryEntry, ...] = ()

    @property
    def address_withheld(self) -> bool:
        return is_withheld(self.address)


def person_detail_of(person: Person, household: Household, today: date) -> PersonDetail:
    """The detail of a person from the screen copies of the person and the household."""
    sm = person.support_measure
    return PersonDetail(
        person_id=person.person_id,
        household_id=household.household_id,
        name=person.name,
        name_kana=person.name_kana,
        birth_date=person.birth_date,
        sex=person.sex,
        relationship=person.relationship,
        status=person.status,
        address=full_address(household),
        former_name=person.former_name,
        alias=person.alias,
        alias_kana=person.alias_kana,
        honseki=person.honseki,
        hittosha=person.hittosha,
        became_resident_on=person.became_resident_on,
        became_resident_reported_on=person.became_resident_reported_on,
        address_set_on=person.address_set_on,
        address_set_reported_on=person.address_set_reported_on,
        previous_address=person.previous_address,
        previous_head_name=person.previous_head_name,
        removed_on=person.removed_on,
        removal_reason=person.removal_reason,
        removal_reported_on=person.removal_reported_on,
        moved_out_to=person.moved_out_to,
        moved_out_head_name=person.moved_out_head_name,
        nationality=person.nationality,
        residence_status=person.residence_status,
        period_of_stay_until=person.period_of_stay_until,
        article_30_45=person.article_30_45,
        support_until=sm.until if sm is not None and sm.active_on(today) else None,
        history=person.history,
    )


class RecordView(SessionCore):
    """The reveal of a withheld address and the person detail (mixin on SessionCore)."""

    def reveal_protected_address(self, household_id: str, reason: str) -> str:
        """支援措置: the household's address (〒, 住所, 方書) for the screen, after the permission
        check and a reason, recorded (REVEAL_ADDRESS) before it is returned."""
        self._require(Permission.REVEAL_ADDRESS)
        text = normalise_reason(reason, "支援措置の対象となる住所の表示")
        household = self.register_household(household_id)
        self.audit(
            AuditAction.REVEAL_ADDRESS,
            [household_id, *(m.person_id for m in household.members)],
            reason=text,
        )
        return full_address(household)

    def person_reason_required(self, person: Person, household: Household) -> bool:
        """A reason is required for the detail of a person under a 支援措置 in force, or of
        anyone whose address is withheld (`household` as the screen holds it)."""
        return person.is_protected_on(self.today()) or is_withheld(household.address)

    def person_detail(self, person_id: str, reason: str | None = None) -> PersonDetail:
        """本籍・筆頭者, 前住所, 異動履歴 and the dates of one person (VIEW_PERSON_DETAIL),
        audited as VIEW_PERSON with the reason. The reason is required (ReasonRequired) for a
        protected person or a withheld address, optional otherwise; a protected address stays
        withheld (reveal_protected_address shows it)."""
        self._require(Permission.VIEW_PERSON_DETAIL)
        registered = self.cache.household_of_person(person_id)
        household = self.screen_household(registered)
        person = household.member(person_id)
        text = (reason or "").strip() or None
        if self.person_reason_required(person, household):
            text = normalise_reason(text, "支援措置に関わる個人の詳細の表示")
        self.audit(AuditAction.VIEW_PERSON, [person_id, household.household_id], reason=text)
        return person_detail_of(person, household, self.today())
