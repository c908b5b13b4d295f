"""Hugging Face Hub repo ids: config.json from huggingface_hub's cache, fetched only when online.

The one place vram may reach the network, and only for a repo id that is neither in the catalog
nor a local path; offline (HF_HUB_OFFLINE=1, or no route) it answers from the cache or says how to
get the file. huggingface_hub is an optional dependency (the ``hub`` extra).
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

from .errors import InvalidRequestError

#: A Hub repo id: "owner/name", each part letters, digits, '-', '_', '.', neither starting nor
#: ending with '-' or '.', no '--' or '..' (huggingface_hub's validate_repo_id), 96 characters at most.
_PART = r"[A-Za-z0-9](?:[\w.\-]{0,94}[A-Za-z0-9_])?"
REPO_ID = re.compile(rf"(?!.*(?:--|\.\.)){_PART}/{_PART}")


def looks_like_repo_id(name: str) -> bool:
    return REPO_ID.fullmatch(name) is not None


def config_path(repo_id: str) -> Path:
    """Local path of the repo's config.json: cached, or downloaded when the hub is reachable."""
    try:
        from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache
    except ImportError:
        raise InvalidRequestError(
            f"'{repo_id}' is not in the catalog; reading it from the Hugging Face Hub needs "
            "huggingface_hub: pip install 'vram[hub]', or give a local path to its config.json",
            field="model") from None
    try:
        cached = try_to_load_from_cache(repo_id, "config.json")
    except ValueError as error:  # huggingface_hub's HFValidationError: not a repo id after all
        raise InvalidRequestError(f"'{repo_id}' is not a Hugging Face repo id ({error})", field="model") from None
    if isinstance(cached, str):
        return Path(cached)
    how = (f"run `hf download {repo_id} config.json` (`huggingface-cli download` with older huggingface_hub) "
           "where the hub is reachable, or give a local path to the config.json")
    if constants.HF_HUB_OFFLINE:
        raise InvalidRequestError(f"config.json of '{repo_id}' is not in the Hugging Face cache and "
                                  f"HF_HUB_OFFLINE is set; {how}", field="model")
    if not _reachable(constants.ENDPOINT):
        raise InvalidRequestError(f"config.json of '{repo_id}' is not in the Hugging Face cache and "
                                  f"{constants.ENDPOINT} cannot be reached; {how}", field="model")
    try:
        return Path(hf_hub_download(repo_id, "config.json"))
    except Exception as error:  # network, auth, missing repo: all end in the same advice
        raise InvalidRequestError(f"cannot get config.json of '{repo_id}' ({type(error).__name__}); {how}",
                                  field="model") from None


#: Seconds to wait for the Hub before saying it cannot be reached (huggingface_hub itself retries
#: for about 20 s, which is too long for a question typed at a prompt or in Slack).
CONNECT_TIMEOUT = 3


def _reachable(endpoint: str) -> bool:
    url = urlsplit(endpoint)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)),
                                 timeout=CONNECT_TIMEOUT).close()
    except OSError:
        return False
    return True
