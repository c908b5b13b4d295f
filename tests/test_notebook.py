"""examples/vram.ipynb runs top to bottom in a real kernel, and every answer is checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from html_checks import (  # noqa: E402
    comparison_rows, estimate_bytes, exact_bytes, queries, row_bytes, vram_json, vram_text
)

NOTEBOOK = Path(__file__).parents[1] / "examples" / "vram.ipynb"


@pytest.fixture(scope="module")
def executed():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError on a failing cell not tagged raises-exception
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def rich_outputs(cells, kind: str) -> list[dict]:
    """MIME bundles of the outputs that show a vram answer of ``kind`` (estimate, comparison)."""
    bundles = [out["data"] for cell in cells for out in cell.outputs if "data" in out]
    return [data for data in bundles if f'vram-{kind}"' in data.get("text/html", "")]


def test_every_code_cell_ran(executed):
    assert all(cell.execution_count for cell in executed)


def test_rich_outputs_are_html_and_text_only(executed):
    for data in rich_outputs(executed, "estimate") + rich_outputs(executed, "comparison"):
        assert set(data) == {"text/plain", "text/html"}


def test_estimates_equal_the_cli(executed):
    answers = rich_outputs(executed, "estimate")
    assert len(answers) >= 5
    for data in answers:
        html = data["text/html"]
        [query] = queries(html)
        assert exact_bytes(html) == estimate_bytes(vram_json(query))
        assert data["text/plain"] == vram_text(query)
        assert "border-left: 2px solid" in html or "No GPU named" in html  # capacity marked
        assert "<details><summary><code>" in html and ("Total" in html or "Peak" in html)


def test_comparison_rows_equal_the_cli(executed):
    [data] = rich_outputs(executed, "comparison")
    html = data["text/html"]
    rows = comparison_rows(html)
    assert len(rows) == len(queries(html)) == 4
    for row, query in zip(rows, queries(html)):
        assert sorted(exact_bytes(row)) == sorted(row_bytes(vram_json(query)))


def test_the_mistake_is_one_line_without_traceback(executed):
    [cell] = [cell for cell in executed if "raises-exception" in cell.metadata.get("tags", [])]
    [output] = cell.outputs
    assert output["output_type"] == "stream" and output["name"] == "stderr"
    assert output["text"].strip() == "UsageError: unknown GPU 'a10O' (column 18); did you mean a100-80gb?"


def test_sweep_prints_per_batch(executed):
    printed = "".join(out.get("text", "") for cell in executed for out in cell.outputs
                      if out["output_type"] == "stream" and out["name"] == "stdout")
    assert re.search(r"batch  1: +[\d.]+ GB per GPU, fits: True", printed)
    assert "batch 16:" in printed


def test_the_committed_notebook_shows_its_outputs_as_they_are_now(executed):
    # GitHub and nbviewer show the committed outputs: they must be there, and not stale. After a
    # change to the answers, run `python examples/run_notebook.py` and commit the notebook.
    committed = [cell for cell in nbformat.read(NOTEBOOK, as_version=4).cells if cell.cell_type == "code"]
    assert all(cell.outputs for cell in committed if cell.source.strip() != "%load_ext vram")
    for old, new in zip(committed, executed):
        assert [out.get("data", out.get("text")) for out in old.outputs] == \
            [out.get("data", out.get("text")) for out in new.outputs], old.source
