"""The image node's watermark ``scale``: the watermark's width as a share of the image's width
(Atomiton's parameter, once dropped with W1003), checked pixel by pixel."""

from __future__ import annotations

from pathlib import Path

import pytest
from dialect_support import DATA, compile_flow

from atomiton.nodes.image import Params, run

Image = pytest.importorskip("PIL.Image", reason="the image node needs Pillow")

BLUE = (0, 0, 255)
RED = (255, 0, 0)


def _pictures(tmp_path: Path) -> tuple[Path, Path]:
    Image.new("RGB", (200, 100), BLUE).save(tmp_path / "base.png")
    Image.new("RGBA", (40, 20), (*RED, 255)).save(tmp_path / "mark.png")
    return tmp_path / "base.png", tmp_path / "mark.png"


def _watermark(tmp_path: Path, **extra: object) -> tuple[tuple[int, int], object]:
    base, mark = _pictures(tmp_path)
    params = Params.model_validate(
        {
            "operation": "watermark",
            "overlayImage": str(mark),
            "position": "bottom-right",
            "output": str(tmp_path / "out.png"),
            **extra,
        }
    )
    result = run(params, base_image=str(base))
    with Image.open(result.result) as picture:
        rgb = picture.convert("RGB")
    return (result.width, result.height), rgb


def test_scale_sizes_the_watermark_by_the_image_width(tmp_path: Path) -> None:
    size, rgb = _watermark(tmp_path, scale=0.5)
    assert size == (200, 100)  # the image keeps its size
    # 40x20 scaled to half of 200 wide: 100x50, at the bottom right.
    assert rgb.getpixel((100, 50)) == RED
    assert rgb.getpixel((199, 99)) == RED
    assert rgb.getpixel((99, 99)) == BLUE
    assert rgb.getpixel((150, 49)) == BLUE


def test_without_scale_the_watermark_keeps_its_own_size(tmp_path: Path) -> None:
    _, rgb = _watermark(tmp_path)
    assert rgb.getpixel((160, 80)) == RED
    assert rgb.getpixel((159, 99)) == BLUE
    assert rgb.getpixel((199, 79)) == BLUE


def test_scale_works_with_margin_and_opacity(tmp_path: Path) -> None:
    _, rgb = _watermark(tmp_path, scale=0.1, margin=10, opacity=0.5)
    # 20x10 placed 10 px in from the bottom right: x 170..189, y 80..89, half red over blue.
    r, g, b = rgb.getpixel((180, 85))
    assert abs(r - 128) <= 2 and g == 0 and abs(b - 127) <= 2
    assert rgb.getpixel((169, 85)) == BLUE
    assert rgb.getpixel((180, 90)) == BLUE


@pytest.mark.parametrize("scale", [0, -1, 1.5])
def test_a_scale_outside_zero_to_one_is_refused(scale: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        Params.model_validate({"operation": "watermark", "scale": scale})


def test_the_atomiton_template_keeps_its_scale(tmp_path: Path) -> None:
    compiled = compile_flow(DATA / "image-processor.flow.yaml", tmp_path)
    assert not [w for w in compiled.warnings if w.code == "W1003" and "'scale'" in w.message]
