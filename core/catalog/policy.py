"""Where a model may be read from: the policy the one resolver (``vram.catalog.resolve``) obeys.

A frontend that answers other people (the Slack bot) must never read its host's files, whatever
the spelling of a path, and must not let a silent Hub hold a query for minutes. Both are decided
here, once, for every model lookup made while the policy is in effect, not by inspecting words::

    with using(SERVED):
        vram.ask("infer ./secret/config.json")   # UnsupportedError: no file is opened

The policy travels in a context variable, so each thread (each Slack answer) has its own and a
``with`` block cannot leak into another user's request.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class ResolvePolicy:
    """What model lookups may touch, and for how long."""

    local_files: bool = True  #: config.json, safetensors and GGUF paths on this machine may be read
    hub: bool = True  #: repo ids may be looked up in the Hugging Face cache and on the Hub
    #: one deadline for a whole Hub lookup (name resolution, connect, headers, body); a lookup past
    #: it is abandoned and the query answered with an error
    hub_deadline_s: float = 15.0
    #: who reads the error messages: "local" (a person at this machine: paths and shell commands
    #: are advice they can follow) or "chat" (someone in a chat: only what they can type there)
    audience: str = "local"

    def __post_init__(self) -> None:
        if not 0 < self.hub_deadline_s <= 600:
            raise ValueError(f"hub_deadline_s must be in (0, 600] seconds, not {self.hub_deadline_s!r}")
        if self.audience not in ("local", "chat"):
            raise ValueError(f"audience must be 'local' or 'chat', not {self.audience!r}")


#: The command line, notebooks and the Python API: the user's own files and Hub.
LOCAL = ResolvePolicy()

#: A frontend serving many people (Slack): never the host's files; the Hub within 15 s, so the
#: answer (an error at worst) arrives well within the 30 minutes a response_url stays valid.
SERVED = ResolvePolicy(local_files=False, hub_deadline_s=15.0, audience="chat")

_current: contextvars.ContextVar[ResolvePolicy] = contextvars.ContextVar("vram_resolve_policy", default=LOCAL)


def current() -> ResolvePolicy:
    """The policy in effect in this thread or task."""
    return _current.get()


@contextlib.contextmanager
def using(policy: ResolvePolicy | None) -> Iterator[ResolvePolicy]:
    """Put ``policy`` in effect for the block (None: leave the one in effect)."""
    if policy is None:
        yield current()
        return
    token = _current.set(policy)
    try:
        yield policy
    finally:
        _current.reset(token)
