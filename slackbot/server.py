"""``vram-slack``: run the bot over Socket Mode when SLACK_APP_TOKEN is set, else over HTTP.

HTTP mode serves the Bolt app through :mod:`.http` (asyncio and h11, with hard limits on what a
connection may cost) and :mod:`.gate` (health route, signatures, replays). It listens on loopback
unless told otherwise: Slack only calls HTTPS URLs, so a TLS proxy stands in front anyway.
SIGINT and SIGTERM stop either mode cleanly: no new requests, answers already acknowledged are
still delivered. A wrong setting is one line on stderr naming it, and exit status 78.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn, Sequence

from .manifest import manifest_text
from .settings import EXIT_CONFIG, ConfigError, Mode, Settings

logger = logging.getLogger("vram.slackbot")

DEFAULT_PORT = 3000
DEFAULT_PATH = "/slack/events"
#: bounds of --threads and --answer-threads: one at least; past a few hundred a thread pool only
#: adds memory (the answers wait on the Hub, which the core lets 4 lookups reach at once)
MAX_THREADS = 256
#: answers that may wait for a free answer thread, per thread, before users are told it is busy
BACKLOG_PER_THREAD = 4
#: seconds a stopping server waits for requests already read to be answered
STOP_GRACE_S = 5


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage and exits 2; a wrong setting here is one line and exit 78.
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vram-slack", description="Run the vram Slack bot (see the Slack section of README.md).",
        epilog="Reads SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (HTTP mode), SLACK_APP_TOKEN (Socket "
               "Mode when set) and SLACK_API_URL (optional: another Web API base URL).",
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="HTTP mode: address to listen on (default 127.0.0.1: put a TLS proxy in front)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP mode: port (default 3000; 0 picks a free one)")
    parser.add_argument("--path", default=DEFAULT_PATH, help="HTTP mode: the Request URL's path (default /slack/events)")
    parser.add_argument("--threads", type=int, default=8, help="requests verified and acknowledged at once (default 8)")
    parser.add_argument("--answer-threads", type=int, default=16,
                        help=f"answers worked out at once (default 16); {BACKLOG_PER_THREAD} per thread "
                             "more may wait, past that users are told the bot is busy")
    parser.add_argument("--manifest", action="store_true", help="print the Slack app manifest and exit")
    parser.add_argument("--request-url", metavar="URL",
                        help="with --manifest: the manifest for HTTP mode, Slack's requests sent to URL "
                             "(https://HOST/slack/events)")
    return parser


def check_args(args: argparse.Namespace) -> None:
    """Refuse settings that would fail later, or silently do something else."""
    for option, value in (("--threads", args.threads), ("--answer-threads", args.answer_threads)):
        if not 1 <= value <= MAX_THREADS:
            raise ConfigError(f"{option} {value}: give a number of threads from 1 to {MAX_THREADS}")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: give a port from 1 to 65535 (0 picks a free one)")
    if not args.path.startswith("/"):
        raise ConfigError(f"--path {args.path!r}: give the Request URL's path, starting with /")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.request_url and not args.manifest:
            raise ConfigError("--request-url goes with --manifest: vram-slack --manifest --request-url URL")
        if args.manifest:
            print(manifest_text(args.request_url), end="")
            return 0
        check_args(args)
        settings = Settings.from_env()
    except ConfigError as error:
        return _config_error(error)
    for name in ("slack_sdk", "slack_bolt", "vram"):
        # Until the bot has started, its one line says what is wrong: the Web API client's own
        # error log ("Failed to send a request...") would only repeat it, on more lines.
        logging.getLogger(name).addHandler(logging.NullHandler())
    return run(settings, args)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Build the app and serve it until a signal; 0 after a clean stop, 78 for a wrong setting."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackClientError

    from .app import create_app
    from .workers import AnswerPool

    _stop_on(signal.SIGINT, signal.SIGTERM)
    listeners = ThreadPoolExecutor(max_workers=args.threads, thread_name_prefix="vram-listener")
    answers = AnswerPool(args.answer_threads, BACKLOG_PER_THREAD * args.answer_threads)
    try:
        try:
            app = create_app(settings.bot_token, settings.signing_secret, api_url=settings.api_url,
                             listener_executor=listeners, answers=answers)
        except (BoltError, SlackClientError, OSError, ValueError) as error:
            # auth.test refused the token, or Slack is unreachable, or answers something not Slack's
            raise ConfigError(f"could not start: {_one_line(error)}; check SLACK_BOT_TOKEN and "
                              "SLACK_API_URL") from None
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if settings.mode is Mode.SOCKET:
            serve_socket_mode(app, settings.app_token)
        else:
            serve_http(app, settings.signing_secret, args.host, args.port, args.path, args.threads)
    except ConfigError as error:
        return _config_error(error)
    finally:
        listeners.shutdown(wait=True)
        answers.shutdown()  # deliver the answers already acknowledged
    logger.info("stopped")
    return 0


def serve_http(app: Any, signing_secret: str, host: str, port: int, path: str, threads: int) -> None:
    from .gate import SlackGate
    from .http import HttpServer

    gate = SlackGate(app, signing_secret, path)
    acknowledging = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vram-ack")
    try:
        asyncio.run(_serve(HttpServer(gate.handle, gate.screen, acknowledging), host, port, path))
    finally:
        acknowledging.shutdown(wait=True)


async def _serve(server: Any, host: str, port: int, path: str) -> None:
    try:
        bound_host, bound_port = await server.start(host, port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(f"--port {port}: the address {host}:{port} is already in use") from None
        raise ConfigError(f"--host {host} --port {port}: cannot listen there ({_one_line(error)})") from None
    logger.info("HTTP mode: listening on http://%s:%s%s", bound_host, bound_port, path)
    stopping = asyncio.Event()
    _stop_on(signal.SIGINT, signal.SIGTERM, then=_threadsafe(stopping.set))
    serving = asyncio.ensure_future(server.serve())
    await asyncio.wait([serving, asyncio.ensure_future(stopping.wait())], return_when=asyncio.FIRST_COMPLETED)
    serving.cancel()  # stop accepting; requests already read are still answered
    for _ in range(STOP_GRACE_S * 10):
        if not server.open_connections:
            break
        await asyncio.sleep(0.1)


def _threadsafe(callback: Any) -> Any:
    loop = asyncio.get_running_loop()
    return lambda: loop.call_soon_threadsafe(callback)


def serve_socket_mode(app: Any, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token)
    try:
        # The WebSocket URL is asked for here, once, so that a refused token or an answer without
        # a URL is a wrong setting now rather than a reconnection loop later.
        handler.client.wss_uri = _websocket_url(handler.client)
        logger.info("Socket Mode: connecting to Slack")
        handler.start()
    except SystemExit:
        pass
    finally:
        handler.close()


def _websocket_url(client: Any) -> str:
    """apps.connections.open's URL (https://api.slack.com/methods/apps.connections.open)."""
    from slack_sdk.errors import SlackApiError, SlackClientError

    try:
        response = client.web_client.apps_connections_open(app_token=client.app_token)
    except SlackApiError as error:
        raise ConfigError(f"SLACK_APP_TOKEN was refused by apps.connections.open "
                          f"({error.response.get('error', 'no reason given')}); set it to "
                          "an app-level token, xapp-..., with connections:write") from None
    except (SlackClientError, OSError, ValueError) as error:
        raise ConfigError(f"apps.connections.open could not be reached ({_one_line(error)}); check "
                          "SLACK_API_URL") from None
    url = response.get("url")
    if not isinstance(url, str) or not url.startswith(("wss://", "ws://")):
        raise ConfigError("apps.connections.open answered without a WebSocket URL; check "
                          "SLACK_API_URL (unset it to use https://slack.com/api/)")
    return url


def _config_error(error: ConfigError) -> int:
    print(f"vram-slack: {_one_line(error)}", file=sys.stderr)
    return EXIT_CONFIG


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _stop_on(*signals: signal.Signals, then: Any = None) -> None:
    # By default SystemExit, which Socket Mode's loop lets end it; the HTTP loop asks to be told.
    def stop(signum: int, frame: Any) -> None:
        logger.info("%s received; stopping", signal.Signals(signum).name)
        if then is None:
            raise SystemExit(0)
        then()

    for each in signals:
        signal.signal(each, stop)
