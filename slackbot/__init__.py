"""vram.slackbot: the Slack frontend (slack-bolt): ``/vram QUERY``, ``@vram QUERY``, direct messages.

Thin over the core: ``question`` reads Slack's text, the grammar and core answer, ``blocks``
renders Block Kit, ``app`` wires Bolt listeners, ``server`` runs it (``vram-slack``).

``create_app`` builds the Bolt app for any server; importing this package does not import
slack_bolt until it is used. The renderers (``blocks``) build slack_sdk's block models, which
check Slack's limits; slack_sdk comes with slack-bolt (the ``slack`` extra).
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
