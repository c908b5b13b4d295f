"""The committed parser (grammar/query_standalone.py) is what lark's standalone tool makes of
grammar/query.lark today, so the two cannot drift.

Regenerate after editing query.lark (or upgrading the pinned lark):

    python tests/test_generated_parser.py

The tool numbers its LALR states and tokens in an order that changes from run to run, so the
check compares the lark runtime it copies byte for byte (after EDITS) and the tables up to that
numbering: terminals, rules and options as data, the parse table relabelled by a walk from its
start state.
"""

from __future__ import annotations

import ast
import copy
import io
import json
import re
import sys
from collections import deque
from pathlib import Path

from lark.tools import standalone

GRAMMAR_DIR = Path(__file__).resolve().parent.parent / "grammar"
SOURCE = GRAMMAR_DIR / "query.lark"
GENERATED = GRAMMAR_DIR / "query_standalone.py"

HEADER = """\
# GENERATED from query.lark by lark's standalone parser generator: do not edit by hand.
# The grammar's source is query.lark; after changing it (or the pinned lark), regenerate with
#
#     python tests/test_generated_parser.py
#
# which writes these lines and then the output of `python -m lark.tools.standalone query.lark`,
# with one edit (EDITS in that test): lark's probe for the third-party `regex` package is answered
# "absent". lark uses `regex` only for grammars built with regex=True or \\p{...} categories, and
# query.lark has neither, but the probe alone costs a cold start 8 ms wherever the package is
# installed (transformers brings it). tests/test_generated_parser.py fails while this file and
# query.lark disagree. vram uses it instead of `import lark` for start-up time (issue 14): the lark
# package also imports its grammar compiler, Earley and CYK parsers and a cache that a query never needs.
"""

#: (what the tool writes, what vram ships instead): each must occur exactly once in its output.
EDITS = [(
    "try:\n    import regex\n    _has_regex = True\nexcept ImportError:\n    _has_regex = False\n",
    "_has_regex = False  # vram: query.lark needs no `regex` (see the header)\n",
)]


def generate() -> str:
    """HEADER and the standalone tool's output for query.lark, as its command line makes it, with EDITS."""
    namespace = standalone.lalr_argparser.parse_args([str(SOURCE)])  # the tool's defaults
    try:
        lark_inst, _ = standalone.build_lalr(namespace)
    finally:
        namespace.grammar_file.close()
    out = io.StringIO()
    standalone.gen_standalone(lark_inst, out=out)
    text = out.getvalue()
    for written, shipped in EDITS:
        if text.count(written) != 1:
            raise AssertionError(f"lark's standalone output no longer has {written!r} once: review EDITS")
        text = text.replace(written, shipped)
    return HEADER + text


def _split(module_text: str) -> tuple[str, dict, dict, str]:
    """The copied runtime, DATA, MEMO and what follows them."""
    start = module_text.index("\nDATA = (")
    tree = ast.parse(module_text[start:])
    data, memo = (ast.literal_eval(node.value) for node in tree.body[:2])
    tail = "\n".join(module_text[start:].splitlines()[tree.body[1].end_lineno:])
    return module_text[:start], data, memo, tail


def _canonical(data: dict, memo: dict) -> dict:
    """DATA with memo references filled in and the parse table numbered by a breadth-first walk
    (tokens by name), so two runs of the tool that built the same automaton compare equal."""

    def fill(value):
        if isinstance(value, dict) and set(value) == {"@"}:
            return fill(memo[value["@"]])
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [fill(item) for item in value]
        return value

    table = data["parser"]["parser"]
    tokens, states = table["tokens"], table["states"]
    order: dict[int, int] = {}
    queue = deque(table["start_states"][name] for name in sorted(table["start_states"]))
    for state in queue:
        order.setdefault(state, len(order))
    rows = {}
    while queue:
        state = queue.popleft()
        row = {}
        for token, (action, argument) in sorted(states[state].items(), key=lambda kv: tokens[kv[0]]):
            if action == 0 and argument not in order:  # 0 is Shift: the argument is a state
                order[argument] = len(order)
                queue.append(argument)
            row[tokens[token]] = ["shift", order[argument]] if action == 0 else ["reduce", fill(argument)]
        rows[order[state]] = row
    frontend = {key: fill(value) for key, value in data["parser"].items() if key != "parser"}
    return {
        "frontend": frontend, "rules": fill(data["rules"]), "options": data["options"], "states": rows,
        "start": {name: order[state] for name, state in table["start_states"].items()},
        "end": {name: order.get(state) for name, state in table["end_states"].items()},
        "unreached": len(states) - len(order),
    }


def _normalised(module_text: str) -> tuple[str, str, str]:
    runtime, data, memo, tail = _split(module_text)
    return runtime, json.dumps(_canonical(data, memo), sort_keys=True, indent=1), tail


def test_the_committed_parser_is_what_the_tool_generates_from_query_lark():
    committed, fresh = _normalised(GENERATED.read_text(encoding="utf-8")), _normalised(generate())
    for part, name in zip(range(3), ("lark runtime and header", "tables", "loader")):
        assert committed[part] == fresh[part], (
            f"grammar/query_standalone.py ({name}) is out of date with query.lark or the installed lark: "
            "run python tests/test_generated_parser.py")


def test_the_grammar_needs_nothing_the_edit_takes_away():
    # lark reaches for `regex` only with regex=True or a \p{...} category in a terminal
    _, data, memo, _ = _split(GENERATED.read_text(encoding="utf-8"))
    patterns = [entry["pattern"]["value"] for entry in memo.values() if entry["__type__"] == "TerminalDef"]
    assert data["options"]["regex"] is False and patterns
    assert not any(re.search(r"\\p\{", pattern) for pattern in patterns)


def test_two_runs_of_the_tool_compare_equal_though_numbered_differently():
    runs = [_split(generate()) for _ in range(6)]
    assert len({json.dumps(_canonical(data, memo), sort_keys=True) for _, data, memo, _ in runs}) == 1


def test_the_normal_form_tells_a_changed_grammar_apart():
    runtime, data, memo, tail = _split(GENERATED.read_text(encoding="utf-8"))
    changed = copy.deepcopy(memo)
    name = next(key for key, entry in changed.items() if entry.get("name") == "NAME")
    changed[name]["pattern"]["value"] += "x"
    assert _canonical(data, memo) != _canonical(data, changed)


if __name__ == "__main__":
    GENERATED.write_text(generate(), encoding="utf-8")
    print(f"wrote {GENERATED}", file=sys.stderr)
