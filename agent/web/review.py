"""Review pages served beside the chat: a list of kept sessions and the debrief of each.

`/alliance/review` lists the sessions the logged-in person may see (a learner: their own;
faculty: everyone's); `/alliance/debrief/{thread_id}` renders one debrief as HTML, Markdown or
JSON (`?format=`). Every read goes through `SessionStore` with the requester, so the access
rule is the same as the chat's. The debrief reveals the patient's thoughts: it is served only
to those who may see the session, and the page itself is static (no script).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from agent.config import Settings
from agent.debrief.build import build_debrief
from agent.debrief.html import to_html
from agent.debrief.markdown import to_markdown
from agent.debrief.model import to_json
from agent.domain.taxonomy import Lang
from agent.i18n.catalog import t, ui_lang
from agent.persona.loader import load_library
from agent.storage.access import AccessDenied, Requester
from agent.storage.sessions import SessionStore, StoredSession
from agent.web.cohort import cohort_router
from agent.web.datalayer import current_http_access
from agent.web.pages import render

StoreGetter = Callable[[], SessionStore | None]
PREFIX = "/alliance"


def _requester() -> Requester:
    access = current_http_access()
    if access is None:
        raise HTTPException(status_code=401, detail="log in first")
    return access.requester


def _lang(request: Request, lang: str | None) -> Lang:
    return ui_lang(lang or request.headers.get("accept-language"))


def debrief_response(stored: StoredSession, settings: Settings, fmt: str, lang: Lang) -> Response:
    persona = load_library(settings.personas_dir).personas.get(stored.session.persona_id)
    compare = stored.view.branches[-1] if stored.view.branches else None
    debrief = build_debrief(stored.session, persona.persona if persona else None, compare, stored.view.readings)
    if fmt == "json":
        return JSONResponse(json.loads(to_json(debrief)))
    if fmt == "md":
        return PlainTextResponse(to_markdown(debrief, lang), media_type="text/markdown; charset=utf-8")
    return HTMLResponse(to_html(debrief, lang))


def _review_page(rows: list[tuple[str, str, str, str, int, int, bool]], requester: Requester, lang: Lang) -> str:
    return render(
        "review.html.j2",
        lang=lang,
        prefix=PREFIX,
        title=t("ui.review_title", lang),
        scope=t("ui.review_scope_faculty" if requester.role == "faculty" else "ui.review_scope_learner", lang),
        who=requester.identifier,
        empty=t("ui.review_empty", lang),
        in_progress=t("ui.review_in_progress", lang),
        heads=[t("ui.review_col_" + c, lang) for c in ("learner", "patient", "updated", "turns", "debrief")]
        + ([t("labels.col_label", lang)] if requester.role == "faculty" else []),
        labelling=[t("labels.label_link", lang), t("labels.agreement_link", lang)]
        if requester.role == "faculty"
        else [],
        cohort=t("cohort.link", lang),
        rows=[
            {
                "thread": thread,
                "owner": owner,
                "persona": persona,
                "updated": updated[:16].replace("T", " "),
                # A later attempt was written after reading the debrief of an earlier one: faculty see it.
                "turns": f"{turns} · {t('ui.review_attempt', lang, attempt=str(attempt))}" if attempt > 1 else turns,
                "readable": readable,
            }
            for thread, owner, persona, updated, turns, attempt, readable in rows
        ],
    )


def _store(store_of: StoreGetter) -> SessionStore:
    found = store_of()
    if found is None:
        raise HTTPException(status_code=503, detail="sessions are not being kept")
    return found


def review_router(store_of: StoreGetter, settings: Settings) -> APIRouter:
    router = APIRouter(prefix=PREFIX)

    def store() -> SessionStore:
        return _store(store_of)

    @router.get("/review", response_class=HTMLResponse)
    async def review(request: Request, lang: str | None = None) -> HTMLResponse:
        requester = _requester()
        summaries = await store().list_visible(requester)
        rows = [
            (
                s.thread_id,
                s.owner,
                s.persona_id,
                s.updated_at,
                s.turns,
                s.attempt,
                s.ended or requester.role == "faculty",
            )
            for s in summaries
        ]
        return HTMLResponse(_review_page(rows, requester, _lang(request, lang)))

    @router.get("/debrief/{thread_id}")
    async def debrief(
        request: Request, thread_id: str, format: Literal["html", "md", "json"] = "html", lang: str | None = None
    ) -> Response:
        requester = _requester()
        try:
            stored = await store().read(thread_id, requester)
        except AccessDenied:
            raise HTTPException(status_code=403, detail="not yours to see") from None
        if stored is None:
            raise HTTPException(status_code=404, detail="no such session")
        if requester.role != "faculty" and not stored.view.ended:
            # The debrief reveals the patient's thoughts: the learner reads it once the visit is over.
            raise HTTPException(status_code=403, detail="end the visit first")
        return debrief_response(stored, settings, format, _lang(request, lang))

    return router


def install_review_routes(app: FastAPI, store_of: StoreGetter, settings: Settings) -> None:
    """Add the routes ahead of Chainlit's catch-all page route (which would otherwise answer them)."""
    if any(getattr(r, "path", "").startswith(PREFIX + "/") for r in app.router.routes):
        return
    from agent.web.labelling import labelling_router  # it builds on this module's helpers

    before = len(app.router.routes)
    app.include_router(review_router(store_of, settings))
    app.include_router(labelling_router(store_of, settings))
    app.include_router(cohort_router(lambda: _store(store_of), settings, _lang, _requester))
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = added
