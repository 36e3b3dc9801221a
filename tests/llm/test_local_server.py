"""The embedded offline model's server: a free port, one in-process llama.cpp server per process.

The one test marked ``local_model`` runs the real GGUF through the in-process llama.cpp server and
is skipped when the model has not been fetched (``make model``).
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agent.config import REPO_ROOT
from agent.llm import local_fetch, local_server
from agent.llm.local_server import LocalServerConfig, LocalServerError, find_free_port

# Read at import time, before any autouse fixture scrubs the environment.
_CACHE_DIR = Path(os.environ.get("ALLIANCE_CACHE_DIR") or REPO_ROOT / ".data")


# --------------------------------------------------------------------------- server (no model needed)


def test_free_port_can_be_bound() -> None:
    port = find_free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", port))


def test_server_refuses_a_missing_model(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="GGUF model not found"):
        local_server.LocalServer(LocalServerConfig(tmp_path / "absent.gguf"))


class _FakeServer:
    instances: ClassVar[list[_FakeServer]] = []

    def __init__(self, config: LocalServerConfig) -> None:
        self.model_path = config.model_path
        self.config = config
        self.running = True
        _FakeServer.instances.append(self)

    def close(self) -> None:
        self.running = False


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_FakeServer]]:
    _FakeServer.instances = []
    local_server.close_local_server()
    monkeypatch.setattr(local_server, "LocalServer", _FakeServer)
    yield _FakeServer
    local_server.close_local_server()


def test_singleton_starts_once_across_threads(fake_server: type[_FakeServer], tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    results: list[Any] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(local_server.get_local_server(LocalServerConfig(model, n_ctx=2048)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(fake_server.instances) == 1
    assert all(result is fake_server.instances[0] for result in results)


def test_singleton_refuses_a_second_configuration(fake_server: type[_FakeServer], tmp_path: Path) -> None:
    local_server.get_local_server(LocalServerConfig(tmp_path / "a.gguf"))

    with pytest.raises(LocalServerError, match="already runs"):
        local_server.get_local_server(LocalServerConfig(tmp_path / "b.gguf"))


def test_singleton_restarts_after_close(fake_server: type[_FakeServer], tmp_path: Path) -> None:
    first = local_server.get_local_server(LocalServerConfig(tmp_path / "a.gguf"))
    local_server.close_local_server()

    second = local_server.get_local_server(LocalServerConfig(tmp_path / "b.gguf"))

    assert first is not second
    assert not first.running


# --------------------------------------------------------------------------- the real model


@pytest.mark.local_model
def test_real_model_answers_in_french() -> None:
    model = local_fetch.default_model_path(_CACHE_DIR)
    if not model.is_file():
        pytest.skip(f"default GGUF not found at {model}: run `make model` (or set ALLIANCE_CACHE_DIR)")
    import httpx
    from langchain_openai import ChatOpenAI

    with local_server.LocalServer(LocalServerConfig(model, n_ctx=2048, n_parallel=1)) as server:
        llm = ChatOpenAI(
            base_url=server.base_url,
            api_key="local",
            model=server.model_name,
            temperature=0,
            max_tokens=40,
            timeout=120,
            max_retries=0,
            # Explicit httpx clients (DESIGN §3) that ignore proxy variables for 127.0.0.1.
            http_client=httpx.Client(trust_env=False),
            http_async_client=httpx.AsyncClient(trust_env=False),
        )
        chunks = [
            chunk.content
            for chunk in llm.stream(
                [
                    ("system", "Tu réponds toujours en français, en une phrase."),
                    ("human", "Bonjour ! Quelle est la capitale de la France ?"),
                ]
            )
        ]

    text = "".join(str(chunk) for chunk in chunks)
    assert len([chunk for chunk in chunks if chunk]) > 1, "the answer did not stream"
    assert "paris" in text.lower()
    assert re.search(r"\b(la|le|est|de)\b", text.lower()), text


@pytest.mark.local_model
def test_a_processed_prompt_saved_to_a_file_is_restored_by_a_new_server(tmp_path: Path) -> None:
    """llama.cpp's slot files through our server: processed once, saved, restored after a restart, and the
    restored tokens are reused (`cached_tokens`) instead of processed again."""
    model = local_fetch.default_model_path(_CACHE_DIR)
    if not model.is_file():
        pytest.skip(f"default GGUF not found at {model}: run `make model` (or set ALLIANCE_CACHE_DIR)")
    import httpx

    system = "Vous jouez Mme Bertrand, une patiente de 44 ans en arrêt de travail après une commotion. " * 6
    body = {"messages": [{"role": "system", "content": system}], "max_tokens": 1, "id_slot": 0}

    def ask(server: local_server.LocalServer) -> dict[str, Any]:
        answer = httpx.post(
            f"{server.base_url}/chat/completions", json={**body, "model": server.model_name}, timeout=300
        )
        answer.raise_for_status()
        usage: dict[str, Any] = answer.json()["usage"]
        return usage

    config = LocalServerConfig(model, n_ctx=2048, n_parallel=1, slot_dir=tmp_path / "slots")
    with local_server.LocalServer(config) as first:
        assert not first.slot_action(0, "restore", "absent.slot.bin")  # nothing there yet: a clean False
        cold = ask(first)
        assert first.slot_action(0, "save", "p.slot.bin")
    assert (tmp_path / "slots" / "p.slot.bin").stat().st_size > 1_000_000
    with local_server.LocalServer(config) as second:
        assert second.slot_action(0, "restore", "p.slot.bin")
        warm = ask(second)
    assert warm["prompt_tokens"] == cold["prompt_tokens"]
    assert warm["prompt_tokens_details"]["cached_tokens"] >= cold["prompt_tokens"] - 1
    assert not local_server.LocalServer.slot_action(second, 0, "restore", "../escape.bin")  # names only
