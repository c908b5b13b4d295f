"""Slack on loopback: a stand-in Web API that records calls, and signed requests as Slack sends them.

Nothing here reaches beyond 127.0.0.1. The stand-in answers every Web API method and every
response_url POST with what Slack would (``{"ok": true, ...}``, ``ok``) and keeps the call.
Signatures follow https://api.slack.com/authentication/verifying-requests-from-slack (v0):
HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing secret, computed here independently.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
BOT_USER = "UBOT"
BOT_ID = "BBOT"
ACK_SECONDS = 3  # Slack's limit (https://api.slack.com/interactivity/slash-commands)
START_SECONDS = 60
TEAM = "T0TEAM"

#: Web API answers by method; anything else gets {"ok": true}.
ANSWERS: dict[str, dict[str, Any]] = {
    "auth.test": {"ok": True, "url": "https://t.slack.com/", "team": "t", "user": "vram",
                  "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False},
}


@dataclass
class Call:
    path: str  #: "/chat.postMessage", "/hooks/<id>"
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.path.lstrip("/")


class StandIn:
    """Slack's Web API and response URLs on 127.0.0.1, recording every call."""

    def __init__(self, answers: dict[str, dict[str, Any]] | None = None) -> None:
        self.answers = {**ANSWERS, **(answers or {})}
        self.calls: list[Call] = []
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def response_url(self, name: str) -> str:
        return f"{self.url}/hooks/{name}"

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def wait_for(self, match: Callable[[Call], bool], count: int = 1, timeout: float = 20) -> list[Call]:
        """The first ``count`` calls that ``match``, waiting for them up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := [c for c in self.calls if match(c)]) < count:
                if not self._changed.wait(deadline - time.monotonic()):
                    raise AssertionError(f"{len(found)} of {count} calls arrived in {timeout} s")
            return found[:count]

    def matching(self, match: Callable[[Call], bool]) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if match(c)]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                stand_in.record(Call(self.path, _decode(raw, self.headers.get("content-type", "")),
                                     dict(self.headers)))
                if self.path.startswith("/hooks/"):
                    self._send(b"ok", "text/plain")
                else:
                    answer = stand_in.answers.get(self.path.lstrip("/"), {"ok": True, "ts": _next_ts()})
                    self._send(json.dumps(answer).encode(), "application/json")

            def _send(self, payload: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


_ts = itertools.count(1)


def _next_ts() -> str:
    return f"1700000000.{next(_ts):06d}"


def _decode(raw: str, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        return json.loads(raw or "{}")
    return dict(urllib.parse.parse_qsl(raw))


# --- requests as Slack sends them --------------------------------------------------------------

def sign(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """The headers that sign ``body`` (v0), stamped now unless ``timestamp`` is given."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def slash_command(text: str, response_url: str, channel: str = "C0CHAN", user: str = "U0USER") -> tuple[str, str]:
    """(body, content type) of ``/vram text`` (https://api.slack.com/interactivity/slash-commands)."""
    fields = {"token": "legacy", "team_id": TEAM, "team_domain": "t", "channel_id": channel,
              "channel_name": "general", "user_id": user, "user_name": "ada", "command": "/vram",
              "text": text, "api_app_id": "A0APP", "response_url": response_url,
              "trigger_id": "1.2.3"}
    return urllib.parse.urlencode(fields), "application/x-www-form-urlencoded"


def event_callback(event: dict[str, Any], event_id: str) -> tuple[str, str]:
    """(body, content type) of an Events API delivery (https://api.slack.com/apis/events-api)."""
    envelope = {"token": "legacy", "team_id": TEAM, "api_app_id": "A0APP", "event": event,
                "type": "event_callback", "event_id": event_id, "event_time": 1700000000,
                "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]}
    return json.dumps(envelope), "application/json"


def button_click(action_id: str, value: str, response_url: str, ephemeral: bool,
                 user: str = "U0USER", channel: str = "C0CHAN") -> tuple[str, str]:
    """(body, content type) of a block_actions payload for a button in a message."""
    payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": user},
               "api_app_id": "A0APP", "token": "legacy", "trigger_id": "1.2.3",
               "container": {"type": "message", "message_ts": "1700000000.000001",
                             "channel_id": channel, "is_ephemeral": ephemeral},
               "channel": {"id": channel}, "response_url": response_url,
               "actions": [{"type": "button", "action_id": action_id, "block_id": "b",
                            "value": value, "action_ts": "1700000001.000002"}]}
    return urllib.parse.urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"


def message_event(text: str, channel: str, ts: str, **extra: Any) -> dict[str, Any]:
    kind = "im" if channel.startswith("D") else "channel"
    return {"type": "message", "user": "U0USER", "text": text, "channel": channel,
            "channel_type": kind, "ts": ts, "event_ts": ts, **extra}


def mention_event(text: str, channel: str, ts: str, **extra: Any) -> dict[str, Any]:
    return {"type": "app_mention", "user": "U0USER", "text": f"<@{BOT_USER}> {text}",
            "channel": channel, "ts": ts, "event_ts": ts, **extra}


# --- reading answers back ----------------------------------------------------------------------

def shown_numbers(message: dict[str, Any]) -> list[str]:
    """The numbers of an answer's breakdown (second block), top to bottom: items, then totals."""
    lines = message["blocks"][1]["text"]["text"].splitlines()
    return [re.match(r"\*?` *([^`]+)`", line)[1] for line in lines[1:]]


# --- raw HTTP, for requests no well-behaved client would send --------------------------------------

@dataclass
class Exchange:
    status: int | None  #: None: the server closed or reset without an answer
    seconds: float  #: from connecting to the answer (or to the close)
    head: str = ""


def raw_exchange(url: str, head: bytes, body: Callable[[], Any] | bytes = b"", timeout: float = 30) -> Exchange:
    """Send ``head`` then ``body`` (bytes, or a generator of chunks sent as the server reads) to
    ``url``'s host and port on a plain socket; the answer's status line, and how long it took."""
    import socket

    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sender = threading.Thread(target=_send_all, args=(sock, head, body), daemon=True)
        sender.start()
        answer = b""
        try:
            while b"\r\n" not in answer and (data := sock.recv(4096)):
                answer += data
        except (ConnectionError, TimeoutError):
            pass
        seconds = time.monotonic() - started
    line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    status = int(line.split()[1]) if line.startswith("HTTP/1.1 ") else None
    return Exchange(status, seconds, answer.decode("latin-1"))


def _send_all(sock: Any, head: bytes, body: Callable[[], Any] | bytes) -> None:
    try:
        sock.sendall(head)
        for chunk in ([body] if isinstance(body, bytes) else body()):
            sock.sendall(chunk)
    except OSError:
        pass  # the server stopped reading and closed: what a refusal looks like


def request_head(path: str, headers: dict[str, str], method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")  # what a client sends for non-ASCII


def chunked(total: int, chunk: int = 1 << 20):
    """A generator of a chunked body of ``total`` bytes, as Transfer-Encoding: chunked sends it."""
    def chunks():
        left = total
        while left > 0:
            size = min(chunk, left)
            yield f"{size:x}\r\n".encode() + b"a" * size + b"\r\n"
            left -= size
        yield b"0\r\n\r\n"
    return chunks


def flood(total: int, chunk: int = 1 << 20):
    """A generator of ``total`` bytes sent as fast as the server takes them."""
    def chunks():
        block = b"a" * chunk
        for _ in range(total // chunk):
            yield block
    return chunks


# --- the bot as a process ------------------------------------------------------------------------

@dataclass
class Bot:
    url: str
    process: subprocess.Popen
    log: list[str]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=30)


@contextlib.contextmanager
def running_bot(stand_in: StandIn, cwd: str | None = None, env: dict[str, str] | None = None):
    """``python -m vram.slackbot`` on a free port, its log lines collected as they come; ``cwd``
    and ``env`` (added to this process's, less any SLACK_ variable) as given."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    environ.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=stand_in.url,
                   **(env or {}))
    process = subprocess.Popen([sys.executable, "-m", "vram.slackbot", "--host", "127.0.0.1", "--port", "0"],
                               env=environ, cwd=cwd, stderr=subprocess.PIPE, text=True)
    log, lines = [], queue.Queue()
    threading.Thread(target=_collect, args=(process.stderr, log, lines), daemon=True).start()
    try:
        yield Bot(_wait_for_url(lines), process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _collect(stream, log, lines):
    for line in stream:
        log.append(line)
        lines.put(line)


def _wait_for_url(lines: queue.Queue) -> str:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        line = lines.get(timeout=deadline - time.monotonic())
        if "listening on " in line:
            return line.split("listening on ")[1].strip()
    raise AssertionError("the bot did not start")


def post(url, request, headers=None, signed=True):
    """(status, seconds) of POSTing ``request`` (body, content type), signed as Slack signs."""
    body, content_type = request
    all_headers = {"Content-Type": content_type, **(sign(body) if signed else {}), **(headers or {})}
    started = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body.encode(), all_headers), timeout=30) as r:
            status = r.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.monotonic() - started
