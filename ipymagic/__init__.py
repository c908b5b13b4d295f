"""vram.ipymagic: ``%vram`` for IPython and Jupyter, a thin frontend over the core.

``%load_ext vram`` (or ``%load_ext vram.ipymagic``) registers the ``%vram`` line magic and the
``%%vram`` cell magic, and teaches IPython to display any :class:`vram.Estimate` (also those of
``vram.ask``) as HTML, with ``text/plain`` equal to the CLI's answer. There is deliberately no
JSON form beside the HTML: JupyterLab would prefer it and hide the chart; ``est.to_dict()`` is
there for data.
"""

from __future__ import annotations

from vram import Estimate
from vram.render import render_text

from .compare import Estimates
from .magic import VramMagics
from .render import render_html

__all__ = ["Estimates", "VramMagics", "load_ipython_extension", "render_html",
           "unload_ipython_extension"]


def load_ipython_extension(ipython) -> None:
    """Register the magics and the display formatters for Estimate."""
    ipython.register_magics(VramMagics)
    formatters = ipython.display_formatter.formatters
    formatters["text/html"].for_type(Estimate, render_html)
    formatters["text/plain"].for_type(Estimate, _pretty_text)


def unload_ipython_extension(ipython) -> None:
    """Forget the display formatters (IPython has no way to unregister magics)."""
    formatters = ipython.display_formatter.formatters
    for mime in ("text/html", "text/plain"):
        formatters[mime].pop(Estimate, None)


def _pretty_text(est: Estimate, printer, cycle: bool) -> None:
    printer.text(render_text(est))
