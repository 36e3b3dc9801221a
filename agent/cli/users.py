"""`alliance users`: add, list and remove logins in the users file (ALLIANCE_USERS_FILE, default DATA_DIR/users.toml).

The password is asked twice without echo on a terminal, or read from the first line of
standard input (`--password-stdin`, or whenever stdin is not a terminal), so it never
appears in the shell history or the process list. Only its scrypt hash is written.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TextIO

from agent.config import Settings
from agent.domain.taxonomy import Lang
from agent.i18n.catalog import cli_lang, number, t
from agent.storage.users import (
    MIN_PASSWORD_LENGTH,
    Account,
    UsersError,
    check_name,
    hash_password,
    read_users_file,
    write_users_file,
)


class _PasswordError(ValueError):
    pass


def _read_password(from_stdin: bool, stdin: TextIO, lang: Lang) -> str:
    if from_stdin or not stdin.isatty():
        password = stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(t("cli.users.password", lang))
        if getpass.getpass(t("cli.users.password_again", lang)) != password:
            raise _PasswordError(t("cli.users.passwords_differ", lang))
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _PasswordError(t("cli.users.password_short", lang, length=number(MIN_PASSWORD_LENGTH, lang)))
    return password


def run(args: argparse.Namespace, settings: Settings, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    path: Path = args.file or settings.users_path()
    lang = cli_lang()
    try:
        accounts = read_users_file(path) if path.exists() else {}
        if args.users_command == "list":
            for account in sorted(accounts.values(), key=lambda a: a.name):
                out.write(f"{account.name}\t{account.role}\n")
            if not accounts:
                out.write(t("cli.users.none", lang, path=path) + "\n")
            return 0
        if args.users_command == "remove":
            if accounts.pop(args.name, None) is None:
                no_user = t("cli.users.no_user", lang, name=repr(args.name), path=path)
                print(t("cli.users.error", lang, message=no_user), file=sys.stderr)
                return 1
            write_users_file(path, accounts)
            out.write(t("cli.users.removed", lang, name=args.name, path=path) + "\n")
            return 0
        check_name(args.name)  # before asking for a password
        account = Account(args.name, args.role, hash_password(_read_password(args.password_stdin, stdin, lang)))
        done = "cli.users.updated" if args.name in accounts else "cli.users.added"
        accounts[args.name] = account
        write_users_file(path, accounts)
        out.write(t(done, lang, name=account.name, role=account.role, path=path) + "\n")
        return 0
    except (UsersError, _PasswordError) as exc:
        print(t("cli.users.error", lang, message=exc), file=sys.stderr)
        return 1
