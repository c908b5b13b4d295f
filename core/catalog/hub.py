"""Hugging Face Hub repo ids: config.json from huggingface_hub's cache, else from the Hub.

The one place vram may reach the network, and only for a repo id that is neither in the catalog
nor a local path. A lookup is bounded by ONE deadline (the resolution policy's ``hub_deadline_s``)
covering name resolution, connecting, the headers and the body, with no retries: a Hub that
accepts a connection and never answers costs its own query an error at the deadline and nobody
else anything. At most ``MAX_LOOKUPS`` run at once; past that a lookup is refused at once rather
than queued, so a burst of slow lookups cannot pile up threads.

Offline (HF_HUB_OFFLINE=1) it answers from the cache or says how to get the file. huggingface_hub
(the ``hub`` extra) finds the cache, the endpoint and the token; the download itself is a plain
HTTPS GET of the file's ``resolve`` URL, which is what hf_hub_download fetches too.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from vram.catalog import policy
from vram.catalog.files import MAX_CONFIG_BYTES, parse_config_json, read_json
from vram.errors import InvalidRequestError

#: A Hub repo id: "owner/name", each part letters, digits, '-', '_', '.', neither starting nor
#: ending with '-' or '.', no '--' or '..' (huggingface_hub's validate_repo_id), 96 characters at most.
_PART = r"[A-Za-z0-9](?:[\w.\-]{0,94}[A-Za-z0-9_])?"
REPO_ID = re.compile(rf"(?!.*(?:--|\.\.)){_PART}/{_PART}")

#: Hub lookups in flight at once, across threads; more are refused, not queued.
MAX_LOOKUPS = 4
_slots = threading.BoundedSemaphore(MAX_LOOKUPS)


def looks_like_repo_id(name: str) -> bool:
    return REPO_ID.fullmatch(name) is not None


def config(repo_id: str) -> dict[str, Any]:
    """The repo's config.json as an object: from the cache, else fetched within the deadline."""
    hf = _huggingface_hub(repo_id)
    cached = _cached(hf, repo_id)
    if cached is not None:
        return read_json(cached)
    if hf.constants.HF_HUB_OFFLINE:
        raise InvalidRequestError(f"config.json of '{repo_id}' is not in the Hugging Face cache and "
                                  f"HF_HUB_OFFLINE is set; {_advice(repo_id)}", field="model")
    # the file's "resolve" URL on the main branch, as hf_hub_url builds it (endpoint read now, so
    # HF_ENDPOINT and a mirror set after import are honoured)
    url = f"{hf.constants.ENDPOINT.rstrip('/')}/{repo_id}/resolve/main/config.json"
    try:
        data = fetch(url, _headers(hf), policy.current().hub_deadline_s)
    except FetchError as error:
        raise InvalidRequestError(f"cannot get config.json of '{repo_id}' from the Hugging Face Hub: {error}; "
                                  f"{_advice(repo_id)}", field="model") from None
    return parse_config_json(data, f"{repo_id}/config.json on the Hub")


class FetchError(Exception):
    """A Hub lookup that did not bring the file: its reason, in words."""


def fetch(url: str, headers: dict[str, str], deadline_s: float) -> bytes:
    """GET ``url``, all of it, within ``deadline_s`` seconds; a FetchError saying why not otherwise."""
    if not _slots.acquire(blocking=False):
        raise FetchError(f"{MAX_LOOKUPS} look-ups are already under way; ask again in a moment")
    outcome: dict[str, Any] = {}
    deadline = time.monotonic() + deadline_s

    def run() -> None:
        try:
            outcome["data"] = _get(url, headers, deadline)
        except BaseException as error:  # handed to the waiting thread, which reports it
            outcome["error"] = error
        finally:
            _slots.release()

    # A daemon thread: name resolution and a server dripping its headers are outside what socket
    # timeouts bound, so the caller waits on the deadline, not on the socket.
    worker = threading.Thread(target=run, name="vram-hub", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive() or isinstance(outcome.get("error"), TimeoutError):
        raise FetchError(f"no answer within {deadline_s:g} s")
    if "error" in outcome:
        raise FetchError(_describe(outcome["error"]))
    return outcome["data"]


def _get(url: str, headers: dict[str, str], deadline: float) -> bytes:
    request = urllib.request.Request(url, headers=headers)
    with _OPENER.open(request, timeout=max(0.1, deadline - time.monotonic())) as response:
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > MAX_CONFIG_BYTES:
            raise ValueError(f"{int(length):,} bytes, more than a config.json's {MAX_CONFIG_BYTES:,}")
        chunks, size = [], 0
        while chunk := response.read(65536):
            size += len(chunk)
            if size > MAX_CONFIG_BYTES:
                raise ValueError(f"more than a config.json's {MAX_CONFIG_BYTES:,} bytes")
            if time.monotonic() > deadline:
                raise TimeoutError("deadline passed while reading")
            chunks.append(chunk)
        return b"".join(chunks)


# HTTP(S) only, redirects included (the Hub redirects renamed repos): no file://, ftp:// or data:
# handler, so a redirect can never make a lookup read this machine's files.
_OPENER = urllib.request.OpenerDirector()
for _handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                 urllib.request.HTTPRedirectHandler(), urllib.request.HTTPDefaultErrorHandler(),
                 urllib.request.HTTPErrorProcessor()):
    _OPENER.add_handler(_handler)


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        meaning = {401: "the repo is gated or private: set HF_TOKEN", 403: "access refused: the repo is gated",
                   404: "no such repo, or it has no config.json"}.get(error.code, "")
        return f"HTTP {error.code}" + (f", {meaning}" if meaning else "")
    if isinstance(error, urllib.error.URLError):
        return f"the Hub cannot be reached: {error.reason}"
    return str(error) or type(error).__name__


def _advice(repo_id: str) -> str:
    # what the reader can do where they are: in a chat, only what can be typed there
    if policy.current().audience == "chat":
        return ("name a model from the catalog (llama-3-8b), or give its size and shape "
                "(7b hidden 4096 layers 32 heads 32)")
    return (f"run `hf download {repo_id} config.json` (`huggingface-cli download` with older huggingface_hub) "
            "where the Hub is reachable, or give a local path to the config.json")


def _huggingface_hub(repo_id: str) -> Any:
    try:
        import huggingface_hub
    except ImportError:
        local = "" if policy.current().audience == "chat" else ", or give a local path to its config.json"
        raise InvalidRequestError(
            f"'{repo_id}' is not in the catalog; reading it from the Hugging Face Hub needs "
            f"huggingface_hub: pip install 'vram[hub]'{local}", field="model") from None
    return huggingface_hub


def _cached(hf: Any, repo_id: str) -> Path | None:
    try:
        cached = hf.try_to_load_from_cache(repo_id, "config.json")
    except ValueError as error:  # huggingface_hub's HFValidationError: not a repo id after all
        raise InvalidRequestError(f"'{repo_id}' is not a Hugging Face repo id ({error})", field="model") from None
    return Path(cached) if isinstance(cached, str) else None


def _headers(hf: Any) -> dict[str, str]:
    headers = {"User-Agent": "vram (config.json lookup)"}
    token = hf.get_token()  # HF_TOKEN, else the token `hf auth login` saved
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers
