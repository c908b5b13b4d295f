"""Text to atoms: the lark grammar (query.lark), one Transformer, and lark's errors mapped to ours.

The parser is query.lark compiled by lark's standalone generator (query_standalone.py, checked
against the .lark file by tests/test_generated_parser.py): the same LALR tables and lexer as
``Lark(grammar, parser="lalr")``, without importing the lark package at start-up.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import NamedTuple

from vram.errors import QueryError
from vram.messages import has_cjk
from vram.request.vocabulary import EXPECTED_WORDS

from . import segment
from .query_standalone import (
    Lark, Lark_StandAlone, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput,
    UnexpectedToken
)

#: Longest query accepted, in characters: a real query is a line; this bounds all the work.
MAX_QUERY_CHARS = 500


class Atom(NamedTuple):
    """One word, number, count or setting of a query, with where it starts.

    A NamedTuple, immutable as a frozen dataclass: a query makes one a word, in a third of the
    time a frozen dataclass takes to build."""

    #: "word", "number", "count", "setting", "pin" (a package and its release: "torchtune==0.4"),
    #: "flag" (a launch flag: "--max-model-len") or "override" (llama.cpp's -ot and its patterns)
    kind: str
    text: str  #: as typed (for a setting: the key)
    pos: int  #: 0-based offset of its first character
    value: str | None = None  #: a setting's value, as typed
    value_pos: int | None = None


class _ToAtoms(Transformer):
    """One method per rule of query.lark."""

    def start(self, atoms: list[Atom]) -> list[Atom]:
        return atoms

    def setting(self, children: list[Token]) -> Atom:
        key, value = children
        return Atom("setting", str(key).lstrip("-"), key.start_pos, str(value), value.start_pos)

    def pin(self, children: list[Token]) -> Atom:
        package, release = children
        return Atom("pin", str(package), package.start_pos, str(release), release.start_pos)

    def override(self, children: list[Token]) -> Atom:
        flag, patterns = children
        return Atom("override", str(flag), flag.start_pos, str(patterns), patterns.start_pos)

    def flag(self, children: list[Token]) -> Atom:
        return Atom("flag", str(children[0]), children[0].start_pos)

    def count(self, children: list[Token]) -> Atom:
        return Atom("count", children[0].strip(), children[0].start_pos)

    def number(self, children: list[Token]) -> Atom:
        return Atom("number", str(children[0]), children[0].start_pos)

    def word(self, children: list[Token]) -> Atom:
        return Atom("word", str(children[0]), children[0].start_pos)


@functools.cache
def _lark() -> Lark:
    return Lark_StandAlone(transformer=_ToAtoms())


#: Parse errors by example (lark's match_examples): what a person did, and what to say.
_ERROR_EXAMPLES: dict[str, list[str]] = {
    "'=' needs a setting name before it, as in seq=4096": ["=4096", "7b = 4", "train 7b =bf16"],
    "'=' needs a value after it, as in seq=4096": ["seq=", "seq= =", "train seq="],
    "'==' pins a release and needs one after it, as in torchtitan==0.1.0 (a setting takes one '=', as in seq=4096)":
        ["torchtitan==", "train torchtitan==", "torchtitan== =", "torchtitan===0.1"],
    "'-ot' (--override-tensor) needs its patterns after it, as in -ot exps=CPU": ["-ot", "infer 7b -ot", "-ot=",
                                                                                 "--override-tensor"],
}


def atoms(text: str) -> list[Atom]:
    """The atoms of ``text``, or a QueryError saying where and what was wrong."""
    if not isinstance(text, str):
        raise QueryError(f"a query is text, not {type(text).__name__}", expected=EXPECTED_WORDS)
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}. "
            "Ask one job per query"
        )
    if not text.strip():
        raise QueryError("the query is empty", expected=EXPECTED_WORDS)
    text = normalise_text(text)
    try:
        found = _lark().parse(text)
    except UnexpectedCharacters as error:
        raise _unexpected_character(text, error.pos_in_stream) from None
    except UnexpectedToken as error:
        if error.token.type == "OVERRIDE":  # only -ot's patterns take it: elsewhere the character is unexpected
            raise _unexpected_character(text, error.token.start_pos) from None
        raise QueryError(_explain(error, text), position=_position(error, text)) from None
    except UnexpectedEOF as error:
        raise QueryError(_explain(error, text), position=_position(error, text)) from None
    return [piece for atom in found for piece in _segmented(atom)]


def _unexpected_character(text: str, position: int) -> QueryError:
    hint = ("options such as --json go outside the quoted query" if text.startswith("--", position)
            else "a query is plain words and numbers, as in 'infer llama-2-7b fp16 on a100'")
    return QueryError(f"unexpected character {text[position]!r}; {hint}", position=position)


def _segmented(atom: Atom) -> list[Atom]:
    """A word glued of Chinese words and names ('8卡a100训练') as its words (segment.py); the names
    and numbers in it read by the grammar as the same text standing alone would be."""
    if atom.kind != "word" or not has_cjk(atom.text):
        return [atom]
    found = []
    for offset, piece in segment.pieces(atom.text):
        if has_cjk(piece):
            found.append(Atom("word", piece, atom.pos + offset))
            continue
        # a full-width colon after a label ("模型：qwen2.5-7b", NFKC-folded to ':') separates, as a space would
        offset, piece = offset + len(piece) - len(piece.lstrip(":")), piece.strip(":")
        if not piece:
            continue
        try:
            relexed = _lark().parse(piece)
        except UnexpectedInput:
            relexed = [Atom("word", piece, 0)]
        found += [_moved(a, atom.pos + offset) for a in relexed]
    return found


def _moved(atom: Atom, by: int) -> Atom:
    value_pos = None if atom.value_pos is None else atom.value_pos + by
    return Atom(atom.kind, atom.text, atom.pos + by, atom.value, value_pos)


#: Dashes people paste from documents (hyphen, non-breaking hyphen, figure, en and em dashes, minus).
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212"})


def normalise_text(text: str) -> str:
    """Full-width letters and digits to ASCII, pasted dashes to '-', one character for one (so
    error columns still point into what was typed)."""
    text = text.translate(_DASHES)
    if text.isascii():
        return text
    return "".join(n if len(n := unicodedata.normalize("NFKC", c)) == 1 else c for c in text)


def _explain(error: UnexpectedInput, text: str) -> str:
    label = error.match_examples(_lark().parse, _ERROR_EXAMPLES, use_accepts=True)
    return label or "this query has a shape vram does not read"


def _position(error: UnexpectedInput, text: str) -> int:
    token = getattr(error, "token", None)
    if token is not None and getattr(token, "start_pos", None) is not None:
        return token.start_pos
    return len(text.rstrip())
