"""llama.cpp's --override-tensor patterns, read by matching them as llama.cpp does (grammar/overrides.py)."""

from __future__ import annotations

import pytest

from vram import parse
from vram.errors import UnsupportedError
from vram.grammar.overrides import ALL_BLOCKS, cpu_moe_blocks

#: (the flag's value, the blocks whose experts it moves, counted from block 0)
READ = [
    ("exps=CPU", ALL_BLOCKS),
    (".ffn_.*_exps.=CPU", ALL_BLOCKS),
    (r"\.ffn_(up|down|gate)_exps=CPU", ALL_BLOCKS),  # llama.cpp's own --cpu-moe (llm_ffn_exps_cpu_override)
    ("ffn_.*_exps=cpu", ALL_BLOCKS),
    (r"blk\.(0|1|2)\.ffn_.*_exps\.=CPU", 3),
    (r"blk\.0\.ffn_(up|down|gate)_exps=CPU,blk\.1\.ffn_(up|down|gate)_exps=CPU", 2),  # --n-cpu-moe 2's own
    (r"blk\.([0-9]|1[0-9])\.ffn_.*_exps\.=CPU", 20),
    (r"blk\.[0-9]+\.ffn_\w+_exps\.\w+=CPU", ALL_BLOCKS),
]
#: (the flag's value, what the refusal says)
REFUSED = [
    (r"blk\.(3|4)\.ffn_.*_exps\.=CPU", "blocks 0 to N - 1"),  # not the first blocks
    ("ffn=CPU", "and nothing else"),  # dense and shared FFNs too
    ("ffn_down_exps=CPU", "and nothing else"),  # one of the three expert matrices
    ("exps=CUDA0", "to the CPU"),  # another GPU's buffer
    ("exps=CPU,token_embd=CPU", "and nothing else"),
    ("blk.(0=CPU", "not a regular expression"),
    (r"([\w.]+)*X=CPU", "no repeated group"),  # minutes of backtracking on each name
    (r"[\w.]+[\w.]+[\w.]+[\w.]+X=CPU", "at most 3 repeats"),
]


@pytest.mark.parametrize("patterns, blocks", READ)
def test_override_reads_as_cpu_moe(patterns, blocks):
    assert cpu_moe_blocks("-ot", patterns) == blocks


@pytest.mark.parametrize("patterns, says", REFUSED)
def test_other_overrides_are_refused_by_pattern(patterns, says):
    with pytest.raises(UnsupportedError) as caught:
        cpu_moe_blocks("--override-tensor", patterns)
    assert says in str(caught.value) and patterns.split(",")[0].split("=")[0] in str(caught.value)


@pytest.mark.parametrize("flag", ["-ot exps=CPU", '--override-tensor ".ffn_.*_exps.=CPU"', "--override-tensor=exps=CPU",
                                  "--cpu-moe"])
def test_override_flags_match_cpu_moe(flag):
    """The patterns that move every block's experts answer as --cpu-moe does."""
    assert parse(f"llama-server -m Qwen3-30B-A3B-Q4_K_M.gguf {flag} on rtx-4090").cpu_moe_layers == ALL_BLOCKS
