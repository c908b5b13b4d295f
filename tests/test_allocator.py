"""The caching allocator's per-stream pools (memory/detailed/allocator.py): the best-fit replay on
sequences worked by hand, FSDP2's two pools against their closed forms, and the reserved figure
beside the peak."""

from __future__ import annotations

import pytest

import vram
from vram.memory.detailed.allocator import SEGMENT_STEP, all_gather_pool, high_water, reduce_scatter_pool
from vram.memory.runtime import without_context
from vram.request.enums import Item

S = SEGMENT_STEP

# events (name, bytes; 0 frees) -> the pool's high water, worked by hand
HIGH_WATER = [
    ([("a", 1)], S),  # one page at least
    ([("a", 3 * S), ("b", S), ("a", 0), ("c", 2 * S)], 4 * S),  # c split from a's freed block
    # the freed tail of the segment grows rather than a new block after it: 4 pages, not 6
    ([("a", S), ("b", 2 * S), ("b", 0), ("c", 3 * S)], 4 * S),
    # best fit: c takes the 2-page hole, d the 3-page one (worst fit would give c the 3-page hole
    # and grow the segment to 10 pages for d)
    ([("a", 2 * S), ("x", S), ("b", 3 * S), ("y", S), ("a", 0), ("b", 0), ("c", 2 * S), ("d", 3 * S)], 7 * S),
    # freed neighbours merge: a and b's holes together hold c
    ([("a", S), ("b", S), ("y", S), ("a", 0), ("b", 0), ("c", 2 * S)], 3 * S),
    # the same size allocated and freed in turn reuses one block
    ([("a", S), ("a", 0), ("b", S), ("b", 0), ("c", S)], S),
]


@pytest.mark.parametrize("events, expected", HIGH_WATER)
def test_best_fit_high_water(events, expected):
    assert high_water(events) == expected


def _pages(size: float) -> int:
    return -(-round(size) // S) * S


V, H, LAYERS, BLOCK = 128256, 4096, 32, 218_112_000  # llama-3.1-8b: vocabulary, hidden, blocks' parameters
ROOT = [2 * V * H + H] + [BLOCK] * LAYERS  # torchtitan at 9dec370: embedding, norm and head in the root's group
APART = [V * H] + [BLOCK] * LAYERS + [V * H + H]  # torchtitan from 2025: the embedding apart, norm and head together


@pytest.mark.parametrize("groups, expected", [
    (ROOT, 2 * (2 * V * H + H + BLOCK)),  # the first group's output freed only once the first block's is made
    (APART, 2 * (V * H + BLOCK)),  # the head's group fits in the embedding's freed block
])
def test_all_gather_pool_holds_the_first_group_and_the_first_block(groups, expected):
    assert all_gather_pool(groups, 2) == _pages(expected)


@pytest.mark.parametrize("shards", [8, 128])
def test_reduce_scatter_pool_of_the_root_layout(shards):
    # one block's fp32 input, the blocks' sharded gradients, then the root group's input (larger
    # than any hole); the root's own shard fits in the freed block input
    expected = 4 * (BLOCK + LAYERS * BLOCK / shards + 2 * V * H + H)
    assert reduce_scatter_pool(ROOT, shards, 4) == _pages(expected)


@pytest.mark.parametrize("shards", [8, 128])
def test_reduce_scatter_pool_of_the_apart_layout(shards):
    # the head's group first: its input, then its shard after it. Each block's input then takes
    # the start of the freed head input, and its shard the best-fitting hole: the rest of the head
    # input while it lasts, then the end of the pool. The embedding's input, reduced last, is
    # larger than any hole (the end again); its shard fits in the last block's freed input.
    head, block, embedding = 4 * (V * H + H), 4 * BLOCK, 4 * V * H
    in_hole = min(LAYERS, (head - block) // (block // shards))
    expected = head + head // shards + (LAYERS - in_hole) * (block // shards) + embedding
    assert reduce_scatter_pool(APART, shards, 4) == _pages(expected)


TORCHTITAN_8B = "train llama-3.1-8b bf16 adamw fsdp selective seq 8192 batch 2 on {n}x h100 torchtitan"


@pytest.mark.parametrize("gpus", [8, 128])
def test_torchtitan_reserved_is_the_peak_and_the_stream_pools(gpus):
    estimate = vram.ask(TORCHTITAN_8B.format(n=gpus))
    pools = estimate.item(Item.STREAM_POOLS)
    assert pools.values["shards"] == gpus and pools.values["embedding_params"] == V * H
    assert Item.STREAM_POOLS not in estimate.peak_phase.live  # reserved, never live at the peak
    # the peak is at the loss's backward, before any gradient exists
    assert estimate.reserved_bytes == without_context(estimate.total_bytes, estimate.items) + pools.bytes


@pytest.mark.parametrize("query", [
    "train llama-3.1-8b bf16 adamw fsdp seq 4096 batch 2 on 8x h100",  # transformers: not modelled
    "train llama-3.1-8b bf16 adamw selective seq 8192 batch 2 on h100 torchtitan",  # one GPU: no FSDP
    "train llama-3.1-8b bf16 adamw fsdp selective pp 2 seq 8192 batch 2 on 8x h100 torchtitan",  # pipelined
])
def test_no_reserved_figure_where_no_pool_is_modelled(query):
    estimate = vram.ask(query)
    assert estimate.reserved_bytes is None
    assert "reserved_bytes" not in estimate.to_dict()


@pytest.mark.parametrize("query", [
    TORCHTITAN_8B.format(n=8),
    "train llama-3.1-8b torchtitan seq 256 batch 1 on 8x h100",  # a short context: the step may peak
    "train llama-3.1-70b torchtitan full tp 8 sp seq 8192 batch 1 on 64x h100",
])
def test_reserved_is_never_below_the_allocated_peak(query):
    estimate = vram.ask(query)
    assert estimate.reserved_bytes >= without_context(estimate.total_bytes, estimate.items)
    assert estimate.to_dict()["reserved_bytes"] == estimate.reserved_bytes
