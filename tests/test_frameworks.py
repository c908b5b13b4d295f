"""Training frameworks' own terms (issue 17): each pinned to the framework's code, and read by the
detailed method from the runtime catalog's columns, never from a framework's name."""

from __future__ import annotations

import dataclasses
import math

import pytest

import vram
from vram import catalog
from vram.catalog.runtimes import TRANSFORMERS_TERMS, Fsdp2Groups, Keeps, Loss, runtimes, training_terms
from vram.errors import ConflictError, InvalidRequestError, UnsupportedError
from vram.request.enums import Item, PhaseName, Recompute

GB = 1e9


def terms(framework: str):
    return runtimes()["framework", framework].terms


# framework -> (column, value, words its source must hold): each term pinned to the file and
# function of the framework's own code it was read from
PINNED = [
    ("torchtitan", "keep_selective", Keeps.PER_OP, "activation_checkpoint.py SelectiveAC"),
    ("torchtitan", "keep_full", Keeps.LAYER_INPUT, "FullAC"),
    ("torchtitan", "recompute_default", Recompute.SELECTIVE, "SelectiveAC"),
    ("torchtitan", "autocast", False, "mixed_precision_param = bfloat16"),
    ("torchtitan", "loss", Loss.FP32_LOGITS, "cross_entropy(pred.float())"),
    ("torchtitan", "gathered_units", 2, "fully_shard"),
    ("torchtitan", "fsdp2_reduce_bytes", 4, "mixed_precision_reduce = float32"),
    ("torchtitan", "fsdp2_groups", Fsdp2Groups.APART, "tok_embeddings a fully_shard group of its own"),
    ("torchtitan", "compile_loss", True, "CompileConfig.components = ['model', 'loss']"),
    ("torchtune", "loss", Loss.CHUNKED_LINEAR, "LinearCrossEntropyLoss(num_output_chunks=8)"),
    ("torchtune", "loss_chunks", 8, None),
    ("torchtune", "recompute_default", Recompute.FULL, "enable_activation_checkpointing: True"),
    ("torchtune", "keep_selective", Keeps.NOT_OFFERED, "whole layers"),
    ("torchtune", "gathered_units", 2, "FSDP2 fully_shard"),
    ("torchtune", "gathered_bytes", 2, None),
    ("unsloth", "keep_full", Keeps.LAYER_INPUT_ON_HOST, "Unsloth_Offloaded_Gradient_Checkpointer"),
    ("unsloth", "loss", Loss.FUSED_LINEAR, "_get_chunk_multiplier"),
    ("unsloth", "loss_chunk_cap_gib", 4.0, None),
    ("unsloth", "recompute_default", Recompute.FULL, "use_gradient_checkpointing = 'unsloth'"),
    ("unsloth", "loss_chunk_free_share", 0.5, None),
    ("unsloth", "lora_kernel_families", frozenset({"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "cohere",
                                                   "granite"}), "FastLlamaModel.patch_peft_model"),
    ("megatron", "gradient_bytes", 4, "accumulate_allreduce_grads_in_fp32"),
    ("megatron", "keep_selective", Keeps.ALL_BUT_CORE_ATTENTION, "--recompute-granularity selective"),
    ("megatron", "loss", Loss.VOCAB_PARALLEL, "fused_cross_entropy.py"),
    ("megatron", "gradient_buffer", True, "_ParamAndGradBuffer.__init__: grad_data = torch.zeros"),
    ("megatron", "fused_norm", True, "layernorm_linear.py _LayerNormLinear.forward saves inputmat"),
    ("deepspeed", "reduce_bucket_elements", 500_000_000, "reduce_bucket_size = 5e8"),
    ("deepspeed", "step_grad_elements", 1_000_000_000, "_prepare_fp32_grad_for_sub_group"),
    ("torchtune", "zero_default", 3, "training.shard_model"),
    ("torchtitan", "zero_default", 3, "data_parallel_shard_degree = -1"),
    ("deepspeed", "gathered_units", 1, "largest_layer_memory = 4 * largest_layer_params"),
    ("deepspeed", "gathered_bytes", 4, None),
    ("llama-factory", "recompute_default", Recompute.FULL, "disable_gradient_checkpointing"),
]
_ATTRIBUTES = {"keep_selective": lambda t: t.keeps[Recompute.SELECTIVE], "keep_full": lambda t: t.keeps[Recompute.FULL]}


@pytest.mark.parametrize("framework, column, value, source", PINNED)
def test_each_term_is_pinned_to_the_frameworks_code(framework, column, value, source):
    found = terms(framework)
    assert _ATTRIBUTES.get(column, lambda t: getattr(t, column))(found) == value
    if source is not None:
        assert source in found.sources[column]


@pytest.mark.parametrize("framework, own", [
    ("transformers", {}), ("axolotl", {}),
    ("llama-factory", {"recompute_default": "full"}),  # it checkpoints unless told not to
])
def test_frameworks_on_transformers_keep_its_terms(framework, own):
    found = terms(framework)
    assert dataclasses.replace(found, sources={}) == dataclasses.replace(training_terms(own), sources={})
    assert found.keeps[Recompute.SELECTIVE] is Keeps.ALL_BUT_CORE_ATTENTION


@pytest.mark.parametrize("settings, message", [
    ({"loss": "chunky"}, "chunky"),
    ({"keep_full": "everything"}, "everything"),
    ({"loss_chunks": 0}, "loss_chunks"),
    ({"gathered_units": 1.5}, "gathered_units"),
    ({"fsdp2_reduce_bytes": 3}, "fsdp2_reduce_bytes"),
    ({"fsdp2_groups": "scattered"}, "scattered"),
    ({"compile_loss": "yes"}, "compile_loss"),
    ({"prefetch": 2}, "unknown framework columns"),
])
def test_a_bad_column_is_a_catalog_error(settings, message):
    with pytest.raises(ValueError, match=message):
        training_terms(settings)


#: Columns whose source is their partner's (a count and its unit, a loss and its chunking).
SOURCED_WITH = {"gathered_bytes": "gathered_units", "loss_chunks": "loss", "loss_chunk_cap_gib": "loss",
                "loss_chunk_free_share": "loss"}


@pytest.mark.parametrize("framework", [i for (kind, i) in runtimes() if kind == "framework"])
def test_every_column_a_row_sets_has_its_source(framework):
    row = runtimes()["framework", framework]
    columns = {k for k in row.settings if not k.startswith("source_") and k != "precision_regime"}
    assert {SOURCED_WITH.get(c, c) for c in columns} <= set(row.terms.sources)


def test_every_framework_column_has_a_default():
    assert set(TRANSFORMERS_TERMS) >= {k for (kind, _), r in runtimes().items() if kind == "framework"
                                       for k in r.settings if k != "precision_regime" and not k.startswith("source_")}


def _items(query: str) -> dict[str, int]:
    return {item.key: item.bytes for item in vram.ask(query).items}


LLAMA_8B = dict(L=32, h=4096, a=32, k=8, d=128, f=14336, v=128256)


def test_torchtitan_per_op_checkpointing_keeps_every_other_matmul():
    # SelectiveAC on a Llama block: wq (1st) kept, wk (2nd) recomputed, wv (3rd) kept, wo (4th)
    # recomputed, w1 (5th) kept, w3 (6th) recomputed, w2 (7th) kept; the SDPA output and its
    # log-sum-exp kept; the block's input kept by the checkpoint
    m, b, s = LLAMA_8B, 2, 8192
    per_token = 2 * (m["h"] + m["a"] * m["d"] + m["k"] * m["d"] + m["f"] + m["h"] + m["a"] * m["d"]) + 4 * m["a"]
    outside = (4 + 2) * b * s * m["h"] + 4 * b * s + 2 * b * s * m["h"]  # final RMSNorm and the head's input
    items = _items("train llama-3.1-8b bf16 adamw fsdp selective seq 8192 batch 2 on 8x h100 torchtitan")
    assert items["activations"] == m["L"] * per_token * b * s + outside
    # FSDP2 mixed precision: fp32 sharded weights, gradients and states, no autocast copies
    assert "weight_casts" not in items
    assert items["weights"] == math.ceil(4 * 8_030_261_248 / 8)
    assert items["zero3_gather"] == math.ceil(2 * 2 * 525_336_576)  # two bf16 units of the largest (the embedding)


def test_torchtitan_defaults_to_per_op_and_says_so():
    estimate = vram.ask("train llama-3.1-8b bf16 adamw fsdp seq 8192 batch 2 on 8x h100 torchtitan")
    assert any(a.startswith("recompute selective (default: torchtitan") for a in estimate.assumptions)
    assert "per op" in estimate.item("activations").label
    assert any("without autocast" in a for a in estimate.assumptions)


def test_per_op_checkpointing_is_refused_where_not_modelled():
    with pytest.raises(UnsupportedError, match="dense models with flash/sdpa") as caught:
        vram.ask("train llama-3.1-8b bf16 adamw selective eager seq 2048 torchtitan")
    assert caught.value.field == "recompute"


@pytest.mark.parametrize("query, bytes_a_logit", [
    ("train llama-3.1-8b bf16 adamw fsdp seq 8192 batch 2 on 8x h100 torchtitan", 12),  # eager: 3 fp32 copies
    ("train llama-3.1-8b bf16 adamw fsdp compile seq 8192 batch 2 on 8x h100 torchtitan", 4),  # 16-bit logits, grad
    ("train llama-3.1-8b bf16 adamw fsdp compile seq 8192 batch 2 on 8x h100", 12),  # transformers: loss not compiled
])
def test_torchtitan_compiles_its_whole_logits_loss(query, bytes_a_logit):
    assert _items(query)["logits"] == bytes_a_logit * 2 * 8192 * LLAMA_8B["v"]


def test_torchtune_chunked_loss_and_pure_bf16():
    b, s, v = 2, 4096, 128256
    items = _items("train llama-3.2-3b bf16 adamw seq 4096 batch 2 on a100 torchtune")
    assert items["logits"] == round((4 + 8 / 8) * b * s * v)
    base = _items("train llama-3.2-3b bf16 adamw full seq 4096 batch 2 on a100")
    assert base["logits"] == 12 * b * s * v  # transformers: the whole fp32 logits
    assert items["weights"] * 2 == base["weights"]  # torchtune's bf16 weights beside AMP's fp32


@pytest.mark.parametrize("query, logits", [
    # torchtune's README ladder before its "+ Chunked Cross Entropy" row: torch.nn.CrossEntropyLoss
    # on the whole fp32 output, as transformers computes it
    ("train llama-3.2-3b bf16 adamw fp32 loss seq 4096 batch 2 on a100 torchtune", 12),
    ("train llama-3.2-3b bf16 adamw full chunked loss seq 4096 batch 2 on a100", 4 + 8 / 8),  # 8 chunks
    ("train llama-3.2-3b bf16 adamw chunked loss seq 4096 batch 2 on a100 torchtune", 4 + 8 / 8),  # its own
])
def test_a_named_loss_replaces_the_frameworks(query, logits):
    b, s, v = 2, 4096, 128256
    estimate = vram.ask(query)
    assert estimate.item("logits").bytes == round(logits * b * s * v)
    assert any(a.startswith("the loss named: ") for a in estimate.assumptions)


def test_the_optimizer_step_in_backward_keeps_one_gradient():
    # torchtune's optimizer_in_bwd: each parameter stepped and its gradient freed in a
    # post-accumulate-grad hook; the largest is Llama-3.2-3B's (tied) embedding, 128256 x 3072, bf16
    query = "train llama-3.2-3b bf16 adamw full seq 4096 batch 2 on a100 torchtune"
    after, during = _items(query), _items(query + " optimizer in backward")
    assert during["gradients"] == 2 * 128256 * 3072 < after["gradients"]
    assert vram.ask(query + " optimizer in backward").total_bytes < vram.ask(query).total_bytes
    with pytest.raises(UnsupportedError, match="modelled for full fine-tuning") as caught:
        vram.ask("lora llama-3.2-3b optimizer in backward on a100 torchtune")
    assert caught.value.field == "optimizer_in_backward"


def test_deepspeed_bf16_master_weights_keep_ten_bytes_a_parameter():
    # DeepSpeedExamples training/bf16_master_weight README (4 GPUs, ZeRO-3): 16.17 GB (GiB) allocated after
    # the run, 10 bytes a parameter: bf16 weights, gradients, master copy and two AdamW moments
    query = "train 6.86b hidden 4096 layers 32 heads 32 bf16 bf16_master_weights_and_grads adamw zero3 full seq 512 batch 1 on 4x a100 deepspeed"
    items = _items(query)
    params = vram.ask(query).request.params
    assert items["weights"] + items["gradients"] + items["optimizer"] == pytest.approx(10 * params / 4, rel=1e-6)
    fp32 = _items(query.replace(" bf16_master_weights_and_grads", ""))
    assert fp32["weights"] + fp32["gradients"] + fp32["optimizer"] == pytest.approx(16 * params / 4, rel=1e-6)
    assert items["step_gradient"] * 2 == fp32["step_gradient"]  # the sub-group's gradient in the master dtype


@pytest.mark.parametrize("query, error, says", [
    ("train llama-3-8b bf16_master_weights_and_grads adamw on 4x a100 deepspeed", InvalidRequestError,
     "say zero 1, 2 or 3"),
    ("train llama-3-8b fp16 bf16_master zero3 on 4x a100 deepspeed", ConflictError, "the dtype is fp16"),
])
def test_bf16_master_weights_need_zero_and_bf16(query, error, says):
    with pytest.raises(error, match=says):
        vram.parse(query)


def test_a_recompute_word_the_framework_lacks_is_refused():
    with pytest.raises(UnsupportedError, match="torchtune has no selective recompute") as caught:
        vram.ask("train llama-3.2-3b bf16 adamw selective on a100 torchtune")
    assert "say recompute none or full" in str(caught.value) and caught.value.field == "recompute"


def test_unsloth_offloads_layer_inputs_to_host_and_fuses_the_loss():
    b, s, h, v, L = 2, 2048, 4096, 128256, 32
    estimate = vram.ask("lora llama-3.1-8b seq 2048 batch 2 on a100 unsloth")
    items = {i.key: i.bytes for i in estimate.items}
    assert estimate.host_bytes == L * 2 * b * s * h  # every layer's bf16 input
    assert items["logits"] == 2 * min(4 * b * s * v, 4 * 2**30) + 2 * b * s * h
    plain = _items("lora llama-3.1-8b seq 2048 batch 2 on a100")
    assert items["activations"] == plain["activations"] - (L - 1) * 2 * b * s * h


UNSLOTH_QLORA = "qlora llama-3.1-8b adam8bit r 32 targets all-linear seq 4096 batch 1 on {gpu} unsloth"


def test_unsloth_kernels_keep_the_norms_input_and_the_mlps_gate_and_up():
    # Fast_RMS_Layernorm saves X and an fp32 rstd a row; LoRA_MLP saves X, e, g and its backward
    # makes one f-wide gradient (DW), the activation's gradients written into e and g in place
    m, b, s = LLAMA_8B, 1, 4096
    h, f, c = m["h"], m["f"], 2
    norm = c * b * s * h + 4 * b * s
    layer = (2 * norm + 2 * c * b * s * h + c * b * s * (m["a"] + 2 * m["k"]) * m["d"] + c * b * s * m["a"] * m["d"]
             + 4 * b * m["a"] * s + 2 * c * b * s * f + c * b * s * f)
    estimate = vram.ask(UNSLOTH_QLORA.format(gpu="a100"))
    assert estimate.item("backward_layer").bytes == layer
    assert estimate.item("activations").bytes == c * b * s * h + norm + c * b * s * h  # one input, the final norm
    assert any("Unsloth's own kernels" in a for a in estimate.assumptions)


def test_unsloth_kernels_need_adapters_on_the_whole_mlp():
    estimate = vram.ask("qlora llama-3.1-8b r 32 targets q_proj v_proj seq 4096 on a100 unsloth")
    assert any("counted as transformers and PEFT keep it" in a for a in estimate.assumptions)
    plain = vram.ask("qlora llama-3.1-8b r 32 targets q_proj v_proj seq 4096 on a100")
    assert estimate.item("backward_layer").bytes == plain.item("backward_layer").bytes


def test_unsloth_kernels_only_where_they_apply():
    # Fast_RMS_Layernorm is an RMSNorm kernel: Cohere's LayerNorm keeps its mean and rstd; LoRA_MLP
    # replaces a dense gated MLP, not a Qwen3 MoE layer's experts (their routing terms stay)
    cohere = "qlora command-r-35b r 32 targets {} seq 4096 on h100 unsloth"
    fused, plain = vram.ask(cohere.format("all-linear")), vram.ask(cohere.format("q_proj v_proj"))
    assert fused.item("activations").bytes == plain.item("activations").bytes
    assert "8*b*s" in fused.item("backward_layer").formula
    moe = vram.ask("qlora qwen3-30b-a3b r 32 targets all-linear seq 4096 on h100 unsloth")
    layer = moe.item("backward_layer").formula
    assert "2*c*b*s*x*h" in layer and "n*b*s*h + 4*b*s" in layer
    assert any("its RMSNorm" in a and "LoRA MLP" not in a for a in moe.assumptions)


@pytest.mark.parametrize("gpu", ["rtx-3060-8gb", "a100", None])
def test_unsloth_fused_loss_chunk_is_half_the_free_memory_at_most_4_gib(gpu):
    # unsloth_zoo _get_chunk_multiplier: target = min(free / 2, 4 GiB), free read once at the first loss
    query = UNSLOTH_QLORA.format(gpu=gpu) if gpu else UNSLOTH_QLORA.replace(" on {gpu}", "")
    estimate = vram.ask(query)
    items = {i.key: i.bytes for i in estimate.items}
    b, s, v, h = 1, 4096, LLAMA_8B["v"], LLAMA_8B["h"]
    cap = 4 * 2**30
    if gpu is not None:
        live = sum(items[k] for k in ("weights", "quant_overhead", "adapters", "activations", "cuda_context"))
        cap = min(cap, round((estimate_gpu_bytes(gpu) - live) / 2))
    assert items["logits"] == 2 * min(4 * b * s * v, cap) + 2 * b * s * h
    assert (cap < 4 * 2**30) is (gpu == "rtx-3060-8gb")


def estimate_gpu_bytes(gpu: str) -> int:
    return catalog.gpus().find(gpu).memory_bytes


def test_megatron_accumulates_gradients_in_fp32_and_shards_only_the_optimizer():
    # Megatron's theoretical_memory_usage.py: 6 + 12/dp bytes a parameter with the distributed optimizer
    params, dp = 8_030_261_248, 8
    items = _items("train llama-3.1-8b bf16 adamw zero1 seq 4096 on 8x h100 megatron")
    assert items["weights"] + items["gradients"] + items["optimizer"] == pytest.approx(params * (6 + 12 / dp), abs=2)


#: Megatron's loss against transformers': the fp32 softmax it saves and the 16-bit gradient cast beside
#: it (cross_entropy.py, fused_cross_entropy.py), of the vocabulary shard a tensor-parallel GPU holds,
#: where transformers keeps log_softmax's output, nll_loss's gradient and the logits' gradient (12 bytes).
@pytest.mark.parametrize("query, per_element", [
    ("train qwen2.5-7b bf16 adamw full tp 2 sp seq 2048 batch 16 on 2x h100 megatron", (4 + 2) / 2),
    ("train qwen2.5-7b bf16 adamw full seq 2048 batch 2 on h100 megatron", 4 + 2),
    ("lora qwen2.5-7b bf16 full tp 2 sp seq 2048 batch 4 on 2x h100 megatron", (4 + 2) / 2),
    ("train qwen2.5-7b bf16 adamw full tp 2 sp seq 2048 batch 16 on 2x h100", 12 / 2),
])
def test_megatron_loss_is_its_vocab_parallel_softmax(query, per_element):
    estimate = vram.ask(query)
    b, s, v = estimate.request.batch_size, estimate.request.seq_len, 152_064
    assert estimate.item("logits").bytes == math.ceil(per_element * b * s * v)


@pytest.mark.parametrize("framework, norm", [
    ("megatron", "n*b*s*h + 4*b*s"),  # Transformer Engine's fused norm: the 16-bit input and rsigma
    ("deepspeed", "(4 + n)*b*s*h + 4*b*s"),  # Hugging Face's LlamaRMSNorm: the fp32 upcast beside it
])
def test_megatron_norms_save_no_fp32_copy(framework, norm):
    estimate = vram.ask(f"train llama-2-7b bf16 adamw no recompute tp 2 seq 2048 batch 2 on 2x h100 {framework}")
    assert estimate.item("activations").formula.startswith(f"L*(2*({norm}) + 2*(c*b*s*h)")
    b, s, h, L = 2, 2048, 4096, 32
    if framework == "megatron":  # vram's count less the 4 bytes an element of each upcast, both norms a layer
        hf = vram.ask("train llama-2-7b bf16 adamw no recompute tp 2 seq 2048 batch 2 on 2x h100 deepspeed")
        assert hf.item("activations").bytes - estimate.item("activations").bytes == (2 * L + 1) * 4 * b * s * h


@pytest.mark.parametrize("task", ["train", "lora"])
def test_megatron_gradient_buffer_is_live_from_the_first_backward_on(task):
    # DDP allocates the buffer when it wraps the model and zero_grad_buffer only zeros it, so the
    # gradients sit beside the loss at the start of backward; transformers' are None there
    for framework, live in (("megatron", True), ("", False)):
        estimate = vram.ask(f"{task} qwen2.5-7b bf16 adamw full tp 2 seq 2048 batch 4 on 2x h100 {framework}")
        start = next(p for p in estimate.phases if p.name == PhaseName.START_OF_BACKWARD)
        assert (Item.GRADIENTS in start.live) is live


@pytest.mark.parametrize("query, zero", [
    ("train llama-3-8b torchtune on 8x h100", 3),  # torchtune's distributed recipes always shard
    ("train llama-3-8b torchtitan bf16 adamw on 8x h100", 3),
    ("train llama-3-8b torchtune on 1x h100", 0),  # one GPU: nothing to shard over
    ("train llama-3-8b torchtune tp 8 on 8x h100", 0),  # no data-parallel GPUs left
    ("train llama-3-8b torchtune zero 2 on 8x h100", 2),  # a stage the query names stays
    ("train llama-3-8b on 8x h100", 0),  # transformers: DDP unless the query says zero or fsdp
])
def test_a_framework_that_always_shards_runs_fsdp(query, zero):
    estimate = vram.ask(query)
    assert estimate.request.zero == zero
    assert any("torchtune's way" in a or "torchtitan's way" in a for a in estimate.assumptions) is (
        zero == 3)


def test_deepspeed_zero2_keeps_a_reduce_bucket():
    items = _items("train llama-3.1-8b bf16 adamw zero2 on 8x a100 deepspeed")
    assert items["reduce_bucket"] == 2 * 500_000_000
    assert "reduce_bucket" not in _items("train llama-3.1-8b bf16 adamw zero2 on 8x a100")  # a row without one


@pytest.mark.parametrize("query, gpus, step_gradient", [
    # ZeRO-3 with fp32 master weights casts one sub-group of this GPU's gradient partition to fp32
    ("train llama-3.1-8b bf16 adamw zero3 on 16x a100 deepspeed", 16, "partition"),
    ("train llama-3.1-8b bf16 adamw zero3 on 4x a100 deepspeed", 4, "sub_group"),  # 2.0e9 > sub_group_size
    ("train llama-3.1-8b pure bf16 adamw zero3 on 4x a100 deepspeed", 4, None),  # no fp32 master: no cast
    ("train llama-3.1-8b bf16 adamw zero2 on 4x a100 deepspeed", 4, None),
    ("train llama-3.1-8b bf16 adamw zero3 on 4x a100", 4, None),  # FSDP (transformers' row): no sub-groups
    ("train llama-3.1-8b bf16 adamw zero3 offload on 4x a100 deepspeed", 4, 0),  # the step runs on the host
])
def test_deepspeed_zero3_step_casts_a_sub_group_of_gradients_to_fp32(query, gpus, step_gradient):
    estimate = vram.ask(query)
    items = {item.key: item.bytes for item in estimate.items}
    params = 8_030_261_248
    expected = {"partition": round(4 * params / gpus), "sub_group": 4 * 1_000_000_000}.get(step_gradient, step_gradient)
    assert items.get("step_gradient") == expected
    if expected:
        step = next(p for p in estimate.phases if p.name == PhaseName.OPTIMIZER_STEP)
        assert "step_gradient" in step.live


@pytest.mark.parametrize("query, on_gpu", [
    # DeepSpeed offloads on one GPU too: the states (and with offload params the weights) leave it
    ("train llama-2-7b bf16 adamw zero3 offload params seq 512 on a100 deepspeed", {"zero3_gather"}),
    ("train llama-2-7b bf16 adamw zero2 offload seq 512 on a100 deepspeed", {"weights"}),
])
def test_zero_offload_applies_on_one_gpu(query, on_gpu):
    items = _items(query)
    assert items["optimizer"] == 0 and items["gradients"] == 0
    assert all(items[key] > 0 for key in on_gpu)
    assert items["weights"] == (0 if "offload params" in query else items["weights"])


def test_the_model_reads_columns_not_names():
    # a framework row is only its columns: transformers with torchtitan's terms answers as torchtitan
    import vram.catalog.runtimes as catalog_runtimes

    titan = runtimes()["framework", "torchtitan"]
    hf = runtimes()["framework", "transformers"]
    disguised = dataclasses.replace(hf, settings=titan.settings)
    disguised.__dict__.pop("terms", None)
    table = dict(runtimes())
    table["framework", "transformers"] = disguised
    query = "train llama-3.1-8b bf16 adamw fsdp selective seq 8192 batch 2 on 8x h100"
    original = catalog_runtimes.runtimes
    try:
        catalog_runtimes.runtimes = lambda: table
        as_disguised = _items(query)
    finally:
        catalog_runtimes.runtimes = original
    assert as_disguised == _items(query + " torchtitan")


def test_activation_offloading_keeps_the_checkpointed_inputs_in_host_memory():
    # torchtune's enable_activation_offloading with checkpointing: the layer inputs live on the host
    query = "lora llama-3.2-3b bf16 full offload activations seq 4096 batch 2 on a100 torchtune"
    offloaded, kept = vram.ask(query), vram.ask(query.replace(" offload activations", ""))
    assert offloaded.item("activations").bytes < kept.item("activations").bytes
    assert offloaded.host_bytes > 0 == kept.host_bytes
    assert offloaded.total_bytes < kept.total_bytes


def test_activation_offloading_without_checkpointing_is_refused():
    with pytest.raises(vram.VramError, match="activation offloading is modelled with full recompute"):
        vram.ask("train llama-3.2-3b bf16 no recompute offload activations on a100 torchtune")
