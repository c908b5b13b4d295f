"""Inline styles that survive JupyterLab's sanitiser and read on light and dark themes.

Untrusted notebooks lose ``<style>`` elements, scripts and SVG, and keep only inline ``style``
declarations from an allowlist (``packages/apputils/src/sanitizer.ts``): colours must be hex,
``rgb()``/``rgba()`` or names (no ``currentColor``, no ``var()``). So every rule is inline; text
colour is never set, and borders give no colour so that they take the text's colour, which the
theme picks. Host stylesheets right-align and centre tables, so alignment is always explicit.
The colours of items and verdicts are the core's (``vram.render``), the same in every frontend.
"""

from __future__ import annotations

#: The box around one answer: left-aligned whatever the host does with outputs.
BOX = {"text-align": "left", "line-height": "1.4", "max-width": "64em", "margin": "0.2em 0"}
#: Host tables are centred (margin auto) and fixed-layout; ours hug the left and size to content.
TABLE = {"margin": "0.4em 0", "border-collapse": "collapse", "table-layout": "auto", "width": "auto"}
MUTED = {"opacity": "0.7"}
SMALL = {"font-size": "0.85em"}


def css(*rules: dict[str, str], **props: str) -> str:
    """A ``style="..."`` attribute from rule dicts and keyword properties (``_`` for ``-``)."""
    merged: dict[str, str] = {}
    for rule in rules:
        merged.update(rule)
    merged.update({name.replace("_", "-"): value for name, value in props.items()})
    return ' style="' + "; ".join(f"{name}: {value}" for name, value in merged.items()) + '"'


def cell(align: str = "left", **props: str) -> str:
    """A table cell's style: explicit alignment and padding (hosts right-align and pad 0.5em)."""
    return css({"text-align": align, "vertical-align": "top", "padding": "0.25em 0.45em",
                "white-space": "nowrap" if align == "right" else "normal"}, **props)

