"""Numbers as people write them in a query: 7b, 1.3B, 32k, 1e9, "seven", "7 billion"."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from vram.errors import QueryError
from vram.request.request import FRACTION_FIELDS, RANGES, out_of_range

#: Multipliers of number suffixes. Token counts are binary ("4k" context = 4096, "32k" = 32768,
#: as model cards write them); every other count is decimal ("7b" = 7e9).
DECIMAL_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}
BINARY_SUFFIXES = {**DECIMAL_SUFFIXES, "k": 2**10, "m": 2**20}
BINARY_FIELDS = frozenset({"seq_len", "new_tokens", "max_num_batched_tokens", "max_input_tokens", "ubatch"})
#: Suffixes that make a bare number a model size ("7b", "350m", "1t").
SIZE_SUFFIXES = frozenset({"m", "b", "t"})
#: Fields counted in whole numbers: every numeric field a Request holds but the fractional ones.
INTEGER_FIELDS = frozenset(RANGES) - FRACTION_FIELDS
#: A bare number at least this large, with no suffix and no name, is a parameter count (7000000000).
PLAIN_PARAMS_FROM = 10**6

#: Powers of ten beyond which a number is out of every field's range (RANGES spans 1e-0 to 1e15)
#: by far: it is refused before any arithmetic, which would overflow Decimal's context (1e1000000)
#: or float (1e400), or round to a zero that the message would then misreport (1e-1000000).
MAX_EXPONENT = 100

NUMBER = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)([kmbt]?)", re.IGNORECASE)

Number = tuple[Decimal, str]  #: mantissa and suffix


def split_number(text: str) -> Number:
    match = NUMBER.fullmatch(text)
    try:
        return Decimal(match[1]), match[2].lower()
    except (InvalidOperation, TypeError):
        raise QueryError(f"'{text}' is not a number") from None


def number_for(field: str, text: str, position: int | None) -> int | float:
    """The number ``text`` as ``field`` counts it (binary k/m for token counts)."""
    if NUMBER.fullmatch(text) is None:
        raise QueryError(f"'{text}' should be a number for {field.replace('_', ' ')}", position=position)
    return scaled(field, *split_number(text), position)


def scaled(field: str, mantissa: Decimal, suffix: str, position: int | None = None) -> int | float:
    """The number as ``field`` counts it; ``position`` places an out-of-range error."""
    if mantissa and abs(mantissa.adjusted()) > MAX_EXPONENT:  # 1e1000000b: no arithmetic on it at all
        shown = str(mantissa).lower().replace("e+", "e")
        raise out_of_range(field, f"{shown}{suffix}").at(position)
    scale = (BINARY_SUFFIXES if field in BINARY_FIELDS else DECIMAL_SUFFIXES)[suffix]
    exact = mantissa * scale
    as_float = float(exact)
    if field in INTEGER_FIELDS and as_float.is_integer() and abs(as_float) < 2**63:
        return int(exact)
    return as_float
