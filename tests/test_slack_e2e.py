"""End to end: ``vram-slack`` in HTTP mode as a process on 127.0.0.1, real signed requests to it,
its Web API calls and answers landing on a loopback stand-in for Slack.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_fakes import (
    ACK_SECONDS, BOT_TOKEN, StandIn, button_click, event_callback, mention_event, message_event, post,
    running_bot, shown_numbers, sign, slash_command
)

from vram.slackbot.blocks import SHARE_ACTION
from vram.units import format_bytes


@pytest.fixture(scope="module")
def stand_in():
    with StandIn() as server:
        yield server


@pytest.fixture(scope="module")
def bot(stand_in):
    with running_bot(stand_in) as running:
        yield running
        assert running.stop() == 0


def cli_estimate(query):
    done = subprocess.run([sys.executable, "-m", "vram", query, "--json"], capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout)["estimate"]


def table_numbers(estimate):
    """The numbers an answer's table shows for ``vram --json``'s estimate: items, total, job total."""
    totals = [estimate["total_bytes"]] + ([estimate["job_total_bytes"]] if estimate["gpu_count"] > 1 else [])
    return [format_bytes(b) for b in [item["bytes"] for item in estimate["items"]] + totals]


def hooked(stand_in, hook, count=1):
    return stand_in.wait_for(lambda c: c.path == f"/hooks/{hook}", count=count)


@pytest.mark.parametrize("query", [
    "train chatglm-6b adamw bf16 selective on 8xA100",
    "infer llama-3-70b int4 on 2x rtx-4090",
    "qlora llama-2-70b seq 4096 on 1x a100-80gb",
])
def test_slash_command_answers_with_the_clis_numbers(stand_in, bot, query):
    hook = uuid.uuid4().hex
    status, seconds = post(bot.url, slash_command(query, stand_in.response_url(hook)))
    assert status == 200 and seconds < ACK_SECONDS
    [answer] = hooked(stand_in, hook)
    assert answer.body["response_type"] == "ephemeral"
    estimate = cli_estimate(query)
    assert shown_numbers(answer.body) == table_numbers(estimate)
    assert f": {format_bytes(estimate['total_bytes'])} GB" in answer.body["text"]


BAD_SIGNATURES = {
    "unsigned": lambda body: {},
    "wrong secret": lambda body: sign(body, secret="guess"),
    "tampered": lambda body: sign(body.replace("infer", "train")),
    "stale": lambda body: sign(body, timestamp=int(time.time()) - 10 * 60),  # Slack's limit: 5 min
}


@pytest.mark.parametrize("name", BAD_SIGNATURES)
def test_bad_or_stale_signatures_get_401_and_no_answer(stand_in, bot, name):
    hook = uuid.uuid4().hex
    body, content_type = slash_command("infer 6b int8", stand_in.response_url(hook))
    status, _ = post(bot.url, (body, content_type), BAD_SIGNATURES[name](body), signed=False)
    assert status == 401
    time.sleep(0.2)
    assert stand_in.matching(lambda c: c.path == f"/hooks/{hook}") == []


def test_a_mention_is_answered_in_its_thread_once_despite_retries(stand_in, bot):
    channel, event_id = f"C{uuid.uuid4().hex[:8].upper()}", f"Ev{uuid.uuid4().hex[:10]}"
    request = event_callback(mention_event("infer 6b int8", channel, "1700000300.000100"), event_id)
    assert post(bot.url, request)[0] == 200
    for retry in (1, 2):
        assert post(bot.url, request, {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})[0] == 200
    [call] = stand_in.wait_for(lambda c: c.method == "chat.postMessage" and c.body["channel"] == channel)
    assert call.body["thread_ts"] == "1700000300.000100"
    assert call.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert shown_numbers(call.body) == table_numbers(cli_estimate("infer 6b int8"))
    time.sleep(0.3)
    assert len(stand_in.matching(lambda c: c.method == "chat.postMessage" and c.body["channel"] == channel)) == 1


def test_a_direct_message_is_answered_in_the_dm(stand_in, bot):
    channel = f"D{uuid.uuid4().hex[:8].upper()}"
    request = event_callback(message_event("infer 7b int8 on a10O", channel, "1700000400.1"), "Ev" + channel)
    assert post(bot.url, request)[0] == 200
    [call] = stand_in.wait_for(lambda c: c.method == "chat.postMessage" and c.body["channel"] == channel)
    assert "thread_ts" not in call.body
    assert call.body["text"] == "vram: unknown GPU 'a10O' (column 18); did you mean a100-80gb?"


def test_the_share_button_posts_in_the_channel(stand_in, bot):
    hook = uuid.uuid4().hex
    assert post(bot.url, button_click(SHARE_ACTION, "infer 6b int8", stand_in.response_url(hook), True))[0] == 200
    shared, deleted = hooked(stand_in, hook, count=2)
    assert shared.body["response_type"] == "in_channel" and deleted.body["delete_original"] is True


def test_fifty_concurrent_slash_commands_are_all_answered(stand_in, bot):
    hooks = [uuid.uuid4().hex for _ in range(50)]
    queries = [f"infer {n + 1}b int8" for n in range(50)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        acks = list(pool.map(lambda hq: post(bot.url, slash_command(hq[1], stand_in.response_url(hq[0]))),
                             zip(hooks, queries)))
    answers = stand_in.wait_for(lambda c: c.path.removeprefix("/hooks/") in hooks, count=50, timeout=60)
    elapsed = time.monotonic() - started
    assert [status for status, _ in acks] == [200] * 50
    assert max(seconds for _, seconds in acks) < ACK_SECONDS
    by_hook = {call.path.removeprefix("/hooks/"): call for call in answers}
    assert sorted(by_hook) == sorted(hooks)  # each answered once, none lost
    for hook, query in zip(hooks, queries):
        assert by_hook[hook].body["text"].startswith(f"infer {query.split()[1]} int8: ")
    print(f"50 concurrent: slowest ack {max(s for _, s in acks):.2f} s, all answered in {elapsed:.2f} s")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_stops_the_server_cleanly_after_answering(stand_in, signum):
    hook = uuid.uuid4().hex
    with running_bot(stand_in) as fresh:
        assert post(fresh.url, slash_command("infer 6b int8", stand_in.response_url(hook)))[0] == 200
        assert fresh.stop(signum) == 0
    hooked(stand_in, hook)
    log = "".join(fresh.log)
    assert "Traceback" not in log and f"{signal.Signals(signum).name} received; stopping" in log
    assert log.rstrip().endswith("stopped")
