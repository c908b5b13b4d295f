"""Development check: render sample answers as notebook hosts show them, to PNGs, with Chromium.

    python -m vram.ipymagic.screenshot [--out build/screenshots]

Writes one HTML page and one PNG per host: JupyterLab light and dark, classic Notebook, and
VS Code dark. Each page carries the host's own table rules (right-aligned, centred, striped,
fixed layout; copied from their stylesheets, abridged) so that what fights our layout shows.
A last page strips every style, as GitHub and an untrusted classic Notebook do.
Needs Chromium (Debian: ``apt-get install chromium-headless-shell``); not part of the tests.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import vram

from .compare import Estimates
from .render import render_html

QUERIES = (
    "train chatglm-6b adamw bf16 selective on 8xA100",
    "infer llama-3-70b int4 on 2x rtx-4090",
    "infer 6b int8",
)
COMPARED = (
    "train chatglm-6b adamw bf16 selective on 8xA100",
    "train chatglm-6b adamw bf16 selective zero3 on 8xA100",
    "train chatglm-6b adamw bf16 full zero3 on 8xA100",
    "qlora llama-2-70b seq 4096 on 1x a100-80gb",
)

_TABLES = """
.out table { border-collapse: collapse; border-spacing: 0; border: none; table-layout: fixed;
  margin-left: auto; margin-right: auto; font-size: 13px; color: %(table_text)s; }
.out thead { border-bottom: 1px solid %(rule)s; vertical-align: bottom; }
.out td, .out th, .out tr { text-align: right; vertical-align: middle; padding: 0.5em;
  line-height: normal; white-space: normal; max-width: none; border: none; }
.out tbody tr:nth-child(odd) { background: %(odd)s; }
.out tbody tr:nth-child(even) { background: %(even)s; }
.out code { background: %(code)s; padding: 1px 5px; }
"""
_HOSTS = {  # colours from each host's theme variables
    "lab-light": dict(bg="#ffffff", text="rgba(0,0,0,0.87)", table_text="rgba(0,0,0,0.87)",
                      rule="#bdbdbd", odd="#ffffff", even="#f5f5f5", code="#eeeeee", tables=True),
    "lab-dark": dict(bg="#111111", text="rgba(255,255,255,0.87)", table_text="rgba(255,255,255,0.87)",
                     rule="#616161", odd="#111111", even="#212121", code="#424242", tables=True),
    "classic-light": dict(bg="#ffffff", text="#000000", table_text="black", rule="black",
                          odd="#f5f5f5", even="#ffffff", code="transparent", tables=True),
    "vscode-dark": dict(bg="#1f1f1f", text="#cccccc", tables=False),
    "stripped": dict(bg="#ffffff", text="#000000", table_text="black", rule="black",
                     odd="#f5f5f5", even="#ffffff", code="transparent", tables=True, strip=True),
}
CHROMIUMS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


def sample_html() -> str:
    """The sample answers, one after another, the first also with every <details> open."""
    answers = [render_html(vram.ask(query)) for query in QUERIES]
    opened = answers[0].replace("<details", "<details open")
    compared = Estimates(tuple(vram.ask(query) for query in COMPARED))._repr_html_()
    return "<hr>".join([answers[0], opened, *answers[1:], compared])


def page(host: str, body: str) -> str:
    theme = _HOSTS[host]
    tables = _TABLES % theme if theme["tables"] else ""
    if theme.get("strip"):
        body = re.sub(r' style="[^"]*"', "", body)
        body = re.sub(r"<style>.*?</style>", "", body, flags=re.DOTALL)
    return (f"<!doctype html><meta charset='utf-8'><style>body {{ background: {theme['bg']}; "
            f"color: {theme['text']}; font: 14px/1.5 system-ui, sans-serif; margin: 16px; }}"
            f"{tables}</style><div class='out'>{body}</div>")


def screenshot(chromium: str, html_file: Path, png_file: Path, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:  # a fresh profile each time
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
                        f"--window-size={width},{height}", f"--screenshot={png_file}",
                        html_file.as_uri()], check=True, capture_output=True, timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/screenshots"))
    parser.add_argument("--width", type=int, default=900, help="window width in pixels (a notebook's output area)")
    parser.add_argument("--height", type=int, default=1900, help="window height in pixels")
    args = parser.parse_args(argv)
    chromium = next((found for name in CHROMIUMS if (found := shutil.which(name))), None)
    args.out.mkdir(parents=True, exist_ok=True)
    body = sample_html()
    for host in _HOSTS:
        html_file = args.out / f"{host}.html"
        html_file.write_text(page(host, body), encoding="utf-8")
        if chromium:
            screenshot(chromium, html_file.resolve(), (args.out / f"{host}.png").resolve(), args.width, args.height)
    print(f"wrote {args.out}/*.html" + (" and *.png" if chromium else "; no Chromium found, no PNGs"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
