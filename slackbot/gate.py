"""What HTTP mode decides before Bolt: the health route, the path, signatures, timestamps, replays.

A request reaches Bolt only when it is a POST to the Request URL's path, stamped within Slack's
five minutes, signed with the signing secret (v0, https://api.slack.com/authentication/
verifying-requests-from-slack) and not seen before. The head is screened on the event loop before
the body is read; the signature, which needs the body, is checked on an acknowledging thread.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from slack_sdk.signature import SignatureVerifier

from .http import HttpRequest, HttpResponse

HEALTH_PATH = "/healthz"
#: Slack refuses to sign anything older, and asks receivers to refuse it too (the page above).
SIGNATURE_WINDOW_S = 5 * 60
#: a Unix time in seconds has 10 digits until 2286; more is not a timestamp
MAX_TIMESTAMP_DIGITS = 12

Dispatch = Callable[[HttpRequest], HttpResponse]


class SeenSignatures:
    """Signatures of requests taken in the last ``keep_s`` seconds, at most ``capacity`` of them.

    A signature covers the timestamp and the body, so a replay (the same request sent again)
    carries the same one, while a request Slack sends anew is stamped anew. A signature is accepted
    while its timestamp is within 5 minutes of now either way, so 10 minutes of memory covers it.
    Only verified signatures are kept, so nobody without the secret can fill the memory; past
    ``capacity`` the oldest are let go (each costs about 200 bytes).
    """

    def __init__(self, keep_s: float = 2 * SIGNATURE_WINDOW_S, capacity: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.keep_s, self.capacity, self.clock = keep_s, capacity, clock
        self._until: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, signature: str) -> bool:
        """True the first time ``signature`` is seen within the memory, False for a replay."""
        now = self.clock()
        with self._lock:
            while self._until and (next(iter(self._until.values())) < now or len(self._until) >= self.capacity):
                self._until.popitem(last=False)
            if signature in self._until:
                return False
            self._until[signature] = now + self.keep_s
            return True


class SlackGate:
    """The screen and handler of :class:`~vram.slackbot.http.HttpServer` for a Bolt app."""

    def __init__(self, app: Any, signing_secret: str, path: str, seen: SeenSignatures | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.app, self.path, self.clock = app, path, clock
        self.verifier = SignatureVerifier(signing_secret)
        self.seen = seen or SeenSignatures()

    def screen(self, request: HttpRequest) -> HttpResponse | None:
        """A refusal decided from the head alone, or None to read the body."""
        if request.path == HEALTH_PATH and request.method in ("GET", "HEAD"):
            return text(200, "ok")  # for a supervisor: no signature, no thread, no Slack call
        if request.path != self.path:
            return text(404, "not found")
        if request.method != "POST":
            return HttpResponse(405, b"", {"allow": ["POST"]})
        return self._unsigned(request)

    def handle(self, request: HttpRequest) -> HttpResponse:
        """The whole request, on an acknowledging thread: verified, deduplicated, dispatched."""
        from slack_bolt.request import BoltRequest

        [stamp], [signature] = request.headers[TIMESTAMP], request.headers[SIGNATURE]
        body = request.body.decode("utf-8", errors="replace")
        if not self.verifier.is_valid(body, stamp, signature):
            return text(401, "invalid signature")
        if not self.seen.take(signature):
            return HttpResponse(200)  # a replay: acknowledged, not answered again
        answer = self.app.dispatch(BoltRequest(body=body, query=request.query, headers=request.headers))
        headers = {name: list(values) for name, values in (answer.headers or {}).items()}
        return HttpResponse(answer.status, (answer.body or "").encode(), headers)

    def _unsigned(self, request: HttpRequest) -> HttpResponse | None:
        stamps, signatures = request.headers.get(TIMESTAMP, []), request.headers.get(SIGNATURE, [])
        if len(stamps) != 1 or len(signatures) != 1:
            return text(401, f"one {TIMESTAMP} and one {SIGNATURE} header are needed")
        stamp = stamps[0]
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= MAX_TIMESTAMP_DIGITS):
            return text(401, f"{TIMESTAMP} is not a Unix time in seconds")
        if abs(self.clock() - int(stamp)) > SIGNATURE_WINDOW_S:
            return text(401, f"{TIMESTAMP} is more than 5 minutes from now")
        return None


TIMESTAMP = "x-slack-request-timestamp"
SIGNATURE = "x-slack-signature"


def text(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, message.encode() + b"\n", {"content-type": ["text/plain; charset=utf-8"]})
