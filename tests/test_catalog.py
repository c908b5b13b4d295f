"""The catalogs load, every entry has a source, and names are found however people type them."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from vram import catalog

DATA_DIR = Path(catalog.DATA_DIR)


def test_every_model_has_a_source():
    for spec in catalog.models().by_id.values():
        assert spec.source.strip(), spec.id


def test_every_gpu_has_a_source_and_memory():
    for gpu in catalog.gpus().by_id.values():
        assert gpu.source.strip() and gpu.memory_bytes > 2**30, gpu.id


def test_chatglm_has_the_article_numbers():
    spec = catalog.find_model("chatglm-6b")
    assert (spec.nominal_params, spec.hidden_size, spec.num_layers, spec.num_heads, spec.max_seq_len) == \
        (6e9, 4096, 28, 32, 2048)


@pytest.mark.parametrize("name, gpu_id", [
    ("a100", "a100-80gb"), ("A100 80GB", "a100-80gb"), ("a100-40gb", "a100-40gb"), ("h100", "h100-80gb"),
    ("4090", "rtx-4090"), ("RTX_3090", "rtx-3090"), ("24gb", "gpu-24gb"), ("gpu-80gb", "gpu-80gb"),
])
def test_find_gpu(name, gpu_id):
    assert catalog.find_gpu(name).id == gpu_id


def test_plain_a100_is_80_gib():
    assert catalog.find_gpu("a100").memory_bytes == 80 * 2**30


@pytest.mark.parametrize("name, model_id", [
    ("Llama-2-7B", "llama-2-7b"), ("llama 2 7b", "llama-2-7b"), ("meta-llama/Llama-2-7b-hf", "llama-2-7b"),
    ("chatglm-6b", "chatglm-6b"),
])
def test_find_model(name, model_id):
    assert catalog.find_model(name).id == model_id


@pytest.mark.parametrize("typo, close", [("a10O", "a100-80gb"), ("h1OO", "h100-80gb")])
def test_confusable_digits(typo, close):
    assert catalog.gpus().close_match(typo) == close


@pytest.mark.parametrize("params, model_id", [
    (1e6, "gpt2"), (350e6, "gpt2-medium"), (6e9, "chatglm-6b"), (7e9, "llama-2-7b"), (13e9, "llama-2-13b"),
    (70e9, "llama-2-70b"), (175e9, "gpt-3-175b"), (1e13, "llama-3.1-405b"),
])
def test_typical_architecture_for_a_bare_size(params, model_id):
    assert catalog.nearest_dense_model(params).id == model_id


@pytest.mark.parametrize("name, gpu_id", [("a100s", "a100-80gb"), ("24gb gpus", "gpu-24gb"), ("l40s", "l40s")])
def test_plural_gpu_names(name, gpu_id):
    assert catalog.find_gpu(name).id == gpu_id


def test_parsed_catalogs_are_cached_and_a_changed_source_is_reparsed(tmp_path, monkeypatch):
    from vram.catalog import cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    build = lambda: calls.append(1) or {"n": len(calls)}  # noqa: E731
    assert cache.cached_json(b"a = 1", "models.toml", build) == {"n": 1}
    assert cache.cached_json(b"a = 1", "models.toml", build) == {"n": 1}  # read back, not rebuilt
    assert cache.cached_json(b"a = 2", "models.toml", build) == {"n": 2}  # another source, another file
    for path in (tmp_path / "vram").glob("*.json"):
        path.write_text("{broken")
    assert cache.cached_json(b"a = 1", "models.toml", build) == {"n": 3}  # unreadable: rebuilt


def test_an_unwritable_cache_only_costs_speed(monkeypatch, tmp_path):
    from vram.catalog import cache

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert cache.cached_json(b"x", "gpus.toml", lambda: [1, 2]) == [1, 2]


# -- the catalogs' headers document their fields --------------------------------------------------

def _documented_fields(filename: str) -> set[str]:
    """Field names the header's "Fields" list gives: lines '#   name   what it is'."""
    header = []
    for line in (DATA_DIR / filename).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    start = next(i for i, line in enumerate(header) if line.startswith("# Fields"))
    return {m.group(1) for line in header[start + 1:] if (m := re.match(r"#   ([a-z0-9_]+)\s", line))}


def _fields_used(filename: str, table: str) -> set[str]:
    data = tomllib.loads((DATA_DIR / filename).read_text(encoding="utf-8"))
    return {key for entry in data[table] for key in entry}


@pytest.mark.parametrize("filename, table, record, stored_as", [
    ("models.toml", "model", catalog.ModelSpec, {}),
    ("gpus.toml", "gpu", catalog.Gpu, {"memory_bytes": {"memory_mib", "memory_gib", "memory_gb"}}),
])
def test_a_catalog_header_documents_every_field(filename, table, record, stored_as):
    accepted = set()
    for f in dataclasses.fields(record):
        accepted |= stored_as.get(f.name, {f.name})
    documented = _documented_fields(filename)
    assert documented == accepted, (sorted(documented - accepted), sorted(accepted - documented))
    assert _fields_used(filename, table) <= documented
