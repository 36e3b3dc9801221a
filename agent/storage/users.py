"""Logins: scrypt password hashes, the users directory, the login secret.

Users come from a TOML file (`ALLIANCE_USERS_FILE`, default `DATA_DIR/users.toml`, written by
`alliance users add`) and/or the `ALLIANCE_USERS` variable (`NAME:ROLE:HASH`, separated by
commas or spaces). With neither, the app runs in local mode: one local user, no password.
A users file that exists, even empty, means password mode: removing every user must never
open the app to anyone.

Hashes are `scrypt:N:r:p:SALT:HASH` (salt and hash in unpadded URL-safe base64): standard
library only, a random salt per password, constant-time comparison.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import tempfile
import threading
import tomllib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from agent.config import Settings
from agent.storage.access import ROLES, Requester, Role

log = logging.getLogger(__name__)

LOCAL_USER = "local"
SECRET_ENV = "CHAINLIT_AUTH_SECRET"
SECRET_FILE = "chainlit_auth_secret"
MIN_PASSWORD_LENGTH = 8

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _KEY_BYTES, _SALT_BYTES = 2**14, 8, 1, 32, 16
_MAX_N, _MAX_R, _MAX_P = 2**17, 32, 16  # a hash asking for more is refused, not computed
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class UsersError(ValueError):
    """The users file or ALLIANCE_USERS cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    password_hash: str

    @property
    def fingerprint(self) -> str:
        """A short digest of the password hash, kept in each login token: a new password (or the user removed
        and added again) changes it, and the token of the old one is refused. One-way, and the hash's salt
        never leaves the users file, so the token gives nothing to guess the password with."""
        return hashlib.sha256(b"alliance-login:" + self.password_hash.encode("ascii")).hexdigest()[:16]


def make_private_dir(path: Path) -> None:
    """Create a folder (and its missing parents) for our data: the folder itself owner-only (0700).

    A folder that already exists keeps its mode: it was chosen and made by whoever runs the app."""
    if path.is_dir():
        return
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # the mode given to mkdir is masked by the umask: say it once more
        path.chmod(0o700)


# --------------------------------------------------------------------------- passwords


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    maxmem = 128 * r * (n + p + 2) + 2**16
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=length)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _KEY_BYTES)
    return f"scrypt:{_SCRYPT_N}:{_SCRYPT_R}:{_SCRYPT_P}:{_b64(salt)}:{_b64(key)}"


@dataclass(frozen=True)
class _ParsedHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes


def _parse_hash(encoded: str) -> _ParsedHash:
    """Raises ValueError (with no secret in the message) for anything but a sane scrypt hash."""
    parts = encoded.split(":")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("not a password hash of the form scrypt:N:r:p:SALT:HASH (make one with `alliance users add`)")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = _unb64(parts[4]), _unb64(parts[5])
    except (ValueError, binascii.Error) as exc:
        raise ValueError("a password hash with unreadable parameters, salt or key") from exc
    if n < 2 or n & (n - 1) or n > _MAX_N or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P:
        raise ValueError(f"scrypt parameters out of range (N a power of two up to {_MAX_N}, r<={_MAX_R}, p<={_MAX_P})")
    if len(salt) < 8 or len(key) < 16:
        raise ValueError("a password hash with too short a salt or key")
    return _ParsedHash(n, r, p, salt, key)


def verify_password(password: str, encoded: str) -> bool:
    try:
        parsed = _parse_hash(encoded)
    except ValueError:
        return False
    candidate = _scrypt(password, parsed.salt, parsed.n, parsed.r, parsed.p, len(parsed.key))
    return hmac.compare_digest(candidate, parsed.key)


_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


# --------------------------------------------------------------------------- the users directory


def check_name(name: object, where: str = "user") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsersError(
            f"{where}: {name!r} is not a valid user name (letters, digits, '.', '_', '@', '-'; at most 64)"
        )
    if name == LOCAL_USER:
        raise UsersError(f"{where}: the name {LOCAL_USER!r} is reserved for local mode (no users configured)")
    return name


def _account(name: object, role: object, password_hash: object, where: str) -> Account:
    name = check_name(name, where)
    if role not in ROLES:
        raise UsersError(f"{where}: user {name!r} has role {role!r}; the roles are {', '.join(ROLES)}")
    if not isinstance(password_hash, str):
        raise UsersError(f"{where}: user {name!r} has no password_hash (set one with `alliance users add {name}`)")
    try:
        _parse_hash(password_hash)
    except ValueError as exc:
        raise UsersError(f"{where}: user {name!r}: {exc}") from None
    return Account(name, role, password_hash)


def parse_users_toml(text: str, source: str) -> dict[str, Account]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsersError(f"users file {source}: not valid TOML ({exc})") from None
    unknown = set(data) - {"users"}
    if unknown:
        raise UsersError(f"users file {source}: unknown top-level keys {sorted(unknown)}; only [users.NAME] tables")
    table = data.get("users", {})
    if not isinstance(table, dict):
        raise UsersError(f"users file {source}: `users` must be a table of [users.NAME] entries")
    accounts: dict[str, Account] = {}
    for name, entry in table.items():
        where = f"users file {source}"
        if not isinstance(entry, dict):
            raise UsersError(f"{where}: [users.{name}] must be a table with role and password_hash")
        extra = set(entry) - {"role", "password_hash"}
        if extra:
            raise UsersError(f"{where}: user {name!r} has unknown keys {sorted(extra)} (only role, password_hash)")
        accounts[name] = _account(name, entry.get("role"), entry.get("password_hash"), where)
    return accounts


def parse_users_env(text: str) -> dict[str, Account]:
    accounts: dict[str, Account] = {}
    for index, entry in enumerate(re.split(r"[\s,;]+", text.strip()), start=1):
        if not entry:
            continue
        where = f"ALLIANCE_USERS entry {index}"
        parts = entry.split(":", 2)
        if len(parts) != 3:
            raise UsersError(f"{where} ({parts[0]!r}...): expected NAME:ROLE:HASH")
        name, role, password_hash = parts
        if name in accounts:
            raise UsersError(f"{where}: user {name!r} is listed twice")
        accounts[name] = _account(name, role, password_hash, where)
    return accounts


def render_users_toml(accounts: Mapping[str, Account]) -> str:
    lines = [
        "# Alliance users: manage with `alliance users add NAME --role learner|faculty`.",
        "# password_hash is a salted scrypt hash, never the password itself.",
    ]
    for name in sorted(accounts):
        account = accounts[name]
        # json.dumps writes valid TOML basic strings for these (ASCII-only escapes).
        lines += ["", f"[users.{json.dumps(name)}]", f"role = {json.dumps(account.role)}"]
        lines.append(f"password_hash = {json.dumps(account.password_hash)}")
    return "\n".join(lines) + "\n"


def read_users_file(path: Path) -> dict[str, Account]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsersError(f"users file {path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsersError(f"users file {path}: cannot be read ({exc.strerror or exc})") from None
    return parse_users_toml(text, str(path))


def write_users_file(path: Path, accounts: Mapping[str, Account]) -> None:
    """Atomic replace; readable by the owner only (the hashes can be attacked offline)."""
    make_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(render_users_toml(accounts))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class UserDirectory:
    """The accounts from the users file and ALLIANCE_USERS, re-read when the file changes.

    `load()` is strict (startup refuses a broken configuration). Later reads never raise: a
    file broken while the app runs is logged and lets nobody in until it is fixed.
    """

    def __init__(self, settings: Settings):
        self.path = settings.users_path()
        self.explicit_file = settings.users_file is not None
        self.env_text = settings.users.get_secret_value() if settings.users else ""
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._accounts: dict[str, Account] = {}

    def configured(self) -> bool:
        """Password mode: a users file exists or ALLIANCE_USERS is set (even with no valid user)."""
        return self.path.exists() or bool(self.env_text.strip())

    def _file_stamp(self) -> tuple[int, int, int] | None:
        """What tells a changed file: each write replaces it (a new inode), even with the same size and time
        (a password change within the file system's time resolution)."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def _read(self) -> dict[str, Account]:
        from_env = parse_users_env(self.env_text)
        if not self.path.exists():
            if self.explicit_file:
                raise UsersError(
                    f"ALLIANCE_USERS_FILE is {self.path}, which does not exist: create it with `alliance users add`"
                )
            return from_env
        from_file = read_users_file(self.path)
        both = sorted(set(from_file) & set(from_env))
        if both:
            raise UsersError(f"users {both} are defined both in {self.path} and in ALLIANCE_USERS: keep one")
        return from_file | from_env

    def load(self) -> dict[str, Account]:
        with self._lock:
            self._stamp = self._file_stamp()
            self._accounts = self._read()
            return dict(self._accounts)

    def accounts(self) -> dict[str, Account]:
        with self._lock:
            stamp = self._file_stamp()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._accounts = self._read()
                except UsersError as exc:
                    log.error("users not reloaded, nobody can log in until this is fixed: %s", exc)
                    self._accounts = {}
            return dict(self._accounts)

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account for this name and password, else None. CPU-bound (scrypt): run it off the event loop."""
        account = self.accounts().get(name)
        if account is None:
            verify_password(password, _dummy_hash())  # same work as a real check: no user enumeration by timing
            return None
        return account if verify_password(password, account.password_hash) else None

    def role_of(self, identifier: str) -> Role:
        """The role a login has now (the file is authoritative); unknown and local users are learners."""
        account = self.accounts().get(identifier)
        return account.role if account is not None else "learner"

    def requester(self, identifier: str) -> Requester:
        return Requester(identifier, self.role_of(identifier))

    def active(self, identifier: str) -> bool:
        """Whether a login still counts. In password mode, only a user in the file or the variable now: the
        still-valid token of a removed user, or of the local user from before users were added, is refused.
        In local mode the app is open to whoever reaches it anyway, so any login counts."""
        return not self.configured() or identifier in self.accounts()


# --------------------------------------------------------------------------- the login secret


def _read_secret(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s was readable by others (mode %o): now 600", path, mode)
        path.chmod(0o600)
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < 32:
        raise RuntimeError(f"{path} holds no usable secret: delete it to make a new one (everyone logs in again)")
    return secret


def ensure_auth_secret(settings: Settings, environ: MutableMapping[str, str] = os.environ) -> Path | None:
    """Chainlit signs logins with CHAINLIT_AUTH_SECRET. Unset: use the one kept in DATA_DIR, made once.

    Returns the secret file used, or None when the environment already had a secret.
    """
    if environ.get(SECRET_ENV):
        return None
    path = settings.data_dir / SECRET_FILE
    make_private_dir(path.parent)
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret.")  # mode 600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
            with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    environ[SECRET_ENV] = _read_secret(path)
    return path
