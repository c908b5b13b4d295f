"""Message catalogs: the words a user reads, by message id, in English (en.toml) and Chinese (zh.toml).

A query with any CJK character is answered in Chinese (design.md section 7): its errors, help,
verdict words and the words it let go. The catalogs are data files keyed by message id, read on
first use (``import vram`` never reads them), each template a ``str.format`` string. Nothing here
decides what to say; callers name the id and the arguments.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

from vram import cache

LANGUAGES = ("en", "zh")
DEFAULT = "en"
#: CJK Unified Ideographs (with extension A and compatibility ideographs): any one makes a query Chinese.
CJK_CLASS = "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"


@functools.cache
def cjk() -> re.Pattern[str]:
    """CJK_CLASS compiled, on first use: its wide class costs a cold start about a millisecond, and
    ASCII text, most queries, never needs it (``messages.CJK`` is the same pattern)."""
    return re.compile(CJK_CLASS)


def has_cjk(text: str) -> bool:
    """True when ``text`` holds a CJK character."""
    return not text.isascii() and cjk().search(text) is not None


def __getattr__(name: str) -> Any:
    if name == "CJK":
        return cjk()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def language_of(text: object) -> str:
    """``zh`` for text with any CJK character, else ``en``."""
    return "zh" if isinstance(text, str) and has_cjk(text) else DEFAULT


@functools.cache
def catalog(lang: str) -> dict[str, Any]:
    """One language's catalog, its tables flattened to dotted ids (``verdict.fits``)."""
    # read on first use: only an answer that shows a catalogued message reads one; its TOML parse
    # is cached as JSON (vram.cache), as the data catalogs' are: tomllib and the parse cost a cold
    # start more than the answer
    with open(os.path.join(os.path.dirname(__file__), f"{lang}.toml"), "rb") as f:
        source = f.read()
    return cache.cached_json(source, f"messages-{lang}.toml", lambda: dict(_flatten(_parse_toml(source))))


def _parse_toml(source: bytes) -> dict[str, Any]:
    import tomllib  # only when the cached parse is missing or stale

    return tomllib.loads(source.decode("utf-8"))


def _flatten(table: dict[str, Any], prefix: str = ""):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def text(key: str, lang: str = DEFAULT, /, **args: Any) -> str:
    """The message ``key`` in ``lang``, its ``{names}`` filled from ``args``."""
    template = catalog(lang if lang in LANGUAGES else DEFAULT)[key]
    return template.format(**args) if args else template


def translate_expected(words: str, lang: str) -> str:
    """An 'expected ...' phrase of the English catalog in ``lang``; a phrase not catalogued as it is."""
    if lang == DEFAULT:
        return words
    for key, english in catalog(DEFAULT).items():
        if key.startswith("expected.") and english == words:
            return text(key, lang)
    return words


class Note(str):
    """An assumption the answer lists, which remembers its message id to be said in another language."""

    key: str
    values: dict[str, Any]

    def __new__(cls, key: str, lang: str = DEFAULT, /, **values: Any) -> Note:
        note = super().__new__(cls, text(key, lang, **values))
        note.key, note.values = key, values
        return note

    def to(self, lang: str) -> Note:
        """The same note in ``lang``; a value that is itself a Note (a default's reason) is said in it too."""
        return Note(self.key, lang, **{k: v.to(lang) if isinstance(v, Note) else v for k, v in self.values.items()})

    def __reduce__(self):
        return str, (str(self),)


def localise(note: str, lang: str) -> str:
    """``note`` in ``lang`` when it is a catalogued Note, else as it is."""
    return note.to(lang) if isinstance(note, Note) and lang != DEFAULT else note
