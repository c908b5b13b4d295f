"""Formulas written once, as text, and evaluated from that same text.

The text a line item shows is the expression that computed it, so the two can never drift.
Formula texts are the project's own constants, never user input.
"""

from __future__ import annotations

import functools
import math
from typing import Mapping

#: Functions a formula may call (ceil: a share of whole layers or bytes rounds up).
FUNCTIONS = {"max": max, "min": min, "ceil": math.ceil}


class Formula:
    """An arithmetic expression over named symbols, e.g. ``s*b*h*L*(10 + 24/t)``."""

    __slots__ = ("text", "_code", "symbols")

    def __init__(self, text: str) -> None:
        self.text = text
        self._code = compile(text, f"<formula {text}>", "eval")
        #: the names the text uses, in order (functions excluded)
        self.symbols = tuple(name for name in dict.fromkeys(self._code.co_names) if name not in FUNCTIONS)

    def value(self, values: Mapping[str, float]) -> float:
        return eval(self._code, {"__builtins__": {}, **FUNCTIONS}, dict(values))  # noqa: S307 - own text

    def bytes(self, values: Mapping[str, float]) -> int:
        """The value rounded to whole bytes."""
        return round(self.value(values))

    def used(self, values: Mapping[str, float]) -> dict[str, float]:
        """The subset of ``values`` that the text uses, in the text's order."""
        return {name: values[name] for name in self.symbols}

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"


@functools.lru_cache(maxsize=1024)
def formula(text: str) -> Formula:
    """The Formula for ``text``, compiled once (formulas built from parts repeat across estimates)."""
    return Formula(text)
