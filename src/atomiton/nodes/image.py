"""The ``image`` node: resize, crop, rotate, combine and re-encode images with Pillow.

This module owns the geometry of every operation (the sizes each ``fit`` produces, where
``position`` places things), opacity, the finishing filters and writing the file. Pillow is
imported inside the functions, so listing node types never loads it; ``run`` is a module-level
function of picklable arguments because the node may run in a worker process (its context
arrives there detached, carrying the run's confinement).
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import Field

from ..runtime.confine import Roots, check_path
from ..runtime.files import atomic_writer, clean_up_on_sigterm
from .spec import NodeParams, Port, node_spec

if TYPE_CHECKING:
    from PIL.Image import Image

    from ..runtime.context import NodeContext

Operation = Literal[
    "resize",
    "crop",
    "rotate",
    "flip",
    "convert",
    "thumbnail",
    "overlay",
    "merge",
    "composite",
    "blend",
    "watermark",
]
Position = Literal[
    "center",
    "top",
    "bottom",
    "left",
    "right",
    "top-left",
    "top-right",
    "bottom-left",
    "bottom-right",
]
ImageFormat = Literal["png", "jpeg", "webp"]
ImageSource = str | os.PathLike[str] | bytes

_PIL_FORMATS: Final = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
_EXTENSIONS: Final[dict[str, ImageFormat]] = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
}


class ImageError(ValueError):
    """The operation cannot be applied to these images with these parameters."""


class Params(NodeParams):
    """Parameters of the ``image`` node."""

    operation: Operation = Field(default="resize", description="What to do with the image.")
    base_image: str | None = Field(
        default=None, description="Path of the image to work on, unless an edge feeds baseImage."
    )
    overlay_image: str | None = Field(
        default=None, description="Path of the second image, unless an edge feeds overlayImage."
    )
    images: list[str] = Field(
        default_factory=list,
        description="Image paths for merge and composite (after baseImage, when one is given).",
    )
    output: str | None = Field(
        default=None,
        description="Where to write the result; by default a new file in the system's temporary folder.",
    )
    width: int | None = Field(
        default=None, gt=0, description="Target width in pixels (resize, crop, thumbnail)."
    )
    height: int | None = Field(
        default=None, gt=0, description="Target height in pixels (resize, crop, thumbnail)."
    )
    fit: Literal["cover", "contain", "fill", "inside", "outside"] = Field(
        default="cover",
        description=(
            "How resize meets width x height. cover: exactly that size, scaled to cover it and "
            "cropped at `position`; contain: exactly that size, scaled to fit inside and padded "
            "with transparency; fill: exactly that size, stretched; inside: aspect kept, as large "
            "as possible within both; outside: aspect kept, as small as possible covering both."
        ),
    )
    position: Position = Field(
        default="center",
        description="Where cover crops, contain pads, crop cuts and overlay, composite and watermark place.",
    )
    format: ImageFormat | None = Field(
        default=None, description="Output format; by default from the output's extension, else png."
    )
    quality: int = Field(default=90, ge=1, le=100, description="Encoder quality for jpeg and webp.")
    follow_symlinks: bool = Field(
        default=False,
        description=(
            "When `output` is a symbolic link, write the file it points at (the link stays); "
            "when it is a FIFO or a device, write into it. false refuses such outputs."
        ),
    )
    opacity: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="Opacity of the overlay (overlay, composite, watermark) or the second image's weight (blend).",
    )
    blur: float = Field(
        default=0.0, ge=0.0, description="Gaussian blur radius applied to the result (0: none)."
    )
    sharpen: bool = Field(default=False, description="Sharpen the result.")
    grayscale: bool = Field(
        default=False, description="Convert the result to grayscale (alpha kept)."
    )
    angle: float = Field(
        default=90.0, description="rotate: degrees clockwise; the canvas grows to fit."
    )
    direction: Literal["horizontal", "vertical", "both"] = Field(
        default="horizontal",
        description="flip: horizontal mirrors left-right, vertical upside down; merge: the direction images are joined in.",
    )
    text: str | None = Field(
        default=None, description="watermark: text to draw when no overlayImage is given."
    )
    margin: int = Field(
        default=0,
        ge=0,
        description="Distance in pixels from the edge for overlay, composite and watermark.",
    )
    scale: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description=(
            "watermark: the watermark's width as a share of the image's width (0.25: a quarter), "
            "its aspect ratio kept. Default: the watermark's own size."
        ),
    )


@dataclass(frozen=True, slots=True)
class Output:
    """What ``image`` produces: the written file and its properties."""

    result: Annotated[str, Port(type="path", description="The written file.")]
    width: Annotated[int, Port(description="Width of the result in pixels.")]
    height: Annotated[int, Port(description="Height of the result in pixels.")]
    format: Annotated[str, Port(description="png, jpeg or webp.")]
    size: Annotated[int, Port(description="Size of the written file in bytes.")]


def run(
    params: Params,
    *,
    base_image: Annotated[
        ImageSource | None,
        Port(description="The image to work on: a path or the image's bytes."),
    ] = None,
    overlay_image: Annotated[
        ImageSource | None,
        Port(description="The second image of overlay, composite, blend and watermark."),
    ] = None,
    images: Annotated[
        list[ImageSource] | None,
        Port(description="Images (paths or bytes) for merge and composite."),
    ] = None,
    context: NodeContext | None = None,
) -> Output:
    """Apply ``params.operation`` and write the result.

    Args:
        params: the node's parameters.
        base_image: the image to work on: a path or the encoded bytes of an image.
        overlay_image: the second image of overlay, composite, blend and watermark.
        images: images for merge and composite; replaces ``params.images`` when given.
        context: cancellation (checked before the file is replaced) and the run's confinement.

    Returns:
        The output path, the result's width and height, its format and its file size in bytes.

    Raises:
        ImageError: a required image or size is missing, or the parameters do not fit the image.
        NotARegularFileError: ``output`` is a link, FIFO or device (see ``followSymlinks``).
        ConfinementError: the run is confined and an image path leads outside its folders.
    """
    from PIL import Image as PILImage
    from PIL import ImageFilter

    # An input port that is also a parameter: None means "use the parameter".
    base_image = base_image if base_image is not None else params.base_image
    overlay_image = overlay_image if overlay_image is not None else params.overlay_image
    sources: list[ImageSource] = list(images) if images is not None else list(params.images)
    roots = context.allowed_paths if context is not None else None
    for source in (base_image, overlay_image, *sources):
        _check_source(source, roots)
    if params.output is not None:
        check_path(params.output, roots, write=True)
    if context is not None:
        context.check()
    clean_up_on_sigterm()  # a cancelled run stops worker processes with SIGTERM
    operation = _OPERATIONS[params.operation]
    result = operation(params, base_image, overlay_image, sources)
    if params.blur > 0:
        result = result.filter(ImageFilter.GaussianBlur(params.blur))
    if params.sharpen:
        result = _with_alpha_kept(result, lambda im: im.filter(ImageFilter.SHARPEN))
    if params.grayscale:
        result = result.convert("LA" if _has_alpha(result) else "L")
    image_format, path = _destination(params)
    if image_format == "jpeg" and result.mode not in ("RGB", "L"):
        # JPEG has no alpha: transparent parts are flattened onto white, not turned black.
        gray = result.mode in ("LA", "La")
        flattened = PILImage.new(
            "L" if gray else "RGB", result.size, 255 if gray else (255, 255, 255)
        )
        colours = result.convert("LA" if gray else "RGBA")
        flattened.paste(colours.convert("L" if gray else "RGB"), mask=colours.getchannel("A"))
        result = flattened
    options: dict[str, Any] = (
        {"quality": params.quality} if image_format in ("jpeg", "webp") else {}
    )
    # The file-system node's atomic write: a reader never sees half a file, and the new file
    # gets the usual permissions.
    with atomic_writer(
        path,
        overwrite=True,
        create_directories=True,
        follow_symlinks=params.follow_symlinks,
        context=context,
    ) as stream:
        result.save(stream, format=_PIL_FORMATS[image_format], **options)
    return Output(
        result=str(path),
        width=result.width,
        height=result.height,
        format=image_format,
        size=path.stat().st_size,
    )


# -- sizes and places ---------------------------------------------------------------------------


def resized_size(
    size: tuple[int, int], width: int | None, height: int | None, fit: str
) -> tuple[int, int]:
    """The size ``resize`` produces for an image of ``size`` (before padding or cropping).

    With one of width and height the other follows the aspect ratio, whatever ``fit`` says.
    cover, contain and fill then end at exactly width x height; this function returns the
    scaled size before cover crops or contain pads. inside and outside return the final size.
    """
    w, h = size
    if width is None and height is None:
        raise ImageError("resize needs a width or a height")
    if width is None or height is None:
        scale = width / w if width is not None else height / h  # type: ignore[operator]
        return max(1, round(w * scale)), max(1, round(h * scale))
    if fit == "fill":
        return width, height
    if fit in ("cover", "outside"):
        scale = max(width / w, height / h)
    else:  # contain, inside
        scale = min(width / w, height / h)
    scaled = max(1, round(w * scale)), max(1, round(h * scale))
    if fit == "cover":
        # Rounding must never leave the image a pixel short of the box it has to cover.
        return max(scaled[0], width), max(scaled[1], height)
    if fit == "contain":
        return min(scaled[0], width), min(scaled[1], height)
    return scaled


def place(
    outer: tuple[int, int], inner: tuple[int, int], position: str, margin: int = 0
) -> tuple[int, int]:
    """Top-left corner that puts a box of size ``inner`` at ``position`` inside ``outer``."""
    free_x, free_y = outer[0] - inner[0], outer[1] - inner[1]
    x = free_x // 2
    y = free_y // 2
    if "left" in position:
        x = margin
    elif "right" in position:
        x = free_x - margin
    if position.startswith("top"):
        y = margin
    elif position.startswith("bottom"):
        y = free_y - margin
    return x, y


# -- operations ---------------------------------------------------------------------------------


def _resize(
    params: Params,
    base: ImageSource | None,
    overlay: ImageSource | None,
    sources: list[ImageSource],
) -> Image:
    from PIL import Image as PILImage

    image = _base(base, sources, "resize")
    target = resized_size(image.size, params.width, params.height, params.fit)
    scaled = image.resize(target, PILImage.Resampling.LANCZOS)
    if params.width is None or params.height is None:
        return scaled
    box = (params.width, params.height)
    if params.fit == "cover":
        x, y = place(scaled.size, box, params.position)
        return scaled.crop((x, y, x + box[0], y + box[1]))
    if params.fit == "contain":
        canvas = PILImage.new("RGBA", box, (0, 0, 0, 0))
        canvas.paste(scaled.convert("RGBA"), place(box, scaled.size, params.position))
        return canvas
    return scaled


def _crop(
    params: Params,
    base: ImageSource | None,
    overlay: ImageSource | None,
    sources: list[ImageSource],
) -> Image:
    image = _base(base, sources, "crop")
    width = params.width or image.width
    height = params.height or image.height
    if width > image.width or height > image.height:
        raise ImageError(
            f"crop of {width}x{height} is larger than the image ({image.width}x{image.height})"
        )
    x, y = place(image.size, (width, height), params.position)
    return image.crop((x, y, x + width, y + height))


def _rotate(
    params: Params,
    base: ImageSource | None,
    overlay: ImageSource | None,
    sources: list[ImageSource],
) -> Image:
    from PIL import Image as PILImage

    image = _base(base, sources, "rotate")
    if params.angle % 90 == 0:
        # Quarter turns are exact pixel moves: no resampling, no padding.
        turns = int(params.angle // 90) % 4
        methods = {
            1: PILImage.Transpose.ROTATE_270,
            2: PILImage.Transpose.ROTATE_180,
            3: PILImage.Transpose.ROTATE_90,
        }
        return image.transpose(methods[turns]) if turns else image.copy()
    # Pillow turns counterclockwise; the parameter (as in Atomiton, via sharp) is clockwise.
    return image.convert("RGBA").rotate(
        -params.angle, resample=PILImage.Resampling.BICUBIC, expand=True
    )


def _flip(
    params: Params,
    base: ImageSource | None,
    overlay: ImageSource | None,
    sources: list[ImageSource],
) -> Image:
    from PIL import Image as PILImage

    image = _base(base, sources, "flip")
    if params.direction in ("horizontal", "both"):
        image = image.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT)
    if params.direction in ("vertical", "both"):
        image = image.transpose(PILImage.Transpose.FLIP_TOP_BOTTOM)
    return image


def _convert(
    params: Params,
    base: ImageSource | None,
    overlay: ImageSource | None,
    sources: list[ImageSource],
) -> Image:
    # The pixels stay; writing in `format` (and the finishing filters) is the conversion.
    return _base(base, sources, "convert")


def _thumbnail(
    params: Params,
    base: ImageSource | None,
    overlay: ImageSource | None,
    sources: list[ImageSource],
) -> Image:
    image = _base(base, sources, "thumbnail")
    if params.width is None and params.height is None:
        raise ImageError("thumbnail needs a width or a height")
    # Never enlarges; keeps the aspect ratio within the box.
    image.thumbnail((params.width or image.width, params.height or image.height))
    return image


def _overlay(
    params: Params,
    base: ImageSource | None,
    overlay: ImageSource | None,
    sources: list[ImageSource],
) -> Image:
    image = _base(base, sources, "overlay").convert("RGBA")
    if overlay is None:
        raise ImageError("overlay needs an overlayImage")
    return _paste(image, load(overlay), params)


def _watermark(
    params: Params,
    base: ImageSource | None,
    overlay: ImageSource | None,
    sources: list[ImageSource],
) -> Image:
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    image = _base(base, sources, "watermark").convert("RGBA")
    if overlay is not None:
        mark = load(overlay)
    elif params.text:
        font = ImageFont.load_default(size=max(10, image.height // 20))
        left, top, right, bottom = ImageDraw.Draw(image).textbbox((0, 0), params.text, font=font)
        mark = PILImage.new("RGBA", (int(right - left) + 2, int(bottom - top) + 2), (0, 0, 0, 0))
        ImageDraw.Draw(mark).text(
            (1 - left, 1 - top), params.text, font=font, fill=(255, 255, 255, 255)
        )
    else:
        raise ImageError("watermark needs an overlayImage or a text")
    if params.scale is not None:
        width = max(1, round(image.width * params.scale))
        height = max(1, round(mark.height * width / mark.width))
        mark = mark.resize((width, height), PILImage.Resampling.LANCZOS)
    return _paste(image, mark, params)


def _composite(
    params: Params,
    base: ImageSource | None,
    overlay: ImageSource | None,
    sources: list[ImageSource],
) -> Image:
    layers = ([overlay] if overlay is not None else []) + sources
    if base is None:
        if not layers:
            raise ImageError("composite needs a baseImage or images")
        base, layers = layers[0], layers[1:]
    image = load(base).convert("RGBA")
    if not layers:
        raise ImageError("composite needs at least one image to layer on the base")
    for layer in layers:
        image = _paste(image, load(layer), params)
    return image


def _blend(
    params: Params,
    base: ImageSource | None,
    overlay: ImageSource | None,
    sources: list[ImageSource],
) -> Image:
    from PIL import Image as PILImage

    image = _base(base, sources, "blend").convert("RGBA")
    # The second image: overlayImage, else the next of `images` after the one used as base.
    rest = sources if base is not None else sources[1:]
    second = overlay if overlay is not None else (rest[0] if rest else None)
    if second is None:
        raise ImageError("blend needs an overlayImage")
    other = load(second).convert("RGBA")
    if other.size != image.size:
        other = other.resize(image.size, PILImage.Resampling.LANCZOS)
    # result = base * (1 - opacity) + other * opacity, per channel.
    return PILImage.blend(image, other, params.opacity)


def _merge(
    params: Params,
    base: ImageSource | None,
    overlay: ImageSource | None,
    sources: list[ImageSource],
) -> Image:
    from PIL import Image as PILImage

    parts = [load(s).convert("RGBA") for s in ([base] if base is not None else []) + sources]
    if len(parts) < 2:
        raise ImageError("merge needs at least two images (baseImage and images)")
    vertical = params.direction == "vertical"
    if vertical:
        size = (max(p.width for p in parts), sum(p.height for p in parts))
    else:
        size = (sum(p.width for p in parts), max(p.height for p in parts))
    canvas = PILImage.new("RGBA", size, (0, 0, 0, 0))
    offset = 0
    for part in parts:
        canvas.paste(part, (0, offset) if vertical else (offset, 0))
        offset += part.height if vertical else part.width
    return canvas


_OPERATIONS: Final = {
    "resize": _resize,
    "crop": _crop,
    "rotate": _rotate,
    "flip": _flip,
    "convert": _convert,
    "thumbnail": _thumbnail,
    "overlay": _overlay,
    "merge": _merge,
    "composite": _composite,
    "blend": _blend,
    "watermark": _watermark,
}


# -- loading and saving -------------------------------------------------------------------------


def load(source: ImageSource) -> Image:
    """Open an image from a path or from encoded bytes, fully read (the file is closed)."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        with PILImage.open(stream) as opened:
            return _detach(opened)
    except UnidentifiedImageError as exc:
        what = (
            "the bytes given" if isinstance(source, (bytes, bytearray)) else repr(os.fspath(source))
        )
        raise ImageError(f"{what} is not an image Pillow can read") from exc


def _detach(opened: Image) -> Image:
    opened.load()
    image = opened.copy()
    image.format = opened.format
    return image


def _base(base: ImageSource | None, sources: list[ImageSource], operation: str) -> Image:
    if base is not None:
        return load(base)
    if sources:
        return load(sources[0])
    raise ImageError(f"{operation} needs a baseImage")


def _paste(image: Image, mark: Image, params: Params) -> Image:
    """Alpha-composite ``mark`` onto ``image`` at ``params.position``, with ``params.opacity``."""
    from PIL import Image as PILImage

    mark = mark.convert("RGBA")
    if params.opacity < 1.0:
        alpha = mark.getchannel("A").point(lambda a: round(a * params.opacity))
        mark.putalpha(alpha)
    layer = PILImage.new("RGBA", image.size, (0, 0, 0, 0))
    layer.paste(mark, place(image.size, mark.size, params.position, params.margin))
    return PILImage.alpha_composite(image, layer)


def _has_alpha(image: Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _with_alpha_kept(image: Image, apply: Any) -> Image:
    # Pillow's filters refuse palette images and blur alpha edges; filter the colours only.
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        alpha = image.getchannel("A")
        filtered: Image = apply(image.convert("RGB"))
        filtered.putalpha(alpha)
        return filtered
    result: Image = apply(image)
    return result


def _check_source(source: ImageSource | None, roots: Roots) -> None:
    # Bytes are an image already in memory; only paths are confined.
    if isinstance(source, (str, os.PathLike)):
        check_path(source, roots)


def _destination(params: Params) -> tuple[ImageFormat, Path]:
    if params.output is not None:
        path = Path(params.output)
        image_format = params.format or _EXTENSIONS.get(path.suffix.lower())
        if image_format is None:
            raise ImageError(
                f"cannot tell the format of {params.output!r}; set format to png, jpeg or webp"
            )
        return image_format, path
    image_format = params.format or "png"
    handle, name = tempfile.mkstemp(
        prefix="atomiton-image-", suffix=f".{'jpg' if image_format == 'jpeg' else image_format}"
    )
    os.close(handle)
    return image_format, Path(name)


SPEC: Final = node_spec(
    run,
    description="Image operations (Pillow); CPU-bound, so it runs in a worker process.",
    execution="process",
    requires=("PIL",),
    extra="image",
    # Reads its images (fingerprinted) and writes its result; a cached result counts only while
    # the file it names is still there (runtime/cache.py).
    purity="reads",
)
