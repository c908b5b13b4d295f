"""%vram and %%vram through a real IPython InteractiveShell: results, MIME bundles, errors."""

from __future__ import annotations

import re
import subprocess
import sys
from html import escape, unescape

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
from vram.ipymagic.chart import tick_step  # noqa: E402
from vram.render import fit_parts  # noqa: E402
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
    assert f"a100-80gb: {format_bytes(fit.usable_bytes)} GB usable" in html  # the verdict's figure
    assert f"of {format_bytes(fit.usable_bytes)} GB usable" in html
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
    assert lines[0].split()[:4] == ["Query", "Peak", "GB", "Fit"]  # the peak and the verdict first
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


@pytest.mark.parametrize("query", QUERIES)
def test_the_headline_and_verdict_come_before_the_first_item(query):
    est = vram.ask(query)
    html = render_html(est)
    first_item = html.index(escape(est.items[0].label))
    assert html.index(f'title="{est.total_bytes} bytes"') < html.index("vram-chart") < first_item
    if est.fit:
        assert html.index(fit_parts(est.fit[0]).detail) < first_item
    else:
        assert html.index("No GPU named") < first_item


@pytest.mark.parametrize("query", QUERIES)
def test_with_every_style_stripped_the_answer_still_reads_in_order(query):
    est = vram.ask(query)
    text = stripped_text(render_html(est))
    order = [est.request.to_query(), format_bytes(est.total_bytes),
             fit_parts(est.fit[0]).words if est.fit else "No GPU named", "Item", est.items[0].label,
             "Assumptions"]
    at = [text.index(piece) for piece in order]
    assert at == sorted(at)
    assert "{" not in text  # no stylesheet left as text


def test_the_comparison_gives_peak_and_fit_before_the_items():
    estimates = [vram.ask(q) for q in QUERIES]
    html = Estimates(tuple(estimates))._repr_html_()
    heads = re.findall(r"<th[^>]*>(?:<span[^>]*></span>)?([^<]*)</th>", html)
    assert heads[:4] == ["Query", "Peak GB", "Fit", "Breakdown"]
    for row, est in zip(comparison_rows(html), estimates):
        assert exact_bytes(row)[0] == est.total_bytes  # the peak before every item


def test_the_chart_has_a_scale_in_the_unit():
    est = vram.ask(TRAIN)
    axis = re.search(r'class="vram-axis[^>]*>(.*?)</div>', render_html(est)).group(1)
    ticks = re.findall(r">([\d.]+)(?: GB)? </span>", axis)
    assert ticks[0] == "0" and axis.rstrip().endswith("GB </span>") and len(ticks) >= 3
    steps = {float(b) - float(a) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1  # evenly spaced


@pytest.mark.parametrize("scale, step", [(1, 0.2), (7.2, 1), (103.5, 20), (128.19, 20), (831.9, 200), (1.4e4, 2000)])
def test_scale_steps_are_round(scale, step):
    assert tick_step(scale) == pytest.approx(step)


def test_the_capacity_line_says_the_verdicts_usable_figure():
    est = vram.ask(TRAIN)
    [fit] = est.fit
    html = render_html(est)
    usable = format_bytes(fit.usable_bytes)
    assert f"needs {format_bytes(fit.need_bytes)} of {usable} GB usable" in html
    labels = re.findall(r"(\d+\.\d\d) GB usable", html)
    assert set(labels) == {usable}


def test_options_set_the_unit_and_the_method(shell):
    est = run(shell, f"%vram --gib --method article {TRAIN}").result
    assert est.estimate == vram.ask(TRAIN, method="article") and est.fit == est.estimate.fit
    data = bundle(shell, est)
    assert data["text/plain"] == vram.render_text(est.estimate, unit="GiB")
    assert f">{format_bytes(est.total_bytes, 'GiB')}<" in data["text/html"] and "GiB" in data["text/html"]
    kept = run(shell, "%%vram --gib --method=article sized\ninfer 6b int8\n").result
    assert shell.user_ns["sized"] is kept and kept[0].method.value == "article"
    assert "Peak GiB" in bundle(shell, kept)["text/plain"]


@pytest.mark.parametrize("line, message", [
    ("%vram --gb infer 6b", "unknown option '--gb'"), ("%vram --method guess infer 6b", "--method takes article"),
])
def test_bad_options_are_usage_errors(shell, line, message):
    result = run(shell, line)
    assert type(result.error_in_exec) is UsageError and message in str(result.error_in_exec)


def test_a_query_keeps_its_own_flags(shell):
    est = run(shell, "%vram infer llama-3-8b --max-model-len 8192 on a100").result
    assert est.request.seq_len == 8192


def test_to_frame_is_a_row_a_query():
    estimates = Estimates(tuple(vram.ask(q) for q in QUERIES))
    frame = estimates.to_frame()
    assert list(frame.columns[:6]) == ["query", "method", "gpu", "gpu_count", "peak_bytes", "verdict"]
    assert frame["peak_bytes"].tolist() == [est.total_bytes for est in estimates]
    assert frame.loc[0, "weights"] == estimates[0].item("weights").bytes


def test_to_frame_names_pandas_when_it_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="needs pandas.*pip install pandas"):
        Estimates((vram.ask("infer 6b int8"),)).to_frame()


def stripped_text(html: str) -> str:
    """What a host that drops every style (GitHub) shows: the text, without the stylesheet."""
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)
    return unescape(re.sub(r"<[^>]+>", " ", html))
