"""Moments of backward the step's phases must hold (issue 17's fixes): eager attention's softmax
backward against the MLP's, and the last layer's backward under checkpointing with every
checkpoint live."""

from __future__ import annotations

import pytest

import vram
from vram.formula import formula


def test_eager_attention_backward_peaks_at_the_larger_of_the_softmax_and_the_mlp():
    for seq, softmax_wins in ((8192, True), (512, False)):
        item = vram.ask(f"train llama-3-8b bf16 eager seq {seq}").item("backward_layer")
        rest, moments = item.formula.split(" + max(")
        mlp, softmax = moments.rstrip(")").split(", ")
        v = item.values
        assert softmax == "4*b*a*s*s"  # the scores' gradient through Llama's fp32 softmax
        larger = max(formula(mlp).bytes(v), 4 * v["b"] * v["a"] * v["s"] ** 2)
        assert item.bytes == formula(rest).bytes(v) + larger
        assert (4 * v["b"] * v["a"] * v["s"] ** 2 > formula(mlp).bytes(v)) is softmax_wins


def test_fused_attention_has_no_softmax_moment():
    assert "max(" not in vram.ask("train llama-3-8b bf16 seq 8192").item("backward_layer").formula


@pytest.mark.parametrize("query, has_phase", [
    ("lora llama-3-8b seq 4096 batch 4", True),  # checkpointing: LoRA recipes' default
    ("qlora llama-3-8b seq 4096 batch 4 full", True),
    ("lora llama-3-8b seq 4096 batch 4 no recompute", False),  # every layer's tensors already counted
])
def test_lora_with_checkpointing_counts_the_last_layers_backward_with_every_checkpoint(query, has_phase):
    est = vram.ask(query)
    phases = {p.name: p for p in est.phases}
    assert ("backward, last layer" in phases) is has_phase
    if has_phase:
        by_key = {item.key: item.bytes for item in est.items}
        last = phases["backward, last layer"]
        assert {"activations", "backward_layer"} <= set(last.live) and "logits" not in last.live
        assert last.bytes == sum(by_key[k] for k in last.live)
