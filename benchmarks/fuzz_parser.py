"""Coverage-guided fuzzing of the whole text path with atheris (libFuzzer): text -> Request -> estimate.

Run (about ten minutes; `pip install atheris`):

    python benchmarks/fuzz_parser.py -max_total_time=600 -dict=benchmarks/fuzz.dict benchmarks/corpus

Any exception other than a VramError is a crash: libFuzzer stops and writes the input to
crash-*; each one found becomes a case in tests/test_errors.py or tests/test_properties.py.
The seed corpus is the example queries (written into benchmarks/corpus on the first run).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import atheris

os.environ["HF_HUB_OFFLINE"] = "1"  # a fuzzed "owner/name" must not reach for the Hub

with atheris.instrument_imports():
    import vram
    from vram import cli

HERE = Path(__file__).parent
ROOT = HERE.parent


def seed_corpus(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for name in ("queries.jsonl", "bad_queries.jsonl"):
        for number, line in enumerate((ROOT / "tests" / "data" / name).read_text(encoding="utf-8").splitlines()):
            if line.strip():
                (folder / f"{name}-{number}").write_text(json.loads(line)["q"], encoding="utf-8")


def one_input(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(600)
    try:
        request = vram.parse(text)
        vram.estimate(request)
        assert vram.parse(request.to_query()) == request, text
    except vram.VramError:
        pass


def main() -> None:
    corpus = [a for a in sys.argv[1:] if not a.startswith("-")]
    for folder in corpus:
        seed_corpus(Path(folder))
    cli.build_parser()  # import what the CLI needs before fuzzing starts
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
