"""Pass 1: what each word (or phrase of several) of a query means.

Runs of words and numbers are read longest phrase first ("sgd with momentum", "a100 80gb",
"llama 2 7b"), against the core's vocabulary tables and catalogs; the rest of the classifier
pairs the meanings up (numbers with keys, counts with GPUs).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from vram import catalog
from vram.catalog import resolve as models
from vram.errors import UnknownWordError
from vram.request.vocabulary import (
    BIND_KEYS, BOOLEANS, FILLERS, GLUED_KEYS, IGNORED_KEYS, KEYS, MAGNITUDE_WORDS, MAX_PHRASE_WORDS,
    NUMBER_WORDS, PHRASES, SHORT_KEYS, TARGET_KEYS, WORD_KEYS
)

from .numbers import number_for, split_number
from .parser import Atom

_GLUED = re.compile(r"([a-z_]+?)[-_]?(\d+(?:\.\d+)?[kmbt]?)", re.IGNORECASE)
#: A GPU with its count after it: "a100x8", "3090x2".
_GPU_TIMES = re.compile(r"(.+?)[x×*](\d{1,7})", re.IGNORECASE)
#: A count after a GPU, on its own: "x8".
_POSTFIX_COUNT = re.compile(r"[x×*](\d{1,7})", re.IGNORECASE)
#: The longest phrase any table holds, in words.
MAX_WORDS = max(MAX_PHRASE_WORDS, *(len(k.split()) for k in (*BIND_KEYS, *IGNORED_KEYS)))


@dataclass
class Meaning:
    """What one atom (or a phrase of several) means."""

    kind: str  #: set, key, bind, targets, ignored, model, gpu, family, number, magnitude, count, postcount, filler, unknown
    pos: int
    text: str
    field: str | None = None
    value: Any = None
    used: bool = False  #: a number taken by a key or a GPU


def meanings(atoms: list[Atom]) -> list[Meaning]:
    found: list[Meaning] = []
    i = 0
    while i < len(atoms):
        atom = atoms[i]
        if atom.kind == "setting":
            found.append(setting(atom))
            i += 1
        elif atom.kind == "count":
            found.append(Meaning("count", atom.pos, atom.text, value=int(re.match(r"\d+", atom.text)[0])))
            i += 1
        else:
            phrase, width = _phrase(atoms, i, found[-1] if found else None)
            found += phrase
            i += width
    return found


def _phrase(atoms: list[Atom], start: int, previous: Meaning | None) -> tuple[list[Meaning], int]:
    run = []
    for atom in atoms[start:start + MAX_WORDS]:
        if atom.kind not in ("word", "number"):
            break
        run.append(_trimmed(atom))
    after_key = previous is not None and previous.kind in ("key", "ignored")
    for width in range(len(run), 0, -1):
        words = [a.text for a in run[:width]]
        meaning = _lookup(words, run[0], catalogs=not (after_key and run[0].kind == "number"))
        if meaning is not None:
            return [meaning], width
    return _single(run[0]), 1


def _trimmed(atom: Atom) -> Atom:
    # sentence punctuation stuck to a word ("bf16.", "7b:"); paths and versions keep their dots
    if atom.kind == "word" and len(atom.text) > 1 and atom.text[-1] in ".:" and not models.could_be_model(atom.text):
        return Atom(atom.kind, atom.text.rstrip(".:"), atom.pos)
    return atom


def _lookup(words: list[str], first: Atom, catalogs: bool) -> Meaning | None:
    found = _classify(tuple(words), catalogs)
    if found is None:
        return None
    kind, field, value = found
    return Meaning(kind, first.pos, " ".join(words), field, [] if kind == "targets" else value)


@functools.lru_cache(maxsize=8192)
def _classify(words: tuple[str, ...], catalogs: bool) -> tuple[str, str | None, Any] | None:
    """What a run of words means, as (kind, field, value); the same words always mean the same."""
    phrase = " ".join(words).lower()
    if phrase in TARGET_KEYS:
        return "targets", "lora_targets", None
    for table, kind in ((PHRASES, "set"), (KEYS, "key"), (BIND_KEYS, "bind")):
        if phrase in table:
            entry = table[phrase]
            field, value = entry if kind == "set" else (entry, None)
            return kind, field, value
    if phrase in IGNORED_KEYS:
        return "ignored", None, None
    if phrase in FILLERS:
        return "filler", None, None
    if not catalogs:
        return None
    name = "-".join(words)
    # a variant suffix is read off one word ("llama-3-8b-instruct"), never off a phrase: in
    # "chatglm-6b int8" the int8 is the dtype, not part of the name
    model = catalog.find_model(name, variants=len(words) == 1)
    if model is not None:
        return "model", "model", model.id
    gpu = catalog.find_gpu(name)
    if gpu is not None:
        return "gpu", "gpu", gpu.id
    if len(words) == 1 and models.could_be_model(words[0]):
        return "model", "model", words[0]  # a path or repo id: the Request reads it
    return None


def _single(atom: Atom) -> list[Meaning]:
    """A word no phrase or catalog entry matched: a number, a glued key, a family, or unknown."""
    text, lower = atom.text, atom.text.lower()
    if atom.kind == "number":
        return [Meaning("number", atom.pos, text, value=split_number(text))]
    if lower in NUMBER_WORDS:
        return [Meaning("number", atom.pos, text, value=(Decimal(NUMBER_WORDS[lower]), ""))]
    if lower in MAGNITUDE_WORDS:
        return [Meaning("magnitude", atom.pos, text, value=MAGNITUDE_WORDS[lower])]
    if (count := _POSTFIX_COUNT.fullmatch(text)) is not None:
        return [Meaning("postcount", atom.pos, text, value=int(count[1]))]
    if (times := _GPU_TIMES.fullmatch(text)) is not None and (gpu := catalog.find_gpu(times[1])) is not None:
        return [Meaning("gpu", atom.pos, times[1], "gpu", gpu.id),
                Meaning("postcount", atom.pos + len(times[1]), text[len(times[1]):], value=int(times[2]))]
    if lower in catalog.model_families():
        return [Meaning("family", atom.pos, text, value=lower)]
    return [_glued_key(atom) or Meaning("unknown", atom.pos, text)]


def _glued_key(atom: Atom) -> Meaning | None:
    """'tp2', 'zero3', 'bs8', 'r16': a key and its number written as one word."""
    match = _GLUED.fullmatch(atom.text)
    if match is None or match[1].lower() not in GLUED_KEYS:
        return None
    field = GLUED_KEYS[match[1].lower()]
    return Meaning("set", atom.pos, atom.text, field, number_for(field, match[2], atom.pos))


def setting(atom: Atom) -> Meaning:
    """``key=value``: the key names the field, the value is read as that field's."""
    key = atom.text.lower().replace("-", "_")
    field = (KEYS.get(key) or KEYS.get(key.replace("_", " ")) or SHORT_KEYS.get(key) or WORD_KEYS.get(key)
             or BIND_KEYS.get(key))
    text = f"{atom.text}={atom.value}"
    if key in TARGET_KEYS or key.replace("_", " ") in TARGET_KEYS:
        return Meaning("targets", atom.pos, text, "lora_targets", [atom.value])
    if field is None and (key in IGNORED_KEYS or key.replace("_", " ") in IGNORED_KEYS):
        return Meaning("ignored", atom.pos, text, value=atom.value)
    if field is None:
        close = catalog.closest(key, sorted({*KEYS, *SHORT_KEYS, *WORD_KEYS}))
        raise UnknownWordError(f"unknown setting '{atom.text}'", position=atom.pos,
                               suggestion=f"{close}=" if close else None)
    if key in WORD_KEYS or key in BIND_KEYS:
        return Meaning("set", atom.pos, text, field, _word_value(field, atom.value))
    return Meaning("set", atom.pos, text, field, number_for(field, atom.value, atom.value_pos))


def _word_value(field: str, word: str) -> Any:
    if field in ("model", "gpu"):
        return word  # the Request checks it against the catalog, with a close match
    if word.lower() in BOOLEANS and field in ("sp", "flash_attention", "mixed_precision", "dropout"):
        return BOOLEANS[word.lower()]
    meaning = PHRASES.get(word.lower())
    if meaning is not None and meaning[0] in (field, "dtype" if field == "kv_dtype" else field):
        return meaning[1]
    return word  # the Request names the allowed values when this one is not among them
