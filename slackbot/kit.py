"""Block Kit from slack_sdk's block models, and Slack's limits applied where the blocks are made.

The blocks are ``slack_sdk.models.blocks`` objects, so every limit those models know (a section's
text at most 3,000 characters, a button's value at most 2,000 and its label 75, a context's
elements at most 10, an actions block's 25) is checked by ``to_dict()`` when the message is
built: a block past a limit raises ``SlackObjectFormationError`` in the tests, not a refusal from
Slack in production. Text is still cut to fit first, so a huge answer is cut, not refused. Limits
from https://api.slack.com/reference/block-kit/blocks and .../block-elements; a message has at
most 50 blocks, which no model checks, so ``message`` does. Text is escaped as
https://api.slack.com/reference/surfaces/formatting#escaping asks: ``&``, ``<`` and ``>`` only.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from slack_sdk.models.blocks import (
    ActionsBlock, Block, ButtonElement, ContextBlock, DividerBlock, MarkdownTextObject, PlainTextObject,
    SectionBlock, TextObject
)

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


def mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, MAX_TEXT_CHARS))


def plain(text: str) -> PlainTextObject:
    # plain_text is shown as typed (no escaping, no formatting); emoji turns :x: into the icon.
    return PlainTextObject(text=clip(text, MAX_TEXT_CHARS), emoji=True)


def section(text: TextObject) -> SectionBlock:
    return SectionBlock(text=text)


def lines_section(lines: Iterable[str]) -> SectionBlock:
    """Short mrkdwn lines, one a line, whole lines kept within the limit: reads on a phone."""
    return section(mrkdwn("\n".join(_whole_lines(lines, MAX_TEXT_CHARS))))


def code_section(lines: Iterable[str]) -> SectionBlock:
    """Lines in a code block (monospace keeps a table aligned); whole lines kept within the limit."""
    kept = _whole_lines((escape(line) for line in lines), MAX_TEXT_CHARS - 2 * len(CODE_FENCE))
    return section(mrkdwn(CODE_FENCE + "\n".join(kept) + CODE_FENCE))


def _whole_lines(lines: Iterable[str], limit: int) -> list[str]:
    room = limit - 2 - len(ELLIPSIS)
    kept: list[str] = []
    for line in lines:
        room -= len(line) + 1
        if room < 0:
            kept.append(ELLIPSIS)
            break
        kept.append(line)
    return kept


def context(text: TextObject) -> ContextBlock:
    return ContextBlock(elements=[text])


def divider() -> DividerBlock:
    return DividerBlock()


def button(label: str, action_id: str, value: str, primary: bool = False) -> ButtonElement:
    return ButtonElement(text=plain(label), action_id=action_id, value=clip(value, MAX_BUTTON_VALUE_CHARS),
                         style="primary" if primary else None)


def actions(*elements: ButtonElement) -> ActionsBlock:
    return ActionsBlock(elements=list(elements))


def message(text: str, body: list[Block], tail: Sequence[Block] = ()) -> dict[str, Any]:
    """A message payload: ``text`` for notifications, ``body`` cut to fit before ``tail``; every
    block checked against its limits by slack_sdk as it becomes JSON."""
    room = MAX_BLOCKS - len(tail)
    if len(body) > room:
        left_out = len(body) - room + 1
        body = [*body[: room - 1], context(plain(f"{ELLIPSIS} {left_out} more blocks left out"))]
    return {"text": clip(escape(text), MAX_FALLBACK_CHARS), "blocks": [block.to_dict() for block in [*body, *tail]]}
