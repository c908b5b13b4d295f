"""Reading the HTML that vram.ipymagic renders, for the Jupyter tests: numbers, queries, markup."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser

#: What JupyterLab's sanitiser keeps for untrusted notebooks (packages/apputils/src/sanitizer.ts),
#: narrowed to what these renderings need: a tag or property outside it would be stripped.
SAFE_TAGS = {"div", "span", "strong", "code", "br", "table", "thead", "tbody", "tr", "th", "td",
             "details", "summary", "ul", "li", "h4", "p"}
#: The one stylesheet an answer carries: the sanitiser drops it, and the answer must read without it.
STYLESHEET = re.compile(r"<style>.*?</style>", re.DOTALL)
SAFE_ATTRIBUTES = {"class", "style", "title"}
SAFE_PROPERTIES = {
    "background-color", "border-collapse", "border-left", "border-top", "color", "display",
    "font-size", "font-weight", "height", "left", "line-height", "margin", "margin-right",
    "margin-top", "max-width", "min-width", "opacity", "overflow", "overflow-x", "padding",
    "padding-left", "padding-right", "position", "right", "table-layout", "text-align", "top",
    "vertical-align", "white-space", "width",
}
#: Values the sanitiser's regular expressions reject (or themes cannot follow).
UNSAFE_VALUE = re.compile(r"var\(|currentcolor|calc\(|hsl|!important|transform", re.IGNORECASE)


class Markup(HTMLParser):
    """Every tag, attribute name and inline style declaration in a piece of HTML."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.declarations: list[tuple[str, str]] = []
        self.feed(STYLESHEET.sub("", html))

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            self.attributes.add(name)
            if name == "style":
                self.declarations += [tuple(p.strip() for p in d.split(":", 1))
                                      for d in value.split(";") if d.strip()]


def exact_bytes(html: str) -> list[int]:
    """The exact byte counts behind the numbers shown, in document order."""
    return [int(n) for n in re.findall(r'title="(\d+) bytes"', html)]


def queries(html: str) -> list[str]:
    """The canonical query text of each answer (one, or one a row of a comparison)."""
    return [unescape(q) for q in re.findall(r'class="vram-query"[^>]*>([^<]*)<', html)]


def comparison_rows(html: str) -> list[str]:
    return re.findall(r"<tr>.*?</tr>", html.split("<tbody>", 1)[1])


def vram_json(query: str) -> dict:
    """What ``vram --json QUERY`` prints."""
    done = subprocess.run([sys.executable, "-m", "vram", query, "--json"],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def vram_text(query: str) -> str:
    """What ``vram QUERY`` prints, without the final newline."""
    done = subprocess.run([sys.executable, "-m", "vram", query],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.removesuffix("\n")


def row_bytes(document: dict) -> list[int]:
    """The numbers of a comparison's row, from the JSON: each item and the total per GPU."""
    estimate = document["estimate"]
    return [item["bytes"] for item in estimate["items"]] + [estimate["total_bytes"]]


def estimate_bytes(document: dict) -> list[int]:
    """The numbers of one answer in the order the HTML shows them, from the JSON: the headline's
    total, each phase (the chart), the table (items, total, job total), the range, other methods' totals."""
    estimate = document["estimate"]
    phases = [phase["bytes"] for phase in estimate.get("phases", [])]
    job = [estimate["job_total_bytes"]] if estimate["gpu_count"] > 1 else []
    span = estimate.get("range") or {}
    low_high = [span["low_bytes"], span["high_bytes"]] if span else []
    others = [other["total_bytes"] for other in estimate.get("comparisons", [])]
    return [estimate["total_bytes"]] + phases + row_bytes(document) + job + low_high + others
