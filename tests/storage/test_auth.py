"""Logins and access: password hashes, the users file and variable, the login secret, the
`alliance users` command, and who sees which thread through Chainlit's real HTTP API.

The HTTP tests drive Chainlit's FastAPI app in process (httpx's ASGI transport, no socket,
no lifespan) with our data layer on a SQLite file under tmp_path. They log in through
POST /login like the browser does, so the login token, its cookie, our middleware and
Chainlit's own checks are all the real ones.
"""

from __future__ import annotations

import io
import os
import re
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from chainlit.config import config
from chainlit.session import WebsocketSession
from chainlit.utils import wrap_user_function
from pydantic import SecretStr

from agent.cli import users as users_command
from agent.cli.arguments import build_parser
from agent.config import Settings
from agent.storage.access import AccessDenied, Requester
from agent.storage.sessions import SESSIONS_TABLE
from agent.storage.users import (
    SECRET_ENV,
    Account,
    UserDirectory,
    UsersError,
    ensure_auth_secret,
    hash_password,
    parse_users_env,
    parse_users_toml,
    render_users_toml,
    verify_password,
    write_users_file,
)
from tests.support.web_client import Web

# --------------------------------------------------------------------------- passwords


def test_hash_and_verify() -> None:
    encoded = hash_password("correct horse")
    assert encoded.startswith("scrypt:16384:8:1:") and "correct" not in encoded
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct horsE", encoded)
    assert not verify_password("", encoded)
    assert hash_password("correct horse") != encoded  # a random salt each time
    assert set(encoded) <= set("scrypt:0123456789" + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_")


def test_a_tampered_or_malformed_hash_never_verifies() -> None:
    encoded = hash_password("pw-123456")
    head, key = encoded.rsplit(":", 1)
    flipped = head + ":" + ("A" if key[0] != "A" else "B") + key[1:]
    assert not verify_password("pw-123456", flipped)
    for bad in (
        "",
        "pw-123456",
        "scrypt:16384:8:1:abc",
        "bcrypt:x:y:z:a:b",
        "scrypt:1000:8:1:AAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA",
    ):
        assert not verify_password("pw-123456", bad)
    assert not verify_password("pw-123456", "scrypt:4194304:8:1:AAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA")  # refused, not run


# --------------------------------------------------------------------------- the users file and variable


def toml_for(**users: tuple[str, str]) -> str:
    return render_users_toml({n: Account(n, role, hash_password(pw)) for n, (role, pw) in users.items()})  # type: ignore[arg-type]


def test_users_toml_round_trip() -> None:
    accounts = parse_users_toml(
        toml_for(alice=("learner", "a-pass-123"), **{"j.doe@x.org": ("faculty", "p-123456")}), "f"
    )
    assert {n: a.role for n, a in accounts.items()} == {"alice": "learner", "j.doe@x.org": "faculty"}
    assert verify_password("p-123456", accounts["j.doe@x.org"].password_hash)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[users.alice\nrole = 1", "not valid TOML"),
        ('[users.alice]\nrole = "admin"\npassword_hash = "{h}"', "role 'admin'; the roles are learner, faculty"),
        ('[users.alice]\nrole = "learner"', "user 'alice' has no password_hash"),
        ('[users.alice]\nrole = "learner"\npassword_hash = "hunter2"', "user 'alice': not a password hash"),
        ('[users."a b"]\nrole = "learner"\npassword_hash = "{h}"', "'a b' is not a valid user name"),
        ('[users.local]\nrole = "learner"\npassword_hash = "{h}"', "reserved for local mode"),
        ('[users.alice]\nrole = "learner"\npassword = "x"\npassword_hash = "{h}"', "unknown keys ['password']"),
        ('admins = ["x"]', "unknown top-level keys ['admins']"),
    ],
)
def test_users_file_errors_say_where_and_what(text: str, message: str) -> None:
    with pytest.raises(UsersError) as caught:
        parse_users_toml(text.replace("{h}", hash_password("x-123456")), "/etc/alliance/users.toml")
    assert "/etc/alliance/users.toml" in str(caught.value) and message in str(caught.value)


def test_users_variable() -> None:
    alice, prof = hash_password("alice-123"), hash_password("prof-1234")
    accounts = parse_users_env(f" alice:learner:{alice},\n prof:faculty:{prof} ; ")
    assert {n: a.role for n, a in accounts.items()} == {"alice": "learner", "prof": "faculty"}
    with pytest.raises(UsersError, match=re.escape("entry 1 ('alice'...): expected NAME:ROLE:HASH")):
        parse_users_env("alice")
    with pytest.raises(UsersError, match="'alice' is listed twice"):
        parse_users_env(f"alice:learner:{alice} alice:faculty:{prof}")
    with pytest.raises(UsersError) as caught:
        parse_users_env("alice:learner:not-a-hash-secretvalue")
    assert "secretvalue" not in str(caught.value)  # a wrong hash is never echoed


def test_no_file_and_no_variable_is_local_mode(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    directory = UserDirectory(make_settings(data_dir=tmp_path))
    assert not directory.configured() and directory.load() == {}
    assert directory.authenticate("local", "") is None
    assert directory.role_of("local") == "learner"


def test_an_empty_users_file_is_password_mode_with_nobody_in(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    (tmp_path / "users.toml").write_text("# nobody yet\n")
    directory = UserDirectory(make_settings(data_dir=tmp_path))
    assert directory.configured() and directory.load() == {}


def test_a_named_users_file_that_is_missing_is_an_error(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    directory = UserDirectory(make_settings(users_file=tmp_path / "nope.toml"))
    with pytest.raises(
        UsersError, match=re.escape("nope.toml, which does not exist: create it with `alliance users add`")
    ):
        directory.load()


def test_a_user_in_both_the_file_and_the_variable_is_an_error(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    (tmp_path / "users.toml").write_text(toml_for(alice=("learner", "a-pass-123")))
    settings = make_settings(data_dir=tmp_path, users=SecretStr(f"alice:faculty:{hash_password('x-123456')}"))
    with pytest.raises(UsersError, match="defined both in"):
        UserDirectory(settings).load()


def test_authenticate_and_roles_follow_the_file_as_it_changes(
    make_settings: Callable[..., Settings], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "users.toml"
    path.write_text(toml_for(alice=("learner", "alice-pass"), prof=("faculty", "prof-pass1")))
    bob_hash = hash_password("bob-pass-1")
    directory = UserDirectory(make_settings(data_dir=tmp_path, users=SecretStr(f"bob:learner:{bob_hash}")))
    directory.load()
    assert directory.authenticate("alice", "alice-pass") == directory.accounts()["alice"]
    assert directory.authenticate("bob", "bob-pass-1") is not None  # from the variable
    assert directory.authenticate("alice", "prof-pass1") is None  # someone else's password
    assert directory.authenticate("alice", "alice-pasS") is None
    assert directory.authenticate("nobody", "alice-pass") is None
    assert directory.role_of("prof") == "faculty" and directory.role_of("nobody") == "learner"

    path.write_text(
        toml_for(alice=("learner", "alice-pass"), prof=("learner", "prof-pass1"), carol=("faculty", "c-pass-123"))
    )
    os.utime(path, ns=(1, 1))  # a different stamp even within the file system's time resolution
    assert directory.role_of("prof") == "learner"  # demoted without a restart
    assert directory.authenticate("carol", "c-pass-123") is not None

    path.write_text("[users.alice\n")
    with caplog.at_level("ERROR"):
        assert directory.authenticate("alice", "alice-pass") is None  # broken while running: nobody gets in
    assert "not valid TOML" in caplog.text
    assert directory.authenticate("bob", "bob-pass-1") is None


# --------------------------------------------------------------------------- the login secret


def test_the_login_secret_is_made_once_kept_owner_only_and_reused(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(data_dir=tmp_path / "data")
    first: dict[str, str] = {}
    path = ensure_auth_secret(settings, first)
    assert path == tmp_path / "data" / "chainlit_auth_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first[SECRET_ENV]) >= 32
    after_restart: dict[str, str] = {}
    ensure_auth_secret(settings, after_restart)
    assert after_restart == first  # logins survive a restart

    path.chmod(0o644)
    ensure_auth_secret(settings, {})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    given = {SECRET_ENV: "from-the-environment"}
    assert ensure_auth_secret(settings, given) is None and given[SECRET_ENV] == "from-the-environment"


# --------------------------------------------------------------------------- `alliance users`


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_users(settings: Settings, argv: list[str], stdin: io.StringIO | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = users_command.run(
        build_parser().parse_args(["users", *argv]), settings, stdin=stdin or io.StringIO(""), out=out
    )
    return code, out.getvalue()


def test_users_command_adds_lists_updates_and_removes(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(data_dir=tmp_path / "data")
    path = tmp_path / "data" / "users.toml"
    code, out = run_users(settings, ["add", "alice"], io.StringIO("alice-pass-1\n"))
    assert code == 0 and f"added alice (learner) in {path}" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and "alice-pass-1" not in path.read_text()
    assert (
        run_users(settings, ["add", "prof", "--role", "faculty", "--password-stdin"], io.StringIO("prof-pass-1\n"))[0]
        == 0
    )
    assert run_users(settings, ["list"]) == (0, "alice\tlearner\nprof\tfaculty\n")

    assert run_users(settings, ["add", "alice", "--role", "faculty"], io.StringIO("new-pass-22\n"))[1].startswith(
        "updated"
    )
    directory = UserDirectory(settings)
    directory.load()
    assert directory.authenticate("alice", "new-pass-22") is not None and directory.role_of("alice") == "faculty"
    assert directory.authenticate("alice", "alice-pass-1") is None

    assert run_users(settings, ["remove", "prof"])[0] == 0
    assert run_users(settings, ["remove", "prof"])[0] == 1
    assert "no user 'prof'" in capsys.readouterr().err
    assert run_users(settings, ["list"])[1] == "alice\tfaculty\n"


def test_users_command_refuses_short_passwords_bad_names_and_mismatched_prompts(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(data_dir=tmp_path)
    assert run_users(settings, ["add", "alice"], io.StringIO("short\n"))[0] == 1
    assert "at least 8 characters" in capsys.readouterr().err
    assert run_users(settings, ["add", "local"], io.StringIO("long-enough\n"))[0] == 1
    assert "reserved for local mode" in capsys.readouterr().err
    answers = iter(["first-pass-1", "other-pass-2"])
    monkeypatch.setattr(users_command.getpass, "getpass", lambda prompt="": next(answers))
    assert run_users(settings, ["add", "alice"], FakeTty(""))[0] == 1
    assert "the two passwords differ" in capsys.readouterr().err
    assert not (tmp_path / "users.toml").exists()  # nothing written by a refused command


# --------------------------------------------------------------------------- access through Chainlit's HTTP API


async def thread_ids(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post("/project/threads", json={"pagination": {"first": 50}, "filter": {}})
    assert response.status_code == 200, response.text
    return {t["id"]: t["name"] for t in response.json()["data"]}


async def test_logins_through_the_real_endpoint(web: Web) -> None:
    client = web.client()
    for name, password in (("alice", "bob-pass-22"), ("alice", "alice-pass-1 "), ("nobody", "alice-pass-1")):
        response = await client.post("/login", data={"username": name, "password": password})
        assert response.status_code == 401 and not client.cookies.get("access_token")
    assert (await client.get("/user")).status_code == 401
    prof = await web.login("prof")
    user = (await prof.get("/user")).json()
    assert user["identifier"] == "prof" and user["metadata"]["role"] == "faculty"
    config_answer = (await web.client().get("/auth/config")).json()
    assert config_answer["passwordAuth"] is True and config_answer["headerAuth"] is False


async def test_a_learner_sees_only_their_own_threads_and_faculty_see_all_read_only(web: Web) -> None:
    alice, bob, prof = await web.login("alice"), await web.login("bob"), await web.login("prof")
    a_thread, _ = await web.thread_of("alice", "alice's visit")
    b_thread, b_step = await web.thread_of("bob", "bob's visit")
    # The list.
    assert await thread_ids(alice) == {a_thread: "alice's visit"}
    assert await thread_ids(bob) == {b_thread: "bob's visit"}
    assert await thread_ids(prof) == {a_thread: "alice · alice's visit", b_thread: "bob · bob's visit"}

    # Opening one thread.
    own = await alice.get(f"/project/thread/{a_thread}")
    assert own.status_code == 200 and own.json()["steps"][0]["output"] == "Réponse à alice"
    other = await alice.get(f"/project/thread/{b_thread}")
    assert other.status_code == 401 and "Réponse à bob" not in other.text
    assert (await alice.get(f"/project/thread/{uuid.uuid4()}")).status_code == 404
    assert (await alice.get(f"/project/thread/{b_thread}/element/{uuid.uuid4()}")).status_code == 401
    as_faculty = await prof.get(f"/project/thread/{b_thread}")
    assert as_faculty.status_code == 200 and as_faculty.json()["steps"][0]["output"] == "Réponse à bob"
    assert (await prof.get(f"/project/thread/{b_thread}/element/{uuid.uuid4()}")).status_code == 200
    anonymous = web.client()
    assert (await anonymous.get(f"/project/thread/{a_thread}")).status_code == 401

    # Changing one: the author only, faculty included.
    for client in (alice, prof):
        renamed = await client.put("/project/thread", json={"threadId": b_thread, "name": "mine now"})
        assert renamed.status_code == 401
        deleted = await client.request("DELETE", "/project/thread", json={"threadId": b_thread})
        assert deleted.status_code == 401
    assert (await bob.get(f"/project/thread/{b_thread}")).json()["name"] == "bob's visit"
    assert await web.layer.sessions.read(b_thread, Requester("bob", "learner")) is not None

    shared = await bob.put("/project/thread/share", json={"threadId": a_thread, "isShared": True})
    assert shared.status_code == 401
    assert (await anonymous.get(f"/project/share/{a_thread}")).status_code == 401
    assert (await bob.get(f"/project/share/{a_thread}")).status_code == 404  # never shared

    # Elements of someone else's live session (Chainlit checks the session's user).
    async def emit(*args: Any, **kwargs: Any) -> None:
        return None

    bob_user = await web.layer.get_user("bob")
    bob_tab = WebsocketSession(
        id=str(uuid.uuid4()),
        socket_id=str(uuid.uuid4()),
        emit=emit,
        emit_call=emit,
        user_env={},  # type: ignore[arg-type]
        client_type="webapp",
        user=bob_user,
        thread_id=b_thread,
    )
    try:
        element = {"id": str(uuid.uuid4()), "type": "custom", "name": "AllianceMonitor", "display": "side", "props": {}}
        body = {"element": {**element, "threadId": b_thread, "forId": ""}, "sessionId": bob_tab.id}
        assert (await alice.request("DELETE", "/project/element", json=body)).status_code == 401
        assert (await alice.put("/project/element", json=body)).status_code == 401
        assert (await prof.request("DELETE", "/project/element", json=body)).status_code == 401
    finally:
        await bob_tab.delete()

    # Feedback on someone else's message: refused (Chainlit itself checks nothing there).
    feedback = {"feedback": {"forId": b_step, "value": 0, "threadId": a_thread}, "sessionId": "x"}
    refused = await alice.put("/feedback", json=feedback)
    assert refused.status_code != 200 and "author" in refused.text
    assert await web.layer.execute_sql("SELECT count(*) AS n FROM feedbacks", {}) == [{"n": 0}]
    given = await bob.put("/feedback", json=feedback)
    assert given.status_code == 200
    rows = await web.layer.execute_sql('SELECT "threadId" AS t FROM feedbacks', {})
    assert rows == [{"t": b_thread}]  # filed under the step's own thread, not the one the request named
    removal = {"feedbackId": given.json()["feedbackId"]}
    assert (await alice.request("DELETE", "/feedback", json=removal)).status_code == 403
    assert (await bob.request("DELETE", "/feedback", json=removal)).status_code == 200

    # The author deletes: the thread and its kept session (hidden states) go.
    assert (await bob.request("DELETE", "/project/thread", json={"threadId": b_thread})).status_code == 200
    assert (await bob.get(f"/project/thread/{b_thread}")).status_code == 404
    rows = await web.layer.execute_sql(
        f"SELECT count(*) AS n FROM {SESSIONS_TABLE} WHERE thread_id = :t", {"t": b_thread}
    )
    assert rows == [{"n": 0}]


async def test_a_demoted_faculty_member_loses_the_wider_view_at_once(web: Web) -> None:
    await web.login("alice")
    prof = await web.login("prof")
    a_thread, _ = await web.thread_of("alice", "visit")
    assert a_thread in await thread_ids(prof)
    accounts = UserDirectory(web.auth.settings).load()
    accounts["prof"] = Account("prof", "learner", accounts["prof"].password_hash)
    write_users_file(web.users_file, accounts)
    os.utime(web.users_file, ns=(1, 1))
    assert await thread_ids(prof) == {}
    assert (await prof.get(f"/project/thread/{a_thread}")).status_code == 401


async def test_the_session_store_refuses_another_learner(web: Web) -> None:
    await web.login("alice")
    a_thread, _ = await web.thread_of("alice", "visit")
    with pytest.raises(AccessDenied):
        await web.layer.sessions.read(a_thread, web.auth.users.requester("bob"))
    stored = await web.layer.sessions.read(a_thread, web.auth.users.requester("prof"))
    assert stored is not None and stored.owner == "alice"


def _local_mode(
    web: Web, monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings], tmp_path: Path
) -> Path:
    """The app as started with no users file; returns where a users file would go."""
    users_file = tmp_path / "local" / "users.toml"
    monkeypatch.setattr(
        web.auth, "users", UserDirectory(make_settings(data_dir=tmp_path / "local", users_file=users_file))
    )
    monkeypatch.setattr(config.code, "password_auth_callback", None)
    monkeypatch.setattr(config.code, "header_auth_callback", wrap_user_function(web.auth.local_login))
    return users_file


async def test_local_mode_logs_in_without_a_password_as_the_local_learner(
    web: Web, monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    _local_mode(web, monkeypatch, make_settings, tmp_path)
    client = web.client()
    assert (await client.get("/auth/config")).json()["headerAuth"] is True
    assert (await client.post("/auth/header")).status_code == 200
    user = (await client.get("/user")).json()
    assert user["identifier"] == "local" and user["metadata"]["role"] == "learner"
    assert await thread_ids(client) == {}


async def test_3_local_login_is_refused_as_soon_as_users_are_added(
    web: Web, monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    users_file = _local_mode(web, monkeypatch, make_settings, tmp_path)
    assert (await web.client().post("/auth/header")).status_code == 200  # local mode: open, as it says
    users_file.parent.mkdir(parents=True, exist_ok=True)
    write_users_file(users_file, {"alice": Account("alice", "learner", hash_password("alice-pass-1"))})

    late = web.client()
    assert (await late.post("/auth/header")).status_code == 401  # no restart needed
    assert "access_token" not in late.cookies
