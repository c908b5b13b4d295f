"""Typos: a word not understood, within a small edit distance of one known word, read as that word.

Design.md section 7: a typo read as a known word is said in the assumptions. The rule is narrow on
purpose, since a silent misread is worse than a refusal: one edit for words of 4 to 7 letters, two
for 8 and more, never an edit to a digit (a 3080 is not a mistyped 3090, a 7b not a mistyped 8b),
never a catalog name lengthened or shortened (a 'rtx-3060ti' is not a mistyped 'rtx-3060': the tail
names a variant with its own memory), and never when two known words are equally close (then the
error with its close match stands).
"""

from __future__ import annotations

import functools
import re

from vram import catalog
from vram.request.vocabulary import BIND_KEYS, FILLERS, KEYS, PHRASES

#: Settings words a typo may be read as: the single words of the phrase tables, less the fillers
#: (a mistyped filler is no setting, and correcting to one would hide a word that may matter).
VOCABULARY_WORDS = sorted({w for phrase in (*PHRASES, *KEYS, *BIND_KEYS) for w in phrase.split()} - FILLERS)
#: Edits allowed, by the length of the word typed: (shortest length, edits), longest first.
EDITS_BY_LENGTH = ((8, 2), (4, 1))


def allowed_edits(word: str) -> int:
    return next((edits for length, edits in EDITS_BY_LENGTH if len(word) >= length), 0)


@functools.lru_cache(maxsize=1024)
def correction(word: str) -> tuple[str, str] | None:
    """``(kind, known)`` for a typo of one known word ('adamww' -> ('word', 'adamw')), else None.
    ``kind`` is 'word', 'model' or 'GPU'; ``known`` the word, or the catalog id."""
    lower = word.lower()
    edits = allowed_edits(lower)
    if not edits:
        return None
    found: dict[tuple[str, str], int] = {}
    for known in VOCABULARY_WORDS:
        _consider(found, ("word", known), lower, known, edits)
    key = catalog.normalise(word)
    if any(name.startswith(key) for name in catalog.models().by_name):
        return None  # 'mistral', 'deepseek': the start of a catalog name, a family, not a typo of another
    for kind, index in (("model", catalog.models()), ("GPU", catalog.gpus())):
        for name, entry in index.by_name.items():
            if not (key.startswith(name) or name.startswith(key)):  # a variant's tail, not a typo
                _consider(found, (kind, entry.id), key, name, edits)
    if not found:
        return None
    best = min(found.values())
    closest = [target for target, distance in found.items() if distance == best]
    return closest[0] if len(closest) == 1 else None  # two equally close: not ours to choose


def _consider(found: dict[tuple[str, str], int], target: tuple[str, str], typed: str, known: str,
              edits: int) -> None:
    if abs(len(typed) - len(known)) > edits or typed == known or not _same_digits(typed, known):
        return
    distance = edit_distance(typed, known, edits)
    if distance <= edits:
        found[target] = min(distance, found.get(target, distance))


#: Letters typed for digits beside digits ('a10O', 'h1OO'): counted as the digits they look like,
#: so that no edit ever turns them into a letter of another name ('a10O' is not 'a10g').
_LOOKS_LIKE_DIGIT = re.compile(r"(?<=\d)[oOlI]|[oOlI](?=\d)")


def _same_digits(typed: str, known: str) -> bool:
    """The same digits, typed as digits and as letters that look like them ('a10O' is not 'a100')."""
    return _digits(typed) == _digits(known) and _digits(_as_digits(typed)) == _digits(_as_digits(known))


def _as_digits(text: str) -> str:
    return _LOOKS_LIKE_DIGIT.sub(lambda m: "0" if m[0] in "oO" else "1", text)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (optimal string alignment: a swap of two letters is one edit),
    or ``limit + 1`` as soon as it must exceed ``limit``."""
    previous, current = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        before, previous, current = previous, current, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
    return current[-1]
