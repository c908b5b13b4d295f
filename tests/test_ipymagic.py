"""%vram and %%vram through a real IPython InteractiveShell: results, MIME bundles, errors."""

from __future__ import annotations

import subprocess
import sys
from html import escape

import pytest

pytest.importorskip("IPython")

from html_checks import (  # noqa: E402
    SAFE_ATTRIBUTES, SAFE_PROPERTIES, SAFE_TAGS, UNSAFE_VALUE, Markup, comparison_rows, estimate_bytes,
    exact_bytes, queries, row_bytes, vram_json, vram_text
)
from IPython.core.error import UsageError  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

import vram  # noqa: E402
from vram.ipymagic import Estimates, render_html  # noqa: E402
from vram.ipymagic.chart import limit_bytes
from vram.units import format_bytes  # noqa: E402

TRAIN = "train chatglm-6b adamw bf16 selective on 8xA100"
QUERIES = [
    TRAIN,
    "infer llama-3-70b int4 on 2x rtx-4090",
    "qlora llama-2-70b seq 4096 on 1x a100-80gb",
    "infer 6b int8",
]
CELL = """\
train chatglm-6b adamw bf16 selective on 8xA100
# sharding the model states over the 8 GPUs:
train chatglm-6b adamw bf16 selective zero3 on 8xA100

infer llama-3-70b int4 on 2x rtx-4090
"""


@pytest.fixture(scope="module")
def shell():
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "vram")
    yield ip
    ip.run_line_magic("unload_ext", "vram")


def run(shell, code: str):
    result = shell.run_cell(code, store_history=False)
    if result.error_in_exec is not None and not isinstance(result.error_in_exec, UsageError):
        raise result.error_in_exec
    return result


def bundle(shell, obj) -> dict:
    data, _ = shell.display_formatter.format(obj)
    return data


def test_load_ext_registers_both_magics(shell):
    assert shell.find_line_magic("vram") is not None
    assert shell.find_cell_magic("vram") is not None


def test_load_ext_of_the_subpackage_works_too():
    ip = InteractiveShell.instance()
    assert ip.run_line_magic("load_ext", "vram.ipymagic") in (None, "already loaded")


def test_line_magic_returns_the_estimate(shell):
    run(shell, f"est = %vram {TRAIN}")
    assert shell.user_ns["est"] == vram.ask(TRAIN)


@pytest.mark.parametrize("query", QUERIES)
def test_bundle_is_html_and_the_cli_text(shell, query):
    data = bundle(shell, run(shell, f"%vram {query}").result)
    assert set(data) == {"text/plain", "text/html"}  # no JSON: JupyterLab would hide the chart
    assert data["text/plain"] == vram_text(query)


@pytest.mark.parametrize("query", QUERIES)
def test_html_numbers_equal_vram_json(shell, query):
    html = bundle(shell, run(shell, f"%vram {query}").result)["text/html"]
    assert exact_bytes(html) == estimate_bytes(vram_json(query))
    assert queries(html) == [vram.parse(query).to_query()]


@pytest.mark.parametrize("method", ["detailed", "article"])
def test_html_has_the_items_the_chart_and_the_total(shell, method):
    est = run(shell, f"%vram {TRAIN} method={method}").result
    html = bundle(shell, est)["text/html"]
    for item in est.items:
        assert escape(item.label) in html and escape(item.formula) in html
        assert f"{escape(item.label)}: {format_bytes(item.bytes)} GB" in html  # its bar segment
    assert "<details><summary><code>" in html  # collapsible formulas
    total = "Peak per GPU (" if est.phases else "Total per GPU"
    assert total in html and f'title="{est.total_bytes} bytes">{format_bytes(est.total_bytes)}<' in html
    [fit] = est.fit
    assert f"a100-80gb usable {format_bytes(limit_bytes(fit))} GB" in html
    assert "border-left: 2px solid" in html  # the capacity line
    assert "does not fit</strong> on 8x a100-80gb" in html and f"{format_bytes(-fit.headroom_bytes)} GB over" in html
    assert f"Assumptions ({len(est.assumptions)})" in html
    assert all(phase.name in html for phase in est.phases)  # a bar a phase


def test_vram_ask_results_display_richly_once_loaded(shell):
    data = bundle(shell, run(shell, "import vram\nvram.ask('infer 6b int8')").result)
    assert set(data) == {"text/plain", "text/html"} and "vram-estimate" in data["text/html"]


def test_unload_takes_the_formatters_back():
    ip = InteractiveShell.instance()
    ip.run_line_magic("unload_ext", "vram")
    try:
        assert "text/html" not in bundle(ip, vram.ask("infer 6b int8"))
    finally:
        ip.run_line_magic("load_ext", "vram")


def test_python_variables_expand_in_the_line(shell):
    shell.user_ns.update(model="llama-3-70b", n=4)
    est = run(shell, "%vram infer {model} int4 on {n}x rtx-4090").result
    assert (est.request.model, est.request.gpu_count) == ("llama-3-70b", 4)


def test_cell_magic_compares_one_query_a_line(shell):
    result = run(shell, f"%%vram\n{CELL}").result
    asked = [line for line in CELL.splitlines() if line and not line.startswith("#")]
    assert isinstance(result, Estimates) and list(result) == [vram.ask(q) for q in asked]
    data = bundle(shell, result)
    assert set(data) == {"text/plain", "text/html"}
    html = data["text/html"]
    assert queries(html) == [vram.parse(q).to_query() for q in asked]
    for row, query in zip(comparison_rows(html), asked):
        document = vram_json(query)
        assert sorted(exact_bytes(row)) == sorted(row_bytes(document))
        assert "border-left: 2px solid" in row  # the GPU's capacity on the row's bar


def test_cell_magic_text_is_a_table(shell):
    comparison = run(shell, f"%%vram\n{CELL}").result
    lines = bundle(shell, comparison)["text/plain"].splitlines()
    assert lines[0].split()[:2] == ["Query", "Weights"] and lines[0].endswith("Total GB  Fit")
    assert len(lines) == 1 + len(comparison)
    for line, est in zip(lines[1:], comparison):
        assert line.startswith(est.request.to_query()) and format_bytes(est.total_bytes) in line
    assert "GB over" in lines[1] and "to spare" in lines[3]


def test_cell_magic_expands_variables_and_keeps_the_result(shell):
    shell.user_ns.update(gpus=2, model="chatglm-6b")
    run(shell, "%%vram kept\ninfer {model} on {gpus}x a100\ninfer {model} int8 on {gpus}x a100")
    kept = shell.user_ns["kept"]
    assert [est.request.gpu_count for est in kept] == [2, 2] and kept[1].request.dtype == "int8"


@pytest.mark.parametrize("code, message", [
    ("%vram infer 7b int8 on a10O", "unknown GPU 'a10O' (column 18); did you mean a100-80gb?"),
    ("%vram   ", "%vram needs a query"),
    ("%%vram\ninfer 7b\ninfer 7b int8 on a10O", "line 3 ('infer 7b int8 on a10O'): unknown GPU 'a10O'"),
    ("%%vram\n\n# nothing\n", "%%vram needs one query a line"),
    ("%%vram not a name\ninfer 7b", "at most a variable name"),
])
def test_errors_are_one_usage_error_without_traceback(shell, capsys, code, message):
    result = run(shell, code)
    assert type(result.error_in_exec) is UsageError  # exactly: IPython hides only its traceback
    assert message in str(result.error_in_exec)
    err = capsys.readouterr().err
    assert err.startswith("UsageError: ") and "Traceback" not in err and len(err.splitlines()) == 1


def test_help_is_a_transcript(shell):
    assert "In [2]: %vram infer 6b int8 method=article" in shell.find_line_magic("vram").__doc__
    assert "In [1]: %%vram sizes" in shell.find_cell_magic("vram").__doc__


def sample_html() -> list[str]:
    answers = [render_html(vram.ask(q)) for q in QUERIES]
    return answers + [Estimates(tuple(vram.ask(q) for q in QUERIES))._repr_html_()]


@pytest.mark.parametrize("html", sample_html(), ids=[*QUERIES, "comparison"])
def test_html_survives_jupyterlab_sanitiser(html):
    markup = Markup(html)
    assert markup.tags <= SAFE_TAGS and markup.attributes <= SAFE_ATTRIBUTES
    assert {name for name, _ in markup.declarations} <= SAFE_PROPERTIES
    assert not [value for _, value in markup.declarations if UNSAFE_VALUE.search(value)]


def test_import_vram_does_not_import_ipython():
    code = "import sys, vram; print('IPython' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False"
