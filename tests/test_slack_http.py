"""HTTP mode's front door in process: hostile connections against ``HttpServer``, the gate's
screen and replay memory, the answer pool, and slow answers that must not starve acknowledgements.

The limits here are shortened (1 s deadlines) so that each case runs in about a second; the
end-to-end tests (test_slack_e2e.py) run the same attacks at the defaults against the real process.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_bolt import BoltResponse
from slack_fakes import (
    BOT_TOKEN, SIGNING_SECRET, StandIn, chunked, flood, raw_exchange, request_head, sign, slash_command
)

from vram.slackbot import app as slack_app
from vram.slackbot.gate import SeenSignatures, SlackGate
from vram.slackbot.http import HttpRequest, HttpResponse, HttpServer, Limits
from vram.slackbot.workers import AnswerPool

FAST = Limits(max_body_bytes=64 * 1024, max_head_bytes=16 * 1024, head_seconds=1, body_seconds=1,
              max_connections=16)
MB = 2**20


@contextlib.contextmanager
def serving(handler, screen=lambda request: None, limits=FAST, threads=4):
    """``HttpServer`` on a free loopback port, its loop on a thread of its own."""
    loop, executor = asyncio.new_event_loop(), ThreadPoolExecutor(threads)
    server = HttpServer(handler, screen, executor, limits)
    host, port = loop.run_until_complete(server.start("127.0.0.1", 0))
    loop.create_task(server.serve())  # cancelled with the rest by _cancel_all
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}", server
    finally:
        asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        executor.shutdown(wait=True)


async def _cancel_all():
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def echo(request: HttpRequest) -> HttpResponse:
    return HttpResponse(200, str(len(request.body)).encode())


def drip(data: bytes, every_s: float = 0.2):
    def chunks():
        for byte in data:
            time.sleep(every_s)
            yield bytes([byte])
    return chunks


def head(**headers):
    return request_head("/x", {k.replace("_", "-"): v for k, v in headers.items()})


#: (name, head, body, status, most seconds). None: the server closed without an answer.
HOSTILE = [
    ("Content-Length past the cap", head(Content_Length=100 * MB), b"", 413, 0.5),
    ("the same, waiting for 100-continue", head(Content_Length=100 * MB, Expect="100-continue"), b"", 413, 0.5),
    ("the same, sending it anyway", head(Content_Length=100 * MB), flood(100 * MB), 413, 2),
    ("chunked past the cap", head(Transfer_Encoding="chunked"), chunked(100 * MB), 413, 2),
    ("longer than its Content-Length: cut at it", head(Content_Length=10), b"a" * MB, 200, 1),
    ("shorter than its Content-Length, then silence", head(Content_Length=1000), b"a" * 10, 408, 2),
    ("the body a byte every 0.2 s", head(Content_Length=1000), drip(b"a" * 1000), 408, 2),
    ("the head a byte every 0.2 s (an idle timeout never fires)", b"", drip(head(Content_Length=0)), 408, 2),
    ("the head never ends", b"POST /x HTTP/1.1\r\n", b"", 408, 2),
    ("a head past 16 KiB", head(X_Big="a" * 20_000), b"", 431, 1),
    ("headers without end", b"POST /x HTTP/1.1\r\n", flood(MB, 100), 431, 1),
    ("not HTTP", b"GARBAGE\r\n\r\n", b"", 400, 1),
    ("a Content-Length that is not a number", head(Content_Length="12abc"), b"", 400, 1),
    ("two Content-Lengths that differ", b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", b"", 400, 1),
    ("a chunk size that is not hex", head(Transfer_Encoding="chunked"), b"zz\r\nabc\r\n", 400, 1),
    ("a negative Content-Length", head(Content_Length="-1"), b"", 400, 1),
    ("a Content-Length of 5,000 digits (past int()'s limit)", head(Content_Length="9" * 5000), b"", 400, 1),
    ("a Content-Length list", head(Content_Length="5, 5"), b"hello", 200, 1),
    ("a Content-Length list that disagrees", head(Content_Length="5, 6"), b"hello", 400, 1),
    ("a transfer coding other than chunked", head(Transfer_Encoding="gzip"), b"", 501, 1),
    ("chunked and a Content-Length", head(Transfer_Encoding="chunked", Content_Length=100 * MB),
     chunked(100 * MB), 413, 2),
    ("a chunk extension flood", head(Transfer_Encoding="chunked"), b"1;" + b"x" * MB, 431, 2),
    ("HTTP/1.0 without a length", b"POST /x HTTP/1.0\r\n\r\n", b"", 200, 1),
    ("a well-formed request", head(Content_Length=5), b"hello", 200, 1),
]


@pytest.mark.parametrize("name, head_bytes, body, status, most_s", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_requests_are_refused_early(caplog, name, head_bytes, body, status, most_s):
    with serving(echo) as (url, _):
        answer = raw_exchange(url, head_bytes, body)
    assert answer.status == status, answer.head
    assert answer.seconds < most_s
    assert "internal error" not in caplog.text


def test_the_handler_sees_only_what_the_content_length_says():
    seen = []
    with serving(lambda request: (seen.append(request.body), echo(request))[1]) as (url, _):
        assert raw_exchange(url, head(Content_Length=3), b"abcdef").status == 200
    assert seen == [b"abc"]


def test_connections_past_the_limit_get_503_at_once_and_the_others_are_served():
    with serving(echo, limits=Limits(max_connections=5, head_seconds=3)) as (url, server):
        import socket

        port = int(url.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        try:
            for _ in range(50):  # until the server has accepted all five
                if server.open_connections == 5:
                    break
                time.sleep(0.02)
            assert raw_exchange(url, head(Content_Length=0)).status == 503
        finally:
            for sock in idle:
                sock.close()
        for _ in range(100):
            if server.open_connections == 0:
                break
            time.sleep(0.02)
        assert raw_exchange(url, head(Content_Length=0)).status == 200


def test_a_failing_handler_costs_its_own_connection_only(caplog):
    def handler(request):
        if request.body == b"boom":
            raise RuntimeError("a bug")
        return echo(request)

    with serving(handler) as (url, _):
        assert raw_exchange(url, head(Content_Length=4), b"boom").status is None
        assert raw_exchange(url, head(Content_Length=2), b"ok").status == 200
    assert "internal error on a connection" in caplog.text


# --- the gate: what reaches Bolt ---------------------------------------------------------------

NOW = 1_700_000_000


class RecordingApp:
    def __init__(self):
        self.bodies = []

    def dispatch(self, request):
        self.bodies.append(request.raw_body)
        return BoltResponse(status=200, body="")


def gate(app=None):
    return SlackGate(app or RecordingApp(), SIGNING_SECRET, "/slack/events", clock=lambda: NOW)


def headers_with(stamp=str(NOW), signature="v0=abc", **more):
    headers = {"content-type": ["application/x-www-form-urlencoded"], **more}
    if stamp is not None:
        headers["x-slack-request-timestamp"] = stamp if isinstance(stamp, list) else [stamp]
    if signature is not None:
        headers["x-slack-signature"] = [signature]
    return headers


#: (name, method, path, headers, status); None: the body is read and the signature checked
SCREEN = [
    ("health", "GET", "/healthz", {}, 200),
    ("health, HEAD", "HEAD", "/healthz", {}, 200),
    ("another path", "POST", "/admin", headers_with(), 404),
    ("GET on the Request URL", "GET", "/slack/events", headers_with(), 405),
    ("no timestamp", "POST", "/slack/events", headers_with(stamp=None), 401),
    ("no signature", "POST", "/slack/events", headers_with(signature=None), 401),
    ("two timestamps", "POST", "/slack/events", headers_with(stamp=[str(NOW), str(NOW)]), 401),
    ("an empty timestamp", "POST", "/slack/events", headers_with(stamp=""), 401),
    ("a word", "POST", "/slack/events", headers_with(stamp="yesterday"), 401),
    ("exponent", "POST", "/slack/events", headers_with(stamp="1.7e9"), 401),
    ("a fraction", "POST", "/slack/events", headers_with(stamp=f"{NOW}.5"), 401),
    ("negative", "POST", "/slack/events", headers_with(stamp="-5"), 401),
    ("a plus sign", "POST", "/slack/events", headers_with(stamp=f"+{NOW}"), 401),
    ("spaces", "POST", "/slack/events", headers_with(stamp=f" {NOW} "), 401),
    ("underscores (int() takes them)", "POST", "/slack/events", headers_with(stamp="1_700_000_000"), 401),
    ("Arabic-Indic digits (isdigit() takes them)", "POST", "/slack/events", headers_with(stamp="١٧٠٠٠٠٠٠٠٠"), 401),
    ("5,000 digits (past int()'s limit)", "POST", "/slack/events", headers_with(stamp="9" * 5000), 401),
    ("13 digits", "POST", "/slack/events", headers_with(stamp="1" * 13), 401),
    ("zero", "POST", "/slack/events", headers_with(stamp="0"), 401),
    ("6 minutes old", "POST", "/slack/events", headers_with(stamp=str(NOW - 360)), 401),
    ("6 minutes ahead", "POST", "/slack/events", headers_with(stamp=str(NOW + 360)), 401),
    ("4 minutes old: read on", "POST", "/slack/events", headers_with(stamp=str(NOW - 240)), None),
    ("now: read on", "POST", "/slack/events", headers_with(), None),
]


@pytest.mark.parametrize("name, method, path, headers, status", SCREEN, ids=[c[0] for c in SCREEN])
def test_the_gate_screens_the_head(name, method, path, headers, status):
    refusal = gate().screen(HttpRequest(method, path, "", headers, b""))
    assert (refusal and refusal.status) == status


def signed_request(body, stamp=None):
    signature = sign(body, timestamp=stamp)
    headers = {"content-type": ["application/x-www-form-urlencoded"],
               **{k.lower(): [v] for k, v in signature.items()}}
    return HttpRequest("POST", "/slack/events", "", headers, body.encode())


def test_a_bad_signature_never_reaches_bolt():
    app = RecordingApp()
    request = signed_request("text=infer+6b")
    forged = HttpRequest("POST", "/slack/events", "", {**request.headers, "x-slack-signature": ["v0=" + "0" * 64]},
                         request.body)
    assert SlackGate(app, SIGNING_SECRET, "/slack/events").handle(forged).status == 401
    assert app.bodies == []


def test_a_replay_is_acknowledged_and_not_dispatched_again():
    app = RecordingApp()
    front = SlackGate(app, SIGNING_SECRET, "/slack/events")
    request, again_later = signed_request("text=infer+6b"), signed_request("text=infer+6b", stamp=int(time.time()) - 1)
    assert [front.handle(r).status for r in (request, request, request, again_later)] == [200] * 4
    assert len(app.bodies) == 2  # the same request once; the same text sent anew is a new request


def test_seen_signatures_expire_and_are_bounded():
    now = [0.0]
    seen = SeenSignatures(keep_s=600, capacity=3, clock=lambda: now[0])
    assert [seen.take(s) for s in "aab"] == [True, False, True]
    now[0] = 599
    assert seen.take("a") is False
    now[0] = 601  # a's memory is over: Slack would refuse its timestamp by now anyway
    assert seen.take("a") is True
    assert [seen.take(s) for s in "cde"] == [True, True, True]
    assert seen.take("b") is True  # the oldest were let go to stay within capacity


# --- answers apart from acknowledgements ----------------------------------------------------------

def test_the_answer_pool_refuses_at_once_when_full():
    release = threading.Event()
    pool = AnswerPool(workers=1, backlog=1)
    try:
        assert [pool.submit(release.wait) for _ in range(3)] == [True, True, False]
        release.set()
        time.sleep(0.2)
        assert pool.submit(lambda: None) is True
    finally:
        release.set()
        pool.shutdown()


@pytest.mark.parametrize("workers, backlog", [(0, 1), (-1, 0), (1, -1)])
def test_an_answer_pool_needs_a_worker(workers, backlog):
    with pytest.raises(ValueError):
        AnswerPool(workers, backlog)


@contextlib.contextmanager
def slack_in_process(stand_in, answers):
    listeners = ThreadPoolExecutor(8)
    bolt = slack_app.create_app(BOT_TOKEN, SIGNING_SECRET, api_url=stand_in.url, listener_executor=listeners,
                                answers=answers)
    front = SlackGate(bolt, SIGNING_SECRET, "/slack/events")
    try:
        with serving(front.handle, front.screen, limits=Limits(), threads=8) as (url, _):
            yield url + "/slack/events"
    finally:
        listeners.shutdown(wait=True)
        answers.shutdown()


def post_command(url, text, hook_url):
    body, content_type = slash_command(text, hook_url)
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), **sign(body)}
    return raw_exchange(url, request_head("/slack/events", headers), body.encode())


@pytest.fixture
def slow_replies(monkeypatch):
    """Replies to texts with 'slow' in them wait for the event; the rest are answered as ever."""
    release, real = threading.Event(), slack_app.reply_to

    def reply(text, **options):
        if "slow" in text:
            release.wait(60)
        return real(text, **options)

    monkeypatch.setattr(slack_app, "reply_to", reply)
    yield release
    release.set()


def test_slow_answers_do_not_starve_acknowledgements(slow_replies):
    with StandIn() as stand_in, slack_in_process(stand_in, AnswerPool(16, 64)) as url:
        slow = [uuid.uuid4().hex for _ in range(12)]
        with ThreadPoolExecutor(12) as pool:
            acks = list(pool.map(lambda h: post_command(url, "infer slow 7b", stand_in.response_url(h)), slow))
        assert all(a.status == 200 and a.seconds < 3 for a in acks)
        plain = uuid.uuid4().hex
        ack = post_command(url, "infer 6b int8", stand_in.response_url(plain))
        assert ack.status == 200 and ack.seconds < 3
        [answer] = stand_in.wait_for(lambda c: c.path == f"/hooks/{plain}", timeout=10)
        assert answer.body["text"].startswith("infer 6b int8: ")
        assert stand_in.matching(lambda c: c.path.removeprefix("/hooks/") in slow) == []  # still working
        slow_replies.set()
        stand_in.wait_for(lambda c: c.path.removeprefix("/hooks/") in slow, count=12)


def test_a_full_answer_pool_says_busy_at_once(slow_replies):
    with StandIn() as stand_in, slack_in_process(stand_in, AnswerPool(1, 0)) as url:
        assert post_command(url, "infer slow 7b", stand_in.response_url("slow")).status == 200
        busy = uuid.uuid4().hex
        ack = post_command(url, "infer 6b int8", stand_in.response_url(busy))
        assert ack.status == 200 and ack.seconds < 3
        [answer] = stand_in.wait_for(lambda c: c.path == f"/hooks/{busy}", timeout=5)
        assert answer.body["text"] == slack_app.BUSY["text"] and answer.body["response_type"] == "ephemeral"
        slow_replies.set()
