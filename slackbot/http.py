"""The HTTP front door of HTTP mode: asyncio connections, h11 parsing, hard limits before any work.

Why not a WSGI server (waitress, used before): waitress reads a request whole before the app sees
it, its ``channel_timeout`` is an idle timeout that restarts with every byte, and its
``connection_limit`` (100) is shared by slow and fast clients alike, so 100 clients sending a byte a
second shut everyone else out. Here each connection is an asyncio task (no thread per slow client)
under TOTAL deadlines, one for the head and one for the body, and a request reaches a thread only
once it is whole, small and well formed. Parsing is h11's (python-hyper; the HTTP/1.1 parser of
uvicorn and httpcore): chunked bodies, header limits, malformed input, all without our own parser.

One request per connection (``Connection: close``): Slack's requests come through a TLS proxy,
and keep-alive would only let an idle client hold a slot longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Callable

import h11

logger = logging.getLogger("vram.slackbot.http")


@dataclass(frozen=True)
class Limits:
    """What one connection may cost before it is cut off."""

    #: Slack's payloads are small: a slash command's form is under 1 KiB plus its text (Slack caps
    #: a message at 40,000 characters, chat.postMessage "text usage"), a block_actions payload a
    #: few KiB (a button value is at most 2,000 characters). 64 KiB leaves room and refuses floods.
    max_body_bytes: int = 64 * 1024
    #: request line and headers together; Slack sends about 1 KiB, proxies add a few headers
    max_head_bytes: int = 16 * 1024
    #: from accept to the end of the headers: a total deadline, not an idle timeout per byte
    head_seconds: float = 10.0
    #: from the end of the headers to the end of the body (64 KiB is milliseconds on any link)
    body_seconds: float = 10.0
    #: connections open at once; past it a new one gets 503 and is closed at once. Each costs a
    #: socket and a coroutine (a few KiB), so the bound is the process's file descriptors.
    max_connections: int = 512

    def __post_init__(self) -> None:
        if min(self.max_body_bytes, self.max_head_bytes, self.max_connections) < 1 \
                or min(self.head_seconds, self.body_seconds) <= 0:
            raise ValueError(f"limits must be positive: {self}")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: str
    headers: dict[str, list[str]]  #: names in lower case, as Bolt's BoltRequest takes them
    body: bytes


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, list[str]] = field(default_factory=dict)


#: Called on the event loop's thread with the head of a request, before its body is read: a
#: response refuses it there (a wrong path, a missing signature), None lets the body be read.
Screen = Callable[[HttpRequest], HttpResponse | None]
#: Called on a worker thread with the whole request.
Handler = Callable[[HttpRequest], HttpResponse]

_CHUNK = 16 * 1024
_REASONS = {400: "bad request", 408: "request timeout", 413: "payload too large",
            431: "request header fields too large", 503: "too many connections"}


class TooLarge(Exception):
    """The body passed the cap."""


class HttpServer:
    """Serve ``handler`` on ``host:port`` with ``limits``; ``start`` binds, ``serve`` runs."""

    def __init__(self, handler: Handler, screen: Screen, executor: Executor, limits: Limits = Limits()) -> None:
        self.handler, self.screen, self.executor, self.limits = handler, screen, executor, limits
        self.open_connections = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Bind (OSError when the address is taken or not ours) and return the address bound."""
        self._server = await asyncio.start_server(self._connection, host, port, limit=self.limits.max_head_bytes)
        return self._server.sockets[0].getsockname()[:2]

    async def serve(self) -> None:
        assert self._server is not None, "start() first"
        async with self._server:
            await self._server.serve_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        try:
            if self.open_connections > self.limits.max_connections:
                await _send(writer, h11.Connection(h11.SERVER), _plain(503))
            else:
                await self._exchange(reader, writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away, or stopped reading; nothing more to answer
        except Exception:  # a bug here must cost one connection, never the server
            logger.exception("internal error on a connection")
        finally:
            self.open_connections -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_head_bytes)
        try:
            async with asyncio.timeout(self.limits.head_seconds):
                head = await _head(conn, reader, self.limits.max_head_bytes)
            if not isinstance(head, h11.Request):
                return  # closed before a request
            request = _request(head, b"")
            refusal = self.screen(request) or _too_long(head, self.limits.max_body_bytes)
            if refusal is not None:
                return await _refuse(conn, reader, writer, refusal)
            if conn.they_are_waiting_for_100_continue:
                writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
            async with asyncio.timeout(self.limits.body_seconds):
                body = await _body(conn, reader, self.limits.max_body_bytes)
        except TimeoutError:
            return await _refuse(conn, reader, writer, _plain(408))
        except TooLarge:
            return await _refuse(conn, reader, writer, _plain(413))
        except h11.RemoteProtocolError as error:
            return await _refuse(conn, reader, writer, _plain(error.error_status_hint))
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self.executor, self.handler, _request(head, body))
        await _send(writer, conn, response)


async def _head(conn: h11.Connection, reader: asyncio.StreamReader, cap: int) -> object:
    # h11's own bound (max_incomplete_event_size) only counts a head still incomplete after a
    # read, so a head larger than the cap that arrives in a few large reads would pass it.
    received = 0
    while (event := conn.next_event()) is h11.NEED_DATA:
        if received > cap:
            raise h11.RemoteProtocolError("request head too large", error_status_hint=431)
        data = await reader.read(min(_CHUNK, cap + 1 - received) or 1)
        received += len(data)
        conn.receive_data(data)
    return event


async def _next(conn: h11.Connection, reader: asyncio.StreamReader) -> object:
    while (event := conn.next_event()) is h11.NEED_DATA:
        conn.receive_data(await reader.read(_CHUNK))
    return event


async def _body(conn: h11.Connection, reader: asyncio.StreamReader, cap: int) -> bytes:
    parts, size = [], 0
    while not isinstance(event := await _next(conn, reader), h11.EndOfMessage):
        if isinstance(event, h11.ConnectionClosed):
            raise ConnectionResetError("closed inside the body")
        size += len(event.data)
        if size > cap:
            raise TooLarge()  # a chunked body, or one longer than its Content-Length said
        parts.append(event.data)
    return b"".join(parts)


def _too_long(head: h11.Request, cap: int) -> HttpResponse | None:
    # Refused on the header alone, before a byte of the body is read (or, with Expect:
    # 100-continue, sent); h11 has already checked that Content-Length is a number.
    length = dict(head.headers).get(b"content-length")
    return _plain(413) if length is not None and int(length) > cap else None


def _request(head: h11.Request, body: bytes) -> HttpRequest:
    path, _, query = head.target.decode("latin-1").partition("?")
    headers: dict[str, list[str]] = {}
    for name, value in head.headers:
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return HttpRequest(head.method.decode("latin-1"), path, query, headers, body)


def _plain(status: int, text: str | None = None) -> HttpResponse:
    return HttpResponse(status, (text or _REASONS.get(status, "error")).encode() + b"\n",
                        {"content-type": ["text/plain; charset=utf-8"]})


async def _send(writer: asyncio.StreamWriter, conn: h11.Connection, response: HttpResponse) -> None:
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    headers = [(name, value) for name, values in response.headers.items() for value in values
               if name.lower() not in ("content-length", "connection", "transfer-encoding")]
    headers += [("content-length", str(len(response.body))), ("connection", "close")]
    writer.write(conn.send(h11.Response(status_code=response.status, headers=headers)))
    writer.write(conn.send(h11.Data(data=response.body)) + conn.send(h11.EndOfMessage()))
    async with asyncio.timeout(5):  # a client that never reads cannot hold the connection
        await writer.drain()


async def _refuse(conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  response: HttpResponse) -> None:
    """Answer, then read and drop what the client is still sending for a moment, so that closing
    does not reset the connection before it reads the answer (a lingering close, as httpd does)."""
    with contextlib.suppress(TimeoutError, OSError, h11.LocalProtocolError):
        await _send(writer, conn, response)
        writer.write_eof()
        async with asyncio.timeout(1):
            dropped = 0
            while dropped < 4 * _CHUNK and (data := await reader.read(_CHUNK)):
                dropped += len(data)
