"""Chainlit's SQL data layer, on our schema, with our access rule. Chainlit-facing, like app.py.

Chainlit's HTTP API checks thread access in one place, `chainlit.data.acl.is_thread_author`:
it asks the data layer for the thread's author and refuses (401) anyone else, or answers 404
when there is no author. Its thread list asks the data layer for the requester's threads.
So the rule is applied here:

- the list (POST /project/threads): a learner gets their own threads, faculty everyone's
  (with the author's name before the thread's);
- reads of one thread (GET /project/thread/{id}, its elements): the author and faculty;
- changes (rename, share, delete, and feedback, which Chainlit does not check at all): the
  author only. Resuming over the socket is the author's only too (Chainlit checks that itself).

`get_thread_author` receives only a thread id, so the app's middleware (`agent.web.security`)
records who is asking (from the same signed login token Chainlit reads, once checked: a token of a
removed user, an old password or a logged-out session counts as no login) and whether the request
only reads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from chainlit.config import config
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.element import Element
from chainlit.types import Feedback, ThreadDict
from fastapi import HTTPException
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import sessionmaker

from agent.storage.access import Requester, Role, can_change, can_view
from agent.storage.logins import LoginGenerations
from agent.storage.sessions import SchemaGuard, SessionStore, is_sqlite, make_engine
from agent.storage.tabs import TabThreads

log = logging.getLogger(__name__)

RoleOf = Callable[[str], Role | None]  # None: not an active login (a removed user): treated as anonymous


@dataclass(frozen=True)
class HttpAccess:
    requester: Requester
    read_only: bool  # GET or HEAD


_http_access: ContextVar[HttpAccess | None] = ContextVar("alliance_http_access", default=None)


def current_http_access() -> HttpAccess | None:
    return _http_access.get()


def set_http_access(access: HttpAccess | None) -> Token[HttpAccess | None]:
    """For the length of one HTTP request (`agent.web.security` sets it from the checked login token)."""
    return _http_access.set(access)


def reset_http_access(token: Token[HttpAccess | None]) -> None:
    _http_access.reset(token)


def _refuse(detail: str) -> HTTPException:
    return HTTPException(status_code=403, detail=detail)


class AllianceDataLayer(SQLAlchemyDataLayer):
    """SQLAlchemyDataLayer on a schema we create, with the access rule, and the session store on the same engine.

    No element storage client: elements (files, images, plots, custom elements) are shown
    live but not kept, so a reopened thread has its messages only. The monitor is rebuilt
    from the kept session when a thread is resumed.
    """

    def __init__(self, url: str, role_of: RoleOf, pool_size: int = 5, max_overflow: int = 10):
        super().__init__(conninfo=url)
        # Chainlit's engine has SQLAlchemy's default pool (5 + 10): too few for a class on PostgreSQL, where a
        # pool timeout loses a save. Ours replaces it before any connection is made.
        self.engine = make_engine(url, pool_size, max_overflow)
        self.async_session = sessionmaker(bind=self.engine, expire_on_commit=False, class_=AsyncSession)  # type: ignore[call-overload]  # as Chainlit makes it
        self.sqlite = is_sqlite(url)
        self.where = f"the SQLite file {url.split(':///', 1)[1]}" if self.sqlite else "the PostgreSQL of DATABASE_URL"
        self.schema = SchemaGuard(self.engine)
        self.sessions = SessionStore(self.engine, self.schema)
        self.logins = LoginGenerations(self.engine, self.schema)  # logouts, seen by every process on this database
        self.tabs = TabThreads(self.engine, self.schema)  # page → thread, so that any process can take a page over
        self.role_of = role_of

    async def ensure_schema(self) -> None:
        await self.schema.ensure()

    async def ensure_schema_or_stop(self) -> None:
        """At start-up: a database that cannot be opened stops the server, with what to do, instead of 500s."""
        try:
            await self.ensure_schema()
        except Exception as exc:
            log.critical(
                "cannot open the sessions database (%s): %s: %s. Nothing was served. If the file is damaged, move "
                "it aside (the app creates a new one) and keep it for recovery; check DATABASE_URL otherwise.",
                self.where,
                type(exc).__name__,
                exc,
            )
            raise SystemExit(3) from exc

    def _portable(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Chainlit binds lists (tags) and dicts (modes) as is: SQLite takes neither, asyncpg's JSONB wants text."""
        adapted = {}
        for key, value in parameters.items():
            if isinstance(value, dict) or (self.sqlite and isinstance(value, list)):
                value = json.dumps(value)
            adapted[key] = value
        return adapted

    async def execute_sql(self, query: str, parameters: dict[str, Any]) -> list[dict[str, Any]] | int | None:
        await self.schema.ensure()
        return await super().execute_sql(query, self._portable(parameters))

    # ------------------------------------------------------------------ threads

    async def get_thread_author(self, thread_id: str) -> str:
        """The author, as Chainlit's check wants it; for a faculty read, the requester (the check then passes).

        An unknown thread gives "" so that Chainlit answers 404 (its SQL layer raises, a 500).
        """
        try:
            author = await super().get_thread_author(thread_id)
        except ValueError:
            return ""
        access = current_http_access()
        if access is not None and access.read_only and can_view(access.requester, author):
            return access.requester.identifier
        return author

    async def _identifier_of(self, user_id: str) -> str | None:
        rows = await self.execute_sql('SELECT "identifier" FROM users WHERE "id" = :id', {"id": user_id})
        return str(rows[0]["identifier"]) if isinstance(rows, list) and rows else None

    async def _everyones_threads(self, viewer: str) -> list[ThreadDict]:
        rows = await self.execute_sql(
            """SELECT t."id" AS thread_id, t."userId" AS user_id, MAX(s."createdAt") AS updated_at
            FROM threads t LEFT JOIN steps s ON t."id" = s."threadId"
            GROUP BY t."id", t."userId"
            ORDER BY updated_at DESC NULLS LAST
            LIMIT :limit""",
            {"limit": self.user_thread_limit},
        )
        if not isinstance(rows, list):
            return []
        by_id: dict[str, ThreadDict] = {}
        for owner_id in {str(r["user_id"]) for r in rows if r["user_id"] is not None}:
            for thread in await super().get_all_user_threads(user_id=owner_id) or []:
                by_id[str(thread["id"])] = thread
        threads = [by_id[str(r["thread_id"])] for r in rows if str(r["thread_id"]) in by_id]
        for thread in threads:
            author = thread["userIdentifier"]
            if author != viewer:
                thread["name"] = f"{author} · {thread['name'] or ''}"
        return threads

    async def get_all_user_threads(
        self, user_id: str | None = None, thread_id: str | None = None
    ) -> list[ThreadDict] | None:
        threads: list[ThreadDict] | None
        viewer = await self._identifier_of(user_id) if user_id is not None and thread_id is None else None
        if viewer is not None and self.role_of(viewer) == "faculty":
            threads = await self._everyones_threads(viewer)
        else:
            threads = await super().get_all_user_threads(user_id=user_id, thread_id=thread_id)
        for thread in threads or []:
            tags: Any = thread.get("tags")
            if isinstance(tags, str):  # SQLite keeps the list as JSON text
                try:
                    thread["tags"] = json.loads(tags)
                except json.JSONDecodeError:
                    thread["tags"] = [tags]
        return threads

    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        # Chainlit's share endpoint works even with allow_thread_sharing = false: no thread becomes shared here
        # unless the project turns sharing on (and a shared view is then also limited to what Chainlit shows).
        if metadata and metadata.get("is_shared") and not getattr(config.features, "allow_thread_sharing", False):
            raise _refuse("sharing threads is turned off for this app")
        await super().update_thread(thread_id, name=name, user_id=user_id, metadata=metadata, tags=tags)

    async def upsert_feedback(self, feedback: Feedback) -> str:
        if feedback.id:  # replacing a row: it must be the requester's own, wherever the new one points
            author = await self._feedback_author(feedback.id)
            if author is not None:
                await self._require_author(author)
        return await self._upsert_own_feedback(feedback)

    async def delete_thread(self, thread_id: str) -> None:
        await super().delete_thread(thread_id)
        await self.sessions.delete(thread_id)

    # ------------------------------------------------------------------ feedback (Chainlit checks no owner)

    async def _require_author(self, author: str | None) -> None:
        access = current_http_access()
        if author is None or access is None or not can_change(access.requester, author):
            raise _refuse("only the author of a thread may give or remove feedback on it")

    async def _upsert_own_feedback(self, feedback: Feedback) -> str:
        rows = await self.execute_sql(
            """SELECT t."id" AS thread_id, t."userIdentifier" AS author
            FROM steps s JOIN threads t ON s."threadId" = t."id" WHERE s."id" = :id""",
            {"id": feedback.forId},
        )
        found = rows[0] if isinstance(rows, list) and rows else None
        await self._require_author(found["author"] if found else None)
        assert found is not None
        feedback.threadId = str(found["thread_id"])  # the step's own thread, whatever the request said
        return await super().upsert_feedback(feedback)

    async def delete_feedback(self, feedback_id: str) -> bool:
        author = await self._feedback_author(feedback_id)
        if author is not None:
            await self._require_author(author)
        return await super().delete_feedback(feedback_id)

    async def _feedback_author(self, feedback_id: str) -> str | None:
        """The author of the thread a feedback row belongs to (None: no such row)."""
        rows = await self.execute_sql(
            """SELECT t."userIdentifier" AS author FROM feedbacks f
            JOIN steps s ON f."forId" = s."id" JOIN threads t ON s."threadId" = t."id"
            WHERE f."id" = :id""",
            {"id": feedback_id},
        )
        return str(rows[0]["author"]) if isinstance(rows, list) and rows else None

    # ------------------------------------------------------------------ elements

    async def create_element(self, element: Element) -> None:
        if self.storage_provider is None:
            return  # not kept (see the class docstring); Chainlit would log a warning for each one
        await super().create_element(element)
