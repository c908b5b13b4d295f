"""The architecture facts a ModelSpec holds, in one table: the config.json keys (and GGUF key) each
is read from and the range a value must fall in.

ModelSpec's checks (catalog/index.py), the config.json and GGUF readers (catalog/files.py) and
their messages all take their field lists from FACTS, so a new fact is one row here (and its
field on ModelSpec, which tests/test_catalog.py checks against this table).
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["FACTS", "REQUIRED_FACTS", "Fact", "Rule", "whole"]


class Rule(NamedTuple):
    """What one config.json value must be when present (null is the same as absent)."""

    types: tuple[type, ...]  #: JSON types allowed, exactly (a bool is no whole number)
    low: float | None = None
    high: float | None = None
    what: str = ""  #: the rule in words, for the message

    def accepts(self, value: Any) -> bool:
        if type(value) not in self.types:
            return False
        return self.low is None or self.low <= value <= self.high  # NaN fails both


def whole(high: int, low: int = 1) -> Rule:
    return Rule((int,), low, high, f"a whole number from {low} to {high:,}")


class Fact(NamedTuple):
    """One ModelSpec field read from a config.json."""

    keys: tuple[str, ...]  #: config.json keys, first present wins (families name them differently)
    #: the range: about 100x the largest published model's, so that no real config is refused while
    #: a file that lies cannot make the arithmetic absurd
    rule: Rule
    required: bool = False  #: every spec has it (a positive integer); else None means the model has none
    gguf: str | None = None  #: the GGUF metadata key after "<arch>." (llama.cpp's LLM_KV names)


#: Each architecture fact of a ModelSpec: its config.json keys, its range (the comment: the largest
#: published value the range is sized from), whether every spec has it, and its GGUF key.
FACTS: dict[str, Fact] = {
    # 16,384 (Llama-3.1-405B), 18,432 (PaLM-540B)
    "hidden_size": Fact(("hidden_size", "n_embd", "d_model"), whole(2**20), True, "embedding_length"),
    # 126 (Llama-3.1-405B)
    "num_layers": Fact(("num_hidden_layers", "n_layer", "num_layers"), whole(2**14), True, "block_count"),
    # 128
    "num_heads": Fact(("num_attention_heads", "n_head"), whole(2**14), True, "attention.head_count"),
    "num_kv_heads": Fact(("num_key_value_heads", "multi_query_group_num", "num_kv_heads", "n_head_kv"),
                         whole(2**14), True, "attention.head_count_kv"),
    # 256 (Gemma)
    "head_dim": Fact(("head_dim", "kv_channels"), whole(2**16), True),
    # 53,248 (Llama-3.1-405B)
    "intermediate_size": Fact(("intermediate_size", "ffn_hidden_size", "n_inner", "ffn_dim"), whole(2**23),
                              True, "feed_forward_length"),
    # 262,144 (Gemma 3)
    "vocab_size": Fact(("vocab_size", "padded_vocab_size"), whole(2**24), True, "vocab_size"),
    # 10,485,760 (Llama 4 Scout)
    "max_seq_len": Fact(("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length"),
                        whole(2**30), True, "context_length"),
    # 384 (Kimi K2)
    "num_experts": Fact(("num_local_experts", "num_experts", "n_routed_experts"), whole(2**16)),
    # 8
    "experts_per_token": Fact(("num_experts_per_tok", "top_k_experts"), whole(2**10)),
    "moe_intermediate_size": Fact(("moe_intermediate_size",), whole(2**23)),
    # 0 means none (params counts `or 0`)
    "num_shared_experts": Fact(("n_shared_experts",), whole(2**10, low=0)),
    # DeepSeek-V3: 3; 0 means every layer is MoE
    "first_dense_layers": Fact(("first_k_dense_replace",), whole(2**14, low=0)),
    # 512 (DeepSeek-V3)
    "kv_lora_rank": Fact(("kv_lora_rank",), whole(2**16)),
    "q_lora_rank": Fact(("q_lora_rank",), whole(2**16)),
    "qk_rope_head_dim": Fact(("qk_rope_head_dim",), whole(2**16)),
    "qk_nope_head_dim": Fact(("qk_nope_head_dim",), whole(2**16)),
    "v_head_dim": Fact(("v_head_dim",), whole(2**16)),
    # Llama 4's chunked local attention keeps at most one chunk of keys and values a layer, as a
    # window of that size does (transformers' HybridChunkedCache sizes those layers by
    # attention_chunk_size; vLLM runs them as ChunkedLocalAttention)
    "sliding_window": Fact(("sliding_window", "attention_chunk_size"), whole(2**30)),
    # Gated DeltaNet layers of linear-attention hybrids (Qwen3-Next, Qwen3.5)
    "linear_num_key_heads": Fact(("linear_num_key_heads",), whole(2**14)),  # 16 (Qwen3-Next)
    "linear_num_value_heads": Fact(("linear_num_value_heads",), whole(2**14)),  # 48 (Qwen3.5-27B)
    "linear_key_head_dim": Fact(("linear_key_head_dim",), whole(2**16)),  # 128
    "linear_value_head_dim": Fact(("linear_value_head_dim",), whole(2**16)),
    "linear_conv_kernel": Fact(("linear_conv_kernel_dim",), whole(2**10)),  # 4
    # Gemma 4's full-attention layers: their own head width and KV heads
    "global_head_dim": Fact(("global_head_dim",), whole(2**16)),  # 512 (Gemma 4)
    "global_kv_heads": Fact(("num_global_key_value_heads",), whole(2**14)),
}

REQUIRED_FACTS = tuple(field for field, fact in FACTS.items() if fact.required)
