"""What PyTorch's caching allocator keeps reserved beyond the live tensors, where a sourced rule says.

torch.cuda.max_memory_reserved (torchtitan's ``memory:`` log line) counts the allocator's
segments, not the tensors in them. The allocator's own rule (c10/cuda/CUDACachingAllocator.cpp,
the header comment): "Allocations are associated with a stream. Once freed, blocks can be
re-allocated on the same stream, but not on any other stream", and a request takes "the smallest
cached block that will fit", split when larger. So memory that a collective allocates on its own
stream stays reserved for that stream when the default stream reaches its peak.

FSDP2 allocates two such pools (torch/distributed/fsdp/_fully_shard/_fsdp_collectives.py):

- ``foreach_all_gather``: each group's flat all-gather output (its parameters unsharded, in the
  param dtype) on the all-gather copy-in stream. In forward, ``wait_for_unshard`` frees a group's
  output only after the next group's is allocated ("Defer free to allow for overlap of this
  copy-out with next all-gather collective"), so the first group (the embedding's) and the
  first block's are reserved together.
- ``foreach_reduce``: under ``torch.cuda.stream(reduce_scatter_stream)`` a group's gradients,
  unsharded, in the reduce dtype (``reduce_scatter_input``), and the reduced shard
  (``reduce_output``), of which the sharded gradients are views ("The RS output is allocated in
  the RS stream"). ``FSDPParamGroup.post_backward`` frees the previous group's input before the
  next one's. The gradients stay there until ``zero_grad`` frees them before the next forward.

The rest of the reserve (fragmentation of the default stream's pool) has no rule that does not
depend on the order of every allocation of the run, and is not modelled.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

#: The allocator's own rule, quoted in the module docstring.
CACHING_ALLOCATOR = ("c10/cuda/CUDACachingAllocator.cpp: blocks freed on one stream are re-allocated on that stream "
                     "only; best fit, blocks split")
FSDP2_POOLS = ("torch/distributed/fsdp/_fully_shard/_fsdp_collectives.py foreach_all_gather (copy-in stream), "
               "foreach_reduce (reduce_scatter_input and reduce_output on the reduce-scatter stream; the sharded "
               "gradients are views of reduce_output); _fsdp_param_group.py wait_for_unshard, post_backward")
#: The allocator's segment sizes (c10/cuda/CUDACachingAllocator.cpp get_allocation_size): a request of at most
#: kSmallSize takes a block of a kSmallBuffer segment, one below kMinLargeAlloc a block of a kLargeBuffer
#: segment, a larger one a segment of its own rounded up to kRoundLarge.
SMALL_SIZE, SMALL_BUFFER = 2**20, 2 * 2**20
MIN_LARGE_ALLOC, LARGE_BUFFER, ROUND_LARGE = 10 * 2**20, 20 * 2**20, 2 * 2**20
#: An expandable segment of the large pool grows by kLargeBuffer too (ExpandableSegment's segment
#: size); torchtitan's run_llama_train.sh sets PYTORCH_CUDA_ALLOC_CONF="expandable_segments:True".
SEGMENT_STEP = LARGE_BUFFER
SEGMENTS = ("c10/cuda/CUDACachingAllocator.cpp get_allocation_size: up to 1 MiB in 2 MiB segments, below 10 MiB "
            "in 20 MiB segments, larger each in a segment of its own rounded up to 2 MiB")


def reserved_for(sizes: Iterable[int]) -> int:
    """What the allocator reserves for tensors of ``sizes`` allocated and kept (a model's weights): each
    large one its own segment rounded up to 2 MiB, the smaller ones packed into shared segments (without
    gaps: a lower bound where their order leaves some)."""
    small = mid = large = 0
    for size in sizes:
        if size <= SMALL_SIZE:
            small += size
        elif size < MIN_LARGE_ALLOC:
            mid += size
        else:
            large += math.ceil(size / ROUND_LARGE) * ROUND_LARGE
    return large + math.ceil(mid / LARGE_BUFFER) * LARGE_BUFFER + math.ceil(small / SMALL_BUFFER) * SMALL_BUFFER


def high_water(events: Iterable[tuple[str, int]]) -> int:
    """The most address space one stream's pool spans when ``events`` (``("name", bytes)`` to
    allocate, ``("name", 0)`` to free) run through a best-fit allocator that splits blocks and
    grows its segment at the end, as an expandable segment does; in SEGMENT_STEP pages."""
    free: list[tuple[int, int]] = []  # (start, size), disjoint
    held: dict[str, tuple[int, int]] = {}
    end = 0
    for name, size in events:
        if size == 0:
            free = _merged(free + [held.pop(name)])
            continue
        fits = [block for block in free if block[1] >= size]
        if fits:
            start, room = min(fits, key=lambda block: (block[1], block[0]))
            free.remove((start, room))
            if room > size:
                free.append((start + size, room - size))
        elif free and sum(free[-1]) == end:  # the free tail of the segment grows
            start = free.pop()[0]
            end = start + size
        else:
            start, end = end, end + size
        held[name] = (start, size)
    return math.ceil(end / SEGMENT_STEP) * SEGMENT_STEP


def _merged(blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, size in sorted(blocks):
        if out and sum(out[-1]) == start:
            out[-1] = (out[-1][0], out[-1][1] + size)
        else:
            out.append((start, size))
    return out


def all_gather_pool(groups: list[float], param_bytes: int) -> int:
    """FSDP2's all-gather copy-in pool through a forward over ``groups`` (parameters a group, in
    forward order): each group's flat output freed once the next one's is allocated."""
    events: list[tuple[str, int]] = []
    for number, params in enumerate(groups):
        events.append((f"group{number}", round(param_bytes * params)))
        if number:
            events.append((f"group{number - 1}", 0))
    return high_water(events)


def reduce_scatter_pool(groups: list[float], shards: int, reduce_bytes: int) -> int:
    """FSDP2's reduce-scatter pool through a backward, which reduces ``groups`` in the reverse of
    forward order (a root group's post-backward runs last, as it runs first in forward): each
    group's unsharded gradients and their shard; each input freed before the next one's, the
    shards (the sharded gradients) kept."""
    events: list[tuple[str, int]] = []
    for number, params in enumerate(reversed(groups)):
        if number:
            events.append(("input", 0))
        events += [("input", round(reduce_bytes * params)), (f"shard{number}", round(reduce_bytes * params / shards))]
    return high_water(events)
