"""The matrices LoRA adapters can go on, by the names PEFT users write (target_modules)."""

from __future__ import annotations

#: A transformer block's linear matrices, as Llama-style models name them in Hugging Face.
BLOCK_MATRICES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
#: Layers outside the blocks that PEFT can put adapters on: the output head (a Linear) and the
#: token embedding (an Embedding: lora_embedding_A r x vocab, B hidden x r). PEFT's all-linear
#: leaves the output layer out (peft/tuners/tuners_utils.py, _maybe_include_all_linear_layers).
OUTSIDE_BLOCKS = ("lm_head", "embed_tokens")
#: Other families' names for the block's linear layers (catalog/data/lora_modules.toml maps each
#: family's onto the block matrices): GPT-2's c_attn, BLOOM's query_key_value, Baichuan's W_pack,
#: Phi-3's qkv_proj and gate_up_proj, InternLM2's wqkv, Mixtral's per-expert w1 w2 w3, OPT's fc1.
FAMILY_NAMES = ("c_attn", "c_proj", "c_fc", "query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h",
                "w_pack", "qkv_proj", "gate_up_proj", "out_proj", "fc1", "fc2", "wqkv", "wo", "w1", "w2", "w3")
#: Names a query may use for a target: each matrix, short forms, and PEFT's "all-linear".
TARGET_ALIASES: dict[str, tuple[str, ...]] = {
    **{name: (name,) for name in (*BLOCK_MATRICES, *OUTSIDE_BLOCKS, *FAMILY_NAMES)},
    **{name[0]: (name,) for name in ("q_proj", "k_proj", "v_proj", "o_proj")},
    "qkv": ("q_proj", "k_proj", "v_proj"), "attention": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "mlp": ("gate_proj", "up_proj", "down_proj"), "gate": ("gate_proj",), "up": ("up_proj",),
    "down": ("down_proj",), "all": BLOCK_MATRICES, "all-linear": BLOCK_MATRICES, "all_linear": BLOCK_MATRICES,
    # torchtune's names: lora_attn_modules output_proj, apply_lora_to_output
    # (torchtune/models/llama3_1/_component_builders.py)
    "output_proj": ("o_proj",), "output": ("lm_head",),
}
#: What a Request's lora_targets may hold.
TARGET_NAMES = frozenset((*BLOCK_MATRICES, *OUTSIDE_BLOCKS, *FAMILY_NAMES))

DEFAULT_RANK = 8  # PEFT LoraConfig's default r
#: Target matrices by default, by task name: PEFT's default for Llama-style models is the query
#: and value projections (also the LoRA paper's choice, section 4.2); QLoRA's recipe puts adapters
#: on every linear layer of the blocks. A family with names of its own takes PEFT's default for it
#: (catalog/data/lora_modules.toml).
DEFAULT_TARGETS: dict[str, tuple[str, ...]] = {
    "lora": ("q_proj", "v_proj"),
    "qlora": BLOCK_MATRICES,
}
