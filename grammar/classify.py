"""Atoms to a Request: each word classified against the core's vocabulary and catalogs.

Three passes. ``_meanings`` reads runs of words longest phrase first ("sgd with momentum",
"a100 80gb", "llama 2 7b"); ``_Fields`` pairs numbers with the keys and GPUs beside them and
records every field once, reporting a second, different value as a conflict; then the Request
is built, and any error it raises is placed at the word that set the field.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from vram import catalog, models
from vram.errors import ConflictError, MissingError, QueryError, UnknownWordError, VramError
from vram.request import Request
from vram.vocabulary import (
    BOOLEANS, EXPECTED_WORDS, FILLERS, GLUED_KEYS, KEYS, MAX_PHRASE_WORDS, PHRASES, SHORT_KEYS,
    WORD_KEYS,
)

from .parser import Atom

#: Multipliers of number suffixes. Token counts are binary ("4k" context = 4096, "32k" = 32768,
#: as model cards write them); every other count is decimal ("7b" = 7e9).
DECIMAL_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}
BINARY_SUFFIXES = {**DECIMAL_SUFFIXES, "k": 2**10, "m": 2**20}
BINARY_FIELDS = frozenset({"seq_len"})
#: Suffixes that make a bare number a model size ("7b", "350m", "1t").
SIZE_SUFFIXES = frozenset({"m", "b", "t"})
INTEGER_FIELDS = frozenset({"seq_len", "batch_size", "tp", "pp", "zero", "lora_rank", "gpu_count",
                            "hidden_size", "num_layers", "num_heads"})

_NUMBER = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)([kmbt]?)", re.IGNORECASE)
_GLUED = re.compile(r"([a-z_]+?)[-_]?(\d+(?:\.\d+)?[kmbt]?)", re.IGNORECASE)


@dataclass
class Meaning:
    """What one atom (or a phrase of several) means."""

    kind: str  #: "set", "key", "model", "gpu", "number", "count", "filler", "unknown"
    pos: int
    text: str
    field: str | None = None
    value: Any = None
    used: bool = False  #: a number taken by a key or a GPU


def to_request(atoms: list[Atom]) -> Request:
    meanings = _meanings(atoms)
    fields = _Fields()
    for meaning in meanings:
        if meaning.kind == "unknown":
            raise _unknown(meaning, meanings)
        if meaning.kind in ("set", "model", "gpu"):
            field = meaning.field or meaning.kind
            fields.put(field, meaning.value, meaning)
    _pair_keys(meanings, fields)
    _pair_counts(meanings, fields)
    _take_sizes(meanings, fields)
    if "task" not in fields.values:
        raise MissingError("say what the job does", expected=("train", "infer", "lora", "qlora"))
    try:
        return Request(**fields.values)
    except VramError as error:
        raise error.at(fields.positions.get(error.field)) from None


class _Fields:
    """Field values with the word each came from; a second, different value is a conflict."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.positions: dict[str, int] = {}
        self.texts: dict[str, str] = {}

    def put(self, field: str, value: Any, meaning: Meaning) -> None:
        if field in self.values and self.values[field] != value:
            raise ConflictError(
                f"conflicting {field.replace('_', ' ')} '{meaning.text}'; '{self.texts[field]}' at column "
                f"{self.positions[field] + 1} already set it, say only one",
                position=meaning.pos, field=field,
            )
        self.values[field] = value
        self.positions.setdefault(field, meaning.pos)
        self.texts.setdefault(field, meaning.text)


# -- pass 1: words and phrases -------------------------------------------------------------------

def _meanings(atoms: list[Atom]) -> list[Meaning]:
    meanings: list[Meaning] = []
    i = 0
    while i < len(atoms):
        atom = atoms[i]
        if atom.kind == "setting":
            meanings.append(_setting(atom))
            i += 1
        elif atom.kind == "count":
            meanings.append(Meaning("count", atom.pos, atom.text, value=int(re.match(r"\d+", atom.text)[0])))
            i += 1
        else:
            meaning, width = _phrase(atoms, i, meanings[-1] if meanings else None)
            meanings.append(meaning)
            i += width
    return meanings


def _phrase(atoms: list[Atom], start: int, previous: Meaning | None) -> tuple[Meaning, int]:
    run = []
    for atom in atoms[start:start + MAX_PHRASE_WORDS]:
        if atom.kind not in ("word", "number"):
            break
        run.append(atom)
    after_key = previous is not None and previous.kind == "key"
    for width in range(len(run), 0, -1):
        words = [a.text for a in run[:width]]
        meaning = _lookup(words, run[0], catalogs=not (after_key and run[0].kind == "number"))
        if meaning is not None:
            return meaning, width
    first = run[0]
    if first.kind == "number":
        return Meaning("number", first.pos, first.text, value=_split_number(first.text)), 1
    return _glued_key(first) or Meaning("unknown", first.pos, first.text), 1


def _lookup(words: list[str], first: Atom, catalogs: bool) -> Meaning | None:
    phrase = " ".join(words).lower()
    text = " ".join(words)
    if phrase in PHRASES:
        field, value = PHRASES[phrase]
        return Meaning("set", first.pos, text, field, value)
    if phrase in KEYS:
        return Meaning("key", first.pos, text, KEYS[phrase])
    if phrase in FILLERS:
        return Meaning("filler", first.pos, text)
    if not catalogs:
        return None
    name = "-".join(words)
    model = catalog.find_model(name)
    if model is not None:
        return Meaning("model", first.pos, text, "model", model.id)
    gpu = catalog.find_gpu(name)
    if gpu is not None:
        return Meaning("gpu", first.pos, text, "gpu", gpu.id)
    if len(words) == 1 and models.could_be_model(text):
        return Meaning("model", first.pos, text, "model", text)  # a path or repo id: the Request reads it
    return None


def _glued_key(atom: Atom) -> Meaning | None:
    """'tp2', 'zero3', 'bs8', 'r16': a key and its number written as one word."""
    match = _GLUED.fullmatch(atom.text)
    if match is None or match[1].lower() not in GLUED_KEYS:
        return None
    field = GLUED_KEYS[match[1].lower()]
    return Meaning("set", atom.pos, atom.text, field, _number_for(field, match[2], atom))


def _setting(atom: Atom) -> Meaning:
    key = atom.text.lower().replace("-", "_")
    field = KEYS.get(key) or KEYS.get(key.replace("_", " ")) or SHORT_KEYS.get(key) or WORD_KEYS.get(key)
    if field is None:
        close = catalog.closest(key, sorted({*KEYS, *SHORT_KEYS, *WORD_KEYS}))
        raise UnknownWordError(f"unknown setting '{atom.text}'", position=atom.pos,
                               suggestion=f"{close}=" if close else None)
    value_atom = Atom("word", atom.value, atom.value_pos)
    text = f"{atom.text}={atom.value}"
    if key in WORD_KEYS:
        return Meaning("set", atom.pos, text, field, _word_value(field, value_atom))
    return Meaning("set", atom.pos, text, field, _number_for(field, atom.value, value_atom))


def _word_value(field: str, atom: Atom) -> Any:
    word = atom.text
    if field in ("model", "gpu"):
        return word  # the Request checks it against the catalog, with a close match
    if word.lower() in BOOLEANS and field in ("sp", "flash_attention", "mixed_precision", "dropout"):
        return BOOLEANS[word.lower()]
    meaning = PHRASES.get(word.lower())
    if meaning is not None and meaning[0] == field:
        return meaning[1]
    if meaning is not None and field == "kv_dtype" and meaning[0] == "dtype":
        return meaning[1]  # kv=fp8: a dtype word for the cache
    return word  # the Request names the allowed values when this one is not among them


# -- numbers -------------------------------------------------------------------------------------

def _split_number(text: str) -> tuple[Decimal, str]:
    match = _NUMBER.fullmatch(text)
    try:
        return Decimal(match[1]), match[2].lower()
    except (InvalidOperation, TypeError):
        raise QueryError(f"'{text}' is not a number") from None


def _number_for(field: str, text: str, atom: Atom) -> int | float:
    """The number ``text`` as ``field`` counts it (binary k/m for token counts)."""
    if _NUMBER.fullmatch(text) is None:
        raise QueryError(f"'{text}' should be a number for {field.replace('_', ' ')}", position=atom.pos)
    mantissa, suffix = _split_number(text)
    return _scaled(field, mantissa, suffix)


def _scaled(field: str, mantissa: Decimal, suffix: str) -> int | float:
    scale = (BINARY_SUFFIXES if field in BINARY_FIELDS else DECIMAL_SUFFIXES)[suffix]
    exact = mantissa * scale
    as_float = float(exact)
    if field in INTEGER_FIELDS and as_float.is_integer() and abs(as_float) < 2**63:
        return int(exact)
    return as_float


# -- pass 2: numbers with their keys, counts with their GPUs, sizes ------------------------------

def _pair_keys(meanings: list[Meaning], fields: _Fields) -> None:
    for i, meaning in enumerate(meanings):
        if meaning.kind != "key":
            continue
        # a number after the key, else one before it ("32k context") unless that is a model size
        number = _free_number(meanings, i + 1) or _free_number(meanings, i - 1, meaning.field)
        if number is None:
            raise MissingError(f"'{meaning.text}' needs a number, as in '{meaning.text} 8'",
                               position=meaning.pos)
        number.used = True
        mantissa, suffix = number.value
        fields.put(meaning.field, _scaled(meaning.field, mantissa, suffix),
                   Meaning("set", number.pos, f"{meaning.text} {number.text}"))


def _free_number(meanings: list[Meaning], i: int, before_field: str | None = None) -> Meaning | None:
    if not (0 <= i < len(meanings) and meanings[i].kind == "number" and not meanings[i].used):
        return None
    if before_field not in (None, "params") and meanings[i].value[1] in ("b", "t"):
        return None
    return meanings[i]


def _pair_counts(meanings: list[Meaning], fields: _Fields) -> None:
    for i, meaning in enumerate(meanings):
        follows = meanings[i + 1] if i + 1 < len(meanings) else None
        if meaning.kind == "count":
            if follows is None or follows.kind != "gpu":
                raise QueryError(f"'{meaning.text}' should be followed by a GPU, as in '{meaning.text} a100'",
                                 position=meaning.pos, expected=("a GPU name",))
            fields.put("gpu_count", meaning.value, meaning)
        elif meaning.kind == "number" and not meaning.used and follows is not None and follows.kind == "gpu":
            mantissa, suffix = meaning.value
            meaning.used = True
            fields.put("gpu_count", _scaled("gpu_count", mantissa, suffix), meaning)


def _take_sizes(meanings: list[Meaning], fields: _Fields) -> None:
    for meaning in meanings:
        if meaning.kind != "number" or meaning.used:
            continue
        mantissa, suffix = meaning.value
        if suffix not in SIZE_SUFFIXES:
            raise QueryError(
                f"number '{meaning.text}' without a name; a model size takes a suffix (7b, 350m), other "
                f"numbers a name (seq {meaning.text}, batch {meaning.text}, on {meaning.text} a100)",
                position=meaning.pos,
            )
        fields.put("params", _scaled("params", mantissa, suffix), meaning)


# -- unknown words -------------------------------------------------------------------------------

_VOCABULARY_WORDS = sorted({w for phrase in (*PHRASES, *KEYS) for w in phrase.split()} - FILLERS)


def _unknown(meaning: Meaning, meanings: list[Meaning]) -> UnknownWordError:
    index = meanings.index(meaning)
    previous = meanings[index - 1] if index else None
    word = meaning.text
    if (previous is not None and previous.kind == "count") or _after_on(meanings, index):
        return UnknownWordError(f"unknown GPU '{word}'", position=meaning.pos,
                                suggestion=catalog.gpus().close_match(word),
                                expected=("a GPU from the catalog (a100, h100, rtx-4090)",))
    kind, suggestion = _closest(word)
    return UnknownWordError(f"unknown {kind} '{word}'", position=meaning.pos, suggestion=suggestion,
                            expected=EXPECTED_WORDS)


def _after_on(meanings: list[Meaning], index: int) -> bool:
    return index > 0 and meanings[index - 1].kind == "filler" and meanings[index - 1].text.lower() == "on"


def _closest(word: str) -> tuple[str, str | None]:
    """The kind of word ``word`` most resembles, and the closest entry of that kind."""
    candidates = []
    for kind, suggestion in (("model", catalog.models().close_match(word)),
                             ("GPU", catalog.gpus().close_match(word))):
        if suggestion is not None:
            candidates.append((_similarity(word, suggestion), kind, suggestion))
    close = catalog.closest(word.lower(), _VOCABULARY_WORDS, cutoff=0.7)
    if close:
        candidates.append((_similarity(word, close), "word", close))
    if not candidates:
        return "word", None
    _, kind, suggestion = max(candidates)
    return kind, suggestion


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, catalog.normalise(a), catalog.normalise(b)).ratio()
