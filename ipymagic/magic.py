"""``%vram QUERY`` and ``%%vram``: the question asked in a notebook, answered by the core."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

import vram
from vram import Estimate, VramError
from vram.render import render_text

from .compare import Estimates
from .render import render_html

#: The magics' own options, before the query: ``--gib`` (GiB instead of GB) and ``--method NAME``.
METHODS = ("article", "detailed")


@magics_class
class VramMagics(Magics):
    """How much GPU memory an LLM job takes, and whether it fits."""

    @line_magic("vram")
    def vram_line(self, line: str) -> Estimate:
        """How much GPU memory an LLM job takes, and whether it fits.

        One line of text in; the breakdown out, every item with its formula, and a verdict
        for the GPUs named. The result is a ``vram.Estimate``; in a notebook it shows as a
        table with a bar chart. Python variables expand in ``{braces}``::

          In [1]: %load_ext vram

          In [2]: %vram infer 6b int8 method=article
          Out[2]:
          Query:    infer 6b int8 method article
          Total:    7.20 GB
          Verdict:  no GPU named; add one, as in 'on 8xA100', to see whether it fits
          Method:   article (the seed article's rules: every line item summed)

            Item                       GB
            Model weights (int8)     6.00
                1 B/param x params   [params=6e9]
          ...

          In [3]: est = %vram train chatglm-6b adamw bf16 selective on 8xA100

          In [4]: est.fit[0].fits, est.item("weights").label
          Out[4]: (False, 'Model weights (fp32, AMP)')

          In [5]: n = 4

          In [6]: %vram infer llama-3-70b int4 on {n}x rtx-4090

          In [7]: %vram --gib --method article train 7b bf16 adamw

        Options before the query: ``--gib`` shows GiB (2**30 bytes) instead of GB (1e9), and
        ``--method article|detailed`` picks the method. ``%%vram?`` compares several queries; ``vram.ask(text)`` is the same in plain Python.
        """
        options, query = split_options(line)
        if not query.strip():
            raise UsageError("%vram needs a query, as in: %vram infer llama-2-7b int8 on a100")
        est = ask(query, options.method)
        return InUnit(est, options.unit) if options.unit != "GB" else est

    @cell_magic("vram")
    def vram_cell(self, line: str, cell: str) -> Estimates:
        """Compare several jobs: one query a line, answered as one table.

        Blank lines and lines starting with ``#`` are skipped; Python variables expand in
        ``{braces}``. A name after ``%%vram`` keeps the result (a sequence of Estimates)::

          In [1]: %%vram sizes
             ...: train chatglm-6b adamw bf16 selective on 8xA100
             ...: train chatglm-6b adamw bf16 selective zero3 on 8xA100
             ...: train chatglm-6b adamw bf16 full zero3 on 8xA100
          Out[1]:
          Query                                                         Peak GB  Fit                                          ...
          train chatglm-6b bf16 adamw selective on 8x a100-80gb          128.19  does not fit on 8x a100-80gb (42.30 GB over)  ...
          train chatglm-6b bf16 adamw selective zero 3 on 8x a100-80gb    24.15  fits on 8x a100-80gb (61.73 GB to spare)      ...
          train chatglm-6b bf16 adamw full zero 3 on 8x a100-80gb         17.10  fits on 8x a100-80gb (68.79 GB to spare)      ...

          In [2]: sizes[1].fit[0].fits
          Out[2]: True

          In [3]: sizes.to_frame()  # a pandas DataFrame, a row a query (needs pandas)

        ``%%vram --gib --method article sizes`` takes the options of ``%vram``.
        """
        options, name = split_options(line)
        name = name.strip()
        if name and not name.isidentifier():
            raise UsageError(f"%%vram takes options and at most a variable name to keep the result in, not {name!r}")
        asked = tuple(_ask_lines(expand(cell, self.shell.user_ns), options.method))
        comparison = Estimates(asked, options.unit)
        if not comparison.estimates:
            raise UsageError("%%vram needs one query a line in the cell, as in: infer llama-2-7b int8 on a100")
        if name:
            self.shell.user_ns[name] = comparison
        return comparison


#: The last exception that was not a VramError (a bug in vram), for ``traceback.print_exception``.
last_error: BaseException | None = None

#: ``{name}`` or ``$name``: a plain variable, nothing evaluated (no attributes, calls or indexing).
_VARIABLE = re.compile(r"\{([^\W\d]\w*)\}|\$([^\W\d]\w*)")


@dataclass(frozen=True)
class Options:
    """The options a magic's line starts with."""

    unit: str = "GB"  #: GB (1e9 bytes) or GiB (2**30)
    method: str | None = None  #: article or detailed; None: the query's or the default


def split_options(line: str) -> tuple[Options, str]:
    """``--gib`` and ``--method NAME`` (or ``--method=NAME``) at the start of ``line``, and the rest;
    a query's own flags (``--max-model-len``) come after its first word and are left to it."""
    words, unit, method = line.split(), "GB", None
    while words and words[0].startswith("--"):
        flag, _, value = words.pop(0).partition("=")
        if flag == "--gib":
            unit = "GiB"
        elif flag == "--method":
            method = value or (words.pop(0) if words else "")
            if method not in METHODS:
                raise UsageError(f"--method takes {' or '.join(METHODS)}, not {method!r}")
        else:
            raise UsageError(f"unknown option {flag!r}: %vram takes --gib and --method article|detailed")
    return Options(unit, method), " ".join(words)


@dataclass(frozen=True)
class InUnit:
    """An Estimate shown in another unit (``%vram --gib``); its attributes are the Estimate's."""

    estimate: Estimate
    unit: str

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy and pickle ask before ``estimate`` is set
            raise AttributeError(name)
        return getattr(self.estimate, name)

    def _repr_html_(self) -> str:
        return render_html(self.estimate, self.unit)

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(render_text(self.estimate, unit=self.unit))


def ask(text: str, method: str | None = None) -> Estimate:
    """``vram.ask(text)``, with every error as IPython's UsageError: one line, no traceback."""
    with _one_line():
        return vram.ask(text, method=method)


@contextlib.contextmanager
def _one_line(where: str = ""):
    global last_error
    try:
        yield
    except VramError as error:
        raise UsageError(f"{where}{error}") from error
    except Exception as error:  # a bug in vram: one line, and the exception kept to look at
        last_error = error
        raise UsageError(f"{where}internal error in vram ({type(error).__name__}: {error}); please report it "
                         "with the query; vram.ipymagic.magic.last_error holds the exception") from error


def expand(text: str, namespace: dict) -> str:
    """``{name}`` and ``$name`` replaced by plain variables of ``namespace``; anything else (an
    unknown name, ``{obj.attr}``, ``{f()}``) is left as typed, so a cell never runs code."""
    def value(match: re.Match) -> str:
        name = match[1] or match[2]
        return str(namespace[name]) if name in namespace else match[0]
    return _VARIABLE.sub(value, text)


def _ask_lines(cell: str, method: str | None = None):
    # Numbered as the notebook shows them: the %%vram line is line 1.
    for number, text in enumerate(cell.splitlines(), start=2):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        with _one_line(f"line {number} ({text.strip()!r}): "):
            yield vram.ask(text, method=method)
