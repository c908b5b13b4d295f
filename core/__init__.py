"""vram: how much GPU memory a model takes to train or serve, and whether it fits.

Ask in one line of text, or build a Request in Python::

    >>> import vram
    >>> est = vram.ask("infer chatglm-6b fp16", method="article")
    >>> est.total_bytes
    14400000000
    >>> req = vram.Request(task="training", model="chatglm-6b", dtype="bf16", recompute="selective")
    >>> round(vram.estimate(req, method="article").total_bytes / 1e9, 2)
    103.99

``import vram`` stays light: the grammar (its parser generated from query.lark; lark itself is
never imported) loads on the first ``parse`` or ``ask``, and IPython only with ``%load_ext vram``.
"""

from __future__ import annotations

import dataclasses

from vram import messages
from vram.answer.pipeline import estimate
from vram.answer.sweep import sweep
from vram.catalog import policy as _policy
from vram.catalog.policy import LOCAL as LOCAL_POLICY, SERVED as SERVED_POLICY, ResolvePolicy
from vram.errors import (
    ConflictError, InvalidRequestError, MissingError, QueryError, RangeError, UnknownWordError,
    UnsupportedError, VramError
)
from vram.memory.result import Alternative, Estimate, Fit, LineItem, Solution, Verdict
from vram.render import render_json, render_text
from vram.request.enums import Dtype, Item, Method, Optimizer, PhaseName, Recompute, Task
from vram.request.request import Request

__version__ = "0.1.0"

# An Estimate is a value of the memory layer, below the renderers; the facade, which stands outside
# the layers, gives it its plain-text form so that print(estimate) shows the table.
Estimate.__str__ = render_text  # type: ignore[method-assign]


def parse(text: str, *, policy: ResolvePolicy | None = None) -> Request:
    """Read one line of text into a Request.

    Word order, case and filler words do not matter; numbers take suffixes (7b, 350m, 4k);
    GPUs take counts (8xA100, on 2 h100). Raises a :class:`VramError` that says what was not
    understood, where, and what was expected. ``policy`` says where a model named by path or
    repo id may be read from (:data:`SERVED_POLICY`: never this machine's files, the Hub within
    15 s); by default, the one in effect (:data:`LOCAL_POLICY` unless a frontend set another).

    >>> import vram
    >>> vram.parse("train chatglm-6b adamw bf16 selective on 8xA100").gpu_count
    8
    """
    from vram.grammar import parse as parse_text

    if policy is None:  # the one in effect: no context to enter
        return parse_text(text)
    with _policy.using(policy):
        return parse_text(text)


def ask(text: str, method: Method | str | None = None, *, policy: ResolvePolicy | None = None) -> Estimate:
    """Parse ``text`` and estimate it: ``vram.ask("infer 6b int8")``.

    ``method`` ("article" or "detailed") overrides a ``method=`` word in the text; ``policy`` is
    as for :func:`parse`, and holds for the estimate too.

    >>> import vram
    >>> vram.ask("infer ./config.json", policy=vram.SERVED_POLICY)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    vram.errors.UnsupportedError: './config.json' would be a file on the server, and files are not read here...
    """
    with _policy.using(policy):
        request = parse(text)
        try:
            result = estimate(request, method=method)
        except VramError as error:  # the resolver's and the model's errors, in the query's language too
            if messages.language_of(text) == messages.DEFAULT:
                raise
            raise error.in_language(messages.language_of(text)) from None
        lang = messages.language_of(text)
        if lang == messages.DEFAULT:
            return result
        # the assumptions the model said from the catalogs, in the query's language
        return dataclasses.replace(result, assumptions=tuple(messages.localise(a, lang) for a in result.assumptions))


def load_ipython_extension(ipython) -> None:
    """``%load_ext vram``: register ``%vram``, ``%%vram`` and rich display of estimates."""
    # Imported here so that the core never imports IPython (design.md 2).
    from vram.ipymagic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    """``%unload_ext vram``: take the display formatters back out."""
    from vram.ipymagic import unload_ipython_extension as unload

    unload(ipython)


__all__ = [
    "Alternative", "Solution", "Verdict", "sweep", "ConflictError", "Dtype", "Estimate", "Fit", "InvalidRequestError", "LineItem", "Method",
    "MissingError", "Optimizer", "QueryError", "RangeError", "Recompute", "Request", "Task",
    "UnknownWordError", "UnsupportedError", "VramError", "ask", "estimate", "parse",
    "render_json", "render_text", "ResolvePolicy", "LOCAL_POLICY", "SERVED_POLICY", "Item", "PhaseName",
]
