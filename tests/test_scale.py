"""Scale (core/memory/detailed/scale.py): the global batch and its accumulation, data and context
parallel degrees, uneven and interleaved pipelines, pinned to Megatron-LM's formulas
(megatron/training/theoretical_memory_usage.py, arguments.py)."""

from __future__ import annotations

import math

import pytest

import vram
from vram.errors import ConflictError, InvalidRequestError


def est(query: str):
    return vram.ask(query)


def item(query: str, key: str):
    return est(query).item(key)


def phase(query: str, name: str):
    return next(p for p in est(query).phases if p.name == name)


#: query -> accumulation steps the answer says (global batch = micro x replicas x steps)
ACCUMULATION = {
    "train llama-3-70b bf16 adamw global batch 512 micro batch 2 on 64 h100 zero3": 4,
    "train llama-3-8b bf16 adamw global batch 64 on 8x h100 zero3": 8,
    "train llama-3-8b bf16 adamw tp 2 global batch 32 on 8x h100": 8,  # 4 replicas of tp 2
    "train llama-3-8b bf16 adamw grad accum 4 batch 2 on 8x h100 zero3": 4,
}


@pytest.mark.parametrize("query", ACCUMULATION)
def test_the_answer_says_the_accumulation(query):
    steps = ACCUMULATION[query]
    said = est(query).assumptions
    assert any(a.startswith(f"{steps} accumulation steps: global batch") or
               f"x {steps} accumulation steps x" in a for a in said), said


def test_accumulated_gradients_are_live_at_the_next_micro_batchs_backward():
    query = "train llama-3-8b bf16 adamw global batch 64 on 8x h100 zero3"
    start = phase(query, "start of backward")
    single = phase("train llama-3-8b bf16 adamw on 8x h100 zero3", "start of backward")
    assert "gradients" in start.live and "gradients" not in single.live
    assert start.bytes == single.bytes + item(query, "gradients").bytes
    assert "no parameter gradient yet" not in start.note


def test_the_micro_batch_follows_from_the_global_batch_and_the_accumulation():
    query = "train llama-3-8b bf16 adamw global batch 64 grad accum 8 on 8x h100 zero3"
    assert item(query, "activations").values["b"] == 64 // (8 * 8)


@pytest.mark.parametrize("query, error, words", [
    ("train llama-3-8b bf16 adamw global batch 100 micro batch 2 on 8x h100", InvalidRequestError,
     "not a multiple of micro-batch 2 x 8 data-parallel replicas = 16"),
    ("train llama-3-8b bf16 adamw global batch 60 grad accum 4 on 8x h100", InvalidRequestError,
     "global batch 60 does not split into accumulation 4 x 8 data-parallel replicas"),
    ("train llama-3-8b bf16 adamw global batch 64 grad accum 4 batch 1 on 8x h100", ConflictError,
     "is not micro-batch 1 x accumulation 4 x 8 data-parallel replicas"),
])
def test_batch_words_that_disagree_are_refused(query, error, words):
    with pytest.raises(error, match=words):
        vram.ask(query)


def test_context_parallel_splits_a_sequences_activations():
    one = "train llama-3.1-8b bf16 adamw zero3 full seq 131072 on 8x h100"
    four = "train llama-3.1-8b bf16 adamw zero3 full seq 131072 cp 4 on 8x h100"
    for key in ("activations", "logits", "backward_layer"):
        assert item(four, key).bytes == math.ceil(item(one, key).bytes / 4), key
    assert item(four, "optimizer").bytes == item(one, "optimizer").bytes  # states shard over dp x cp alike


#: Megatron-LM theoretical_memory_usage.py: the first stage's activations x (1 + (p - 1) / (p v))
#: with v virtual stages; x min(1, m / p) with m micro-batches a step under plain 1F1B.
@pytest.mark.parametrize("extra, factor", [
    ("vpp 2", 1 + 7 / 16),
    ("vpp 4", 1 + 7 / 32),
    ("global batch 4", 4 / 8),  # 4 micro-batches on 8 stages
    ("global batch 16", 1),
])
def test_pipeline_in_flight_micro_batches(extra, factor):
    base = "train llama-3-70b bf16 adamw tp 8 pp 8 on 64x h100"
    assert item(f"{base} {extra}", "activations").bytes == math.ceil(item(base, "activations").bytes * factor)


def test_uneven_stages_are_answered_for_the_most_loaded():
    # 126 layers on 8 stages (Megatron's first/last-stage layer counts, torchtitan's split): 16 on the most loaded
    query = "train llama-3.1-405b bf16 adamw tp 8 pp 8 on 64x h100"
    answer = est(query)
    assert any("126 layers on 8 uneven pipeline stages: the most loaded holds 16" in a for a in answer.assumptions)
    assert answer.item("activations").values["uneven"] == round(8 * 16 / 126, 6)
    even = "train llama-3.1-405b bf16 adamw tp 8 pp 2 on 16x h100"  # 63 a stage
    assert "uneven" not in est(even).item("activations").values


@pytest.mark.parametrize("query, count", [
    ("train llama-3.1-405b bf16 tp 8 pp 16 cp 2 dp 4 vpp 2 on h100", 1024),
    ("train llama-3.1-8b bf16 cp 4 dp 2 on h100", 8),
])
def test_the_gpus_of_the_degrees_named(query, count):
    assert vram.parse(query).gpu_count == count


@pytest.mark.parametrize("query, value", [
    ("min gpus train llama-3.1-8b bf16 adamw zero3 cp 4 seq 131072 on h100", 8),  # whole cp groups
    ("min gpus train mixtral-8x7b bf16 adamw zero3 ep 8 on h100", 8),
])
def test_the_fewest_gpus_hold_whole_groups(query, value):
    answer = est(query)
    assert answer.solution.value == value and answer.fit[0].fits


@pytest.mark.parametrize("query", [
    "train llama-3-70b bf16 adamw global batch 512 micro batch 2 on 64x h100-80gb",
    "train llama-3.1-405b bf16 tp 8 pp 16 cp 2 dp 4 vpp 2 on h100",
    "train llama-3-8b bf16 grad accum 8 dp 8 on h100",
])
def test_queries_print_back(query):
    request = vram.parse(query)
    assert vram.parse(request.to_query()) == request
