"""What a Slack message asks: help, an answer, or an answer with its formulas.

Slack delivers text with its own markup (https://api.slack.com/reference/surfaces/formatting):
mentions as ``<@U123>``, links as ``<https://x|x>``, and ``& < >`` escaped. That markup is taken
out here, so the grammar sees what the person typed and error columns point at their words.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from enum import StrEnum


class Intent(StrEnum):
    ANSWER = "answer"
    """The breakdown, the total, the fit and the assumptions."""
    EXPLAIN = "explain"
    """The same with every line's formula, numbers and source."""
    HELP = "help"
    """Usage and examples."""


#: The first word that selects an intent; anything else is a query.
KEYWORDS: dict[str, Intent] = {"help": Intent.HELP, "explain": Intent.EXPLAIN}

# A mention (<@U123> or <@U123|name>), and a link or channel (<https://a|a>, <#C1|general>).
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_LINK = re.compile(r"<(?:[^>|]*\|)?([^>]*)>")
# Newlines and tabs become spaces one for one, so columns still count characters.
_LINE_BREAKS = str.maketrans({"\n": " ", "\r": " ", "\t": " "})


@dataclass(frozen=True, slots=True)
class Question:
    intent: Intent
    query: str  #: the query text, as typed, without the keyword

    @property
    def text(self) -> str:
        """The text that asks this question again (a button carries it as its value)."""
        if self.intent is Intent.ANSWER:
            return self.query
        return f"{self.intent.value} {self.query}".rstrip()


def read_question(text: str) -> Question:
    """The question in a slash command's text, a mention or a direct message."""
    query = clean(text)
    keyword, _, rest = query.partition(" ")
    intent = KEYWORDS.get(keyword.lower())
    if intent is None:
        return Question(Intent.ANSWER if query else Intent.HELP, query)
    rest = rest.strip()
    return Question(intent if rest else Intent.HELP, rest)


def clean(text: str) -> str:
    """Slack's markup taken out: no mentions, links as their label, entities decoded."""
    text = _MENTION.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    return html.unescape(text).translate(_LINE_BREAKS).strip()
