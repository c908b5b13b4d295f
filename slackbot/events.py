"""Which events the bot answers, and the memory of the ones it has taken."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


def is_direct_message(event: dict[str, Any]) -> bool:
    # message.im events say channel_type "im"; app_mention events do not, but DM ids start with D
    # (https://api.slack.com/events/message.im).
    return event.get("channel_type") == "im" or event.get("channel", "").startswith("D")


def is_new_person_message(event: dict[str, Any]) -> bool:
    """A message a person just wrote: no subtype (edits are ``message_changed``, deletions
    ``message_deleted``, bots ``bot_message``), no bot id, not an edit."""
    return not event.get("subtype") and not event.get("bot_id") and "edited" not in event


class AnsweredEvents:
    """The ids of the last ``capacity`` events taken, shared by the threads of one process.

    Retries come within minutes, so a bounded memory is enough; several processes behind one
    URL would need a shared store instead.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, event_id: str) -> bool:
        """True the first time ``event_id`` is seen, False after."""
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            if len(self._ids) > self.capacity:
                self._ids.popitem(last=False)
            return True
