"""A framework's own config as input (issue 17): DeepSpeed JSON and torchtune recipe YAML, read
locally only, within bounds, into the request's fields; hostile files give a VramError."""

from __future__ import annotations

import json
import os

import pytest

import vram
from vram import messages
from vram.catalog import policy
from vram.catalog.framework_files import MAX_FRAMEWORK_CONFIG_BYTES, looks_like_framework_config
from vram.errors import ConflictError, InvalidRequestError, UnsupportedError, VramError

# torchtune's recipes/configs/llama3_1/8B_full.yaml at bd2a0fc, the keys vram reads
TORCHTUNE_FULL = """
model:
  _component_: torchtune.models.llama3_1.llama3_1_8b
tokenizer:
  _component_: torchtune.models.llama3.llama3_tokenizer
  max_seq_len: null
batch_size: 2
optimizer:
  _component_: torch.optim.AdamW
  lr: 2e-5
  fused: True
loss:
  _component_: torchtune.modules.loss.LinearCrossEntropyLoss
enable_activation_checkpointing: True
enable_activation_offloading: False
dtype: bf16
"""
DEEPSPEED = {"train_micro_batch_size_per_gpu": 4, "bf16": {"enabled": True},
             "zero_optimization": {"stage": 3, "offload_optimizer": {"device": "cpu"}, "reduce_bucket_size": "auto"}}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("word, is_config", [
    ("ds_config.json", True), ("./ds.json", True), ("zero3.json", True), ("my_ds.json", True),
    ("deepspeed_z3.json", True), ("8B_full.yaml", True), ("lora.yml", True),
    ("config.json", False), ("./llama/config.json", False), ("adapter_config.json", False),
    ("tokenizer.json", False), ("model.safetensors", False),
])
def test_which_words_name_a_framework_config(word, is_config):
    assert looks_like_framework_config(word) is is_config


def test_a_deepspeed_json_sets_the_job(folder):
    (folder / "ds_config.json").write_text(json.dumps(DEEPSPEED))
    request = vram.parse("train llama-3.1-8b with ./ds_config.json on 8x a100")
    assert request.framework_config == "./ds_config.json" and request.zero == 0  # read when resolved
    estimate = vram.ask("train llama-3.1-8b with ./ds_config.json on 8x a100")
    r = estimate.request
    assert (r.framework, r.zero, r.offload, r.dtype, r.batch_size) == ("deepspeed", 3, "optimizer", "bf16", 4)
    assert any(a.startswith("read ./ds_config.json: framework deepspeed, zero 3") for a in estimate.assumptions)
    # the answer is the one the same settings said in words give
    said = vram.ask("train llama-3.1-8b deepspeed zero3 offload optimizer bf16 batch 4 on 8x a100")
    assert estimate.total_bytes == said.total_bytes
    assert vram.parse(r.to_query()) == r  # the canonical text names the file and the settings it gave


def test_a_deepspeed_json_with_bf16_master_weights(folder):
    # DeepSpeedExamples training/bf16_master_weight/configs/bf16_full.json
    config = {"bf16": {"enabled": True, "bf16_master_weights_and_grads": True, "bf16_optimizer_states": True},
              "zero_optimization": {"stage": 3}}
    (folder / "ds_bf16.json").write_text(json.dumps(config))
    r = vram.ask("train llama-3.1-8b with ./ds_bf16.json on 4x a100").request
    assert (r.precision_regime, r.zero, r.dtype) == ("bf16_master", 3, "bf16")
    del config["bf16"]["bf16_optimizer_states"]
    (folder / "ds_bf16.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedError, match="fp32 optimizer states are not modelled"):
        vram.ask("train llama-3.1-8b with ./ds_bf16.json on 4x a100")


def test_deepspeed_flag_and_bucket_notes(folder):
    (folder / "ds.json").write_text(json.dumps({"zero_optimization": {"stage": 2, "reduce_bucket_size": 2e8}}))
    estimate = vram.ask("train llama-3.1-8b bf16 --deepspeed ds.json on 8x a100")
    assert estimate.request.zero == 2
    assert any("reduce_bucket_size 200000000.0 read but not modelled" in a for a in estimate.assumptions)
    # ZeRO-3's step casts a sub-group at a time: a config's own sub_group_size is said, not silently dropped
    (folder / "ds.json").write_text(json.dumps({"zero_optimization": {"stage": 3, "sub_group_size": 1e8}}))
    estimate = vram.ask("train llama-3.1-8b bf16 --deepspeed ds.json on 8x a100")
    assert any("sub_group_size 100000000.0 read but not modelled" in a for a in estimate.assumptions)


def test_a_torchtune_recipe_sets_the_job(folder):
    (folder / "8B_full.yaml").write_text(TORCHTUNE_FULL)
    r = vram.ask("train llama-3.1-8b 8B_full.yaml fsdp on 8x a100").request
    assert (r.framework, r.model, r.batch_size, r.optimizer, r.optimizer_foreach, r.recompute, r.dtype) == (
        "torchtune", "llama-3.1-8b", 2, "adamw", False, "full", "bf16")
    assert r.loss == "chunked_linear" and r.optimizer_in_backward is None and r.offload_activations is False


@pytest.mark.parametrize("lines, loss, in_backward", [
    # the README ladder's baseline (full fp32 logits) and 3B_full_single_device.yaml at 1814feb
    ("loss:\n  _component_: torch.nn.CrossEntropyLoss\noptimizer_in_bwd: False", "fp32_logits", False),
    ("loss:\n  _component_: torchtune.modules.loss.CEWithChunkedOutputLoss\noptimizer_in_bwd: True",
     "chunked_linear", True),
])
def test_a_torchtune_recipe_names_its_loss_and_the_step_in_backward(folder, lines, loss, in_backward):
    recipe = TORCHTUNE_FULL.replace("loss:\n  _component_: torchtune.modules.loss.LinearCrossEntropyLoss", lines)
    (folder / "3B.yaml").write_text(recipe)
    r = vram.ask("train llama-3.1-8b 3B.yaml on a100").request
    assert (r.loss, r.optimizer_in_backward) == (loss, in_backward)


def test_a_torchtune_recipe_offloads_activations(folder):
    recipe = TORCHTUNE_FULL.replace("enable_activation_offloading: False", "enable_activation_offloading: True")
    (folder / "8B_full.yaml").write_text(recipe)
    estimate = vram.ask("train llama-3.1-8b 8B_full.yaml on a100")
    assert estimate.request.offload_activations is True and estimate.host_bytes > 0


def test_a_torchtune_lora_recipe_makes_a_lora_job(folder):
    (folder / "8B_lora.yaml").write_text(TORCHTUNE_FULL.replace("llama3_1_8b", "lora_llama3_1_8b\n  lora_rank: 16"))
    r = vram.ask("train llama-3.1-8b 8B_lora.yaml on a100").request
    assert (r.task, r.lora_rank) == ("lora", 16)


def test_the_query_and_the_file_must_agree(folder):
    (folder / "ds_config.json").write_text(json.dumps(DEEPSPEED))
    with pytest.raises(ConflictError, match="the query says zero 2 and ./ds_config.json says 3") as caught:
        vram.ask("train llama-3.1-8b zero2 with ./ds_config.json on 8x a100")
    assert caught.value.field == "zero" and caught.value.position is not None


def test_files_are_not_read_when_served(folder):
    (folder / "ds_config.json").write_text(json.dumps(DEEPSPEED))
    with policy.using(policy.SERVED), pytest.raises(UnsupportedError, match="files are not read here") as caught:
        vram.ask("train llama-3.1-8b with ./ds_config.json on 8x a100")
    assert caught.value.field == "framework_config"


HOSTILE = [
    ("ds_config.json", "{", InvalidRequestError, "cannot read"),
    ("ds_config.json", "[1, 2]", InvalidRequestError, "not a DeepSpeed config"),
    ("ds_config.json", '{"model_type": "llama", "hidden_size": 4096}', InvalidRequestError, "model's config.json"),
    ("ds_config.json", '{"bf16": {"enabled": true}, "fp16": {"enabled": true}}', ConflictError, "both bf16 and fp16"),
    ("ds_config.json", '{"zero_optimization": {"stage": 7}}', InvalidRequestError, "from 0 to 3"),
    ("ds_config.json", '{"zero_optimization": {"stage": true}}', InvalidRequestError, "from 0 to 3"),
    ("ds_config.json", '{"zero_optimization": 3}', InvalidRequestError, "must be an object"),
    ("ds_config.json", '{"train_micro_batch_size_per_gpu": NaN}', InvalidRequestError, "cannot read"),
    ("ds_config.json", "[" * 100_000 + "]" * 100_000, InvalidRequestError, "too deeply"),
    ("ds_config.json", b"\xff\xfe{}", InvalidRequestError, "cannot read"),
    ("r.yaml", "model: [unclosed", InvalidRequestError, "cannot read"),
    ("r.yaml", "- a list", InvalidRequestError, "not a torchtune recipe"),
    ("r.yaml", "!!python/object/apply:os.system ['true']", InvalidRequestError, "cannot read"),
    ("r.yaml", "model:\n  _component_: torchtune.models.gpt9.gpt9_1t", UnsupportedError, "not in the catalog"),
    ("r.yaml", "model: 3", InvalidRequestError, "_component_"),
    ("r.yaml", "optimizer:\n  _component_: my.Optim", UnsupportedError, "not modelled"),
    ("r.yaml", "enable_activation_offloading: maybe", InvalidRequestError, "true or false"),
    ("r.yaml", "enable_activation_checkpointing: yes please", InvalidRequestError, "true or false"),
    ("r.yaml", "loss:\n  _component_: my.FancyLoss", UnsupportedError, "not one vram models"),
    ("r.yaml", "optimizer_in_bwd: 1", InvalidRequestError, "true or false"),
    ("r.yaml", "batch_size: -1", InvalidRequestError, "whole number"),
    ("r.yaml", "dtype: fp16", UnsupportedError, "not one vram models"),
    # aliases nested 9 deep: safe_load shares them, vram reads only its keys
    ("r.yaml", "a: &a [x, x]\n" + "".join(f"{c}: &{c} [*{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi")),
     None, None),
]


@pytest.mark.parametrize("name, text, error, message", HOSTILE)
def test_hostile_configs_give_an_error_a_person_can_act_on(folder, name, text, error, message):
    (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    query = f"train llama-3.1-8b with ./{name} on 8x a100"
    if error is None:
        assert vram.ask(query).request.framework_config == f"./{name}"
        return
    with pytest.raises(error, match=message):
        vram.ask(query)


#: Refusals the JSON reader gives (catalog/headers.py parse_json): English in any query.
JSON_READER = ("cannot read", "too deeply")


@pytest.mark.parametrize("name, text, error, message",
                         [row for row in HOSTILE if row[2] and not (row[0].endswith(".json") and row[3] in JSON_READER)])
def test_a_chinese_query_is_told_what_is_wrong_with_its_file_in_chinese(folder, name, text, error, message):
    (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(error) as caught:
        vram.ask(f"训练 llama-3.1-8b ./{name} 8卡a100")
    assert messages.CJK.search(caught.value.message.split(name)[-1])


def test_what_a_file_sets_is_said_in_the_query_language(folder):
    (folder / "ds.json").write_text(json.dumps({"zero_optimization": {"stage": 2, "reduce_bucket_size": 2e8},
                                                "activation_checkpointing": {"partition_activations": True}}))
    english = vram.ask("train llama-3.1-8b bf16 ./ds.json on 8x a100").assumptions[:3]
    chinese = vram.ask("训练 llama-3.1-8b bf16 ./ds.json 8卡a100").assumptions[:3]
    assert english == ("./ds.json: reduce_bucket_size 200000000.0 read but not modelled: vram counts DeepSpeed's "
                       "defaults", "./ds.json: activation_checkpointing applies to models that call "
                       "deepspeed.checkpointing; say full recompute for gradient checkpointing",
                       "read ./ds.json: framework deepspeed, zero 2")
    assert all(messages.CJK.search(note) for note in chinese)


def test_size_and_kind_of_file_are_bounded(folder):
    (folder / "ds_config.json").write_bytes(b" " * (MAX_FRAMEWORK_CONFIG_BYTES + 1))
    with pytest.raises(InvalidRequestError, match="more than"):
        vram.ask("train llama-3.1-8b with ./ds_config.json")
    os.mkdir(folder / "zero3.json")
    with pytest.raises(VramError):
        vram.ask("train llama-3.1-8b with ./zero3.json")
    with pytest.raises(InvalidRequestError, match="no such file"):
        vram.ask("train llama-3.1-8b with ./missing_ds.json")
    with pytest.raises(InvalidRequestError, match="no home folder"):
        vram.ask("train llama-3.1-8b with ~nobody-at-all-here/ds.json")


def test_a_framework_config_is_a_training_setting():
    with pytest.raises(VramError):
        vram.parse("infer llama-3.1-8b with ./ds_config.json")
