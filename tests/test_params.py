"""Parameter counts computed from the catalog's architectures, pinned to published counts."""

from __future__ import annotations

import pytest
from conftest import read_lines

from vram import catalog
from vram.catalog.params import count_parameters

PINNED = [(line.split(",")[0], int(line.split(",")[1])) for line in read_lines("parameter_counts.csv")]

#: Exact to the parameter: the models the detailed-model issue names, and the plain ones.
EXACT = {"llama-2-7b", "llama-3-8b", "mistral-7b", "llama-2-70b", "mixtral-8x7b", "qwen2.5-72b",
         "chatglm-6b", "glm-4-9b", "phi-3-mini-4k", "yi-34b", "gpt-3-175b", "pythia-12b"}


@pytest.mark.parametrize("model_id, published", PINNED)
def test_parameter_count(model_id, published):
    total = count_parameters(catalog.find_model(model_id)).total
    if model_id in EXACT:
        assert total == published
    else:  # small terms the layout leaves out (QK-norms, extra norms, router biases): < 0.01 %
        assert total == pytest.approx(published, rel=1e-4)


@pytest.mark.parametrize("model_id, active", [("mixtral-8x7b", 12_879_925_248), ("deepseek-v3", 37_552_297_472)])
def test_active_parameters_of_moe(model_id, active):
    assert count_parameters(catalog.find_model(model_id)).active == pytest.approx(active, rel=1e-6)


def test_every_catalog_model_is_near_its_nominal_size():
    for spec in catalog.models().by_id.values():
        ratio = count_parameters(spec).total / spec.nominal_params
        assert 0.75 < ratio < 1.35, (spec.id, ratio)


#: One layer of Qwen3-Next-80B-A3B by its module printout (vladimiralbrekhtccr/baka docs/moe.md):
#: Gated DeltaNet in_proj_qkvz 2048x12288, in_proj_ba 2048x64, out_proj 4096x2048, conv1d 8192 x 4,
#: dt_bias and A_log 32 each, the gated norm 128; gated attention q_proj 2048x8192 (query and gate),
#: k_proj and v_proj 2048x512, o_proj 4096x2048 (QK-norms not counted).
QWEN3_NEXT_LINEAR = 2048 * 12288 + 2048 * 64 + 4096 * 2048 + 8192 * 4 + 2 * 32 + 128
QWEN3_NEXT_FULL = 2048 * 8192 + 2 * 2048 * 512 + 4096 * 2048


def test_linear_attention_layers_count_their_own_projections():
    counts = count_parameters(catalog.find_model("qwen3-next-80b-a3b"))
    assert counts.attention == 36 * QWEN3_NEXT_LINEAR + 12 * QWEN3_NEXT_FULL


@pytest.mark.parametrize("model_id, total_b, active_b", [
    ("qwen3-next-80b-a3b", 80, 3),  # the model card: 80B in total and 3B activated
    ("qwen3.5-35b-a3b", 35, 3),
    ("glm-4.7-flash", 30, 3),  # 30B-A3B: MLA with query compression, 64 experts + 1 shared, top-4
])
def test_new_moe_models_are_near_their_named_sizes(model_id, total_b, active_b):
    counts = count_parameters(catalog.find_model(model_id))
    assert counts.total / 1e9 == pytest.approx(total_b, rel=0.02)
    assert counts.active / 1e9 == pytest.approx(active_b, rel=0.3)


#: Gemma 4 31B's layers by its config (hidden 5376, 32 query heads): a sliding layer has q, k, v and
#: o at head_dim 256 with 16 KV heads; a global layer q and o at 512 and one K projection of 4 heads
#: (attention_k_eq_v: no v_proj).
GEMMA4_SLIDING = 5376 * 32 * 256 + 2 * 5376 * 16 * 256 + 32 * 256 * 5376
GEMMA4_GLOBAL = 5376 * 32 * 512 + 5376 * 4 * 512 + 32 * 512 * 5376


def test_gemma4_global_layers_count_their_own_projections():
    counts = count_parameters(catalog.find_model("gemma-4-31b"))
    assert counts.attention == 50 * GEMMA4_SLIDING + 10 * GEMMA4_GLOBAL
    assert counts.mlp == 60 * 3 * 5376 * 21504


#: Gemma 4's published sizes, to one decimal, as public write-ups copy them (a table of Ollama's gemma4
#: tags: 26b "MoE, 25.2B total / 3.8B active (8 of 128 experts + 1 shared)", 31b "Dense, 30.7B, 60
#: layers"; a deployment note: "Gemma 4 26B-A4B-IT (MoE, 25.2B total / 3.8B active params)"): the
#: language model, without the vision encoder that Hugging Face's safetensors totals (25.81B, 31.27B) add.
@pytest.mark.parametrize("model_id, total_b, active_b", [("gemma-4-26b-a4b", 25.2, 3.8), ("gemma-4-31b", 30.7, 30.7)])
def test_gemma4_counts_round_to_the_published_figures(model_id, total_b, active_b):
    counts = count_parameters(catalog.find_model(model_id))
    assert round(counts.total / 1e9, 1) == total_b and round(counts.active / 1e9, 1) == active_b
