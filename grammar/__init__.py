"""vram.grammar: one line of text to a Request.

The lark grammar (query.lark) reads the shape of a query; classify.py gives each word its
meaning from the core's vocabulary and catalogs. ``parse`` is the whole pipeline.
"""

from __future__ import annotations

import dataclasses

from vram import messages
from vram.errors import HelpRequested, VramError
from vram.request.request import Request

from .classify import to_request
from .help import query_language
from .parser import MAX_QUERY_CHARS, atoms


def parse(text: str) -> Request:
    """Read ``text`` into a Request; raises a VramError saying what, where and what was expected.
    A query with any Chinese character is answered in Chinese: its errors, help and notes."""
    lang = messages.language_of(text)
    try:
        request = to_request(atoms(text))
    except HelpRequested:
        if lang == messages.DEFAULT:
            raise
        raise HelpRequested(query_language(lang)) from None
    except VramError as error:
        if lang == messages.DEFAULT:
            raise
        raise error.in_language(lang) from None
    if lang == messages.DEFAULT or not request.notes:
        return request
    return dataclasses.replace(request, notes=tuple(messages.localise(n, lang) for n in request.notes))


__all__ = ["MAX_QUERY_CHARS", "parse"]
