"""The ``vram`` command: one query in, the breakdown out (text or JSON); exit 2 on bad input."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from vram.errors import HelpRequested, UnsupportedError, VramError
from vram.grammar.help import QUERY_LANGUAGE

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
        epilog=f"{QUERY_LANGUAGE}\n\n{EXAMPLES}", formatter_class=_formatter,
    )
    parser.add_argument("query", nargs="*", help="the question, e.g. 'train 7b adamw bf16 on 8xA100'")
    parser.add_argument("--json", action="store_true", help="print {request, estimate} as JSON")
    parser.add_argument("--gib", action="store_true", help="show GiB (2**30 bytes) instead of GB (1e9)")
    parser.add_argument("--method", choices=("article", "detailed"), help="estimation method")
    parser.add_argument("--no-formulas", action="store_true", help="leave out the formula under each item")
    parser.add_argument("--trace", action="store_true",
                        help="also run the job on fake tensors and show the traced peak (pip install 'vram[trace]')")
    parser.add_argument("--list", choices=("models", "gpus"),
                        help="list the catalog's models or GPUs and exit (--json: every field; --gib: GiB)")
    parser.add_argument("--version", action="version", version=f"vram {_version()}")
    return parser


def _formatter(prog: str) -> argparse.HelpFormatter:
    # a width of our own: argparse would import shutil (and bz2, lzma) to ask the terminal, which
    # costs every run a few milliseconds of cold start for a help text most runs never print
    width = int(os.environ.get("COLUMNS", "0") or 0) or 100
    return argparse.RawDescriptionHelpFormatter(prog, width=max(40, width - 2))


def _version() -> str:
    from vram import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # the reader went away (| head): nothing left to say, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        return _list(args.list, args)
    if not args.query:
        parser.error("give a query, e.g. vram \"infer llama-3-8b bf16 on a100\"")
    text = " ".join(args.query)
    try:
        return _answer(text, args)
    except BrokenPipeError:
        raise
    except HelpRequested as answer:  # "vram help": the query language is the answer, not an error
        print(json.dumps({"help": answer.reason}, ensure_ascii=False) if args.json else answer.reason)
        return 0
    except VramError as error:
        if args.json:
            print(json.dumps({"error": error.to_dict()}, ensure_ascii=False))
        else:
            print(f"vram: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:  # a bug: say so in one line, keep the traceback for VRAM_DEBUG
        if os.environ.get("VRAM_DEBUG"):
            raise
        message = (f"internal error ({type(error).__name__}: {error}); "
                   "please report it with the query (VRAM_DEBUG=1 shows the traceback)")
        if args.json:  # --json always prints JSON: a script reading it gets the error as data
            print(json.dumps({"error": {"message": message, "internal": True, "type": type(error).__name__}},
                             ensure_ascii=False))
        else:
            print(f"vram: {message}", file=sys.stderr)
        return EXIT_INTERNAL


def _list(what: str, args: argparse.Namespace) -> int:
    """The catalog as a table with a head row (80 columns at most), or as a JSON array with --json."""
    from vram import catalog
    from vram.render import (
        catalog_json, gpus_in_list_order, models_in_list_order, render_gpu_list, render_model_list
    )

    if what == "models":
        models = list(catalog.models().by_id.values())
        print(catalog_json(models_in_list_order(models)) if args.json else render_model_list(models))
    else:
        gpus = list(catalog.gpus().by_id.values())
        unit = "GiB" if args.gib else "GB"
        print(catalog_json(gpus_in_list_order(gpus)) if args.json else render_gpu_list(gpus, unit))
    return 0


def _answer(text: str, args: argparse.Namespace) -> int:
    from vram import ask
    from vram.render import render_json, render_text, to_json_document

    result = ask(text, method=args.method)
    unit = "GiB" if args.gib else "GB"
    traced = _trace(result) if args.trace else None
    if args.json and traced is None:
        print(render_json(result))
    elif args.json:
        print(json.dumps({**to_json_document(result), "trace": traced.to_dict()}, indent=2, ensure_ascii=False,
                         allow_nan=False))
    else:
        print(render_text(result, unit=unit, formulas=not args.no_formulas))
        if traced is not None:
            from vram.validation.trace import render_trace

            print(f"\n{render_trace(traced, unit)}")
    return 0


def _trace(result):
    """The measurement harness (vram.validation), imported only here: it needs torch."""
    try:
        from vram.validation.trace import trace
    except ImportError as error:
        raise UnsupportedError(f"--trace needs torch and transformers ({error.name} is missing): "
                               "pip install 'vram[trace]'", field="trace") from None
    return trace(result)
