"""Checkpoint headers read as untrusted input: safetensors and GGUF, never past their bounds.

Every count, length and offset a header declares is checked against the file's size (and a bound
on header bytes) before anything is read or allocated from it, following each format's reference
reader: safetensors' ``Metadata::validate`` (huggingface/safetensors, safetensors/src/tensor.rs) and
ggml's ``gguf_init_from_reader`` (ggml-org/llama.cpp, ggml/src/gguf.cpp). Any violation is an
InvalidRequestError that names the file and the tensor or field at fault.

Only regular files are read: a FIFO, a device (``/dev/zero``), a socket or a folder, directly or
through a symbolic link, is refused after an ``fstat`` of the opened descriptor, so nothing blocks
and nothing grows without bound.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator, NamedTuple

from vram.errors import InvalidRequestError

if TYPE_CHECKING:  # pathlib costs a cold start a few ms; paths come in from the readers that open them
    from pathlib import Path

#: Longest header read, in bytes: safetensors' own MAX_HEADER_SIZE (tensor.rs, 100_000_000); real
#: headers are kilobytes to a few megabytes (a GGUF's with a 262k-token vocabulary about 10 MB).
MAX_HEADER_BYTES = 100_000_000

#: Elements of a safetensors dtype, in bits (tensor.rs ``Dtype::bitsize``; F4 and F6 pack several
#: values a byte, so a tensor's bits must come to whole bytes).
SAFETENSORS_DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
    "F8_E8M0": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32,
    "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}

#: GGML tensor types: (name, elements a block, bytes a block), from ggml's block structs
#: (ggml-common.h: block_q4_0 = fp16 scale + 16 bytes of nibbles for 32 weights, ...; block_mxfp4 = an
#: e8m0 scale + 16 bytes for 32, block_nvfp4 = four ue4m3 scales + 32 bytes for 64; ids from ggml.h).
GGML_BLOCKS: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36),
}

#: GGUF metadata value types: struct format of the fixed-size ones (ggml/docs/gguf.md).
GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
                10: "<Q", 11: "<q", 12: "<d"}
GGUF_STRING, GGUF_ARRAY = 8, 9

#: GGUF limits from ggml: versions 2 and 3 are read (gguf.cpp refuses 1); a tensor has at most
#: GGML_MAX_DIMS = 4 dimensions and a name under GGML_MAX_NAME = 64 bytes; data is aligned to
#: ``general.alignment`` (GGUF_DEFAULT_ALIGNMENT = 32); the spec caps keys at 65,535 bytes.
GGUF_VERSIONS = (2, 3)
GGUF_MAX_DIMS, GGUF_MAX_NAME, GGUF_MAX_KEY, GGUF_ALIGNMENT = 4, 64, 65_535, 32

#: Fewest header bytes one GGUF key/value and one tensor description take (an empty string is its
#: 8-byte length), so a declared count can be checked against the header before the loop starts.
GGUF_MIN_KV_BYTES = 8 + 4 + 1
GGUF_MIN_TENSOR_BYTES = 8 + 4 + 4 + 8

#: Most key/value pairs and tensors accepted: real files have tens of keys and at most a few
#: thousand tensors (Llama-3.1-405B: 1,138); the caps keep a hostile header's loop short.
GGUF_MAX_KVS, GGUF_MAX_TENSORS = 2**16, 2**17


class GgufArray(NamedTuple):
    """A GGUF metadata array, kept as its length: vram needs no array's items."""

    item_type: int
    count: int


@dataclass(frozen=True)
class HeaderTotals:
    """What a checkpoint header says about its tensors: how many, their values, bytes by type."""

    tensor_count: int
    elements: int
    bytes_by_type: dict[str, int]
    metadata: dict[str, Any]  #: GGUF key/values (arrays as GgufArray); empty for safetensors


# -- regular files only ------------------------------------------------------------------------------

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)

#: What to call a file that is not a regular one, by stat's file type test.
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))

#: Plain words for the errors opening a path gives, by errno.
_OPEN_ERRORS = {errno.ENOENT: "there is no such file", errno.ENOTDIR: "a part of the path is not a folder",
                errno.ELOOP: "its symbolic links form a loop", errno.EACCES: "permission denied",
                errno.ENXIO: "it is a socket or a device with nothing behind it",
                errno.ENAMETOOLONG: "the name is too long"}


def refuse_special(path: Path | str, mode: int) -> None:
    """Refuse anything but a regular file, by the mode stat gave for it."""
    for test, kind in _KINDS:
        if test(mode):
            raise InvalidRequestError(f"'{path}' is {kind}, not a file vram can read", field="model")
    if not stat.S_ISREG(mode):
        raise InvalidRequestError(f"'{path}' is not a regular file", field="model")


def open_error(path: Path | str, error: OSError) -> InvalidRequestError:
    why = _OPEN_ERRORS.get(error.errno or 0, error.strerror or type(error).__name__)
    return InvalidRequestError(f"cannot read '{path}': {why}", field="model")


@contextlib.contextmanager
def open_regular(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    """The file at ``path`` opened for reading, and its size; a clear error unless a regular file.

    Non-blocking, so that opening a FIFO returns at once; the opened descriptor is what is checked,
    so a path swapped between a check and the open cannot slip a device through.
    """
    try:
        refuse_special(path, os.stat(path).st_mode)  # before opening: a device's open can act
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise open_error(path, error) from None
    try:
        info = os.fstat(fd)
        refuse_special(path, info.st_mode)
        file = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with file:
        yield file, info.st_size


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The whole of a regular file of at most ``limit`` bytes."""
    with open_regular(path) as (file, size):
        data = file.read(limit + 1)
    if max(size, len(data)) > limit:
        raise InvalidRequestError(f"'{path}' is {max(size, len(data)):,} bytes, more than the {limit:,} "
                                  f"a {what} can be", field="model")
    return data


def parse_json(data: bytes, path: Path | str, what: str) -> Any:
    """JSON text, strictly: no NaN or Infinity, no nesting deeper than Python's recursion limit."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise InvalidRequestError(f"'{path}' nests its {what} too deeply to read", field="model") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, int digit limit, NaN
        raise InvalidRequestError(f"cannot read '{path}' as a {what} ({error})", field="model") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def shown(value: Any, width: int = 40) -> str:
    """A value from a file, as a message shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _refuse(path: Path, message: str) -> InvalidRequestError:
    return InvalidRequestError(f"'{path}': {message}", field="model")


def _whole(value: Any) -> bool:
    return type(value) is int and value >= 0  # bool is not a count


# -- safetensors ------------------------------------------------------------------------------------

class _Tensor(NamedTuple):
    name: str
    dtype: str
    elements: int
    begin: int
    end: int


def read_safetensors(path: Path) -> HeaderTotals:
    """The tensors a safetensors file holds, checked as safetensors' own reader checks them."""
    with open_regular(path) as (file, size):
        start = file.read(8)
        if len(start) < 8:
            raise _refuse(path, "ends inside its header (a safetensors file starts with an 8-byte length)")
        (length,) = struct.unpack("<Q", start)
        if length > MAX_HEADER_BYTES or 8 + length > size:
            raise InvalidRequestError(
                f"'{path}' declares a {length:,}-byte header in a {size:,}-byte file; not a safetensors file?",
                field="model")
        header = parse_json(file.read(length), path, "safetensors header")
    if not isinstance(header, dict):
        raise _refuse(path, "has no readable safetensors header (it is not a JSON object)")
    _check_metadata(header.get("__metadata__"), path)
    tensors = sorted((_tensor(name, info, path) for name, info in header.items() if name != "__metadata__"),
                     key=lambda t: (t.begin, t.end))
    _check_layout(tensors, size - 8 - length, path)
    totals: dict[str, int] = {}
    for tensor in tensors:
        totals[tensor.dtype] = totals.get(tensor.dtype, 0) + tensor.end - tensor.begin
    return HeaderTotals(len(tensors), sum(t.elements for t in tensors), totals, {})


def _check_metadata(metadata: Any, path: Path) -> None:
    # safetensors reads __metadata__ as a map of strings to strings (HashMetadata in tensor.rs)
    if metadata is None:
        return
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _refuse(path, f"__metadata__ must map names to strings, not {shown(metadata)}")


def _tensor(name: str, info: Any, path: Path) -> _Tensor:
    where = f"tensor {shown(name)}"
    if not isinstance(info, dict):
        raise _refuse(path, f"{where} must be an object with dtype, shape and data_offsets, not {shown(info)}")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in SAFETENSORS_DTYPE_BITS:
        raise _refuse(path, f"{where}: dtype {shown(dtype)} is not a safetensors dtype "
                            f"({', '.join(SAFETENSORS_DTYPE_BITS)})")
    if not isinstance(shape, list) or not all(_whole(d) for d in shape):
        raise _refuse(path, f"{where}: shape must be a list of whole numbers >= 0, not {shown(shape)}")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_whole(o) for o in offsets):
        raise _refuse(path, f"{where}: data_offsets must be two whole numbers [begin, end], not {shown(offsets)}")
    begin, end = offsets
    if end < begin:
        raise _refuse(path, f"{where}: data_offsets {offsets} end before they begin")
    elements = 1
    for dim in shape:
        elements *= dim
    bits = elements * SAFETENSORS_DTYPE_BITS[dtype]
    if bits % 8 or bits // 8 != end - begin:
        raise _refuse(path, f"{where}: shape {shown(shape)} of {dtype} needs {bits / 8:g} bytes, but "
                            f"data_offsets {offsets} hold {end - begin:,}")
    return _Tensor(name, dtype, elements, begin, end)


def _check_layout(tensors: list[_Tensor], data_bytes: int, path: Path) -> None:
    # tensor.rs: sorted by offsets, each begins where the previous ended, the last ends at the file's end
    position = 0
    for tensor in tensors:
        if tensor.end > data_bytes:
            raise _refuse(path, f"tensor {shown(tensor.name)}: data_offsets end at byte {tensor.end:,}, past the "
                                f"{data_bytes:,} bytes of data in the file (truncated download?)")
        if tensor.begin != position:
            how = "overlaps the tensor before it" if tensor.begin < position else "leaves a gap"
            raise _refuse(path, f"tensor {shown(tensor.name)}: data_offsets begin at byte {tensor.begin:,} and "
                                f"{how} (it should begin at byte {position:,})")
        position = tensor.end
    if position != data_bytes:
        raise _refuse(path, f"its tensors' data ends at byte {position:,} but the file holds {data_bytes:,} "
                            "bytes of data")


# -- GGUF ---------------------------------------------------------------------------------------------

class _Reader:
    """Reads a header front to back, refusing any read past the file's end or the header bound."""

    def __init__(self, file: BinaryIO, path: Path, size: int) -> None:
        self.file, self.path, self.size, self.position = file, path, size, 0
        self.limit = min(size, MAX_HEADER_BYTES)

    def left(self) -> int:
        return self.limit - self.position

    def room(self, count: int, each: int, what: str) -> None:
        """Refuse ``count`` items of ``each`` bytes or more unless they fit in what is left."""
        if count * each > self.left():
            past = "the end of the file" if self.limit == self.size else f"the {MAX_HEADER_BYTES:,}-byte header bound"
            raise _refuse(self.path, f"{what}: {count:,} of them cannot fit before {past}")

    def take(self, count: int, what: str) -> bytes:
        if count > self.left():
            raise _refuse(self.path, f"ends inside its header ({what})")
        self.position += count
        data = self.file.read(count)
        if len(data) != count:  # the file shrank while being read
            raise _refuse(self.path, f"ends inside its header ({what})")
        return data

    def skip(self, count: int, what: str) -> None:
        self.room(count, 1, what)
        self.position += count
        self.file.seek(count, os.SEEK_CUR)

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))

    def string(self, what: str, longest: int) -> str:
        (length,) = self.unpack("<Q", what)
        if length > longest:
            raise _refuse(self.path, f"{what} is {length:,} bytes long, more than {longest:,}")
        return self.take(length, what).decode("utf-8", errors="replace")


def read_gguf(path: Path) -> HeaderTotals:
    """The tensors and metadata of a GGUF file, checked as ggml's own reader checks them."""
    with open_regular(path) as (file, size):
        reader = _Reader(file, path, size)
        if reader.left() < 4 or reader.take(4, "magic") != b"GGUF":
            raise InvalidRequestError(f"'{path}' is not a GGUF file", field="model")
        _check_version(reader.unpack("<I", "version")[0], path)
        tensor_count, kv_count = reader.unpack("<QQ", "tensor and key counts")
        _check_count(reader, tensor_count, GGUF_MAX_TENSORS, GGUF_MIN_TENSOR_BYTES, "tensor count")
        _check_count(reader, kv_count, GGUF_MAX_KVS, GGUF_MIN_KV_BYTES, "key/value count")
        metadata = _gguf_metadata(reader, kv_count)
        alignment = _alignment(metadata, path)
        tensors = [_gguf_tensor(reader, index) for index in range(tensor_count)]
        data_start = -(-reader.position // alignment) * alignment
    return _gguf_totals(tensors, data_start, alignment, size, path, metadata)


def _check_version(version: int, path: Path) -> None:
    if version & 0xFFFF == 0 and version:  # gguf.cpp: a byte-swapped version is a big-endian file
        raise _refuse(path, "is a big-endian GGUF file; vram reads little-endian ones")
    if version not in GGUF_VERSIONS:
        raise _refuse(path, f"is GGUF version {version}; vram reads versions 2 and 3")


def _check_count(reader: _Reader, count: int, most: int, each: int, what: str) -> None:
    if count > most:
        raise _refuse(reader.path, f"its {what} {count:,} is more than {most:,}; not a real GGUF header")
    reader.room(count, each, what)


def _gguf_metadata(reader: _Reader, kv_count: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for index in range(kv_count):
        key = reader.string(f"key {index}", GGUF_MAX_KEY)
        if key in metadata:
            raise _refuse(reader.path, f"key {shown(key)} appears twice")
        (kind,) = reader.unpack("<I", f"type of {key}")
        metadata[key] = _gguf_value(reader, kind, key)
    return metadata


def _gguf_value(reader: _Reader, kind: int, key: str) -> Any:
    if kind in GGUF_SCALARS:
        return reader.unpack(GGUF_SCALARS[kind], key)[0]
    if kind == GGUF_STRING:
        return reader.string(key, MAX_HEADER_BYTES)
    if kind != GGUF_ARRAY:
        raise _refuse(reader.path, f"{shown(key)} has metadata type {kind}, which GGUF does not define")
    item_kind, count = reader.unpack("<IQ", f"array {key}")
    if item_kind == GGUF_STRING:
        reader.room(count, 8, f"{shown(key)} items")
        for index in range(count):
            (length,) = reader.unpack("<Q", f"{key}[{index}]")
            reader.skip(length, f"bytes of {key}[{index}]")
    elif item_kind in GGUF_SCALARS:
        reader.skip(count * struct.calcsize(GGUF_SCALARS[item_kind]), f"{shown(key)} items")
    else:  # gguf.cpp refuses arrays of arrays too
        raise _refuse(reader.path, f"{shown(key)} is an array of type {item_kind}, which GGUF does not allow")
    return GgufArray(item_kind, count)


def _alignment(metadata: dict[str, Any], path: Path) -> int:
    alignment = metadata.get("general.alignment", GGUF_ALIGNMENT)
    if not _whole(alignment) or alignment == 0 or alignment & (alignment - 1):
        raise _refuse(path, f"general.alignment must be a power of two, not {shown(alignment)}")
    return alignment


class _GgufTensor(NamedTuple):
    name: str
    type_name: str
    elements: int
    bytes: int
    offset: int


def _gguf_tensor(reader: _Reader, index: int) -> _GgufTensor:
    name = reader.string(f"name of tensor {index}", GGUF_MAX_NAME - 1)
    where = f"tensor {shown(name)}"
    (dims,) = reader.unpack("<I", f"{where} dimensions")
    if dims > GGUF_MAX_DIMS:
        raise _refuse(reader.path, f"{where} has {dims:,} dimensions; GGUF allows at most {GGUF_MAX_DIMS}")
    shape = reader.unpack(f"<{dims}q", f"{where} shape")
    if any(d < 0 for d in shape):
        raise _refuse(reader.path, f"{where} has a negative dimension in its shape {list(shape)}")
    ggml_type, offset = reader.unpack("<IQ", f"{where} type and offset")
    if ggml_type not in GGML_BLOCKS:
        raise _refuse(reader.path, f"{where} has GGML tensor type {ggml_type}, which vram does not know")
    type_name, block, block_bytes = GGML_BLOCKS[ggml_type]
    if shape and shape[0] % block:
        raise _refuse(reader.path, f"{where}: a row of {shape[0]:,} {type_name} values is not a whole number "
                                   f"of {block}-value blocks")
    elements = 1
    for dim in shape:
        elements *= dim
    return _GgufTensor(name, type_name, elements, elements // block * block_bytes, offset)


def _gguf_totals(tensors: list[_GgufTensor], data_start: int, alignment: int, size: int, path: Path,
                 metadata: dict[str, Any]) -> HeaderTotals:
    # gguf.cpp: each tensor begins where the one before ended, padded to the alignment;
    # llama-model-loader: every tensor's data lies inside the file
    expected, totals = 0, {}
    for tensor in tensors:
        if tensor.offset != expected:
            raise _refuse(path, f"tensor {shown(tensor.name)} has offset {tensor.offset:,}, expected {expected:,}")
        end = data_start + tensor.offset + tensor.bytes
        if end > size:
            raise _refuse(path, f"tensor {shown(tensor.name)}: its {tensor.bytes:,} bytes of data end at byte "
                                f"{end:,}, past the end of the {size:,}-byte file (truncated download?)")
        expected += -(-tensor.bytes // alignment) * alignment
        totals[tensor.type_name] = totals.get(tensor.type_name, 0) + tensor.bytes
    return HeaderTotals(len(tensors), sum(t.elements for t in tensors), totals, metadata)
