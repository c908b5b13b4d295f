"""Mutation fuzzing of the text path: valid queries, mutated, through everything a user gets back.

    python benchmarks/fuzz_text.py --minutes 10            # prints inputs, inputs/s, findings
    python benchmarks/fuzz_text.py --count 5000 --seed 7   # a fixed number of inputs

The oracle (``check``) is what a user may meet: ``vram.ask(text)``, then the answer rendered as
text (GB and GiB, with and without formulas) and as JSON, the JSON read back by a strict parser.
Anything but a VramError is a finding, and so are an input slower than ``SLOW_S``, JSON that a
strict parser rejects (NaN, Infinity) and a byte count that is not a finite integer >= 0.

The mutator is pure Python and deterministic for a seed: it swaps, inserts and deletes words of
the vocabulary and the catalogs, puts numbers at their edges (0, -1, 1e308, 1e1000000, nan,
2**64, unicode and full-width digits), Chinese words, control characters, very long words,
repeated settings, paths and repo ids into the seed queries (tests/data, tests/cases).
Findings are grouped by exception type and place (the innermost frame inside vram), each with
the smallest input that still shows it. tests/test_fuzz.py runs a bounded, seeded slice of this;
benchmarks/fuzz_parser.py is the coverage-guided fuzzer (atheris) over the same oracle.

Fuzzed words may look like paths or Hub repo ids: ``isolate()`` turns the Hub off
(HF_HUB_OFFLINE=1, an empty HF_HOME) and moves to an empty temporary folder first, so nothing
real is read and nothing is fetched.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
#: One input slower than this is a finding (a hang, for a user waiting on a chat bot).
SLOW_S = 2.0
#: An input still running after this is stopped (SIGALRM) and recorded as a hang.
STOP_S = 10.0


def isolate() -> Path:
    """No Hub and no real files: set before vram (and huggingface_hub) read their settings."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    folder = Path(tempfile.mkdtemp(prefix="vram-fuzz-"))
    for name in ("HF_HOME", "XDG_CACHE_HOME"):
        os.environ[name] = str(folder / name.lower())
    work = folder / "work"
    work.mkdir()
    os.chdir(work)
    return work


# ---------------------------------------------------------------------------------------- oracle

@dataclass(frozen=True)
class Finding:
    """One input that broke the oracle."""

    kind: str  #: the exception's type, or "hang", "json", "bytes"
    place: str  #: the innermost frame inside vram (file:function), or the check that failed
    text: str  #: the input
    detail: str  #: the message

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.place


class _Stopped(BaseException):
    """Raised by the alarm: an input ran past STOP_S (BaseException so no `except Exception` eats it)."""


def _alarm(signum, frame):  # noqa: ARG001
    raise _Stopped


def check(text: str, slow_s: float = SLOW_S, stop: bool = True) -> Finding | None:
    """Run ``text`` through the whole text path; None when it ends in an answer or a VramError.

    ``stop``: interrupt an input after STOP_S with SIGALRM (off where another owner of the signal,
    libFuzzer, bounds the time itself).
    """
    import vram

    use_alarm = stop and hasattr(signal, "setitimer") and _main_thread()
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, STOP_S)
    start = time.perf_counter()
    try:
        problem = _answer(text)
    except vram.VramError:
        problem = None
    except _Stopped:
        return Finding("hang", "stopped", text, f"still running after {STOP_S:.0f} s")
    except RecursionError as error:  # its traceback is thousands of frames: the place is enough
        return Finding("RecursionError", _place(error), text, str(error)[:200])
    except Exception as error:  # noqa: BLE001 - any other exception is what we are looking for
        return Finding(type(error).__name__, _place(error), text, str(error)[:200])
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    elapsed = time.perf_counter() - start
    if problem is None and elapsed > slow_s:
        return Finding("hang", "slow", text, f"took {elapsed:.1f} s")
    return problem


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _answer(text: str) -> Finding | None:
    import vram
    from vram.render import render_json, render_text

    estimate = vram.ask(text)
    for unit in ("GB", "GiB"):
        for formulas in (True, False):
            render_text(estimate, unit=unit, formulas=formulas)
    document = render_json(estimate)
    try:
        parsed = json.loads(document, parse_constant=_reject_constant)
    except ValueError as error:
        return Finding("json", "render_json", text, str(error)[:200])
    return _bad_bytes(parsed, text)


def _reject_constant(name: str):
    raise ValueError(f"JSON holds {name}, which strict parsers reject")


def _bad_bytes(node, text: str, path: str = "") -> Finding | None:
    """Every ``*bytes`` field of the JSON document is a finite integer >= 0."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        return None
    for name, value in items:
        where = f"{path}.{name}" if path else name
        if name.endswith("bytes") and name not in SIGNED and value is not None and not (
                isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            return Finding("bytes", _generic(where), text, f"{where} = {value!r}")
        found = _bad_bytes(value, text, where)
        if found is not None:
            return found
    return None


#: Byte fields that are signed on purpose: a negative headroom is how far over the card a job is.
SIGNED = frozenset({"headroom_bytes"})


def _generic(path: str) -> str:
    # estimate.items.3.bytes -> estimate.items.N.bytes, so one bug is one group
    return ".".join("N" if part.isdigit() else part for part in path.split("."))


def _place(error: BaseException) -> str:
    """The innermost frame in vram's own code (or the innermost of all when none is)."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if _is_ours(f.filename)] or frames[-1:]
    if not ours:
        return "?"
    frame = ours[-1]
    return f"{_short(frame.filename)}:{frame.name}"


def _is_ours(filename: str) -> bool:
    path = Path(filename).resolve()
    return any(part in ("core", "grammar", "slackbot", "ipymagic") for part in path.parts) and (
        ROOT in path.parents) and "benchmarks" not in path.parts


def _short(filename: str) -> str:
    path = Path(filename).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return path.name


# --------------------------------------------------------------------------------------- seeds

def seed_queries() -> list[str]:
    """The valid and bad example queries the project keeps (tests/data, the golden cases)."""
    data = ROOT / "tests" / "data"
    found: list[str] = []
    for name in ("queries.jsonl", "bad_queries.jsonl"):
        for line in (data / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                found.append(json.loads(line)["q"])
    for line in (data / "canonical_queries.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            found.append(line)
    for case in sorted((ROOT / "tests" / "cases").glob("*.txt")):
        for line in case.read_text(encoding="utf-8").splitlines():
            if line.startswith("Query:"):
                found.append(line.removeprefix("Query:").strip())
    return list(dict.fromkeys(found))


def vocabulary() -> list[str]:
    """Every word and phrase the reader knows: vocabulary tables, catalog ids and aliases."""
    from vram import catalog
    from vram.request import vocabulary as v

    words = {*v.PHRASES, *v.KEYS, *v.BIND_KEYS, *v.IGNORED_KEYS, *v.NUMBER_WORDS, *v.MAGNITUDE_WORDS,
             *v.SHORT_KEYS, *v.GLUED_KEYS, *v.WORD_KEYS, *v.TARGET_KEYS, *v.BOOLEANS, *v.FILLERS,
             *v.CANONICAL}
    for index in (catalog.models(), catalog.gpus()):
        for record in index.by_id.values():
            words.add(record.id)
            words.update(getattr(record, "aliases", ()))
    words.update(catalog.model_families())
    return sorted(w for w in words if w)


#: Numbers at the edges of what a reader must survive.
EDGE_NUMBERS = [
    "0", "-0", "-1", "1", "00", "0.0", ".5", "0.5", "1.", "1e308", "1e309", "-1e308", "1e-308", "1e1000000",
    "1e-1000000", "9" * 40, "1" + "0" * 400, "nan", "NaN", "inf", "-inf", "Infinity", "18446744073709551616",
    "9223372036854775807", "9223372036854775808", "4294967296", "2**64", "1_000", "0x10", "1e", "e5", "1e+",
    "+7b", "-7b", "0b", "0.0001b", "1e30b", "1e300t", "1e-9b", "7e9", "7E9", "1.5k", "0k", "99999999999k",
    "٣", "७", "３２", "１ｅ３０", "½", "²", "𝟕b", "7ｂ", "1e99999999999999999999",
]
#: Words and pieces that are not in the vocabulary but that people (or attackers) type.
STRANGE_WORDS = [
    "训练", "推理", "微调", "显存", "多少", "张", "块", "个", "在", "上", "需要", "模型", "ｔｒａｉｎ",
    "ｂｆ１６", "ａ１００", "\x00", "\x07", "\x1b[31m", "\u200b", "\u202e", "\ufeff", "\r", "\n", "\t",
    "\ud7ff", "é", "e\u0301", "İ", "ß", "ﬁ", "Ⅻ", "x" * 300, "a" * 80 + "b", "7b" * 60, "=" * 5,
    "./config.json", "/etc/passwd", "../../x", "~/model", "C:\\models\\x", "file:///etc/passwd",
    "models/x.safetensors", "x.gguf", "acme/model", "meta-llama/Llama-2-7b-hf", "a/b/c", "/", ".", "..",
    "http://127.0.0.1:1/x", "@", "-", "--json", "-x", "x=", "=x", "a=b=c", "seq==4", "()", "[x]", "{}",
    "'", "\"", "`", "?", "!", "，", "。", "x8", "8x", "8 x", "×", "*", "8×", "x0", "0x", "-1x",
]


# ------------------------------------------------------------------------------------- mutator

class Mutator:
    """Deterministic mutations of seed queries: one ``random.Random(seed)`` decides everything."""

    def __init__(self, seeds: list[str], words: list[str], seed: int = 0) -> None:
        self.seeds = seeds
        self.words = words
        self.random = random.Random(seed)
        self.operators: list[Callable[[list[str]], list[str]]] = [
            self._replace, self._insert, self._delete, self._swap, self._edge_number, self._strange,
            self._setting, self._repeat, self._glue, self._fullwidth, self._case, self._splice,
            self._edge_number, self._insert, self._replace,
        ]

    def __iter__(self) -> Iterator[str]:
        while True:
            yield self.next()

    def next(self) -> str:
        pick = self.random
        words = pick.choice(self.seeds).split()
        for _ in range(1 + min(int(pick.expovariate(0.7)), 6)):
            words = pick.choice(self.operators)(words)
        return pick.choice((" ", " ", " ", "  ", ", ", "\t")).join(words)

    def _spot(self, words: list[str], end: bool = False) -> int:
        return self.random.randrange(len(words) + end) if words or end else 0

    def _replace(self, words: list[str]) -> list[str]:
        if not words:
            return [self.random.choice(self.words)]
        i = self._spot(words)
        return words[:i] + [self.random.choice(self.words)] + words[i + 1:]

    def _insert(self, words: list[str]) -> list[str]:
        i = self._spot(words, end=True)
        return words[:i] + [self.random.choice(self.words)] + words[i:]

    def _delete(self, words: list[str]) -> list[str]:
        if not words:
            return words
        i = self._spot(words)
        return words[:i] + words[i + 1:]

    def _swap(self, words: list[str]) -> list[str]:
        if len(words) < 2:
            return words
        i, j = self.random.sample(range(len(words)), 2)
        words = list(words)
        words[i], words[j] = words[j], words[i]
        return words

    def _edge_number(self, words: list[str]) -> list[str]:
        number = self.random.choice(EDGE_NUMBERS)
        numeric = [i for i, w in enumerate(words) if any(c.isdigit() for c in w)]
        suffix = self.random.choice(("", "", "b", "k", "m", "t", "x"))
        if numeric and self.random.random() < 0.6:
            i = self.random.choice(numeric)
            word = words[i]
            head = word[:len(word) - len(word.lstrip("abcdefghijklmnopqrstuvwxyz-_=."))]
            return words[:i] + [head + number + suffix] + words[i + 1:]
        key = self.random.choice(("seq", "batch", "tp", "pp", "zero", "rank", "on", "hidden", "layers",
                                  "heads", "ep", "kv", "", "", "max batch", "gpus"))
        i = self._spot(words, end=True)
        return words[:i] + [w for w in (key, number + suffix) if w] + words[i:]

    def _strange(self, words: list[str]) -> list[str]:
        i = self._spot(words, end=True)
        piece = self.random.choice(STRANGE_WORDS)
        if words and self.random.random() < 0.3:  # glued into a word, not beside it
            j = min(i, len(words) - 1)
            cut = self.random.randrange(len(words[j]) + 1)
            return words[:j] + [words[j][:cut] + piece + words[j][cut:]] + words[j + 1:]
        return words[:i] + [piece] + words[i:]

    def _setting(self, words: list[str]) -> list[str]:
        from vram.request import vocabulary as v

        key = self.random.choice(sorted({*v.KEYS, *v.SHORT_KEYS, *v.WORD_KEYS, *v.BIND_KEYS})).replace(" ", "_")
        value = self.random.choice(EDGE_NUMBERS + self.words + STRANGE_WORDS[:20])
        i = self._spot(words, end=True)
        return words[:i] + [f"{key}={value}".replace(" ", "_")] + words[i:]

    def _repeat(self, words: list[str]) -> list[str]:
        if not words:
            return words
        i = self._spot(words)
        width = self.random.randint(1, 3)
        times = self.random.choice((2, 2, 3, 20))
        return words[:i] + words[i:i + width] * times + words[i + width:]

    def _glue(self, words: list[str]) -> list[str]:
        if len(words) < 2:
            return words
        i = self.random.randrange(len(words) - 1)
        joint = self.random.choice(("", "-", "_", "=", ".", "/", ":", "x", "@"))
        return words[:i] + [words[i] + joint + words[i + 1]] + words[i + 2:]

    def _fullwidth(self, words: list[str]) -> list[str]:
        if not words:
            return words
        i = self._spot(words)
        wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in words[i])
        return words[:i] + [wide] + words[i + 1:]

    def _case(self, words: list[str]) -> list[str]:
        if not words:
            return words
        i = self._spot(words)
        return words[:i] + [self.random.choice((str.upper, str.title, str.swapcase))(words[i])] + words[i + 1:]

    def _splice(self, words: list[str]) -> list[str]:
        other = self.random.choice(self.seeds).split()
        cut = self._spot(words, end=True)
        return words[:cut] + other[self.random.randrange(len(other) + 1):]


# ------------------------------------------------------------------------------------ minimise

def minimise(finding: Finding, budget: int = 300) -> Finding:
    """The smallest input (by words, then characters) that still gives the same kind and place."""
    same = lambda text: (f := check(text)) is not None and f.key == finding.key  # noqa: E731
    best, tries = finding.text, 0
    for unit in ("words", "chars"):
        pieces = best.split() if unit == "words" else list(best)
        joiner = " " if unit == "words" else ""
        size = max(1, len(pieces) // 2)
        while size >= 1 and tries < budget:
            start, shrunk = 0, False
            while start < len(pieces) and tries < budget:
                trial = pieces[:start] + pieces[start + size:]
                tries += 1
                if trial and same(joiner.join(trial)):
                    pieces, shrunk = trial, True
                else:
                    start += size
            if not shrunk:
                size //= 2
        best = joiner.join(pieces)
    return check(best) or finding


# ----------------------------------------------------------------------------------------- run

@dataclass
class Report:
    """What one run did: how many inputs, how fast, and the findings grouped by kind and place."""

    inputs: int = 0
    seconds: float = 0.0
    answered: int = 0  #: inputs that ended in an estimate (the rest in a VramError or a finding)
    groups: dict[tuple[str, str], list[Finding]] = field(default_factory=dict)

    def add(self, finding: Finding) -> None:
        self.groups.setdefault(finding.key, []).append(finding)

    def lines(self) -> list[str]:
        rate = self.inputs / self.seconds if self.seconds else 0.0
        out = [f"inputs: {self.inputs} in {self.seconds:.0f} s ({rate:.0f}/s); answered {self.answered}, "
               f"findings {sum(len(g) for g in self.groups.values())} in {len(self.groups)} groups"]
        for (kind, place), found in sorted(self.groups.items(), key=lambda kv: -len(kv[1])):
            small = found[0]
            out += [f"  {kind} at {place}: {len(found)} inputs", f"    minimal: {small.text!r}",
                    f"    message: {small.detail}"]
        return out


def run(count: int | None = None, seconds: float | None = None, seed: int = 0,
        minimise_budget: int = 300) -> Report:
    """Fuzz until ``count`` inputs or ``seconds`` have gone; the findings are minimised at the end."""
    import vram

    mutator = Mutator(seed_queries(), vocabulary(), seed)
    report = Report()
    start = time.perf_counter()
    for text in itertools.chain(mutator.seeds, mutator):
        if count is not None and report.inputs >= count:
            break
        if seconds is not None and time.perf_counter() - start >= seconds:
            break
        report.inputs += 1
        finding = check(text)
        if finding is None:
            report.answered += _answers(vram, text)
        else:
            report.add(finding)
    report.seconds = time.perf_counter() - start
    for key, found in report.groups.items():
        smallest = min(found, key=lambda f: len(f.text))
        found.remove(smallest)
        found.insert(0, minimise(smallest, minimise_budget) if minimise_budget else smallest)
    return report


def _answers(vram, text: str) -> int:
    try:
        vram.parse(text)
    except vram.VramError:
        return 0
    return 1


def save(report: Report, path: Path, source: str) -> None:
    """Append each group's minimal input to ``path``: a JSON string a line (so control characters
    and newlines stay on it), the finding in a ``# found:`` comment above."""
    known = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    lines = []
    for (kind, place), found in sorted(report.groups.items()):
        text = json.dumps(found[0].text, ensure_ascii=False)
        if text not in known:
            detail = " ".join(found[0].detail.split())
            lines += [f"# found: {kind} at {place} ({source}): {detail}", text]
    if lines:
        with path.open("a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, help="run this long")
    parser.add_argument("--count", type=int, help="run this many inputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, help="append each finding's minimal input to this file")
    args = parser.parse_args(argv)
    save_to = args.save.resolve() if args.save else None
    isolate()
    sys.path.insert(0, str(ROOT))
    seconds = args.minutes * 60 if args.minutes else (None if args.count else 60.0)
    report = run(count=args.count, seconds=seconds, seed=args.seed)
    print("\n".join(report.lines()))
    if save_to is not None:
        save(report, save_to, f"fuzz_text.py seed {args.seed}")
    return 1 if report.groups else 0


if __name__ == "__main__":
    sys.exit(main())
