"""Resolve once: a Request is a value (building one reads nothing), and one answer looks its model up once."""

from __future__ import annotations

import dataclasses
import time

import pytest
from test_policy import loopback_hub  # a Hub on loopback that can be told never to answer

import vram
from vram.catalog import resolve as resolver
from vram.catalog.resolve import resolve_request


@pytest.fixture
def counted(monkeypatch):
    """Calls of the one model look-up (catalog, files, Hub), with every cache of it emptied first."""
    calls: list[str] = []
    real = resolver.resolve_model

    def counting(name):
        calls.append(name)
        return real(name)

    resolver.cache_clear()
    monkeypatch.setattr(resolver, "resolve_model", counting)
    yield calls
    resolver.cache_clear()


@pytest.mark.parametrize("query", [
    "train chatglm-6b adamw bf16 selective on 8xA100",  # strategies and suggestions: a dozen estimates
    "max batch infer llama-2-7b on a100",  # a solver: a search over batch sizes
    "min gpus train llama-2-13b bf16 adamw zero3 on a100",
    "which gpus infer llama-3-8b int4",
    "qlora llama-2-70b seq 4096 on 1x a100-80gb",
    "infer llama-2-70b fp16 seq 4k batch 512 on a100",  # does not fit: every suggestion estimated
])
def test_one_answer_looks_its_model_up_once(counted, query):
    estimate = vram.ask(query)
    assert estimate.total_bytes > 0
    str(estimate), estimate.to_dict()  # rendering (the article's figure beside it) reads nothing more
    assert len(counted) == 1, counted


def test_a_sweep_looks_its_model_up_once(counted):
    rows = vram.sweep(vram.parse("train llama-2-7b bf16 adamw on 8 a100"), batch_size=[1, 2, 4, 8], zero=[0, 3])
    assert len(rows) == 8 and len(counted) == 1


@pytest.mark.parametrize("build", [
    lambda: vram.Request(task="inference", model="someone/silent-model"),
    lambda: vram.parse("infer someone/silent-model bf16 on a100"),
    lambda: dataclasses.replace(vram.Request(task="inference", model="someone/silent-model"), batch_size=4),
])
def test_a_request_naming_a_hub_repo_is_built_at_once(monkeypatch, tmp_path, counted, build):
    with loopback_hub(monkeypatch, tmp_path, "silent"):
        start = time.monotonic()
        request = build()
        assert time.monotonic() - start < 0.5
    assert request.model == "someone/silent-model" and counted == []


def test_the_hub_is_asked_when_the_request_is_answered(monkeypatch, tmp_path, counted):
    with loopback_hub(monkeypatch, tmp_path, "answer"):
        resolved = resolve_request(vram.Request(task="inference", model="someone/tiny-llama"))
    assert resolved.arch.num_layers == 4 and counted == ["someone/tiny-llama"]


def test_a_changed_request_reuses_what_was_read(counted):
    resolved = resolve_request(vram.parse("train llama-2-7b bf16 adamw on a100"))
    for change in ({"batch_size": 8}, {"gpu": "h100"}, {"zero": 3, "gpu_count": 8}, {"seq_len": 4096}):
        changed = resolved.changed(dataclasses.replace(resolved.request, **change))
        assert changed.arch is resolved.arch
        assert changed.request.gpu == ("h100-80gb" if "gpu" in change else "a100-80gb")
    assert len(counted) == 1


def test_building_a_request_checks_only_what_it_holds():
    # names are the resolver's to look up: an unknown one is refused when answered, at its word
    request = vram.Request(task="inference", model="no-such-model-anywhere")
    with pytest.raises(vram.UnknownWordError, match="unknown model 'no-such-model-anywhere'"):
        vram.estimate(request)
    with pytest.raises(vram.UnknownWordError, match=r"unknown GPU 'a10O' \(column 18\); did you mean"):
        vram.ask("infer llama-2-7b gpu=a10O")
