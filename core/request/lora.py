"""The matrices LoRA adapters can go on, by the names PEFT users write (target_modules)."""

from __future__ import annotations

#: A transformer block's linear matrices, as Llama-style models name them in Hugging Face.
BLOCK_MATRICES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
#: Names a query may use for a target: each matrix, short forms, and PEFT's "all-linear".
TARGET_ALIASES: dict[str, tuple[str, ...]] = {
    **{name: (name,) for name in BLOCK_MATRICES},
    **{name[0]: (name,) for name in ("q_proj", "k_proj", "v_proj", "o_proj")},
    "qkv": ("q_proj", "k_proj", "v_proj"), "attention": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "mlp": ("gate_proj", "up_proj", "down_proj"), "gate": ("gate_proj",), "up": ("up_proj",),
    "down": ("down_proj",), "all": BLOCK_MATRICES, "all-linear": BLOCK_MATRICES, "all_linear": BLOCK_MATRICES,
}
#: What a Request's lora_targets may hold.
TARGET_NAMES = frozenset(BLOCK_MATRICES)

DEFAULT_RANK = 8  # PEFT LoraConfig's default r
#: Target matrices by default, by task name: PEFT's default for Llama-style models is the query
#: and value projections (also the LoRA paper's choice, section 4.2); QLoRA's recipe puts adapters
#: on every linear layer of the blocks.
DEFAULT_TARGETS: dict[str, tuple[str, ...]] = {
    "lora": ("q_proj", "v_proj"),
    "qlora": BLOCK_MATRICES,
}
