"""Raw deflate streams (a Deflated Explicit VR Little Endian DICOM data set) inflated within a bound: never more
output than the caller allows, however small the compressed input."""

from __future__ import annotations

import zlib

from hipbench.data.images import ImageTooLarge


class InflateError(ValueError):
    """A deflate stream that is not valid."""


def inflate_prefix(data: bytes, size: int) -> bytes:
    """The first ``size`` bytes (fewer when it is shorter) that the raw deflate stream ``data`` inflates to.

    Examples:
        >>> packed = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        >>> stream = packed.compress(bytes(10 ** 6)) + packed.flush()
        >>> len(inflate_prefix(stream, 1000))
        1000
    """
    try:
        return zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, size)
    except zlib.error:
        raise InflateError("the deflated data set is corrupt") from None


def inflate_bounded(data: bytes, limit: int) -> bytes:
    """The raw deflate stream ``data`` inflated; ImageTooLarge as soon as its output would pass ``limit``
    bytes (so no more than ``limit + 1`` bytes are ever held).

    Examples:
        >>> packed = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        >>> stream = packed.compress(bytes(10 ** 6)) + packed.flush()
        >>> len(inflate_bounded(stream, 10 ** 6))
        1000000
        >>> inflate_bounded(stream, 1000)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        hipbench.data.images.ImageTooLarge: the deflated data set inflates to more than ... (1000 bytes)
    """
    try:
        output = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, limit + 1)
    except zlib.error:
        raise InflateError("the deflated data set is corrupt") from None
    if len(output) > limit:
        raise ImageTooLarge(f"the deflated data set inflates to more than its pixel data needs ({limit} bytes)")
    return output
