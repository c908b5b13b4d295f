"""vram.grammar: one line of text to a Request.

The lark grammar (query.lark) reads the shape of a query; classify.py gives each word its
meaning from the core's vocabulary and catalogs. ``parse`` is the whole pipeline.
"""

from __future__ import annotations

from vram.request.request import Request

from .classify import to_request
from .parser import MAX_QUERY_CHARS, atoms


def parse(text: str) -> Request:
    """Read ``text`` into a Request; raises a VramError saying what, where and what was expected."""
    return to_request(atoms(text))


__all__ = ["MAX_QUERY_CHARS", "parse"]
