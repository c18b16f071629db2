"""The frame size a compressed DICOM frame declares in its own header (JPEG's SOF segment, JPEG 2000's SIZ
marker segment). A decoder allocates what the codestream says, not what the DICOM attributes say, so the two
are compared before anything is decoded."""

from __future__ import annotations

# JPEG start-of-frame markers: SOF0-3, 5-7, 9-11, 13-15 (C4 is DHT, C8 reserved, CC DAC) and JPEG-LS SOF55
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn carry no length
_J2K_SOC_SIZ = b"\xff\x4f\xff\x51"
_J2K_SEARCH = 4096  # a JP2 wrapper puts a few boxes before the codestream


def _u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 2], "big")


def _u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 4], "big")


def jpeg_size(data: bytes) -> tuple[int, int, int] | None:
    """(columns, rows, components) of a JPEG or JPEG-LS codestream's first frame header; None when there is none.

    Examples:
        >>> sof = b"\\xff\\xc0\\x00\\x0b\\x08\\x00\\x20\\x00\\x30\\x01\\x01\\x11\\x00"
        >>> jpeg_size(b"\\xff\\xd8" + b"\\xff\\xfe\\x00\\x04hi" + sof)
        (48, 32, 1)
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            return None
        if marker in _SOF_MARKERS:
            if at + 10 > len(data):
                return None
            return _u16(data, at + 7), _u16(data, at + 5), data[at + 9]
        at += 2 + _u16(data, at + 2)
    return None


def j2k_size(data: bytes) -> tuple[int, int, int] | None:
    """(columns, rows, components) from a JPEG 2000 codestream's SIZ segment (bare, or inside a JP2 wrapper);
    None when there is none.

    Examples:
        >>> siz = (b"\\xff\\x4f\\xff\\x51\\x00\\x29\\x00\\x00" + (64).to_bytes(4, "big") + (40).to_bytes(4, "big")
        ...        + bytes(8) + (64).to_bytes(4, "big") + (40).to_bytes(4, "big") + bytes(8) + b"\\x00\\x03")
        >>> j2k_size(siz)
        (64, 40, 3)
    """
    at = data.find(_J2K_SOC_SIZ, 0, _J2K_SEARCH)
    if at < 0 or at + 42 > len(data):
        return None
    width = _u32(data, at + 8) - _u32(data, at + 16)
    height = _u32(data, at + 12) - _u32(data, at + 20)
    return width, height, _u16(data, at + 40)


def codestream_size(data: bytes) -> tuple[int, int, int] | None:
    """(columns, rows, components) a JPEG, JPEG-LS or JPEG 2000 codestream declares; None for anything else."""
    return jpeg_size(data) or j2k_size(data)
