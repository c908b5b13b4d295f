"""Formulas written once, as text, and evaluated from that same text.

The text a line item shows is the expression that computed it, so the two can never drift.
Formula texts are the project's own constants, never user input.
"""

from __future__ import annotations

from typing import Mapping


class Formula:
    """An arithmetic expression over named symbols, e.g. ``s*b*h*L*(10 + 24/t)``."""

    __slots__ = ("text", "_code", "symbols")

    def __init__(self, text: str) -> None:
        self.text = text
        self._code = compile(text, f"<formula {text}>", "eval")
        self.symbols = tuple(self._code.co_names)  #: the names the text uses, in order

    def value(self, values: Mapping[str, float]) -> float:
        return eval(self._code, {"__builtins__": {}}, dict(values))  # noqa: S307 - own constant text

    def bytes(self, values: Mapping[str, float]) -> int:
        """The value rounded to whole bytes."""
        return round(self.value(values))

    def used(self, values: Mapping[str, float]) -> dict[str, float]:
        """The subset of ``values`` that the text uses, in the text's order."""
        return {name: values[name] for name in self.symbols}

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"
