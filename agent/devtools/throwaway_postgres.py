"""Run a command beside a throwaway PostgreSQL: `python -m agent.devtools.throwaway_postgres -- CMD ...`.

For `make test`: the storage, access and app tests run on PostgreSQL as well as on SQLite, so the database a
real deployment uses is tested in CI. This starts Debian's PostgreSQL server (`make postgres` installs it) on
loopback, in a fresh data directory under /tmp, with trust authentication for one user, creates the database
`alliance_test`, runs the command with `TEST_POSTGRES_URL` pointing at it, then stops the server and removes the
directory, whatever the command's outcome. The command's exit status is returned.

PostgreSQL refuses to run as root: as root, the server runs as the `postgres` account the package creates.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

USER = "alliance"
DATABASE = "alliance_test"


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries: `make postgres` installs Debian's."""


def binaries() -> Path:
    """The newest installed server's bin directory (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise PostgresMissing("no PostgreSQL server found under /usr/lib/postgresql: run `make postgres`")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A running throwaway server; yields its SQLAlchemy-style URL (postgresql://...)."""
    bin_dir = binaries()
    root = Path(tempfile.mkdtemp(prefix="alliance-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        for path in (root, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
    port = _free_port()
    run = {"check": True, "stdout": subprocess.DEVNULL, "timeout": 120}
    started = False
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync"]
        subprocess.run(_as_server_user(initdb), **run)  # type: ignore[call-overload]
        options = f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c full_page_writes=off"
        start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start"]
        subprocess.run(_as_server_user(start), **run)  # type: ignore[call-overload]
        started = True
        create = [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE]
        subprocess.run(create, **run)  # type: ignore[call-overload]
        yield f"postgresql://{USER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if started:
            stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
            subprocess.run(_as_server_user(stop), check=False, stdout=subprocess.DEVNULL, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run (after --)")
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    with throwaway_postgres() as url:
        print(f"throwaway PostgreSQL at {url}", file=sys.stderr)
        return subprocess.run(command, env={**os.environ, "TEST_POSTGRES_URL": url}, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
