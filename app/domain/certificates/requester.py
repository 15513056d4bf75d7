"""Who asks for a 住民票の写し: the requester as a person, the documents shown, the purpose.

住民基本台帳法 §12② (and §12の2②, §12の3④) make the request name the person who asks and the
person at the counter: "someone outside the household" is not an identity. Every requester here
is a `PersonRef` (氏名, 住所, 生年月日; `person_id` when found in this register), and the
judgement of identity documents, authority and 請求事由 are pure functions of this module.

Pure: no I/O. Texts for the resident and the clerk are Japanese.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class RequesterKind(StrEnum):
    SELF = "self"  # 本人 (§12①)
    HOUSEHOLD_MEMBER = "household_member"  # 同一世帯員, a CURRENT member (§12①)
    PROXY = "proxy"  # 任意代理人, with a 委任状 (§12②二, ④)
    LEGAL_REPRESENTATIVE = "legal_representative"  # 法定代理人 (§12④ 法令の規定により)
    PUBLIC_BODY = "public_body"  # 国・地方公共団体の機関 (§12の2)
    THIRD_PARTY = "third_party"  # 本人等以外の者 (§12の3, §15の4③)
    WIDE_AREA = "wide_area"  # 広域交付 (§12の4)


REQUESTER_LABELS: dict[RequesterKind, str] = {
    RequesterKind.SELF: "本人",
    RequesterKind.HOUSEHOLD_MEMBER: "同一世帯員",
    RequesterKind.PROXY: "代理人（委任状）",
    RequesterKind.LEGAL_REPRESENTATIVE: "法定代理人",
    RequesterKind.PUBLIC_BODY: "国・地方公共団体",
    RequesterKind.THIRD_PARTY: "第三者",
    RequesterKind.WIDE_AREA: "広域交付",
}

# Acting for a person who has the §12 (or §15の4①) right.
ACTING_FOR: frozenset[RequesterKind] = frozenset(
    {RequesterKind.PROXY, RequesterKind.LEGAL_REPRESENTATIVE}
)


class ThirdPartyGround(StrEnum):
    """§12の3① 各号: why a third party may have the copy (also the 請求事由's category)."""

    OWN_RIGHTS = "own_rights"  # 一 自己の権利を行使し、又は自己の義務を履行するため
    SUBMISSION = "submission"  # 二 国又は地方公共団体の機関に提出する必要がある
    OTHER = "other"  # 三 その他住民票の記載事項を利用する正当な理由がある


GROUND_LABELS: dict[ThirdPartyGround, str] = {
    ThirdPartyGround.OWN_RIGHTS: "自己の権利行使・義務履行",
    ThirdPartyGround.SUBMISSION: "国・地方公共団体の機関への提出",
    ThirdPartyGround.OTHER: "その他の正当な理由",
}


class Profession(StrEnum):
    """§12の3③ 特定事務受任者 (each with its 法人)."""

    LAWYER = "lawyer"
    JUDICIAL_SCRIVENER = "judicial_scrivener"
    LAND_SURVEYOR = "land_surveyor"
    TAX_ACCOUNTANT = "tax_accountant"
    LABOR_CONSULTANT = "labor_consultant"
    PATENT_ATTORNEY = "patent_attorney"
    MARITIME_AGENT = "maritime_agent"
    ADMINISTRATIVE_SCRIVENER = "administrative_scrivener"


PROFESSION_LABELS: dict[Profession, str] = {
    Profession.LAWYER: "弁護士",
    Profession.JUDICIAL_SCRIVENER: "司法書士",
    Profession.LAND_SURVEYOR: "土地家屋調査士",
    Profession.TAX_ACCOUNTANT: "税理士",
    Profession.LABOR_CONSULTANT: "社会保険労務士",
    Profession.PATENT_ATTORNEY: "弁理士",
    Profession.MARITIME_AGENT: "海事代理士",
    Profession.ADMINISTRATIVE_SCRIVENER: "行政書士",
}


class Representation(StrEnum):
    """法定代理人: who represents by law, and so needs no 委任状 (§12④ 法令の規定により)."""

    PARENT = "parent"  # 親権者
    MINOR_GUARDIAN = "minor_guardian"  # 未成年後見人
    ADULT_GUARDIAN = "adult_guardian"  # 成年後見人
    CURATOR = "curator"  # 保佐人 (代理権付与の審判があるもの)
    ASSISTANT = "assistant"  # 補助人 (代理権付与の審判があるもの)


REPRESENTATION_LABELS: dict[Representation, str] = {
    Representation.PARENT: "親権者",
    Representation.MINOR_GUARDIAN: "未成年後見人",
    Representation.ADULT_GUARDIAN: "成年後見人",
    Representation.CURATOR: "保佐人（代理権あり）",
    Representation.ASSISTANT: "補助人（代理権あり）",
}


class IdentityDocument(StrEnum):
    """Documents shown at the counter: identity (本人確認) and authority (資格の証明)."""

    MY_NUMBER_CARD = "my_number_card"
    JUKI_CARD = "juki_card"
    DRIVERS_LICENSE = "drivers_license"
    PASSPORT = "passport"
    RESIDENCE_CARD = "residence_card"
    STAFF_ID = "staff_id"  # 職員の身分証明書 (公用請求, §12の2③)
    PROFESSIONAL_ID = "professional_id"  # 資格者の身分証明書 (弁護士等の会員証, 写真付き)
    HEALTH_INSURANCE = "health_insurance"
    PENSION_BOOK = "pension_book"
    OTHER_NON_PHOTO = "other_non_photo"
    # Authority, not identity (§12④: 法令の規定により請求の任に当たることを明らかにする書類).
    FAMILY_REGISTER = "family_register"  # 戸籍謄本等 (親権者・未成年後見人)
    GUARDIANSHIP_REGISTRY = "guardianship_registry"  # 後見登記等の登記事項証明書
    WORK_REQUEST_FORM = "work_request_form"  # 職務上請求書 (特定事務受任者)


IDENTITY_LABELS: dict[IdentityDocument, str] = {
    IdentityDocument.MY_NUMBER_CARD: "個人番号カード",
    IdentityDocument.JUKI_CARD: "住民基本台帳カード（写真付き）",
    IdentityDocument.DRIVERS_LICENSE: "運転免許証",
    IdentityDocument.PASSPORT: "旅券",
    IdentityDocument.RESIDENCE_CARD: "在留カード・特別永住者証明書",
    IdentityDocument.STAFF_ID: "職員の身分証明書",
    IdentityDocument.PROFESSIONAL_ID: "資格者の身分証明書（弁護士会員証等）",
    IdentityDocument.HEALTH_INSURANCE: "健康保険の資格確認書等",
    IdentityDocument.PENSION_BOOK: "年金手帳等",
    IdentityDocument.OTHER_NON_PHOTO: "その他の書類（写真なし）",
    IdentityDocument.FAMILY_REGISTER: "戸籍謄本等（親権者・未成年後見人の資格）",
    IdentityDocument.GUARDIANSHIP_REGISTRY: "登記事項証明書（成年後見等）",
    IdentityDocument.WORK_REQUEST_FORM: "職務上請求書",
}

# One of these suffices; otherwise two documents without a photo are needed.
PHOTO_DOCUMENTS: frozenset[IdentityDocument] = frozenset(
    {
        IdentityDocument.MY_NUMBER_CARD,
        IdentityDocument.JUKI_CARD,
        IdentityDocument.DRIVERS_LICENSE,
        IdentityDocument.PASSPORT,
        IdentityDocument.RESIDENCE_CARD,
        IdentityDocument.STAFF_ID,
        IdentityDocument.PROFESSIONAL_ID,
    }
)
# Documents that prove authority; they never count as 本人確認.
AUTHORITY_DOCUMENTS: frozenset[IdentityDocument] = frozenset(
    {
        IdentityDocument.FAMILY_REGISTER,
        IdentityDocument.GUARDIANSHIP_REGISTRY,
        IdentityDocument.WORK_REQUEST_FORM,
    }
)
# §12の4: a photo document of the resident (個人番号カード, 運転免許証, 旅券 ...).
WIDE_AREA_DOCUMENTS: frozenset[IdentityDocument] = PHOTO_DOCUMENTS - {
    IdentityDocument.STAFF_ID,
    IdentityDocument.PROFESSIONAL_ID,
}
# What proves each kind of 法定代理: the 戸籍 for parents and minor guardians, the 後見登記 for
# the others (a 親権者 shown in the same 住民票 as a 子 still asks as 同一世帯員 instead).
REPRESENTATION_PROOF: dict[Representation, IdentityDocument] = {
    Representation.PARENT: IdentityDocument.FAMILY_REGISTER,
    Representation.MINOR_GUARDIAN: IdentityDocument.FAMILY_REGISTER,
    Representation.ADULT_GUARDIAN: IdentityDocument.GUARDIANSHIP_REGISTRY,
    Representation.CURATOR: IdentityDocument.GUARDIANSHIP_REGISTRY,
    Representation.ASSISTANT: IdentityDocument.GUARDIANSHIP_REGISTRY,
}


@dataclass(frozen=True, slots=True)
class PersonRef:
    """A natural person as the clerk identified them: from the register (`person_id` set,
    the other fields as registered) or entered by hand from the document shown."""

    name: str
    address: str = ""
    birth_date: date | None = None
    person_id: str | None = None

    @property
    def registered(self) -> bool:
        return self.person_id is not None


@dataclass(frozen=True, slots=True)
class Purpose:
    """請求事由: the category (own rights or duties / submission to a public body / other
    legitimate reason), the concrete reason, and where the copy goes (提出先)."""

    category: ThirdPartyGround | None = None
    reason: str = ""
    submit_to: str = ""

    @property
    def given(self) -> bool:
        return bool(self.reason.strip())

    def text(self) -> str:
        parts = []
        if self.category is not None:
            parts.append(GROUND_LABELS[self.category])
        if self.reason.strip():
            parts.append(self.reason.strip())
        if self.submit_to.strip():
            parts.append(f"提出先: {self.submit_to.strip()}")
        return "／".join(parts)


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks. `person` is the one at the counter (現に請求の任に当たっている者)."""

    kind: RequesterKind
    person: PersonRef | None = None
    # 代理人・法定代理人: the person whose §12 (or §15の4①) right they exercise.
    principal_id: str | None = None
    representation: Representation | None = None
    has_power_of_attorney: bool = False  # 委任状 (任意代理人)
    # 第三者: the ground of §12の3① (for a 特定事務受任者, the client's ground, §12の3②).
    ground: ThirdPartyGround | None = None
    profession: Profession | None = None  # 特定事務受任者 (§12の3②③)
    client_name: str = ""  # 依頼者の氏名又は名称 (§12の3④五)
    # 第三者が法人のときの名称 (§12の3④一); 公用請求の機関の名称 (§12の2②一).
    organization: str = ""
    staff_title: str = ""  # 公用請求の職員の職名 (§12の2②二)

    @property
    def person_id(self) -> str | None:
        return None if self.person is None else self.person.person_id

    def summary(self) -> str:
        """One line for the record and the audit entry (who, as what, for whom)."""
        parts = [REQUESTER_LABELS[self.kind]]
        if self.representation is not None:
            parts.append(REPRESENTATION_LABELS[self.representation])
        if self.profession is not None:
            parts.append(f"特定事務受任者（{PROFESSION_LABELS[self.profession]}）")
        if self.organization:
            parts.append(self.organization)
        if self.staff_title:
            parts.append(self.staff_title)
        if self.person is not None:
            p = self.person
            who = p.name
            if p.birth_date is not None:
                who += f" {p.birth_date.isoformat()}生"
            if p.address:
                who += f" {p.address}"
            who += f" [{p.person_id}]" if p.person_id else " [登録外]"
            parts.append(who)
        if self.principal_id:
            parts.append(f"本人: {self.principal_id}")
        if self.client_name:
            parts.append(f"依頼者: {self.client_name}")
        if self.ground is not None:
            parts.append(GROUND_LABELS[self.ground])
        return "／".join(parts)


def identity_problem(requester: Requester, documents: tuple[IdentityDocument, ...]) -> str | None:
    """本人確認 (§12③, §12の2③, §12の3⑤, §12の4①) and the proof of authority (§12④)."""
    docs = set(documents)
    kind = requester.kind
    if kind is RequesterKind.PUBLIC_BODY:
        # §12の2③: 国又は地方公共団体の機関の職員たる身分を示す書類.
        if IdentityDocument.STAFF_ID not in docs:
            return "公用請求には、請求する職員の身分証明書の提示が必要です。"
        return None
    if kind is RequesterKind.WIDE_AREA:
        if not docs & WIDE_AREA_DOCUMENTS:
            return (
                "広域交付には、個人番号カードや運転免許証など"
                "写真付きの本人確認書類の提示が必要です。"
            )
        return None
    identity = docs - AUTHORITY_DOCUMENTS
    if not (identity & PHOTO_DOCUMENTS or len(identity) >= 2):
        return (
            "本人確認書類が足りません。"
            "写真付きの書類1点、または写真のない書類2点を提示してください。"
        )
    if kind is RequesterKind.PROXY and not requester.has_power_of_attorney:
        return "代理人による請求には、本人（または同一世帯員）からの委任状が必要です。"
    if kind is RequesterKind.LEGAL_REPRESENTATIVE:
        if requester.representation is None:
            return "法定代理人の種類（親権者、成年後見人など）を選んでください。"
        proof = REPRESENTATION_PROOF[requester.representation]
        if proof not in docs:
            return (
                f"{REPRESENTATION_LABELS[requester.representation]}であることを証明する書類"
                f"（{IDENTITY_LABELS[proof]}）の提示が必要です。"
            )
    if (
        kind is RequesterKind.THIRD_PARTY
        and requester.profession is not None
        and IdentityDocument.WORK_REQUEST_FORM not in docs
    ):
        return "特定事務受任者の請求には、職務上請求書が必要です。"
    return None


def person_problem(requester: Requester) -> str | None:
    """§12②一・二, §12の2②二, §12の3④一・二: the person at the counter must be named, with
    address and birth date when not found in the register (the 加害者 check needs the 4情報)."""
    p = requester.person
    if requester.kind is RequesterKind.PUBLIC_BODY:
        if not requester.organization.strip():
            return "公用請求では、請求する機関の名称を入力してください。"
        if p is None or not p.name.strip() or not requester.staff_title.strip():
            return "公用請求では、請求する職員の職名と氏名を入力してください。"
        return None
    if p is None or not p.name.strip():
        return "請求者（窓口に来た人）を特定してください（検索して選ぶか、氏名等を入力）。"
    if not p.registered and (not p.address.strip() or p.birth_date is None):
        return "登録のない請求者は、氏名・住所・生年月日を本人確認書類のとおり入力してください。"
    return None


# 請求事由 that say nothing: a word of this list, alone or with a suffix such as 「のため」.
_VAGUE_REASONS = frozenset(
    {
        "必要",
        "提出",
        "手続",
        "手続き",
        "確認",
        "申請",
        "私用",
        "個人的",
        "その他",
        "不明",
        "なし",
        "特になし",
        "念のため",
        "念の為",
        "調査",
        "参考",
        "資料",
        "住所確認",
        "事務",
        "業務",
        "仕事",
        "用事",
        "テスト",
        "test",
        "てすと",
    }
)
_REASON_SUFFIX = re.compile(r"(のため|の為|ため|為|用|に使用|に使う|です|。|、)+$")
_NOT_TEXT = re.compile(r"[\s\W_0-9０-９]+")
MIN_REASON_CHARS = 4
MIN_DISTINCT_CHARS = 3  # 「aaaa」「abab」 are keys pressed, not a purpose


def vague_reason(reason: str) -> bool:
    """True when a 請求事由 states no concrete use: fewer than MIN_REASON_CHARS characters of
    text or fewer than MIN_DISTINCT_CHARS different ones, or one of the empty phrases alone
    (「必要なため」「手続きのため」「確認用」「テスト」…)."""
    core = _NOT_TEXT.sub("", unicodedata.normalize("NFKC", reason)).lower()
    if len(core) < MIN_REASON_CHARS or len(set(core)) < MIN_DISTINCT_CHARS:
        return True
    stem = re.sub(r"(な|の)$", "", _REASON_SUFFIX.sub("", core))
    return core in _VAGUE_REASONS or stem in _VAGUE_REASONS or not stem


def purpose_problem(requester: Requester, purpose: Purpose) -> str | None:
    """What the articles require of the 請求事由 for this kind of request (None: fine)."""
    kind = requester.kind
    if kind is RequesterKind.PUBLIC_BODY:
        # §12の2②四: 請求事由 (or, for 犯罪捜査 etc., the need and the 法令の条項).
        if not purpose.given:
            return "公用請求には、請求事由（事務の内容、または根拠となる法令の条項）が必要です。"
        return None
    if kind is RequesterKind.THIRD_PARTY:
        if requester.ground is None:
            return (
                "第三者の請求では、請求の区分"
                "（権利行使・義務履行、国等への提出、その他）を選んでください。"
            )
        if purpose.category is not None and purpose.category is not requester.ground:
            return "請求事由の区分が請求者の区分と一致しません。"
        # §12の3④四: 利用の目的; a phrase that states no use is no purpose.
        if not purpose.given:
            return "第三者による請求には、請求事由（利用の目的）の記載が必要です。"
        if vague_reason(purpose.reason):
            return (
                "請求事由が具体的ではありません。何のために使うのか"
                "（例: 貸金返還請求訴訟の提起のため）を具体的に記入してください。"
            )
        if requester.ground is ThirdPartyGround.SUBMISSION and not purpose.submit_to.strip():
            return "国・地方公共団体の機関に提出する場合は、提出先を記入してください。"
        if requester.profession is not None and not requester.client_name.strip():
            return "特定事務受任者の請求では、依頼者の氏名又は名称を記入してください。"
    return None
