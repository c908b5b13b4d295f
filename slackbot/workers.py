"""The threads that work out answers, kept apart from the threads that acknowledge.

Slack waits 3 s for an acknowledgement; an answer may take as long as a Hub lookup (the SERVED
policy's deadline, 15 s). So listeners acknowledge on Bolt's threads and hand the answer to this
pool; when it is full the user is told at once that the bot is busy, rather than left waiting.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

logger = logging.getLogger("vram.slackbot")


class AnswerPool:
    """``workers`` threads, and room for ``backlog`` answers waiting for one; no more."""

    def __init__(self, workers: int, backlog: int) -> None:
        if workers < 1 or backlog < 0:
            raise ValueError(f"an answer pool needs workers >= 1 and backlog >= 0, not {workers}, {backlog}")
        self.workers, self.backlog = workers, backlog
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="vram-answer")
        self._room = threading.BoundedSemaphore(workers + backlog)

    def submit(self, work: Callable[[], None]) -> bool:
        """Run ``work`` on the pool; False, at once, when the pool and its backlog are full."""
        if not self._room.acquire(blocking=False):
            return False
        try:
            self._executor.submit(self._run, work)
        except RuntimeError:  # shut down: the server is stopping
            self._room.release()
            return False
        return True

    def shutdown(self) -> None:
        """Wait for the answers already taken, then stop."""
        self._executor.shutdown(wait=True)

    def _run(self, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception:  # posting the answer failed (Slack unreachable): the log says so
            logger.exception("could not deliver an answer")
        finally:
            self._room.release()
