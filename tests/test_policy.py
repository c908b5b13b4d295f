"""The resolution policy: what a model lookup may read, and how long the Hub may take.

A frontend serving many people puts ``SERVED`` in effect; then no spelling of a path opens a file
(checked with an audit hook on every ``open``), and a Hub lookup ends by its deadline whatever the
Hub does (loopback servers that never answer, drip, refuse, redirect or flood).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import sys
import threading
import time

import pytest

import vram
from vram.catalog import hub, policy, resolve as models
from vram.errors import InvalidRequestError, UnsupportedError, VramError

CONFIG = {
    "model_type": "llama", "hidden_size": 512, "intermediate_size": 1376, "num_hidden_layers": 4,
    "num_attention_heads": 8, "num_key_value_heads": 8, "vocab_size": 32000,
    "max_position_embeddings": 2048, "tie_word_embeddings": False, "hidden_act": "silu",
}

#: paths opened by this process while WATCHING is set (an audit hook cannot be removed, so it
#: records only while a test asks it to)
OPENED: list[str] = []
WATCHING = threading.Event()


def _audit(event: str, args: tuple) -> None:
    if WATCHING.is_set() and event == "open" and isinstance(args[0], (str, bytes)):
        OPENED.append(str(args[0]))


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def fresh_caches():
    models.cache_clear()
    yield
    models.cache_clear()


@contextlib.contextmanager
def files_opened():
    OPENED.clear()
    WATCHING.set()
    try:
        yield OPENED
    finally:
        WATCHING.clear()


PATH_DRESSINGS = [
    "infer secret.json", "infer secret.json.", "infer secret.json,", "infer secret.json:", "infer secret.json;",
    'infer "secret.json"', "infer 'secret.json'", "infer (secret.json)", "infer model=secret.json",
    "infer model=./secret.json", "infer model: secret.json", "infer ./secret.json", "infer ./sub/../secret.json",
    "infer sub/../secret.json", "infer ../{folder}/secret.json", "infer {root}/secret.json", "infer ~/secret.json",
    "infer ~root/secret.json", "infer C:/secret.json", "infer C:\\\\secret.json", "infer sub", "infer ./sub",
    "infer sub/", "infer weights.safetensors", "infer weights.gguf", "infer ./sub/config.json int8 on a100",
    "what does secret.json need on a100?", "train secret.json bf16 adamw", "lora model=secret.json rank 8",
]


@pytest.mark.parametrize("query", PATH_DRESSINGS)
def test_served_policy_opens_no_file_whatever_the_spelling(tmp_path, monkeypatch, query):
    (tmp_path / "secret.json").write_text(json.dumps({**CONFIG, "hidden_size": 4242}))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "config.json").write_text(json.dumps({**CONFIG, "hidden_size": 4242}))
    (tmp_path / "weights.safetensors").write_bytes(b"\x10" + b"\0" * 7 + b'{"a": 1}' + b" " * 8)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    text = query.format(folder=tmp_path.name, root=tmp_path)
    with files_opened() as opened, pytest.raises(VramError) as caught:
        vram.ask(text, policy=vram.SERVED_POLICY)
    assert not [p for p in opened if str(tmp_path) in p or "secret" in p or not p.startswith("/")]
    assert "4242" not in str(caught.value)


def test_the_same_file_is_read_under_the_local_policy(tmp_path, monkeypatch):
    # the control: the spelling above does reach the file when local files are allowed
    (tmp_path / "secret.json").write_text(json.dumps(CONFIG))
    monkeypatch.chdir(tmp_path)
    with files_opened() as opened:
        estimate = vram.ask("infer secret.json.")
    assert estimate.total_bytes > 0
    assert any(p.endswith("secret.json") for p in opened)


def test_a_file_read_before_is_not_served_from_memory_under_served(tmp_path, monkeypatch):
    (tmp_path / "secret.json").write_text(json.dumps(CONFIG))
    monkeypatch.chdir(tmp_path)
    vram.ask("infer ./secret.json")  # read and cached under the local policy
    with pytest.raises(UnsupportedError, match="files are not read here"):
        vram.ask("infer ./secret.json", policy=vram.SERVED_POLICY)


def test_policy_is_per_thread():
    seen = {}
    with policy.using(policy.SERVED):
        worker = threading.Thread(target=lambda: seen.setdefault("other", policy.current()))
        worker.start()
        worker.join()
        seen["here"] = policy.current()
    assert seen == {"other": policy.LOCAL, "here": policy.SERVED}
    assert policy.current() is policy.LOCAL


@pytest.mark.parametrize("fields", [{"hub_deadline_s": 0}, {"hub_deadline_s": -1}, {"hub_deadline_s": 601},
                                    {"audience": "slack"}])
def test_policy_fields_are_checked(fields):
    with pytest.raises(ValueError):
        policy.ResolvePolicy(**fields)


# -- the Hub on loopback --------------------------------------------------------------------------

class _Hub(http.server.BaseHTTPRequestHandler):
    behaviour = "answer"

    def do_GET(self):  # noqa: N802 - http.server's name
        how = self.server.behaviour
        if how == "silent":
            time.sleep(30)
        elif how == "drip":
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\n":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.5)
        elif how == "flood":
            self.send_response(200)
            self.end_headers()
            chunk = b" " * 65536
            for _ in range(64 * 16):  # 64 MiB
                self.wfile.write(chunk)
        elif how == "lying_length":
            self.send_response(200)
            self.send_header("Content-Length", str(50 * 2**20))
            self.end_headers()
        elif how == "redirect_to_file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        elif how in ("404", "401", "500"):
            self.send_response(int(how))
            self.end_headers()
        elif how == "not_json":
            self._send(b"<html>hello</html>")
        elif how == "deep":
            self._send(b"[" * 100_000 + b"]" * 100_000)
        else:
            self._send(json.dumps(CONFIG).encode())

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def loopback_hub(monkeypatch, tmp_path, behaviour):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    server.daemon_threads = True
    server.behaviour = behaviour
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


FAST = policy.ResolvePolicy(hub_deadline_s=1.5)


def test_a_hub_answer_is_read(monkeypatch, tmp_path):
    with loopback_hub(monkeypatch, tmp_path, "answer"):
        estimate = vram.ask("infer someone/tiny-llama bf16", policy=FAST)
    assert estimate.request.model == "someone/tiny-llama"


@pytest.mark.parametrize("behaviour, said", [
    ("silent", "no answer within 1.5 s"),
    ("drip", "no answer within 1.5 s"),
    ("flood", "more than a config.json's"),
    ("lying_length", "more than a config.json's"),
    ("redirect_to_file", "HTTP 302"),
    ("404", "HTTP 404, no such repo"),
    ("401", "HTTP 401, the repo is gated or private"),
    ("500", "HTTP 500"),
    ("not_json", "cannot read 'someone/tiny-llama/config.json on the Hub' as a config.json"),
    ("deep", "'someone/tiny-llama/config.json on the Hub' nests its config.json too deeply"),
])
def test_a_bad_hub_ends_in_an_error_by_the_deadline(monkeypatch, tmp_path, behaviour, said):
    with loopback_hub(monkeypatch, tmp_path, behaviour), files_opened() as opened:
        start = time.monotonic()
        with pytest.raises(InvalidRequestError, match="someone/tiny-llama") as caught:
            vram.ask("infer someone/tiny-llama bf16", policy=FAST)
        took = time.monotonic() - start
    assert said in str(caught.value)
    assert took < FAST.hub_deadline_s + 1.0
    assert "passwd" not in " ".join(opened)


def test_advice_in_a_chat_is_what_can_be_typed_there(monkeypatch, tmp_path):
    chat = policy.ResolvePolicy(local_files=False, hub_deadline_s=1.0, audience="chat")
    with loopback_hub(monkeypatch, tmp_path, "silent"), pytest.raises(InvalidRequestError) as caught:
        vram.ask("infer someone/tiny-llama", policy=chat)
    message = str(caught.value)
    assert "hf download" not in message and "local path" not in message
    assert "catalog" in message and "hidden 4096 layers 32 heads 32" in message


def test_slow_lookups_past_the_limit_are_refused_at_once(monkeypatch, tmp_path):
    slow = policy.ResolvePolicy(hub_deadline_s=3.0)
    errors: list[str] = []

    def ask(name):
        try:
            vram.ask(f"infer someone/{name}", policy=slow)
        except VramError as error:
            errors.append(str(error))

    with loopback_hub(monkeypatch, tmp_path, "silent"):
        waiting = [threading.Thread(target=ask, args=(f"m{i}",)) for i in range(hub.MAX_LOOKUPS)]
        for thread in waiting:
            thread.start()
        time.sleep(0.3)
        start = time.monotonic()
        with pytest.raises(InvalidRequestError, match="already under way"):
            vram.ask("infer someone/one-more", policy=slow)
        assert time.monotonic() - start < 0.5
        # a catalog model is not held up by the lookups in flight
        start = time.monotonic()
        assert vram.ask("infer llama-2-7b int8", policy=slow).total_bytes > 0
        assert time.monotonic() - start < 1.0
        for thread in waiting:
            thread.join()
    assert len(errors) == hub.MAX_LOOKUPS


def test_a_lookup_refused_for_being_busy_frees_its_place(monkeypatch, tmp_path):
    # every slot comes back once the lookups end, even those that were abandoned at the deadline
    with loopback_hub(monkeypatch, tmp_path, "answer"):
        for _ in range(hub.MAX_LOOKUPS * 2):
            models.cache_clear()
            vram.ask("infer someone/tiny-llama", policy=FAST)
