"""``vram-slack``: settings from the environment, the mode chosen, the manifest, light imports."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import slack_bolt.adapter.socket_mode as socket_mode
import yaml
from slack_fakes import BOT_TOKEN, SIGNING_SECRET, StandIn

from vram.slackbot import app as slack_app, server
from vram.slackbot.settings import EXIT_CONFIG, ConfigError, Mode, Settings

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("env, missing", [
    ({}, "SLACK_BOT_TOKEN"),
    ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
    ({"SLACK_BOT_TOKEN": "  "}, "SLACK_BOT_TOKEN"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, "SLACK_APP_TOKEN"),
])
def test_a_missing_setting_is_named(env, missing):
    with pytest.raises(ConfigError, match=missing) as info:
        Settings.from_env(env)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("env, mode", [
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, Mode.HTTP),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}, Mode.SOCKET),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": "xapp-1"}, Mode.SOCKET),
])
def test_socket_mode_when_an_app_token_is_set(env, mode):
    assert Settings.from_env(env).mode is mode


@pytest.mark.parametrize("env, missing", [
    ({}, "SLACK_BOT_TOKEN"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
])
def test_the_command_says_which_variable_in_one_line(env, missing):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    done = subprocess.run([sys.executable, "-m", "vram.slackbot"], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_CONFIG
    assert done.stdout == "" and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"vram-slack: set {missing}:")


@pytest.mark.parametrize("env, served", [
    ({"SLACK_SIGNING_SECRET": SIGNING_SECRET}, "http"),
    ({"SLACK_APP_TOKEN": "xapp-1-A0-1-x"}, "socket"),
])
def test_main_serves_in_the_chosen_mode(monkeypatch, env, served):
    calls = []
    monkeypatch.setattr(server, "serve_http", lambda app, *args: calls.append(("http", args)))
    monkeypatch.setattr(server, "serve_socket_mode", lambda app, token: calls.append(("socket", token)))
    monkeypatch.setattr(server, "_stop_on", lambda *signals: None)  # keep pytest's own handlers
    for name in ("SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with StandIn() as stand_in:
        for name, value in {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": stand_in.url, **env}.items():
            monkeypatch.setenv(name, value)
        assert server.main(["--host", "127.0.0.1", "--port", "0"]) == 0
    expected = (SIGNING_SECRET, "127.0.0.1", 0, "/slack/events", 8) if served == "http" else env.get("SLACK_APP_TOKEN")
    assert calls == [(served, expected)]


def test_a_token_slack_refuses_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(server, "_stop_on", lambda *signals: None)
    with StandIn({"auth.test": {"ok": False, "error": "invalid_auth"}}) as stand_in:
        settings = Settings(BOT_TOKEN, SIGNING_SECRET, api_url=stand_in.url)
        assert server.run(settings, server.build_parser().parse_args([])) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith("vram-slack: could not start:") and "invalid_auth" in err and err.count("\n") == 1


@pytest.mark.parametrize("api_url, base", [
    (None, "https://slack.com/api/"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
    ("http://proxy/api/", "http://proxy/api/"),
])
def test_web_api_base_url(api_url, base):
    assert slack_app.web_api_base_url(api_url) == base


def test_the_manifest_matches_the_app():
    manifest = yaml.safe_load((ROOT / "slackbot" / "manifest.yml").read_text(encoding="utf-8"))
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == slack_app.COMMAND
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {"commands", "app_mentions:read", "chat:write", "im:history"}
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True


def test_the_manifest_is_printed(capsys):
    assert server.main(["--manifest"]) == 0
    assert capsys.readouterr().out == (ROOT / "slackbot" / "manifest.yml").read_text(encoding="utf-8")


def test_the_http_manifest_sets_the_three_request_urls_and_turns_socket_mode_off(capsys):
    url = "https://vram.example.org/slack/events"
    assert server.main(["--manifest", "--request-url", url]) == 0
    manifest = yaml.safe_load(capsys.readouterr().out)
    [command] = manifest["features"]["slash_commands"]
    settings = manifest["settings"]
    assert command["url"] == settings["event_subscriptions"]["request_url"] == url
    assert settings["interactivity"]["request_url"] == url and settings["socket_mode_enabled"] is False
    socket_mode = yaml.safe_load((ROOT / "slackbot" / "manifest.yml").read_text(encoding="utf-8"))
    del command["url"], settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]
    settings["socket_mode_enabled"] = True
    assert manifest == socket_mode  # nothing else changed


@pytest.mark.parametrize("argv, says", [
    (["--manifest", "--request-url", "http://vram.example.org/slack/events"], "Slack needs an https URL"),
    (["--manifest", "--request-url", "https:///slack/events"], "Slack needs an https URL"),
    (["--manifest", "--request-url", "https://a.org/x y"], "Slack needs an https URL"),
    (["--request-url", "https://a.org/slack/events"], "--request-url goes with --manifest"),
])
def test_a_wrong_request_url_is_refused_in_one_line(capsys, argv, says):
    assert server.main(argv) == 78
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("module, imports", [
    ("vram", ()), ("vram.slackbot", ()),
    # the renderers build slack_sdk's block models (which check Slack's limits); Bolt is the app's
    ("vram.slackbot.blocks", ("slack_sdk",)), ("vram.slackbot.answer", ("slack_sdk",)),
])
def test_importing_does_not_import_slack_bolt(module, imports):
    code = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {{'slack_bolt', 'slack_sdk'}}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == str(sorted(imports)), done.stderr


def test_the_core_and_grammar_never_import_slack():
    imports_slack = re.compile(r"^\s*(from|import)\s+(slack|vram\.slackbot|\.+slackbot)", re.MULTILINE)
    sources = [*(ROOT / "core").rglob("*.py"), *(ROOT / "grammar").rglob("*.py")]
    assert [p.name for p in sources if imports_slack.search(p.read_text(encoding="utf-8"))] == []


def test_socket_mode_connects_with_the_app_token_and_closes_on_a_signal(monkeypatch):
    events = []

    class FakeWebClient:
        def apps_connections_open(self, app_token):
            events.append(("apps.connections.open", app_token))
            return {"ok": True, "url": "wss://wss-primary.slack.com/link/?ticket=1"}

    class FakeSocketModeHandler:  # Slack's WebSocket stays out of the tests
        def __init__(self, app, app_token):
            events.append(("handler", app, app_token))
            self.client = type("Client", (), {"web_client": FakeWebClient(), "app_token": app_token,
                                              "wss_uri": None})()

        def start(self):
            events.append(("start", self.client.wss_uri))
            raise SystemExit(0)  # what the SIGINT/SIGTERM handler raises

        def close(self):
            events.append("close")

    monkeypatch.setattr(socket_mode, "SocketModeHandler", FakeSocketModeHandler)
    server.serve_socket_mode("the app", "xapp-1-A0-1-x")
    assert events == [("handler", "the app", "xapp-1-A0-1-x"), ("apps.connections.open", "xapp-1-A0-1-x"),
                      ("start", "wss://wss-primary.slack.com/link/?ticket=1"), "close"]
