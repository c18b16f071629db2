"""One number read from one cell or field of an annotation or measurement file."""

from __future__ import annotations

import math


def finite_number(text: str) -> float:
    """The finite number written in ``text`` (spaces around it allowed); ``ValueError`` saying why otherwise.

    Examples:
        >>> finite_number(" 2.5 ")
        2.5
        >>> finite_number("abc")
        Traceback (most recent call last):
        ...
        ValueError: 'abc' is not a number
        >>> finite_number("inf")
        Traceback (most recent call last):
        ...
        ValueError: 'inf' is not a finite number
    """
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text.strip()!r} is not a finite number")
    return value
