"""Errors for words the classifier cannot place: what kind of word it looks like, and a close match."""

from __future__ import annotations

from vram import catalog
from vram.errors import UnknownWordError
from vram.request.vocabulary import (
    EXPECTED_WORDS, FILLERS, GPU_NAME_PREFIXES, GPU_NAME_SUFFIXES, KEYS, PHRASES
)

from .words import Meaning

_VOCABULARY_WORDS = sorted({w for phrase in (*PHRASES, *KEYS) for w in phrase.split()} - FILLERS)
#: How alike a word and a vocabulary word must be for "did you mean" (difflib's ratio).
VOCABULARY_CUTOFF = 0.75
GPU_EXPECTED = ("a GPU from the catalog (a100, h100, rtx-4090)", "a memory size ('on a 24gb card')")


def unknown(meaning: Meaning, meanings: list[Meaning]) -> UnknownWordError:
    index = meanings.index(meaning)
    word = meaning.text
    if where_a_gpu_goes(meanings, index):
        return unknown_gpu(_whole_gpu_name(meaning, meanings[index + 1:]))
    if index and meanings[index - 1].kind == "gpu" and word.lower() in GPU_NAME_SUFFIXES:
        # "rtx 4070 super": the card's name goes on; the catalog has the card without it only
        before = meanings[index - 1]
        return unknown_gpu(Meaning("unknown", before.pos, f"{before.text} {word}"))
    kind, suggestion = _closest(word)
    return UnknownWordError.said(f"error.unknown_{kind.lower()}", word=word, position=meaning.pos,
                                 suggestion=suggestion, expected=EXPECTED_WORDS)


def _whole_gpu_name(meaning: Meaning, after: list[Meaning]) -> Meaning:
    """'gtx 1660', 'rx 6700 xt': a maker's prefix and the model number after it name one card."""
    if meaning.text.lower() not in GPU_NAME_PREFIXES:
        return meaning
    words = [meaning.text]
    for word in after[:2]:
        if word.kind not in ("number", "unknown") or (len(words) > 1 and word.text.lower() not in GPU_NAME_SUFFIXES):
            break
        words.append(word.text)
    return Meaning("unknown", meaning.pos, " ".join(words))


def unknown_gpu(meaning: Meaning) -> UnknownWordError:
    # stricter than for other words: "3080" is not a mistyped 3090, it is a card the catalog lacks
    suggestion = catalog.gpus().close_match(meaning.text, cutoff=0.8)
    return UnknownWordError.said("error.unknown_gpu", word=meaning.text, position=meaning.pos,
                                 suggestion=_unless_same(meaning.text, suggestion), expected=GPU_EXPECTED)


def where_a_gpu_goes(meanings: list[Meaning], index: int) -> bool:
    """After a count ('8x'), or after 'on' (with its number: 'on 2 foo')."""
    before = [m for m in meanings[:index] if not (m.kind == "filler" and m.text.lower() in ("a", "an", "the"))]
    if before and before[-1].kind == "count":
        return True
    if before and before[-1].kind == "number":
        before = before[:-1]
    return bool(before) and before[-1].kind == "filler" and before[-1].text.lower() == "on"


def _closest(word: str) -> tuple[str, str | None]:
    """The kind of word ``word`` most resembles, and the closest entry of that kind."""
    candidates = []
    for kind, suggestion in (("model", catalog.models().close_match(word)),
                             ("GPU", catalog.gpus().close_match(word))):
        if suggestion is not None:
            candidates.append((_similarity(word, suggestion), kind, suggestion))
    close = catalog.closest(word.lower(), _VOCABULARY_WORDS, cutoff=VOCABULARY_CUTOFF)
    if close:
        candidates.append((_similarity(word, close), "word", close))
    candidates = [c for c in candidates if _unless_same(word, c[2])]
    if not candidates:
        return "word", None
    _, kind, suggestion = max(candidates)
    return kind, suggestion


def _unless_same(word: str, suggestion: str | None) -> str | None:
    # "did you mean bnb?" for "bnb" helps nobody: the word is known, only not in that place
    return None if suggestion is None or catalog.normalise(suggestion) == catalog.normalise(word) else suggestion


def _similarity(a: str, b: str) -> float:
    import difflib  # only for a word not understood: a cold start that understands them all skips it

    return difflib.SequenceMatcher(None, catalog.normalise(a), catalog.normalise(b)).ratio()
