"""IPAmj明朝 for reportlab, with ideographic variation sequences drawn as the right glyph.

reportlab reads only the Unicode cmap of a TrueType font: an IVS (base + U+E0100..U+E01EF)
would print as the base glyph followed by a .notdef box. The font's cmap format 14 says which
glyph each (base, selector) pair maps to. We read that subtable ourselves (it is small and
simple; fontTools would need ~0.3 s more to parse the 46 MB font) and give every sequence in
use a private code point (plane 15) mapped to the variant glyph in reportlab's own tables: its
subsetter then embeds exactly that glyph. The ToUnicode map we write sends the private code
back to base + selector, so text extracted from the PDF is the name as stored.

The font is loaded once per process (≈0.4 s), under a lock, and may be preloaded off the GUI
thread with `preload_in_background()`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont

from app.domain.certificates import MissingGlyph

FONT_NAME = "IPAmjMincho"
FAMILY = "IPAmj明朝"
DEBIAN_PACKAGE = "fonts-ipamj-mincho"
ENV_FONT_PATH = "MADOGUCHI_IPAMJ_FONT"

KNOWN_PATHS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/ipamj/ipamjm.ttf",
    "/usr/share/fonts/opentype/ipamj/ipamjm.ttf",
    "/usr/local/share/fonts/ipamjm.ttf",
    r"C:\Windows\Fonts\ipamjm.ttf",
)

_IVS_FIRST, _IVS_LAST = 0xE0100, 0xE01EF
_VS_FIRST, _VS_LAST = 0xFE00, 0xFE0F
_SELECTOR_RE = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
# Supplementary Private Use Area-A: IPAmj明朝 maps nothing there.
_PRIVATE_FIRST, _PRIVATE_LAST = 0xF0000, 0xFFFFD


class FontNotFound(Exception):
    """IPAmj明朝 is not installed or not readable; the message says how to fix it."""


def is_variation_selector(cp: int) -> bool:
    return _IVS_FIRST <= cp <= _IVS_LAST or _VS_FIRST <= cp <= _VS_LAST


def _windows_paths() -> list[str]:
    local = os.environ.get("LOCALAPPDATA")
    return [str(Path(local) / "Microsoft" / "Windows" / "Fonts" / "ipamjm.ttf")] if local else []


# Inside the frozen program (packaging/madoguchi.spec), with the IPA Font License beside it.
BUNDLED_FONT = Path("fonts") / "ipamjm.ttf"


def bundled_font_path() -> Path | None:
    """The copy of IPAmj明朝 shipped inside the frozen program, or None when not frozen."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) / BUNDLED_FONT if base else None


def find_font_path(configured: str | os.PathLike[str] | None = None) -> Path:
    """The IPAmj明朝 file: configured path, the frozen program's own copy,
    $MADOGUCHI_IPAMJ_FONT, fontconfig, known paths."""
    candidates: list[str] = []
    if configured:
        candidates.append(os.fspath(configured))
    bundled = bundled_font_path()
    if bundled is not None:
        candidates.append(str(bundled))
    if os.environ.get(ENV_FONT_PATH):
        candidates.append(os.environ[ENV_FONT_PATH])
    fc_match = shutil.which("fc-match")
    if fc_match:
        try:
            out = subprocess.run(
                [fc_match, "-f", "%{file}", FAMILY],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        # fc-match always answers with *some* font: accept only the IPAmj file itself.
        if out and Path(out).name.lower().startswith("ipamj"):
            candidates.append(out)
    candidates.extend(KNOWN_PATHS)
    candidates.extend(_windows_paths())
    for c in candidates:
        if Path(c).is_file():
            return Path(c)
    hint = (
        f"Debian/Ubuntu ではパッケージ {DEBIAN_PACKAGE} を入れてください"
        if sys.platform != "win32"
        else "ipamjm.ttf をインストールするか、設定でフォントのパスを指定してください"
    )
    raise FontNotFound(f"{FAMILY}（ipamjm.ttf）が見つかりません。{hint}。")


def parse_cmap14(cmap: bytes) -> dict[tuple[int, int], int | None]:
    """(base, selector) → glyph id from the cmap's format 14 subtable.

    None means a default variation: the base character's own glyph.
    """
    _version, count = struct.unpack_from(">HH", cmap, 0)
    offset = None
    for i in range(count):
        platform, encoding, off = struct.unpack_from(">HHL", cmap, 4 + 8 * i)
        if platform == 0 and encoding == 5:
            offset = off
            break
    result: dict[tuple[int, int], int | None] = {}
    if offset is None:
        return result
    fmt, _length, records = struct.unpack_from(">HLL", cmap, offset)
    if fmt != 14:
        return result
    for r in range(records):
        pos = offset + 10 + 11 * r
        selector = int.from_bytes(cmap[pos : pos + 3], "big")
        default_off, non_default_off = struct.unpack_from(">LL", cmap, pos + 3)
        if default_off:
            base = offset + default_off
            (ranges,) = struct.unpack_from(">L", cmap, base)
            for k in range(ranges):
                p = base + 4 + 4 * k
                start = int.from_bytes(cmap[p : p + 3], "big")
                for cp in range(start, start + cmap[p + 3] + 1):
                    result[(cp, selector)] = None
        if non_default_off:
            base = offset + non_default_off
            (mappings,) = struct.unpack_from(">L", cmap, base)
            for k in range(mappings):
                p = base + 4 + 5 * k
                cp = int.from_bytes(cmap[p : p + 3], "big")
                (gid,) = struct.unpack_from(">H", cmap, p + 3)
                result[(cp, selector)] = gid
    return result


def _utf16_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def _to_unicode_cmap(fontname: str, subset: list[int], texts: dict[int, str]) -> str:
    """ToUnicode CMap; private codes map back to base + selector; astral code points as
    surrogate pairs (reportlab writes them as 5 hex digits, which readers reject)."""
    entries = [
        f"<{i:02X}> <{_utf16_hex(texts.get(code, chr(code)))}>" for i, code in enumerate(subset)
    ]
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo",
        f"<< /Registry ({fontname})",
        f"/Ordering ({fontname})",
        "/Supplement 0",
        ">> def",
        f"/CMapName /{fontname} def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        f"<00> <{len(subset) - 1:02X}>",
        "endcodespacerange",
    ]
    # A bfchar block holds at most 100 entries.
    for start in range(0, len(entries), 100):
        chunk = entries[start : start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines.extend(chunk)
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines)


class _GlyfView:
    """The 'glyf' table without copying it: reportlab's subsetter only slices it, but its
    get_table copies the whole table (~40 MB for IPAmj明朝, ~0.1 s) on every document."""

    def __init__(self, data: bytes, pos: int, length: int) -> None:
        self._view = memoryview(data)[pos : pos + length]

    def __getitem__(self, index: slice) -> bytes:
        return bytes(self._view[index])


class VariantTTFont(TTFont):
    """reportlab TTFont whose private code points stand for IVS glyphs (see module doc)."""

    def __init__(self, name: str, filename: str) -> None:
        super().__init__(name, filename, validate=0)
        self.variant_texts: dict[int, str] = {}
        face = self.face
        plain_get_table = face.get_table

        def get_table(tag: str):  # type: ignore[no-untyped-def]
            if tag == "glyf":
                pos, length = face.get_table_pos(tag)
                return _GlyfView(face._ttf_data, pos, length)
            return plain_get_table(tag)

        face.get_table = get_table

    def addObjects(self, doc) -> None:  # reportlab's method name
        # As reportlab's TTFont.addObjects, with our ToUnicode map.
        try:
            state = self.state[doc]
        except KeyError:
            state = self.state[doc] = TTFont.State(self._asciiReadable)
        state.frozen = 1
        for n, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(n, doc)[1:]
            base_font_name = (
                b"".join((SUBSETN(n), b"+", self.face.name, self.face.subfontNameX))
            ).decode("pdfdoc")
            pdf_font = pdfdoc.PDFTrueTypeFont()
            pdf_font.__Comment__ = f"Font {self.fontName} subset {n}"
            pdf_font.Name = internal_name
            pdf_font.BaseFont = base_font_name
            pdf_font.FirstChar = 0
            pdf_font.LastChar = len(subset) - 1
            pdf_font.Widths = pdfdoc.PDFArray([self.face.getCharWidth(c) for c in subset])
            cmap_stream = pdfdoc.PDFStream()
            cmap_stream.content = _to_unicode_cmap(base_font_name, subset, self.variant_texts)
            if doc.compression:
                cmap_stream.filters = [pdfdoc.PDFZCompress]
            pdf_font.ToUnicode = doc.Reference(cmap_stream, "toUnicodeCMap:" + base_font_name)
            pdf_font.FontDescriptor = self.face.addSubsetObjects(doc, base_font_name, subset)
            doc.Reference(pdf_font, internal_name)
            doc.idToObject["BasicFonts"].dict[internal_name] = pdf_font
        del self.state[doc]


@dataclass
class Fonts:
    """The loaded font and its variation table. Use `get_fonts()`; never build per render."""

    path: Path
    font: VariantTTFont = field(repr=False)
    variants: dict[tuple[int, int], int | None] = field(repr=False)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._private: dict[tuple[int, int], int] = {}
        self._next_private = _PRIVATE_FIRST

    @property
    def name(self) -> str:
        return self.font.fontName

    def has_char(self, cp: int) -> bool:
        return cp in self.font.face.charToGlyph

    def _advance(self, gid: int) -> float:
        """Advance width of a glyph in 1/1000 em, from the raw hhea/hmtx tables (reportlab's
        `hmetrics` mixes raw and scaled values past numberOfHMetrics)."""
        face = self.font.face
        (n_metrics,) = struct.unpack_from(">H", face.get_table("hhea"), 34)
        hmtx_pos, _ = face.get_table_pos("hmtx")
        index = min(gid, n_metrics - 1)
        (advance,) = struct.unpack_from(">H", face._ttf_data, hmtx_pos + 4 * index)
        return face._pdfScale(advance)

    def _private_for(self, base: int, selector: int, gid: int) -> int:
        with self._lock:
            code = self._private.get((base, selector))
            if code is not None:
                return code
            face = self.font.face
            code = self._next_private
            if code > _PRIVATE_LAST:
                raise RuntimeError("too many variation sequences in one process")
            self._next_private += 1
            # Order matters for other threads: width and text before the glyph mapping.
            face.charWidths[code] = self._advance(gid)
            self.font.variant_texts[code] = chr(base) + chr(selector)
            face.charToGlyph[code] = gid
            self._private[(base, selector)] = code
            return code

    def encode(self, text: str, person_id: str | None = None) -> str:
        """`text` as reportlab must draw it: IVS → private code of the variant glyph.

        Raises MissingGlyph for a character, or a sequence, that the font does not have.
        """
        c2g = self.font.face.charToGlyph
        # Fast path (most strings): no selector, and every code point in the font. (Some fonts
        # map the selectors themselves to an empty glyph: they must never pass as is.)
        if _SELECTOR_RE.search(text) is None and all(map(c2g.__contains__, map(ord, text))):
            return text
        out: list[str] = []
        chars = [ord(c) for c in text]
        i = 0
        while i < len(chars):
            cp = chars[i]
            nxt = chars[i + 1] if i + 1 < len(chars) else None
            if nxt is not None and is_variation_selector(nxt):
                if (cp, nxt) not in self.variants:
                    raise MissingGlyph(f"U+{cp:04X} U+{nxt:04X}", person_id)
                gid = self.variants[(cp, nxt)]
                if gid is None:  # default variation: the base glyph is the right one
                    if not self.has_char(cp):
                        raise MissingGlyph(f"U+{cp:04X} U+{nxt:04X}", person_id)
                    gid = self.font.face.charToGlyph[cp]
                out.append(chr(self._private_for(cp, nxt, gid)))
                i += 2
                continue
            if is_variation_selector(cp):  # a selector with nothing before it
                raise MissingGlyph(f"U+{cp:04X}", person_id)
            if cp not in (0x20, 0x3000) and not self.has_char(cp):
                raise MissingGlyph(f"U+{cp:04X}", person_id)
            out.append(chr(cp))
            i += 1
        return "".join(out)

    def check(self, text: str, person_id: str | None = None) -> None:
        self.encode(text, person_id)


_loaded: Fonts | None = None
_load_lock = threading.Lock()
_configured_path: str | None = None


def configure(path: str | os.PathLike[str] | None) -> None:
    """Set the font path from the terminal's settings (Windows installs) before first use."""
    global _configured_path
    _configured_path = os.fspath(path) if path else None


def get_fonts() -> Fonts:
    """The process-wide font, loaded on first use (thread-safe)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    with _load_lock:
        if _loaded is None:
            path = find_font_path(_configured_path)
            try:
                font = VariantTTFont(FONT_NAME, str(path))
            except Exception as exc:
                raise FontNotFound(
                    f"{FAMILY}（{path.name}）を読み込めません。"
                    f"{DEBIAN_PACKAGE} を入れ直してください。"
                ) from exc
            pdfmetrics.registerFont(font)
            variants = parse_cmap14(font.face.get_table("cmap"))
            _loaded = Fonts(path=path, font=font, variants=variants)
    return _loaded


def preload_in_background() -> threading.Thread:
    """Start loading the font on a worker thread (call at start, off the GUI thread)."""

    def _load() -> None:
        # A missing font is reported on first real use, where the message reaches the clerk.
        with contextlib.suppress(FontNotFound):
            get_fonts()

    thread = threading.Thread(target=_load, name="font-preload", daemon=True)
    thread.start()
    return thread
