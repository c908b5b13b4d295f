"""The errors vram raises for input it cannot answer.

Every one carries what a person needs to fix the query: where (``position``, a 0-based character
offset into the query, or None when the problem is not at one place), what was expected, and a
close match when there is one. ``str(error)`` is the whole message, shaped like::

    unknown GPU 'a10O' (column 14); did you mean a100-80gb?

The tree has a builtin base, as pint's and httpx's do: every vram error is a ``ValueError`` (bad
input, not a bug), so ``except ValueError`` catches them all and ``except VramError`` only them::

    ValueError
    └── VramError                   bad input; fields: reason, position, column, expected, suggestion, field
        ├── QueryError              the text itself could not be read
        │   ├── UnknownWordError    a word that is no task, model, GPU, setting or filler
        │   └── MissingError        something every answer needs was not said
        ├── ConflictError           two words set the same thing differently
        ├── RangeError              a number outside what makes sense
        ├── InvalidRequestError     a combination that cannot run (tp not dividing heads, ...)
        ├── UnsupportedError        a valid question this version cannot answer yet
        └── HelpRequested           the query asked for help ("help"): the message is the query language

Anything else escaping vram is a bug: the frontends say so in one line (the CLI exits 70).
"""

from __future__ import annotations

from typing import Any, Sequence

from vram import messages


class VramError(ValueError):
    """Base of every error vram raises for bad input."""

    def __init__(
        self,
        message: str,
        *,
        position: int | None = None,
        expected: Sequence[str] = (),
        suggestion: str | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = message  #: the problem, without the column and the suggestion
        self.position = position  #: 0-based offset into the query text, or None
        self.expected = tuple(expected)  #: kinds of words that would have fitted
        self.suggestion = suggestion  #: a close match to what was typed, or None
        self.field = field  #: the request field at fault, when one is (lets a parser place it)
        self.key: str | None = None  #: the message id in vram/messages/*.toml, when the reason has one
        self.values: dict[str, Any] = {}  #: what fills the message's template
        self.lang = messages.DEFAULT  #: the language the message is said in ("zh" for a Chinese query)
        super().__init__(self.message)

    @classmethod
    def said(cls, key: str, *, position: int | None = None, expected: Sequence[str] = (),
             suggestion: str | None = None, field: str | None = None, **values: Any) -> VramError:
        """The error whose reason is the catalogued message ``key`` (``error.unknown_gpu``), so it can
        be said in the query's language."""
        error = cls(messages.text(key, messages.DEFAULT, **values), position=position, expected=expected,
                    suggestion=suggestion, field=field)
        error.key, error.values = key, values
        return error

    def in_language(self, lang: str) -> VramError:
        """The same error, its message said in ``lang`` (a reason with no message id stays English)."""
        self.lang = lang
        self.args = (self.message,)
        return self

    @property
    def column(self) -> int | None:
        """1-based column, as the message says it ("(column 14)"), or None."""
        return None if self.position is None else self.position + 1

    @property
    def message(self) -> str:
        if self.lang != messages.DEFAULT:
            return self._message_in(self.lang)
        text = self.reason
        if self.position is not None:
            text = _insert_column(text, self.column)
        if self.suggestion:
            text += f"; did you mean {self.suggestion}?"
        elif self.expected:
            text += "; expected " + _or_list(self.expected)
        return text

    def _message_in(self, lang: str) -> str:
        text = messages.text(self.key, lang, **self.values) if self.key else self.reason
        if self.position is not None:
            head, sep, tail = text.partition(messages.text("frame.separator", lang))
            text = head + messages.text("frame.column", lang, column=self.column) + sep + tail
        if self.suggestion:
            return text + messages.text("frame.did_you_mean", lang, suggestion=self.suggestion)
        if self.expected:
            words = [messages.translate_expected(w, lang) for w in self.expected]
            joined = messages.text("frame.list_separator", lang).join(words[:-1])
            joined = f"{joined}{messages.text('frame.or', lang)}{words[-1]}" if joined else words[-1]
            return text + messages.text("frame.expected", lang, words=joined)
        return text

    def at(self, position: int | None) -> VramError:
        """Return the same error placed at ``position`` (when it has no place yet)."""
        if self.position is None and position is not None:
            self.position = position
            self.args = (self.message,)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "position": self.position,
            "column": self.column,
            "expected": list(self.expected),
            "suggestion": self.suggestion,
        }


class QueryError(VramError):
    """The text could not be read as a query."""


class UnknownWordError(QueryError):
    """A word that is no task, model, GPU, setting or filler."""


class MissingError(QueryError):
    """Something every answer needs (what to do, which model) was not said."""


class ConflictError(VramError):
    """Two words set the same field to different values."""


class RangeError(VramError):
    """A number outside the range that makes sense for its field."""


class InvalidRequestError(VramError):
    """Values that are each fine but cannot go together."""


class UnsupportedError(VramError):
    """A question that is valid but that this version cannot answer yet."""


class HelpRequested(VramError):
    """The query was a request for help ("vram help"); the message shows the query language by example.

    An error so that every frontend shows it the way it shows any answer it cannot compute: as text,
    with no traceback."""

    def __init__(self, text: str) -> None:
        super().__init__(text)


def _insert_column(text: str, column: int) -> str:
    # "unknown GPU 'x'" -> "unknown GPU 'x' (column 14)"; the column goes before any "; ..." tail.
    head, sep, tail = text.partition("; ")
    return f"{head} (column {column}){sep}{tail}"


def _or_list(words: Sequence[str]) -> str:
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]
