"""Draw the demo 公印 (北見市長之印, a square seal in vermilion) as resources/seal/demo_seal.png.

The real seal image is configured by the municipality; this one only makes the demo complete.
Run: uv run python resources/seal/make_demo_seal.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE = 240
RED = (200, 30, 30, 235)
FONT = "/usr/share/fonts/truetype/ipamj/ipamjm.ttf"
# Read top to bottom, columns right to left: 北見 / 市長 / 之印.
COLUMNS = ("北見", "市長", "之印")


def make(out: Path) -> None:
    img = Image.new("RGBA", (SIZE, SIZE), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    draw.rectangle((6, 6, SIZE - 7, SIZE - 7), outline=RED, width=12)
    font = ImageFont.truetype(FONT, 88)
    cell_w = (SIZE - 36) / 3
    for col, chars in enumerate(COLUMNS):
        x = SIZE - 18 - cell_w * (col + 1) + cell_w / 2
        for row, ch in enumerate(chars):
            y = 18 + (SIZE - 36) / 4 + row * (SIZE - 36) / 2
            # Squeeze each glyph horizontally to fit three columns, as seal script does.
            glyph = Image.new("RGBA", (100, 100), (255, 255, 255, 0))
            ImageDraw.Draw(glyph).text((50, 50), ch, font=font, fill=RED, anchor="mm")
            glyph = glyph.resize((int(cell_w), 100))
            img.alpha_composite(glyph, (int(x - cell_w / 2), int(y - 50)))
    img.save(out, optimize=True)


if __name__ == "__main__":
    make(Path(__file__).with_name("demo_seal.png"))
