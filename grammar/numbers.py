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
BINARY_FIELDS = frozenset({"seq_len", "new_tokens", "max_num_batched_tokens", "max_input_tokens", "ubatch",
                           "max_total_tokens"})
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

#: Sizes a flag takes in bytes, as vLLM reads them (human_readable_int, vllm/engine/arg_utils.py; moved to
#: vllm/utils/argparse_utils.py): the suffix is case-sensitive, lower-case k/m/g/t decimal, upper-case
#: K/M/G/T binary, and a fraction only with a decimal suffix. The unit words people add ("8GiB", "8GB")
#: read as IEC and SI say, in any case; vLLM itself refuses them, and the answer says what it read.
BYTE_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
                 "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40,
                 **{unit: 10**(3 * power) for power, unit in enumerate(("kb", "mb", "gb", "tb"), 1)},
                 **{unit: 2**(10 * power) for power, unit in enumerate(("kib", "mib", "gib", "tib"), 1)}}
#: vLLM's human_readable_int refuses "1.5G" ("Decimals are not allowed with binary suffixes").
WHOLE_ONLY_SUFFIXES = frozenset("KMGT")
#: Fields a flag sets as a size, and the unit each counts in: vLLM's --kv-cache-memory-bytes in bytes
#: (human_readable_int); --cpu-offload-gb a float of GiB (vllm/config: cpu_offload_gb * 1024**3), so a
#: size said with a unit ("8gb", "8GiB", "8G") is that many of the flag's own GiB: its name calls them GB.
SIZE_FIELDS: dict[str, dict[str, int]] = {
    "kv_cache_memory_bytes": BYTE_SUFFIXES,
    "cpu_offload_gib": {"": 1, **{unit: 1 for unit in ("g", "G", "gb", "gib")}},
}
#: What the answer says of a size it read, by field: its unit, and why.
SIZE_READS = {"kv_cache_memory_bytes": "bytes (vLLM reads k/m/g/t as decimal, K/M/G/T as binary)",
              "cpu_offload_gib": "GiB (the flag counts GiB, whatever unit follows the number)"}
SIZE = re.compile(r"(\d+(?:\.\d+)?)([a-z]*)", re.IGNORECASE)


def split_number(text: str) -> Number:
    match = NUMBER.fullmatch(text)
    try:
        return Decimal(match[1]), match[2].lower()
    except (InvalidOperation, TypeError):
        raise QueryError(f"'{text}' is not a number") from None


def number_for(field: str, text: str, position: int | None) -> int | float:
    """The number ``text`` as ``field`` counts it (binary k/m for token counts; sizes as SIZE_FIELDS)."""
    if field in SIZE_FIELDS and (size := flag_size(field, text, position)) is not None:
        return size
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


def flag_size(field: str, text: str, position: int | None) -> int | float | None:
    """'8g', '8G', '8GiB' after a size flag: the size in the field's unit (SIZE_FIELDS); None when
    ``text`` is not a number with a unit, so the caller reads it as any other word."""
    match = SIZE.fullmatch(text)
    if match is None or not match[2]:
        return None
    units = SIZE_FIELDS[field]
    suffix = match[2] if match[2] in units else match[2].lower()
    if suffix not in units:
        raise QueryError(f"'{text}' is not a size {field.replace('_', ' ')} reads", position=position,
                         expected=tuple(f"{match[1]}{unit}" for unit in list(units)[1:4]))
    if "." in match[1] and suffix in WHOLE_ONLY_SUFFIXES:
        raise QueryError(f"'{text}': vLLM allows no fraction with a binary suffix ({suffix}); say "
                         f"{match[1]}{suffix.lower()} ({suffix.lower()} is decimal) or a whole number", position=position)
    return scaled(field, Decimal(match[1]) * units[suffix], "", position)
