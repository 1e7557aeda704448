"""image-processor.flow.yaml (and its older versions) on real images: one JPEG per jpg, png and
gif input, fitted within 800x600, quality 85, watermark at the bottom right at 0.7 opacity."""

from __future__ import annotations

from pathlib import Path

import pytest
from dialect_support import DATA, copy_flow, run_flow

from atomiton.nodes.file_system import expand_braces

Image = pytest.importorskip("PIL.Image", reason="image flows need atomiton[image]")

BASE = (204, 51, 51)  # in the GIF palette, so every input has exactly this colour
MARK = (255, 255, 255)
COMPLETE = [
    "image-processor.flow.yaml",
    "history/packages_atomiton_nodes_src_templates_yaml_image-processor.yaml",
    "history/packages_atomiton_nodes_src_composite_templates_image-processor.yaml",
]


def _pictures(tmp_path: Path) -> dict[str, Path]:
    source = tmp_path / "in"
    source.mkdir()
    Image.new("RGB", (1600, 900), BASE).save(source / "wide.jpg", quality=95)
    Image.new("RGBA", (400, 800), (*BASE, 255)).save(source / "tall.png")
    Image.new("RGB", (300, 200), BASE).convert("P").save(source / "small.gif")
    Image.new("RGB", (50, 50), BASE).save(source / "ignored.bmp")
    assets = tmp_path / "assets"
    assets.mkdir()
    Image.new("RGBA", (200, 100), (*MARK, 255)).save(assets / "watermark.png")
    return {
        "/images/input": source,
        "/images/output": tmp_path / "out",
        "/assets/watermark.png": assets / "watermark.png",
    }


def _near(pixel: tuple[int, ...], expected: tuple[float, ...], slack: float = 14) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(pixel, expected))


@pytest.mark.parametrize("name", COMPLETE)
def test_image_processor_writes_watermarked_jpegs(name: str, tmp_path: Path) -> None:
    flow = copy_flow(DATA / name, tmp_path, _pictures(tmp_path), "flow.yaml")
    run_flow(flow, tmp_path)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["small.jpg", "tall.jpg", "wide.jpg"]
    sizes = {}
    reference = Image.new("RGB", (64, 64), BASE)
    reference.save(tmp_path / "q85.jpg", quality=85)
    with Image.open(tmp_path / "q85.jpg") as q85:
        tables = q85.quantization
    for path in out.iterdir():
        with Image.open(path) as picture:
            assert picture.format == "JPEG"
            assert picture.quantization == tables  # written at quality 85
            sizes[path.name] = picture.size
            rgb = picture.convert("RGB")
            width, height = picture.size
            assert _near(rgb.getpixel((5, 5)), BASE)
            if width >= 220 and height >= 120:
                # Watermark (200x100) at the bottom right, 10 px in, at 0.7 opacity.
                blended = tuple(0.3 * b + 0.7 * m for b, m in zip(BASE, MARK))
                assert _near(rgb.getpixel((width - 20, height - 20)), blended)
                assert _near(rgb.getpixel((width - 5, height - 5)), BASE)
    # Fitted inside 800x600 keeping the aspect ratio; like Atomiton's, a small one grows.
    assert sizes == {"wide.jpg": (800, 450), "tall.jpg": (300, 600), "small.jpg": (800, 533)}


def test_oldest_image_processor_lists_by_brace_pattern_and_fits(tmp_path: Path) -> None:
    name = "history/apps_client_src_data_blueprints_image-processor.yaml"
    flow = copy_flow(DATA / name, tmp_path, _pictures(tmp_path), "flow.yaml")
    run_flow(flow, tmp_path)
    written = sorted((tmp_path / "out").iterdir())
    assert [p.stem for p in written] == ["small", "tall", "wide"]
    for path in written:
        with Image.open(path) as picture:
            assert picture.width <= 800 and picture.height <= 600


def test_brace_patterns_expand_like_a_shell() -> None:
    assert expand_braces("*.{jpg,png,gif}") == ["*.gif", "*.jpg", "*.png"]
    assert expand_braces("{a,b}{1,2}") == ["a1", "a2", "b1", "b2"]
    assert expand_braces("x{y,{z,w}}") == ["xw", "xy", "xz"]
    assert expand_braces("*.csv") == ["*.csv"]
    assert expand_braces("odd{") == ["odd{"]
