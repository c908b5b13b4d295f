"""The Bolt app in process: signed requests dispatched to ``create_app``'s app, Web API on loopback.

One answer thread (an executor of one worker) keeps the order of work, so a barrier submitted
after a request proves that whatever it was going to post has been posted.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_bolt.request import BoltRequest
from slack_fakes import (
    BOT_ID, BOT_TOKEN, BOT_USER, SIGNING_SECRET, StandIn, button_click, event_callback, mention_event,
    message_event, sign, slash_command
)

from vram.slackbot import answer, create_app
from vram.slackbot.answer import reply_to
from vram.slackbot.blocks import FORMULAS_ACTION, SHARE_ACTION
from vram.slackbot.events import AnsweredEvents

QUERY = "train chatglm-6b adamw bf16 selective on 8xA100"


@pytest.fixture(scope="module")
def stand_in():
    with StandIn() as server:
        yield server


@pytest.fixture(scope="module")
def executor():
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.fixture(scope="module")
def app(stand_in, executor):
    return create_app(BOT_TOKEN, SIGNING_SECRET, api_url=stand_in.url, listener_executor=executor)


def dispatch(app, request, headers=None, signed=True):
    body, content_type = request
    all_headers = {"content-type": content_type, **(sign(body) if signed else {}), **(headers or {})}
    return app.dispatch(BoltRequest(body=body, headers=all_headers))


def settle(executor):
    executor.submit(lambda: None).result(timeout=20)


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:10].upper()}"


def posts_to(stand_in, channel):
    return stand_in.matching(lambda c: c.method == "chat.postMessage" and c.body["channel"] == channel)


def test_create_app_checks_the_token_with_auth_test(stand_in, app):
    assert [c.headers["Authorization"] for c in stand_in.matching(lambda c: c.method == "auth.test")][:1] \
        == [f"Bearer {BOT_TOKEN}"]


def test_slash_command_is_acknowledged_then_answered_ephemerally(stand_in, app):
    hook = unique("cmd")
    response = dispatch(app, slash_command(QUERY, stand_in.response_url(hook)))
    assert (response.status, response.body) == (200, "")
    [call] = stand_in.wait_for(lambda c: c.path == f"/hooks/{hook}")
    assert call.body == {**reply_to(QUERY, shareable=True), "response_type": "ephemeral"}


@pytest.mark.parametrize("extra, thread", [({}, "ts"), ({"thread_ts": "1699999999.000001"}, "thread_ts")])
def test_a_mention_in_a_channel_is_answered_in_its_thread(stand_in, app, executor, extra, thread):
    channel = unique("C")
    event = mention_event("infer 6b int8", channel, "1700000100.000200", **extra)
    assert dispatch(app, event_callback(event, unique("Ev"))).status == 200
    [call] = stand_in.wait_for(lambda c: c.method == "chat.postMessage" and c.body["channel"] == channel)
    assert call.body["thread_ts"] == event[thread]
    assert call.body["blocks"] == reply_to("infer 6b int8")["blocks"]


def test_a_direct_message_is_answered_in_the_dm_once(stand_in, app, executor):
    channel = unique("D")
    # A mention in a DM arrives as both a message.im and an app_mention event.
    dispatch(app, event_callback(message_event(f"<@{BOT_USER}> infer 6b int8", channel, "1700000100.1"), unique("Ev")))
    dispatch(app, event_callback(mention_event("infer 6b int8", channel, "1700000100.1"), unique("Ev")))
    settle(executor)
    [call] = posts_to(stand_in, channel)
    assert "thread_ts" not in call.body and call.body["text"] == reply_to("infer 6b int8")["text"]


IGNORED = {
    "edit": message_event("infer 6b", "D", "1.1", subtype="message_changed",
                          message={"text": "infer 7b"}, previous_message={"text": "infer 6b"}),
    "other bot": message_event("infer 6b", "D", "1.2", subtype="bot_message", bot_id="B0OTHER"),
    "bot id only": message_event("infer 6b", "D", "1.3", bot_id="B0OTHER"),
    "own message": message_event("infer 6b", "D", "1.4", user=BOT_USER, bot_id=BOT_ID),
    "deleted": message_event("infer 6b", "D", "1.5", subtype="message_deleted"),
    "channel chatter": message_event("infer 6b", "C", "1.6"),
    "edited mention": mention_event("infer 6b", "C", "1.7", edited={"user": "U0USER", "ts": "1.8"}),
}


@pytest.mark.parametrize("name", IGNORED)
def test_events_that_are_not_answered(stand_in, app, executor, name):
    event = dict(IGNORED[name])
    event["channel"] = unique(event["channel"])
    assert dispatch(app, event_callback(event, unique("Ev"))).status == 200
    settle(executor)
    assert posts_to(stand_in, event["channel"]) == []


def test_a_retry_of_an_event_taken_is_acknowledged_and_not_answered(stand_in, app, executor):
    channel, event_id = unique("C"), unique("Ev")
    request = event_callback(mention_event("infer 6b", channel, "1700000200.1"), event_id)
    first = dispatch(app, request)
    retry = dispatch(app, request, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    settle(executor)
    assert first.status == retry.status == 200
    assert len(posts_to(stand_in, channel)) == 1


def test_share_posts_in_the_channel_and_deletes_the_ephemeral(stand_in, app):
    hook = unique("share")
    dispatch(app, button_click(SHARE_ACTION, QUERY, stand_in.response_url(hook), ephemeral=True, user="U0ADA"))
    shared, deleted = stand_in.wait_for(lambda c: c.path == f"/hooks/{hook}", count=2)
    assert shared.body == {**reply_to(QUERY, shared_by="U0ADA"), "response_type": "in_channel",
                           "replace_original": False}
    assert deleted.body == {"text": "", "delete_original": True}


@pytest.mark.parametrize("ephemeral, expected", [
    (True, {"replace_original": True}),
    (False, {"response_type": "ephemeral", "replace_original": False}),
])
def test_show_formulas(stand_in, app, ephemeral, expected):
    hook = unique("formulas")
    dispatch(app, button_click(FORMULAS_ACTION, f"explain {QUERY}", stand_in.response_url(hook), ephemeral))
    [call] = stand_in.wait_for(lambda c: c.path == f"/hooks/{hook}")
    assert call.body == {**reply_to(f"explain {QUERY}", shareable=ephemeral), **expected}


def test_a_bad_query_gets_the_parsers_message_where_the_answer_goes(stand_in, app):
    hook = unique("bad")
    dispatch(app, slash_command("infer 7b int8 on a10O", stand_in.response_url(hook)))
    [call] = stand_in.wait_for(lambda c: c.path == f"/hooks/{hook}")
    assert call.body["text"] == "vram: unknown GPU 'a10O' (column 18); did you mean a100-80gb?"


@pytest.mark.parametrize("where", ["core", "renderer"])
def test_a_bug_is_logged_with_its_traceback_and_shown_as_one_sentence(stand_in, app, monkeypatch, caplog, where):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    if where == "core":
        monkeypatch.setattr(answer.vram, "ask", broken)
    else:
        monkeypatch.setattr(answer, "answer_message", broken)
    hook = unique("bug")
    with caplog.at_level(logging.ERROR, logger="vram.slackbot.answer"):
        dispatch(app, slash_command("infer 6b", stand_in.response_url(hook)))
        [call] = stand_in.wait_for(lambda c: c.path == f"/hooks/{hook}")
    assert "Traceback" not in str(call.body) and "ZeroDivisionError" not in str(call.body)
    assert call.body["text"].startswith("vram: vram failed on this query")
    [record] = [r for r in caplog.records if r.name == "vram.slackbot.answer"]
    assert record.exc_info[0] is ZeroDivisionError and "infer 6b" in record.getMessage()


BAD_SIGNATURES = {
    "unsigned": lambda body: {},
    "another body": lambda body: sign(body + "&text=x"),
    "another secret": lambda body: sign(body, secret="not-the-secret"),
    "stale": lambda body: sign(body, timestamp=int(time.time()) - 6 * 60),  # Slack's limit: 5 min
}


@pytest.mark.parametrize("name", BAD_SIGNATURES)
def test_unsigned_missigned_or_stale_requests_get_401(stand_in, app, name):
    body, content_type = slash_command("infer 6b", stand_in.response_url("never"))
    headers = {"content-type": content_type, **BAD_SIGNATURES[name](body)}
    assert app.dispatch(BoltRequest(body=body, headers=headers)).status == 401


def test_answered_events_forget_the_oldest_beyond_capacity():
    answered = AnsweredEvents(capacity=2)
    assert [answered.take(e) for e in ("a", "b", "a", "c", "a")] == [True, True, False, True, True]


def test_the_request_url_challenge_is_answered(app):
    # Slack checks a Request URL when it is saved (https://api.slack.com/events/url_verification).
    body = json.dumps({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"})
    response = dispatch(app, (body, "application/json"))
    assert response.status == 200
    assert json.loads(response.body) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_without_a_signing_secret_no_http_request_verifies(stand_in):
    # Socket Mode needs no secret; an app built so must still refuse every HTTP request.
    socket_only = create_app(BOT_TOKEN, None, api_url=stand_in.url)
    body, content_type = slash_command("infer 6b", stand_in.response_url("never"))
    for secret in ("", SIGNING_SECRET):
        headers = {"content-type": content_type, **sign(body, secret=secret)}
        assert socket_only.dispatch(BoltRequest(body=body, headers=headers)).status == 401
