"""Units and number formats: bytes in GB or GiB, parameter counts as people write them."""

from __future__ import annotations

import math
from decimal import Decimal

GB = 10**9  #: the seed article's unit: 1 GB = 1e9 bytes
GIB = 2**30
MIB = 2**20

#: Units an answer can be shown in, by name.
BYTE_UNITS: dict[str, int] = {"GB": GB, "GiB": GIB}

_COUNT_SUFFIXES = ((Decimal(10**12), "t"), (Decimal(10**9), "b"), (Decimal(10**6), "m"))


def format_count(value: float) -> str:
    """A count as people write it, exactly: 6e9 -> '6b', 1.3e9 -> '1.3b', 350e6 -> '350m'."""
    if not math.isfinite(value):
        return str(value)
    exact = Decimal(repr(float(value)))
    for scale, suffix in _COUNT_SUFFIXES:
        if abs(exact) >= scale:
            return _plain(exact / scale) + suffix
    return _plain(exact / _COUNT_SUFFIXES[-1][0]) + "m"  # 0.1m: a query reads a size back only with a suffix


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def format_bytes(count: int, unit: str = "GB") -> str:
    """Bytes in ``unit`` with two decimals (three significant digits below 0.01)."""
    value = count / BYTE_UNITS[unit]
    if 0 < abs(value) < 0.01:
        return f"{value:.3g}"
    return f"{value:,.2f}"


def format_value(value: float) -> str:
    """A number substituted into a formula: 2048, 0.2, 6e9, 1.3e9."""
    if isinstance(value, bool):
        return str(value).lower()
    if float(value).is_integer() and abs(value) < 10**6:
        return str(int(value))
    text = f"{value:.6g}"
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa
