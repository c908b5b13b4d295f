"""Text in, message out: the whole of what the bot does, without Slack's transport.

The grammar reads the text, the core estimates, ``blocks`` renders. Bad input gets the parser's
message where the answer would go; anything else that goes wrong is a bug, logged here with its
traceback and shown in Slack as one plain sentence.

One thing the CLI does is refused here: a model named by a local path. From Slack that path would
be on the bot's server, so anyone in the workspace could probe or read its files.
"""

from __future__ import annotations

import logging

import vram
from vram.errors import UnsupportedError, VramError
from vram.grammar.parser import atoms
from vram.model_files import looks_like_path

from .blocks import Message, answer_message, error_message, help_message, internal_error_message
from .question import Intent, Question, read_question

logger = logging.getLogger(__name__)


def reply_to(text: str, *, shareable: bool = False, shared_by: str | None = None) -> Message:
    """The message that answers ``text`` (a query, ``help``, or ``explain QUERY``)."""
    question = read_question(text)
    try:
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
    refuse_local_files(question.query)
    estimate = vram.ask(question.query)
    return answer_message(estimate, question.query, formulas=question.intent is Intent.EXPLAIN,
                          shareable=shareable, shared_by=shared_by)


def refuse_local_files(query: str) -> None:
    """Raise before the core reads a file: any word or setting value it would take as a path."""
    for atom in atoms(query):
        text, position = (atom.value, atom.value_pos) if atom.kind == "setting" else (atom.text, atom.pos)
        if looks_like_path(text):
            raise UnsupportedError(
                f"'{text}' would be a file on the bot's server; in Slack, name a model from the "
                "catalog (llama-3-8b) or a Hugging Face repo id (owner/name)", position=position)
