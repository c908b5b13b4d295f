"""Each wrong setting of ``vram-slack`` is one line on stderr naming it, and exit status 78.

Run as the command itself (``python -m vram.slackbot``) with a timeout, so that a traceback, a
second line, or a start that never ends (a reconnection loop) fails the case.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from slack_fakes import BOT_TOKEN, SIGNING_SECRET, StandIn

from vram.slackbot.settings import EXIT_CONFIG

HTTP = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
SOCKET = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-1-A0-1-x"}


def vram_slack(args, env, timeout=30):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    return subprocess.run([sys.executable, "-m", "vram.slackbot", *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_naming(done, setting):
    assert done.returncode == EXIT_CONFIG, done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("vram-slack: ") and setting in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


#: (name, args, environment without SLACK_API_URL, the setting named); the Web API is a stand-in
WITHOUT_SLACK = [
    ("SLACK_API_URL ftp", [], {**HTTP, "SLACK_API_URL": "ftp://slack.example/api/"}, "SLACK_API_URL"),
    ("SLACK_API_URL without a host", [], {**HTTP, "SLACK_API_URL": "http:///api/"}, "SLACK_API_URL"),
    ("SLACK_API_URL a word", [], {**HTTP, "SLACK_API_URL": "slack"}, "SLACK_API_URL"),
    ("SLACK_API_URL garbage", [], {**HTTP, "SLACK_API_URL": "\x01::!!//"}, "SLACK_API_URL"),
    ("SLACK_API_URL a bad port", [], {**HTTP, "SLACK_API_URL": "http://127.0.0.1:99999/"}, "SLACK_API_URL"),
    ("SLACK_API_URL an open bracket", [], {**HTTP, "SLACK_API_URL": "http://[::1/api"}, "SLACK_API_URL"),
    ("SLACK_API_URL a file", [], {**HTTP, "SLACK_API_URL": "file:///etc/passwd"}, "SLACK_API_URL"),
    ("a user token", [], {**HTTP, "SLACK_BOT_TOKEN": "xoxp-1-2"}, "SLACK_BOT_TOKEN"),
    ("an app token as the bot token", [], {**HTTP, "SLACK_BOT_TOKEN": "xapp-1-2"}, "SLACK_BOT_TOKEN"),
    ("a bot token as the app token", [], {**SOCKET, "SLACK_APP_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN"),
    ("--threads 0", ["--threads", "0"], HTTP, "--threads"),
    ("--threads -3", ["--threads", "-3"], HTTP, "--threads"),
    ("--threads 100000", ["--threads", "100000"], HTTP, "--threads"),
    ("--threads many", ["--threads", "many"], HTTP, "--threads"),
    ("--answer-threads 0", ["--answer-threads", "0"], HTTP, "--answer-threads"),
    ("--port 99999", ["--port", "99999"], HTTP, "--port"),
    ("--port 65536", ["--port", "65536"], HTTP, "--port"),
    ("--port -1", ["--port", "-1"], HTTP, "--port"),
    ("--port http", ["--port", "http"], HTTP, "--port"),
    ("--path without a slash", ["--path", "slack/events"], HTTP, "--path"),
    ("an unknown option", ["--hots", "0.0.0.0"], HTTP, "--hots"),
]


@pytest.mark.parametrize("name, args, env, setting", WITHOUT_SLACK, ids=[c[0] for c in WITHOUT_SLACK])
def test_a_wrong_setting_is_one_line_and_78(name, args, env, setting):
    assert_one_line_naming(vram_slack(args, env), setting)


#: (name, args, mode's environment, the stand-in's answers, the setting named)
WITH_SLACK = [
    ("a revoked app token", [], SOCKET,
     {"apps.connections.open": {"ok": False, "error": "invalid_auth"}}, "SLACK_APP_TOKEN"),
    ("an app token without connections:write", [], SOCKET,
     {"apps.connections.open": {"ok": False, "error": "missing_scope"}}, "SLACK_APP_TOKEN"),
    ("apps.connections.open without a URL", [], SOCKET, {"apps.connections.open": {"ok": True}}, "SLACK_API_URL"),
    ("apps.connections.open with a null URL", [], SOCKET,
     {"apps.connections.open": {"ok": True, "url": None}}, "SLACK_API_URL"),
    ("apps.connections.open with an http URL", [], SOCKET,
     {"apps.connections.open": {"ok": True, "url": "http://127.0.0.1:1/"}}, "SLACK_API_URL"),
    ("a revoked bot token", [], HTTP, {"auth.test": {"ok": False, "error": "invalid_auth"}}, "SLACK_BOT_TOKEN"),
    ("a host that is not ours", ["--host", "192.0.2.1", "--port", "0"], HTTP, {}, "--host"),
    ("a host that is not an address", ["--host", "no such host.invalid", "--port", "0"], HTTP, {}, "--host"),
]


@pytest.mark.parametrize("name, args, env, answers, setting", WITH_SLACK, ids=[c[0] for c in WITH_SLACK])
def test_a_setting_slack_or_the_system_refuses_is_one_line_and_78(name, args, env, answers, setting):
    with StandIn(answers) as stand_in:
        done = vram_slack(args, {**env, "SLACK_API_URL": stand_in.url})
    assert_one_line_naming(done, setting)


def test_a_port_in_use_is_one_line_and_78():
    with StandIn() as stand_in, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = vram_slack(["--port", str(port)], {**HTTP, "SLACK_API_URL": stand_in.url})
    assert_one_line_naming(done, f"--port {port}")
    assert "already in use" in done.stderr


def test_a_web_api_that_is_not_there_is_one_line_and_78():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        done = vram_slack([], {**HTTP, "SLACK_API_URL": f"http://127.0.0.1:{port}/api/"})
    assert_one_line_naming(done, "SLACK_API_URL")
