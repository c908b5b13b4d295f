"""The Bolt app: each listener acknowledges, hands the text to ``reply_to`` and posts what it returns.

Where answers go:

- ``/vram QUERY``: to the command's ``response_url``, ephemeral, with a button to share it
  (https://api.slack.com/interactivity/slash-commands#responding_to_commands);
- ``@vram QUERY`` in a channel: in the thread of the message that mentioned the bot;
- a direct message: in the DM (a mention there arrives twice, as ``app_mention`` and as
  ``message.im``; only the second is answered).

Edits, other bots' messages and Slack's retries of events already taken are let go.

Listeners acknowledge on Bolt's threads and hand the answer to an :class:`AnswerPool` (when one is
given), so slow answers never hold up acknowledgements; a full pool gets a quick "busy" reply.
"""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import Executor
from typing import Any, Callable

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from . import kit
from .answer import reply_to
from .blocks import FORMULAS_ACTION, SHARE_ACTION, Message
from .events import AnsweredEvents, is_direct_message, is_new_person_message
from .workers import AnswerPool

COMMAND = "/vram"


class _SameTokenFilter(logging.Filter):
    # Bolt falls back to SLACK_BOT_TOKEN itself and then warns that it is unused because a client
    # was given; the client carries that very token, so the warning only misleads.
    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


BOLT_LOGGER = logging.getLogger("vram.slackbot.bolt")
BOLT_LOGGER.addFilter(_SameTokenFilter())


def create_app(token: str, signing_secret: str | None = None, *, api_url: str | None = None,
               listener_executor: Executor | None = None, answers: AnswerPool | None = None,
               command: str = COMMAND) -> App:
    """The bot as a Bolt ``App``; serve it over HTTP (``SlackRequestHandler``) or Socket Mode.

    ``signing_secret`` may be None only for Socket Mode, whose requests carry no signature;
    HTTP requests then never verify. ``api_url`` points the Web API client elsewhere (a proxy,
    a test's stand-in). Bolt checks the token with ``auth.test`` here, so a bad one fails now.
    ``answers`` works out answers apart from the acknowledging threads; None: on the listener's.
    """
    client = WebClient(token=token, base_url=web_api_base_url(api_url))
    app = App(name="vram", client=client, logger=BOLT_LOGGER, listener_executor=listener_executor,
              signing_secret=signing_secret or secrets.token_hex(32))
    app.middleware(skip_answered_events(AnsweredEvents()))
    app.middleware(provide_answer_pool(answers))
    app.command(command)(answer_command)
    app.event("app_mention")(answer_mention)
    app.event("message")(answer_direct_message)
    app.action(SHARE_ACTION)(share_in_channel)
    app.action(FORMULAS_ACTION)(show_formulas)
    return app


def web_api_base_url(api_url: str | None) -> str:
    # slack_sdk joins method names onto the base URL, so it must end with a slash.
    return (api_url or WebClient.BASE_URL).rstrip("/") + "/"


def answer_command(ack: Callable, command: dict[str, Any], respond: Callable, context: dict) -> None:
    ack()  # Slack waits 3 s for this (slash-commands#responding_basic_receipt); answer after.
    later(context, lambda reply: respond(**reply(command["text"], shareable=True), response_type="ephemeral"))


def answer_mention(event: dict[str, Any], say: Callable, context: dict) -> None:
    if is_direct_message(event) or not is_new_person_message(event):
        return
    later(context, lambda reply: say(**reply(event["text"]), thread_ts=event.get("thread_ts", event["ts"])))


def answer_direct_message(event: dict[str, Any], say: Callable, context: dict) -> None:
    if not is_direct_message(event) or not is_new_person_message(event):
        return
    later(context, lambda reply: say(**reply(event["text"]), thread_ts=event.get("thread_ts")))


def share_in_channel(ack: Callable, action: dict[str, Any], body: dict[str, Any],
                     respond: Callable, context: dict) -> None:
    # The response_url of an ephemeral message can post to its channel and delete the original
    # (https://api.slack.com/interactivity/handling#message_responses).
    ack()

    def share(reply: Callable[..., Message]) -> None:
        message = reply(action["value"], shared_by=body["user"]["id"])
        if message is BUSY:  # the ephemeral answer stays; the clicker alone hears why
            return respond(**message, response_type="ephemeral", replace_original=False)
        respond(**message, response_type="in_channel", replace_original=False)
        respond(delete_original=True)

    later(context, share)


def show_formulas(ack: Callable, action: dict[str, Any], body: dict[str, Any],
                  respond: Callable, context: dict) -> None:
    # An ephemeral answer is the clicker's own: replace it. A public one stays as it is and the
    # formulas go to the clicker alone.
    ack()
    own = body.get("container", {}).get("is_ephemeral", False)

    def show(reply: Callable[..., Message]) -> None:
        message = reply(action["value"], shareable=own)
        if own and message is not BUSY:
            respond(**message, replace_original=True)
        else:
            respond(**message, response_type="ephemeral", replace_original=False)

    later(context, show)


#: The reply when every answer thread is taken and the backlog is full.
BUSY = kit.message("vram is busy with other questions; try again in a minute.",
                   [kit.section(kit.plain(":hourglass: vram is busy with other questions; "
                                          "try again in a minute."))])


def later(context: dict, deliver: Callable[[Callable[..., Message]], None]) -> None:
    """Work out and deliver an answer on the answer pool; tell the user at once if it is full.

    ``deliver`` gets the function that makes the message: ``reply_to`` on the pool, or one that
    returns :data:`BUSY` when there is no room there.
    """
    answers: AnswerPool | None = context.get(ANSWERS)
    if answers is None:
        return deliver(reply_to)
    if not answers.submit(lambda: deliver(reply_to)):
        deliver(lambda *args, **kwargs: BUSY)


ANSWERS = "vram_answers"


def provide_answer_pool(answers: AnswerPool | None) -> Callable:
    """Global middleware: the listeners find the answer pool in their ``context``."""
    def middleware(context: dict, next_: Callable) -> Any:
        context[ANSWERS] = answers
        return next_()

    return middleware


def skip_answered_events(answered: AnsweredEvents) -> Callable:
    """Global middleware: an event whose id was taken before is a retry; acknowledge it, no more.

    Slack retries an event up to three times when it sees no 200 within 3 s, marking the request
    with ``X-Slack-Retry-Num`` (https://api.slack.com/apis/events-api#retries).
    """
    def middleware(body: dict[str, Any], request: Any, logger: Any, next_: Callable) -> Any:
        event_id = body.get("event_id")
        if event_id is None or answered.take(event_id):
            return next_()
        retry = request.headers.get("x-slack-retry-num", ["?"])[0]
        logger.info("event %s taken before; retry %s let go", event_id, retry)
        return BoltResponse(status=200, body="")

    return middleware
