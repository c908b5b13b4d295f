"""The published serving logs (tests/data/published_serving.toml) are well formed and quote
every figure they record, so a row cannot carry a number its source does not print."""

import re
import tomllib
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "published_serving.toml"
CATALOG = Path(__file__).parent.parent / "core" / "catalog" / "data"

ENGINES = {"vllm", "sglang", "tgi", "llama.cpp", "ollama"}
REQUIRED = {
    "id": str,
    "engine": str,
    "engine_version": str,
    "model_id": str,
    "gpu": str,
    "gpu_as_said": str,
    "gpu_count": int,
    "settings": dict,
    "logged": dict,
    "quote": str,
    "source": str,
    "note": str,
}
OPTIONAL = {"catalog_model": str, "refused_to_start": bool, "replay_version": str}
# Words an engine's refusal prints (vLLM's ValueError, llama.cpp's fit abort, a traceback).
REFUSAL_WORDS = ("Error", "larger than", "abort", "Traceback")
# A number as engines print it: optional sign, thousands separators (vLLM V1's "178,880").
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")

ROWS = tomllib.loads(DATA.read_text(encoding="utf-8"))["log"]


def _catalog_ids(name: str, table: str) -> set[str]:
    entries = tomllib.loads((CATALOG / name).read_text(encoding="utf-8"))[table]
    return {entry["id"] for entry in entries}


def _numbers_in(text: str) -> set[float]:
    return {float(match.replace(",", "")) for match in NUMBER.findall(text)}


@pytest.fixture(scope="module")
def model_ids() -> set[str]:
    return _catalog_ids("models.toml", "model")


@pytest.fixture(scope="module")
def gpu_ids() -> set[str]:
    return _catalog_ids("gpus.toml", "gpu")


def test_ids_are_unique():
    ids = [row["id"] for row in ROWS]
    assert len(ids) == len(set(ids))


def test_every_engine_has_a_row():
    assert {row["engine"] for row in ROWS} == ENGINES


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_row_has_the_fields(row):
    for field, kind in REQUIRED.items():
        assert isinstance(row.get(field), kind), f"{field} missing or not {kind.__name__}"
    for field, kind in OPTIONAL.items():
        assert field not in row or isinstance(row[field], kind), field
    assert set(row) <= set(REQUIRED) | set(OPTIONAL), set(row) - set(REQUIRED) - set(OPTIONAL)
    assert row["engine"] in ENGINES
    assert row["gpu_count"] >= 1
    assert row["logged"], "a row records at least one figure"
    assert row["quote"].strip() and row["note"].strip() and row["engine_version"].strip()


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_source_is_a_url(row):
    assert re.fullmatch(r"https://[^\s/]+\.[^\s/]+/\S+", row["source"])


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_every_logged_figure_is_in_the_quote(row):
    quoted = _numbers_in(row["quote"])
    for key, value in row["logged"].items():
        assert isinstance(value, int | float) and not isinstance(value, bool), key
        assert float(value) in quoted, f"{key} = {value} is not in the quote"


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_a_refusal_quotes_the_error(row):
    if row.get("refused_to_start"):
        assert any(word in row["quote"] for word in REFUSAL_WORDS)


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_catalog_names_exist(row, model_ids, gpu_ids):
    if "catalog_model" in row:
        assert row["catalog_model"] in model_ids
    looks_like_an_id = re.fullmatch(r"[a-z0-9][a-z0-9.-]*", row["gpu"])
    if looks_like_an_id:
        assert row["gpu"] in gpu_ids, "a GPU written as an id must be a catalog id"


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("GPU KV cache size: 178,880 tokens", {178880.0}),
        ("Maximum concurrency for 2,048 tokens per request: 997.08x", {2048.0, 997.08}),
        ("KV Cache is -1.05GiB.", {-1.05}),
        ("# GPU blocks: 1952, # CPU blocks: 2048", {1952.0, 2048.0}),
        ("offloaded 33/33 layers", {33.0}),
    ],
)
def test_numbers_are_read_as_engines_print_them(text, numbers):
    assert _numbers_in(text) == numbers


def test_a_figure_missing_from_its_quote_is_caught():
    row = {"quote": "Available KV cache memory: 8.11 GiB", "logged": {"kv_cache_gib": 8.12}}
    with pytest.raises(AssertionError):
        test_every_logged_figure_is_in_the_quote(row)
