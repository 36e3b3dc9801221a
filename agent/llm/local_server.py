"""The embedded llama.cpp server, in this process.

The model is served by xllamacpp, which runs llama.cpp's own OpenAI-compatible HTTP
server inside this process, so the rest of the application reaches it through the same
``ChatOpenAI`` code path as any remote endpoint (``LocalServer.base_url``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from agent.config import Settings

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# The in-process llama.cpp server
# --------------------------------------------------------------------------------------

# llama.cpp log thresholds (common/log.h): 1 = errors, 2 = + warnings, 3 = + info (default).
LOG_ERRORS_ONLY = 1
LOG_INFO = 3


class LocalServerError(RuntimeError):
    """The embedded llama.cpp server could not start or never answered."""


def find_free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now (bind to port 0, read it back, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _get_json(url: str, timeout: float) -> Any:
    # urllib with no proxy handler: HTTP(S)_PROXY must not reroute 127.0.0.1, and an
    # httpx mock (respx) in a test must not intercept our own readiness probe.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


@dataclass(frozen=True)
class LocalServerConfig:
    """Everything that decides how the embedded server runs: the one description, read from Settings."""

    model_path: Path
    n_ctx: int = 4096
    threads: int | None = None
    n_parallel: int = 2
    model_name: str | None = None
    verbose: bool = False
    # Where processed prompts are saved and restored across restarts (llama.cpp slot files); None: not kept.
    # Not part of what makes two configurations the same server: the first one started keeps its folder.
    slot_dir: Path | None = field(default=None, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings, model_path: Path) -> LocalServerConfig:
        return cls(
            model_path=Path(model_path).resolve(),
            n_ctx=settings.local_ctx,
            threads=settings.local_threads,
            slot_dir=(settings.data_dir / "slots").resolve(),
        )


class LocalServer:
    """llama.cpp's OpenAI-compatible server, run by xllamacpp inside this process.

    Construction blocks until the model is loaded and ``/health`` answers. Use
    ``base_url`` and ``model_name`` with any OpenAI client; ``close()`` stops it.

    ``n_ctx`` is the KV cache for all slots together: each of the ``n_parallel`` slots gets
    ``n_ctx // n_parallel`` tokens, and a longer request fails at once with HTTP 400
    (``exceed_context_size_error``). We keep llama.cpp's partitioned cache on purpose: with
    a unified cache, two requests that overflow it together both fail with HTTP 500 after
    the work is done.
    """

    def __init__(self, config: LocalServerConfig, *, ready_timeout_s: float = 60.0) -> None:
        model_path, n_ctx, n_parallel = Path(config.model_path), config.n_ctx, config.n_parallel
        model_name, threads, verbose = config.model_name, config.threads, config.verbose
        if not model_path.is_file():
            raise FileNotFoundError(f"GGUF model not found: {model_path}")
        self.model_path = model_path
        self.model_name = model_name or model_path.stem
        self.n_ctx = n_ctx
        self.n_parallel = n_parallel
        self.threads = threads or os.cpu_count() or 1
        self.host = "127.0.0.1"
        self.port = find_free_port(self.host)
        self.load_seconds = 0.0
        self._server: Any = None
        self._lock = threading.Lock()

        # Imported on use: a heavy native module that the unit tests and the CLI never need.
        import xllamacpp  # type: ignore[import-untyped,unused-ignore]

        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        params.model_alias = {self.model_name}
        params.hostnames = [self.host]
        params.port = self.port
        params.n_ctx = n_ctx
        params.n_parallel = n_parallel
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.verbosity = LOG_INFO if verbose else LOG_ERRORS_ONLY
        self.n_parallel = n_parallel
        self.slot_dir = config.slot_dir
        if self.slot_dir is not None:
            self.slot_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            params.slot_save_path = f"{self.slot_dir}/"  # llama.cpp appends the file name to it as is

        started = time.monotonic()
        handlers = _python_signal_handlers()
        try:
            # Returns once the model is loaded (about 3-4 s here) and HOLDS THE GIL meanwhile:
            # every Python thread, the asyncio loop included, stalls. Start it at app startup.
            self._server = xllamacpp.Server(params)
        except RuntimeError as error:
            raise LocalServerError(
                f"llama.cpp server failed to start on {self.host}:{self.port} with {model_path}: {error}"
            ) from error
        finally:
            # llama.cpp's server installs its own SIGINT/SIGTERM handlers (Ctrl+C would
            # stop the model, not the app): give Python its handlers back.
            _restore_signal_handlers(handlers)
        self.load_seconds = time.monotonic() - started
        self.root_url = f"http://{self.host}:{self.port}"
        self.base_url = f"{self.root_url}/v1"
        try:
            self._wait_until_ready(ready_timeout_s)
        except BaseException:
            self.close()
            raise

    def _wait_until_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                health = _get_json(f"{self.root_url}/health", timeout=2.0)
                if isinstance(health, dict) and health.get("status") == "ok":
                    return
                last_error = LocalServerError(f"/health answered {health!r}")
            except (OSError, ValueError) as error:  # URLError is an OSError; 503 while loading
                last_error = error
            time.sleep(0.1)
        raise LocalServerError(
            f"llama.cpp server at {self.root_url} did not answer /health within {timeout_s:.0f} s: {last_error}"
        )

    @property
    def running(self) -> bool:
        return self._server is not None

    def slot_action(self, slot: int, action: str, filename: str, timeout_s: float = 120.0) -> bool:
        """Save a slot's processed prompt to `slot_dir/filename`, or restore it (`action`: save | restore).
        False when slot files are off, the file is missing or unreadable, or the server refuses."""
        if self.slot_dir is None or "/" in filename or action not in ("save", "restore"):
            return False
        request = urllib.request.Request(
            f"{self.root_url}/slots/{slot}?action={action}",
            data=json.dumps({"filename": filename}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # loopback only
                answer = json.loads(response.read())
        except (OSError, ValueError):  # HTTPError (a missing file: 400) is an OSError
            return False
        return isinstance(answer, dict) and int(answer.get("n_saved", answer.get("n_restored", 0)) or 0) > 0

    def close(self) -> None:
        """Stop the server: dropping xllamacpp's Server ends its loop and HTTP threads."""
        with self._lock:
            server, self._server = self._server, None
        del server

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "closed"
        return f"LocalServer({self.model_name!r}, {self.base_url if self.running else ''}, {state})"


def _python_signal_handlers() -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(handlers: dict[int, Any]) -> None:
    if not handlers:
        logger.debug("llama.cpp server started off the main thread: its SIGINT/SIGTERM handlers stay")
    for signum, handler in handlers.items():
        if handler is not None:
            signal.signal(signum, handler)


_singleton: LocalServer | None = None
_singleton_config: LocalServerConfig | None = None
_singleton_lock = threading.Lock()


def get_local_server(config: LocalServerConfig) -> LocalServer:
    """The process-wide embedded server, started on first use (thread-safe).

    A later call must ask for the same configuration: one process holds one model.
    """
    global _singleton, _singleton_config
    with _singleton_lock:
        if _singleton is not None and _singleton.running:
            if config != _singleton_config:
                raise LocalServerError(
                    f"the embedded server already runs with {_singleton_config}; cannot also start {config}"
                )
            return _singleton
        _singleton = LocalServer(config)
        _singleton_config = config
        return _singleton


def close_local_server() -> None:
    """Stop the process-wide server if it runs (tests, shutdown hooks)."""
    global _singleton, _singleton_config
    with _singleton_lock:
        server, _singleton, _singleton_config = _singleton, None, None
    if server is not None:
        server.close()
