"""Messages in the query's language (core/messages/{en,zh}.toml) and Chinese glued text (grammar/segment.py).

A query with any CJK character is answered in Chinese: its errors (what, where, what would work, a
close match), its help, its verdicts and the words it let go. English queries read exactly as before.
"""

from __future__ import annotations

import json
import os
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest

import vram
from vram import cli, errors, messages
from vram.grammar import help as query_help, segment, suggest
from vram.grammar.parser import atoms
from vram.memory.result import Verdict
from vram.render import render_text
from vram.request.request import UNTRAINABLE_MESSAGES
from vram.request.vocabulary import EXPECTED_WORDS, OUTSIDE_MEMORY
from vram.slackbot.blocks import answer_message

ROOT = Path(__file__).parents[1]


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


# --- the catalogs -------------------------------------------------------------------------------

def test_both_catalogs_hold_the_same_ids():
    assert set(messages.catalog("en")) == set(messages.catalog("zh"))


@pytest.mark.parametrize("key", sorted(messages.catalog("en")))
def test_each_message_takes_the_same_names_in_both_languages(key):
    assert fields(messages.catalog("en")[key]) == fields(messages.catalog("zh")[key])


def _ids_named_in_code() -> set[str]:
    sources = [*ROOT.joinpath("grammar").glob("*.py"), *ROOT.joinpath("core").rglob("*.py")]
    pattern = re.compile(r"""(?:\.said|Note)\(\s*["']([a-z_.]+)["']""")
    return {key for path in sources for key in pattern.findall(path.read_text(encoding="utf-8"))}


def test_every_literal_message_id_in_the_code_is_catalogued():
    named = _ids_named_in_code()
    assert len(named) >= 15  # the scan found the call sites
    assert named <= set(messages.catalog("en"))


#: Ids the code builds from a value: each value it can take must have its message.
BUILT_IDS = ([f"error.outside_{topic}" for topic in set(OUTSIDE_MEMORY.values())]
             + [f"error.unknown_{kind}" for kind in ("model", "gpu", "word")]
             + [f"verdict.{verdict}" for verdict in Verdict]
             + [f"help.example.{what}" for what, _ in query_help.EXAMPLES + query_help.ZH_EXAMPLES]
             + [f"note.dropout_{state}" for state in ("on", "off")]
             + [f"note.default_{kind}" for kind in ("engine", "framework")]
             + [f"note.compile_{kind}" for kind in ("loss", "eager")]  # memory/detailed/common.py
             + [f"note.adapters_{kind}" for kind in ("fp32", "compute_dtype")]  # memory/detailed/adapters.py
             + [*UNTRAINABLE_MESSAGES.values(), "error.untrainable_quantised"])


@pytest.mark.parametrize("key", BUILT_IDS)
def test_every_built_message_id_is_catalogued(key):
    assert key in messages.catalog("en") and key in messages.catalog("zh")


@pytest.mark.parametrize("words", [*EXPECTED_WORDS, *suggest.GPU_EXPECTED, "a GPU name"])
def test_every_expected_phrase_has_its_chinese(words):
    said = messages.translate_expected(words, "zh")
    assert said != words and messages.CJK.search(said)


# --- which language -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, lang", [
    ("infer llama-3-8b on a100", "en"), ("推理 llama-3-8b", "zh"), ("8卡a100", "zh"), ("ｉｎｆｅｒ 7b", "en"),
    ("infer 7b，请问", "zh"), ("", "en"),
])
def test_any_cjk_character_makes_a_query_chinese(text, lang):
    assert messages.language_of(text) == lang


# --- errors -------------------------------------------------------------------------------------

#: English errors read word for word as they did before the catalogs.
ENGLISH_ERRORS = [
    ("infer llama-3-8b on a10O", "unknown GPU 'a10O' (column 21); did you mean a100-80gb?"),
    ("infer llama-3-8b tokens per second", "speed is not modelled yet (vram answers memory) (column 18); ask how "
                                           "much memory a job needs, as in 'infer llama-3-8b fp16 on a100'"),
    ("infer llama-3-8b seq", "'seq' needs a number, as in 'seq 8' (column 18)"),
    ("train 7b bf16 fp16", "conflicting dtype 'fp16' (column 15); 'bf16' at column 10 already set it, say only one"),
    ("infer llama-3-8b 2080 gpus", "'gpus' needs a number, as in 'gpus 8' (column 23)"),
    # the resolver's
    ("train 7b hidden 4100", "hidden 4100 does not split into 32 attention heads of equal width (column 17); give a "
                             "hidden size that is a multiple of the heads, or heads that divide it"),
    ("train llama-3-8b pp 64 on 64x h100", "pp 64 stages for the model's 32 layers: a stage holds a layer at least "
                                           "(column 21)"),
    ("train mixtral-8x7b ep 2 tp 2 on 6x h100", "ep 2 does not divide the data-parallel GPUs (column 23)"),
    ("infer llama-3-8b on a 0.5gb gpu", "a 0.5 GB GPU is smaller than the CUDA context alone (column 23); a GPU "
                                        "named by its size takes at least 1 GB"),
    ("infer llama-3-8b no adamw", "'no' cannot switch off 'adamw' (column 18); negation takes flash attention, "
                                  "checkpointing, zero, offload, sp or dropout; for anything else name what to use "
                                  "instead (as in 'adafactor', not 'no adamw')"),
    # the GGUF mixes core/memory/quant.py does not model
    ("infer qwen3.5-27b q4_k_m on 4090", "the GGUF mix of qwen3.5-27b's Gated DeltaNet layers (ssm_* tensors) is not "
                                         "modelled yet (column 19); give a dtype (int4, int8) for an estimate by the "
                                         "bits alone"),
    ("infer gemma-4-31b q4_k_m on 4090", "the GGUF mix of gemma-4-31b's global layers with their own heads is not "
                                         "modelled yet (column 19); give a dtype (int4, int8) for an estimate by the "
                                         "bits alone"),
]


@pytest.mark.parametrize("query, message", ENGLISH_ERRORS)
def test_english_errors_are_unchanged(query, message):
    with pytest.raises(errors.VramError) as info:
        vram.ask(query)
    assert info.value.message == message == str(info.value)


#: Chinese queries: the error's class, and the whole message in Chinese (column, close match, what works).
CHINESE_ERRORS = [
    ("推理 llama-3-8b 单卡a10O", errors.UnknownWordError, "未知显卡 'a10O'（第 17 列）；你是不是想写 a100-80gb？"),
    ("推理 llama-3-8b 速度", errors.UnsupportedError,
     "速度还没有建模（vram 只回答显存）（第 15 列）；可以问一个任务需要多少显存，例如 '推理 llama-3-8b fp16 单卡a100'"),
    ("推理 llama-3-8b 序列长度", errors.MissingError, "'序列长度' 后面需要一个数，例如 '序列长度 8'（第 15 列）"),
    ("训练 7b bf16 fp16", errors.ConflictError, "'fp16' 与第 7 列的 'bf16' 冲突（dtype），只写一个（第 12 列）"),
    ("推理 qwen2.5-7b 量化", errors.MissingError, "'量化' 旁边需要写明取值，例如 '量化 fp8'（第 15 列）"),
    ("训练 llama-3-8b 不用 adamw", errors.QueryError, "'不用' 不能关闭 'adamw'（第 15 列）；"),
    ("4090张卡推理qwen2.5-7b", errors.QueryError, "'4090' 是显卡型号，不是显卡数量（第 1 列）；请写出显卡"),
    ("推理", errors.MissingError, "请说明哪个模型或多大的模型；这里可以写：模型名（llama-3-8b、chatglm-6b）或参数量（7b、350m）"),
    # the resolver's
    ("训练 7b hidden 4100", errors.InvalidRequestError, "hidden 4100 不能平分成 32 个等宽的注意力头（第 14 列）；"),
    ("训练 llama-3-8b 流水线并行 64 64卡h100", errors.InvalidRequestError,
     "流水线并行 64 个阶段，而模型只有 32 层：每个阶段至少要有一层（第 21 列）"),
    ("推理 llama-3-8b 0.5gb显卡", errors.RangeError, "0.5 GB 的显卡比 CUDA 上下文本身还小（第 15 列）；"),
    ("推理 llama-3-8b 天河", errors.UnknownWordError, "看不懂的词 '天河'（第 15 列）；这里可以写：任务（训练 train"),
    # the GGUF mixes core/memory/quant.py does not model
    ("推理 qwen3.5-27b q4_k_m 单卡4090", errors.UnsupportedError,
     "qwen3.5-27b 的 Gated DeltaNet 层（ssm_* 张量）的 GGUF 混合量化还没有建模（第 16 列）；请给出 dtype"),
    ("推理 gemma-4-31b q4_k_m 单卡4090", errors.UnsupportedError,
     "gemma-4-31b 的全局层（有自己的注意力头）的 GGUF 混合量化还没有建模（第 16 列）；请给出 dtype"),
]


@pytest.mark.parametrize("query, error, message", CHINESE_ERRORS)
def test_chinese_errors_are_said_in_chinese(query, error, message):
    with pytest.raises(error) as info:
        vram.ask(query)
    assert info.value.message.startswith(message) and str(info.value) == info.value.message
    assert (info.value.position is not None) == ("列" in info.value.message)


def test_a_chinese_error_keeps_its_fields_for_the_json_form():
    with pytest.raises(errors.UnknownWordError) as info:
        vram.ask("推理 llama-3-8b 单卡a10O")
    document = info.value.to_dict()
    assert document["column"] == 17 and document["suggestion"] == "a100-80gb"
    assert document["message"].startswith("未知显卡")


def test_an_error_of_the_resolver_is_said_in_chinese_too(tmp_path):
    error = errors.UnknownWordError.said("error.unknown_model", word="foo-9b", position=3)
    assert error.message == "unknown model 'foo-9b' (column 4)"
    assert error.in_language("zh").message == "未知模型 'foo-9b'（第 4 列）"


# --- help ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["帮助", "用法", "怎么用", "请问 帮助"])
def test_chinese_help_is_in_chinese(query):
    with pytest.raises(errors.HelpRequested) as info:
        vram.parse(query)
    text = info.value.message
    assert text.startswith("vram 回答一个任务需要多少显存")
    assert all(example in text for _, example in query_help.ZH_EXAMPLES + query_help.EXAMPLES)


def test_english_help_is_unchanged():
    with pytest.raises(errors.HelpRequested) as info:
        vram.parse("help")
    lines = info.value.message.splitlines()
    assert lines[0] == "vram answers how much GPU memory a job needs; say the job in one line, in any order:"
    assert lines[1] == "  serve a model:                 infer llama-3-8b fp16 on a 4090"
    assert len(lines) == len(query_help.EXAMPLES) + 1 + len(query_help._wrapped(messages.text("help.words")))


@pytest.mark.parametrize("what, query", query_help.ZH_EXAMPLES)
def test_every_chinese_help_example_reads(what, query):
    assert vram.parse(query).to_dict()["task"] is not None


# --- notes and verdicts -------------------------------------------------------------------------

@pytest.mark.parametrize("query, note", [
    ("请问 llama-3-8b 推理", "'请问' 不影响显存：已忽略"),
    ("单卡4090能跑qwen2.5-7b吗", "没有写任务：按推理计算（训练请写 训练、lora 或 qlora）"),
    ("训练 llama-3-8b 学习率 1e-5", "'学习率 1e-5' 不影响显存：已忽略"),
    ("2台8卡h100 训练 llama-3-70b", "'2台8卡' 理解为 16 张卡：2 台机器，每台 8 张"),
])
def test_notes_of_a_chinese_query_are_in_chinese(query, note):
    assert note in vram.ask(query).assumptions


def test_notes_of_an_english_query_stay_english():
    assert "'please' does not change memory: ignored" not in vram.ask("infer llama-3-8b").assumptions
    assert "'pls' does not change memory: ignored" in vram.ask("pls infer llama-3-8b").assumptions


@pytest.mark.parametrize("query, words", [
    ("推理 llama-3-8b fp16 单卡a100", "放得下"),
    ("推理 llama-3-70b fp16 单卡4090", "放不下"),
])
def test_the_verdict_of_a_chinese_query_is_in_chinese(capsys, query, words):
    assert cli.main([query]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^Verdict:  1x \S+: {words}: 需要 [0-9.]+ GB，可用", out, re.MULTILINE), out
    assert words in render_text(vram.ask(query), lang="zh")


def test_slack_says_the_verdict_of_a_chinese_query_in_chinese():
    query = "推理 llama-3-8b fp16 单卡a100"
    shown = json.dumps(answer_message(vram.ask(query), query), ensure_ascii=False)
    assert ": 放得下: 需要 " in shown
    assert ": fits: needs" in json.dumps(answer_message(vram.ask("infer llama-3-8b fp16 on a100"), "infer"))


def test_the_cli_says_a_chinese_error_in_chinese(capsys):
    assert cli.main(["推理 llama-3-8b 单卡a10O"]) == 2
    assert capsys.readouterr().err.strip() == "vram: 未知显卡 'a10O'（第 17 列）；你是不是想写 a100-80gb？"


def test_the_cli_shows_chinese_help(capsys):
    assert cli.main(["帮助"]) == 0
    assert capsys.readouterr().out.startswith("vram 回答一个任务需要多少显存")


# --- segmentation -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ("单卡4090D能跑qwen3-32b的awq量化版吗", ["单卡", "4090D", "能跑", "qwen3-32b", "的", "awq", "量化版", "吗"]),
    ("8卡a100训练llama3-70b需要多少显存", ["8", "卡", "a100", "训练", "llama3-70b", "需要多少显存"]),
    ("4张a100", ["4", "张", "a100"]),
    ("张量并行4", ["张量并行", "4"]),
    ("32k上下文", ["32k", "上下文"]),
    ("两张4090", ["两", "张", "4090"]),
    ("推理天河", ["推理", "天河"]),  # CJK no word covers stays one piece, refused by name
    ("8xa100训练", ["8x", "a100", "训练"]),
    ("模型：qwen2.5-7b", ["模型", "qwen2.5-7b"]),  # a label's full-width colon separates
    ("推理【qwen2.5-7b】", ["推理", "qwen2.5-7b"]),
])
def test_glued_chinese_splits_into_words(text, words):
    found = atoms(text)
    assert [a.text for a in found] == words
    folded = text.replace("：", ":")
    assert all(folded[a.pos:a.pos + len(a.text)] == a.text for a in found)  # columns point into what was typed


def test_the_segmenter_dictionary_holds_every_chinese_word_of_the_vocabulary():
    assert {"梯度检查点", "张量并行", "量化版", "够不够", "单卡", "亿", "台"} <= segment.dictionary()
    assert not any(c.isascii() and c.isalpha() for w in segment.dictionary() for c in w if w.isascii())


def test_import_vram_reads_no_message_catalog():
    # an answer reads one (its assumptions are catalogued in both languages: under a millisecond);
    # importing vram reads none
    code = "import sys, vram; print('tomllib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_catalog_is_parsed_once_and_read_back_from_the_cache(tmp_path, monkeypatch):
    # tomllib and the TOML parse cost a CLI answer more than the answer; the parse is kept as JSON
    # under a hash of the file, so an edited catalog is parsed again
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fresh = messages.catalog.__wrapped__("zh")
    assert fresh == messages.catalog("zh") and len(list((tmp_path / "vram").glob("messages-zh.toml-*.json"))) == 1
    code = "import sys, vram; print(vram.ask('infer 6b int8').assumptions[0], 'tomllib' in sys.modules)"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
            for _ in range(2)]  # the first parses the catalogs it has no cache of yet
    assert runs[1].split()[-1] == "False" and runs[0].split()[:-1] == runs[1].split()[:-1]
