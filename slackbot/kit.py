"""Block Kit primitives, and Slack's limits applied where the blocks are made.

Limits, from https://api.slack.com/reference/block-kit/blocks and .../block-elements:
a message has at most 50 blocks; a section's text at most 3,000 characters; a button's value at
most 2,000. Text is escaped as https://api.slack.com/reference/surfaces/formatting#escaping asks:
``&``, ``<`` and ``>`` only (they are how Slack marks links, mentions and commands).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_TEXT_CHARS = 3000
MAX_BUTTON_VALUE_CHARS = 2000
#: The plain ``text`` is what notifications and screen readers show (chat.postMessage,
#: "text usage"); a line is enough, and Slack truncates past 40,000 characters anyway.
MAX_FALLBACK_CHARS = 300

ELLIPSIS = "…"
CODE_FENCE = "```"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": clip(text, MAX_TEXT_CHARS)}


def plain(text: str) -> Block:
    # plain_text is shown as typed (no escaping, no formatting); emoji turns :x: into the icon.
    return {"type": "plain_text", "text": clip(text, MAX_TEXT_CHARS), "emoji": True}


def section(text: Block) -> Block:
    return {"type": "section", "text": text}


def code_section(lines: Iterable[str]) -> Block:
    """Lines in a code block (monospace keeps a table aligned); whole lines kept within the limit."""
    room = MAX_TEXT_CHARS - 2 * len(CODE_FENCE) - 2 - len(ELLIPSIS)
    kept: list[str] = []
    for line in (escape(line) for line in lines):
        room -= len(line) + 1
        if room < 0:
            kept.append(ELLIPSIS)
            break
        kept.append(line)
    return section(mrkdwn(CODE_FENCE + "\n".join(kept) + CODE_FENCE))


def context(text: Block) -> Block:
    return {"type": "context", "elements": [text]}


def divider() -> Block:
    return {"type": "divider"}


def button(label: str, action_id: str, value: str, primary: bool = False) -> Block:
    element = {"type": "button", "text": plain(label), "action_id": action_id,
               "value": clip(value, MAX_BUTTON_VALUE_CHARS)}
    if primary:
        element["style"] = "primary"
    return element


def actions(*elements: Block) -> Block:
    return {"type": "actions", "elements": list(elements)}


def message(text: str, body: list[Block], tail: Sequence[Block] = ()) -> dict[str, Any]:
    """A message payload: ``text`` for notifications, ``body`` cut to fit before ``tail``."""
    room = MAX_BLOCKS - len(tail)
    if len(body) > room:
        left_out = len(body) - room + 1
        body = [*body[: room - 1], context(plain(f"{ELLIPSIS} {left_out} more blocks left out"))]
    return {"text": clip(escape(text), MAX_FALLBACK_CHARS), "blocks": [*body, *tail]}
