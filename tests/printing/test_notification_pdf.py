"""The 住民異動届 and the 転出証明書 as PDF, judged by poppler (pdftotext, pdffonts, pdfinfo)."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pdfplumber
import pytest
from msgspec.structs import replace

import printing
from app.domain import certificates as C
from app.domain.certificates import DEMO_MUNICIPALITY
from app.domain.errors import DomainError
from app.domain.notifications.forms import (
    build_move_out_certificate,
    build_notification_form,
    form_digest,
    form_text,
    move_out_certificate_sheet,
)
from printing.fonts import Fonts
from tests.domain.notifications import data as D
from tests.printing import households as H
from tests.printing.conftest import need_tool


def pdftotext(pdf: bytes, tmp_path: Path, *args: str) -> str:
    tool = need_tool("pdftotext", "poppler-utils")
    path = tmp_path / "t.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([tool, *args, str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def pages(pdf: bytes, tmp_path: Path) -> int:
    tool = need_tool("pdfinfo", "poppler-utils")
    path = tmp_path / "p.pdf"
    path.write_bytes(pdf)
    info = subprocess.run([tool, str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]


def squeeze(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text)


def form_pdf(draft) -> bytes:
    return printing.render_notification_form(
        build_notification_form(draft, D.REGISTER, DEMO_MUNICIPALITY)
    )


def test_the_form_carries_everything_for_the_signature(fonts: Fonts, tmp_path: Path) -> None:
    text = squeeze(pdftotext(form_pdf(D.move_within_part()), tmp_path, "-layout"))
    for expected in (
        "住 民 異 動 届",
        "北見市長 様",
        "令和8年4月20日 届出",  # 届出日
        "■転居",  # 異動の種別
        "□転入",
        "令和8年4月12日",  # 異動日
        "北海道北見市北進町123番地4",  # 新住所
        "北海道北見市北5条東2丁目1番地",  # 旧住所
        "コーポ北見101号",  # 方書
        "北見 太郎",  # 世帯主, 届出人
        "北見 花子",
        "キタミ ハナコ",
        "昭和47年8月3日",
        "妻",
        "■本人",
        "■運転免許証",  # 本人確認書類
        "届出人署名",
        "署名確認",  # the clerk's boxes
        "審査",
        "端野総合支所",
    ):
        assert expected in text, expected
    assert pages(form_pdf(D.move_within_part()), tmp_path) == 1


def test_each_procedure_prints(fonts: Fonts, tmp_path: Path) -> None:
    expected = {
        "move_in": ("■転入", "従前の住所", "札幌 健一", "中央-2026-00123"),
        "special_move_in": ("■転入", "個人番号カードによる特例", "カード継続利用"),
        "move_out": ("■転出", "転出予定日", "令和8年5月1日", "転出先"),
        "special_move_out": ("■転出", "転出証明書情報を住基ネットで送信"),
        "head_change": ("■世帯主変更", "北見 花子"),
        "separation": ("■世帯分離", "北見 一郎"),
        "merger": ("■世帯合併", "北見 一男"),
    }
    for name, needles in expected.items():
        text = squeeze(pdftotext(form_pdf(D.VALID[name]()), tmp_path, "-layout"))
        for needle in needles:
            assert needle in text, (name, needle)


def test_seven_persons_continue_on_a_second_sheet(fonts: Fonts, tmp_path: Path) -> None:
    d = D.move_in()
    base = d.movers[0]
    movers = tuple(replace(base, key=f"new-{i}", name=f"札幌　{i}郎") for i in range(1, 8))
    pdf = form_pdf(replace(d, movers=movers))
    assert pages(pdf, tmp_path) == 2
    text = squeeze(pdftotext(pdf, tmp_path, "-layout"))
    assert "1/2枚" in text and "2/2枚" in text
    assert all(f"札幌 {i}郎" in text for i in range(1, 8))


def test_fonts_are_ipamj_embedded(fonts: Fonts, tmp_path: Path) -> None:
    pdffonts = need_tool("pdffonts", "poppler-utils")
    c = build_move_out_certificate(
        D.move_out(),
        D.REGISTER,
        municipality_name="北海道北見市",
        municipality_code="012084",
        certificate_no="北見-1",
    )
    sheet = move_out_certificate_sheet(c, DEMO_MUNICIPALITY, D.TODAY)
    for pdf in (
        form_pdf(D.move_within_part()),
        printing.render_move_out_certificate(sheet, sample=True, municipality_name="北見市"),
    ):
        path = tmp_path / "f.pdf"
        path.write_bytes(pdf)
        out = subprocess.run(
            [pdffonts, str(path)], capture_output=True, text=True, check=True
        ).stdout
        rows = out.strip().splitlines()[2:]
        assert rows, out
        for row in rows:
            assert "IPAmjMincho" in row, row
            emb, sub, uni = row.split()[-5:-2]
            assert (emb, sub, uni) == ("yes", "yes", "yes"), row


def test_ivs_names_print_as_their_variant_and_extract_exactly(fonts: Fonts, tmp_path: Path) -> None:
    name = f"{H.KATSURA_IVS}城　{H.TSUJI_IVS}子"
    d = D.move_in()
    d = replace(d, movers=(replace(d.movers[0], name=name), d.movers[1]))
    raw = pdftotext(form_pdf(d), tmp_path).encode("utf-8")
    for part in name.split("　"):
        assert part.encode("utf-8") in raw


@pytest.mark.parametrize(
    ("name", "code"), [("北見\U0001f600", "U+1F600"), ("葛\U000e0100城", "U+845B U+E0100")]
)
def test_a_character_the_font_lacks_stops_the_print(fonts: Fonts, name: str, code: str) -> None:
    d = D.move_within_part()
    d = replace(d, movers=(replace(d.movers[0], name=name), d.movers[1]))
    with pytest.raises(C.MissingGlyph) as info:
        form_pdf(d)
    assert info.value.person_id == "P1" and code in info.value.message
    assert name not in info.value.message
    assert "住民異動届は印刷できません" in info.value.message


def test_the_move_out_certificate(fonts: Fonts, tmp_path: Path) -> None:
    c = build_move_out_certificate(
        D.move_out(),
        D.REGISTER,
        municipality_name="北海道北見市",
        municipality_code="012084",
        certificate_no="北見-2026-000123",
    )
    sheet = move_out_certificate_sheet(c, DEMO_MUNICIPALITY, D.TODAY)
    issued = printing.render_move_out_certificate(
        sheet, sample=False, municipality_name="北見市", seal_png=printing.demo_seal_png()
    )
    text = squeeze(pdftotext(issued, tmp_path, "-layout"))
    for expected in (
        "転 出 証 明 書",
        "証明書番号 北見-2026-000123",
        "北海道北見市北5条東2丁目1番地 コーポ北見101号",  # 住所
        "北海道札幌市北区北24条西5丁目1番1号",  # 転出先
        "転出予定日 令和8年5月1日",
        "北見 太郎",
        "北見 二葉",
        "平成17年11月30日",
        D.H1.members[1].juminhyo_code,  # 住民票コード
        D.H1.members[1].my_number,  # 個人番号
        "上記のとおり転出の届出があったことを証明する。",
        "北見市長 窓口 太郎",
    ):
        assert expected in text, expected
    sample = printing.render_move_out_certificate(sheet, sample=True, municipality_name="北見市")
    for pdf, marked in ((issued, False), (sample, True)):  # 見本, as pdfplumber sees it
        with pdfplumber.open(io.BytesIO(pdf)) as doc:
            big = "".join(ch["text"] for ch in doc.pages[0].chars if ch["size"] > 100)
        assert ("見本" in big) is marked
    # No 転出証明書 for a 特例転出 (its 転出証明書情報 goes through 住基ネット).
    with pytest.raises(DomainError):
        build_move_out_certificate(
            D.move_out(special=True),
            D.REGISTER,
            municipality_name="北海道北見市",
            municipality_code="012084",
            certificate_no="北見-2",
        )


def test_the_digest_follows_what_is_printed() -> None:
    a = build_notification_form(D.move_within_part(), D.REGISTER, DEMO_MUNICIPALITY)
    b = build_notification_form(
        replace(D.move_within_part(), moved_on=D.date(2026, 4, 13)), D.REGISTER, DEMO_MUNICIPALITY
    )
    assert form_digest(a) != form_digest(b)
    assert "異動日\t令和8年4月12日" in form_text(a)
    assert form_digest(a) == form_digest(
        build_notification_form(D.move_within_part(), D.REGISTER, DEMO_MUNICIPALITY)
    )


def test_a_missing_glyph_stops_the_move_out_certificate(fonts: Fonts) -> None:
    h1 = H.with_member(D.H1, 1, name="北見\U0001f600")
    register = D.Register.of([h1, D.H2, D.H3, D.H4, D.H5])
    c = build_move_out_certificate(
        D.move_out(),
        register,
        municipality_name="北海道北見市",
        municipality_code="012084",
        certificate_no="北見-3",
    )
    sheet = move_out_certificate_sheet(c, DEMO_MUNICIPALITY, D.TODAY)
    with pytest.raises(C.MissingGlyph) as info:
        printing.render_move_out_certificate(
            sheet, sample=False, municipality_name="北見市", seal_png=printing.demo_seal_png()
        )
    assert "転出証明書は印刷できません" in info.value.message and "U+1F600" in info.value.message
