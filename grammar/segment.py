"""Chinese written without spaces, split into words: '单卡4090D能跑qwen3-32b的awq量化版吗'.

Chinese puts no spaces between words, and people glue model and GPU names to them. A word with any
CJK character is cut into pieces: the longest word of the vocabulary that starts at each place
(vram.request.vocabulary: every table's Chinese words), and else a run of other characters (a name,
a number: 'qwen3-32b', '4090D', '8'), which the grammar then reads as it reads any text; CJK
characters no word covers stay together as one piece, which the classifier refuses by name. A
Chinese family name glued to its version ('千问2.5-7b') becomes the catalog's spelling ('qwen2.5-7b').

Why our own longest match and not a general segmenter (jieba): what must be found is exactly our
vocabulary, and a general dictionary cuts differently ('梯度检查点', '张量并行', '量化版' are not its
words), so it would still need ours on top; jieba also loads a 5 MB dictionary on first use (about
a second) and is a dependency to keep, where this is a dictionary of a few hundred words built on
the first Chinese query. A word the vocabulary lacks is refused by name either way.
"""

from __future__ import annotations

import functools

from vram.messages import cjk, has_cjk
from vram.request import vocabulary as v


@functools.cache
def dictionary() -> frozenset[str]:
    """Every Chinese word of the vocabulary; a phrase with spaces gives each of its words."""
    tables = (v.PHRASES, v.KEYS, v.BIND_KEYS, v.IGNORED_KEYS, v.NUMBER_WORDS,
              v.NEGATION_BEFORE, v.NEGATION_AFTER, v.OUTSIDE_MEMORY, v.HELP_WORDS, v.QUESTION_WORDS,
              v.FILLERS, v.MEASURE_WORDS, v.MAGNITUDE_WORDS, v.MODEL_FAMILY_WORDS, v.TEACHER_WORDS, v.STUDENT_WORDS)
    return frozenset(w for table in tables for phrase in table for w in phrase.split() if has_cjk(w))


@functools.cache
def _longest() -> int:
    return max(map(len, dictionary()))


def pieces(text: str) -> list[tuple[int, str]]:
    """``text`` cut into (offset, piece): vocabulary words, runs of other characters, unknown CJK runs."""
    found: list[tuple[int, str]] = []
    pos = 0
    while pos < len(text):
        end = _word_at(text, pos) or _other_at(text, pos) or _unknown_at(text, pos)
        found.append((pos, text[pos:end]))
        pos = end
    return _named_families(found)


def _named_families(found: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """'千问' glued to '2.5-7b' as 'qwen2.5-7b': a Chinese family name followed by its version."""
    joined: list[tuple[int, str]] = []
    for offset, piece in found:
        if joined and joined[-1][1] in v.MODEL_FAMILY_WORDS and piece[:1].isdigit():
            joined[-1] = (joined[-1][0], v.MODEL_FAMILY_WORDS[joined[-1][1]] + piece)
        else:
            joined.append((offset, piece))
    return joined


def _word_at(text: str, pos: int) -> int | None:
    words = dictionary()
    for end in range(min(len(text), pos + _longest()), pos, -1):
        if text[pos:end].lower() in words:
            return end
    return None


def _other_at(text: str, pos: int) -> int | None:
    """The end of a run of characters that are not CJK: a name, a number, a setting glued to Chinese."""
    end = pos
    while end < len(text) and not cjk().match(text, end):
        end += 1
    return end if end > pos else None


def _unknown_at(text: str, pos: int) -> int:
    end = pos + 1
    while end < len(text) and cjk().match(text, end) and _word_at(text, end) is None:
        end += 1
    return end
