"""Inline styles that survive JupyterLab's sanitiser and read on light and dark themes.

Untrusted notebooks lose ``<style>`` elements, scripts and SVG, and keep only inline ``style``
declarations from an allowlist (``packages/apputils/src/sanitizer.ts``): colours must be hex,
``rgb()``/``rgba()`` or names (no ``currentColor``, no ``var()``). So every rule is inline; text
colour is never set, and borders give no colour so that they take the text's colour, which the
theme picks. Host stylesheets right-align and centre tables, so alignment is always explicit.
"""

from __future__ import annotations

#: Segment colour per line-item key: mid-tone (Tableau 10) fills that read on white and on the
#: near-black of dark themes.
ITEM_COLOURS: dict[str, str] = {
    "weights": "#4e79a7",
    "weight_casts": "#a0cbe8",
    "gradients": "#f28e2b",
    "optimizer": "#59a14f",
    "optimizer_temp": "#8cd17d",
    "activations": "#b07aa1",
    "kv_cache": "#76b7b2",
    "logits": "#ff9da7",
    "adapters": "#edc948",
    "quant_overhead": "#9c755f",
    "runtime_overhead": "#bab0ac",
    "cuda_context": "#8c8c8c",
}
OTHER_COLOUR = "#d4a6c8"  # an item key this frontend does not know yet

FITS_COLOUR = "#3a9a3a"  # green and red that keep their contrast on both backgrounds
OVER_COLOUR = "#e0474c"
TIGHT_COLOUR = "#d08a1c"  # amber, readable on light and dark

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


def colour_of(key: str) -> str:
    return ITEM_COLOURS.get(key, OTHER_COLOUR)
