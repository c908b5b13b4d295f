"""Text in, message out: the whole of what the bot does, without Slack's transport.

The grammar reads the text, the core estimates, ``blocks`` renders. Bad input gets the parser's
message where the answer would go; anything else that goes wrong is a bug, logged here with its
traceback and shown in Slack as one plain sentence.

Everything here runs under the core's SERVED resolution policy: a model named by a path is never
read (from Slack it would be a file on the bot's server, open to anyone in the workspace), whatever
its spelling, and a Hub lookup is bounded by one deadline. The policy lives in the one resolver, so
no word-matching here has to foresee every dressing of a path.
"""

from __future__ import annotations

import logging

import vram
from vram.catalog import policy
from vram.errors import VramError

from .blocks import Message, answer_message, error_message, help_message, internal_error_message
from .question import Intent, Question, read_question

logger = logging.getLogger(__name__)


def reply_to(text: str, *, shareable: bool = False, shared_by: str | None = None) -> Message:
    """The message that answers ``text`` (a query, ``help``, or ``explain QUERY``)."""
    question = read_question(text)
    try:
        with policy.using(policy.SERVED):
            return _answer(question, shareable, shared_by)
    except VramError as error:
        logger.info("could not answer %r: %s", question.query, error.message)
        return error_message(error, question.query)
    except Exception:  # a bug, in the core or in rendering: the log gets the traceback
        logger.exception("internal error answering %r", question.query)
        return internal_error_message(question.query)


def _answer(question: Question, shareable: bool, shared_by: str | None) -> Message:
    if question.intent is Intent.HELP:
        return help_message()
    estimate = vram.ask(question.query)
    return answer_message(estimate, question.query, formulas=question.intent is Intent.EXPLAIN,
                          shareable=shareable, shared_by=shared_by)

