"""Coverage-guided fuzzing of the text path with atheris (libFuzzer), over fuzz_text.py's oracle.

    pip install -e '.[fuzz]'
    python benchmarks/fuzz_parser.py --write-dict                       # benchmarks/fuzz.dict
    python benchmarks/fuzz_parser.py -max_total_time=600 -timeout=10 -dict=benchmarks/fuzz.dict \\
        benchmarks/corpus 2> fuzz-coverage.log                          # ten minutes
    python benchmarks/fuzz_parser.py --summarise fuzz-findings.jsonl [tests/data/fuzz_findings.txt]
                                        # grouped, each minimised (and appended to the file)

Each input (UTF-8, so the seed queries and the dictionary's words arrive as typed) goes through
``fuzz_text.check``: ``vram.ask``, the text and JSON renderings, a strict JSON parse and the byte
counts. A finding does not stop the run: it is appended to fuzz-findings.jsonl in the working
folder of the run (a temporary empty folder, see fuzz_text.isolate; the path is printed at the
start) and the run goes on, so ten minutes find every bug they reach rather than the first. A
true hang still stops libFuzzer (``-timeout``) and leaves a ``timeout-*`` file. libFuzzer's status
lines (``cov: N ft: M``) give the coverage of vram's code, which alone is instrumented.
The seed corpus is the queries of tests/data and tests/cases, written into the corpus folder.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fuzz_text  # noqa: E402  (after the path: it is a script beside this one)

#: A query is a line; the reader refuses more than 500 characters, so a little over that is enough.
MAX_INPUT_BYTES = 2048
FINDINGS = "fuzz-findings.jsonl"


def seed_corpus(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number, query in enumerate(fuzz_text.seed_queries()):
        (folder / f"seed-{number:03}").write_text(query, encoding="utf-8")


def write_dictionary(path: Path) -> int:
    """libFuzzer's dictionary: the vocabulary, the catalogs' names, edge numbers and strange words."""
    words = sorted({*fuzz_text.vocabulary(), *fuzz_text.EDGE_NUMBERS, *fuzz_text.STRANGE_WORDS,
                    "on", "x", "=", " "})
    lines = ["# libFuzzer dictionary of vram's text path (written by fuzz_parser.py --write-dict)"]
    lines += ['"' + "".join(_escape(b) for b in word.encode("utf-8")) + '"' for word in words
              if len(word.encode("utf-8")) <= 64]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def _escape(byte: int) -> str:
    char = chr(byte)
    if char in '"\\':
        return "\\" + char
    return char if 0x20 <= byte < 0x7F else f"\\x{byte:02x}"


def one_input(data: bytes) -> None:
    text = data[:MAX_INPUT_BYTES].decode("utf-8", errors="replace")
    finding = fuzz_text.check(text, stop=False)  # libFuzzer's -timeout owns SIGALRM
    if finding is not None:
        with open(FINDINGS, "a", encoding="utf-8") as f:
            f.write(json.dumps(finding.__dict__, ensure_ascii=False) + "\n")


def summarise(path: Path, save_to: Path | None = None) -> int:
    """Group a run's findings by kind and place, and minimise one input of each group."""
    report = fuzz_text.Report()
    for line in path.read_text(encoding="utf-8").splitlines():
        report.add(fuzz_text.Finding(**json.loads(line)))
    fuzz_text.isolate()
    for found in report.groups.values():
        smallest = min(found, key=lambda f: len(f.text))
        found.remove(smallest)
        found.insert(0, fuzz_text.minimise(smallest))
    print("\n".join(report.lines()[1:]))
    if save_to is not None:
        fuzz_text.save(report, save_to, "atheris")
    return 1 if report.groups else 0


def main() -> None:
    if sys.argv[1:2] == ["--write-dict"]:
        print(f"{write_dictionary(HERE / 'fuzz.dict')} words in {HERE / 'fuzz.dict'}")
        return
    if sys.argv[1:2] == ["--summarise"]:
        save_to = Path(sys.argv[3]).resolve() if len(sys.argv) > 3 else None
        sys.exit(summarise(Path(sys.argv[2]).resolve(), save_to))
    import atheris

    args = [sys.argv[0]]
    for arg in sys.argv[1:]:  # paths as given, before isolate() leaves the folder they are relative to
        absolute = not arg.startswith("-") or arg.startswith("-dict=")
        if absolute:
            arg = arg if not arg.startswith("-dict=") else "-dict=" + str(Path(arg[6:]).resolve())
            if not arg.startswith("-"):
                seed_corpus(Path(arg))
                arg = str(Path(arg).resolve())
        args.append(arg)
    work = fuzz_text.isolate()
    print(f"findings go to {work / FINDINGS}", file=sys.stderr)
    with atheris.instrument_imports(include=["vram"]):
        import vram

        for module in pkgutil.iter_modules(vram.__path__):  # the core's modules, also those loaded late
            if not module.ispkg and module.name not in ("__main__",):
                importlib.import_module(f"vram.{module.name}")
        # the grammar, lark's parser and the renderers load on the first question: load them here,
        # inside the instrumented import, so their code is measured too
        fuzz_text.check("train chatglm-6b adamw bf16 selective on 8xA100 max batch", stop=False)
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
