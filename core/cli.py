"""The ``vram`` command: one query in, the breakdown out (text or JSON); exit 2 on bad input."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from .errors import UnsupportedError, VramError

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in vram, not in the query

EXAMPLES = """\
examples:
  vram "train chatglm-6b adamw bf16 selective on 8xA100"
  vram "infer 6b int8"
  vram "infer llama-3-70b int4 on 2x rtx-4090" --gib
  vram "lora llama-2-13b bf16 rank 64" --json
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vram", description="How much GPU memory a model takes to train or serve, and whether it fits.",
        epilog=EXAMPLES, formatter_class=_formatter,
    )
    parser.add_argument("query", nargs="+", help="the question, e.g. 'train 7b adamw bf16 on 8xA100'")
    parser.add_argument("--json", action="store_true", help="print {request, estimate} as JSON")
    parser.add_argument("--gib", action="store_true", help="show GiB (2**30 bytes) instead of GB (1e9)")
    parser.add_argument("--method", choices=("article", "detailed"), help="estimation method")
    parser.add_argument("--no-formulas", action="store_true", help="leave the formula column out")
    parser.add_argument("--trace", action="store_true",
                        help="also run the job on fake tensors and show the traced peak (pip install 'vram[trace]')")
    return parser


def _formatter(prog: str) -> argparse.HelpFormatter:
    # a width of our own: argparse would import shutil (and bz2, lzma) to ask the terminal, which
    # costs every run a few milliseconds of cold start for a help text most runs never print
    width = int(os.environ.get("COLUMNS", "0") or 0) or 100
    return argparse.RawDescriptionHelpFormatter(prog, width=max(40, width - 2))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    text = " ".join(args.query)
    try:
        return _answer(text, args)
    except VramError as error:
        if args.json:
            print(json.dumps({"error": error.to_dict()}, ensure_ascii=False))
        else:
            print(f"vram: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:  # a bug: say so in one line, keep the traceback for VRAM_DEBUG
        if os.environ.get("VRAM_DEBUG"):
            raise
        print(f"vram: internal error ({type(error).__name__}: {error}); "
              "please report it with the query (VRAM_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def _answer(text: str, args: argparse.Namespace) -> int:
    from . import ask
    from .render import render_text, to_json_document

    result = ask(text, method=args.method)
    unit = "GiB" if args.gib else "GB"
    traced = _trace(result) if args.trace else None
    if args.json:
        document = to_json_document(result)
        if traced is not None:
            document["trace"] = traced.to_dict()
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print(render_text(result, unit=unit, formulas=not args.no_formulas))
        if traced is not None:
            from .validation.trace import render_trace

            print(f"\n{render_trace(traced, unit)}")
    return 0


def _trace(result):
    """The measurement harness (vram.validation), imported only here: it needs torch."""
    try:
        from .validation.trace import trace
    except ImportError as error:
        raise UnsupportedError(f"--trace needs torch and transformers ({error.name} is missing): "
                               "pip install 'vram[trace]'", field="trace") from None
    return trace(result)
