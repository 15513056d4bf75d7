"""The print model of a 住民票の写し, built from an allowed decision: sheets, rows, 認証文.

Pure: no I/O. `paginate` decides how the 世帯連記式 splits into sheets; printing/forms.py draws it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from app.domain.certificates.rules import (
    FORM_TITLES,
    CertificateRequest,
    Decision,
    FormKind,
    Item,
    MailAddress,
)
from app.domain.errors import DomainError
from app.domain.records import Household, Person
from app.domain.wareki import format_date

CERTIFICATION_TEXT: dict[FormKind, str] = {
    FormKind.HOUSEHOLD: "この写しは、住民票の原本と相違ないことを証明する。",
    FormKind.INDIVIDUAL: "この写しは、住民票の原本と相違ないことを証明する。",
    FormKind.REMOVED: "この写しは、住民票の除票の原本と相違ないことを証明する。",
}
ENDING_TEXT = "以下余白"
PERSONS_PER_SHEET = 4
# How much one sheet holds, in standard rows (a 氏名 row counts 1.5, the gap between persons
# 0.5). Budgeted for a sheet that also carries the 認証文; the renderer shrinks a sheet that
# still does not fit (a single person with a very long 記事) rather than cut anything.
SHEET_ROW_BUDGET = 42.0


# 交付番号 (DESIGN.md §5): "{terminal_no}-{yyyymmdd}-{seq}", allocated on the terminal; the
# sequence is written with four digits at least. The QR payload's check reads it back.
ISSUANCE_NO_RE = re.compile(r"[0-9A-Za-z]{1,16}-[0-9]{8}-[0-9]{1,9}")


def format_issuance_no(terminal_no: str, day: date, seq: int) -> str:
    """The 交付番号 of the `seq`-th issuance of `day` on this terminal (0: a 見本's)."""
    return f"{terminal_no}-{day:%Y%m%d}-{seq:04d}"


def issuance_date(issuance_no: str) -> date:
    """The day a 交付番号 was allocated (ValueError when it holds no valid date)."""
    ymd = issuance_no.split("-")[1]
    return date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))


@dataclass(frozen=True, slots=True)
class Municipality:
    name: str
    mayor_title: str
    mayor_name: str


DEMO_MUNICIPALITY = Municipality(name="北見市", mayor_title="北見市長", mayor_name="窓口　太郎")


@dataclass(frozen=True, slots=True)
class Cell:
    """One printed field. `person_id` names whose data it is (for MissingGlyph messages)."""

    label: str
    value: str
    person_id: str | None = None
    name: bool = False  # printed larger (氏名)


@dataclass(frozen=True, slots=True)
class PersonBlock:
    person_id: str
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True, slots=True)
class Sheet:
    number: int  # 1-based
    header: tuple[Cell, ...]
    blocks: tuple[PersonBlock, ...]
    certified: bool  # carries 以下余白, 認証文, date and mayor


@dataclass(frozen=True, slots=True)
class CertificateDocument:
    title: str
    form: FormKind
    issuance_no: str
    terminal_no: str
    issued_on: date
    issued_on_text: str
    sheets: tuple[Sheet, ...]
    ending: str
    certification: str
    municipality: Municipality
    fee_yen: int
    copies: int
    person_versions: tuple[tuple[str, int], ...]
    # 郵送: the address sheet printed before the certificate (not part of the certified text).
    mail_to: MailAddress | None = None

    @property
    def sheet_count(self) -> int:
        return len(self.sheets)


def format_wareki(day: date | None) -> str:
    """和暦 date (app.domain.wareki.format_date); empty for a missing date."""
    return "" if day is None else format_date(day)


_SEX_LABELS = {"male": "男", "female": "女"}
_HISTORY_WRAP = 38  # characters per 記事 line (full width at the form's size)


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]


def _date_with_report(on: date | None, reported: date | None) -> str:
    text = format_wareki(on)
    if reported is not None:
        text += f"（{format_wareki(reported)}届出）"
    return text


_FOREIGN_PERIOD_LABELS = {
    "中長期在留者": "在留期間",
    "一時庇護許可者": "上陸期間",
    "仮滞在許可者": "仮滞在期間",
}


def _foreign_rows(person: Person, items: frozenset[Item]) -> list[tuple[Cell, ...]]:
    """§30の45: 国籍・地域, then the 区分 and the items of its row of the table."""
    pid = person.person_id
    rows: list[tuple[Cell, ...]] = []
    if Item.NATIONALITY in items:
        rows.append((Cell("国籍・地域", person.nationality or "", pid),))
    kind = person.article_30_45 or ""
    if Item.FOREIGN_STATUS in items:
        first = [Cell("法第30条の45に規定する区分", kind, pid)]
        if kind == "中長期在留者":
            first.append(Cell("在留資格", person.residence_status or "", pid))
        rows.append(tuple(first))
        period_label = _FOREIGN_PERIOD_LABELS.get(kind)
        # A 永住者 has no 在留期間: no label over an empty cell.
        if period_label is not None and (person.period_of_stay or person.period_of_stay_until):
            period = [Cell(period_label, person.period_of_stay or "", pid)]
            if kind == "中長期在留者":
                period.append(
                    Cell("在留期間の満了の日", format_wareki(person.period_of_stay_until), pid)
                )
            rows.append(tuple(period))
    if Item.RESIDENCE_CARD_NUMBER in items and person.residence_card_number:
        label = "特別永住者証明書の番号" if kind == "特別永住者" else "在留カードの番号"
        rows.append((Cell(label, person.residence_card_number, pid),))
    return rows


def _person_block(
    person: Person, household: Household, items: frozenset[Item], form: FormKind
) -> PersonBlock:
    pid = person.person_id
    rows: list[tuple[Cell, ...]] = []
    rows.append((Cell("フリガナ", person.name_kana, pid),))
    rows.append((Cell("氏名", person.name, pid, name=True),))
    first = [
        Cell("生年月日", format_wareki(person.birth_date), pid),
        Cell("性別", _SEX_LABELS[person.sex], pid),
    ]
    if Item.HEAD_AND_RELATIONSHIP in items:  # 第4号: one item, 世帯主の氏名及び続柄
        first.append(Cell("続柄", person.relationship, pid))
    rows.append(tuple(first))
    extra: list[Cell] = []
    if Item.FORMER_NAME in items and person.former_name:
        extra.append(Cell("旧氏", person.former_name, pid, name=True))
    if Item.ALIAS in items and person.alias:
        extra.append(Cell("通称", person.alias, pid, name=True))
    if extra:
        rows.append(tuple(extra))
    if Item.HEAD_AND_RELATIONSHIP in items and form is not FormKind.HOUSEHOLD:
        # On the 世帯連記式 the 世帯主 is printed once, in the sheet header.
        rows.append((Cell("世帯主", household.head.name, household.head_person_id, name=True),))
    dates: list[Cell] = []
    if Item.BECAME_RESIDENT in items:
        label = "外国人住民となった年月日" if person.is_foreign else "住民となった年月日"
        dates.append(Cell(label, format_wareki(person.became_resident_on), pid))
    if Item.ADDRESS_SET in items:
        # 第8号's 届出の年月日 goes with the 従前の住所; 第7号 alone is the date.
        reported = person.address_set_reported_on if Item.PREVIOUS_ADDRESS in items else None
        dates.append(
            Cell("住所を定めた年月日", _date_with_report(person.address_set_on, reported), pid)
        )
    if dates:
        rows.append(tuple(dates))
    if Item.PREVIOUS_ADDRESS in items and person.previous_address:
        rows.append((Cell("転入前住所", person.previous_address, pid),))
    if Item.HONSEKI in items and (person.honseki or person.hittosha):
        # Foreign residents have no 本籍: the row is left out rather than printed empty.
        rows.append(
            (
                Cell("本籍", person.honseki or "", pid),
                Cell("筆頭者", person.hittosha or "", pid, name=True),
            )
        )
    numbers: list[Cell] = []
    if Item.JUMINHYO_CODE in items:
        numbers.append(Cell("住民票コード", person.juminhyo_code, pid))
    if Item.MY_NUMBER in items:
        numbers.append(Cell("個人番号", person.my_number or "記録なし", pid))
    if numbers:
        rows.append(tuple(numbers))
    if person.is_foreign:
        rows += _foreign_rows(person, items)
    if form is FormKind.REMOVED:
        rows.append(
            (
                Cell("消除年月日", format_wareki(person.removed_on), pid),
                Cell("消除事由", person.removal_reason or "", pid),
            )
        )
        if person.moved_out_to:
            rows.append((Cell("転出先", person.moved_out_to, pid),))
    if Item.HISTORY in items:
        for entry in person.history:
            text = f"{format_wareki(entry.date)}　{entry.kind}"
            if entry.note:
                text += f"　{entry.note}"
            for i, line in enumerate(_wrap(text, _HISTORY_WRAP)):
                rows.append((Cell("記事" if i == 0 else "", line, pid),))
    return PersonBlock(person_id=pid, rows=tuple(rows))


def block_rows(block: PersonBlock) -> float:
    """The room a person takes on a sheet, in standard rows (see SHEET_ROW_BUDGET)."""
    units = 0.5
    for row in block.rows:
        units += 1.5 if len(row) == 1 and row[0].name else 1.0
    return units


def paginate(blocks: list[PersonBlock]) -> list[list[PersonBlock]]:
    """世帯連記式 sheets: up to 4 persons each, fewer when their rows would not fit."""
    sheets: list[list[PersonBlock]] = []
    current: list[PersonBlock] = []
    used = 0.0
    for block in blocks:
        need = block_rows(block)
        if current and (len(current) == PERSONS_PER_SHEET or used + need > SHEET_ROW_BUDGET):
            sheets.append(current)
            current, used = [], 0.0
        current.append(block)
        used += need
    if current:
        sheets.append(current)
    return sheets


class CertificateError(DomainError):
    """A print model cannot be built (the decision does not allow it)."""


class MissingGlyph(CertificateError):
    """A character (or variation sequence) that no configured font has: the print stops (an
    issuance with it, which then never happened).

    `character` is given as code points ("U+9F8D U+E0100"), never as the name it belongs to;
    `document` names what could not be printed (住民異動届, 転出証明書 …), else the message
    speaks of "この文書".
    """

    def __init__(self, character: str, person_id: str | None, document: str = "") -> None:
        who = f"（個人ID: {person_id}）" if person_id else ""
        super().__init__(
            f"文字 {character} を印刷できるフォントがありません{who}。"
            f"{document or 'この文書'}は印刷できません。外字の登録を担当者に依頼してください。"
        )
        self.character = character
        self.person_id = person_id
        self.document = document


def build_document(
    request: CertificateRequest,
    decision: Decision,
    household: Household,
    *,
    issuance_no: str,
    terminal_no: str,
    issued_on: date,
    municipality: Municipality = DEMO_MUNICIPALITY,
) -> CertificateDocument:
    """The print model of an allowed decision: sheets, rows, ending, 認証文, 和暦 date, fee."""
    if not decision.allowed:
        raise CertificateError("交付が認められていない請求からは証明書を作れません。")
    persons = [household.member(pid) for pid in decision.person_ids]
    form = decision.form
    address = household.address + (f"　{household.katagaki}" if household.katagaki else "")
    blocks = [_person_block(p, household, decision.items[p.person_id], form) for p in persons]

    header: list[Cell] = [Cell("住所", address)]
    if form is FormKind.HOUSEHOLD and any(
        Item.HEAD_AND_RELATIONSHIP in decision.items[pid] for pid in decision.person_ids
    ):
        header.append(Cell("世帯主", household.head.name, household.head_person_id, name=True))

    sheets: list[Sheet] = []
    if form is FormKind.HOUSEHOLD:
        chunks = paginate(blocks)
        for n, chunk in enumerate(chunks, start=1):
            sheets.append(Sheet(n, tuple(header), tuple(chunk), certified=n == len(chunks)))
    else:
        # 個人票 and 除票: each person is a certificate of its own.
        for n, block in enumerate(blocks, start=1):
            sheets.append(Sheet(n, (Cell("住所", address),), (block,), certified=True))

    return CertificateDocument(
        title=FORM_TITLES[form],
        form=form,
        issuance_no=issuance_no,
        terminal_no=terminal_no,
        issued_on=issued_on,
        issued_on_text=format_wareki(issued_on),
        sheets=tuple(sheets),
        ending=ENDING_TEXT,
        certification=CERTIFICATION_TEXT[form],
        municipality=municipality,
        fee_yen=decision.fee_yen,
        copies=decision.copies,
        person_versions=tuple((p.person_id, p.version) for p in persons),
        mail_to=decision.mail_to,
    )
