"""The article method against the seed article's worked example and the papers it rests on.

Every number here is exact: it follows from the formulas of design.md 5.1 (the article prints
rounded copies, e.g. 26.22 / 7.8 / 0.46 GB, because it rounds s*b*h*L to 0.23e9 first).
"""

from __future__ import annotations

import pytest

import vram

SBHL = 2048 * 1 * 4096 * 28  # ChatGLM-6B: s, b, h, L

#: query -> {item key or "total": bytes}
GOLDEN = {
    # inference: weights by dtype, total 1.2 x weights
    "infer chatglm-6b fp16": {"weights": 12_000_000_000, "runtime_overhead": 2_400_000_000,
                              "total": 14_400_000_000},
    "infer chatglm-6b bf16": {"total": 14_400_000_000},
    "infer chatglm-6b int8": {"weights": 6_000_000_000, "total": 7_200_000_000},
    "infer chatglm-6b fp32": {"weights": 24_000_000_000, "total": 28_800_000_000},
    "infer chatglm-6b int4": {"weights": 3_000_000_000, "total": 3_600_000_000},
    # training, mixed precision AdamW: the article's total uses selective recompute
    "train chatglm-6b adamw bf16 selective": {
        "weights": 12_000_000_000, "optimizer": 72_000_000_000, "gradients": 12_000_000_000,
        "activations": SBHL * 34, "total": 103_985_954_816},
    "train chatglm-6b adamw bf16 no recompute": {"activations": SBHL * 114},  # 26.78 GB
    "train chatglm-6b adamw bf16 full recompute": {"activations": SBHL * 2},  # 0.47 GB
    "train chatglm-6b 8-bit adam bf16": {"optimizer": 36_000_000_000},
    "train chatglm-6b sgd with momentum bf16": {"optimizer": 48_000_000_000},
    "train chatglm-6b fp32 adamw": {"weights": 24_000_000_000, "gradients": 24_000_000_000},
    "train chatglm-6b fp16 pure adamw": {"weights": 12_000_000_000, "gradients": 12_000_000_000},
    # flash attention drops the s x s term of the no-recompute formula (= the selective formula)
    "train chatglm-6b adamw bf16 no recompute flash": {"activations": SBHL * 34},
    # Korthikanti et al. 2022, GPT-3 175B (s=2048, h=12288, a=96, L=96), t=8: Eq. 5 and Eq. 6
    "train 175b hidden 12288 layers 96 heads 96 tp 8 sp none on 8 a100": {"activations": 34_426_847_232},
    "train 175b hidden 12288 layers 96 heads 96 tp 8 sp selective on 8 a100": {"activations": 10_267_656_192},
    # ... and Eq. 2 with selective recompute, no sp: sbh(10 + 24/8) a layer
    "train 175b hidden 12288 layers 96 heads 96 tp 8 selective on 8 a100": {"activations": 327_155_712 * 96},
}


@pytest.mark.parametrize("query", GOLDEN)
def test_golden_bytes(query):
    est = vram.ask(query, method="article")
    for key, expected in GOLDEN[query].items():
        got = est.total_bytes if key == "total" else est.item(key).bytes
        assert got == expected, (key, got)


def test_article_figures_in_gb():
    """The figures design.md 5.1 lists, at two decimals as the answer prints them."""
    figures = {
        "no recompute": 26.78, "selective": 7.99, "full recompute": 0.47,
    }
    for words, gb in figures.items():
        est = vram.ask(f"train chatglm-6b adamw bf16 {words}", method="article")
        assert round(est.item("activations").bytes / 1e9, 2) == gb
    assert round(vram.ask("train chatglm-6b adamw bf16 selective", method="article").total_bytes / 1e9, 2) == 103.99


MODEL_STATES = ("weights", "gradients", "optimizer")

#: ZeRO paper (Rajbhandari et al. 2019) Figure 1 and Table 1: 7.5B parameters, mixed-precision
#: Adam (16 B a parameter), per-GPU model states in decimal GB, exact from the formulas
#: 2P + 2P + 12P/Nd (P_os), 2P + 14P/Nd (P_os+g), 16P/Nd (P_os+g+p).
ZERO_CASES = [
    ("on 64 a100", 120_000_000_000),
    ("zero1 on 64 a100", 31_406_250_000),
    ("zero2 on 64 a100", 16_640_625_000),
    ("zero3 on 64 a100", 1_875_000_000),
    ("fsdp on 64 a100", 1_875_000_000),
    ("zero1 on 4 a100", 52_500_000_000),
    ("zero2 on 4 a100", 41_250_000_000),
    ("zero3 on 4 a100", 30_000_000_000),
    ("zero3 on 1024 a100", 117_187_500),
]


@pytest.mark.parametrize("where, expected", ZERO_CASES)
def test_zero_model_states(where, expected):
    est = vram.ask(f"train 7.5b bf16 adamw {where}", method="article")
    # each item is rounded to whole bytes on its own: at most half a byte off apiece
    assert abs(sum(est.item(key).bytes for key in MODEL_STATES) - expected) <= len(MODEL_STATES) / 2


#: The paper's own printed (rounded) Table 1 cells for 7.5B, within its ~0.5 % rounding.
@pytest.mark.parametrize("stage, dp, printed_gb", [
    (1, 16, 35.6), (2, 16, 21.6), (3, 16, 7.5), (1, 256, 30.4), (2, 256, 15.4), (3, 256, 0.47),
    (1, 1024, 30.1), (2, 1024, 15.1), (3, 1024, 0.12),
])
def test_zero_table_1(stage, dp, printed_gb):
    est = vram.ask(f"train 7.5b bf16 adamw zero{stage} on {dp} a100", method="article")
    states = sum(est.item(key).bytes for key in MODEL_STATES) / 1e9
    assert states == pytest.approx(printed_gb, rel=0.03)  # 0.47 / 0.12 are printed to 2 digits


def test_tensor_and_pipeline_split_model_states():
    est = vram.ask("train 175b hidden 12288 layers 96 heads 96 bf16 adamw tp 8 pp 16 on 128 a100", method="article")
    assert est.item("weights").bytes == round(2 * 175e9 / 128)
    assert est.item("weights").values == {"params": 175e9, "tp": 8, "pp": 16}


def test_inference_split_over_gpus():
    one = vram.ask("infer llama-2-70b int4", method="article")
    two = vram.ask("infer llama-2-70b int4 on 2x rtx-4090", method="article")
    assert two.total_bytes == one.total_bytes // 2
    assert two.job_total_bytes == one.total_bytes
    assert any("split evenly" in text for text in two.assumptions)


def test_data_parallel_replicas_hold_everything():
    one = vram.ask("train chatglm-6b adamw bf16 selective", method="article")
    eight = vram.ask("train chatglm-6b adamw bf16 selective on 8xA100", method="article")
    assert eight.total_bytes == one.total_bytes
    assert eight.job_total_bytes == 8 * one.total_bytes
    assert not eight.fit[0].fits  # 103.99 GB per GPU against 80 GiB


def test_lora_counts_adapters_only_for_gradients_and_optimizer():
    est = vram.ask("lora chatglm-6b bf16 rank 8", method="article")
    adapters = 28 * 2 * 8 * 2 * 4096  # L x (q, v) x r x (d_in + d_out)
    assert est.item("adapters").values == {"adapter_params": adapters}
    assert est.item("weights").bytes == 12_000_000_000
    assert est.item("optimizer").bytes == 12 * adapters
    assert est.item("gradients").bytes == 2 * adapters
    assert est.item("activations").formula == "2*s*b*h*L"  # gradient checkpointing by default


def test_qlora_base_is_four_bit():
    est = vram.ask("qlora chatglm-6b", method="article")
    assert est.item("weights").bytes == 3_000_000_000


def test_every_item_shows_its_work():
    for query in GOLDEN:
        for item in vram.ask(query, method="article").items:
            assert item.formula and item.source and item.values, item


def test_the_article_method_is_always_available():
    assert vram.ask("infer chatglm-6b fp16 method=article").method == "article"
    assert vram.ask("infer chatglm-6b fp16", method="article").total_bytes == 14_400_000_000
