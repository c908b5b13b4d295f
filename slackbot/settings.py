"""The bot's settings, read from the environment, with a one-line message for each missing one."""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from enum import StrEnum
from typing import Mapping

EXIT_CONFIG = 78  # EX_CONFIG (sysexits.h): the settings are wrong, not the program

#: Where a workspace admin finds each value (api.slack.com/apps, then the app).
WHERE = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token, xoxb-..., on the app's OAuth & Permissions page",
    "SLACK_SIGNING_SECRET": "the Signing Secret on the app's Basic Information page "
                            "(or set SLACK_APP_TOKEN to use Socket Mode)",
    "SLACK_APP_TOKEN": "an app-level token, xapp-..., with connections:write, made under "
                       "Basic Information > App-Level Tokens",
}


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable and where to find it."""


class Mode(StrEnum):
    SOCKET = "socket"
    """Socket Mode: the bot dials out to Slack over a WebSocket; no public URL needed."""
    HTTP = "http"
    """Slack POSTs to the bot's Request URL, signed with the signing secret."""


@dataclass(frozen=True, slots=True)
class Settings:
    bot_token: str
    signing_secret: str | None = None  #: needed in HTTP mode only
    app_token: str | None = None  #: set: Socket Mode
    api_url: str | None = None  #: another Web API base URL (a proxy, a test's stand-in)

    @property
    def mode(self) -> Mode:
        return Mode.SOCKET if self.app_token else Mode.HTTP

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls(bot_token=_required(env, "SLACK_BOT_TOKEN"),
                       signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
                       app_token=env.get("SLACK_APP_TOKEN") or None,
                       api_url=env.get("SLACK_API_URL") or None)
        if settings.mode is Mode.HTTP and not settings.signing_secret:
            _required(env, "SLACK_SIGNING_SECRET")
        if not settings.bot_token.startswith("xoxb-"):
            # a user token (xoxp-) or an app token here would act as a person or fail later, obscurely
            raise ConfigError(f"SLACK_BOT_TOKEN does not start with xoxb-; set it to {WHERE['SLACK_BOT_TOKEN']}")
        if settings.app_token and not settings.app_token.startswith("xapp-"):
            raise ConfigError(f"SLACK_APP_TOKEN does not start with xapp-; set it to {WHERE['SLACK_APP_TOKEN']}")
        if settings.api_url is not None:
            check_api_url(settings.api_url)
        return settings


def check_api_url(url: str) -> None:
    """Refuse a SLACK_API_URL the Web API client could not use: it must be http(s) with a host."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as error:
        raise ConfigError(f"SLACK_API_URL {url[:100]!r} is not a URL ({error}); unset it to use "
                          "https://slack.com/api/, or give another, like http://proxy:8080/api/") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"SLACK_API_URL {url[:100]!r} is not an http(s) URL with a host; unset it "
                          "to use https://slack.com/api/, or give another, like http://proxy:8080/api/")


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"set {name}: {WHERE[name]}")
    return value
