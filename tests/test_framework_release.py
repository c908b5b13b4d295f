"""A training framework's release (Request.framework_version): the row's release tables read at it
(catalog/data/runtimes.toml, [[since, value, source]]), the words that name it, and its refusals."""

from __future__ import annotations

import pytest

import vram
from vram.catalog import runtimes
from vram.catalog.runtimes import Fsdp2Groups, release_tables, runtime_of
from vram.errors import ConflictError, InvalidRequestError, UnknownWordError, VramError

TITAN = "train llama-3.1-8b bf16 adamw fsdp selective compile seq 8192 batch 2 on 8x h100 torchtitan"


@pytest.mark.parametrize("release, compile_loss, groups", [
    # train.py at e8977b0 (PR #755): the loss left eager; parallelize_llama.py: the root group
    ("0.0.2", False, Fsdp2Groups.ROOT),
    # build_cross_entropy_loss compiles it (bbb1b61, PR #1033, in v0.1.0); the root group still
    ("0.1.0", True, Fsdp2Groups.ROOT),
    ("0.1.5", True, Fsdp2Groups.ROOT),
    # apply_fsdp: the embedding its own group, [norm, output] one (83e6941, PR #1094, in v0.2.0)
    ("0.2.0", True, Fsdp2Groups.APART),
    ("0.2.2", True, Fsdp2Groups.APART),
    ("v0.10", True, Fsdp2Groups.APART),
    (None, True, Fsdp2Groups.APART),  # no release named: today's code
])
def test_torchtitan_columns_by_release(release, compile_loss, groups):
    said = f" framework-version={release}" if release else ""
    terms = runtime_of(vram.parse(TITAN + said)).terms
    assert (terms.compile_loss, terms.fsdp2_groups) == (compile_loss, groups)


UNSLOTH = "qlora llama-3.1-8b adam8bit r 32 targets all-linear seq 2972 batch 1 on rtx-3060-8gb unsloth"


@pytest.mark.parametrize("release, cap_gib, free_share", [
    # Cut Cross Entropy (fa8e59e, first released in 2024.11.8): no logits chunk kept in HBM
    ("2024.11.8", 0.0, 0.0),
    ("2024.12", 0.0, 0.0),
    ("2025.8.4", 0.0, 0.0),
    # unsloth_fused_ce_loss (806bee2, 2025.8.5): fp32 chunks of at most min(free / 2, 4 GiB)
    ("2025.8.5", 4.0, 0.5),
    (None, 4.0, 0.5),
])
def test_unsloth_loss_by_release(release, cap_gib, free_share):
    said = f" framework-version={release}" if release else ""
    terms = runtime_of(vram.parse(UNSLOTH + said)).terms
    assert (terms.loss_chunk_cap_gib, terms.loss_chunk_free_share) == (cap_gib, free_share)


def test_cut_cross_entropy_keeps_no_logits_chunk():
    today, then = vram.ask(UNSLOTH), vram.ask(UNSLOTH + " framework-version=2024.12")
    assert then.total_bytes < today.total_bytes


def test_the_release_read_cites_its_change():
    terms = runtime_of(vram.parse(TITAN + " framework-version=0.0.2")).terms
    assert "e8977b0" in terms.sources["compile_loss"] and "0.0.2 on" in terms.sources["compile_loss"]
    assert "83e6941" in runtime_of(vram.parse(TITAN)).terms.sources["fsdp2_groups"]


def test_a_pinned_engine_names_its_release():
    request = vram.parse("infer llama-3-8b vllm==0.10.1 on h100")
    assert (request.engine, request.engine_version) == ("vllm", "0.10.1")


@pytest.mark.parametrize("query, framework, release", [
    (TITAN + " framework-version=0.1.0", "torchtitan", "0.1.0"),
    (TITAN + " torchtitan-version=v0.2.0", "torchtitan", "0.2.0"),
    (TITAN + " --torchtitan-version 0.0.2", "torchtitan", "0.0.2"),
    ("qlora llama-3.1-8b on t4 unsloth unsloth_version=2024.11.7", "unsloth", "2024.11.7"),
    ("lora llama-3.1-8b on a100 torchtune torchtune-version=0.4", "torchtune", "0.4"),
    # as pip pins it, and as people write it after the framework's name (dotted numbers only)
    ("train llama-3.1-8b torchtitan==v0.2.0 on 8x h100", "torchtitan", "0.2.0"),
    ("qlora llama-3.1-8b unsloth==2024.11.7 on t4", "unsloth", "2024.11.7"),
    ("lora llama-3.1-8b torchtune 0.4 on a100", "torchtune", "0.4"),
    ("qlora llama-3.1-8b on t4 with unsloth 2024.11", "unsloth", "2024.11"),
    ("train llama-3.1-8b deepspeed 8 gpus on a100", "deepspeed", None),  # a count, not a release
])
def test_words_name_the_release(query, framework, release):
    request = vram.parse(query)
    assert (request.framework, request.framework_version) == (framework, release)
    assert vram.parse(request.to_query()) == request
    assert vram.Request.from_dict(request.to_dict()) == request


@pytest.mark.parametrize("query, error", [
    (TITAN + " framework-version=latest", InvalidRequestError),  # not a release number
    (TITAN + " framework-version=0.1.x", InvalidRequestError),
    (TITAN + " framework-version=0.0.1", InvalidRequestError),  # older than any row of its tables
    (UNSLOTH + " framework-version=2024.11.7", InvalidRequestError),  # before Cut Cross Entropy: not modelled
    ("infer llama-3.1-8b on h100 framework-version=0.1.0", ConflictError),  # a training framework's
    ("train llama-3.1-8b seq==4096 on h100", UnknownWordError),  # '==' pins a package, not a setting
])
def test_refusals(query, error):
    with pytest.raises(error) as raised:
        vram.ask(query)
    assert isinstance(raised.value, VramError) and "release" in str(raised.value)


def test_the_answer_says_the_release_and_what_it_decided():
    said = " | ".join(map(str, vram.ask(TITAN + " framework-version=0.0.2").assumptions))
    assert "torchtitan as release 0.0.2 ran it: compile_loss false, fsdp2_groups root" in said


@pytest.mark.parametrize("framework", ["transformers", "deepspeed", "megatron", "torchtune"])
def test_a_framework_without_release_tables_ignores_the_release_and_says_so(framework):
    query = f"train llama-3.2-1b bf16 adamw seq 2048 batch 1 on 2x a100 {framework}"
    plain, named = vram.ask(query), vram.ask(query + " framework-version=0.4")
    assert named.total_bytes == plain.total_bytes
    assert any("the release named changes nothing" in str(line) for line in named.assumptions)


def test_a_release_changes_the_answer_where_a_column_changed():
    today, then = vram.ask(TITAN), vram.ask(TITAN + " framework-version=0.0.2")
    assert then.total_bytes > today.total_bytes  # the eager loss keeps 12 bytes a logit, the compiled 4


@pytest.mark.parametrize("table", [
    [["0.1.0", True]],  # no source
    [["0.2.0", True, "s"], ["0.1.0", False, "s"]],  # out of release order
    [["latest", True, "s"]],  # not a release
])
def test_a_bad_release_table_is_a_catalog_error(table):
    with pytest.raises(ValueError):
        runtimes._check_table("torchtitan", "compile_loss", table)


def test_every_release_table_is_checked_at_load():
    tables = {(r.id, c) for (k, _), r in runtimes.runtimes().items() if k == "framework"
              for c in release_tables(r.settings)}
    assert {("torchtitan", "compile_loss"), ("torchtitan", "fsdp2_groups"), ("unsloth", "loss_chunk_cap_gib"),
            ("unsloth", "loss_chunk_free_share")} <= tables
