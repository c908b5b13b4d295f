"""Over 10,000 valid requests: every byte count is a finite int >= 0 and the JSON is strict JSON.

Requests are built from strategies over the catalog (models, GPUs) and every enumerated setting,
so the estimates reach the detailed and article methods, parallelism, adapters, quantisation,
solvers and advice. A combination the Request refuses is a VramError and is skipped; anything
else that escapes is a bug. VRAM_VALID_EXAMPLES lowers the count while iterating.
"""

from __future__ import annotations

import json
import math
import os

from hypothesis import HealthCheck, given, settings, strategies as st

import vram
from vram import catalog
from vram.request.enums import Dtype, Method, Optimizer, Recompute, Solve, Task

EXAMPLES = int(os.environ.get("VRAM_VALID_EXAMPLES", "10000"))

MODELS = sorted(catalog.models().by_id)
GPUS = sorted(catalog.gpus().by_id)
POWERS = st.sampled_from([1, 2, 4, 8, 16, 64])


@st.composite
def requests(draw) -> dict:
    fields: dict = {"task": draw(st.sampled_from(list(Task)))}
    if draw(st.booleans()):
        fields["model"] = draw(st.sampled_from(MODELS))
    else:  # bare sizes from far below the smallest catalog model (item 5) to beyond the largest
        fields["params"] = draw(st.sampled_from([1, 1e3, 1e6, 17e6, 41e6, 125e6, 1.3e9, 7e9, 70e9, 1e12, 1e15]))
    maybe = lambda name, strategy: fields.__setitem__(name, draw(strategy)) if draw(st.booleans()) else None  # noqa: E731
    maybe("dtype", st.sampled_from(list(Dtype)))
    maybe("seq_len", st.sampled_from([1, 7, 512, 2048, 4096, 32768, 2**20, 2**24]))
    maybe("batch_size", st.sampled_from([1, 3, 8, 512, 2**20]))
    maybe("method", st.sampled_from(list(Method)))
    if fields["task"] is not Task.INFERENCE:
        maybe("optimizer", st.sampled_from(list(Optimizer)))
        maybe("recompute", st.sampled_from(list(Recompute)))
        maybe("zero", st.integers(0, 3))
    if draw(st.integers(0, 3)) == 0:
        maybe("tp", POWERS)
        maybe("pp", POWERS)
    if draw(st.booleans()):
        fields["gpu"] = draw(st.sampled_from(GPUS))
        maybe("gpu_count", st.sampled_from([1, 2, 3, 8, 80, 1024]))
        if draw(st.integers(0, 7)) == 0:
            fields["solve"] = draw(st.sampled_from([Solve.MAX_BATCH_SIZE, Solve.MAX_SEQ_LEN, Solve.MIN_GPU_COUNT]))
    return fields


def _strict(constant: str):
    raise ValueError(f"not JSON: {constant}")


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(requests())
def test_every_valid_request_gives_whole_nonnegative_bytes_and_strict_json(fields):
    try:
        estimate = vram.estimate(vram.Request(**fields))
    except vram.VramError:
        return  # a combination that cannot run (tp not dividing heads, ...): refused with a message
    for item in estimate.items:
        assert type(item.bytes) is int and item.bytes >= 0, item
    for total in (estimate.total_bytes, estimate.job_total_bytes):
        assert type(total) is int and total >= 0
    for fit in estimate.fit:
        assert type(fit.per_gpu_bytes) is int and math.isfinite(fit.utilisation)
    document = json.loads(vram.render_json(estimate), parse_constant=_strict)
    assert document["estimate"]["total_bytes"] == estimate.total_bytes
