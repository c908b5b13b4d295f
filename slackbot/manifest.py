"""The app manifest that ``vram-slack --manifest`` prints: as written (Socket Mode), or for HTTP
mode with ``--request-url URL``, which sets the three Request URLs and turns Socket Mode off.

Slack sends every HTTP-mode request (slash command, events, interactivity) to a Request URL,
which must be https (https://api.slack.com/reference/manifests: ``settings.event_subscriptions.
request_url``, ``settings.interactivity.request_url``, ``features.slash_commands[].url``).
"""

from __future__ import annotations

import json
import urllib.parse
from importlib import resources

from .settings import ConfigError

#: The lines of manifest.yml that HTTP mode changes, each to what it becomes ({url}: the Request URL).
HTTP_MODE_LINES: dict[str, str] = {
    "      # url: https://vram.example.com/slack/events": "      url: {url}",
    "    # request_url: https://vram.example.com/slack/events": "    request_url: {url}",
    "  socket_mode_enabled: true": "  socket_mode_enabled: false",
}
#: How many times each line occurs in manifest.yml (request_url: events and interactivity).
HTTP_MODE_COUNTS = {"    # request_url: https://vram.example.com/slack/events": 2}


def manifest_text(request_url: str | None = None) -> str:
    """manifest.yml as written, or set up for HTTP mode at ``request_url``."""
    text = resources.files(__package__).joinpath("manifest.yml").read_text(encoding="utf-8")
    if request_url is None:
        return text
    url = json.dumps(checked_url(request_url))  # a JSON string is a YAML string, quoted safely
    lines = text.splitlines(keepends=True)
    for old, new in HTTP_MODE_LINES.items():
        found = [n for n, line in enumerate(lines) if line.rstrip("\n") == old]
        if len(found) != HTTP_MODE_COUNTS.get(old, 1):  # manifest.yml changed: fix the table above
            raise RuntimeError(f"manifest.yml has {len(found)} lines {old.strip()!r}")
        for n in found:
            lines[n] = new.format(url=url) + "\n"
    return "".join(lines)


def checked_url(url: str) -> str:
    """An https URL with a host, or a ConfigError saying what Slack needs."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in url):
        raise ConfigError(f"--request-url {url!r}: Slack needs an https URL, as in "
                          "https://vram.example.com/slack/events")
    return url
