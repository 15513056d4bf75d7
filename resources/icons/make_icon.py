"""Draw the program icon (窓 in white on a blue rounded square) as resources/icons/madoguchi.ico.

Used by the Windows build (EXE icon, Start-menu shortcut, Add/Remove Programs) and the window.
Run: uv run python resources/icons/make_icon.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE = 256
BLUE = (24, 76, 140, 255)
FONT = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"  # Debian fonts-ipaexfont-gothic
SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def make(out: Path) -> None:
    img = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((8, 8, SIZE - 9, SIZE - 9), radius=40, fill=BLUE)
    font = ImageFont.truetype(FONT, 184)
    draw.text((SIZE / 2, SIZE / 2 + 6), "窓", font=font, fill="white", anchor="mm")
    img.save(out, format="ICO", sizes=SIZES)


if __name__ == "__main__":
    make(Path(__file__).with_name("madoguchi.ico"))
