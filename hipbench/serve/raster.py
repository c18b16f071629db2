"""PNG and JPEG uploads written anew: the pixel count checked from the header, the pixels decoded, and a fresh
PNG encoded from the pixels alone, so nothing else survives (no text chunks, comments, EXIF, ICC profiles, or
bytes after the image's end). A JPEG becomes a PNG too: lossless, so the pixels saved are the pixels measured,
without a second lossy generation."""

from __future__ import annotations

import io

import numpy as np

from hipbench.data.images import ImageTooLarge, check_pixel_count

PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG"}
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


class RasterRefused(ValueError):
    """A PNG or JPEG upload that cannot be decoded; the message never quotes the file."""


def plain_pixels(image) -> np.ndarray:
    """The decoded pixels of a Pillow image as uint8 (H, W) or (H, W, 3), or uint16 (H, W). Modes hipbench
    reads as grey anyway (palette, alpha, CMYK, ...) become grey here as :func:`~hipbench.data.images.read_image`
    converts them, so the saved file reads to the same pixels.

    Examples:
        >>> from PIL import Image
        >>> plain_pixels(Image.new("RGBA", (3, 2), (10, 20, 30, 0))).shape, plain_pixels(Image.new("1", (2, 2))).dtype
        ((2, 3), dtype('uint8'))
    """
    mode = image.mode
    if mode in ("L", "RGB"):
        return np.asarray(image, dtype=np.uint8)
    if mode in SIXTEEN_BIT_MODES:
        return np.asarray(image).astype(np.uint16)
    if mode == "I":
        values = np.asarray(image)
        if values.min() < 0 or values.max() > 65535:
            raise RasterRefused("32-bit integer samples outside 0..65535")
        return values.astype(np.uint16)
    return np.asarray(image.convert("L"), dtype=np.uint8)


def reencode_raster(data: bytes, kind: str, max_pixels: int | None) -> bytes:
    """The PNG or JPEG file ``data`` (``kind`` ``png`` or ``jpeg``) as a new PNG holding only its pixels;
    ImageTooLarge (checked before decoding) beyond ``max_pixels``, RasterRefused when it does not decode.

    Examples:
        >>> from PIL import Image, PngImagePlugin
        >>> text = PngImagePlugin.PngInfo(); text.add_text("Author", "Doe^Jane")
        >>> buffer = io.BytesIO(); Image.new("L", (4, 3), 7).save(buffer, "PNG", pnginfo=text)
        >>> clean = reencode_raster(buffer.getvalue() + b"<html>Doe</html>", "png", 10 ** 6)
        >>> b"Doe" in clean, np.asarray(Image.open(io.BytesIO(clean))).tolist()[0]
        (False, [7, 7, 7, 7])
    """
    from PIL import Image, UnidentifiedImageError

    name = kind.upper()
    try:
        with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[kind]]) as image:
            check_pixel_count(image.width, image.height, max_pixels)
            image.load()
            pixels = plain_pixels(image)
    except (ImageTooLarge, RasterRefused):
        raise
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"the {name} has more pixels than Pillow decodes") from None
    # ImportError: an opener another library registered with Pillow (see hipbench.data.images)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, ImportError) as exc:
        raise RasterRefused(f"not a readable {name} ({type(exc).__name__})") from None
    if pixels.ndim not in (2, 3) or min(pixels.shape[:2]) == 0:
        raise RasterRefused(f"the {name} has no 2-D image")
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")  # a new image: no info dictionary to carry anything over
    return out.getvalue()
