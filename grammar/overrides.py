"""llama.cpp's --override-tensor (-ot) patterns read as the experts they move to host memory.

llama.cpp matches each ``pattern=buffer`` of the flag's comma-separated list against every tensor's
name with std::regex_search (common/arg.cpp, "--override-tensor"), and its own --cpu-moe and
--n-cpu-moe N are such patterns: ``\\.ffn_(up|down|gate)_exps`` for every block, and
``blk\\.i\\.ffn_(up|down|gate)_exps`` for each block i below N (common/common.h
llm_ffn_exps_cpu_override, llm_ffn_exps_block_regex). So a pattern is read by matching it, as
llama.cpp would, against the tensor names of a block (src/llama-arch.cpp LLM_TENSOR_NAMES): one that
moves the three expert matrices of every block, or of blocks 0 to N - 1, and nothing else, is
--cpu-moe or --n-cpu-moe N; any other is refused by name.
"""

from __future__ import annotations

import re

from vram.errors import UnsupportedError

#: The tensors of a llama.cpp block, by the names src/llama-arch.cpp gives them (blk.N.<name>.weight):
#: attention, norms, the router, the routed experts (_exps), the shared expert (_shexp) and a dense FFN.
BLOCK_TENSORS = ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "attn_q_a", "attn_kv_a_mqa",
                 "ffn_norm", "ffn_gate_inp", "exp_probs_b", "ffn_gate", "ffn_up", "ffn_down",
                 "ffn_gate_shexp", "ffn_up_shexp", "ffn_down_shexp")
#: The routed experts: what --cpu-moe and --n-cpu-moe move (llm_ffn_exps_block_regex).
EXPERT_TENSORS = ("ffn_gate_exps", "ffn_up_exps", "ffn_down_exps")
#: Tensors outside the blocks.
GLOBAL_TENSORS = ("token_embd.weight", "output_norm.weight", "output.weight")
#: Blocks probed: more than any model in the catalog has (DeepSeek-V3: 61); a pattern that moves the
#: experts of all of them is --cpu-moe.
PROBED_BLOCKS = 256
#: Buffer names that mean host memory (llama.cpp's ggml_backend_buft names: "CPU").
HOST_BUFFERS = frozenset({"cpu"})
#: Patterns are the user's regular expressions, run by a backtracking engine: a repeated group ("([\w.]+)*")
#: or many repeats in a row take minutes on one name, so those are refused; the patterns that move
#: experts need at most two (llama.cpp's own have none: llm_ffn_exps_block_regex).
MAX_REPEATS = 3
REPEAT = re.compile(r"(?<!\\)[*+{]")
REPEATED_GROUP = re.compile(r"(?<!\\)\)[*+{]")
#: llama.cpp's --cpu-moe, as the field counts it: every block (the estimate stops at the model's).
ALL_BLOCKS = 2**16


def _names(block: int) -> tuple[str, ...]:
    return tuple(f"blk.{block}.{name}.weight" for name in (*BLOCK_TENSORS, *EXPERT_TENSORS))


def _experts(block: int) -> frozenset[str]:
    return frozenset(f"blk.{block}.{name}.weight" for name in EXPERT_TENSORS)


def cpu_moe_blocks(flag: str, patterns: str, position: int | None = None) -> int:
    """The blocks whose experts ``patterns`` (the flag's value) keep in host memory, counted from block 0
    as --n-cpu-moe counts them (ALL_BLOCKS for every block), or an UnsupportedError naming the pattern."""
    names = (*GLOBAL_TENSORS, *(name for block in range(PROBED_BLOCKS) for name in _names(block)))
    moved: set[str] = set()
    for part in patterns.split(","):
        pattern, _, buffer = part.rpartition("=")
        if not pattern or buffer.lower() not in HOST_BUFFERS:
            raise UnsupportedError(f"'{flag} {part}' is not modelled: vram reads tensor overrides that move MoE experts "
                                   "to the CPU (as in -ot exps=CPU); drop it to get the answer without it",
                                   position=position)
        if REPEATED_GROUP.search(pattern) or len(REPEAT.findall(pattern)) > MAX_REPEATS:
            raise UnsupportedError(f"'{flag} {part}': vram reads patterns with at most {MAX_REPEATS} repeats and no "
                                   "repeated group, as the patterns that move experts are (-ot exps=CPU)",
                                   position=position)
        try:
            found = re.compile(pattern)
        except re.error:
            raise UnsupportedError(f"'{flag} {part}': '{pattern}' is not a regular expression", position=position) \
                from None
        moved.update(name for name in names if found.search(name))
    # the first block whose experts stay: the blocks before it are the count
    blocks = next((block for block in range(PROBED_BLOCKS) if not _experts(block) <= moved), PROBED_BLOCKS)
    expected = frozenset().union(*(_experts(block) for block in range(blocks)))
    if not blocks or moved != expected:
        raise UnsupportedError(f"'{flag} {patterns}' is not modelled: vram reads the overrides that move the MoE "
                               "experts (ffn_*_exps) of every block, or of blocks 0 to N - 1, and nothing else, "
                               "to the CPU (as --cpu-moe and --n-cpu-moe N do); drop it to get the answer without "
                               "it, or say --n-cpu-moe N", position=position)
    return ALL_BLOCKS if blocks == PROBED_BLOCKS else blocks
