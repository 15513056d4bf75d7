"""Print models: the 住民異動届 the resident signs, and the 転出証明書 (令§23) Kitami issues.

Everything is decided here and printing/ only lays it out (as for 住民票の写し): which boxes
are ticked, the dates in 和暦, the 世帯主 of each side, the persons on each sheet. A digest of
the 届書 as printed (what the resident signed) goes with the filing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from app.domain.certificates import IDENTITY_LABELS, IdentityDocument, MissingGlyph, Municipality
from app.domain.errors import DomainError
from app.domain.notifications.model import (
    FILER_LABELS,
    HEAD,
    MOVE_IN,
    MOVE_OUT,
    FilerKind,
    MoveOutCertificate,
    MoveOutPerson,
    NotificationDraft,
    Procedure,
)
from app.domain.notifications.register import Register, residents
from app.domain.wareki import format_date

PERSONS_PER_SHEET = 6
SEX_LABELS = {"male": "男", "female": "女"}

# The boxes of a standard 住民異動届 (異動の種別), in print order.
FORM_PROCEDURES: tuple[tuple[str, frozenset[Procedure]], ...] = (
    ("転入", frozenset(MOVE_IN)),
    ("転居", frozenset({Procedure.MOVE_WITHIN})),
    ("転出", frozenset(MOVE_OUT)),
    ("世帯主変更", frozenset({Procedure.HEAD_CHANGE})),
    ("世帯分離", frozenset({Procedure.SEPARATION})),
    ("世帯合併", frozenset({Procedure.MERGER})),
)
FORM_DOCUMENTS: tuple[IdentityDocument, ...] = (
    IdentityDocument.MY_NUMBER_CARD,
    IdentityDocument.DRIVERS_LICENSE,
    IdentityDocument.PASSPORT,
    IdentityDocument.RESIDENCE_CARD,
    IdentityDocument.HEALTH_INSURANCE,
    IdentityDocument.PENSION_BOOK,
    IdentityDocument.OTHER_NON_PHOTO,
)
# The clerk's confirmation boxes (受付側): stamped or initialled by hand.
CLERK_BOXES: tuple[str, ...] = ("受付", "本人確認", "署名確認", "入力", "照合", "審査")


class FormGlyphMissing(MissingGlyph):
    """MissingGlyph of a 届書 or 転出証明書 (the same type: callers that stop on a missing glyph
    stop here too), naming the document being printed."""

    def __init__(self, cause: MissingGlyph, document: str) -> None:
        super().__init__(cause.character, cause.person_id, document)


@dataclass(frozen=True, slots=True)
class Box:
    label: str
    checked: bool


@dataclass(frozen=True, slots=True)
class FormPerson:
    person_id: str | None  # whose name it is (MissingGlyph names it); None for a 転入者
    name: str
    name_kana: str
    birth_date: str  # 和暦
    sex: str  # 男 / 女
    relationship: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class FormSheet:
    number: int
    persons: tuple[FormPerson, ...]


@dataclass(frozen=True, slots=True)
class NotificationForm:
    title: str
    addressee: str  # 北見市長　様
    notification_id: str
    office: str
    procedures: tuple[Box, ...]
    special: bool  # 特例 (個人番号カードによる転入・転出)
    filed_on: str
    moved_label: str  # 異動日 / 転出予定日
    moved_on: str
    filer_name: str
    filer_person_id: str | None
    filer_relations: tuple[Box, ...]
    filer_address: str
    filer_phone: str
    new_label: str  # 新住所 / 転出先
    new_address: str
    new_katagaki: str
    new_head: str
    new_head_id: str | None  # whose name (MissingGlyph names it); None for a 転入者
    old_label: str  # 旧住所 / 従前の住所
    old_address: str
    old_katagaki: str
    old_head: str
    old_head_id: str | None
    sheets: tuple[FormSheet, ...]
    documents: tuple[Box, ...]
    notes: tuple[str, ...]
    clerk_boxes: tuple[str, ...] = CLERK_BOXES


def _head(d: NotificationDraft, register: Register, *, new: bool) -> tuple[str, str | None]:
    """世帯主 of the movers' household after (new) or before (old) the 届出: name, person_id."""
    if new:
        if d.procedure in MOVE_OUT:
            return d.destination_head_name or "", None
        keys = {m.key for m in d.movers}
        for plan in d.households:
            if keys & {r.key for r in plan.roles}:
                head = next((r.key for r in plan.roles if r.relationship == HEAD), None)
                if head is None:
                    return "", None
                if head in keys:
                    m = d.mover(head)
                    return m.name, None if m.is_new else m.key
                p = register.person(head)
                return (p.name, p.person_id) if p else ("", None)
        return "", None
    if d.procedure in MOVE_IN:
        c = d.move_out_certificate
        return (c.head_name if c else ""), None
    h = register.household(d.source_household_id)
    p = register.person(h.head_person_id) if h else None
    return (p.name, p.person_id) if p else ("", None)


def build_notification_form(
    d: NotificationDraft, register: Register, municipality: Municipality
) -> NotificationForm:
    """The 届書 of a draft, as the resident signs it."""
    source = register.household(d.source_household_id)
    persons = tuple(
        FormPerson(
            person_id=None if m.is_new else m.key,
            name=m.name,
            name_kana=m.name_kana,
            birth_date=format_date(m.birth_date),
            sex=SEX_LABELS[m.sex],
            relationship=m.relationship,
            note="カード継続利用" if m.card_continued else "",
        )
        for m in d.movers
    )
    sheets = tuple(
        FormSheet(n + 1, persons[i : i + PERSONS_PER_SHEET])
        for n, i in enumerate(range(0, len(persons), PERSONS_PER_SHEET))
    )
    if d.procedure in MOVE_IN:
        old = d.old_address
        old_text, old_kata = (old.text, old.katagaki or "") if old else ("", "")
    elif source is not None:
        old_text, old_kata = source.address, source.katagaki or ""
    else:
        old_text, old_kata = "", ""
    new = d.new_address
    if new is None and source is not None:  # 世帯変更: the address stays
        new_text, new_kata = source.address, source.katagaki or ""
    else:
        new_text, new_kata = (new.text, new.katagaki or "") if new else ("", "")
    notes = list(_notes(d))
    new_head, old_head = _head(d, register, new=True), _head(d, register, new=False)
    return NotificationForm(
        title="住民異動届",
        addressee=f"{municipality.mayor_title}　様",
        notification_id=d.notification_id,
        office=d.office,
        procedures=tuple(Box(label, d.procedure in procs) for label, procs in FORM_PROCEDURES),
        special=d.procedure in (Procedure.SPECIAL_MOVE_IN, Procedure.SPECIAL_MOVE_OUT),
        filed_on=format_date(d.filed_on),
        moved_label="転出予定日" if d.procedure in MOVE_OUT else "異動日",
        moved_on=format_date(d.moved_on),
        filer_name=d.filer.name,
        filer_person_id=d.filer.person_id,
        filer_relations=tuple(Box(FILER_LABELS[k], d.filer.kind == k) for k in FilerKind),
        filer_address=d.filer.address or "",
        filer_phone=d.filer.phone or "",
        new_label="転出先" if d.procedure in MOVE_OUT else "新住所",
        new_address=new_text,
        new_katagaki=new_kata,
        new_head=new_head[0],
        new_head_id=new_head[1],
        old_label="従前の住所" if d.procedure in MOVE_IN else "旧住所",
        old_address=old_text,
        old_katagaki=old_kata,
        old_head=old_head[0],
        old_head_id=old_head[1],
        sheets=sheets,
        documents=tuple(
            Box(IDENTITY_LABELS[doc], doc in d.identity_documents) for doc in FORM_DOCUMENTS
        ),
        notes=tuple(notes),
    )


def _notes(d: NotificationDraft) -> list[str]:
    out = []
    c = d.move_out_certificate
    if c is not None and c.source == "paper":
        no = f"（{c.certificate_no}）" if c.certificate_no else ""
        out.append(f"転出証明書: {c.issuing_municipality}長発行{no}")
    if c is not None and c.source == "jukinet":
        out.append(f"転出証明書情報: 住基ネット（{c.issuing_municipality}）")
    if d.procedure == Procedure.SPECIAL_MOVE_IN:
        out.append("個人番号カードによる転入（住民基本台帳法第24条の2）")
    if d.procedure == Procedure.SPECIAL_MOVE_OUT:
        out.append(
            "個人番号カードによる転出（転出証明書は交付せず、転出証明書情報を住基ネットで送信）"
        )
    if d.filer.kind in (FilerKind.PROXY, FilerKind.LEGAL) and d.filer.power_of_attorney:
        out.append("委任状あり" if d.filer.kind == FilerKind.PROXY else "法定代理人の資格確認済み")
    if d.note:
        out.append(d.note)
    return out


def form_text(form: NotificationForm) -> str:
    """Everything the 届書 prints, one fact per line (names exactly as stored)."""
    lines = [
        f"title\t{form.title}",
        f"id\t{form.notification_id}",
        f"office\t{form.office}",
        "procedures\t" + ",".join(b.label for b in form.procedures if b.checked),
        f"special\t{form.special}",
        f"filed_on\t{form.filed_on}",
        f"{form.moved_label}\t{form.moved_on}",
        f"filer\t{form.filer_name}\t{form.filer_address}\t{form.filer_phone}",
        "filer_relation\t" + ",".join(b.label for b in form.filer_relations if b.checked),
        f"{form.new_label}\t{form.new_address}\t{form.new_katagaki}\t{form.new_head}",
        f"{form.old_label}\t{form.old_address}\t{form.old_katagaki}\t{form.old_head}",
    ]
    for sheet in form.sheets:
        for p in sheet.persons:
            lines.append(
                f"person\t{p.name}\t{p.name_kana}\t{p.birth_date}\t{p.sex}\t{p.relationship}"
                f"\t{p.note}"
            )
    lines.append("documents\t" + ",".join(b.label for b in form.documents if b.checked))
    lines.extend(f"note\t{n}" for n in form.notes)
    return "\n".join(lines) + "\n"


def form_digest(form: NotificationForm) -> str:
    """SHA-256 (hex) of what the resident signed; it goes with the filing."""
    return hashlib.sha256(form_text(form).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# 転出証明書


def build_move_out_certificate(
    d: NotificationDraft,
    register: Register,
    *,
    municipality_name: str,  # 北海道北見市
    municipality_code: str,
    certificate_no: str,
) -> MoveOutCertificate:
    """The 転出証明書 of a (paper) 転出届: the movers as the register has them (令§23)."""
    if d.procedure != Procedure.MOVE_OUT:
        raise DomainError("転出証明書は転出届（特例でないもの）について交付します。")
    source = register.household(d.source_household_id)
    if source is None or d.new_address is None:
        raise DomainError("転出する世帯と転出先が必要です。")
    head = register.person(source.head_person_id)
    keys = {m.key for m in d.movers}
    movers = [p for p in residents(source) if p.person_id in keys]  # in the register's order
    if len(movers) != len(keys):
        raise DomainError("転出者が転出する世帯の住民ではありません。")
    persons = [
        MoveOutPerson(
            name=p.name,
            name_kana=p.name_kana,
            birth_date=p.birth_date,
            sex=p.sex,
            relationship=p.relationship,
            juminhyo_code=p.juminhyo_code,
            my_number=p.my_number,
            honseki=p.honseki,
            hittosha=p.hittosha,
            former_name=p.former_name,
            address_set_on=p.address_set_on,
        )
        for p in movers
    ]
    return MoveOutCertificate(
        source="paper",
        issuing_municipality=municipality_name,
        issuing_municipality_code=municipality_code,
        address=source.address,
        katagaki=source.katagaki,
        head_name=head.name if head else "",
        destination=d.new_address.full,
        planned_on=d.moved_on,
        reported_on=d.filed_on,
        persons=tuple(persons),
        certificate_no=certificate_no,
    )


@dataclass(frozen=True, slots=True)
class CertificateLine:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class MoveOutCertificateSheet:
    """The 転出証明書 as printed: header lines, a block per person, the 認証文."""

    title: str
    certificate_no: str
    header: tuple[CertificateLine, ...]
    persons: tuple[tuple[CertificateLine, ...], ...]
    certification: str
    issued_on: str
    mayor: str  # title and name


def move_out_certificate_sheet(
    c: MoveOutCertificate, municipality: Municipality, issued_on: date
) -> MoveOutCertificateSheet:
    if c.source != "paper" or not c.certificate_no:
        raise DomainError("印刷できるのは証明書番号のある転出証明書だけです。")
    header = (
        CertificateLine("住所", c.address + (f"　{c.katagaki}" if c.katagaki else "")),
        CertificateLine("世帯主", c.head_name),
        CertificateLine("転出先", c.destination),
        CertificateLine("転出予定日", format_date(c.planned_on)),
        CertificateLine("届出日", format_date(c.reported_on)),
    )
    persons = []
    for p in c.persons:
        lines = [
            CertificateLine("氏名", p.name),
            CertificateLine("フリガナ", p.name_kana),
            CertificateLine("生年月日", format_date(p.birth_date)),
            CertificateLine("性別", SEX_LABELS[p.sex]),
            CertificateLine("続柄", p.relationship),
            CertificateLine("住民票コード", p.juminhyo_code),
            CertificateLine("個人番号", p.my_number or ""),
        ]
        if p.address_set_on:
            lines.append(CertificateLine("住所を定めた年月日", format_date(p.address_set_on)))
        if p.honseki:
            lines.append(CertificateLine("本籍", p.honseki))
            lines.append(CertificateLine("筆頭者", p.hittosha or ""))
        if p.former_name:
            lines.append(CertificateLine("旧氏", p.former_name))
        persons.append(tuple(lines))
    return MoveOutCertificateSheet(
        title="転出証明書",
        certificate_no=c.certificate_no,
        header=header,
        persons=tuple(persons),
        certification="上記のとおり転出の届出があったことを証明する。",
        issued_on=format_date(issued_on),
        mayor=f"{municipality.mayor_title}　{municipality.mayor_name}",
    )
