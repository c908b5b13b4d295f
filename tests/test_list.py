"""`vram --list models|gpus`: a table with a head row, at most 80 columns, --gib for GPU memory, --json as data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from vram import catalog, cli
from vram.catalog import Gpu, ModelSpec
from vram.render import LIST_WIDTH, Column, list_table, render_gpu_list, render_model_list

CASES = Path(__file__).with_name("cases")

#: A few rows each: dense and grouped-query heads, MoE and latent attention, an 8-digit context;
#: GPUs from a small card to a unified-memory Mac, whose name is the longest in the catalog.
MODEL_IDS = ("llama-2-7b", "chatglm2-6b", "bloom-176b", "deepseek-v3", "mixtral-8x7b", "llama-4-scout")
GPU_IDS = ("t4", "rtx-4090", "a100-80gb", "mi300x", "m2-ultra-192gb")


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name, text", [
    ("list_models", lambda: render_model_list([catalog.models().by_id[i] for i in MODEL_IDS])),
    ("list_gpus_gb", lambda: render_gpu_list([catalog.gpus().by_id[i] for i in GPU_IDS], "GB")),
    ("list_gpus_gib", lambda: render_gpu_list([catalog.gpus().by_id[i] for i in GPU_IDS], "GiB")),
])
def test_list_golden(name, text):
    assert text() + "\n" == (CASES / f"{name}.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("argv", [["--list", "models"], ["--list", "gpus"], ["--list", "gpus", "--gib"],
                                  ["--list", "models", "--gib"]])
def test_whole_list_fits_80_columns_under_a_head_row(capsys, argv):
    code, out, err = run(capsys, *argv)
    lines = out.splitlines()
    assert code == 0 and err == ""
    assert [line for line in lines if len(line) > LIST_WIDTH] == []
    assert lines[0].split()[0] in ("Model", "GPU") and "=" not in out  # every column named in the head row
    kind = catalog.models() if argv[1] == "models" else catalog.gpus()
    assert {line.split()[0] for line in lines[1:] if line} >= set(kind.by_id)  # every entry has its row


@pytest.mark.parametrize("argv, unit, divisor", [
    (["--list", "gpus"], "GB", 10**9),
    (["--list", "gpus", "--gib"], "GiB", 2**30),
])
def test_gpu_memory_in_the_unit_asked_for(capsys, argv, unit, divisor):
    _, out, _ = run(capsys, *argv)
    head, *rows = out.splitlines()
    assert f"Memory ({unit})" in head
    by_id = {row.split()[0]: row.split()[1] for row in rows if row and not row.startswith("Aliases")}
    for gpu in catalog.gpus().by_id.values():
        assert by_id[gpu.id] == f"{gpu.memory_bytes / divisor:,.2f}"


@pytest.mark.parametrize("kind, cls, index", [
    ("models", ModelSpec, catalog.models),
    ("gpus", Gpu, catalog.gpus),
])
@pytest.mark.parametrize("extra", [[], ["--gib"]])
def test_json_is_an_array_of_the_catalogs_records(capsys, kind, cls, index, extra):
    code, out, _ = run(capsys, "--list", kind, "--json", *extra)
    records = json.loads(out)
    assert code == 0 and isinstance(records, list)
    assert all(set(r) == {f.name for f in dataclasses.fields(cls)} for r in records)
    rebuilt = {r["id"]: cls(**{**r, "aliases": tuple(r["aliases"])}) for r in records}
    assert rebuilt == index().by_id  # every field of every entry, nothing lost or added


def test_json_keeps_the_text_lists_order(capsys):
    _, text, _ = run(capsys, "--list", "gpus")
    _, out, _ = run(capsys, "--list", "gpus", "--json")
    ids = [row.split()[0] for row in text.splitlines()[1:] if row and not row.startswith("Aliases")]
    assert [r["id"] for r in json.loads(out)] == ids


@pytest.mark.parametrize("cells, width, expected", [
    (("a", "short"), 20, ["Id  Name", "a   short"]),
    (("a", "a name far too long for it"), 20, ["Id  Name", "a   a name far too …"]),
    (("a", "exactly to the edge"), 23, ["Id  Name", "a   exactly to the edge"]),
])
def test_a_row_wider_than_the_list_is_cut_with_an_ellipsis(cells, width, expected):
    columns = (Column("Id", "<", lambda r: r[0]), Column("Name", "<", lambda r: r[1]))
    assert list_table(columns, [cells], width=width) == expected
