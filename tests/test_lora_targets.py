"""LoRA as frameworks run it: targets by each family's own layer names (catalog/data/
lora_modules.toml, read from the transformers modeling files), PEFT's defaults for them, the
layers outside the blocks, experts as transformers 4.x holds them, and the adapters' precision."""

from __future__ import annotations

import pytest

import vram
from vram.catalog.modules import family_modules
from vram.errors import ConflictError, InvalidRequestError, UnsupportedError
from vram.memory.detailed.adapters import ADAPTER_FP32
from vram.request.lora import TARGET_NAMES


def adapter_params(query: str) -> int:
    return vram.ask(query).item("adapters").values["adapter_params"]


#: query -> trainable parameters, r x (d_in + d_out) a linear layer (a fused layer's outputs add up)
TARGETS = {
    # GPT-2's c_attn (768 -> 3 x 768), PEFT's default for gpt2: 12 x 8 x (768 + 2304)
    "lora gpt2": 12 * 8 * (768 + 2304),
    "lora gpt2 targets q_proj v_proj": 12 * 8 * (768 + 2304),  # the layer that holds them
    "lora gpt2 targets c_attn": 12 * 8 * (768 + 2304),
    # c_proj is the attention's output and the MLP's down projection: both get adapters
    "lora gpt2 targets c_proj": 12 * 8 * ((768 + 768) + (3072 + 768)),
    # ChatGLM3 query_key_value: 32 query heads and 2 key/value groups of 128: 4096 + 2 x 2 x 128
    "lora chatglm3-6b": 28 * 8 * (4096 + 4608),
    # its dense_h_to_4h fuses gate and up (2 x 13696); ChatGLM-6B's plain MLP has up alone
    "lora chatglm3-6b targets dense_h_to_4h": 28 * 8 * (4096 + 2 * 13696),
    "lora chatglm-6b targets dense_h_to_4h": 28 * 8 * (4096 + 16384),
    "lora baichuan2-7b": 32 * 8 * (4096 + 3 * 4096),  # W_pack
    "lora phi-3-mini-4k targets qkv_proj gate_up_proj": 32 * 8 * ((3072 + 3 * 3072) + (3072 + 2 * 8192)),
    "lora internlm2-7b": 32 * 8 * (4096 + 4096 + 2 * 8 * 128),  # wqkv
    "lora bloom-7b1": 30 * 8 * (4096 + 3 * 4096),  # query_key_value
    "lora opt-1.3b targets out_proj fc1": 24 * 8 * ((2048 + 2048) + (2048 + 8192)),
    # Mixtral's experts as transformers 4.x holds them: an nn.Linear an expert, 8 an MoE layer
    "lora mixtral-8x7b targets w1 w2 w3": 32 * 8 * 8 * 3 * (4096 + 14336),
    # outside the blocks: the head h -> v, the embedding's A (r x v) and B (h x r)
    "lora llama-3-8b targets lm_head": 8 * (4096 + 128_256),
    "lora llama-3-8b targets embed_tokens": 8 * (128_256 + 4096),
    # torchtune's names: output_proj is o_proj, output the head
    "lora llama-3-8b targets q_proj v_proj output_proj output":
        32 * 8 * ((4096 + 4096) + (4096 + 1024) + (4096 + 4096)) + 8 * (4096 + 128_256),
}


@pytest.mark.parametrize("query", TARGETS)
def test_adapters_by_the_familys_own_layers(query):
    assert adapter_params(query) == TARGETS[query]


def test_a_name_the_family_lacks_is_refused_with_the_names_it_has():
    with pytest.raises(InvalidRequestError, match="gpt2 has no layer named 'w_pack': its linear layers are c_attn"):
        vram.ask("lora gpt2 targets w_pack")


def test_experts_say_which_transformers_they_follow():
    assert any("as transformers 4.x holds the experts" in a
               for a in vram.ask("lora mixtral-8x7b targets w1 w2 w3").assumptions)


def test_every_catalog_name_is_one_a_request_can_hold():
    for family, table in family_modules().items():
        assert set(table.modules) <= TARGET_NAMES and set(table.peft_default) <= set(table.modules), family


#: (query, adapter bytes a parameter, label dtype): 'pure' keeps adapters, gradients and AdamW's
#: states in the model's 16 bits (torchtune), 'mixed' or the default in fp32 (PEFT)
@pytest.mark.parametrize("query, size, dtype", [
    ("lora llama-3-8b bf16", 4, "fp32"),
    ("lora llama-3-8b bf16 mixed", 4, "fp32"),
    ("lora llama-3-8b bf16 pure", 2, "bf16"),
    ("qlora llama-3-8b pure", 2, "fp16"),  # the NF4 base computes in 16 bits (rules.compute_dtype)
])
def test_adapter_precision(query, size, dtype):
    est = vram.ask(query)
    trained = est.item("adapters").values["adapter_params"]
    assert est.item("adapters").bytes == size * trained and est.item("gradients").bytes == size * trained
    assert est.item("optimizer").bytes == 2 * size * trained and dtype in est.item("adapters").label


def test_frameworks_adapter_precision_rows_cite_their_source():
    assert ADAPTER_FP32["transformers"][0] is True and "autocast_adapter_dtype" in ADAPTER_FP32["transformers"][1]
    assert ADAPTER_FP32["torchtune"][0] is False and "set_default_dtype" in ADAPTER_FP32["torchtune"][1]


@pytest.mark.parametrize("query, error, words", [
    ("lora llama-3-8b master", ConflictError, "say pure \\(16-bit adapters\\) or mixed"),
    ("lora llama-3-8b pure method=article", UnsupportedError, "keep adapters in one precision"),
])
def test_refused(query, error, words):
    with pytest.raises(error, match=words):
        vram.ask(query)


def test_dora_trains_a_magnitude_an_output_and_keeps_each_targets_output():
    # q_proj (4096 outputs) and v_proj (1024) on 32 layers: 163,840 magnitudes beside the LoRA factors
    plain, dora = vram.ask("lora llama-3-8b"), vram.ask("lora llama-3-8b dora")
    assert adapter_params("lora llama-3-8b dora") == adapter_params("lora llama-3-8b") + 32 * (4096 + 1024)
    v = dora.item("backward_layer").values
    assert v["D"] == 4096 + 1024
    assert dora.item("backward_layer").bytes == plain.item("backward_layer").bytes + 2 * v["b"] * v["s"] * v["D"]
    assert dora.item("activations").bytes == plain.item("activations").bytes  # checkpointed: recomputed
    kept = vram.ask("lora llama-3-8b dora no recompute").item("activations")
    assert kept.bytes == vram.ask("lora llama-3-8b no recompute").item("activations").bytes + 32 * 2 * 2048 * 5120


def test_modules_to_save_train_a_copy_in_the_models_dtype():
    est = vram.ask("lora llama-3-8b bf16 modules_to_save lm_head embed_tokens")
    trained = est.item("adapters").values["adapter_params"]
    saved = 2 * 128_256 * 4096
    assert est.item("adapters").values["saved_params"] == saved
    assert est.item("adapters").bytes == 4 * trained + 2 * saved
    assert est.item("gradients").bytes == 4 * trained + 2 * saved
    assert est.item("optimizer").bytes == 8 * trained + 4 * saved  # AdamW's two states in bf16


@pytest.mark.parametrize("query, words", [
    ("lora llama-3-8b modules_to_save q_proj", "'q_proj' is not a layer trained in full"),
    ("infer llama-3-8b dora", "conflicting task 'dora'"),  # a query: 'train ... dora' reads as lora (test_reading)
])
def test_adapter_extras_refused(query, words):
    with pytest.raises(vram.VramError, match=words):
        vram.ask(query)


def test_dora_on_a_full_fine_tune_refused():
    with pytest.raises(vram.VramError, match="DoRA applies to lora or qlora"):
        vram.Request(task="training", model="llama-3-8b", dora=True)
