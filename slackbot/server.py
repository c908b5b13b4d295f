"""``vram-slack``: run the bot over Socket Mode when SLACK_APP_TOKEN is set, else over HTTP.

HTTP mode serves Bolt's WSGI adapter with waitress (a production WSGI server in pure Python:
a thread pool, no C extensions, the same on Linux, macOS and Windows). SIGINT and SIGTERM stop
either mode cleanly: no new requests, answers already acknowledged are still delivered.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any, Sequence

from .settings import EXIT_CONFIG, ConfigError, Mode, Settings

logger = logging.getLogger("vram.slackbot")

DEFAULT_PORT = 3000
DEFAULT_PATH = "/slack/events"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vram-slack", description="Run the vram Slack bot (see the Slack section of README.md).",
        epilog="Reads SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (HTTP mode), SLACK_APP_TOKEN (Socket "
               "Mode when set) and SLACK_API_URL (optional: another Web API base URL).",
    )
    parser.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP mode: port (default 3000; 0 picks a free one)")
    parser.add_argument("--path", default=DEFAULT_PATH, help="HTTP mode: the Request URL's path (default /slack/events)")
    parser.add_argument("--threads", type=int, default=8, help="requests and answers handled at once (default 8)")
    parser.add_argument("--manifest", action="store_true", help="print the Slack app manifest and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.manifest:
        print(resources.files(__package__).joinpath("manifest.yml").read_text(encoding="utf-8"), end="")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"vram-slack: {error}", file=sys.stderr)
        return EXIT_CONFIG
    return run(settings, args)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Build the app and serve it until a signal; 0 after a clean stop."""
    from slack_bolt.error import BoltError

    from .app import create_app

    _stop_on(signal.SIGINT, signal.SIGTERM)
    executor = ThreadPoolExecutor(max_workers=args.threads, thread_name_prefix="vram-answer")
    try:
        app = create_app(settings.bot_token, settings.signing_secret, api_url=settings.api_url,
                         listener_executor=executor)
    except (BoltError, OSError) as error:  # auth.test refused the token, or Slack is unreachable
        print(f"vram-slack: could not start: {error}; check SLACK_BOT_TOKEN and SLACK_API_URL",
              file=sys.stderr)
        return EXIT_CONFIG
    try:
        if settings.mode is Mode.SOCKET:
            serve_socket_mode(app, settings.app_token)
        else:
            serve_http(app, args.host, args.port, args.path, args.threads)
    finally:
        executor.shutdown(wait=True)  # deliver the answers already acknowledged
        logger.info("stopped")
    return 0


def serve_http(app: Any, host: str, port: int, path: str, threads: int) -> None:
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from waitress import create_server

    server = create_server(SlackRequestHandler(app, path=path), host=host, port=port,
                           threads=threads, ident="vram-slack")
    logger.info("HTTP mode: listening on http://%s:%s%s", server.effective_host,
                server.effective_port, path)
    try:
        server.run()  # waitress catches the SystemExit a signal raises and drains its threads
    finally:
        server.close()


def serve_socket_mode(app: Any, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token)
    logger.info("Socket Mode: connecting to Slack")
    try:
        handler.start()
    except SystemExit:
        pass
    finally:
        handler.close()


def _stop_on(*signals: signal.Signals) -> None:
    # One way out for both signals: SystemExit, which both servers' loops let end them.
    def stop(signum: int, frame: Any) -> None:
        logger.info("%s received; stopping", signal.Signals(signum).name)
        raise SystemExit(0)

    for each in signals:
        signal.signal(each, stop)
