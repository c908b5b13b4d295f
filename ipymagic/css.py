"""The notebook's look: one small stylesheet of classes, and inline styles only where a value is the
element's own (a bar segment's width and colour, a capacity line's place, a verdict's colour).

Why the split: an answer used to carry every rule inline, 10-21 KB an answer. Repeated rules (cell
padding, alignment, sizes) are now classes of one ``<style>`` a output. Untrusted notebooks and
GitHub drop ``<style>`` elements (JupyterLab's ``packages/apputils/src/sanitizer.ts`` allows no
``style`` tag; GitHub strips styles too), so what carries meaning stays inline, where JupyterLab
keeps it (colours must be hex, ``rgb()``/``rgba()`` or names: no ``currentColor``, no ``var()``),
and the markup is semantic (headings, paragraphs, tables with head cells) so that an answer with
no styles at all still reads top to bottom. Text colour is never set and borders name no colour,
so they take the theme's text colour (light or dark). Host stylesheets right-align and centre
tables, so the stylesheet's alignment is explicit.
"""

from __future__ import annotations

#: The stylesheet every answer carries once, its rules scoped under ``.vram``.
STYLESHEET = """<style>
.vram { text-align: left; line-height: 1.4; max-width: 64em; margin: 0.2em 0; }
.vram h4 { margin: 0.6em 0 0.2em 0; font-size: 1em; }
.vram p { margin: 0.15em 0; }
.vram table { margin: 0.3em 0; border-collapse: collapse; table-layout: auto; width: auto; }
.vram td, .vram th { text-align: left; vertical-align: top; padding: 0.2em 0.45em; white-space: normal; }
.vram th { vertical-align: bottom; }
.vram .num { text-align: right; white-space: nowrap; }
.vram .label { white-space: nowrap; }
.vram .total td { border-top: 1px solid; font-weight: bold; }
.vram .small { font-size: 0.85em; }
.vram .muted { opacity: 0.7; }
.vram .headline { font-size: 1.15em; }
.vram ul { margin: 0.2em 0; padding-left: 1.5em; }
.vram details { margin-top: 0.3em; }
.vram-comparison { max-width: none; overflow-x: auto; }
.vram-comparison table { font-size: 0.9em; }
.vram-comparison .vram-query { min-width: 14em; }
.vram .swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em;
  vertical-align: middle; }
</style>"""


def css(**props: str) -> str:
    """A ``style="..."`` attribute from keyword properties (``_`` for ``-``): for values that are
    the element's own."""
    return ' style="' + "; ".join(f"{name.replace('_', '-')}: {value}" for name, value in props.items()) + '"'
