"""Model files that lie, and files that are no files: each is a VramError naming the file, quickly.

Every file is built here in tmp_path (FIFOs, sockets, symbolic links to /dev/zero and loops are
real ones); nothing is fetched. Each row is one hostile file; the test asserts that asking about
it raises a VramError (any other exception fails the test), that the message names the file that
lies and matches the row's words (the field, where there is one), and that the answer comes
within a few seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import struct
import sys
from pathlib import Path

import pytest

import vram
from vram.catalog import files as model_files, resolve as models

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="FIFOs, sockets and /dev/zero as on Linux")

TINY_LLAMA = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 4, "intermediate_size": 128, "vocab_size": 100,
              "max_position_embeddings": 4096}
MIXTRAL = {**TINY_LLAMA, "model_type": "mixtral", "num_local_experts": 8, "num_experts_per_tok": 2,
           "sliding_window": 4096}


@pytest.fixture(autouse=True)
def fresh_caches():
    models.cache_clear()
    model_files.read_model_path.cache_clear()
    yield
    models.cache_clear()
    model_files.read_model_path.cache_clear()


@contextlib.contextmanager
def deadline(seconds: float):
    """Fail (not hang) when the block takes longer than ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError(f"took more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- builders: each takes tmp_path and returns (the path asked about, the file that lies) ------------

def config(value, raw: bytes | None = None):
    def build(tmp: Path):
        path = tmp / "config.json"
        path.write_bytes(raw if raw is not None else json.dumps(value).encode())
        return path, path
    return build


def llama(**changes):
    return config({**TINY_LLAMA, **changes})


def mixtral(**changes):
    return config({**MIXTRAL, **changes})


def special(make, name: str = "config.json", in_folder: bool = False):
    """A special file ``name`` made by ``make(path)``; asked about directly or as a folder's file."""
    def build(tmp: Path):
        path = tmp / name
        make(path)
        if in_folder and name != "config.json":
            (tmp / "config.json").write_text(json.dumps(TINY_LLAMA))
        return (tmp if in_folder else path), path
    return build


def bind_socket(path: Path):
    here = os.getcwd()
    os.chdir(path.parent)  # AF_UNIX names are limited to 108 bytes: bind the short relative one
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path.name)
        sock.close()
    finally:
        os.chdir(here)


def symlink_loop(path: Path):
    other = path.with_name("other.json")
    path.symlink_to(other)
    other.symlink_to(path)


def nested(depth: int, inner: bytes = b"") -> bytes:
    return b"[" * depth + inner + b"]" * depth


def safetensors(header, data_bytes: int | None = None, length: int | None = None, name="model.safetensors"):
    """A safetensors file with ``header`` (JSON-able or raw bytes) and a valid config beside it."""
    def build(tmp: Path):
        (tmp / "config.json").write_text(json.dumps(TINY_LLAMA))
        blob = header if isinstance(header, bytes) else json.dumps(header).encode()
        ends = [info["data_offsets"][-1] for info in header.values()
                if isinstance(info, dict) and isinstance(info.get("data_offsets"), list)
                and info["data_offsets"] and isinstance(info["data_offsets"][-1], int)] if isinstance(header, dict) else []
        data = data_bytes if data_bytes is not None else max([0, *ends])
        path = tmp / name
        path.write_bytes(struct.pack("<Q", len(blob) if length is None else length) + blob + b"\0" * data)
        return path, path
    return build


def tensor(dtype="F16", shape=(2, 2), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape) if isinstance(shape, tuple) else shape,
            "data_offsets": list(offsets) if isinstance(offsets, tuple) else offsets}


def second_shard_lies(tmp: Path):
    """A sharded checkpoint whose first shard is fine and whose second reverses its offsets."""
    safetensors({"a": tensor()}, name="model-00001-of-00002.safetensors")(tmp)
    safetensors({"b": tensor(offsets=(8, 0))}, data_bytes=8, name="model-00002-of-00002.safetensors")(tmp)
    return tmp, tmp / "model-00002-of-00002.safetensors"


def gs(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data)) + data


def kv(key: str, kind: int, payload: bytes) -> bytes:
    return gs(key) + struct.pack("<I", kind) + payload


def u32(key: str, value: int) -> bytes:
    return kv(key, 4, struct.pack("<I", value))


GGUF_LLAMA = [kv("general.architecture", 8, gs("llama")), u32("llama.embedding_length", 256),
              u32("llama.block_count", 2), u32("llama.attention.head_count", 4),
              u32("llama.feed_forward_length", 512), u32("llama.vocab_size", 1000)]


def tinfo(name: str = "output_norm.weight", shape=(256,), ggml_type: int = 0, offset: int = 0) -> bytes:
    shape_bytes = struct.pack(f"<{len(shape)}q", *shape)
    return gs(name) + struct.pack("<I", len(shape)) + shape_bytes + struct.pack("<IQ", ggml_type, offset)


def gguf(kvs=None, tensors=None, n_tensors=None, n_kv=None, version=3, data=1024, head=b"GGUF"):
    """A GGUF file from raw pieces; the counts default to the pieces', the data to 1,024 zero bytes."""
    kvs = GGUF_LLAMA if kvs is None else kvs
    tensors = [tinfo()] if tensors is None else tensors
    def build(tmp: Path):
        out = head + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                                 len(kvs) if n_kv is None else n_kv) + b"".join(kvs) + b"".join(tensors)
        path = tmp / "model.gguf"
        path.write_bytes(out + b"\0" * (-len(out) % 32) + b"\0" * data)
        return path, path
    return build


def gguf_with(*extra: bytes, **options):
    return gguf(kvs=GGUF_LLAMA + list(extra), **options)


def gguf_changed(key: str, payload: bytes):
    return gguf(kvs=[kv(key, *struct.unpack("<I", payload[:4]), payload[4:]) if raw.startswith(gs(key)) else raw
                     for raw in GGUF_LLAMA])


HUGE = 2**62

#: One hostile file a row: id -> (builder, words the message must match).
CASES = {
    # -- special files: never block, never grow memory, never follow a loop
    "fifo-config": (special(os.mkfifo), "is a named pipe"),
    "fifo-in-folder": (special(os.mkfifo, in_folder=True), "is a named pipe"),
    "fifo-safetensors": (special(os.mkfifo, "model.safetensors"), "is a named pipe"),
    "fifo-shard-in-folder": (special(os.mkfifo, "model.safetensors", in_folder=True), "is a named pipe"),
    "fifo-gguf": (special(os.mkfifo, "model.gguf"), "is a named pipe"),
    "dev-zero-link-json": (special(lambda p: p.symlink_to("/dev/zero"), "x.json"), "is a character device"),
    "dev-zero-link-in-folder": (special(lambda p: p.symlink_to("/dev/zero"), in_folder=True),
                                "is a character device"),
    "dev-zero-link-safetensors": (special(lambda p: p.symlink_to("/dev/zero"), "m.safetensors"),
                                  "is a character device"),
    "dev-zero-link-gguf": (special(lambda p: p.symlink_to("/dev/zero"), "m.gguf"), "is a character device"),
    "dev-zero-itself": (lambda tmp: (Path("/dev/zero"), Path("/dev/zero")), "is a character device"),
    "socket-config": (special(bind_socket), "is a socket"),
    "symlink-loop": (special(symlink_loop, "loop.json"), "symbolic links form a loop"),
    "symlink-loop-in-folder": (special(symlink_loop, in_folder=True), "symbolic links form a loop"),
    "self-link": (special(lambda p: p.symlink_to(p), "self.safetensors"), "symbolic links form a loop"),
    "dangling-config-in-folder": (special(lambda p: p.symlink_to(p.with_name("gone")), in_folder=True),
                                  "there is no such file"),
    "folder-named-safetensors": (special(Path.mkdir, "x.safetensors"), "holds no config.json or .safetensors"),
    "folder-named-json": (special(Path.mkdir, "x.json"), "holds no config.json or .safetensors"),
    "folder-shard-in-folder": (special(Path.mkdir, "x.safetensors", in_folder=True), "is a folder"),
    "folder-config-in-folder": (special(Path.mkdir, in_folder=True), "is a folder"),
    "config-too-large": (config(None, b"{" + b" " * (9 * 2**20) + b"}"), "is 9,437,186 bytes, more than the 8,388,608 a config.json can be"),
    # -- JSON that is not a config
    "json-nested-100k": (config(None, nested(100_000)), "nests its config.json too deeply"),
    "json-nested-100k-in-field": (config(None, b'{"model_type": ' + nested(100_000) + b"}"), "too deeply"),
    "json-nan": (config(None, b'{"model_type": "llama", "hidden_size": NaN}'), "NaN is not a JSON number"),
    "json-infinity": (config(None, b'{"hidden_size": -Infinity}'), "Infinity is not a JSON number"),
    "json-overflowing-float": (config(None, json.dumps(TINY_LLAMA).replace('"hidden_size": 64', '"hidden_size": 1e999')
                                      .encode()), "hidden_size must be a whole number .*not inf"),
    "json-5000-digits": (config(None, b'{"hidden_size": ' + b"9" * 5000 + b"}"), "cannot read .* as a config.json"),
    "json-not-utf8": (config(None, b'{"model_type": "\xff\xfe"}'), "cannot read .* as a config.json"),
    "json-list": (config([TINY_LLAMA]), "is not a config object"),
    "json-string": (config("llama"), "is not a config object"),
    "json-truncated": (config(None, json.dumps(TINY_LLAMA)[:40].encode()), "cannot read .* as a config.json"),
    # -- fields of the wrong type or out of range
    "text-config-int": (llama(text_config=7), "text_config must be an object, not 7"),
    "text-config-list": (llama(text_config=[1]), r"text_config must be an object, not \[1\]"),
    "text-config-field": (llama(text_config={"hidden_size": "64"}), "text_config.hidden_size must be a whole number"),
    "model-type-list": (llama(model_type=["llama"]), r"model_type must be a string, not \['llama'\]"),
    "model-type-int": (llama(model_type=3), "model_type must be a string, not 3"),
    "model-type-unknown": (llama(model_type="x" * 500), "model_type 'xxx.*is not one vram reads"),
    "sliding-window-string": (mixtral(sliding_window="4096"), "sliding_window must be a whole number"),
    "sliding-window-negative": (mixtral(sliding_window=-1), "sliding_window must be a whole number .* not -1"),
    "layers-float": (llama(num_hidden_layers=2.0), "num_hidden_layers must be a whole number .* not 2.0"),
    "layers-bool": (llama(num_hidden_layers=True), "num_hidden_layers must be a whole number .* not True"),
    "layers-negative": (llama(num_hidden_layers=-2), "num_hidden_layers must be a whole number .* not -2"),
    "layers-huge": (llama(num_hidden_layers=10**12), "num_hidden_layers must be a whole number from 1 to 16,384"),
    "layers-list": (llama(num_hidden_layers=[2]), "num_hidden_layers must be a whole number"),
    "vocab-astronomical": (llama(vocab_size=10**30), "vocab_size must be a whole number"),
    "context-huge": (llama(max_position_embeddings=2**40), "max_position_embeddings must be a whole number"),
    "head-dim-zero": (llama(head_dim=0), "head_dim must be a whole number from 1"),
    "synonym-key-named": (config({**TINY_LLAMA, "hidden_size": None, "n_embd": "wide"}), "n_embd must be"),
    "tie-embeddings-string": (llama(tie_word_embeddings="false"), "tie_word_embeddings must be true or false"),
    "attention-bias-string": (llama(attention_bias="yes"), "attention_bias must be true or false"),
    "multi-query-int": (config({**TINY_LLAMA, "model_type": "falcon", "multi_query": 1}), "multi_query must be true"),
    "use-sliding-window-string": (mixtral(use_sliding_window="no"), "use_sliding_window must be true or false"),
    "dropout-string": (llama(attention_dropout="0.1"), "attention_dropout must be a number from 0 to 1"),
    "dropout-above-one": (llama(attention_dropout=5), "attention_dropout must be a number from 0 to 1"),
    "experts-chosen-too-many": (mixtral(num_experts_per_tok=9), "num_experts_per_tok 9 is more than the 8 experts"),
    "experts-chosen-missing": (mixtral(num_experts_per_tok=None), "has 8 experts but no num_experts_per_tok"),
    "dense-layers-too-many": (config({**TINY_LLAMA, "model_type": "deepseek_v3", "first_k_dense_replace": 9}),
                              "first_k_dense_replace 9 is more than the 2 layers"),
    "no-hidden-size": (config({"model_type": "llama"}), "has no hidden_size"),
    # -- safetensors headers that lie
    "st-offsets-reversed": (safetensors({"w": tensor(offsets=(8, 0))}, data_bytes=8),
                            r"tensor 'w': data_offsets \[8, 0\] end before they begin"),
    "st-offsets-fractional": (safetensors({"w": tensor(offsets=(0, 8.5))}, data_bytes=8),
                              r"tensor 'w': data_offsets must be two whole numbers .*8\.5"),
    "st-offsets-infinity": (safetensors({"w": tensor(offsets=(0, 1e999))}, data_bytes=8),
                            "Infinity is not a JSON number"),
    "st-offsets-overflowing": (safetensors(b'{"w": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 1e999]}}',
                                           data_bytes=8), "tensor 'w': data_offsets must be two whole numbers .*inf"),
    "st-offsets-strings": (safetensors({"w": tensor(offsets=["0", "8"])}, data_bytes=8),
                           "tensor 'w': data_offsets must be two whole numbers"),
    "st-offsets-one": (safetensors({"w": tensor(offsets=[0])}, data_bytes=8), "data_offsets must be two"),
    "st-offsets-three": (safetensors({"w": tensor(offsets=[0, 4, 8])}), "data_offsets must be two"),
    "st-offsets-negative": (safetensors({"w": tensor(offsets=(-8, 0))}, data_bytes=8), "data_offsets must be two"),
    "st-offsets-bool": (safetensors({"w": tensor(dtype="BOOL", shape=[1], offsets=[False, True])}, data_bytes=1),
                        "data_offsets must be two whole numbers"),
    "st-offsets-overlap": (safetensors({"a": tensor(), "b": tensor(offsets=(4, 12))}, data_bytes=12),
                           "tensor 'b': data_offsets begin at byte 4 and overlaps the tensor before it"),
    "st-offsets-gap": (safetensors({"a": tensor(), "b": tensor(offsets=(16, 24))}),
                       "tensor 'b': data_offsets begin at byte 16 and leaves a gap"),
    "st-offsets-beyond-file": (safetensors({"w": tensor(offsets=(0, 8))}, data_bytes=4),
                               "tensor 'w': data_offsets end at byte 8, past the 4 bytes of data"),
    "st-trailing-data": (safetensors({"w": tensor()}, data_bytes=100), "data ends at byte 8 but the file holds 100"),
    "st-size-disagrees": (safetensors({"w": tensor(shape=(2, 3))}), r"shape \[2, 3\] of F16 needs 12 bytes.*hold 8"),
    "st-shape-negative": (safetensors({"w": tensor(shape=(-2, -2))}), "tensor 'w': shape must be a list of whole"),
    "st-shape-huge": (safetensors({"w": tensor(shape=(HUGE, HUGE))}), "needs .* bytes, but data_offsets"),
    "st-shape-fractional": (safetensors({"w": tensor(shape=(2.5, 2))}), "tensor 'w': shape must be a list"),
    "st-shape-bool": (safetensors({"w": tensor(shape=[True, 8])}), "tensor 'w': shape must be a list"),
    "st-shape-string": (safetensors({"w": tensor(shape="2x2")}), "tensor 'w': shape must be a list"),
    "st-f4-half-byte": (safetensors({"w": tensor(dtype="F4", shape=[3], offsets=(0, 2))}), "needs 1.5 bytes"),
    "st-dtype-unknown": (safetensors({"w": tensor(dtype="F17")}), "tensor 'w': dtype 'F17' is not a safetensors dtype"),
    "st-dtype-lowercase": (safetensors({"w": tensor(dtype="f16")}), "dtype 'f16' is not a safetensors dtype"),
    "st-dtype-missing": (safetensors({"w": {"shape": [2, 2], "data_offsets": [0, 8]}}), "dtype None is not"),
    "st-tensor-not-object": (safetensors({"w": "F16"}), "tensor 'w' must be an object"),
    "st-metadata-list": (safetensors({"__metadata__": ["pt"], "w": tensor()}), "__metadata__ must map names to strings"),
    "st-metadata-int-values": (safetensors({"__metadata__": {"format": 1}, "w": tensor()}), "__metadata__ must map"),
    "st-header-length-absurd": (safetensors({"w": tensor()}, length=2**63), "declares a .*-byte header"),
    "st-header-length-past-end": (safetensors({"w": tensor()}, length=10**6), "declares a 1,000,000-byte header"),
    "st-header-nested": (safetensors(b'{"w": ' + nested(100_000) + b"}"), "nests its safetensors header too deeply"),
    "st-header-list": (safetensors(b"[1, 2]"), "not a JSON object"),
    "st-header-not-json": (safetensors(b"nope!"), "as a safetensors header"),
    "st-empty-file": (safetensors(b"", length=0, data_bytes=0), "as a safetensors header"),
    "st-second-shard-lies": (second_shard_lies, r"tensor 'b': data_offsets \[8, 0\] end before"),
    # -- GGUF headers that lie
    "gguf-tensor-count-absurd": (gguf(n_tensors=2**60), "tensor count 1,152,921,504,606,846,976 is more than"),
    "gguf-kv-count-absurd": (gguf(n_kv=2**63), "key/value count .* is more than"),
    "gguf-kv-count-past-end": (gguf(n_kv=60_000, data=0), "key/value count: 60,000 of them cannot fit"),
    "gguf-tensor-count-past-end": (gguf(n_tensors=100_000, data=0), "tensor count: 100,000 of them cannot fit"),
    "gguf-key-length-absurd": (gguf(kvs=[struct.pack("<Q", HUGE)]), "key 0 is 4,611,686,018,427,387,904 bytes"),
    "gguf-string-length-absurd": (gguf_with(kv("general.name", 8, struct.pack("<Q", HUGE))),
                                  "general.name is 4,611,686,018,427,387,904 bytes long"),
    "gguf-string-past-end": (gguf_with(kv("general.name", 8, struct.pack("<Q", 10**7)), data=0),
                             r"ends inside its header \(general.name\)"),
    "gguf-array-count-absurd": (gguf_with(kv("llama.rope.dims", 9, struct.pack("<IQ", 4, HUGE))),
                                "'llama.rope.dims' items: .* cannot fit"),
    "gguf-string-array-absurd": (gguf_with(kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, HUGE))),
                                 "'tokenizer.ggml.tokens' items: .* cannot fit"),
    "gguf-string-array-item-absurd": (gguf_with(kv("tokenizer.ggml.tokens", 9, struct.pack("<IQQ", 8, 1, HUGE))),
                                      r"bytes of tokenizer.ggml.tokens\[0\].*cannot fit"),
    "gguf-nested-array": (gguf_with(kv("x.nested", 9, struct.pack("<IQ", 9, 1))), "array of type 9"),
    "gguf-value-type-unknown": (gguf_with(kv("x.odd", 13, b"")), "'x.odd' has metadata type 13"),
    "gguf-duplicate-key": (gguf_with(u32("llama.block_count", 3)), "key 'llama.block_count' appears twice"),
    "gguf-alignment-three": (gguf_with(u32("general.alignment", 3)), "general.alignment must be a power of two"),
    "gguf-dims-absurd": (gguf(tensors=[gs("w") + struct.pack("<I", 1000)]), "tensor 'w' has 1,000 dimensions"),
    "gguf-dim-negative": (gguf(tensors=[tinfo("w", (-256, 2))]), r"tensor 'w' has a negative dimension"),
    "gguf-dim-huge": (gguf(tensors=[tinfo("w", (256, HUGE))]), "tensor 'w': its .* bytes of data end at byte"),
    "gguf-data-truncated": (gguf(data=100), "tensor 'output_norm.weight': its 1,024 bytes of data end"),
    "gguf-type-unknown": (gguf(tensors=[tinfo("w", ggml_type=99)]), "tensor 'w' has GGML tensor type 99"),
    "gguf-row-not-blocks": (gguf(tensors=[tinfo("w", (100,), ggml_type=12)]), "not a whole number of 256-value"),
    "gguf-offset-wrong": (gguf(tensors=[tinfo(offset=64)]), "has offset 64, expected 0"),
    "gguf-name-too-long": (gguf(tensors=[tinfo("w" * 200)]), "name of tensor 0 is 200 bytes long, more than 63"),
    "gguf-version-1": (gguf(version=1), "is GGUF version 1.*vram reads versions 2 and 3"),
    "gguf-version-big-endian": (gguf(version=3 << 24), "is a big-endian GGUF file"),
    "gguf-not-gguf": (gguf(head=b"GGML"), "is not a GGUF file"),
    "gguf-empty": (special(lambda p: p.write_bytes(b""), "model.gguf"), "is not a GGUF file"),
    "gguf-ends-in-header": (special(lambda p: p.write_bytes(b"GGUF\x03\0\0\0"), "model.gguf"), "ends inside"),
    "gguf-block-count-string": (gguf_changed("llama.block_count", struct.pack("<I", 8) + gs("two")),
                                "llama.block_count must be a whole number .* not 'two'"),
    "gguf-embedding-zero": (gguf_changed("llama.embedding_length", struct.pack("<II", 4, 0)),
                            "llama.embedding_length must be a whole number from 1"),
    "gguf-embedding-float": (gguf_changed("llama.embedding_length", struct.pack("<If", 6, 256.0)),
                             "llama.embedding_length must be a whole number .* not 256.0"),
}


@pytest.mark.parametrize("build, words", list(CASES.values()), ids=list(CASES))
def test_hostile_file_is_a_clear_error(tmp_path, build, words):
    target, liar = build(tmp_path)
    with deadline(10), pytest.raises(vram.VramError) as caught:
        vram.ask(f"infer {target}")
    message = str(caught.value)
    assert str(liar) in message, message
    assert caught.match(words)


@pytest.mark.parametrize("make", [os.mkfifo, lambda p: p.symlink_to("/dev/zero")], ids=["fifo", "dev-zero"])
def test_special_files_cost_no_time_and_no_memory(tmp_path, make):
    make(tmp_path / "config.json")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with deadline(2), pytest.raises(vram.VramError):
        vram.ask(f"infer {tmp_path}")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024


def test_at_least_forty_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("changes", [
    {"rope_scaling": "linear"}, {"layer_types": 7}, {"layer_types": ["sliding_attention"]},
    {"torch_dtype": ["bf16"]}, {"architectures": "LlamaForCausalLM"}, {"hidden_size": 64, "dropout": None},
], ids=["rope-scaling-string", "layer-types-int", "layer-types-short", "torch-dtype-list", "architectures-string",
        "null-is-absent"])
def test_keys_vram_does_not_read_are_not_judged(tmp_path, changes):
    (tmp_path / "config.json").write_text(json.dumps({**TINY_LLAMA, **changes}))
    assert vram.ask(f"infer {tmp_path / 'config.json'} fp16").item("weights").bytes > 0


def test_text_config_is_read_first(tmp_path):
    outer = {"model_type": "llama", "text_config": {**TINY_LLAMA, "num_hidden_layers": 3}, "vocab_size": 5}
    (tmp_path / "config.json").write_text(json.dumps(outer))
    assert models.resolve_model(str(tmp_path / "config.json")).spec.num_layers == 3


SAFETENSORS_CASES = [case for case in CASES if case.startswith("st-")]


@pytest.mark.parametrize("case", SAFETENSORS_CASES)
def test_safetensors_own_reader_refuses_them_too(tmp_path, case):
    """The refusals follow safetensors' rules: its own reader refuses every file vram refuses."""
    from safetensors import safe_open
    _, liar = CASES[case][0](tmp_path)
    with pytest.raises(Exception):  # safetensors raises SafetensorError, OSError or ValueError
        with safe_open(liar, "pt"):
            pass


def test_files_written_by_safetensors_are_read(tmp_path):
    import torch
    from safetensors.torch import save_file
    dtypes = [torch.float32, torch.float16, torch.bfloat16, torch.int8, torch.uint8, torch.bool, torch.int64,
              torch.float8_e4m3fn, torch.float8_e5m2, torch.float64, torch.int32, torch.int16]
    tensors = {f"t{i}": torch.zeros(3, 5, dtype=dtype) for i, dtype in enumerate(dtypes)}
    tensors["scalar"], tensors["empty"] = torch.zeros((), dtype=torch.float32), torch.zeros(0, 7)
    save_file(tensors, tmp_path / "model.safetensors", metadata={"format": "pt"})
    (tmp_path / "config.json").write_text(json.dumps(TINY_LLAMA))
    checkpoint = models.resolve_model(str(tmp_path)).checkpoint
    assert checkpoint.tensor_count == len(tensors)
    assert checkpoint.bytes == sum(t.numel() * t.element_size() for t in tensors.values())
    assert checkpoint.elements == sum(t.numel() for t in tensors.values())
