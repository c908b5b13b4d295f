"""What torch.compile keeps of a cross-entropy on upcast 16-bit logits, measured on the CPU: the
partition torch.compile makes (AOTAutograd with inductor's decompositions and the min-cut
partitioner, compiled here with a no-op compiler) saves the 16-bit input and two fp32 values a row,
not the fp32 log-softmax eager PyTorch saves. vram.memory.detailed.common.COMPILED_CHUNKED rests on
it; the chunked loss's term is then pinned to its formula."""

from __future__ import annotations

import pytest
import torch

import vram
from vram.memory.detailed.common import COMPILED_CHUNKED

ROWS, VOCAB = 64, 1000


def _saved_for_backward(decompose: bool) -> list[tuple[torch.dtype, tuple[int, ...]]]:
    """The tensors the forward graph hands to backward (beyond the loss), as (dtype, shape)."""
    import torch.nn.functional as F
    from functorch.compile import aot_function, make_boxed_func, min_cut_rematerialization_partition
    from torch._inductor.decomposition import select_decomp_table

    saved: list[tuple[torch.dtype, tuple[int, ...]]] = []

    def forward_compiler(graph, _inputs):
        output = next(node for node in graph.graph.nodes if node.op == "output")
        saved.extend((arg.meta["val"].dtype, tuple(arg.meta["val"].shape)) for arg in output.args[0][1:])
        return make_boxed_func(graph.forward)

    def loss(logits, labels):
        return F.cross_entropy(logits.float(), labels, reduction="sum")

    compiled = aot_function(loss, fw_compiler=forward_compiler, bw_compiler=lambda g, _: make_boxed_func(g.forward),
                            partition_fn=min_cut_rematerialization_partition,
                            decompositions=select_decomp_table() if decompose else None)
    logits = torch.randn(ROWS, VOCAB, dtype=torch.bfloat16, requires_grad=True)
    compiled(logits, torch.randint(0, VOCAB, (ROWS,))).backward()
    return saved


def test_compiled_cross_entropy_keeps_the_16_bit_logits_not_the_fp32_log_softmax():
    saved = [entry for entry in _saved_for_backward(decompose=True) if entry[0].is_floating_point]
    assert (torch.bfloat16, (ROWS, VOCAB)) in saved
    assert (torch.float32, (ROWS, VOCAB)) not in saved
    assert sum(torch.Size(shape).numel() for dtype, shape in saved if dtype == torch.float32) <= 2 * ROWS


def test_without_inductors_decompositions_the_fp32_log_softmax_is_kept():
    # the eager-like partition, the contrast that makes the first test mean something
    assert (torch.float32, (ROWS, VOCAB)) in _saved_for_backward(decompose=False)


@pytest.mark.parametrize("query, compiled", [
    ("lora llama-3.1-8b bf16 compile seq 2048 batch 2 on rtx-4090 torchtune", True),
    ("lora llama-3.1-8b bf16 seq 2048 batch 2 on rtx-4090 torchtune", False),
    ("train llama-3.1-8b bf16 compile seq 2048 batch 2 on h100", False),  # transformers' loss: not compiled
])
def test_torchtunes_compiled_chunked_loss_keeps_16_bit_chunks(query, compiled):
    estimate = vram.ask(query)
    logits = estimate.item("logits")
    b, s, v, n, c = 2, 2048, 128256, 8, 2
    assert (logits.formula == COMPILED_CHUNKED[1]) is compiled
    if compiled:
        assert logits.bytes == (c + c / n) * b * s * v
    assert any(a.startswith("torch.compile:") for a in estimate.assumptions) is ("compile" in query)
