"""Build resources/kanji_variants.tsv: the 異体字 fold table of app.domain.names.fold.

Run on Debian with unicode-data and fonts-ipaexfont installed:

    uv run python tools/build_kanji_variants.py [--out resources/kanji_variants.tsv]

The output is committed, so Windows builds (and the product) never need these packages.
Each line is "variant<TAB>target<TAB>source": the variant character folds to the target. The table
is closed (a target never appears as a variant), keys are NFKC-stable (compatibility ideographs
such as 﨑's neighbours 塚/神 are already folded by NFKC), and the build is deterministic.

Which relations, and why (the table serves *Japanese names*, where a false merge of two distinct
characters is worse than a missed variant, because clerks confirm a hit by the 4情報 anyway):

1. Japanese 新字体/旧字体 pairs, taken from the OpenType features of IPAex明朝 (fonts-ipaexfont):
   `trad` (新字体 → 旧字体: 沢→澤, 徳→德, 斎→齋, 広→廣), `expt`/`nlck` (略字 → 印刷標準字体:
   鴎→鷗, 麺→麵) and `jp78`/`jp90` (the JIS 1978/1983 code swaps: 桧/檜, 篭/籠). The Unicode Han
   database has almost none of these (its 繁/簡 relations are Chinese: 澤's simplified form is
   泽, not 沢). We fold the older form into the newer one, as 人名用漢字 practice treats them as
   the same 字種.
   Excluded: pairs whose 新字体 reused a character that was a *different* word and is still
   written on its own (芸 うん / 藝 げい, 予/豫, 余/餘, 弁/辨/辯/瓣, 缶/罐, 糸/絲, 欠/缺, 虫/蟲,
   台/臺, 体/體, 灯/燈, 党/黨, 罐): folding them would equate distinct names.
2. Unihan_Variants (Debian unicode-data): kZVariant, kSemanticVariant, and kTraditionalVariant/
   kSimplifiedVariant, but *only* to fold a character outside JIS X 0208 into one inside it (髙→高,
   﨑→崎, 张→張 for names written in simplified Chinese). Two JIS X 0208 characters are never
   merged through Unihan: its semantic and 繁/簡 relations join characters that Japanese keeps
   apart (崎/埼, 葉/叶, 機/机, 後/后). kSpecializedSemanticVariant (partial overlap) and
   kSpoofingVariant (look-alikes) are not used.
3. A short list of name variants that neither source has, each one a well-known 異体字 of a
   surname or given-name character (嶋/嶌→島, 邉→辺, 嵜→崎, 齊/斉→斎 for サイトウ, 𠮷→吉,
   冨→富, 舘→館, 渕→淵, 峯→峰, 栁→柳, 濵→浜). See MANUAL below.

Chains are resolved (濵→濱→浜 becomes 濵→浜).
"""

from __future__ import annotations

import argparse
import bz2
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path

UNIHAN_CANDIDATES = (
    Path("/usr/share/unicode/Unihan_Variants.txt.bz2"),
    Path("/usr/share/unicode/Unihan_Variants.txt"),
    Path("/usr/share/unicode/Unihan.zip"),
)
IPAEX = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")
FONT_FEATURES = ("trad", "expt", "nlck", "jp78", "jp90")

# 新字体 that reused a distinct older character: never fold anything into these (see docstring).
BORROWED = set("芸予余弁缶糸欠虫台体灯党")

MANUAL: tuple[tuple[str, str], ...] = (
    ("嶋", "島"),
    ("嶌", "島"),
    ("嵜", "崎"),
    ("﨑", "崎"),
    ("邉", "辺"),
    ("邊", "辺"),
    ("齊", "斎"),
    ("斉", "斎"),
    ("齋", "斎"),
    ("髙", "高"),
    ("\U00020bb7", "吉"),  # 𠮷 (つちよし)
    ("冨", "富"),
    ("舘", "館"),
    ("渕", "淵"),
    ("峯", "峰"),
    ("栁", "柳"),
    ("濵", "浜"),
    ("澤", "沢"),
    ("濱", "浜"),
    ("德", "徳"),
)

# Preference of the Unihan relations when a character has several candidate targets.
UNIHAN_PRIORITY = {
    "kZVariant": 0,
    "kSemanticVariant:Z": 1,
    "kSemanticVariant": 2,
    "kTraditionalVariant": 3,
    "kSimplifiedVariant": 3,
}
_CP = re.compile(r"U\+([0-9A-F]{4,6})(<[^ ]*)?")


def jis_rank(ch: str) -> int:
    """0: JIS X 0208 第1水準, 1: 第2水準, 2: JIS X 0213 only, 3: outside JIS."""
    try:
        code = ch.encode("shift_jis")
    except UnicodeEncodeError:
        try:
            ch.encode("shift_jis_2004")
        except UnicodeEncodeError:
            return 3
        return 2
    if len(code) != 2:
        return 3
    return 0 if int.from_bytes(code, "big") < 0x989F else 1


def is_ideograph(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("CJK ") and "IDEOGRAPH" in unicodedata.name(ch, "")


def read_unihan() -> str:
    for path in UNIHAN_CANDIDATES:
        if not path.exists():
            continue
        if path.suffix == ".bz2":
            return bz2.open(path, "rt", encoding="utf-8").read()
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                return z.read("Unihan_Variants.txt").decode("utf-8")
        return path.read_text(encoding="utf-8")
    raise SystemExit("Unihan_Variants not found: apt-get install unicode-data")


def unihan_edges(text: str) -> Iterator[tuple[str, str, int]]:
    for line in io.StringIO(text):
        if line.startswith("#") or not line.strip():
            continue
        cp, field, values = line.rstrip("\n").split("\t", 2)
        if field not in (
            "kZVariant",
            "kSemanticVariant",
            "kTraditionalVariant",
            "kSimplifiedVariant",
        ):
            continue
        src = chr(int(cp[2:], 16))
        for m in _CP.finditer(values):
            dst = chr(int(m[1], 16))
            key = field + (":Z" if field == "kSemanticVariant" and ":Z" in (m[2] or "") else "")
            yield src, dst, UNIHAN_PRIORITY[key]


def font_edges() -> Iterator[tuple[str, str, str]]:
    """(older form, newer form, feature) from IPAex明朝's substitution features."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(IPAEX))
    reverse: dict[str, list[int]] = {}
    for cp, glyph in font.getBestCmap().items():
        reverse.setdefault(glyph, []).append(cp)
    gsub = font["GSUB"].table
    for record in gsub.FeatureList.FeatureRecord:
        tag = record.FeatureTag
        if tag not in FONT_FEATURES:
            continue
        for index in record.Feature.LookupListIndex:
            for sub in gsub.LookupList.Lookup[index].SubTable:
                sub = getattr(sub, "ExtSubTable", sub)
                mapping = getattr(sub, "mapping", None)
                if mapping is None and getattr(sub, "alternates", None):
                    mapping = {k: v[0] for k, v in sub.alternates.items()}
                for new_glyph, old_glyph in (mapping or {}).items():
                    for new_cp in reverse.get(new_glyph, ()):
                        for old_cp in reverse.get(old_glyph, ()):
                            if new_cp != old_cp:
                                yield chr(old_cp), chr(new_cp), tag


def _usable(ch: str) -> bool:
    return is_ideograph(ch) and unicodedata.normalize("NFKC", ch) == ch


def build() -> dict[str, tuple[str, str]]:
    proposals: dict[str, tuple[tuple[int, int, int, int], str, str]] = {}

    def propose(src: str, dst: str, priority: int, source: str) -> None:
        if src == dst or not (_usable(src) and _usable(dst)):
            return
        if dst in BORROWED or src in BORROWED:
            return
        key = (priority, jis_rank(dst), ord(dst), 0)
        if src not in proposals or key < proposals[src][0]:
            proposals[src] = (key, dst, source)

    for src, dst, _ in [(a, b, 0) for a, b in MANUAL]:
        propose(src, dst, 0, "manual")
    for old, new, tag in font_edges():
        if tag in ("jp78", "jp90"):
            # Code swaps go both ways: fold towards the more common JIS level, then code point.
            if (jis_rank(new), ord(new)) > (jis_rank(old), ord(old)):
                old, new = new, old
        elif jis_rank(new) > jis_rank(old) and jis_rank(new) >= 2:
            continue  # never fold a JIS X 0208 character into one outside it
        propose(old, new, 1, f"ipaex:{tag}")
    for src, dst, priority in unihan_edges(read_unihan()):
        if jis_rank(src) >= 2 and jis_rank(dst) <= 1:
            propose(src, dst, 2 + priority, "unihan")

    table = {src: (dst, source) for src, (_, dst, source) in proposals.items()}
    # Resolve chains; a cycle (rare, from opposite proposals) stops at its best-ranked member.
    resolved: dict[str, tuple[str, str]] = {}
    for src, (dst, source) in table.items():
        seen = [src]
        while dst in table and dst not in seen:
            seen.append(dst)
            dst = table[dst][0]
        if dst in seen:
            dst = min(seen, key=lambda c: (jis_rank(c), ord(c)))
        if dst != src:
            resolved[src] = (dst, source)
    # Targets must be fixed points.
    for src in list(resolved):
        dst = resolved[src][0]
        if dst in resolved:
            resolved[src] = resolved[dst]
    return {s: t for s, t in resolved.items() if s != t[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("resources/kanji_variants.tsv"))
    args = parser.parse_args(argv)
    table = build()
    lines = [
        "# 異体字 fold table for app.domain.names.fold. Generated by tools/build_kanji_variants.py",
        f"# from Unihan {unicodedata.unidata_version} variants, IPAex明朝 features and a manual"
        " list; do not edit.",
        "# variant\ttarget\tsource",
    ]
    for src in sorted(table, key=ord):
        dst, source = table[src]
        lines.append(f"{src}\t{dst}\t{source}")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(table)} folds written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
