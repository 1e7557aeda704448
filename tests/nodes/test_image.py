"""image: every operation on real images made with Pillow, checked by size, mode, format, pixels."""

from __future__ import annotations

import io
import pickle
from pathlib import Path


import pytest
from PIL import Image

from atomiton.nodes import registry
from atomiton.nodes.image import SPEC, ImageError, Params, place, resized_size, run
from compiled import run_blueprint

RED = (255, 0, 0, 255)
BLUE = (0, 0, 255, 255)


def make(
    tmp_path: Path,
    name: str,
    size: tuple[int, int],
    color: tuple[int, ...] = RED,
    mode: str = "RGBA",
) -> str:
    path = tmp_path / name
    Image.new(mode, size, color[: len(mode)] if mode != "RGBA" else color).save(path)
    return str(path)


def opened(path: str) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.copy()


@pytest.mark.parametrize(
    ("fit", "expected"),
    [
        ("cover", (100, 100)),
        ("contain", (100, 100)),
        ("fill", (100, 100)),
        ("inside", (100, 50)),
        ("outside", (200, 100)),
    ],
)
def test_resize_fits(tmp_path: Path, fit: str, expected: tuple[int, int]) -> None:
    base = make(tmp_path, "in.png", (400, 200))
    out = run(Params(operation="resize", width=100, height=100, fit=fit, output=str(tmp_path / "out.png")), base_image=base)  # type: ignore[arg-type]
    assert (out.width, out.height) == expected == opened(out.result).size
    assert out.format == "png" and out.size == Path(out.result).stat().st_size


def test_resize_contain_pads_with_transparency_and_cover_crops_at_position(tmp_path: Path) -> None:
    left_red_right_blue = Image.new("RGBA", (200, 100), BLUE)
    left_red_right_blue.paste(Image.new("RGBA", (100, 100), RED), (0, 0))
    source = tmp_path / "two.png"
    left_red_right_blue.save(source)
    out = run(
        Params(
            operation="resize", width=100, height=100, fit="contain", output=str(tmp_path / "c.png")
        ),
        base_image=str(source),
    )
    image = opened(out.result)
    assert image.getpixel((50, 5)) == (0, 0, 0, 0) and image.getpixel((10, 50)) == RED
    out = run(
        Params(
            operation="resize",
            width=50,
            height=50,
            fit="cover",
            position="right",
            output=str(tmp_path / "r.png"),
        ),
        base_image=str(source),
    )
    assert opened(out.result).getpixel((25, 25)) == BLUE


def test_resize_with_one_side_keeps_aspect_and_needs_a_side(tmp_path: Path) -> None:
    base = make(tmp_path, "in.png", (300, 150))
    out = run(
        Params(operation="resize", width=100, output=str(tmp_path / "o.png")), base_image=base
    )
    assert (out.width, out.height) == (100, 50)
    with pytest.raises(ImageError, match="width or a height"):
        run(Params(operation="resize", output=str(tmp_path / "o.png")), base_image=base)
    assert resized_size((300, 150), None, 30, "fill") == (60, 30)
    # The port is also a parameter: a path in the YAML works without an edge.
    out = run(
        Params.model_validate(
            {
                "operation": "resize",
                "height": 30,
                "baseImage": base,
                "output": str(tmp_path / "p.png"),
            }
        )
    )
    assert (out.width, out.height) == (60, 30)


def test_bytes_input_jpeg_output_with_quality(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 32), (0, 200, 0)).save(buffer, format="PNG")
    high = run(
        Params(operation="convert", format="jpeg", quality=95, output=str(tmp_path / "h.jpg")),
        base_image=buffer.getvalue(),
    )
    low = run(
        Params(operation="convert", quality=5, output=str(tmp_path / "l.jpeg")),
        base_image=buffer.getvalue(),
    )
    for out in (high, low):
        image = Image.open(out.result)
        assert (
            image.format == "JPEG"
            and image.mode == "RGB"
            and image.size == (64, 32)
            and out.format == "jpeg"
        )
    assert low.size < high.size


def test_convert_to_webp_and_default_output(tmp_path: Path) -> None:
    base = make(tmp_path, "in.png", (20, 10))
    out = run(Params(operation="convert", format="webp"), base_image=base)
    try:
        assert out.result.endswith(".webp") and Image.open(out.result).format == "WEBP"
    finally:
        Path(out.result).unlink()
    with pytest.raises(ImageError, match="cannot tell the format"):
        run(Params(operation="convert", output=str(tmp_path / "x.bmp")), base_image=base)


def test_crop_at_position(tmp_path: Path) -> None:
    image = Image.new("RGBA", (100, 100), RED)
    image.paste(Image.new("RGBA", (10, 10), BLUE), (90, 90))
    path = tmp_path / "in.png"
    image.save(path)
    out = run(
        Params(
            operation="crop",
            width=10,
            height=10,
            position="bottom-right",
            output=str(tmp_path / "o.png"),
        ),
        base_image=str(path),
    )
    cropped = opened(out.result)
    assert cropped.size == (10, 10) and cropped.getcolors() == [(100, BLUE)]
    with pytest.raises(ImageError, match="larger than the image"):
        run(
            Params(operation="crop", width=200, height=10, output=str(tmp_path / "o.png")),
            base_image=str(path),
        )


def test_rotate_clockwise_and_arbitrary_angle(tmp_path: Path) -> None:
    image = Image.new("RGBA", (40, 20), RED)
    image.putpixel((0, 0), BLUE)
    path = tmp_path / "in.png"
    image.save(path)
    out = run(
        Params(operation="rotate", angle=90, output=str(tmp_path / "r.png")), base_image=str(path)
    )
    rotated = opened(out.result)
    # Clockwise: the top-left corner moves to the top-right.
    assert rotated.size == (20, 40) and rotated.getpixel((19, 0)) == BLUE
    out = run(
        Params(operation="rotate", angle=45, output=str(tmp_path / "r45.png")), base_image=str(path)
    )
    assert out.width > 40 and out.height > 20


@pytest.mark.parametrize(
    ("direction", "corner"), [("horizontal", (9, 0)), ("vertical", (0, 9)), ("both", (9, 9))]
)
def test_flip(tmp_path: Path, direction: str, corner: tuple[int, int]) -> None:
    image = Image.new("RGBA", (10, 10), RED)
    image.putpixel((0, 0), BLUE)
    path = tmp_path / "in.png"
    image.save(path)
    out = run(Params(operation="flip", direction=direction, output=str(tmp_path / "f.png")), base_image=str(path))  # type: ignore[arg-type]
    assert opened(out.result).getpixel(corner) == BLUE


def test_thumbnail_never_enlarges(tmp_path: Path) -> None:
    base = make(tmp_path, "in.png", (400, 200))
    out = run(
        Params(operation="thumbnail", width=100, height=100, output=str(tmp_path / "t.png")),
        base_image=base,
    )
    assert (out.width, out.height) == (100, 50)
    small = make(tmp_path, "s.png", (40, 20))
    out = run(
        Params(operation="thumbnail", width=100, height=100, output=str(tmp_path / "t2.png")),
        base_image=small,
    )
    assert (out.width, out.height) == (40, 20)


def test_overlay_applies_opacity(tmp_path: Path) -> None:
    base = make(tmp_path, "red.png", (20, 20), RED)
    mark = make(tmp_path, "blue.png", (10, 10), BLUE)
    params = Params(
        operation="overlay", opacity=0.5, position="top-left", output=str(tmp_path / "o.png")
    )
    image = opened(run(params, base_image=base, overlay_image=mark).result)
    red, green, blue, alpha = image.getpixel((5, 5))  # type: ignore[misc]
    assert abs(red - 128) <= 1 and green == 0 and abs(blue - 127) <= 1 and alpha == 255
    assert image.getpixel((15, 15)) == RED


def test_blend_mixes_pixels_by_opacity(tmp_path: Path) -> None:
    base = make(tmp_path, "red.png", (8, 8), RED)
    other = make(tmp_path, "blue.png", (4, 4), BLUE)
    out = run(
        Params(operation="blend", opacity=0.25, output=str(tmp_path / "b.png")),
        base_image=base,
        overlay_image=other,
    )
    red, green, blue, _ = opened(out.result).getpixel((3, 3))  # type: ignore[misc]
    assert (out.width, out.height) == (8, 8)
    assert abs(red - 191) <= 1 and green == 0 and abs(blue - 64) <= 1


def test_watermark_with_image_and_text(tmp_path: Path) -> None:
    base = make(tmp_path, "base.png", (100, 60), (0, 0, 0, 255))
    mark = make(tmp_path, "mark.png", (10, 10), (255, 255, 255, 255))
    out = run(
        Params(
            operation="watermark",
            position="bottom-right",
            margin=2,
            opacity=1.0,
            output=str(tmp_path / "w.png"),
        ),
        base_image=base,
        overlay_image=mark,
    )
    image = opened(out.result)
    assert image.getpixel((95, 55)) == (255, 255, 255, 255) and image.getpixel((99, 59)) == (
        0,
        0,
        0,
        255,
    )
    out = run(
        Params(operation="watermark", text="hi", output=str(tmp_path / "t.png")), base_image=base
    )
    assert opened(out.result).convert("L").getextrema()[1] > 100  # type: ignore[operator]
    with pytest.raises(ImageError, match="overlayImage or a text"):
        run(Params(operation="watermark", output=str(tmp_path / "x.png")), base_image=base)


def test_merge_and_composite(tmp_path: Path) -> None:
    a = make(tmp_path, "a.png", (10, 20), RED)
    b = make(tmp_path, "b.png", (30, 10), BLUE)
    out = run(Params(operation="merge", images=[a, b], output=str(tmp_path / "m.png")))
    assert (out.width, out.height) == (40, 20)
    out = run(
        Params(operation="merge", direction="vertical", output=str(tmp_path / "v.png")),
        base_image=a,
        images=[b],
    )
    merged = opened(out.result)
    assert (
        merged.size == (30, 30)
        and merged.getpixel((0, 25)) == BLUE
        and merged.getpixel((20, 5)) == (0, 0, 0, 0)
    )
    out = run(
        Params(operation="composite", position="top-left", output=str(tmp_path / "c.png")),
        base_image=a,
        images=[b],
    )
    composite = opened(out.result)
    assert (
        composite.size == (10, 20)
        and composite.getpixel((5, 5)) == BLUE
        and composite.getpixel((5, 15)) == RED
    )
    with pytest.raises(ImageError, match="at least two"):
        run(Params(operation="merge", output=str(tmp_path / "m.png")), images=[a])


def test_finishing_filters(tmp_path: Path) -> None:
    image = Image.new("RGBA", (20, 20), RED)
    image.paste(Image.new("RGBA", (10, 20), BLUE), (10, 0))
    path = tmp_path / "in.png"
    image.save(path)
    out = run(
        Params(operation="convert", grayscale=True, output=str(tmp_path / "g.png")),
        base_image=str(path),
    )
    assert opened(out.result).mode == "LA"
    gray = run(
        Params(operation="convert", grayscale=True, output=str(tmp_path / "g.jpg")),
        base_image=str(path),
    )
    assert Image.open(gray.result).mode == "L"
    blurred = opened(
        run(
            Params(operation="convert", blur=3, output=str(tmp_path / "b.png")),
            base_image=str(path),
        ).result
    )
    red, _, blue, _ = blurred.getpixel((10, 10))  # type: ignore[misc]
    assert 0 < red < 255 and 0 < blue < 255
    sharp = run(
        Params(operation="convert", sharpen=True, output=str(tmp_path / "s.png")),
        base_image=str(path),
    )
    assert opened(sharp.result).mode == "RGBA"


def test_unreadable_input_and_missing_base(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not an image"):
        run(Params(operation="convert", output=str(tmp_path / "o.png")), base_image=b"not an image")
    with pytest.raises(ImageError, match="needs a baseImage"):
        run(Params(operation="rotate", output=str(tmp_path / "o.png")))


def test_place_positions() -> None:
    assert place((100, 50), (10, 10), "center") == (45, 20)
    assert place((100, 50), (10, 10), "top-right", 5) == (85, 5)
    assert place((100, 50), (10, 10), "bottom-left", 5) == (5, 35)


def test_spec_and_picklable_call() -> None:
    assert registry.get("image") is SPEC
    assert SPEC.execution == "process" and SPEC.requires == ("PIL",) and SPEC.extra == "image"
    assert [p.name for p in SPEC.outputs] == ["result", "width", "height", "format", "size"]
    assert pickle.loads(pickle.dumps(run)) is run
    params = Params.model_validate({"operation": "resize", "width": 3, "fit": "inside"})
    assert pickle.loads(pickle.dumps(params)) == params


# -- compiled end to end --------------------------------------------------------------------------


def test_compiled_blueprint_resizes(tmp_path: Path) -> None:
    source = make(tmp_path, "in.png", (40, 20))
    text = f"""
id: i
nodes:
  - id: small
    type: image
    parameters: {{operation: resize, width: 10, baseImage: {source!r}, output: {str(tmp_path / "out.png")!r}}}
"""
    outputs = run_blueprint(tmp_path, text, "_image.run")
    assert opened(outputs.small).size == (10, 5)
