"""Draw the small sample pictures that examples/image_thumbnails.yaml works on.

The PNGs are committed (a few KB each); run this again to recreate them:
``python examples/make_sample_images.py``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).parent / "images"

SCENES = {
    "sunrise": ((255, 183, 77), (229, 57, 53)),
    "lagoon": ((77, 208, 225), (21, 101, 192)),
    "meadow": ((174, 213, 129), (46, 125, 50)),
    "dusk": ((149, 117, 205), (40, 53, 147)),
}


def draw(
    top: tuple[int, int, int], bottom: tuple[int, int, int], size: tuple[int, int]
) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size)
    pen = ImageDraw.Draw(image)
    for y in range(height):
        t = y / (height - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom))
        pen.line([(0, y), (width, y)], fill=colour)
    pen.ellipse(
        [width * 0.6, height * 0.15, width * 0.85, height * 0.15 + width * 0.25],
        fill=(255, 255, 240),
    )
    return image


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for index, (name, (top, bottom)) in enumerate(sorted(SCENES.items())):
        size = (320 + 40 * index, 200 + 20 * index)
        draw(top, bottom, size).save(HERE / f"{name}.png", optimize=True)


if __name__ == "__main__":
    main()
