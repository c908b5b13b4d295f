"""The Request: built directly, validated, and round-tripped through its JSON form."""

from __future__ import annotations

import dataclasses

import pytest

import vram
from vram import Request
from vram.catalog.resolve import resolve_request
from vram.request.request import release

#: Requests built in Python -> the fields they end up with once answered (the resolver names the
#: model and GPU as the catalog does; building a Request looks nothing up).
BUILT = [
    (dict(task="training", model="chatglm-6b", dtype="bf16"), {"mixed_precision": True}),
    (dict(task="training", params=6e9, dtype="fp32"), {"mixed_precision": False}),
    (dict(task="training", params=6e9), {"mixed_precision": None, "dtype": None}),
    (dict(task="inference", model="Llama-2-7B", gpu="A100"), {"model": "llama-2-7b", "gpu": "a100-80gb",
                                                               "gpu_count": 1}),
    (dict(task="inference", params=7e9, gpu="24gb"), {"gpu": "gpu-24gb"}),
    (dict(task=vram.Task.LORA, params=7e9, lora_rank=16), {"task": "lora", "lora_rank": 16}),
]


@pytest.mark.parametrize("kwargs, fields", BUILT)
def test_built_request(kwargs, fields):
    got = resolve_request(Request(**kwargs)).request.to_dict()
    assert {key: got[key] for key in fields} == fields


@pytest.mark.parametrize("kwargs, _", BUILT)
def test_round_trip_through_dict(kwargs, _):
    request = Request(**kwargs)
    assert Request.from_dict(request.to_dict()) == request


def test_replace_for_sweeps():
    base = vram.parse("train 7b bf16 adamw on 8 a100")
    totals = [vram.estimate(dataclasses.replace(base, batch_size=b)).item("activations").bytes for b in (1, 2, 4)]
    assert totals == sorted(totals) and len(set(totals)) == 3


def test_replace_is_validated():
    base = vram.parse("train 7b bf16 adamw")
    with pytest.raises(vram.RangeError):
        dataclasses.replace(base, batch_size=-1)


def test_from_dict_rejects_unknown_fields_with_a_close_match():
    with pytest.raises(vram.UnknownWordError, match="did you mean seq_len"):
        Request.from_dict({"task": "inference", "params": 7e9, "seqlen": 4})


def test_from_dict_needs_a_task():
    with pytest.raises(vram.MissingError):
        Request.from_dict({"params": 7e9})


@pytest.mark.parametrize("bad", [dict(seq_len=True), dict(seq_len="4096"), dict(params=float("nan")),
                                 dict(params=float("inf")), dict(batch_size=10**400), dict(tp=0),
                                 dict(sp="yes")])
def test_bad_values_from_python(bad):
    with pytest.raises(vram.VramError):
        Request(**{"task": "inference", "params": 7e9, **bad})


def test_wider_dtype_never_needs_less():
    order = ["int4", "int8", "fp16", "fp32"]
    totals = [vram.ask(f"infer llama-2-7b {d}").total_bytes for d in order]
    assert totals == sorted(totals)


def test_more_gpus_never_raise_the_per_gpu_bytes_of_a_sharded_job():
    totals = [vram.ask(f"train 7b bf16 adamw zero3 on {n} a100").total_bytes for n in (1, 2, 8, 64)]
    assert totals == sorted(totals, reverse=True)


@pytest.mark.parametrize("earlier, later", [("0.9.2", "0.10"), ("0.2", "0.2.1"), ("2.4.0", "3.0"), ("0", "0.0.1")])
def test_release_order(earlier, later):
    assert release(earlier) < release(later)


@pytest.mark.parametrize("short, long", [("0.2", "0.2.0"), ("3.0", "3.0.0"), ("3", "3.0.0.0"), ("0", "0.0")])
def test_release_trailing_zeros_name_the_same_release(short, long):
    # a wiggle_of_total_since = "3.0.0" or a by_release row of "3.0.0" applies to engine-version=3.0
    assert release(short) == release(long)
